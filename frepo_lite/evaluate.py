"""Evaluate a (distilled or random real) support set by training fresh networks on it from scratch.

The protocol of the paper's Table 1 (docs/protocol.md): a Conv-NN (Conv without normalisation) trained with
Adam (lr 3e-4, linear warm-up over 500 steps, then cosine to 0.01x), batch min(N, 500) shuffled, MSE
against the stored labels, one random augmentation op per batch (frepo_lite.augment); test accuracy of the
last step, mean +- std over fresh models. "KRR accuracy" uses the trained network's features with the support
set as KRR support, with the lambda0 (and the horizontal flips) the set was distilled with.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from . import kernels, sharding
from .augment import augment
from .configs import EvalConfig, label_scale as default_label_scale
from .data import Dataset, class_balanced_indices
from .models import apply_model, init_model, make_model, mse_train_step
from .protocol import PROTOCOL_VERSION

SPLITS = ("test", "val")
# Whether training the evaluation's networks all at once (vmap) beats one after another, by JAX backend, as
# measured on one device by benchmarks/speed_devices.py (frepo_lite/results/devices_<backend>.md). A backend not
# listed (a GPU until measured there) trains them one after another.
PARALLEL_EVAL: dict[str, bool] = {"cpu": False}


def eval_steps_for(support_size: int) -> int:
    """Training steps by support size, as in the reference protocol."""
    for limit, steps in ((10, 1000), (100, 2000), (200, 20000), (500, 5000), (1000, 10000)):
        if support_size <= limit:
            return steps
    return 40000


def _check_support(images, labels, dataset: Dataset) -> None:
    images, labels = np.asarray(images), np.asarray(labels)
    expected = dataset.x_train.shape[1:]
    if images.ndim != 4 or images.shape[1:] != expected:
        raise ValueError(f"support images must be (n, {', '.join(map(str, expected))}) for "
                         f"{dataset.info.name}, got {images.shape}")
    if labels.shape != (images.shape[0], dataset.num_classes):
        raise ValueError(f"support labels must be (n, {dataset.num_classes}) = one row of class scores per "
                         f"image, got {labels.shape} for {images.shape[0]} images")
    if not (np.issubdtype(images.dtype, np.floating) and np.issubdtype(labels.dtype, np.floating)):
        raise ValueError(f"support images and labels must be floating point, got {images.dtype} and "
                         f"{labels.dtype}")
    if not (np.all(np.isfinite(images)) and np.all(np.isfinite(labels))):
        raise ValueError("the support set contains NaN or inf values: it cannot be evaluated "
                         "(was the distillation diverging? try a lower learning rate)")


def eval_lr_schedule(cfg: EvalConfig, steps: int) -> optax.Schedule:
    """The evaluation's learning rate at step t: linear from 0 to cfg.lr over min(warmup_steps, steps/2)
    steps, then cosine to cfg.lr * final_lr_ratio at t = steps."""
    return optax.warmup_cosine_decay_schedule(0.0, cfg.lr, min(cfg.warmup_steps, steps // 2), steps,
                                              end_value=cfg.lr * cfg.final_lr_ratio)


def make_eval_optimizer(cfg: EvalConfig, steps: int) -> optax.GradientTransformation:
    """Adam with :func:`eval_lr_schedule`: what trains an evaluation network."""
    return optax.adam(eval_lr_schedule(cfg, steps))


def batch_indices(key, n: int, batch: int):
    """(batch,) distinct indices of a random batch of a support set of n images, drawn anew each step
    (the reference took the same first `batch` images every step)."""
    return jax.random.permutation(key, n)[:batch]


def _make_train_fns(model, cfg: EvalConfig, n: int, rgb: bool, steps: int):
    """(train, train_many): `steps` Adam steps from a fresh initialisation.

    train(key, images, labels) -> variables: one network. Each step is one compiled call in a Python loop:
    on XLA:CPU that runs several times faster than the same loop as a lax.scan.
    train_many(keys (k,), images, labels, mesh=None, progress=False) -> variables with a leading axis k: k
    networks at once
    (vmap over networks), split across the mesh's devices when k is a multiple of their number. Network j
    gets the same randomness as train(keys[j], ...).
    """
    tx = make_eval_optimizer(cfg, steps)
    batch = min(n, cfg.batch)

    def step(variables, opt_state, images, labels, k_loop, t):
        k_batch, k_aug = jax.random.split(jax.random.fold_in(k_loop, t))
        idx = batch_indices(k_batch, n, batch)
        x, y = images[idx], labels[idx]
        if cfg.augment:
            x = augment(k_aug, x, rgb, cfg.augment_per)
        return mse_train_step(model, tx, variables, opt_state, x, y)

    def init(key, input_shape):
        k_init, k_loop = jax.random.split(key)
        variables = init_model(model, k_init, input_shape)
        return variables, tx.init(variables["params"]), k_loop

    one_step = jax.jit(step)
    vmapped_step = jax.vmap(step, in_axes=(0, 0, None, None, 0, None))
    many_steps = jax.jit(vmapped_step)

    @functools.lru_cache(maxsize=4)
    def split_steps(mesh):
        """many_steps with each device training its own networks, no communication between devices."""
        return sharding.per_device(vmapped_step, mesh, split=(True, True, False, False, True, False))

    def train(key, images, labels):
        variables, opt_state, k_loop = init(key, images.shape[1:])
        for t in range(steps):
            variables, opt_state = one_step(variables, opt_state, images, labels, k_loop, t)
        return variables

    def train_many(keys, images, labels, mesh=None, progress=False):
        keys = jnp.stack(list(keys))
        run = many_steps
        if mesh is not None and len(keys) % mesh.size == 0:
            keys = jax.device_put(keys, sharding.split_rows(mesh))
            images, labels = jax.device_put((images, labels), sharding.replicated(mesh))
            run = split_steps(mesh)
        variables, opt_state, k_loops = jax.vmap(init, in_axes=(0, None))(keys, images.shape[1:])
        for t in tqdm(range(steps), desc=f"train {len(keys)} networks", disable=not progress, leave=False):
            variables, opt_state = run(variables, opt_state, images, labels, k_loops, t)
        return variables

    return train, train_many


@functools.lru_cache(maxsize=8)
def _trainer(cfg: EvalConfig, num_classes: int, resolution: int, n: int, rgb: bool, steps: int):
    """(model, train, train_many) for one evaluation setting, kept so that repeated evaluations compile once."""
    model = make_model(cfg.arch, num_classes, resolution, cfg.width, cfg.norm)
    return (model, *_make_train_fns(model, cfg, n, rgb, steps))


def _trainer_for(images, dataset: Dataset, cfg: EvalConfig):
    steps = cfg.steps or eval_steps_for(images.shape[0])
    model, train, train_many = _trainer(cfg.replace(num_models=1, seed=0), dataset.num_classes,
                                        dataset.info.resolution, images.shape[0], dataset.info.is_rgb, steps)
    return model, train, train_many, steps


@functools.partial(jax.jit, static_argnums=0)
def _predict(model, variables, x):
    return apply_model(model, variables, x)[:2]


def features_and_logits(model, variables, x, batch: int = 1000):
    """(features (N,d), logits (N,C)) of images x (N,H,W,C) in inference mode, computed `batch` at a time."""
    feats, logits = zip(*(_predict(model, variables, x[i:i + batch]) for i in range(0, len(x), batch)))
    return jnp.concatenate(feats), jnp.concatenate(logits)


def train_network(images, labels, dataset: Dataset, cfg: EvalConfig = EvalConfig(), seed: int = 0):
    """Train one fresh cfg.arch network on (images (n,H,W,C), labels (n,C)) by the evaluation recipe.

    Returns (model, variables); use features_and_logits(model, variables, x) to apply it.
    """
    _check_support(images, labels, dataset)
    images, labels = jnp.asarray(images, jnp.float32), jnp.asarray(labels, jnp.float32)
    model, train, _, _ = _trainer_for(images, dataset, cfg)
    return model, train(jax.random.PRNGKey(seed), images, labels)


def _evaluation_key(images, labels, dataset: Dataset, cfg: EvalConfig, split: str, krr: dict) -> str:
    """sha256 of what decides each network's result: the support set, the dataset, the split, the KRR
    settings, the protocol version and every evaluation setting but the number of networks (network i is
    the same in an evaluation of 2 or of 5)."""
    h = hashlib.sha256(np.asarray(images, np.float32).tobytes() + np.asarray(labels, np.float32).tobytes())
    settings = {**dataclasses.asdict(cfg), "num_models": None, "dataset": dataset.info.name, "split": split,
                **krr, "protocol_version": PROTOCOL_VERSION}
    h.update(json.dumps(settings, sort_keys=True).encode())
    return h.hexdigest()


def evaluate_support(images, labels, dataset: Dataset, cfg: EvalConfig = EvalConfig(), split: str = "test",
                     progress: bool = True, resume_dir: str | os.PathLike | None = None,
                     krr_lambda0: float = kernels.LAMBDA0, krr_flip: bool = False,
                     parallel: bool | None = None, devices=None) -> dict:
    """Train cfg.num_models fresh networks on the support set and test them.

    images (n,H,W,C) in model space, labels (n,C). split: "test" (to report) or "val" (the validation
    split held out of train: for every choice, such as a preset value or a screening).
    krr_lambda0, krr_flip: the KRR settings of the set's distillation for its KRR accuracy (support =
    the set, plus its horizontal flips when krr_flip); ``distill.krr_settings(cfg, data.info)`` gives them.
    resume_dir: a folder where each finished network's accuracies are kept, in a JSON file named by the
    evaluation (support set, dataset, split, settings). Called again with the same folder, an interrupted
    evaluation trains only the networks still missing (network i always has the seed cfg.seed*1000 + i),
    and one asked for more networks than before adds them.
    parallel: train the networks still missing all at once (vmap over networks, split across `devices`,
    default all visible ones, when their number divides evenly) instead of one after another; None: the
    faster path on this backend (PARALLEL_EVAL). Both give the same networks up to float rounding.
    Returns {'acc_mean', 'acc_std', 'krr_acc_mean', 'krr_acc_std', 'accs', 'krr_accs', 'steps', 'split',
    'network'} with accuracies in [0, 1]; 'network' names what was trained (e.g. "conv-none width 128").
    """
    _check_support(images, labels, dataset)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if not krr_lambda0 >= 0:
        raise ValueError(f"krr_lambda0 must be >= 0, got {krr_lambda0}")
    images, labels = jnp.asarray(images, jnp.float32), jnp.asarray(labels, jnp.float32)
    x_eval, y_eval = (dataset.x_test, dataset.y_test) if split == "test" else (dataset.x_val, dataset.y_val)
    model, train, train_many, steps = _trainer_for(images, dataset, cfg)
    krr = {"krr_lambda0": float(krr_lambda0), "krr_flip": bool(krr_flip)}
    support_x = jnp.concatenate([images, images[:, :, ::-1]]) if krr_flip else images
    support_y = jnp.concatenate([labels, labels]) if krr_flip else labels
    accs, krr_accs, resume = [], [], None
    if resume_dir is not None:
        key = _evaluation_key(images, labels, dataset, cfg, split, krr)
        resume = Path(resume_dir) / f"eval_{key[:32]}.json"
        if resume.exists():
            saved = json.loads(resume.read_text())
            accs, krr_accs = saved["accs"][:cfg.num_models], saved["krr_accs"][:cfg.num_models]
    missing = [jax.random.PRNGKey(cfg.seed * 1000 + i) for i in range(len(accs), cfg.num_models)]
    if parallel is None:
        parallel = PARALLEL_EVAL.get(jax.default_backend(), False)
    if parallel and len(missing) > 1:
        stacked = train_many(missing, images, labels, sharding.data_mesh(devices), progress)
        networks = (jax.tree.map(lambda a, j=j: a[j], stacked) for j in range(len(missing)))
    else:
        networks = (train(key, images, labels) for key in missing)  # one at a time, kept as each finishes
    for variables in tqdm(networks, desc="evaluate", disable=not progress, leave=False, initial=len(accs),
                          total=cfg.num_models):
        f_eval, logits = features_and_logits(model, variables, x_eval)
        accs.append(float(jnp.mean(jnp.argmax(logits, -1) == y_eval)))
        f_s, _ = features_and_logits(model, variables, support_x)
        pred = kernels.krr_from_features(f_s, f_eval, support_y, krr_lambda0)
        krr_accs.append(float(jnp.mean(jnp.argmax(pred, -1) == y_eval)))
        if resume is not None:
            resume.parent.mkdir(parents=True, exist_ok=True)
            tmp = resume.with_name(f"{resume.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"accs": accs, "krr_accs": krr_accs}))
            os.replace(tmp, resume)  # whole or not at all, also when interrupted while writing
    return {"acc_mean": float(np.mean(accs)), "acc_std": float(np.std(accs)),
            "krr_acc_mean": float(np.mean(krr_accs)), "krr_acc_std": float(np.std(krr_accs)),
            "accs": accs, "krr_accs": krr_accs, "steps": steps, "split": split, "network": network_name(cfg)}


def network_name(cfg: EvalConfig) -> str:
    """What an evaluation trains, for printing beside its accuracies: e.g. 'Conv-NN width 128'."""
    arch = {"conv": "Conv", "dc_conv": "DC ConvNet", "alexnet": "AlexNet", "vgg11": "VGG11",
            "resnet18": "ResNet-18"}.get(cfg.arch, cfg.arch)
    norm = {"none": "NN", "batch": "BN", "instance": "IN", "group": "GN", "layer": "LN"}.get(cfg.norm, cfg.norm)
    return f"{arch}-{norm} width {cfg.width}"


def random_subset(dataset: Dataset, images_per_class: int, seed: int = 0, label_scale: float | None = None):
    """A class-balanced random real subset with centred one-hot labels: (images, labels)."""
    c = dataset.num_classes
    idx = class_balanced_indices(dataset.y_train, images_per_class, c, seed)
    scale = label_scale if label_scale is not None else default_label_scale(c)
    return dataset.x_train[idx], np.asarray(kernels.centered_one_hot(dataset.y_train[idx], c, scale))


def evaluate_random_subset(dataset: Dataset, images_per_class: int, cfg: EvalConfig = EvalConfig(),
                           seed: int = 0, **kw) -> dict:
    """The baseline every table needs: evaluate_support on a random real subset of the same size."""
    images, labels = random_subset(dataset, images_per_class, seed)
    return evaluate_support(images, labels, dataset, cfg, **kw)
