"""What a distillation step costs (paper Fig. 3c-d, Fig. 14, Tables 8-11): time and memory of compiled
functions, FRePo's step taken apart, and an unrolled (BPTT) distillation step beside it.

Memory is XLA's own accounting of a compiled program (``memory_analysis()``): its arguments, outputs and
temporaries, less the buffers an output reuses from an argument (``Cost.bytes``), and the temporaries alone
(``Cost.temp_bytes``): the working memory a step allocates beyond what it is given and returns, which is
what grows with a method's work. The kind of figure is the same on every backend, its value is each
backend's compiler's; the paper's Tables 9 and 11 are the GPU allocator's peak, a related but not identical
figure (the allocator also holds what lives outside the program).
"""
from __future__ import annotations

import ctypes
import dataclasses
import gc
import sys
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from . import kernels
from .bptt import make_bptt_step
from .configs import DistillConfig
from .data import Dataset
from .distill import (_model_and_online_optimizer, init_distilled, init_state, make_set_optimizer,
                      online_update, step_function)
from .models import apply_model, init_model


@dataclasses.dataclass(frozen=True)
class Cost:
    """seconds: wall-clock seconds per call (the best of several, compile excluded); bytes: XLA's memory for
    the compiled program (arguments + outputs + temporaries - aliased); temp_bytes: its temporaries alone.
    ms, mb and temp_mb give them in milliseconds and MiB (2**20 bytes)."""

    seconds: float
    bytes: int
    temp_bytes: int

    @property
    def ms(self) -> float:
        return 1e3 * self.seconds

    @property
    def mb(self) -> float:
        return self.bytes / 2**20

    @property
    def temp_mb(self) -> float:
        return self.temp_bytes / 2**20


def release_compiled() -> None:
    """Drop every XLA program JAX has compiled so far and give the freed memory back to the operating system.

    Each configuration compiles programs of its own (a distillation step, an evaluation's training loop), and
    JAX keeps them all for reuse: on a CPU they take tens to hundreds of MB each. Between pieces of work that
    will not reuse them (one ablation's run and the next) this keeps a process's resident memory close to
    what the next piece needs. Arrays are kept; a function called again compiles again.
    """
    jax.clear_caches()
    gc.collect()
    if sys.platform.startswith("linux"):
        try:  # glibc keeps freed memory for reuse; malloc_trim returns it (absent elsewhere, e.g. musl)
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass


def program_bytes(compiled) -> int:
    """XLA's memory of a compiled program in bytes: arguments + outputs + temporaries - aliased."""
    m = compiled.memory_analysis()
    return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes - m.alias_size_in_bytes)


class ProgramTooLarge(MemoryError):
    """A compiled program needs more memory (XLA's own figure) than the limit it was measured under."""


def seconds_per_call(step: Callable, state, calls: int, warmup: int = 0):
    """Mean wall seconds of `state = step(state)` over `calls` calls after `warmup` untimed ones, blocking
    only on the last state, as a run of many steps does. Returns (seconds, the last state). The one timing
    loop of frepo_lite and its benchmarks: a step with nothing to carry takes and returns None."""
    for _ in range(warmup):
        state = step(state)
    jax.block_until_ready(state)
    t0 = time.perf_counter()
    for _ in range(calls):
        state = step(state)
    jax.block_until_ready(state)
    return (time.perf_counter() - t0) / calls, state


def measure(fn: Callable, *args, repeats: int = 3, max_bytes: int | None = None) -> Cost:
    """Compile fn (a plain or jitted function) for args ahead of time, call it once to warm up, then time
    `repeats` calls and keep the best (the least disturbed by whatever else the machine is doing). With
    max_bytes, a program whose memory (program_bytes) exceeds it raises ProgramTooLarge before it runs."""
    compiled = jax.jit(fn).lower(*args).compile()
    needed = program_bytes(compiled)
    if max_bytes is not None and needed > max_bytes:
        raise ProgramTooLarge(f"the compiled program needs {needed / 2**20:.0f} MiB, more than the limit of "
                              f"{max_bytes / 2**20:.0f} MiB")
    call = lambda _: compiled(*args)  # noqa: E731
    jax.block_until_ready(call(None))
    best = min(seconds_per_call(call, None, calls=1)[0] for _ in range(repeats))
    return Cost(float(best), needed, int(compiled.memory_analysis().temp_size_in_bytes))


# The parts of a FRePo step, in the order they run, as frepo_step_parts names them.
PARTS = ("target features", "support features + backward", "kernel + Cholesky solve + backward",
         "online update")


def frepo_step_parts(dataset: Dataset, cfg: DistillConfig) -> dict[str, tuple[Callable, tuple]]:
    """{name: (function, its arguments)} for FRePo's whole step and each part of it, at cfg's sizes:

    - "target features": the sampled network's forward pass on the real batch (cfg.real_batch images);
    - "support features + backward": its forward and backward pass on the n distilled images (the
      meta-gradient flows back through them);
    - "kernel + Cholesky solve + backward": the conjugate kernels K_ss (n x n) and K_ts (B x n), the KRR
      solve by Cholesky and their gradient, on given features: the O(n^3) part;
    - "online update": one Adam step of the network on (up to cfg.online_batch of) the distilled images;
    - "whole step": distill.step_function, everything of one step compiled together (LAMB included).
    """
    model, optimizer = _model_and_online_optimizer(dataset, cfg)
    images, labels = (jnp.asarray(a) for a in init_distilled(dataset, cfg))
    variables = init_model(model, jax.random.PRNGKey(cfg.seed), dataset.x_train.shape[1:])
    x_t = jnp.asarray(dataset.x_train[:cfg.real_batch])
    y_t = kernels.centered_one_hot(jnp.asarray(dataset.y_train[:cfg.real_batch]), dataset.num_classes)
    f_s, f_t = apply_model(model, variables, images)[0], apply_model(model, variables, x_t)[0]

    def support_features(images, cotangent):
        return jax.grad(lambda x: jnp.vdot(apply_model(model, variables, x)[0], cotangent))(images)

    def kernel_solve(f_s, y_s):
        def loss(f_s, y_s):
            pred, _ = kernels.krr_features_solve(f_s, f_t, y_s, cfg.lambda0, jnp.dtype(cfg.kernel_dtype))
            return kernels.mse_loss(pred, y_t)
        return jax.grad(loss, argnums=(0, 1))(f_s, y_s)

    def target_features(x):
        return apply_model(model, variables, x)[0]

    def online(variables, opt_state, images, labels):
        return online_update(model, optimizer, variables, opt_state, images, labels, jax.random.PRNGKey(0),
                             cfg.online_batch)

    state = init_state(dataset, cfg)
    x_real, y_real = jnp.asarray(dataset.x_train), jnp.asarray(dataset.y_train)
    return {"target features": (target_features, (x_t,)),
            "support features + backward": (support_features, (images, f_s)),
            "kernel + Cholesky solve + backward": (kernel_solve, (f_s, labels)),
            "online update": (online, (variables, optimizer.init(variables["params"]), images, labels)),
            "whole step": (step_function(dataset, cfg), (state, x_real, y_real))}


def frepo_cost(dataset: Dataset, cfg: DistillConfig, repeats: int = 3, parts: bool = True,
               max_bytes: int | None = None) -> dict[str, Cost]:
    """{name: Cost} of FRePo's whole step and (parts=True) of each part of frepo_step_parts."""
    pieces = frepo_step_parts(dataset, cfg)
    names = ["whole step", *PARTS] if parts else ["whole step"]
    return {name: measure(pieces[name][0], *pieces[name][1], repeats=repeats, max_bytes=max_bytes)
            for name in names}


def bptt_cost(dataset: Dataset, cfg: DistillConfig, inner_steps: int, truncate: int | None = None,
              inner_lr: float = 0.01, repeats: int = 3, max_bytes: int | None = None) -> Cost:
    """Cost of one step of BPTT distillation (bptt.make_bptt_step, given the same training set as FRePo's
    step): a fresh network of cfg.arch and cfg.width without normalisation, `inner_steps` full-batch gradient
    steps on the n distilled images, the outer loss on cfg.real_batch real images, differentiated through all
    inner steps (truncate=None) or the last `truncate`, and the set's optimiser (LAMB) on the images."""
    images, labels = (jnp.asarray(a) for a in init_distilled(dataset, cfg))
    opt_state = make_set_optimizer(cfg).init(images)
    step = make_bptt_step(dataset, cfg, inner_steps, inner_lr, truncate)
    x_real, y_real = jnp.asarray(dataset.x_train), jnp.asarray(dataset.y_train)
    return measure(step, images, opt_state, labels, 0, x_real, y_real, repeats=repeats, max_bytes=max_bytes)


def method_cost(dataset: Dataset, cfg: DistillConfig, method: str, repeats: int = 3,
                parts: bool = False, max_bytes: int | None = None) -> dict[str, Cost]:
    """{'whole step': Cost[, each part]} of one distillation method at cfg's sizes. method: "FRePo" (its
    step with cfg's settings, krr_support included; parts=True adds frepo_step_parts' parts) or "BPTT T=<k>"
    (a step of full BPTT through k inner steps, bptt_cost)."""
    if method.startswith("BPTT T="):
        return {"whole step": bptt_cost(dataset, cfg, int(method[len("BPTT T="):]), repeats=repeats,
                                        max_bytes=max_bytes)}
    if method != "FRePo":
        raise ValueError(f"method must be 'FRePo' or 'BPTT T=<inner steps>', got {method!r}")
    return frepo_cost(dataset, cfg, repeats=repeats, parts=parts, max_bytes=max_bytes)


def sweep(dataset: Dataset, points: list[tuple], repeats: int = 3, max_seconds: float = float("inf"),
          parts_of: tuple = (), progress: bool = True, max_bytes: int | None = None) -> list[dict]:
    """Measure each (x, label, method, cfg) of points in turn: one row {'x', 'label', 'method', 'ms', 'mb',
    'temp_mb'[, 'parts': {name: {'ms', 'mb', 'temp_mb'}}]} per point, FRePo's parts measured for the labels
    in parts_of. A label's series stops (its later points are left out) once a point takes more than
    max_seconds per call, or at the first point whose compiled program needs more than max_bytes (that point
    is left out too, never run: "it does not fit"). After each point every compiled program is released
    (release_compiled: JAX's caches too, so a caller's own jitted functions compile again on their next call)."""
    from tqdm.auto import tqdm

    rows, too_slow = [], set()
    for x, label, method, cfg in tqdm(points, desc="cost", disable=not progress):
        if label in too_slow:
            continue
        try:
            c = method_cost(dataset, cfg, method, repeats, parts=(label in parts_of), max_bytes=max_bytes)
        except ProgramTooLarge as e:
            tqdm.write(f"{label} at {x}: {e}; the series stops here")
            too_slow.add(label)
            continue
        whole = c["whole step"]
        row = {"x": x, "label": label, "method": method, "ms": whole.ms, "mb": whole.mb, "temp_mb": whole.temp_mb}
        if len(c) > 1:
            row["parts"] = {k: {"ms": v.ms, "mb": v.mb, "temp_mb": v.temp_mb} for k, v in c.items()
                            if k != "whole step"}
        rows.append(row)
        release_compiled()  # no later point runs these programs again (memory)
        if c["whole step"].seconds > max_seconds:
            too_slow.add(label)
    return rows


def growth_exponent(sizes, seconds) -> float:
    """p of the power law seconds ~ c * sizes**p: the least-squares slope of log(seconds) against log(sizes)."""
    return float(np.polyfit(np.log(np.asarray(sizes, float)), np.log(np.asarray(seconds, float)), 1)[0])


def time_to_accuracy(seconds, accuracy, target: float) -> float:
    """The first seconds[i] with accuracy[i] >= target (seconds ascending); inf if the target is never reached."""
    reached = np.flatnonzero(np.asarray(accuracy) >= target)
    return float(np.asarray(seconds)[reached[0]]) if reached.size else float("inf")


def feature_dim(dataset: Dataset, cfg: DistillConfig) -> int:
    """d, the length of the feature vector that cfg's network gives each image (the kernels' inner dimension)."""
    model, _ = _model_and_online_optimizer(dataset, cfg)
    shape = dataset.x_train.shape[1:]
    variables = jax.eval_shape(lambda k: init_model(model, k, shape), jax.random.PRNGKey(0))
    features = jax.eval_shape(lambda v: apply_model(model, v, jnp.zeros((1, *shape)))[0], variables)
    return int(features.shape[-1])
