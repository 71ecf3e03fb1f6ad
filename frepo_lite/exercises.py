"""Self-checks for the notebooks' exercises: call one with your function.

Each ``check_*`` runs your function on small inputs of its own, compares the result with a reference
computed here and returns nothing: a correct answer prints one line starting with ``correct:``, a wrong
one raises an AssertionError that names the case, the expected and the obtained values and, where it
recognises it, the likely mistake. A check that draws its inputs at random takes ``seed``: 0 (the default)
gives the notebook's self-check, another value other inputs (the course's hidden tests use 1).
"""
from __future__ import annotations

import dataclasses
import functools
import tempfile
from pathlib import Path

import numpy as np

from . import kernels
from . import labels as label_stats


def _describe(got: np.ndarray, want: np.ndarray) -> str:
    """'expected ..., got ...' for two float64 arrays of the same shape."""
    if want.size == 1:
        return f"expected {want.item():.6g}, got {got.item():.6g}"
    if want.ndim == 1 and want.size <= 12:
        listed = lambda a: "[" + ", ".join(f"{v:g}" for v in a) + "]"  # noqa: E731
        return f"expected {listed(want)}, got {listed(got)}"
    i = np.unravel_index(np.argmax(np.abs(got - want)), want.shape)
    return f"largest difference at index {tuple(map(int, i))}: expected {want[i]:.6g}, got {got[i]:.6g}"


def _matches(got: np.ndarray, want: np.ndarray, rtol: float) -> bool:
    """Same shape and every |got - want| <= rtol * max|want|: relative to the reference's scale."""
    return got.shape == want.shape and bool(np.max(np.abs(got - want), initial=0.0)
                                            <= rtol * np.max(np.abs(want), initial=0.0))


def _close(got, want, what: str, rtol: float = 1e-5, mistakes: dict | None = None, hint: str = "") -> None:
    """Raise an AssertionError unless got equals want up to rtol times the largest |want|.

    what names the case; mistakes {description: the value that mistake gives} are tried in turn and
    the first that got matches is named in the message; otherwise the message ends with hint.
    """
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if _matches(got, want, rtol):
        return
    found = (f"expected shape {want.shape}, got {got.shape}" if got.shape != want.shape
             else _describe(got, want))
    for description, value in (mistakes or {}).items():
        value = np.asarray(value, np.float64)
        if _matches(value, want, max(rtol, 1e-3)):
            continue  # this case cannot tell that mistake from the right answer
        if _matches(got, value, max(rtol, 1e-3)):
            raise AssertionError(f"{what}: {found}. It looks like {description}.")
    raise AssertionError(f"{what}: {found}. {hint}".rstrip())


def _ok(message: str) -> None:
    print(f"correct: {message}")


# notebook 00 ----------------------------------------------------------------------------------------

def check_to_pixels(fn, seed: int = 0) -> None:
    """fn(x (n,H,W,C), mean (C,), std (C,)) -> (n,H,W,C) pixels: undo x = (pixels - mean) / std, clip to [0, 1]."""
    rng = np.random.default_rng(0 + 1000 * seed)
    mean, std = np.array([0.45, 0.35, 0.6]), np.array([0.2, 0.3, 0.15])
    x = rng.normal(size=(4, 5, 5, 3))
    x[0, 0, 0], x[1, 1, 1] = 50.0, -50.0  # far outside the pixel range on both sides: must be clipped
    _close(fn(x, mean, std), np.clip(x * std + mean, 0, 1), "to_pixels", mistakes={
        "the result is not clipped to [0, 1]": x * std + mean,
        "the mean is not added back (x * std)": np.clip(x * std, 0, 1),
        "the std is forgotten (x + mean)": np.clip(x + mean, 0, 1),
        "x is divided by std instead of multiplied": np.clip(x / std + mean, 0, 1),
        "mean and std are swapped": np.clip(x * mean + std, 0, 1),
    }, hint="Invert x = (pixels - mean) / std, then clip to [0, 1].")
    _ok("standardised images map back to pixels in [0, 1]")


def check_label_classes(fn, seed: int = 0) -> None:
    """fn(labels (n,C)) -> (n,) the class each (learned) label row favours."""
    labels = np.random.default_rng(1 + 1000 * seed).normal(size=(20, 10))
    _close(fn(labels), labels.argmax(-1), "label_classes", rtol=0.0, mistakes={
        "the index of the smallest score (argmin), not the largest": labels.argmin(-1),
        "the largest scores themselves, not their positions": labels.max(-1),
        "the argmax over examples (axis 0), not over classes": labels.argmax(0),
    }, hint="Expected the position of the largest score of each row (argmax over the last axis).")
    _ok("each label's class is the argmax of its row")


def check_numpy_loader(fn, seed: int = 0) -> None:
    """fn(path) -> (pixels (n,H,W,C) in [0,1], labels (n,C)) read from an exported set with numpy alone; a
    set with ZCA whitening is refused with an error.

    The check writes its own small sets (3 channels, per-channel standardisation, one without ZCA and one
    with) with frepo_lite.export.save_distilled to a temporary directory and passes fn their paths.
    """
    from .data import DatasetInfo, Preprocessing
    from .export import build_metadata, save_distilled

    rng = np.random.default_rng(2 + 1000 * seed)
    mean, std = np.array([0.45, 0.35, 0.6], np.float32), np.array([0.2, 0.3, 0.15], np.float32)
    pre = Preprocessing(mean=mean, std=std)
    x = (3.0 * rng.normal(size=(5, 6, 6, 3))).astype(np.float32)  # many pixels fall outside [0, 1]
    labels = rng.normal(size=(5, 4)).astype(np.float32)
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        path = save_distilled(Path(tmp) / "set.npz", x, labels, pre,
                              build_metadata(DatasetInfo("exercise", None, 4, 6, 3, "none")))
        pixels, got_labels = fn(path)
        zca = dataclasses.replace(pre, zca="full", zca_mean=np.zeros(108, np.float32),
                                  zca_matrix=np.eye(108, dtype=np.float32), zca_inverse=np.eye(108, dtype=np.float32))
        zca_path = save_distilled(Path(tmp) / "zca.npz", x, labels, zca,
                                  build_metadata(DatasetInfo("exercise", None, 4, 6, 3, "full")))
        try:
            fn(zca_path)
        except Exception:  # any clear error: the reader refuses what it cannot invert
            pass
        else:
            raise AssertionError("a set with ZCA whitening was read without an error: its images need the inverse "
                                 "ZCA (pre_zca_inverse) as well, which this reader does not apply. Refuse such a "
                                 "set (metadata's preprocessing.zca is not 'none') with a ValueError that says so.")
    _close(got_labels, labels, "labels", hint="Return the stored 'labels' array unchanged.")
    _close(pixels, pre.inverse(x), "pixels", mistakes={
        "the pixels are not clipped to [0, 1]": x * std + mean,
        "the std is forgotten (images + pre_mean)": np.clip(x + mean, 0, 1),
        "pre_mean and pre_std are swapped": np.clip(x * mean + std, 0, 1),
        "the images are divided by pre_std instead of multiplied": np.clip(x / std + mean, 0, 1),
        "the standardised images are returned as they are stored": x,
        "the standardised images are only clipped, without pre_std and pre_mean": np.clip(x, 0, 1),
    }, hint="pixels = clip(images * pre_std + pre_mean, 0, 1).")
    _ok("the exported file is readable with numpy and its metadata alone")


# notebook 01 ----------------------------------------------------------------------------------------

def _ridge_problem(seed: int, n: int, d: int, m: int = 5, c: int = 3):
    """Support x_s (n,d), labels y_s (n,c), targets x_t (m,d), float32."""
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)).astype(np.float32), rng.normal(size=(n, c)).astype(np.float32),
            rng.normal(size=(m, d)).astype(np.float32))


def _recorded(*arrays):
    """(views of arrays that record what is computed from them, the list of recorded shapes).

    The views belong to an ndarray subclass whose ufuncs (matmul included) and numpy functions (np.dot,
    np.linalg.solve, ...) append the shape of each result to the list and return the subclass again,
    so a chain of operations is followed to its end.
    """
    shapes = []

    def record(result):
        if isinstance(result, tuple):  # e.g. np.linalg.svd: record the parts, return them as they are
            shapes.extend(np.shape(r) for r in result)
            return result
        if not isinstance(result, np.ndarray):
            return result
        shapes.append(result.shape)
        return result.view(Recorded)

    class Recorded(np.ndarray):
        def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
            plain = lambda a: a.view(np.ndarray) if isinstance(a, Recorded) else a  # noqa: E731
            if "out" in kwargs:
                kwargs["out"] = tuple(map(plain, kwargs["out"]))
            return record(getattr(ufunc, method)(*map(plain, inputs), **kwargs))

        def __array_function__(self, func, types, args, kwargs):
            return record(super().__array_function__(func, types, args, kwargs))

        def dot(self, other):
            return np.dot(self, other)

    return [np.asarray(a).view(Recorded) for a in arrays], shapes


def _jaxpr_shapes(jaxpr) -> list:
    """The shape of every intermediate of a (closed) jaxpr, those of its sub-jaxprs (jit, cond, solves) too."""
    shapes = []
    for eqn in getattr(jaxpr, "jaxpr", jaxpr).eqns:
        shapes += [v.aval.shape for v in eqn.outvars]
        for param in eqn.params.values():
            for sub in param if isinstance(param, (tuple, list)) else (param,):
                if hasattr(getattr(sub, "jaxpr", sub), "eqns"):
                    shapes += _jaxpr_shapes(sub)
    return shapes


def _intermediate_shapes(fn, x_s, y_s, x_t, lam) -> list:
    """Shapes of the arrays fn(x_s, y_s, x_t, lam) computes: recorded on numpy inputs, and read from its
    jaxpr on jax.numpy inputs. Either probe is skipped when fn cannot run on such inputs (a numpy
    solution given jax tracers, for instance)."""
    import jax
    import jax.numpy as jnp

    shapes = []
    try:
        inputs, shapes = _recorded(x_s, y_s, x_t)
        fn(*inputs, lam)
    except Exception:  # noqa: BLE001 - the probe is a bonus; the numerical check has already run
        pass
    try:
        jaxpr = jax.make_jaxpr(lambda a, b, c: fn(a, b, c, lam))(jnp.asarray(x_s), jnp.asarray(y_s),
                                                                 jnp.asarray(x_t))
        shapes = shapes + _jaxpr_shapes(jaxpr)
    except Exception:  # noqa: BLE001
        pass
    return shapes


def check_dual_ridge(fn, seed: int = 0) -> None:
    """fn(x_s (n,d), y_s (n,C), x_t (m,d), lam) -> (m,C): ridge predictions computed in the dual.

    The predictions must equal the primal x_t (x_s^T x_s + lam I)^-1 x_s^T y_s for n < d and n > d, and
    when d > n no d x d matrix may be formed: only the n x n system (x_s x_s^T + lam I) alpha = y_s.
    """
    for case, (n, d, lam) in enumerate(((12, 30, 0.5), (12, 30, 4.0), (40, 8, 0.5))):
        x_s, y_s, x_t = (a.astype(np.float64) for a in _ridge_problem(case + 1000 * seed, n, d))
        primal = x_t @ np.linalg.solve(x_s.T @ x_s + lam * np.eye(d), x_s.T @ y_s)
        k, k_ts = x_s @ x_s.T, x_t @ x_s.T
        dual = lambda a: k_ts @ np.linalg.lstsq(a, y_s, rcond=None)[0]  # noqa: E731
        first = np.zeros((n, n))
        first[0, 0] = lam
        _close(fn(*_ridge_problem(case + 1000 * seed, n, d), lam), primal, f"dual ridge (n={n}, d={d}, lam={lam})",
               rtol=1e-4,
               mistakes={"lam is missing: solve(K, y_s) instead of solve(K + lam I, y_s)": dual(k),
                         "lam is added to the first diagonal entry only": dual(k + first),
                         "lam is added to every entry of K, not to its diagonal (K + lam, not K + lam I)":
                             dual(k + lam)},
               hint="Expected x_t x_s^T (x_s x_s^T + lam I)^-1 y_s.")
    n, d = 12, 30
    for shape in _intermediate_shapes(fn, *_ridge_problem(0 + 1000 * seed, n, d), 0.5):
        if sum(size == d for size in shape) >= 2:
            raise AssertionError(
                f"dual ridge (n={n}, d={d}): the predictions are right, but your function formed a d x d matrix "
                f"(an array of shape {shape}), which the dual avoids: with d > n, solve the n x n system "
                "(x_s x_s^T + lam I) alpha = y_s and predict x_t x_s^T alpha; x_s^T x_s is the primal.")
    _ok("the dual solution equals the primal ridge solution for n < d and n > d, with only n x n systems")


def check_regularizer(fn, seed: int = 0) -> None:
    """fn(k_ss (n,n), lambda0) -> lambda = lambda0 * trace(K_ss) / n, a scalar."""
    rng = np.random.default_rng(3 + 1000 * seed)
    cases = {}
    for n, d in ((7, 11), (3, 5), (20, 4)):
        f = rng.normal(size=(n, d))
        cases[f"n={n}"] = f @ f.T
    cases["n=7 kernel x 4"], cases["n=7 kernel x 1e-3"] = 4.0 * cases["n=7"], 1e-3 * cases["n=7"]
    for name, k in cases.items():
        n, trace = len(k), np.trace(k)
        for lambda0 in (1e-8, 1e-6, 1e-3, 0.5, 100.0):
            want = kernels.regularizer(k, lambda0)
            _close(fn(k, lambda0), want, f"regularizer ({name}, lambda0={lambda0:g})", mistakes={
                "lambda is 0 (even a tiny lambda0 must give a positive lambda)": 0.0,
                "lambda0 * trace(K): the trace is not divided by n": lambda0 * trace,
                "lambda0 alone: lambda must scale with the kernel": lambda0,
                "lambda0 * trace(K) / n**2: divided by n twice": lambda0 * trace / n ** 2,
            }, hint="Expected lambda0 * trace(K_ss) / n.")
    _ok("lambda scales with the kernel, so the same lambda0 works for any feature scale")


def check_conjugate_kernel(fn, seed: int = 0) -> None:
    """fn(f1 (n1,d), f2 (n2,d)) -> (n1,n2) inner products of feature vectors, K[i, j] = f1[i] . f2[j]."""
    rng = np.random.default_rng(4 + 1000 * seed)
    f1, g1, f2 = rng.normal(size=(5, 9)), rng.normal(size=(5, 9)), rng.normal(size=(3, 9))
    for name, a, b in (("f1 (5,9), f2 (5,9)", f1, g1), ("f1 (5,9), f2 (3,9)", f1, f2)):
        mistakes = {"the transpose f2 @ f1.T: rows must index f1": b @ a.T,
                    "the kernel is divided by d: the conjugate kernel is the plain inner product":
                        a @ b.T / a.shape[1]}
        if len(a) == len(b):
            mistakes["f1.T @ f2: a d x d matrix over features, not the kernel between examples"] = a.T @ b
        _close(fn(a, b), kernels.conjugate_kernel(a, b), f"conjugate kernel, {name}", mistakes=mistakes,
               hint="Expected K = f1 @ f2.T.")
    _ok("K = F1 F2^T")


# notebook 02 ----------------------------------------------------------------------------------------

def check_krr_loss(fn, seed: int = 0) -> None:
    """fn(f_s (n,d), y_s (n,C), f_t (m,d), y_t (m,C), lambda0) -> scalar KRR loss (FRePo Eq. 2, no margin):
    0.5 * mean over the m targets of ||K_ts (K_ss + lambda I)^-1 y_s - y_t||^2, lambda = lambda0 tr(K_ss) / n."""
    f_s, y_s, f_t = _ridge_problem(5 + 1000 * seed, 6, 20)
    y_t = np.random.default_rng(6 + 1000 * seed).normal(size=(5, 3)).astype(np.float32)
    k_ss, k_ts = f_s.astype(np.float64) @ f_s.T, f_t.astype(np.float64) @ f_s.T

    def residual(lam):
        return k_ts @ np.linalg.solve(k_ss + lam * np.eye(len(k_ss)), y_s) - y_t

    for lambda0 in (1e-2, 1.0):
        r = residual(lambda0 * np.trace(k_ss) / len(k_ss))
        sq = np.sum(r ** 2, -1)
        want = kernels.mse_loss(kernels.krr_from_features(f_s, f_t, y_s, lambda0), y_t)
        _close(fn(f_s, y_s, f_t, y_t, lambda0), want, f"KRR loss (lambda0={lambda0:g})", rtol=1e-3,
               mistakes={"the squared errors are summed over targets instead of averaged": 0.5 * sq.sum(),
                         "the factor 0.5 is missing": sq.mean(),
                         "the mean runs over targets and classes (divides by C too)": 0.5 * np.mean(r ** 2),
                         "there is no regulariser (lambda = 0)": 0.5 * np.mean(np.sum(residual(0.0) ** 2, -1)),
                         "lambda0 is used as lambda, without the trace(K_ss) / n scale":
                             0.5 * np.mean(np.sum(residual(lambda0) ** 2, -1))},
               hint="Expected 0.5 * mean_i ||pred_i - y_t,i||^2 with the KRR prediction pred.")
    _ok("0.5 * mean over targets of the squared error of the KRR prediction")


@functools.cache
def _bptt_reference(steps: tuple):
    """A tiny unrolled problem and the memory analysis of its full BPTT meta-gradient for each T in steps:
    (model, inner_lr, args (images (4,8,8,1), labels (4,10), params, x_t (8,8,8,1), y_t (8,10)), {T: analysis})."""
    import jax
    import jax.numpy as jnp

    from .bptt import unrolled_meta_gradient
    from .kernels import centered_one_hot
    from .models import init_model, make_model

    model, inner_lr = make_model("conv", 10, 8, 4, "none"), 0.01
    rng = np.random.default_rng(7)
    args = (jnp.asarray(rng.normal(size=(4, 8, 8, 1)), jnp.float32), centered_one_hot(jnp.arange(4), 10),
            init_model(model, jax.random.PRNGKey(0), (8, 8, 1))["params"],
            jnp.asarray(rng.normal(size=(8, 8, 8, 1)), jnp.float32), centered_one_hot(jnp.arange(8), 10))
    analyses = {t: unrolled_meta_gradient(model, t, inner_lr).lower(*args).compile().memory_analysis()
                for t in steps}
    return model, inner_lr, args, analyses


def check_truncation_cost(fn) -> None:
    """fn(model, T, inner_lr, args) -> the working memory in bytes (``temp_size_in_bytes`` of the compiled
    function's ``memory_analysis()``) of the full BPTT meta-gradient
    ``frepo_lite.bptt.unrolled_meta_gradient(model, T, inner_lr)`` applied to
    args = (images (n,H,W,C), labels (n,C), params, x_t (B,H,W,C), y_t (B,C)).

    The check measures a tiny Conv for T = 1 and 3 itself and compares (1% tolerance).
    """
    steps = (1, 3)
    model, inner_lr, args, analyses = _bptt_reference(steps)
    got = {t: fn(model, t, inner_lr, args) for t in steps}
    hint = ("Expected unrolled_meta_gradient(model, T, inner_lr).lower(*args).compile().memory_analysis()"
            ".temp_size_in_bytes, without truncate: truncated BPTT keeps fewer steps and needs less memory.")
    if not got[steps[1]] > got[steps[0]]:
        hint += (f" Yours does not grow with T ({got}), but full BPTT keeps every inner step's activations "
                 "for the backward pass.")
    for t in steps:
        a = analyses[t]
        _close(got[t], a.temp_size_in_bytes, f"truncation cost (T={t}, in bytes)", rtol=1e-2, mistakes={
            "argument_size_in_bytes (the inputs), not temp_size_in_bytes (the working memory)":
                a.argument_size_in_bytes,
            "output_size_in_bytes (the results), not temp_size_in_bytes (the working memory)": a.output_size_in_bytes,
            "a value in MB, not in bytes": a.temp_size_in_bytes / 1e6,
        }, hint=hint)
    first, last = (analyses[t].temp_size_in_bytes for t in steps)
    per_step = (last - first) / (steps[1] - steps[0])
    _ok(f"full BPTT keeps every inner step: about {per_step / 1e6:.2g} MB more per unrolled step")


def check_meta_step(fn, seed: int = 0) -> None:
    """fn(features, x_s (n,h), y_s (n,C), x_t (m,h), y_t (m,C), lambda0, lr, krr_loss) -> (x_s', y_s'): one step
    of gradient descent with step size lr on krr_loss(features(x_s), y_s, features(x_t), y_t, lambda0) (the
    check passes check_krr_loss's loss) with respect to the images x_s and the labels y_s together."""
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(11 + 1000 * seed)
    w1, w2 = (jnp.asarray(rng.normal(size=s) / np.sqrt(s[0]), jnp.float32) for s in ((4, 16), (16, 8)))
    features = lambda x: jnp.tanh(x @ w1) @ w2  # noqa: E731  a tiny network: (k, 4) -> (k, 8)
    x_s, y_s = (jnp.asarray(rng.normal(size=s), jnp.float32) for s in ((6, 4), (6, 3)))
    x_t, y_t = (jnp.asarray(rng.normal(size=s), jnp.float32) for s in ((10, 4), (10, 3)))
    lambda0, lr = 0.1, 0.5

    def krr_loss(f_s, y, f_t, y_t, l0):  # check_krr_loss's loss, written out (a hidden test hides the package's)
        k_ss = f_s @ f_s.T
        pred = f_t @ f_s.T @ jnp.linalg.solve(k_ss + l0 * jnp.trace(k_ss) / len(k_ss) * jnp.eye(len(k_ss)), y)
        return 0.5 * jnp.mean(jnp.sum((pred - y_t) ** 2, -1))

    g_x, g_y = jax.grad(lambda a, b: krr_loss(features(a), b, features(x_t), y_t, lambda0), argnums=(0, 1))(x_s, y_s)
    got = fn(features, x_s, y_s, x_t, y_t, lambda0, lr, krr_loss)
    if not (isinstance(got, (tuple, list)) and len(got) == 2):
        raise AssertionError(f"meta step: expected a pair (new images, new labels), got {type(got).__name__}")
    _close(got[0], x_s - lr * g_x, "meta step, the new images", rtol=1e-3, mistakes={
        "the images did not move: differentiate the loss with respect to the images too": x_s,
        "a step up the gradient (x + lr * grad): descent subtracts it": x_s + lr * g_x,
        "the step size is missing (x - grad)": x_s - g_x,
    }, hint="Expected x_s - lr * d(loss)/d(x_s), the loss of the KRR prediction from features(x_s).")
    _close(got[1], y_s - lr * g_y, "meta step, the new labels", rtol=1e-3, mistakes={
        "the labels did not move: differentiate the loss with respect to the labels too (argnums=(0, 1))": y_s,
        "a step up the gradient (y + lr * grad): descent subtracts it": y_s + lr * g_y,
    }, hint="Expected y_s - lr * d(loss)/d(y_s).")
    _ok("one gradient step on images and labels through the KRR meta-loss")


# notebook 03 ----------------------------------------------------------------------------------------

def check_label_init(fn) -> None:
    """fn(y (n,) class ids, num_classes C) -> (n,C) FRePo's initial labels (one_hot - 1/C) / sqrt(C/10)."""
    y = np.array([0, 3, 9, 3])
    for c in (10, 100):
        one_hot = np.eye(c)[y]
        want = kernels.centered_one_hot(y, c, 1 / np.sqrt(c / 10))
        _close(fn(y, c), want, f"label init (C={c})", mistakes={
            "the plain one-hot labels (not centred, not scaled)": one_hot,
            "the labels are centred but not divided by sqrt(C/10)": one_hot - 1 / c,
            "the labels are scaled but not centred (one_hot - 1/C)": one_hot / np.sqrt(c / 10),
            "the labels are multiplied by sqrt(C/10) instead of divided": (one_hot - 1 / c) * np.sqrt(c / 10),
            "the labels are divided by C/10 without the square root": (one_hot - 1 / c) / (c / 10),
        }, hint="Expected (one_hot(y) - 1/C) / sqrt(C/10).")
    _ok("labels start centred and scaled by 1/sqrt(C/10)")


def check_margin_loss(fn, seed: int = 0) -> None:
    """fn(labels (n,C)) -> mean_i(-min(top1_i - top2_i, 1/C)), FRePo's label regulariser, a scalar."""
    rng = np.random.default_rng(8 + 1000 * seed)
    for c in (10, 4):
        labels = rng.normal(scale=0.05, size=(8, c))
        labels[np.arange(4), rng.integers(0, c, 4)] += 0.6  # half the rows have a gap beyond 1/C
        top = -np.sort(-labels, -1)
        gap = top[:, 0] - top[:, 1]
        labels = labels.astype(np.float32)
        _close(fn(labels), kernels.label_margin_loss(labels), f"label margin loss (C={c})",
               mistakes={"the top score alone, not its margin over the second (-mean(top1))": -top[:, 0].mean(),
                         "the margin is not clamped at 1/C": -gap.mean(),
                         "the margin is clamped at 0.1 whatever C is, not at 1/C": np.mean(-np.minimum(gap, 0.1)),
                         "the sign is flipped": np.mean(np.minimum(gap, 1 / c)),
                         "max instead of min: the clamp must cap the margin at 1/C": np.mean(-np.maximum(gap, 1 / c))},
               hint="Expected mean_i(-min(top1_i - top2_i, 1/C)).")
    _ok("the margin term rewards a gap of at least 1/C between the top two scores")


def check_pool_offsets(fn) -> None:
    """fn(pool_size m, max_steps K) -> (m,) integer initial step counters (K // m) * i, i = 0..m-1."""
    for m, k in ((10, 100), (4, 10), (3, 10), (1, 100)):
        i = np.arange(m)
        _close(fn(m, k), (k // m) * i, f"pool offsets (m={m}, K={k})", rtol=0.0, mistakes={
            "the counters are 0..m-1, not spaced K // m apart": i,
            "K / m is a float: step counters are integers, use K // m": (k / m) * i,
            "the counters start at K // m instead of 0": (k // m) * (i + 1),
            "np.linspace(0, K, m) spaces the counters K / (m - 1) apart; the spacing is K // m": np.linspace(0, k, m),
        }, hint="Expected (K // m) * i for i = 0..m-1.")
    _ok("pool models start at evenly spaced ages, so one is always young and one nearly reset")


def _pool_step_reference(models, ages, i, K, train, init):
    models, ages = list(models), np.array(ages, copy=True)
    models[i], ages[i] = train(models[i]), ages[i] + 1
    if ages[i] > K:
        models[i], ages[i] = init(), 0
    return models, ages


def check_pool_step(fn, seed: int = 0) -> None:
    """fn(models (list of m), ages (m,) ints, i, K, train, init) -> (new models (list of m), new ages (m,)):
    model i takes one training step (train(model) -> model) and ages by one; past K steps (age > K) it is
    replaced by a fresh one (init() -> model) of age 0; the others are unchanged, and so are the inputs."""
    train = lambda p: p + 1.0  # noqa: E731  toy models: a number; a training step adds 1
    init = lambda: -100.0  # noqa: E731  a fresh model
    K = 5

    def call(models, ages, i):
        models_in, ages_in = list(models), np.array(ages, copy=True)
        got = fn(models_in, ages_in, i, K, train, init)
        if list(models_in) != list(models) or not np.array_equal(ages_in, ages):
            raise AssertionError("pool step: your function changed the lists it was given; return new ones (the "
                                 "caller keeps the old pool, e.g. to compare)")
        return list(got[0]), np.asarray(got[1])

    for models, ages, i, case in (([0.0, 3.0, 7.0], [0, 3, 5], 1, "a model below K"),
                                  ([0.0, 3.0, 7.0], [0, 3, 4], 2, "a model reaching age K"),
                                  ([0.0, 3.0, 7.0], [0, 3, 5], 2, "a model past K")):
        want_models, want_ages = _pool_step_reference(models, ages, i, K, train, init)
        got_models, got_ages = call(models, ages, i)
        others, aged = np.arange(len(ages)) != i, ages[i] + 1
        with_age = lambda a: np.where(others, ages, a)  # noqa: E731  model i at age a, the others unchanged
        _close(got_ages, want_ages, f"pool step, ages ({case}; K={K})", rtol=0.0, mistakes={
            "every model aged: only the sampled model i takes a step": np.where(others, np.add(ages, 1), want_ages),
            "the model is reset once its age reaches K (>=): ages run 0..K, so it is reset only past K (> K)":
                with_age(0 if aged >= K else aged),
            "the reset model keeps its age: a fresh model starts at 0": with_age(aged),
        }, hint="Expected ages[i] + 1, or 0 where that passes K; the other ages unchanged.")
        _close(got_models, want_models, f"pool step, models ({case}; K={K})", rtol=0.0, mistakes={
            "the fresh model took the training step too (reset, then train): train first, then replace":
                [train(init()) if (j == i and aged > K) else m for j, m in enumerate(want_models)],
            "model i was not trained": [models[i] if (j == i and aged <= K) else m for j, m in enumerate(want_models)],
        }, hint="Expected train(models[i]) in place of models[i], or init() where its age passes K.")
    rng = np.random.default_rng(12 + 1000 * seed)  # a run of many steps from staggered ages, as in the pool
    models, ages = [float(j) for j in range(4)], np.array([0, 1, 2, 3]) * (K // 4)
    want_models, want_ages = list(models), ages.copy()
    for step in range(60):
        i = int(rng.integers(4))
        models, ages = call(models, ages, i)
        want_models, want_ages = _pool_step_reference(want_models, want_ages, i, K, train, init)
        _close(ages, want_ages, f"pool ages after {step + 1} random steps", rtol=0.0)
        _close(models, want_models, f"pool models after {step + 1} random steps", rtol=0.0)
    _ok("the sampled model trains, ages, and is replaced by a fresh one past K steps")


# notebook 05 ----------------------------------------------------------------------------------------

def check_label_margin(fn, seed: int = 0) -> None:
    """fn(labels (n,C)) -> (n,) each label's largest score minus its second largest."""
    rng = np.random.default_rng(5 + 1000 * seed)
    labels = rng.normal(scale=0.2, size=(6, 5))
    labels[0, 1] = labels[0, 3] = 0.9  # a tie at the top: margin 0
    ordered = -np.sort(-labels, -1)
    _close(fn(labels), label_stats.label_margin(labels), "label margin", mistakes={
        "the largest minus the smallest score, not minus the second largest": ordered[:, 0] - ordered[:, -1],
        "the largest score minus the mean score": ordered[:, 0] - labels.mean(-1),
        "the second largest minus the largest (the sign is flipped)": ordered[:, 1] - ordered[:, 0],
        "the largest score alone (the confidence), not its margin": ordered[:, 0],
    }, hint="Expected, for each row, top1 - top2 (a tie at the top gives 0).")
    _ok("the margin is the gap between a label's two largest scores")


def check_class_similarity(fn, seed: int = 0) -> None:
    """fn(labels (n,C), classes (n,), num_classes C) -> (C,C): row i is the mean label of the images of class i."""
    rng = np.random.default_rng(6 + 1000 * seed)
    classes = np.array([0, 0, 1, 2, 2, 2, 1, 0])
    labels = rng.normal(size=(8, 3))
    want = label_stats.class_similarity(labels, classes, 3)
    sums = np.stack([labels[classes == c].sum(0) for c in range(3)])
    _close(fn(labels, classes, 3), want, "class similarity", mistakes={
        "the rows are summed over the images of a class, not averaged": sums,
        "the matrix is transposed: row i must be the mean label of class i's images": want.T,
        "the mean of the labels over all images, whatever their class": np.tile(labels.mean(0), (3, 1)),
    }, hint="Expected out[i] = labels[classes == i].mean(axis=0).")
    _ok("each row is the average label of one class's distilled images")


def check_spearman(fn) -> None:
    """fn(a (n,), b (n,)) -> Spearman's rank correlation: Pearson's correlation of the ranks."""
    a = np.array([0.1, 0.5, 0.2, 3.0, 0.3, 0.05])
    b = np.array([1.0, 2.0, 1.5, 2.1, 1.9, 0.0])  # the same order as a except one swap; a has an outlier
    tied = np.array([0.0, 0.0, 0.2, 0.0, 0.5, 0.1])  # like a confusion matrix: several pairs never confused
    order = lambda v: np.argsort(np.argsort(v, kind="stable"), kind="stable")  # noqa: E731  ranks, ties broken
    for x, y, case in ((a, b, "one swap, one outlier"), (a, -b ** 3, "a decreasing relation"),
                       (b, tied, "ties in the second vector")):
        want = label_stats.rank_correlation(x, y)
        _close(fn(x, y), want, f"rank correlation ({case})", rtol=1e-6, mistakes={
            "Pearson's correlation of the values themselves: rank them first": np.corrcoef(x, y)[0, 1],
            "the correlation of the sorting permutations (argsort), not of the ranks (argsort of argsort)":
                np.corrcoef(np.argsort(x), np.argsort(y))[0, 1],
            "tied values get different ranks (argsort of argsort breaks ties by position); they must share "
            "their mean rank (scipy.stats.rankdata)": np.corrcoef(order(x), order(y))[0, 1],
        }, hint="Expected Pearson's correlation of the ranks of a and of b, ties sharing their mean rank.")
    _ok("rank correlation compares orders, so one large value does not dominate it")


def check_label_groups(fn, seed: int = 0) -> None:
    """fn(labels (n,C)) -> (n,) the paper's group of each label (labels.GROUPS): 'low confidence' where its
    largest score is below the median largest score of the set; otherwise 'confident, small margin' where
    its margin (largest minus second largest) is below the median margin of the set, else 'confident, large
    margin'."""
    rng = np.random.default_rng(14 + 1000 * seed)
    labels = rng.normal(size=(40, 6)) * rng.uniform(0.2, 2.0, size=(40, 1))
    confidence = labels.max(-1)
    top2 = -np.sort(-labels, axis=-1)[:, :2]
    margin = top2[:, 0] - top2[:, 1]
    big, small, low = label_stats.GROUPS

    def groups(conf_split, margin_split, margin_first=False):
        if margin_first:
            return np.where(margin >= margin_split, big, np.where(confidence < conf_split, low, small))
        return np.where(confidence < conf_split, low, np.where(margin < margin_split, small, big))

    want = groups(np.median(confidence), np.median(margin))
    got = np.asarray(fn(labels)).astype(str)
    if got.shape != want.shape:
        raise AssertionError(f"label groups: expected one group per label, shape {want.shape}, got {got.shape}")
    mistakes = {
        "the splits are means, not medians": groups(confidence.mean(), margin.mean()),
        "the margin is split first: a label is 'low confidence' when its largest score is low, whatever its margin":
            groups(np.median(confidence), np.median(margin), margin_first=True),
        "the margin's median is taken over the confident labels only: both medians are the whole set's":
            groups(np.median(confidence), np.median(margin[confidence >= np.median(confidence)])),
        "the margin is the largest score minus the smallest: it is minus the second largest":
            np.where(confidence < np.median(confidence), low, np.where(
                confidence - labels.min(-1) < np.median(confidence - labels.min(-1)), small, big)),
    }
    wrong = np.flatnonzero(got != want)
    if wrong.size:
        named = next((d for d, v in mistakes.items() if np.array_equal(got, v)), None)
        i = wrong[0]
        raise AssertionError(f"label groups: {wrong.size} of {len(want)} labels in the wrong group, e.g. label {i} "
                             f"(confidence {confidence[i]:.3f}, margin {margin[i]:.3f}): expected {want[i]!r}, got "
                             f"{got[i]!r}." + (f" It looks like {named}." if named else
                                               " Use labels.GROUPS' names and the set's own medians."))
    _ok("each label sorted into the paper's three groups by the set's median confidence and margin")


# notebook 04 ----------------------------------------------------------------------------------------

def check_conv_params(fn) -> None:
    """fn(c_in, c_out, k) -> the parameter count of a k x k convolution with a bias: k*k*c_in*c_out + c_out."""
    for c_in, c_out, k in ((3, 32, 3), (1, 128, 5), (64, 64, 1)):
        want = k * k * c_in * c_out + c_out
        _close(fn(c_in, c_out, k), want, f"conv parameters (c_in={c_in}, c_out={c_out}, k={k})", rtol=0.0, mistakes={
            "the bias is missing (+ c_out)": k * k * c_in * c_out,
            "the kernel is k x c_in x c_out, not k x k x c_in x c_out": k * c_in * c_out + c_out,
            "the bias has c_in entries; it has one per output channel": k * k * c_in * c_out + c_in,
        }, hint="Expected k*k*c_in*c_out weights plus c_out biases.")
    _ok("a k x k convolution has k*k*c_in*c_out weights and c_out biases")


def check_instance_norm(fn, seed: int = 0) -> None:
    """fn(x (n,H,W,C), eps) -> x normalised per image and per channel over H and W: (x - mean) / sqrt(var + eps)."""
    rng = np.random.default_rng(4 + 1000 * seed)
    x = rng.normal(size=(3, 5, 4, 2)) * np.array([1.0, 4.0]) + np.array([0.5, -2.0])
    x[1] *= 3.0  # images of different contrast
    x[2, ..., 0] = 0.1 * rng.normal(size=(5, 4))  # a low-contrast channel: variance of the order of eps
    x[0, ..., 1] = 1.5  # a constant channel: variance 0, only eps keeps the division finite
    eps = 1e-2

    def norm(axes):
        mean, var = x.mean(axes, keepdims=True), x.var(axes, keepdims=True)
        return (x - mean) / np.sqrt(var + eps)

    got = np.asarray(fn(x, eps), np.float64)
    if got.shape == x.shape and not np.all(np.isfinite(got)):
        raise AssertionError("instance norm: NaN or inf in your result where a channel of an image is constant "
                             "(variance 0). eps is what keeps the division finite: (x - mean) / sqrt(var + eps).")
    _close(got, norm((1, 2)), "instance norm", rtol=1e-4, mistakes={
        "statistics over the batch too (axes 0, 1, 2): that is batch norm": norm((0, 1, 2)),
        "statistics over the channels too (axes 1, 2, 3): that is layer norm": norm((1, 2, 3)),
        "the mean is not subtracted": x / np.sqrt(x.var((1, 2), keepdims=True) + eps),
        "divided by the variance instead of the standard deviation": (x - x.mean((1, 2), keepdims=True))
        / (x.var((1, 2), keepdims=True) + eps),
        "eps is added to the standard deviation: it belongs under the square root, sqrt(var + eps)":
            (x - x.mean((1, 2), keepdims=True)) / (x.std((1, 2), keepdims=True) + eps),
    }, hint="Expected mean and variance over H and W (axes 1, 2) of each image and channel.")
    _ok("instance norm removes each image's own per-channel mean and scale")


def check_compare_cell(fn, seed: int = 0) -> None:
    """fn(accs_a (n,), accs_b (k,)) -> (difference, noise, verdict): the difference of the two mean accuracies in
    points (100 * (mean a - mean b)), the noise line in points (two standard errors of that difference,
    2 * 100 * sqrt(se_a^2 + se_b^2), se = the standard deviation with ddof=1 over sqrt(networks)), and the
    verdict "beyond" if |difference| > noise, else "within"; with a single network in either, noise is nan
    and the verdict "no spread"."""
    rng = np.random.default_rng(13 + 1000 * seed)
    cases = ((0.70 + 0.02 * rng.normal(size=5), 0.62 + 0.02 * rng.normal(size=5), "a clear gap"),
             (0.70 + 0.05 * rng.normal(size=4), 0.69 + 0.05 * rng.normal(size=3), "a gap inside the noise"),
             (0.55 + 0.02 * rng.normal(size=3), 0.66 + 0.02 * rng.normal(size=3), "a clear gap the other way"))
    for a, b, case in cases:
        se = lambda x: np.std(x, ddof=1) / np.sqrt(len(x))  # noqa: E731
        diff = 100 * (a.mean() - b.mean())
        noise = 200 * np.sqrt(se(a) ** 2 + se(b) ** 2)
        got = fn(a, b)
        if not (isinstance(got, (tuple, list)) and len(got) == 3):
            raise AssertionError(f"compare cell: expected (difference, noise, verdict), got {got!r}")
        _close(got[0], diff, f"compare cell, difference ({case})", rtol=1e-9, mistakes={
            "a fraction: give the difference in points (times 100)": diff / 100,
            "b minus a: the difference is mean(accs_a) - mean(accs_b)": -diff},
            hint="Expected 100 * (mean a - mean b).")
        _close(got[1], noise, f"compare cell, noise ({case})", rtol=1e-6, mistakes={
            "the standard deviations, not the standard errors of the means (divide by sqrt(networks))":
                200 * np.sqrt(np.var(a, ddof=1) + np.var(b, ddof=1)),
            "the standard deviation with ddof=0 (np.std's default): with a few networks use ddof=1":
                200 * np.sqrt(np.var(a) / len(a) + np.var(b) / len(b)),
            "the standard errors were added, not combined in quadrature (sqrt(se_a^2 + se_b^2))":
                200 * (se(a) + se(b)),
            "one standard error, not two": noise / 2,
            "a fraction: give the noise in points (times 100)": noise / 100,
        }, hint="Expected 2 * 100 * sqrt(se_a^2 + se_b^2), se = std(ddof=1) / sqrt(networks).")
        want = "beyond" if abs(diff) > noise else "within"
        if got[2] != want:
            extra = (" A gap counts in either direction: compare |difference| with the noise."
                     if diff < 0 and want == "beyond" else "")
            raise AssertionError(f"compare cell, verdict ({case}): expected {want!r} (difference {diff:+.2f}, "
                                 f"noise {noise:.2f}), got {got[2]!r}.{extra}")
    single = fn(np.array([0.7]), np.array([0.6, 0.62]))
    if not (np.isnan(single[1]) and single[2] == "no spread"):
        raise AssertionError(f"compare cell, one network in a set: expected noise nan and verdict 'no spread' (one "
                             f"accuracy has no spread to measure), got {single[1]!r}, {single[2]!r}")
    _ok("the gap of two sets on one architecture, read against two standard errors")


# notebook 06 ----------------------------------------------------------------------------------------

def check_class_steps(fn) -> None:
    """fn(order (C,), num_steps) -> the classes of each step: num_steps consecutive groups of `order`."""
    for order, steps in ((np.random.RandomState(0).permutation(10), 5), (np.array([4, 0, 5, 2, 1, 3]), 3)):
        want = order.reshape(steps, -1)
        groups = [np.asarray(g) for g in fn(order, steps)]
        sizes = [len(g) for g in groups]
        if sizes != [want.shape[1]] * steps:
            raise AssertionError(f"class steps ({len(order)} classes, {steps} steps): expected {steps} groups of "
                                 f"{want.shape[1]} classes, got groups of sizes {sizes}. num_steps is the number "
                                 "of groups, each of len(order) // num_steps consecutive classes.")
        within = lambda a: np.sort(a, axis=1)  # noqa: E731  (the classes of one step may come in any order)
        _close(within(np.stack(groups)), within(want), f"class steps ({len(order)} classes, {steps} steps)",
               rtol=0.0, mistakes={
                   "every step takes every num_steps-th class (order[i::num_steps]): a step's classes are "
                   "consecutive in the order": within(order.reshape(-1, steps).T),
                   "the classes are sorted: the order decides which classes come first":
                       within(np.sort(order).reshape(steps, -1)),
               }, hint="Expected order cut into num_steps consecutive groups of len(order) // num_steps.")
    _ok("the class order cut into consecutive, equal groups")


def check_seen_accuracy(fn, seed: int = 0) -> None:
    """fn(logits (N,C), y (N,), seen (k,)) -> accuracy in [0, 1] on the images whose class is in seen,
    predicting the argmax over all C logits."""
    rng = np.random.default_rng(8 + 1000 * seed)
    # unbalanced seen classes (15 and 8 images: 23 in all), so that the accuracy is no round number and the
    # mean over images differs from the mean of per-class accuracies
    y = rng.permutation(np.repeat(np.arange(5), [8, 6, 6, 15, 6]))
    logits = rng.normal(size=(len(y), 5))
    logits[np.arange(len(y)), y] += np.where(y == 3, 1.5, 0.3)  # class 3 is easier than class 0
    seen = np.array([3, 0])
    keep = np.isin(y, seen)
    want = np.mean(logits[keep].argmax(1) == y[keep])
    per_class = [np.mean(logits[y == c].argmax(1) == c) for c in seen]
    masked = np.where(np.isin(np.arange(5), seen), logits, -np.inf)
    _close(fn(logits, y, seen), want, "accuracy on the seen classes", rtol=1e-9, mistakes={
        "the argmax is over the seen classes' logits only: class-incremental learning predicts over all "
        "classes (knowing which classes are possible would be task-incremental)":
            np.mean(masked[keep].argmax(1) == y[keep]),
        "every image is scored, also those of classes not seen yet: keep only y in seen":
            np.mean(logits.argmax(1) == y),
        "a percentage: return a fraction in [0, 1]": 100 * want,
        "the mean of the per-class accuracies (a macro average): the accuracy counts every image once":
            np.mean(per_class),
        "the accuracy is rounded: return it unrounded": round(float(want), 2),
    }, hint="Expected the mean of argmax(logits) == y over the images with y in seen.")
    _ok("the images of the seen classes, each predicted among all classes")


def check_herding(fn, seed: int = 0) -> None:
    """fn(x (n,d), k) -> (k,) int indices into x chosen by herding, in the order chosen: step j picks the example
    (not yet picked) that brings the mean of the j picked so far closest (Euclidean) to the mean of all n."""
    rng = np.random.default_rng(15 + 1000 * seed)
    x = rng.normal(size=(30, 5)) + rng.normal(size=(1, 5))

    def herding(greedy_mean=True, repeats=False):
        mu, total, picked = x.mean(0), np.zeros(x.shape[1]), []
        for j in range(1, k + 1):
            dist = np.linalg.norm(mu - ((total + x) / j if greedy_mean else x), axis=1)
            if not repeats:
                dist[picked] = np.inf
            picked.append(int(np.argmin(dist)))
            total += x[picked[-1]]
        return np.array(picked)

    for k in (1, 6, 12):
        want = herding()
        got = np.asarray(fn(x, k))
        _close(got, want, f"herding (k={k} of {len(x)})", rtol=0.0, mistakes={
            "the k examples nearest to the mean were taken: herding picks the one that brings the mean of the "
            "picked set closest": herding(greedy_mean=False),
            "an example was picked twice: each step chooses among those not yet picked": herding(repeats=True),
            "the indices were sorted: return them in the order herding picks them": np.sort(want),
        }, hint="Expected, at step j, argmin over unpicked i of || mean(x) - (sum of picked + x_i) / j ||.")
    _ok("herding picks, one by one, the example that keeps the picked mean closest to the class mean")


# notebook 07 ----------------------------------------------------------------------------------------

def check_threshold_auc(fn, seed: int = 0) -> None:
    """fn(member_loss (m,), nonmember_loss (n,)) -> the ROC AUC of the attack that scores an image by -loss:
    the probability that a random member has a lower loss than a random non-member, ties counting half."""
    rng = np.random.default_rng(9 + 1000 * seed)
    member = np.round(rng.exponential(0.5, 30), 1)  # rounded: some ties
    nonmember = np.round(rng.exponential(1.0, 25), 1)
    less = (member[:, None] < nonmember[None, :]).mean()
    equal = (member[:, None] == nonmember[None, :]).mean()
    want = less + 0.5 * equal
    _close(fn(member, nonmember), want, "threshold-attack AUC", rtol=1e-9, mistakes={
        "the attack scores by the loss itself: members have the *lower* loss, so score by -loss": 1 - want,
        "ties are not counted: a tie is a coin flip and counts half": less,
        "ties count fully: a tie is a coin flip and counts half": less + equal,
    }, hint="Expected mean over all (member, non-member) pairs of [l_m < l_n] + 0.5 [l_m == l_n].")
    _ok("the AUC is the chance that a member's loss is below a non-member's")


def _roc_counts(scores, is_member):
    """(true positives, false positives) of the thresholds 'score >= s' for each distinct s, descending."""
    thresholds = np.unique(scores)[::-1]
    tp = np.array([np.sum((scores >= s) & is_member) for s in thresholds])
    fp = np.array([np.sum((scores >= s) & ~is_member) for s in thresholds])
    return tp, fp


def check_tpr_at_fpr(fn, seed: int = 0) -> None:
    """fn(scores (N,), is_member (N,) bool, fpr) -> the largest true-positive rate (caught members / members)
    of a threshold 'score >= s' whose false-positive rate (flagged non-members / non-members) is <= fpr."""
    rng = np.random.default_rng(10 + 1000 * seed)
    is_member = np.arange(200) < 80
    continuous = rng.normal(size=200) + 1.0 * is_member
    tied = np.round(continuous * 2) / 2  # few distinct scores, as a k-NN attack gives: ties across members and not

    def best(tpr, fpr_of, limit):
        ok = fpr_of <= limit
        return float(np.max(tpr[ok], initial=0.0))

    for scores, limit, case in ((continuous, 0.05, "FPR <= 0.05"), (continuous, 0.2, "FPR <= 0.2"),
                                (tied, 0.1, "FPR <= 0.1, tied scores")):
        tp, fp = _roc_counts(scores, is_member)
        m, n = is_member.sum(), (~is_member).sum()
        order = np.argsort(-scores, kind="stable")  # thresholds between single images, ties split
        tp_split, fp_split = np.cumsum(is_member[order]), np.cumsum(~is_member[order])
        want = best(tp / m, fp / n, limit)
        strictly_below = float(np.max((tp / m)[fp / n < limit], initial=0.0))
        _close(fn(scores, is_member, limit), want, f"TPR at {case}", rtol=1e-9, mistakes={
            "the false-positive rate is counted over all images: divide by the non-members": best(tp / m, fp / len(scores), limit),
            "the true-positive rate is counted over all images: divide by the members": best(tp / len(scores), fp / n, limit),
            "only FPRs strictly below the limit are kept: an FPR equal to it is allowed": strictly_below,
            "thresholds fall between single images of the sorted scores, splitting tied scores: a threshold "
            "flags every image with score >= s, so tied images are flagged together":
                best(tp_split / m, fp_split / n, limit),
        }, hint="Expected, over thresholds s, the largest mean(scores[members] >= s) with "
                "mean(scores[non-members] >= s) <= fpr.")
    _ok("the members caught while at most that share of non-members is flagged")


def check_attack_scores(fn, seed: int = 0) -> None:
    """fn(features (N,f), is_member (N,) bool, folds, seed) -> (N,) membership scores: each image's out-of-fold
    probability of 'member' from make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), fitted on
    the other folds of StratifiedKFold(folds, shuffle=True, random_state=seed) (sklearn's cross_val_predict
    with method='predict_proba', column 1)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(16 + 1000 * seed)
    is_member = rng.permutation(np.arange(120) < 50)
    features = rng.normal(size=(120, 4)) + 0.8 * is_member[:, None] * np.array([1.0, 0.0, 0.5, 0.0])
    features[:, 1] *= 30.0  # one feature on another scale: the scaler matters
    model = lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))  # noqa: E731
    cv = StratifiedKFold(4, shuffle=True, random_state=3)
    want = cross_val_predict(model(), features, is_member, cv=cv, method="predict_proba")[:, 1]
    in_sample = model().fit(features, is_member).predict_proba(features)[:, 1]
    _close(fn(features, is_member, 4, 3), want, "attack scores", rtol=1e-6, mistakes={
        "in-sample scores: the attack was fitted on all images and scored the same images, so it has seen each "
        "answer; score each image with a model fitted on the other folds": in_sample,
        "the probability of 'non-member' (column 0): the score is that of 'member' (column 1)": 1 - want,
        "the attack's decision function, not its probability":
            cross_val_predict(model(), features, is_member, cv=cv, method="decision_function"),
        "the features were not standardised (StandardScaler) before the logistic regression":
            cross_val_predict(LogisticRegression(max_iter=1000), features, is_member, cv=cv,
                              method="predict_proba")[:, 1],
        "the folds were not shuffled (StratifiedKFold(folds, shuffle=True, random_state=seed))":
            cross_val_predict(model(), features, is_member, cv=StratifiedKFold(4), method="predict_proba")[:, 1],
    }, hint="Expected cross_val_predict(pipeline, features, is_member, cv=StratifiedKFold(folds, shuffle=True, "
            "random_state=seed), method='predict_proba')[:, 1].")
    _ok("every image scored by an attack that never saw it")


# notebook 08 ----------------------------------------------------------------------------------------

def check_growth_exponent(fn, seed: int = 0) -> None:
    """fn(sizes (k,), seconds (k,)) -> p, the exponent of the power law seconds ~ c * sizes**p fitted by least
    squares on log-log axes (the slope of log(seconds) against log(sizes))."""
    rng = np.random.default_rng(8 + 1000 * seed)
    sizes = np.array([100.0, 200, 400, 800, 1600, 3200])
    for p, noise, case in ((3.0, 0.0, "an exact cubic"), (2.0, 0.0, "an exact square"),
                           (1.4, 0.15, "noisy timings")):
        seconds = 1e-9 * sizes ** p * np.exp(noise * rng.normal(size=sizes.size))
        logn, logt = np.log(sizes), np.log(seconds)
        want = np.polyfit(logn, logt, 1)[0]
        _close(fn(sizes, seconds), want, f"exponent of {case}", rtol=1e-6, mistakes={
            "the slope was fitted on linear axes: fit log(seconds) against log(sizes)": np.polyfit(sizes, seconds, 1)[0],
            "only the time is on a log axis: take the log of the sizes too": np.polyfit(sizes, logt, 1)[0],
            "only the sizes are on a log axis: take the log of the seconds too": np.polyfit(logn, seconds, 1)[0],
            "only the last two points were used: fit all of them": (logt[-1] - logt[-2]) / (logn[-1] - logn[-2]),
            "the intercept was returned, not the slope": np.polyfit(logn, logt, 1)[1],
        }, hint="Expected the least-squares slope of log(seconds) against log(sizes), e.g. np.polyfit(.., .., 1)[0].")
    _ok("the slope on log-log axes is the power of the growth")


def check_time_to_accuracy(fn) -> None:
    """fn(seconds (k,), accuracy (k,), target) -> the first time (seconds[i], i smallest) at which accuracy[i]
    >= target; float('inf') if it never does."""
    seconds = np.array([12.5, 25, 37.5, 75, 150, 300, 600])  # not whole numbers: a time rounded is caught
    accuracy = np.array([0.50, 0.70, 0.81, 0.78, 0.83, 0.88, 0.86])  # not monotone, as a real curve
    for target, case in ((0.80, "a target first reached at 37.5 s"), (0.70, "a target met exactly at 25 s"),
                         (0.87, "a target reached late"), (0.90, "a target never reached")):
        reached = np.flatnonzero(accuracy >= target)
        want = seconds[reached[0]] if reached.size else np.inf
        strictly = np.flatnonzero(accuracy > target)
        below = np.flatnonzero(accuracy < target)
        stays = (seconds[0] if not below.size else seconds[below[-1] + 1] if below[-1] + 1 < len(seconds)
                 else np.inf)
        got = fn(seconds, accuracy, target)
        if np.isinf(want):
            assert got is not None and np.isinf(float(got)) and float(got) > 0, (
                f"{case}: expected inf (float('inf')), got {got!r}. A method that never reaches the target takes "
                "longer than any budget: inf, not 0, None or the last time.")
            continue
        _close(got, want, case, rtol=1e-9, mistakes={
            "the time after which accuracy stays at or above the target was returned: the question is the first "
            "time it is reached, even if it dips below later": stays,
            "the time of the best accuracy was returned: the question is the first time the target is reached":
                seconds[np.argmax(accuracy)],
            "accuracy must exceed the target strictly in your answer: reaching it (>=) counts":
                seconds[strictly[0]] if strictly.size else np.inf,
            "the last time the target is met was returned: the first one is asked for": seconds[reached[-1]],
            "the index was returned, not the time": reached[0],
        }, hint="Expected seconds[i] for the smallest i with accuracy[i] >= target.")
    _ok("the first time each target is reached (inf where never)")


def check_cost_fit(fn, seed: int = 0) -> None:
    """fn(sizes (k,), seconds (k,), powers (p,)) -> (p,) coefficients c of the cost model
    seconds ~ sum_j c_j * sizes**powers_j, fitted by ordinary least squares on the seconds (np.linalg.lstsq on
    the matrix whose column j is sizes**powers_j)."""
    rng = np.random.default_rng(17 + 1000 * seed)
    sizes = np.array([100.0, 200, 400, 800, 1600])
    powers = (0, 1, 2, 3)
    true = np.array([0.05, 2e-4, 3e-7, 4e-10]) * rng.uniform(0.5, 2.0, size=4)
    design = sizes[:, None] ** np.array(powers)[None, :]
    for noise, case in ((0.0, "exact costs"), (0.03, "noisy costs")):
        seconds = design @ true * np.exp(noise * rng.normal(size=sizes.size))
        want = np.linalg.lstsq(design, seconds, rcond=None)[0]
        got = np.asarray(fn(sizes, seconds, powers), np.float64)
        relative = np.linalg.lstsq(design / seconds[:, None], np.ones_like(seconds), rcond=None)[0]
        _close(design @ got if got.shape == want.shape else got, design @ want,
               f"cost model, fitted seconds ({case})", rtol=1e-6, mistakes={
                   "the fit was made on log(seconds): the model is a sum of powers, fitted on the seconds themselves":
                       design @ np.linalg.lstsq(design, np.log(seconds), rcond=None)[0],
                   "the fit minimises relative errors (each row divided by its seconds): ordinary least squares "
                   "on the seconds is asked for": design @ relative,
                   "the constant term is missing: every power in powers, 0 included, gets a column":
                       design[:, 1:] @ np.linalg.lstsq(design[:, 1:], seconds, rcond=None)[0],
               }, hint="Expected the least-squares solution of (sizes[:, None] ** powers) c = seconds.")
    _ok("a cost model fitted by least squares on the sizes measured")


# notebook 09 ----------------------------------------------------------------------------------------

def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def check_tempered_cross_entropy(fn, seed: int = 0) -> None:
    """fn(pred (m, C), classes (m,) int, log_temperature float) -> the mean over the m examples of the softmax
    cross-entropy of the logits pred * exp(log_temperature) against the classes (RCIG's meta-loss)."""
    rng = np.random.default_rng(31 + 1000 * seed)
    m, c = 12, 5
    pred = rng.normal(scale=0.4, size=(m, c))
    classes = rng.integers(0, c, size=m)
    rows = np.arange(m)
    for t, case in ((0.0, "temperature 1"), (np.log(5.0), "temperature 5"), (-1.0, "temperature exp(-1)"),
                    (np.log(3000.0), "temperature 3000 (logits in the thousands)")):
        ce = lambda logits: -np.mean(_log_softmax(logits)[rows, classes])  # noqa: E731
        want = ce(pred * np.exp(t))
        with np.errstate(all="ignore"):
            got = np.asarray(fn(pred.copy(), classes.copy(), float(t)), np.float64)
        logits = pred * np.exp(t)
        if not np.all(np.isfinite(got)):
            raise AssertionError(
                f"{case}: expected {want:.6g}, got {got}. exp of logits in the thousands overflows: subtract each "
                "row's largest logit before exp (log-softmax, or jax.nn.log_softmax / scipy.special.logsumexp).")
        _close(got, want, case, rtol=1e-6, mistakes={
            "the log-temperature multiplies the predictions as it is: the logits are pred * exp(log_temperature)":
                ce(pred * t),
            "the predictions were divided by the temperature: here the temperature multiplies them":
                ce(pred / np.exp(t)),
            "the temperature was left out": ce(pred),
            "the loss was summed over the examples: take the mean": m * want,
            "the probability of the true class was averaged, not its log":
                -np.mean(np.exp(_log_softmax(logits))[rows, classes]),
            "the softmax was taken over the examples (axis 0), not over the classes":
                -np.mean(_log_softmax(logits.T).T[rows, classes]),
        }, hint="Expected mean_i(-log softmax(pred_i * exp(t))[classes_i]).")
    _ok("the cross-entropy of the tempered KRR predictions, stable at large temperatures")


def check_debiased_average(fn, seed: int = 0) -> None:
    """fn(iterates (T, ...) array, decay float) -> (...) the debiased exponential moving average after the T
    iterates: sum_s (1 - d) d^(T-s) x_s / (1 - d^T), s = 1..T (the first iterate alone gives itself)."""
    rng = np.random.default_rng(37 + 1000 * seed)
    for steps, decay, case in ((1, 0.99, "one iterate"), (5, 0.9, "5 iterates, decay 0.9"),
                               (60, 0.99, "60 iterates, decay 0.99")):
        x = rng.normal(size=(steps, 3, 2)) + np.linspace(0, 3, steps)[:, None, None]  # a drift: order matters
        s = np.arange(1, steps + 1)[:, None, None]

        def weighted(w):
            return (w * x).sum(0)

        want = weighted((1 - decay) * decay ** (steps - s)) / (1 - decay ** steps)
        biased_first = x[0]
        for xs in x[1:]:
            biased_first = decay * biased_first + (1 - decay) * xs
        got = fn(x.copy(), decay)
        _close(got, want, case, rtol=1e-5, mistakes={  # 1e-5: 1 - decay costs that much in float32
            "the average is not debiased: a zero-started average must be divided by 1 - decay**T":
                weighted((1 - decay) * decay ** (steps - s)),
            "the average was started at the first iterate: it then keeps a weight decay**(T-1) on it, too much "
            "early on; start at zero and divide by 1 - decay**T": biased_first,
            "the weights run the wrong way: the newest iterate gets the largest weight, (1 - d) d^(T-s)":
                weighted((1 - decay) * decay ** (s - 1)) / (1 - decay ** steps),
            "decay and 1 - decay were swapped: decay is the weight kept by the old average":
                weighted(decay * (1 - decay) ** (steps - s)) / (1 - (1 - decay) ** steps),
            "the plain mean of the iterates was returned": x.mean(0),
            "the last iterate was returned": x[-1],
        }, hint="Expected sum_s (1 - d) d**(T - s) x_s / (1 - d**T).")
    _ok("the debiased moving average: the first iterate alone is itself, the newest weigh most")
