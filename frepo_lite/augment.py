"""Evaluation-time data augmentation in JAX: the DSA-style ops of the reference protocol, as the authors ran them.

One op is drawn uniformly per batch (the authors'; ``per="image"`` draws one per image instead) from: flip
(RGB only; each image mirrored with probability 1/2), colour (brightness +-0.25 additive, contrast and
saturation scaled by exp(U(-0.25, 0.25))), crop-zoom (scale log-uniform in 0.8..1.25, the window's centre
anywhere within the overflow), rotate (+-15 degrees), translate (+-12.5 % of the side), cutout (one square
of side res/4 set to 0, always wholly inside the image). The op's parameters are drawn per image. Geometric
ops resample bilinearly with edge replication. Images are (N,H,W,C) in model space.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

OPS = ("color", "crop", "rotate", "translate", "cutout", "flip")
PER = ("batch", "image")  # one op drawn for the whole batch (the authors'), or one per image


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

    zoom: log-uniform in [0.8, 1.25]; crop_offset (2,): uniform in [-1, 1], the zoomed window's centre as a
    fraction of the overflow |1 - 1/zoom| (side - 1) / 2 on each axis (zoomed in, the window then reaches the
    border at +-1, never past it); angle: uniform in [-15, 15] degrees (as
    radians); shift (2,): uniform in [-0.125, 0.125] of the side, in pixels; brightness: uniform in
    [-0.25, 0.25]; saturation and contrast: exp(uniform(-0.25, 0.25)); cutout_corner (2,): the top-left pixel
    (row, column) of the cutout square, uniform over the positions that keep it inside the image; mirror:
    True with probability 1/2 (whether the flip op mirrors this image).
    """
    keys = jax.random.split(key, 9)
    u = lambda k, lo, hi, shape=(): jax.random.uniform(k, shape, minval=lo, maxval=hi)  # noqa: E731
    return {"zoom": jnp.exp(u(keys[0], jnp.log(0.8), jnp.log(1.25))),
            "crop_offset": u(keys[7], -1.0, 1.0, (2,)),
            "angle": jnp.deg2rad(u(keys[1], -15.0, 15.0)),
            "shift": u(keys[2], -0.125, 0.125, (2,)) * jnp.array([h, w]),
            "brightness": u(keys[3], -0.25, 0.25),
            "saturation": jnp.exp(u(keys[4], -0.25, 0.25)),
            "contrast": jnp.exp(u(keys[5], -0.25, 0.25)),
            "cutout_corner": jax.random.randint(keys[6], (2,), 0, jnp.array([h - h // 4 + 1, w - w // 4 + 1])),
            "mirror": jax.random.bernoulli(keys[8])}


def apply_params(image, op, params: dict):
    """Apply op number `op` (an index into OPS) with the parameters of :func:`draw_params` to image (H,W,C)."""
    h, w, _ = image.shape
    angle = params["angle"]
    rot = jnp.array([[jnp.cos(angle), -jnp.sin(angle)], [jnp.sin(angle), jnp.cos(angle)]])
    eye = jnp.eye(2)
    mirror = jnp.where(params["mirror"], jnp.array([[1.0, 0.0], [0.0, -1.0]]), eye)
    # geometry: one matrix and shift per op, the identity for the others
    matrix = jnp.select([op == 1, op == 2, op == 5], [eye / params["zoom"], rot, mirror], eye)
    overflow = jnp.abs(1.0 - 1.0 / params["zoom"]) * jnp.array([h - 1, w - 1]) / 2.0  # (2,) pixels
    shift = jnp.select([op == 1, op == 3], [params["crop_offset"] * overflow, params["shift"]], jnp.zeros(2))
    warped = _warp(image, matrix, shift)
    # colour: brightness, then saturation (towards the per-pixel channel mean), then contrast
    col = image + params["brightness"]
    gray = col.mean(-1, keepdims=True)
    col = (col - gray) * params["saturation"] + gray
    mean = col.mean()
    col = (col - mean) * params["contrast"] + mean
    # cutout: an (h/4)x(w/4) square wholly inside the image
    top, left = params["cutout_corner"]
    ys, xs = jnp.arange(h)[:, None], jnp.arange(w)[None, :]
    inside = (ys >= top) & (ys < top + h // 4) & (xs >= left) & (xs < left + w // 4)
    cut = jnp.where(inside[..., None], 0.0, image)
    return jnp.select([op == 0, op == 4], [col, cut], warped)


def _augment_one(key, image, op):
    return apply_params(image, op, draw_params(key, image.shape[0], image.shape[1]))


def augment(key, images, rgb: bool, per: str = "batch"):
    """A random op on images (N,H,W,C), drawn once for the batch (per="batch") or for each image
    (per="image"); its parameters are drawn per image; flips only when rgb. Returns the same shape."""
    if per not in PER:
        raise ValueError(f"per must be one of {PER}, got {per!r}")
    n = images.shape[0]
    k_op, k_img = jax.random.split(key)
    num_ops = len(OPS) if rgb else len(OPS) - 1
    op = jax.random.randint(k_op, (n if per == "image" else 1,), 0, num_ops)
    return jax.vmap(_augment_one)(jax.random.split(k_img, n), images, jnp.broadcast_to(op, (n,)))


def apply_op(key, images, op_name: str):
    """Apply one named op to every image (for tests and visualisation)."""
    op = jnp.full((images.shape[0],), OPS.index(op_name))
    return jax.vmap(_augment_one)(jax.random.split(key, images.shape[0]), images, op)
