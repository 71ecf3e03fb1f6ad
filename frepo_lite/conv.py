"""A 2-D convolution whose kernel gradient is one matrix product, which XLA:CPU computes several times faster.

XLA:CPU computes the gradient of a convolution with respect to its kernel several times slower than the
convolution itself. The kernel gradient is a plain contraction, though:

    dL/dW[i, j, c, o] = sum over (n, h, w) of xpad[n, h+i, w+j, c] * g[n, h, w, o]

that is, (the kh*kw shifted copies of the padded input, side by side on channels)^T @ (output gradient):
one (kh*kw*C, N*H*W) x (N*H*W, O) matrix product, which XLA:CPU runs at full speed. `conv2d` keeps XLA's
own convolution for the value and for the input gradient, and writes only the kernel's tangent as that
product, so forward mode, reverse mode and higher orders all work and give the same numbers as
`jax.lax.conv_general_dilated` up to float32 summation order. What it gains on a CPU is measured by
`benchmarks/speed_step.py` (frepo_lite/results/step_speed.md); at 1 image/class, where the real batch's
forward pass dominates, it gains nothing.

`conv_general_dilated` is a drop-in for `flax.linen.Conv(conv_general_dilated=...)`: it takes this route
for stride-1, undilated, ungrouped NHWC convolutions on the CPU backend and hands everything else (GPU,
TPU, strides, dilation, groups) to `jax.lax.conv_general_dilated` untouched, where the vendor libraries
already compute kernel gradients well. Cost: the shifted copies (kh*kw times the input) are kept for the
backward pass.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax import lax
from jax.custom_derivatives import SymbolicZero

__all__ = ["conv2d", "conv_general_dilated", "shifted_copies"]

_NHWC = ("NHWC", "HWIO", "NHWC")


def _xla_conv(x, kernel, padding):
    return lax.conv_general_dilated(x, kernel, (1, 1), padding, dimension_numbers=_NHWC)


def shifted_copies(x, kernel_hw, padding):
    """The input's kh*kw shifted windows side by side on channels (im2col by slicing).

    x: (N, H, W, C); kernel_hw: (kh, kw); padding: ((top, bottom), (left, right)) in pixels.
    Returns (N, Ho, Wo, kh*kw*C) with Ho = H + top + bottom - kh + 1 (same for Wo), channels in the
    (i, j, c) order of a flattened HWIO kernel, so that `shifted_copies(x) @ kernel.reshape(-1, O)`
    equals the stride-1 convolution.
    """
    (kh, kw), ((top, bottom), (left, right)) = kernel_hw, padding
    xp = jnp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    ho, wo = xp.shape[1] - kh + 1, xp.shape[2] - kw + 1
    return jnp.concatenate([xp[:, i:i + ho, j:j + wo, :] for i in range(kh) for j in range(kw)], axis=-1)


@partial(jax.custom_jvp, nondiff_argnums=(2,))
def conv2d(x, kernel, padding):
    """Stride-1 convolution. x: (N, H, W, C) float; kernel: (kh, kw, C, O); padding: ((t, b), (l, r)).

    Returns (N, Ho, Wo, O), the same as `lax.conv_general_dilated` with NHWC/HWIO/NHWC dimensions.
    """
    return _xla_conv(x, kernel, padding)


def _conv2d_jvp(padding, primals, tangents):
    x, kernel = primals
    dx, dkernel = tangents
    y = _xla_conv(x, kernel, padding)
    terms = []
    if not isinstance(dx, SymbolicZero):
        terms.append(_xla_conv(dx, kernel, padding))
    if not isinstance(dkernel, SymbolicZero):
        patches = shifted_copies(x, kernel.shape[:2], padding)
        terms.append(patches @ dkernel.reshape(-1, kernel.shape[-1]))
    return y, sum(terms[1:], terms[0]) if terms else jnp.zeros_like(y)


conv2d.defjvp(_conv2d_jvp, symbolic_zeros=True)


def _is_nhwc(dimension_numbers, lhs, rhs) -> bool:
    if dimension_numbers is None:
        return False
    return lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers) == \
        lax.conv_dimension_numbers(lhs.shape, rhs.shape, _NHWC)


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                         dimension_numbers=None, feature_group_count=1, precision=None, **kwargs):
    """`jax.lax.conv_general_dilated`, routed through `conv2d` where that is faster (see the module doc)."""
    plain = (lhs.ndim == 4 and jax.default_backend() == "cpu" and not kwargs and precision is None
             and feature_group_count == 1 and tuple(window_strides) == (1, 1)
             and all(d == 1 for d in (lhs_dilation or (1, 1)))
             and all(d == 1 for d in (rhs_dilation or (1, 1)))
             and _is_nhwc(dimension_numbers, lhs, rhs))
    if not plain:
        return lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                        dimension_numbers, feature_group_count, precision=precision, **kwargs)
    if isinstance(padding, str):
        padding = lax.padtype_to_pads(lhs.shape[1:3], rhs.shape[:2], (1, 1), padding)
    return conv2d(lhs, rhs, tuple(tuple(int(p) for p in pair) for pair in padding))
