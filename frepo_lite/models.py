"""The networks: FRePo's Conv and the transfer architectures (DC ConvNet, AlexNet, VGG11, ResNet-18).

Every model maps images (N,H,W,C) to ``(features, logits)``: ``features`` (N, d) is what the KRR head
of FRePo regresses on (the last block's output flattened in NHWC order), ``logits`` (N, num_classes)
is a Dense head on top of it for ordinary training. Models are Flax linen modules with Flax's default
initialisation (LeCun normal weights, zero biases). 28x28 inputs are padded to 32x32: by the first
convolution's padding of 3 in ``Conv`` (as the reference does), by zero-padding the input elsewhere.
"""
from __future__ import annotations

import math
from functools import partial
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from . import conv
from .kernels import mse_loss

NORMS = ("none", "batch", "instance", "group", "layer")
ARCHS = ("conv", "dc_conv", "alexnet", "vgg11", "resnet18")

# Every convolution below: flax's, with the kernel gradient as one matrix product on CPU (see conv.py).
Conv2D = partial(nn.Conv, conv_general_dilated=conv.conv_general_dilated)


def depth_for_resolution(resolution: int) -> int:
    """Conv depth: 3 blocks for 28/32 px, 4 for 64 px, 5 for 128 px (the final map is 4x4)."""
    res = 32 if resolution == 28 else resolution
    depth = int(round(math.log2(res / 4)))
    if 2 ** depth * 4 != res:
        raise ValueError(f"Conv needs a power-of-two resolution >= 8 (or 28), got {resolution}")
    return depth


BN_MOMENTUM = 0.9  # flax's default: running = momentum * running + (1 - momentum) * batch


def norm_layer(norm: str, train: bool, bn_momentum: float = BN_MOMENTUM) -> Callable[[Any], Any]:
    """A normalisation layer by name; 'none' is the identity. BatchNorm uses batch stats when training and
    keeps running statistics with ``bn_momentum`` in flax's sense (0.1: close to the last batch's)."""
    if norm == "none":
        return lambda x: x
    if norm == "batch":
        return nn.BatchNorm(use_running_average=not train, momentum=bn_momentum)
    if norm == "instance":
        return nn.GroupNorm(num_groups=None, group_size=1)
    if norm == "group":
        return lambda x: nn.GroupNorm(num_groups=math.gcd(32, x.shape[-1]))(x)
    if norm == "layer":
        return nn.LayerNorm(reduction_axes=(-3, -2, -1), feature_axes=-1)
    raise ValueError(f"Unknown norm {norm!r}; choose one of {NORMS}")


def _pad_to_32(x):
    """Zero-pad 28x28 inputs to 32x32; leave other sizes."""
    if x.shape[1] == 28:
        x = jnp.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)))
    return x


def softplus(beta: float) -> Callable:
    """softplus(beta x) / beta: a smooth ReLU, within log(2)/beta of it (beta 60: 0.012)."""
    return lambda x: jax.nn.softplus(beta * x) / beta


class Conv(nn.Module):
    """FRePo's Conv: blocks of [norm (not the first)] -> 3x3 conv (width*2**i) -> ReLU -> 2x2 avg pool.

    Feature dimension: 4*4*width*2**(depth-1), e.g. 8192 for width 128 at 32 px.
    activation: ReLU, or a smooth one (``softplus(60)``) for the pool models of a distillation.
    """

    num_classes: int
    width: int = 128
    depth: int = 3
    norm: str = "none"
    bn_momentum: float = BN_MOMENTUM
    activation: Callable = nn.relu

    @nn.compact
    def __call__(self, x, train: bool = False):
        for i in range(self.depth):
            if i > 0:
                x = norm_layer(self.norm, train, self.bn_momentum)(x)
            pad = 3 if (i == 0 and x.shape[1] == 28) else 1
            x = Conv2D(self.width * 2 ** i, (3, 3), padding=((pad, pad), (pad, pad)))(x)
            x = nn.avg_pool(self.activation(x), (2, 2), (2, 2))
        features = x.reshape(x.shape[0], -1)
        return features, nn.Dense(self.num_classes)(features)


class DCConv(nn.Module):
    """The constant-width ConvNet of DC/DSA/MTT: [3x3 conv, no bias -> norm -> ReLU -> 2x2 avg pool] x depth."""

    num_classes: int
    width: int = 128
    depth: int = 3
    norm: str = "instance"

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = _pad_to_32(x)
        for _ in range(self.depth):
            x = Conv2D(self.width, (3, 3), padding=1, use_bias=False)(x)
            x = nn.avg_pool(nn.relu(norm_layer(self.norm, train)(x)), (2, 2), (2, 2))
        features = x.reshape(x.shape[0], -1)
        return features, nn.Dense(self.num_classes)(features)


class AlexNet(nn.Module):
    """AlexNet for 32 px: 128-5x5, 192-5x5, 256-3x3, 192-3x3, 192-3x3 convs, 2x2 max pools after 1, 2, 5.

    Those are the channels at width 128 (the paper's network); another width scales them all in proportion
    (width 32: 32, 48, 64, 48, 48), for evaluations a CPU can afford.
    """

    num_classes: int
    width: int = 128
    norm: str = "none"

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = _pad_to_32(x)
        w = self.width
        for i, (ch, k) in enumerate([(w, 5), (3 * w // 2, 5), (2 * w, 3), (3 * w // 2, 3), (3 * w // 2, 3)]):
            x = Conv2D(ch, (k, k), padding=k // 2)(x)
            x = nn.relu(norm_layer(self.norm, train)(x) if i > 0 else x)
            if i in (0, 1, 4):
                x = nn.max_pool(x, (2, 2), (2, 2))
        features = x.reshape(x.shape[0], -1)
        return features, nn.Dense(self.num_classes)(features)


class VGG11(nn.Module):
    """VGG11's pattern (8 convs, 5 max pools) with `width` channels everywhere (128 in the paper)."""

    num_classes: int
    width: int = 128
    norm: str = "batch"

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = _pad_to_32(x)
        for item in (1, "M", 1, "M", 2, "M", 2, "M", 2, "M"):
            if item == "M":
                x = nn.max_pool(x, (2, 2), (2, 2))
                continue
            for _ in range(item):
                x = Conv2D(self.width, (3, 3), padding=1)(x)
                x = nn.relu(norm_layer(self.norm, train)(x))
        features = x.reshape(x.shape[0], -1)
        return features, nn.Dense(self.num_classes)(features)


class BasicBlock(nn.Module):
    channels: int
    stride: int
    norm: str

    @nn.compact
    def __call__(self, x, train: bool):
        y = Conv2D(self.channels, (3, 3), self.stride, padding=1, use_bias=False)(x)
        y = nn.relu(norm_layer(self.norm, train)(y))
        y = Conv2D(self.channels, (3, 3), padding=1, use_bias=False)(y)
        y = norm_layer(self.norm, train)(y)
        if self.stride != 1 or x.shape[-1] != self.channels:
            x = Conv2D(self.channels, (1, 1), self.stride, use_bias=False)(x)
            x = norm_layer(self.norm, train)(x)
        return nn.relu(x + y)


class ResNet18(nn.Module):
    """ResNet-18 for 32 px (3x3 stem, no max pool); the feature is the last 4x4x(4 width) map flattened.

    Width 128 is the standard network (stages of 64, 128, 256, 512 channels); another width scales every
    stage in proportion (width 32: 16, 32, 64, 128), for evaluations a CPU can afford.
    """

    num_classes: int
    width: int = 128
    norm: str = "instance"

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = _pad_to_32(x)
        stages = (max(1, self.width // 2), self.width, 2 * self.width, 4 * self.width)
        x = Conv2D(stages[0], (3, 3), padding=1, use_bias=False)(x)
        x = nn.relu(norm_layer(self.norm, train)(x))
        for i, ch in enumerate(stages):
            for j in range(2):
                x = BasicBlock(ch, 2 if (i > 0 and j == 0) else 1, self.norm)(x, train)
        features = x.reshape(x.shape[0], -1)
        return features, nn.Dense(self.num_classes)(features)


def make_model(arch: str, num_classes: int, resolution: int = 32, width: int = 128,
               norm: str | None = None, bn_momentum: float = BN_MOMENTUM,
               activation: Callable = nn.relu) -> nn.Module:
    """Build a model by name. norm=None picks the architecture's default ('none' for conv).

    bn_momentum: the running-statistics momentum of BatchNorm, for the Conv of the distillation pool.
    activation: the Conv's nonlinearity (ReLU; a smooth one for a pool, see ``softplus``); the other
    architectures use ReLU only.
    """
    if norm is not None and norm not in NORMS:
        raise ValueError(f"Unknown norm {norm!r}; choose one of {NORMS}")
    if not 0.0 <= bn_momentum < 1.0:
        raise ValueError(f"bn_momentum must be in [0, 1), got {bn_momentum}")
    if arch != "conv" and activation is not nn.relu:
        raise ValueError(f"only arch='conv' takes another activation than ReLU, got arch={arch!r}")
    kw = {} if norm is None else {"norm": norm}
    if arch == "conv":
        return Conv(num_classes, width, depth_for_resolution(resolution), bn_momentum=bn_momentum,
                    activation=activation, **kw)
    if arch == "dc_conv":
        return DCConv(num_classes, width, depth_for_resolution(resolution), **kw)
    if arch == "alexnet":
        return AlexNet(num_classes, width, **kw)
    if arch == "vgg11":
        return VGG11(num_classes, width, **kw)
    if arch == "resnet18":
        return ResNet18(num_classes, width, **kw)
    raise ValueError(f"Unknown architecture {arch!r}; choose one of {ARCHS}")


def init_model(model: nn.Module, key, input_shape: tuple) -> dict:
    """Initial variables {'params': ..., ['batch_stats': ...]} for inputs of shape (H, W, C)."""
    return dict(model.init(key, jnp.zeros((1, *input_shape), jnp.float32), train=False))


def apply_model(model: nn.Module, variables: dict, x, train: bool = False):
    """(features (N,d), logits (N,C), new_batch_stats or None).

    In training mode BatchNorm normalises with batch statistics and returns updated running averages;
    otherwise it uses the running averages.
    """
    if train and "batch_stats" in variables:
        (feat, logits), upd = model.apply(variables, x, train=True, mutable=["batch_stats"])
        return feat, logits, upd["batch_stats"]
    feat, logits = model.apply(variables, x, train=train)
    return feat, logits, variables.get("batch_stats")


def mse_train_step(model: nn.Module, optimizer: optax.GradientTransformation, variables: dict, opt_state,
                   x, y):
    """One optimiser step on 0.5 * mean_i ||logits_i - y_i||^2 for images x (N,H,W,C) and targets y (N,C).

    BatchNorm (if any) normalises with batch statistics and its running averages are updated.
    Returns (new variables, new optimiser state).
    """
    def loss_fn(params):
        _, logits, stats = apply_model(model, {**variables, "params": params}, x, train=True)
        return mse_loss(logits, y), stats

    grads, stats = jax.grad(loss_fn, has_aux=True)(variables["params"])
    updates, opt_state = optimizer.update(grads, opt_state, variables["params"])
    new = {**variables, "params": optax.apply_updates(variables["params"], updates)}
    if stats is not None:
        new["batch_stats"] = stats
    return new, opt_state
