"""Evaluation-time data augmentation in JAX (the DSA-style ops of the reference protocol).

Each image gets one op drawn uniformly from: flip (RGB only), colour (brightness +-0.25 additive,
contrast and saturation scaled by exp(U(-0.25, 0.25))), crop-zoom (scale log-uniform in 0.8..1.25),
rotate (+-15 degrees), translate (+-12.5 % of the side), cutout (one square of side res/4 set to 0).
Geometric ops resample bilinearly with edge replication. Images are (N,H,W,C) in model space.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

OPS = ("color", "crop", "rotate", "translate", "cutout", "flip")


def _warp(image, matrix, shift):
    """Resample image (H,W,C): output pixel p reads input at matrix @ (p - centre) + centre + shift."""
    h, w, _ = image.shape
    centre = jnp.array([(h - 1) / 2.0, (w - 1) / 2.0])
    grid = jnp.stack(jnp.meshgrid(jnp.arange(h), jnp.arange(w), indexing="ij"), -1).reshape(-1, 2)
    src = (grid - centre) @ matrix.T + centre + shift  # (H*W, 2)
    sample = lambda ch: jax.scipy.ndimage.map_coordinates(ch, [src[:, 0], src[:, 1]], order=1,  # noqa: E731
                                                          mode="nearest")
    return jax.vmap(sample, in_axes=-1, out_axes=-1)(image).reshape(image.shape)


def draw_params(key, h: int, w: int) -> dict:
    """The random parameters of every op for one (h, w) image; each op uses its own.

    zoom: log-uniform in [0.8, 1.25]; angle: uniform in [-15, 15] degrees (as radians); shift (2,): uniform
    in [-0.125, 0.125] of the side, in pixels; brightness: uniform in [-0.25, 0.25]; saturation and
    contrast: exp(uniform(-0.25, 0.25)); cutout_centre (2,): an integer pixel (row, column).
    """
    keys = jax.random.split(key, 7)
    u = lambda k, lo, hi, shape=(): jax.random.uniform(k, shape, minval=lo, maxval=hi)  # noqa: E731
    return {"zoom": jnp.exp(u(keys[0], jnp.log(0.8), jnp.log(1.25))),
            "angle": jnp.deg2rad(u(keys[1], -15.0, 15.0)),
            "shift": u(keys[2], -0.125, 0.125, (2,)) * jnp.array([h, w]),
            "brightness": u(keys[3], -0.25, 0.25),
            "saturation": jnp.exp(u(keys[4], -0.25, 0.25)),
            "contrast": jnp.exp(u(keys[5], -0.25, 0.25)),
            "cutout_centre": jax.random.randint(keys[6], (2,), 0, jnp.array([h, w]))}


def apply_params(image, op, params: dict):
    """Apply op number `op` (an index into OPS) with the parameters of :func:`draw_params` to image (H,W,C)."""
    h, w, _ = image.shape
    angle = params["angle"]
    rot = jnp.array([[jnp.cos(angle), -jnp.sin(angle)], [jnp.sin(angle), jnp.cos(angle)]])
    eye = jnp.eye(2)
    # geometry: one matrix and shift per op, the identity for the others
    matrix = jnp.select([op == 1, op == 2, op == 5],
                        [eye / params["zoom"], rot, jnp.array([[1.0, 0.0], [0.0, -1.0]])], eye)
    shift = jnp.where(op == 3, params["shift"], 0.0)
    warped = _warp(image, matrix, shift)
    # colour: brightness, then saturation (towards the per-pixel channel mean), then contrast
    col = image + params["brightness"]
    gray = col.mean(-1, keepdims=True)
    col = (col - gray) * params["saturation"] + gray
    mean = col.mean()
    col = (col - mean) * params["contrast"] + mean
    # cutout: an (h/4)x(w/4) square whose centre lies anywhere in the image (clipped at the borders)
    size_y, size_x = h // 4, w // 4
    cy, cx = params["cutout_centre"]
    top, left = cy - size_y // 2, cx - size_x // 2
    ys, xs = jnp.arange(h)[:, None], jnp.arange(w)[None, :]
    inside = (ys >= top) & (ys < top + size_y) & (xs >= left) & (xs < left + size_x)
    cut = jnp.where(inside[..., None], 0.0, image)
    return jnp.select([op == 0, op == 4], [col, cut], warped)


def _augment_one(key, image, op):
    return apply_params(image, op, draw_params(key, image.shape[0], image.shape[1]))


def augment(key, images, rgb: bool):
    """One random op per image of images (N,H,W,C); flips only when rgb. Returns the same shape."""
    n = images.shape[0]
    k_op, k_img = jax.random.split(key)
    op = jax.random.randint(k_op, (n,), 0, len(OPS) if rgb else len(OPS) - 1)
    return jax.vmap(_augment_one)(jax.random.split(k_img, n), images, op)


def apply_op(key, images, op_name: str):
    """Apply one named op to every image (for tests and visualisation)."""
    op = jnp.full((images.shape[0],), OPS.index(op_name))
    return jax.vmap(_augment_one)(jax.random.split(key, images.shape[0]), images, op)
