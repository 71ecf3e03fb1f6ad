"""FRePo: dataset distillation by neural feature regression with a model pool (paper Algorithm 1/2).

One distillation step, compiled as a single XLA program (:func:`make_step`):

1. pick a pool model i uniformly; draw a real batch (X_t, Y_t) from the device-resident training set;
2. ["v1" order: first train model i one Adam step on the distilled set];
3. meta-loss: KRR with the model's conjugate kernel, support = distilled set (or a random `krr_support` of
   it), targets = real batch (+ the label-margin term when labels are learned); one LAMB step on images
   (and labels);
4. ["v2" order, the default: now train model i one Adam step on the updated distilled set];
5. re-initialise model i once it has taken more than K steps (ages run 0..K, as in the paper and the
   authors' code; the pool's counters start staggered at (K/m)*i).

Options from FRePo's successors (docs/plus.md), off by default, change steps 2-4: a cross-entropy meta-loss with
a learned temperature, Adam or AdaBelief instead of LAMB, 1..S online steps per visit, a smooth activation in
the pool, and a moving average of the set as the run's result.

The host loop (:func:`distill`) adds a progress bar, a history, periodic evaluation, checkpoints and
resume: the randomness of step t is ``fold_in(seed_key, t)``, so a resumed run equals an uninterrupted one.
"""
from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path
from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import kernels, sharding
from .data import Dataset, DatasetInfo, class_balanced_indices, herding_indices
from .checkpoint import load_checkpoint, save_checkpoint
from .configs import DistillConfig
from .models import apply_model, init_model, make_model, mse_train_step, softplus

@flax.struct.dataclass
class PoolState:
    """The m online models, stacked on a leading axis of size m."""

    variables: Any  # {'params': ..., ['batch_stats': ...]} each leaf (m, ...)
    opt_state: Any  # Adam state, each leaf (m, ...)
    steps: jax.Array  # (m,) int32 online steps taken since the last (re-)initialisation


@flax.struct.dataclass
class DistillState:
    step: jax.Array  # () int32
    images: jax.Array  # (n, H, W, C) distilled images in model space
    labels: jax.Array  # (n, C) distilled labels
    opt_state: Any  # the meta-optimiser's state for meta_params (LAMB's for {'images', 'labels'} by default)
    pool: PoolState
    key: jax.Array  # base PRNG key; step t uses fold_in(key, t)
    krr_fallbacks: jax.Array  # () int32 steps whose KRR needed a larger regulariser than configured
    log_temperature: jax.Array  # () float32 the cross-entropy meta-loss's learned log-temperature (else unused)
    average: Any  # None, or with cfg.ema_decay the moving average {'images', 'labels'} (debiased)


# ----------------------------------------------------------------------------------------------
# Pieces of one step


# The authors' rule for the KRR support's horizontal flips: on for every RGB dataset except these, where flips
# produced NaN in their runs ({dataset name: the images per class without flips; None: every size}); never
# for grayscale data.
NO_FLIP: dict[str, tuple[int, ...] | None] = {"cifar100": (10, 50), "tiny_imagenet": (10,), "imagenet": None}


def use_flip(cfg: DistillConfig, info: DatasetInfo) -> bool:
    """Whether the KRR support holds the distilled images' horizontal flips: cfg.flip where it is set, else
    the authors' rule (:data:`NO_FLIP`) for the dataset `info` at cfg.images_per_class."""
    if cfg.flip is not None:
        return cfg.flip
    sizes = NO_FLIP.get(info.name, ())
    return info.is_rgb and not (sizes is None or cfg.images_per_class in sizes)


def krr_settings(cfg: DistillConfig | dict, info: DatasetInfo) -> dict:
    """The KRR settings a set of dataset `info` (e.g. ``data.info``) was distilled with, as keyword arguments
    of ``evaluate_support``: {'krr_lambda0': float, 'krr_flip': bool}. cfg: the DistillConfig, or its dict as
    stored in an exported set's metadata."""
    if isinstance(cfg, dict):
        known = {f.name for f in dataclasses.fields(DistillConfig)}
        cfg = DistillConfig(**{k: v for k, v in cfg.items() if k in known})
    return {"krr_lambda0": float(cfg.lambda0), "krr_flip": bool(use_flip(cfg, info))}


def meta_lr_schedule(cfg: DistillConfig) -> optax.Schedule:
    """The LAMB learning rate at step t: cosine from cfg.lr (t = 0) to cfg.lr * lr_final_ratio (t = steps),
    no warm-up."""
    return optax.cosine_decay_schedule(cfg.lr, max(cfg.steps, 1), alpha=cfg.lr_final_ratio)


def make_set_optimizer(cfg: DistillConfig) -> optax.GradientTransformation:
    """The optimiser of the distilled images and labels: cfg.meta_optimizer with :func:`meta_lr_schedule`
    (FRePo's LAMB: per-tensor trust ratio, no weight decay; or Adam, AdaBelief)."""
    schedule = meta_lr_schedule(cfg)
    if cfg.meta_optimizer == "lamb":
        return optax.lamb(schedule, weight_decay=0.0)
    return {"adam": optax.adam, "adabelief": optax.adabelief}[cfg.meta_optimizer](schedule)


def make_meta_optimizer(cfg: DistillConfig) -> optax.GradientTransformation:
    """The optimiser of the meta-parameters (:func:`meta_params`): images and labels take
    :func:`make_set_optimizer`; the cross-entropy meta-loss's log-temperature takes Adam at the constant
    cfg.temperature_lr."""
    if cfg.meta_loss != "cross_entropy":
        return make_set_optimizer(cfg)
    return optax.multi_transform({"set": make_set_optimizer(cfg), "temperature": optax.adam(cfg.temperature_lr)},
                                 lambda params: {k: "temperature" if k == "log_temperature" else "set"
                                                 for k in params})


def meta_params(state: "DistillState", cfg: DistillConfig) -> dict:
    """What the meta-gradient updates: {'images' (n,H,W,C), 'labels' (n,C)} and, with the cross-entropy
    meta-loss, 'log_temperature' ()."""
    params = {"images": state.images, "labels": state.labels}
    if cfg.meta_loss == "cross_entropy":
        params["log_temperature"] = state.log_temperature
    return params


def update_average(average: dict, current: dict, step, decay: float) -> dict:
    """The debiased exponential moving average after `step` (1, 2, ...) iterates: the average of a zero-started
    EMA of decay d divided by 1 - d**step, i.e. average + w (current - average), w = (1-d)/(1-d**step); the
    first iterate is taken as it is."""
    decay = jnp.float32(decay)  # numerator and denominator in one precision: the first weight is exactly 1
    weight = (1.0 - decay) / (1.0 - decay ** step)
    return optax.incremental_update(current, average, weight)


def distilled_set(state: "DistillState") -> tuple[jax.Array, jax.Array]:
    """The set a run gives (evaluated, exported, snapshotted): the moving average where the run keeps one,
    else the last iterate. (images (n,H,W,C), labels (n,C))."""
    if state.average is not None:
        return state.average["images"], state.average["labels"]
    return state.images, state.labels


def meta_loss(data, model, variables, x_target, y_target, cfg: DistillConfig, flip: bool, support=None):
    """FRePo's meta-loss (paper Eq. 2) and metrics.

    data: :func:`meta_params`; x_target (B,H,W,C); y_target (B,C) centred one-hot.
    support: None (every distilled image is KRR support) or (k,) int indices of the images that are (only
    they, and their labels, get a gradient this step).
    Features of both sets come from the model in inference mode; the target features carry no gradient.
    """
    xs, ys = data["images"], data["labels"]
    if not cfg.learn_labels:
        ys = jax.lax.stop_gradient(ys)
    if support is not None:
        xs, ys = xs[support], ys[support]
    if flip:
        xs, ys_support = jnp.concatenate([xs, xs[:, :, ::-1]]), jnp.concatenate([ys, ys])
    else:
        ys_support = ys
    f_s, _, _ = apply_model(model, variables, xs)
    f_t, _, _ = apply_model(model, variables, x_target)
    pred, escalations = kernels.krr_features_solve(f_s, jax.lax.stop_gradient(f_t), ys_support, cfg.lambda0,
                                                   jnp.dtype(cfg.kernel_dtype))
    if cfg.meta_loss == "cross_entropy":
        krr_loss = kernels.tempered_cross_entropy(pred, jnp.argmax(y_target, -1), data["log_temperature"])
    else:
        krr_loss = kernels.mse_loss(pred, y_target)
    loss = krr_loss + (kernels.label_margin_loss(ys) if cfg.learn_labels else 0.0)
    acc = jnp.mean(jnp.argmax(pred, -1) == jnp.argmax(y_target, -1))
    return loss, {"loss": loss, "krr_loss": krr_loss, "krr_batch_acc": acc, "krr_escalations": escalations}


def online_update(model, optimizer, variables, opt_state, images, labels, key, batch: int):
    """One Adam step of a pool model on (up to `batch` of) the distilled images, MSE to the labels."""
    n = images.shape[0]
    if n > batch:
        idx = jax.random.choice(key, n, (batch,), replace=False)
        images, labels = images[idx], labels[idx]
    images, labels = jax.lax.stop_gradient(images), jax.lax.stop_gradient(labels)
    return mse_train_step(model, optimizer, variables, opt_state, images, labels)


def init_pool(model, optimizer, key, input_shape, cfg: DistillConfig) -> PoolState:
    """m freshly initialised models with staggered step counters (K/m)*i."""
    keys = jax.random.split(key, cfg.pool_size)
    variables = jax.vmap(lambda k: init_model(model, k, input_shape))(keys)
    opt_state = jax.vmap(lambda v: optimizer.init(v["params"]))(variables)
    steps = (jnp.arange(cfg.pool_size) * (cfg.max_online_steps // cfg.pool_size)).astype(jnp.int32)
    return PoolState(variables, opt_state, steps)


def init_distilled(dataset: Dataset, cfg: DistillConfig) -> tuple[np.ndarray, np.ndarray]:
    """Initial (images (n,H,W,C), labels (n,C)): real images of each class (random, or chosen by herding;
    +/or noise), centred one-hot labels scaled by cfg.label_scale (default 1/sqrt(C/10)). Ordered class by
    class."""
    c = dataset.num_classes
    if cfg.init == "herding":
        idx = herding_indices(dataset.x_train, dataset.y_train, cfg.images_per_class, c)
    else:
        idx = class_balanced_indices(dataset.y_train, cfg.images_per_class, c, cfg.seed)
    images = dataset.x_train[idx].astype(np.float32)
    noise = np.random.RandomState(cfg.seed + 1).randn(*images.shape).astype(np.float32)
    if cfg.init == "noise":
        images = noise
    elif cfg.init == "real_noise":
        images = images + cfg.init_noise_std * noise
    elif cfg.init not in ("real", "herding"):
        raise ValueError(f"init must be 'real', 'herding', 'noise' or 'real_noise', got {cfg.init!r}")
    labels = np.asarray(kernels.centered_one_hot(dataset.y_train[idx], c, cfg.initial_label_scale(c)))
    return images, labels


def init_state(dataset: Dataset, cfg: DistillConfig) -> DistillState:
    """The state at step 0."""
    _validate(dataset, cfg)
    model, optimizer = _model_and_online_optimizer(dataset, cfg)
    images, labels = init_distilled(dataset, cfg)
    pool_key, key = jax.random.split(jax.random.PRNGKey(cfg.seed))
    pool = init_pool(model, optimizer, pool_key, dataset.x_train.shape[1:], cfg)
    state = DistillState(step=jnp.zeros((), jnp.int32), images=jnp.asarray(images), labels=jnp.asarray(labels),
                         opt_state=None, pool=pool, key=key, krr_fallbacks=jnp.zeros((), jnp.int32),
                         log_temperature=jnp.zeros((), jnp.float32),
                         average=None if cfg.ema_decay is None else {"images": jnp.asarray(images),
                                                                     "labels": jnp.asarray(labels)})
    return state.replace(opt_state=make_meta_optimizer(cfg).init(meta_params(state, cfg)))


def _model_and_online_optimizer(dataset: Dataset, cfg: DistillConfig):
    activation = softplus(cfg.softplus_beta) if cfg.activation == "softplus" else flax.linen.relu
    model = make_model(cfg.arch, dataset.num_classes, dataset.info.resolution, cfg.width, cfg.norm,
                       cfg.bn_momentum, activation)
    return model, optax.adam(cfg.online_lr)


def _validate(dataset: Dataset, cfg: DistillConfig) -> None:
    if not np.all(np.isfinite(dataset.x_train)):
        raise ValueError("the training images contain NaN or inf values: check the data and its preprocessing")
    if cfg.real_batch > len(dataset.x_train):
        raise ValueError(f"real_batch={cfg.real_batch} exceeds the {len(dataset.x_train)} training images")
    if cfg.activation != "relu" and cfg.arch != "conv":
        raise ValueError(f"activation={cfg.activation!r} needs arch='conv' (got {cfg.arch!r}): the other "
                         "architectures use ReLU only")
    n = cfg.images_per_class * dataset.num_classes
    if cfg.krr_support is not None and cfg.krr_support > n:
        raise ValueError(f"krr_support={cfg.krr_support} exceeds the {n} distilled images; use None for all of "
                         "them, or a smaller number")


def support_indices(key, n: int, cfg: DistillConfig):
    """The distilled images that are KRR support this step: None (all n) or cfg.krr_support distinct random
    indices (k,) int32, a fresh draw each step (paper App. C.5: bounded cost as the set grows)."""
    if cfg.krr_support is None or cfg.krr_support >= n:
        return None
    return jax.random.choice(key, n, (cfg.krr_support,), replace=False)


def make_step(dataset: Dataset, cfg: DistillConfig, mesh=None) -> Callable:
    """The compiled FRePo step: (state, x_real (N,H,W,C), y_real (N,) int) -> (state, metrics).

    The state is donated, so the update happens in place on the device.
    mesh: None (one device) or ``sharding.data_mesh(devices)``: the real batch is then split across the
    mesh's devices and everything else is replicated (inputs and outputs), one compiled program per step.
    """
    step = step_function(dataset, cfg, mesh)
    if mesh is None:
        return jax.jit(step, donate_argnums=0)
    everywhere = sharding.replicated(mesh)
    return jax.jit(step, donate_argnums=0, in_shardings=everywhere, out_shardings=everywhere)


def step_function(dataset: Dataset, cfg: DistillConfig, mesh=None) -> Callable:
    """FRePo's step as a plain (not yet compiled) function, for make_step and for measuring its cost."""
    sharding.check_divisible(cfg.real_batch, mesh, "real_batch")
    model, optimizer = _model_and_online_optimizer(dataset, cfg)
    meta_opt = make_meta_optimizer(cfg)
    c = dataset.num_classes
    flip = use_flip(cfg, dataset.info)
    input_shape = dataset.x_train.shape[1:]

    def step(state: DistillState, x_real, y_real):
        k_model, k_batch, k_online, k_reset = jax.random.split(jax.random.fold_in(state.key, state.step), 4)
        i = jax.random.randint(k_model, (), 0, cfg.pool_size)
        take = lambda tree: jax.tree.map(lambda a: a[i], tree)  # noqa: E731
        variables, opt_i = take(state.pool.variables), take(state.pool.opt_state)

        def train_online(variables, opt_i, images, labels):
            """(variables, opt_i, the number of Adam steps taken: 1, or uniform in 1..cfg.online_steps)."""
            if cfg.online_steps == 1:
                return (*online_update(model, optimizer, variables, opt_i, images, labels, k_online,
                                       cfg.online_batch), 1)
            n = jax.random.randint(jax.random.fold_in(k_model, 1), (), 1, cfg.online_steps + 1)

            def one_step(j, carry):
                return online_update(model, optimizer, *carry, images, labels, jax.random.fold_in(k_online, j),
                                     cfg.online_batch)

            return (*jax.lax.fori_loop(0, n, one_step, (variables, opt_i)), n)

        online_steps = 0
        if cfg.order == "v1":
            variables, opt_i, online_steps = train_online(variables, opt_i, state.images, state.labels)
        idx = jax.random.randint(k_batch, (cfg.real_batch,), 0, x_real.shape[0])
        x_t, y_t = x_real[idx], kernels.centered_one_hot(y_real[idx], c)
        if mesh is not None:
            x_t, y_t = (jax.lax.with_sharding_constraint(a, sharding.split_rows(mesh)) for a in (x_t, y_t))
        data = meta_params(state, cfg)
        support = support_indices(jax.random.fold_in(k_batch, 1), state.images.shape[0], cfg)
        grads, metrics = jax.grad(meta_loss, has_aux=True)(data, model, variables, x_t, y_t, cfg, flip, support)
        updates, opt_state = meta_opt.update(grads, state.opt_state, data)
        data = optax.apply_updates(data, updates)
        if cfg.order == "v2":
            variables, opt_i, online_steps = train_online(variables, opt_i, data["images"], data["labels"])
        average = state.average
        if average is not None:
            average = update_average(average, {"images": data["images"], "labels": data["labels"]},
                                     state.step + 1, cfg.ema_decay)

        # re-initialise the model once it has taken more than K online steps (ages 0..K)
        steps_i = state.pool.steps[i] + online_steps
        reset = steps_i > cfg.max_online_steps
        fresh = init_model(model, k_reset, input_shape)
        pick = lambda new, old: jax.tree.map(lambda a, b: jnp.where(reset, a, b), new, old)  # noqa: E731
        variables = pick(fresh, variables)
        opt_i = pick(optimizer.init(fresh["params"]), opt_i)
        put = lambda tree, leaf_i: jax.tree.map(lambda a, b: a.at[i].set(b), tree, leaf_i)  # noqa: E731
        pool = PoolState(put(state.pool.variables, variables), put(state.pool.opt_state, opt_i),
                         state.pool.steps.at[i].set(jnp.where(reset, 0, steps_i)))

        metrics.update(
            image_norm=jnp.linalg.norm(data["images"]), label_norm=jnp.linalg.norm(data["labels"]),
            image_grad_norm=jnp.linalg.norm(grads["images"]), label_grad_norm=jnp.linalg.norm(grads["labels"]),
            model_index=i, log_temperature=data.get("log_temperature", state.log_temperature))
        new_state = DistillState(step=state.step + 1, images=data["images"], labels=data["labels"],
                                 opt_state=opt_state, pool=pool, key=state.key,
                                 krr_fallbacks=state.krr_fallbacks + (metrics["krr_escalations"] > 0),
                                 log_temperature=data.get("log_temperature", state.log_temperature),
                                 average=average)
        return new_state, metrics

    return step


# ----------------------------------------------------------------------------------------------
# The host loop: progress, history, evaluation, checkpoints


@dataclasses.dataclass
class DistillResult:
    """A finished (or interrupted) run: images (n,H,W,C) in model space, labels (n,C), its history."""

    images: np.ndarray
    labels: np.ndarray
    config: DistillConfig
    dataset_name: str
    history: dict
    steps_done: int
    seconds: float


def _empty_history() -> dict:
    return {"step": [], "loss": [], "krr_loss": [], "krr_batch_acc": [], "image_norm": [], "label_norm": [],
            "image_grad_norm": [], "label_grad_norm": [], "eval": [], "snapshots": [], "seconds": 0.0,
            "krr_fallbacks": 0}


def distill(dataset: Dataset, cfg: DistillConfig, *, checkpoint: str | os.PathLike | None = None,
            checkpoint_every: int = 200, log_every: int = 10, eval_every: int | None = None,
            eval_fn: Callable[[np.ndarray, np.ndarray], dict] | None = None,
            snapshot_every: int | None = None, progress: bool = True, stop_after: int | None = None,
            devices=None) -> DistillResult:
    """Run FRePo for cfg.steps steps and return the distilled set.

    checkpoint: a file; if it exists the run resumes from it (it must come from the same settings),
        and it is rewritten every checkpoint_every steps and at the end.
    eval_every/eval_fn: call eval_fn(images, labels) -> dict of numbers every eval_every steps (history['eval']).
    snapshot_every: keep a copy of the images and labels every so many steps (history['snapshots']: each
        {'step', 'images', 'labels'}) for viewers and for evaluations along the run.
    stop_after: stop after this many steps of this call (to interrupt a run on purpose; resume later).
    devices: the devices to run on (default: all visible ones, ``jax.devices()``). With more than one, each
        step splits the real batch across them (cfg.real_batch must be a multiple of their number) and
        replicates the rest, the training set included (see ``frepo_lite.sharding``). A checkpoint resumes
        on any number of devices.
    Raises FloatingPointError, naming the step, if the loss stops being finite.
    """
    import time

    from tqdm.auto import tqdm

    state = init_state(dataset, cfg)
    history = _empty_history()
    if checkpoint is not None and Path(checkpoint).exists():
        state, history = load_checkpoint(checkpoint, state, cfg, dataset.info.name)
    mesh, place = sharding.placement(devices)
    step_fn = make_step(dataset, cfg, mesh)
    state = jax.device_put(state, place)
    x_real, y_real = jax.device_put(dataset.x_train, place), jax.device_put(dataset.y_train, place)
    start = int(state.step)
    end = cfg.steps if stop_after is None else min(cfg.steps, start + stop_after)
    t0 = time.perf_counter()
    seconds_before = history["seconds"]
    bar = tqdm(total=cfg.steps, initial=start, disable=not progress, desc=f"FRePo {dataset.info.name}",
               unit="step")

    def check_finite(t: int, m: dict) -> None:
        # the norms too: ReLU on XLA:CPU maps NaN to 0, so NaN images can still give a finite loss
        if not all(np.isfinite(m[k]) for k in ("loss", "image_norm", "label_norm")):
            raise FloatingPointError(
                f"FRePo diverged at step {t} (loss {m['loss']}, image norm {m['image_norm']}, label norm "
                f"{m['label_norm']}): lower the learning rate (lr={cfg.lr}), or use "
                f"kernel_dtype='float64'. The last checkpoint ({checkpoint}) is kept.")

    def count_fallbacks(t: int) -> None:
        """Copy the count of KRR fallbacks into the history; warn the first time it is not 0."""
        before, history["krr_fallbacks"] = history["krr_fallbacks"], int(state.krr_fallbacks)
        if history["krr_fallbacks"] and not before:
            warnings.warn(f"the KRR's Cholesky factorisation failed with lambda0={cfg.lambda0} by step {t}; "
                          "those steps used a tenfold larger regulariser (or more), which changes the "
                          "objective. history['krr_fallbacks'] counts them; a larger lambda0 or "
                          "kernel_dtype='float64' avoids them.", RuntimeWarning, stacklevel=3)

    def record(t: int, metrics: dict) -> None:
        """Copy step t's metrics to the host (the only sync), check them and append them to the history."""
        m = jax.device_get(metrics)
        check_finite(t, m)
        count_fallbacks(t)
        history["step"].append(t)
        for k in ("loss", "krr_loss", "krr_batch_acc", "image_norm", "label_norm", "image_grad_norm",
                  "label_grad_norm"):
            history[k].append(float(m[k]))
        if cfg.meta_loss == "cross_entropy":
            history.setdefault("temperature", []).append(float(np.exp(m["log_temperature"])))
        bar.set_postfix(loss=f"{history['loss'][-1]:.4f}", krr_acc=f"{history['krr_batch_acc'][-1]:.3f}")

    for t in range(start, end):
        state, metrics = step_fn(state, x_real, y_real)
        bar.update(1)
        done = t + 1
        if done % log_every == 0 or done == end:
            record(done, metrics)
        if snapshot_every and (done % snapshot_every == 0 or done == end):
            images, labels = distilled_set(state)
            history["snapshots"].append({"step": done, "images": np.asarray(images), "labels": np.asarray(labels)})
        if eval_every and eval_fn is not None and (done % eval_every == 0 or done == cfg.steps):
            result = eval_fn(*(np.asarray(a) for a in distilled_set(state)))
            history["eval"].append({"step": done, **{k: float(v) for k, v in result.items()}})
            bar.write(f"step {done}: " + ", ".join(f"{k}={v:.4f}" for k, v in result.items()))
        if checkpoint is not None and (done % checkpoint_every == 0 or done == end):
            check_finite(done, jax.device_get(metrics))  # never overwrite a good checkpoint with NaN
            count_fallbacks(done)
            history["seconds"] = seconds_before + time.perf_counter() - t0
            save_checkpoint(checkpoint, state, cfg, dataset.info.name, history)
    count_fallbacks(end)
    bar.close()
    history["seconds"] = seconds_before + time.perf_counter() - t0
    images, labels = distilled_set(state)
    return DistillResult(images=np.asarray(images), labels=np.asarray(labels), config=cfg,
                         dataset_name=dataset.info.name, history=history, steps_done=int(state.step),
                         seconds=history["seconds"])
