"""Conjugate kernels and kernel ridge regression (KRR), the inner solver of FRePo.

With features F_s (n, d) of the support (distilled) set and F_t (m, d) of targets,
K_ss = F_s F_s^T, K_ts = F_t F_s^T, lambda = lambda0 * tr(K_ss) / n and the KRR prediction is
K_ts (K_ss + lambda I)^-1 Y_s, solved by a Cholesky factorisation. The result equals ridge regression
in the primal, F_t (F_s^T F_s + lambda I)^-1 F_s^T Y_s, which costs d^3 instead of n^3.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

LAMBDA0 = 1e-6
JITTER_GROWTH = 10.0  # a failed factorisation is retried with the regulariser 10x larger, ...
MAX_JITTER_TRIES = 12  # ... at most this many times (lambda0 1e-6 -> 1e6 x tr(K)/n)


def conjugate_kernel(f1, f2):
    """K = f1 f2^T for features f1 (n1, d), f2 (n2, d): (n1, n2)."""
    return f1 @ f2.T


def regularizer(k_ss, lambda0: float = LAMBDA0):
    """lambda = lambda0 * trace(K_ss) / n: scale-free ridge strength."""
    return lambda0 * jnp.trace(k_ss) / k_ss.shape[0]


def _cast(x, dtype):
    if dtype == jnp.float64 and not jax.config.jax_enable_x64:
        raise ValueError("float64 KRR needs 64-bit JAX: set JAX_ENABLE_X64=1 (or "
                         "jax.config.update('jax_enable_x64', True)) before anything else runs")
    return x.astype(dtype)


def krr_solve(k_ss, k_ts, y_s, lambda0: float = LAMBDA0, dtype=jnp.float32):
    """KRR prediction K_ts (K_ss + lambda I)^-1 y_s and the number of regulariser escalations it needed.

    k_ss (n,n), k_ts (m,n), y_s (n,C) -> (prediction (m,C), escalations () int32). When the Cholesky
    factorisation of K_ss + lambda I is not finite (round-off in float32, a rank-deficient kernel with
    lambda0 = 0), lambda is multiplied by 10 and the factorisation retried, up to MAX_JITTER_TRIES times
    (from lambda0 = 0 the first retry uses 1e-12 * tr(K_ss)/n + 1e-12); ``escalations`` says how many
    times, 0 when the configured lambda worked. The gradient flows through the lambda used. NaN or inf
    *inputs* still give NaN, which callers turn into a clear error.
    """
    out_dtype = k_ts.dtype
    k_ss, k_ts, y_s = (_cast(a, dtype) for a in (k_ss, k_ts, y_s))
    n = k_ss.shape[0]
    eye = jnp.eye(n, dtype=dtype)
    lam = regularizer(k_ss, lambda0)
    k_fixed, lam_fixed = jax.lax.stop_gradient(k_ss), jax.lax.stop_gradient(lam)
    floor = 1e-12 * jnp.trace(k_fixed) / n + 1e-12  # so that lambda0 = 0 can escalate too

    def factorises(tries):
        scale = JITTER_GROWTH ** tries.astype(dtype)
        reg = jnp.where(tries == 0, lam_fixed, jnp.maximum(lam_fixed, floor) * scale)
        return jnp.all(jnp.isfinite(jnp.linalg.cholesky(k_fixed + reg * eye)))

    tries = jax.lax.while_loop(lambda t: (t < MAX_JITTER_TRIES) & ~factorises(t), lambda t: t + 1,
                               jnp.zeros((), jnp.int32))
    scale = JITTER_GROWTH ** tries.astype(dtype)
    reg = jnp.where(tries == 0, lam, jnp.maximum(lam, floor) * scale)
    chol = jnp.linalg.cholesky(k_ss + reg * eye)
    alpha = jax.scipy.linalg.cho_solve((chol, True), y_s)
    return (k_ts @ alpha).astype(out_dtype), tries


def krr_predict(k_ss, k_ts, y_s, lambda0: float = LAMBDA0, dtype=jnp.float32):
    """KRR prediction K_ts (K_ss + lambda I)^-1 y_s: (m, C) for k_ss (n,n), k_ts (m,n), y_s (n,C).

    lambda = lambda0 * tr(K_ss)/n, escalated tenfold at a time only if the factorisation fails
    (:func:`krr_solve`, which also returns how often).
    """
    return krr_solve(k_ss, k_ts, y_s, lambda0, dtype)[0]


def krr_features_solve(f_s, f_t, y_s, lambda0: float = LAMBDA0, dtype=jnp.float32):
    """(prediction (m, C), escalations) from support features f_s (n,d), targets f_t (m,d), labels y_s (n,C)."""
    f_s, f_t = _cast(f_s, dtype), _cast(f_t, dtype)
    return krr_solve(conjugate_kernel(f_s, f_s), conjugate_kernel(f_t, f_s), y_s, lambda0, dtype)


def krr_from_features(f_s, f_t, y_s, lambda0: float = LAMBDA0, dtype=jnp.float32):
    """KRR prediction (m, C) from support features f_s (n,d), target features f_t (m,d), labels y_s (n,C)."""
    return krr_features_solve(f_s, f_t, y_s, lambda0, dtype)[0]


def mse_loss(pred, target):
    """Mean over examples of 0.5 * sum over classes of (pred - target)^2; pred, target (m, C)."""
    return 0.5 * jnp.mean(jnp.sum((pred - target) ** 2, axis=-1))


def tempered_cross_entropy(pred, classes, log_temperature):
    """Mean over examples of the softmax cross-entropy of the logits pred * exp(log_temperature) against the
    true classes: pred (m, C) KRR predictions, classes (m,) int, log_temperature () (RCIG's meta-loss)."""
    logits = pred * jnp.exp(log_temperature)
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, classes))


def label_margin_loss(y_s):
    """FRePo's label regulariser mean_i(-min(top1_i - top2_i, 1/C)) on learned labels y_s (n, C)."""
    top2 = jax.lax.top_k(y_s, 2)[0]
    return jnp.mean(-jnp.minimum(top2[:, 0] - top2[:, 1], 1.0 / y_s.shape[-1]))


def centered_one_hot(y, num_classes: int, scale: float = 1.0):
    """(one_hot(y) - 1/C) * scale: (N, C) float32 regression targets for class ids y (N,)."""
    return (jax.nn.one_hot(y, num_classes) - 1.0 / num_classes) * scale
