import jax
import jax.numpy as jnp
import numpy as np
import pytest

from frepo_lite import kernels


def test_krr_equals_primal_ridge_solution():
    rng = np.random.RandomState(0)
    f_s, f_t, y_s = rng.randn(12, 40), rng.randn(7, 40), rng.randn(12, 3)
    lam = 1e-2 * np.trace(f_s @ f_s.T) / 12
    primal = f_t @ np.linalg.solve(f_s.T @ f_s + lam * np.eye(40), f_s.T @ y_s)
    dual = kernels.krr_from_features(jnp.asarray(f_s, jnp.float32), jnp.asarray(f_t, jnp.float32),
                                     jnp.asarray(y_s, jnp.float32), lambda0=1e-2)
    np.testing.assert_allclose(np.asarray(dual), primal, rtol=2e-3, atol=2e-3)


def test_regularizer_is_scaled_by_trace():
    k = jnp.diag(jnp.array([1.0, 2.0, 3.0]))
    assert float(kernels.regularizer(k, 1e-6)) == pytest.approx(1e-6 * 6.0 / 3)


def test_failed_factorisation_retries_instead_of_nan():
    # a rank-one kernel with lambda0 = 0 cannot be factorised; the retry must still give finite output
    f = jnp.ones((5, 3))
    k = f @ f.T
    assert not np.all(np.isfinite(np.asarray(jnp.linalg.cholesky(k))))  # the plain factorisation fails
    pred, escalations = kernels.krr_solve(k, k, jnp.eye(5), lambda0=0.0)
    assert np.all(np.isfinite(np.asarray(pred))) and int(escalations) >= 1


def test_the_regulariser_escalates_tenfold_from_the_configured_one():
    """On a rank-2 kernel with lambda0 = 1e-9, the solve uses lambda * 10^tries, the smallest that
    factorises in float32. Measured with K_ts = I and y in K's null space, where (K + l I)^-1 y = y / l."""
    rng = np.random.RandomState(0)
    f = rng.randn(8, 2) @ rng.randn(2, 64)
    k = jnp.asarray(f @ f.T, jnp.float32)
    y = np.linalg.svd(f)[0][:, 2:4]  # two unit vectors orthogonal to K's range
    lam0 = 1e-9
    pred, tries = kernels.krr_solve(k, jnp.eye(8), jnp.asarray(y, jnp.float32), lambda0=lam0)
    tries = int(tries)
    assert 1 <= tries < kernels.MAX_JITTER_TRIES
    lam = lam0 * float(jnp.trace(k)) / 8
    used = np.linalg.norm(y) / np.linalg.norm(np.asarray(pred))
    assert 0.5 < used / (lam * 10.0 ** tries) < 2  # the escalated lambda, not 1e-3 tr(K)/n at once
    assert used < 1e-3 * float(jnp.trace(k)) / 8 / 10
    # one step fewer does not factorise in float32
    smaller = np.asarray(jnp.linalg.cholesky(k + lam * 10.0 ** (tries - 1) * jnp.eye(8)))
    assert not np.all(np.isfinite(smaller))


def test_a_kernel_that_factorises_uses_exactly_the_configured_lambda():
    rng = np.random.RandomState(2)
    f = rng.randn(6, 20)
    k, y = f @ f.T, rng.randn(6, 2)
    pred, tries = kernels.krr_solve(jnp.asarray(k, jnp.float32), jnp.asarray(k, jnp.float32),
                                    jnp.asarray(y, jnp.float32), lambda0=1e-3)
    assert int(tries) == 0
    want = k @ np.linalg.solve(k + 1e-3 * np.trace(k) / 6 * np.eye(6), y)
    np.testing.assert_allclose(np.asarray(pred), want, rtol=1e-3, atol=1e-3)


def test_krr_gradient_is_finite_for_rank_deficient_kernel():
    f = jnp.ones((4, 2))
    g = jax.grad(lambda f: kernels.krr_from_features(f, f, jnp.eye(4), lambda0=0.0).sum())(f)
    assert np.all(np.isfinite(np.asarray(g)))


def test_nan_features_stay_nan_for_the_caller_to_report():
    f = jnp.full((3, 2), jnp.nan)
    assert np.isnan(np.asarray(kernels.krr_from_features(f, f, jnp.eye(3)))).all()


def test_float64_needs_x64():
    f = jnp.ones((2, 2))
    if jax.config.jax_enable_x64:
        pytest.skip("x64 already on")
    with pytest.raises(ValueError, match="JAX_ENABLE_X64"):
        kernels.krr_from_features(f, f, jnp.eye(2), dtype=jnp.float64)


def test_float64_krr_runs_when_x64_is_on():
    with jax.enable_x64(True):
        rng = np.random.RandomState(1)
        f_s, f_t = jnp.asarray(rng.randn(6, 9)), jnp.asarray(rng.randn(4, 9))
        pred = kernels.krr_from_features(f_s, f_t, jnp.eye(6)[:, :3], dtype=jnp.float64)
        assert pred.shape == (4, 3) and np.all(np.isfinite(np.asarray(pred)))


def test_label_margin_loss():
    # margins 0.5 and 0.05 with C = 4: -min(0.5, 0.25) and -min(0.05, 0.25)
    y = jnp.array([[1.0, 0.5, 0.0, 0.0], [0.2, 0.25, 0.0, 0.0]])
    assert float(kernels.label_margin_loss(y)) == pytest.approx(-(0.25 + 0.05) / 2)


def test_centered_one_hot():
    y = kernels.centered_one_hot(jnp.array([0, 2]), 4, scale=2.0)
    np.testing.assert_allclose(np.asarray(y), 2.0 * (np.eye(4)[[0, 2]] - 0.25))
    np.testing.assert_allclose(np.asarray(y).sum(1), 0.0, atol=1e-6)
