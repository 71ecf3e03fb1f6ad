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


def _augment_one(key, image, op):
    h, w, c = image.shape
    keys = jax.random.split(key, 8)
    u = lambda k, lo, hi: jax.random.uniform(k, (), minval=lo, maxval=hi)  # noqa: E731
    # geometry: one matrix and shift per op, the identity for the others
    zoom = jnp.exp(u(keys[0], jnp.log(0.8), jnp.log(1.25)))
    angle = jnp.deg2rad(u(keys[1], -15.0, 15.0))
    rot = jnp.array([[jnp.cos(angle), -jnp.sin(angle)], [jnp.sin(angle), jnp.cos(angle)]])
    eye = jnp.eye(2)
    matrix = jnp.select([op == 1, op == 2, op == 5],
                        [eye / zoom, rot, jnp.array([[1.0, 0.0], [0.0, -1.0]])], eye)
    shift = jnp.where(op == 3, jax.random.uniform(keys[2], (2,), minval=-0.125, maxval=0.125) * h, 0.0)
    warped = _warp(image, matrix, shift)
    # colour: brightness, then saturation (towards the per-pixel channel mean), then contrast
    col = image + u(keys[3], -0.25, 0.25)
    gray = col.mean(-1, keepdims=True)
    col = (col - gray) * jnp.exp(u(keys[4], -0.25, 0.25)) + gray
    mean = col.mean()
    col = (col - mean) * jnp.exp(u(keys[5], -0.25, 0.25)) + mean
    # cutout: a (h/4)x(w/4) square centred anywhere in the image
    size = h // 4
    cy, cx = jax.random.randint(keys[6], (2,), 0, jnp.array([h, w]))
    ys, xs = jnp.arange(h)[:, None], jnp.arange(w)[None, :]
    inside = (jnp.abs(ys - cy) < (size + 1) // 2) & (jnp.abs(xs - cx) < (size + 1) // 2)
    cut = jnp.where(inside[..., None], 0.0, image)
    return jnp.select([op == 0, op == 4], [col, cut], warped)


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
