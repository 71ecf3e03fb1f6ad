"""Self-checks for the notebooks' exercises: call one with your function; it prints what it found.

Each ``check_*`` runs your function on small random inputs, compares it with the package's own
implementation and either prints a confirmation or raises an AssertionError that says what differs.
"""
from __future__ import annotations

import numpy as np

from . import kernels


def _close(got, want, what: str, rtol: float = 1e-3, atol: float = 1e-4) -> None:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        raise AssertionError(f"{what}: expected shape {want.shape}, got {got.shape}")
    if not np.allclose(got, want, rtol=rtol, atol=atol):
        err = np.max(np.abs(got - want))
        raise AssertionError(f"{what}: values differ from the reference (largest difference {err:.3g})")


def _ok(message: str) -> bool:
    print(f"correct: {message}")
    return True


def _ridge_problem(seed: int, n: int = 12, d: int = 30, m: int = 5, c: int = 3):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)).astype(np.float32), rng.normal(size=(n, c)).astype(np.float32),
            rng.normal(size=(m, d)).astype(np.float32))


# notebook 00 ----------------------------------------------------------------------------------------

def check_to_pixels(fn) -> bool:
    """fn(x, mean, std) -> pixels: undo per-channel standardisation x = (pixels - mean) / std, clip to [0, 1]."""
    rng = np.random.default_rng(0)
    pixels = rng.uniform(size=(4, 5, 5, 3)).astype(np.float32)
    mean, std = rng.uniform(0.2, 0.6, size=3), rng.uniform(0.1, 0.4, size=3)
    x = (pixels - mean) / std
    x[0, 0, 0] = 50.0  # far outside the pixel range: must be clipped
    want = np.clip(x * std + mean, 0.0, 1.0)
    _close(fn(x, mean, std), want, "to_pixels")
    return _ok("standardised images map back to pixels in [0, 1]")


def check_label_classes(fn) -> bool:
    """fn(labels (n,C)) -> (n,) the class each (learned) label row favours."""
    rng = np.random.default_rng(1)
    labels = rng.normal(size=(20, 10))
    got = np.asarray(fn(labels))
    if got.shape != (20,) or not np.array_equal(got, labels.argmax(-1)):
        raise AssertionError("label_classes: expected the index of the largest score of each row (argmax)")
    return _ok("each label's class is the argmax of its row")


def check_numpy_loader(fn, path) -> bool:
    """fn(path) -> (pixels (n,H,W,C) in [0,1], labels (n,C)) read from an exported set with numpy alone."""
    from .export import load_distilled

    ref = load_distilled(path)
    pixels, labels = fn(path)
    _close(labels, ref.labels, "labels")
    _close(pixels, ref.pixels(), "pixels", atol=1e-3)
    return _ok("the exported file is readable with numpy and its metadata alone")


# notebook 01 ----------------------------------------------------------------------------------------

def check_dual_ridge(fn) -> bool:
    """fn(x_s (n,d), y_s (n,C), x_t (m,d), lam) -> (m,C): ridge predictions computed in the dual, n x n."""
    for seed, (n, d) in enumerate(((12, 30), (40, 8))):
        x_s, y_s, x_t = _ridge_problem(seed, n, d)
        lam = 0.3
        primal = x_t @ np.linalg.solve(x_s.T @ x_s + lam * np.eye(d), x_s.T @ y_s)
        _close(fn(x_s, y_s, x_t, lam), primal, f"dual ridge (n={n}, d={d})")
    return _ok("the dual solution equals the primal ridge solution for n < d and n > d")


def check_regularizer(fn) -> bool:
    """fn(k_ss (n,n), lambda0) -> lambda = lambda0 * trace(K_ss) / n."""
    rng = np.random.default_rng(2)
    f = rng.normal(size=(7, 11))
    k = f @ f.T
    for lambda0 in (1e-6, 0.5):
        _close(fn(k, lambda0), kernels.regularizer(k, lambda0), f"regularizer (lambda0={lambda0})", rtol=1e-5)
    _close(fn(4.0 * k, 1e-6), kernels.regularizer(4.0 * k, 1e-6), "regularizer of a rescaled kernel")
    return _ok("lambda scales with the kernel, so the same lambda0 works for any feature scale")


def check_conjugate_kernel(fn) -> bool:
    """fn(f1 (n1,d), f2 (n2,d)) -> (n1,n2) inner products of feature vectors."""
    rng = np.random.default_rng(3)
    f1, f2 = rng.normal(size=(5, 9)), rng.normal(size=(3, 9))
    _close(fn(f1, f2), kernels.conjugate_kernel(f1, f2), "conjugate kernel")
    return _ok("K = F1 F2^T")


# notebook 02 ----------------------------------------------------------------------------------------

def check_krr_loss(fn) -> bool:
    """fn(f_s (n,d), y_s (n,C), f_t (m,d), y_t (m,C), lambda0) -> scalar KRR loss (FRePo Eq. 2, no margin)."""
    x_s, y_s, x_t = _ridge_problem(4, 6, 20)
    y_t = np.random.default_rng(5).normal(size=(5, 3)).astype(np.float32)
    want = kernels.mse_loss(kernels.krr_from_features(x_s, x_t, y_s, 1e-3), y_t)
    _close(fn(x_s, y_s, x_t, y_t, 1e-3), want, "KRR loss", rtol=1e-3)
    return _ok("0.5 * mean over targets of the squared error of the KRR prediction")


def check_truncation_cost(memory_by_steps: dict) -> bool:
    """memory_by_steps {inner steps T: bytes} measured for full BPTT: memory must grow with T."""
    steps = sorted(memory_by_steps)
    if len(steps) < 2:
        raise AssertionError("measure at least two values of T")
    mem = [memory_by_steps[t] for t in steps]
    if not all(b > a for a, b in zip(mem, mem[1:])):
        raise AssertionError(f"full BPTT must keep every inner step's activations: memory {mem} for T={steps} "
                             "should increase with T (did you measure truncated BPTT?)")
    per_step = (mem[-1] - mem[0]) / (steps[-1] - steps[0])
    return _ok(f"memory grows by about {per_step / 1e6:.1f} MB per unrolled step")


# notebook 03 ----------------------------------------------------------------------------------------

def check_label_init(fn) -> bool:
    """fn(y (n,) class ids, num_classes) -> (n,C) FRePo's initial labels (one_hot - 1/C) / sqrt(C/10)."""
    y = np.array([0, 3, 9, 3])
    for c in (10, 100):
        want = kernels.centered_one_hot(y, c, 1.0 / np.sqrt(c / 10.0))
        _close(fn(y, c), want, f"label init (C={c})", rtol=1e-5, atol=1e-6)
    return _ok("labels start centred and scaled by 1/sqrt(C/10)")


def check_margin_loss(fn) -> bool:
    """fn(labels (n,C)) -> mean_i(-min(top1_i - top2_i, 1/C)), FRePo's label regulariser."""
    rng = np.random.default_rng(6)
    labels = rng.normal(scale=0.1, size=(8, 10)).astype(np.float32)
    _close(fn(labels), kernels.label_margin_loss(labels), "label margin loss", rtol=1e-5)
    return _ok("the margin term rewards a gap of at least 1/C between the top two scores")


def check_pool_offsets(fn) -> bool:
    """fn(pool_size m, max_steps K) -> (m,) initial step counters (K // m) * i of the staggered pool."""
    for m, k in ((10, 100), (4, 10), (1, 100)):
        got = np.asarray(fn(m, k))
        want = (k // m) * np.arange(m)
        if got.shape != (m,) or not np.array_equal(got, want):
            raise AssertionError(f"pool offsets for m={m}, K={k}: expected {want.tolist()}, got {got.tolist()}")
    return _ok("pool models start at evenly spaced ages, so one is always young and one nearly reset")
