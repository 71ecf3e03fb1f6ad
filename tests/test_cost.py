import jax
import jax.numpy as jnp
import numpy as np
import pytest

from frepo_lite import cost
from frepo_lite.configs import DistillConfig

TINY = DistillConfig(width=4, real_batch=16, pool_size=2, max_online_steps=4, steps=2, images_per_class=2)


def test_program_bytes_counts_arguments_outputs_and_temporaries():
    compiled = jax.jit(lambda x: (x * 2.0, jnp.sum(x))).lower(jnp.ones(1000)).compile()
    assert 4000 + 4000 + 4 <= cost.program_bytes(compiled) < 20000


def test_measure_times_the_compiled_call():
    c = cost.measure(lambda x: jnp.linalg.cholesky(x @ x.T + 100 * jnp.eye(200)), jnp.ones((200, 50)))
    assert 0 < c.seconds < 5 and c.ms == pytest.approx(1e3 * c.seconds)
    assert c.bytes >= 200 * 50 * 4 + 200 * 200 * 4 and c.mb == pytest.approx(c.bytes / 2**20)
    assert 0 < c.temp_bytes < c.bytes and c.temp_mb == pytest.approx(c.temp_bytes / 2**20)


def test_seconds_per_call_carries_the_state_and_times_only_the_calls_after_the_warm_up():
    import time

    def step(state):
        time.sleep(0.3 if state == 0 else 0.02)  # the first call is slow, as a compiling call is
        return state + 1

    seconds, state = cost.seconds_per_call(step, 0, calls=4, warmup=1)
    assert state == 5  # warm-up and timed calls, each fed the state the one before returned
    assert 0.02 <= seconds < 0.06  # the mean of the timed calls: the slow warm-up call is not among them
    first, _ = cost.seconds_per_call(step, 0, calls=1)
    assert first >= 0.3


def test_frepo_parts_compute_the_pieces_of_a_step(toy):
    pieces = cost.frepo_step_parts(toy, TINY)
    assert set(pieces) == {"whole step", *cost.PARTS}
    n = 6
    f_t = jax.jit(pieces["target features"][0])(*pieces["target features"][1])
    d = f_t.shape[1]
    assert f_t.shape == (16, d)
    grad_images = pieces["support features + backward"][0](*pieces["support features + backward"][1])
    assert grad_images.shape == (n, 16, 16, 1) and np.all(np.isfinite(grad_images))
    g_f, g_y = pieces["kernel + Cholesky solve + backward"][0](*pieces["kernel + Cholesky solve + backward"][1])
    assert g_f.shape == (n, d) and g_y.shape == (n, 3) and float(jnp.abs(g_y).sum()) > 0
    state, metrics = pieces["whole step"][0](*pieces["whole step"][1])
    assert int(state.step) == 1 and np.isfinite(float(metrics["loss"]))


def test_the_kernel_part_grows_with_the_set(toy):
    small = cost.frepo_cost(toy, TINY, repeats=1)
    large = cost.frepo_cost(toy, TINY.replace(images_per_class=8), repeats=1)
    part = "kernel + Cholesky solve + backward"
    assert large[part].bytes > small[part].bytes and large[part].temp_bytes > small[part].temp_bytes
    assert large["target features"].bytes == small["target features"].bytes  # the real batch is the same
    assert set(cost.frepo_cost(toy, TINY, repeats=1, parts=False)) == {"whole step"}


def test_full_bptt_working_memory_grows_with_the_unroll_length(toy):
    one, four = (cost.bptt_cost(toy, TINY, t, repeats=1) for t in (1, 4))
    truncated = cost.bptt_cost(toy, TINY, 4, truncate=1, repeats=1)
    assert four.temp_bytes > one.temp_bytes and truncated.temp_bytes < four.temp_bytes
    # the whole step is measured: it is given the training set, as FRePo's step is
    assert one.bytes - one.temp_bytes >= toy.x_train.nbytes


def test_growth_exponent_and_time_to_accuracy():
    n = np.array([100, 200, 400, 800])
    assert cost.growth_exponent(n, 3e-9 * n ** 3) == pytest.approx(3.0)
    assert cost.growth_exponent(n, 0.5 * n ** 1.5) == pytest.approx(1.5)
    s, acc = np.array([1.0, 2, 4, 8]), np.array([0.5, 0.8, 0.7, 0.9])
    assert cost.time_to_accuracy(s, acc, 0.8) == 2.0 and cost.time_to_accuracy(s, acc, 0.85) == 8.0
    assert cost.time_to_accuracy(s, acc, 0.95) == float("inf")


def test_sweep_stops_a_series_that_is_too_slow(toy, monkeypatch):
    calls = []

    def fake(dataset, cfg, method, repeats, parts, max_bytes):
        calls.append((cfg.width, method, parts))
        return {"whole step": cost.Cost(seconds=cfg.width / 10, bytes=cfg.width, temp_bytes=1)}

    monkeypatch.setattr(cost, "method_cost", fake)
    points = [(w, m, m, TINY.replace(width=w)) for m in ("FRePo", "BPTT T=1") for w in (4, 8, 16, 32)]
    rows = cost.sweep(toy, points, max_seconds=1.0, parts_of=("FRePo",), progress=False)
    assert [(r["x"], r["label"]) for r in rows] == [(4, "FRePo"), (8, "FRePo"), (16, "FRePo"),
                                                    (4, "BPTT T=1"), (8, "BPTT T=1"), (16, "BPTT T=1")]
    assert rows[0]["ms"] == pytest.approx(400.0)
    assert [parts for _, method, parts in calls] == [True] * 3 + [False] * 3  # parts only where asked


def test_measure_refuses_a_program_larger_than_its_limit():
    fn, x = (lambda x: jnp.linalg.cholesky(x @ x.T + 100 * jnp.eye(200))), jnp.ones((200, 50))
    with pytest.raises(cost.ProgramTooLarge, match="more than the limit of 0 MiB"):
        cost.measure(fn, x, max_bytes=1000)
    assert cost.measure(fn, x, repeats=1, max_bytes=10**7).bytes <= 10**7


def test_sweep_stops_a_series_whose_program_does_not_fit(toy, monkeypatch):
    def fake(dataset, cfg, method, repeats, parts, max_bytes):
        if method == "BPTT T=1" and cfg.width == 8:  # width 16 would fit: only the stop leaves it out
            raise cost.ProgramTooLarge("too large")
        return {"whole step": cost.Cost(seconds=0.1, bytes=1, temp_bytes=1)}

    monkeypatch.setattr(cost, "method_cost", fake)
    points = [(w, m, m, TINY.replace(width=w)) for m in ("BPTT T=1", "FRePo") for w in (4, 8, 16)]
    rows = cost.sweep(toy, points, progress=False, max_bytes=100)
    assert [(r["x"], r["label"]) for r in rows] == [(4, "BPTT T=1"), (4, "FRePo"), (8, "FRePo"), (16, "FRePo")]


def test_an_unknown_method_is_a_clear_error(toy):
    with pytest.raises(ValueError, match="method must be 'FRePo' or 'BPTT T=<inner steps>'"):
        cost.method_cost(toy, TINY, "MTT")


def test_feature_dim_is_the_width_of_the_features(toy):
    pieces = cost.frepo_step_parts(toy, TINY)
    f_t = pieces["target features"][0](*pieces["target features"][1])
    assert cost.feature_dim(toy, TINY) == f_t.shape[1]
    assert cost.feature_dim(toy, TINY.replace(width=8)) == 2 * f_t.shape[1]


def test_release_compiled_drops_compiled_programs_and_keeps_arrays():
    f = jax.jit(lambda x: jnp.sin(x) * 2)
    x = jnp.arange(4.0)
    y = f(x)
    assert f._cache_size() == 1
    cost.release_compiled()
    assert f._cache_size() == 0  # compiled again on the next call
    np.testing.assert_allclose(f(x), y)
    np.testing.assert_allclose(x, np.arange(4.0))
