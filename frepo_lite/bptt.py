"""The meta-gradient FRePo avoids: differentiate through an unrolled inner training loop (BPTT).

The inner loop trains a network from fixed initial parameters for T full-batch gradient-descent steps on
the support set (MSE to its labels); the outer loss is the MSE of the trained network on a real batch.
Its gradient with respect to the support images flows back through every inner step, so time and
memory grow with T. Truncated BPTT keeps only the last k steps in the gradient (the support images
enter the earlier steps as constants), which is cheaper and biased. Compare with FRePo's meta-loss
(``frepo_lite.distill.meta_loss``), which replaces the whole inner loop by one KRR solve.
:func:`distill_bptt` distils with it (fixed labels, a fresh network for every meta step).
"""
from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from tqdm.auto import trange

from .data import Dataset
from .configs import DistillConfig
from .distill import DistillResult, init_distilled, make_set_optimizer
from .kernels import centered_one_hot, mse_loss
from .models import apply_model, init_model, make_model


def unrolled_loss(support_images, support_labels, model, params, x_target, y_target, inner_steps: int,
                  inner_lr: float, truncate: int | None = None):
    """Outer MSE on the target batch after `inner_steps` gradient-descent steps on the support set.

    support_images (n,H,W,C), support_labels (n,C), x_target (B,H,W,C), y_target (B,C); params of a
    model without BatchNorm. truncate=k: only the last k inner steps carry gradient to the support
    images (None: all of them, full BPTT).
    """
    cut = 0 if truncate is None else max(inner_steps - truncate, 0)

    def inner_loss(p, x):
        return mse_loss(apply_model(model, {"params": p}, x)[1], support_labels)

    for t in range(inner_steps):
        x = support_images if t >= cut else jax.lax.stop_gradient(support_images)
        grads = jax.grad(inner_loss)(params, x)
        params = jax.tree.map(lambda p, g: p - inner_lr * g, params, grads)
    return mse_loss(apply_model(model, {"params": params}, x_target)[1], y_target)


def unrolled_meta_gradient(model, inner_steps: int, inner_lr: float, truncate: int | None = None):
    """A compiled function (support_images, support_labels, params, x_target, y_target) -> (loss, grad)
    giving the gradient of unrolled_loss with respect to the support images, shape (n,H,W,C)."""
    def loss(xs, ys, params, xt, yt):
        return unrolled_loss(xs, ys, model, params, xt, yt, inner_steps, inner_lr, truncate)

    return jax.jit(jax.value_and_grad(loss))


def make_bptt_step(dataset: Dataset, cfg: DistillConfig, inner_steps: int, inner_lr: float, truncate: int | None = None):
    """The compiled BPTT distillation step: (images, opt_state, labels, t, x_real, y_real) -> (images,
    opt_state, outer loss). Step t draws a fresh network (cfg.arch, width cfg.width, no normalisation) and a
    real batch of cfg.real_batch from fold_in(PRNGKey(cfg.seed), t); FRePo's optimiser of the set (distill's
    make_set_optimizer: LAMB unless cfg says otherwise) moves the images."""
    model = make_model(cfg.arch, dataset.num_classes, dataset.info.resolution, cfg.width, "none")
    opt = make_set_optimizer(cfg)
    key, c, shape = jax.random.PRNGKey(cfg.seed), dataset.num_classes, dataset.x_train.shape[1:]

    def step(images, opt_state, labels, t, x_real, y_real):
        k_init, k_batch = jax.random.split(jax.random.fold_in(key, t))
        params = init_model(model, k_init, shape)["params"]
        idx = jax.random.randint(k_batch, (cfg.real_batch,), 0, x_real.shape[0])
        loss, grad = jax.value_and_grad(unrolled_loss)(images, labels, model, params, x_real[idx],
                                                       centered_one_hot(y_real[idx], c), inner_steps, inner_lr,
                                                       truncate)
        updates, opt_state = opt.update(grad, opt_state, images)
        return optax.apply_updates(images, updates), opt_state, loss

    return jax.jit(step)


def distill_bptt(dataset: Dataset, cfg: DistillConfig, inner_steps: int, truncate: int | None = None, inner_lr: float = 0.01,
                 snapshot_every: int | None = None, progress: bool = True):
    """Distil by (truncated) BPTT for cfg.steps meta steps, from the same start as FRePo (distill's
    init_distilled), labels fixed. Not resumable: it is for comparisons of a few minutes.

    Returns distill.DistillResult: images (n,H,W,C), labels (n,C), history {'step', 'loss', 'snapshots',
    'seconds'}: every snapshot_every steps the step, its outer loss and a snapshot {'step', 'images',
    'labels'}; the seconds of the meta steps alone (copying snapshots excluded).
    """
    images, labels = (jnp.asarray(a) for a in init_distilled(dataset, cfg))
    opt_state = make_set_optimizer(cfg).init(images)
    step = make_bptt_step(dataset, cfg, inner_steps, inner_lr, truncate)
    x_real, y_real = jax.device_put(dataset.x_train), jax.device_put(dataset.y_train)
    history = {"step": [], "loss": [], "snapshots": [], "seconds": 0.0}
    t0 = time.perf_counter()
    for t in trange(cfg.steps, desc=f"BPTT T={inner_steps} {dataset.info.name}", disable=not progress):
        images, opt_state, loss = step(images, opt_state, labels, t, x_real, y_real)
        if snapshot_every and ((t + 1) % snapshot_every == 0 or t + 1 == cfg.steps):
            jax.block_until_ready(images)
            history["seconds"] += time.perf_counter() - t0
            history["step"].append(t + 1)
            history["loss"].append(float(loss))
            history["snapshots"].append({"step": t + 1, "images": np.asarray(images), "labels": np.asarray(labels)})
            t0 = time.perf_counter()
    jax.block_until_ready(images)
    history["seconds"] += time.perf_counter() - t0
    return DistillResult(images=np.asarray(images), labels=np.asarray(labels), config=cfg,
                         dataset_name=dataset.info.name, history=history, steps_done=cfg.steps,
                         seconds=history["seconds"])
