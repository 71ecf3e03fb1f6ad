"""Every exercise self-check accepts a correct answer and rejects a typical wrong one with a message."""
import numpy as np
import pytest

from frepo_lite import exercises, kernels


def _primal(x_s, y_s, x_t, lam):
    return x_t @ np.linalg.solve(x_s.T @ x_s + lam * np.eye(x_s.shape[1]), x_s.T @ y_s)


def _dual(x_s, y_s, x_t, lam):
    return x_t @ x_s.T @ np.linalg.solve(x_s @ x_s.T + lam * np.eye(len(x_s)), y_s)


CASES = [
    (exercises.check_to_pixels, lambda x, m, s: np.clip(x * s + m, 0, 1), lambda x, m, s: x * s + m),
    (exercises.check_label_classes, lambda y: y.argmax(-1), lambda y: y.argmin(-1)),
    (exercises.check_dual_ridge, _dual, lambda x_s, y_s, x_t, lam: x_t @ x_s.T @ np.linalg.solve(x_s @ x_s.T, y_s)),
    (exercises.check_regularizer, lambda k, l0: l0 * np.trace(k) / len(k), lambda k, l0: l0 * np.trace(k)),
    (exercises.check_conjugate_kernel, lambda a, b: a @ b.T, lambda a, b: (a @ b.T) / a.shape[1]),
    (exercises.check_krr_loss,
     lambda fs, ys, ft, yt, l0: kernels.mse_loss(kernels.krr_from_features(fs, ft, ys, l0), yt),
     lambda fs, ys, ft, yt, l0: kernels.mse_loss(kernels.krr_from_features(fs, ft, ys, l0), yt) * 2),
    (exercises.check_label_init, lambda y, c: (np.eye(c)[y] - 1 / c) / np.sqrt(c / 10), lambda y, c: np.eye(c)[y]),
    (exercises.check_margin_loss, lambda y: kernels.label_margin_loss(y), lambda y: -np.mean(np.max(y, -1))),
    (exercises.check_pool_offsets, lambda m, k: (k // m) * np.arange(m), lambda m, k: np.arange(m)),
]


@pytest.mark.parametrize("check, right, wrong", CASES, ids=[c[0].__name__ for c in CASES])
def test_check_accepts_right_and_rejects_wrong(check, right, wrong, capsys):
    assert check(right) is True
    assert "correct" in capsys.readouterr().out
    with pytest.raises(AssertionError):
        check(wrong)


def test_primal_passes_dual_check_too():
    assert exercises.check_dual_ridge(_primal)


def test_truncation_cost_check():
    assert exercises.check_truncation_cost({1: 100e6, 10: 200e6, 30: 400e6})
    with pytest.raises(AssertionError, match="increase"):
        exercises.check_truncation_cost({1: 100e6, 10: 100e6})
    with pytest.raises(AssertionError, match="two"):
        exercises.check_truncation_cost({1: 100e6})
