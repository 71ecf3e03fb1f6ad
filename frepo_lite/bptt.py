"""The meta-gradient FRePo avoids: differentiate through an unrolled inner training loop (BPTT).

The inner loop trains a network from fixed initial parameters for T full-batch gradient-descent steps on
the support set (MSE to its labels); the outer loss is the MSE of the trained network on a real batch.
Its gradient with respect to the support images flows back through every inner step, so time and
memory grow with T. Truncated BPTT keeps only the last k steps in the gradient (the support images
enter the earlier steps as constants), which is cheaper and biased. Compare with FRePo's meta-loss
(``frepo_lite.distill.meta_loss``), which replaces the whole inner loop by one KRR solve.
"""
from __future__ import annotations

import jax

from .kernels import mse_loss
from .models import apply_model


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
