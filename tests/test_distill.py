import jax
import jax.numpy as jnp
import numpy as np
import pytest

from frepo_lite import checkpoint
from frepo_lite import distill as D
from frepo_lite import kernels
from frepo_lite.data import herding_indices
from frepo_lite.models import init_model, make_model

TINY = dict(width=4, real_batch=16, pool_size=2, max_online_steps=4, steps=6, lr=1e-2, images_per_class=2)


def tiny_cfg(**kw):
    return D.DistillConfig(**{**TINY, **kw})


def test_label_initialisation(toy):
    images, labels = D.init_distilled(toy, tiny_cfg())
    assert images.shape == (6, 16, 16, 1) and labels.shape == (6, 3)
    np.testing.assert_allclose(labels, (np.eye(3)[[0, 0, 1, 1, 2, 2]] - 1 / 3) / np.sqrt(3 / 10), atol=1e-6)
    assert images.dtype == np.float32


def test_image_initialisations(toy):
    real, _ = D.init_distilled(toy, tiny_cfg())
    noise, _ = D.init_distilled(toy, tiny_cfg(init="noise"))
    both, _ = D.init_distilled(toy, tiny_cfg(init="real_noise", init_noise_std=0.5))
    np.testing.assert_allclose(both - real, 0.5 * noise, atol=1e-5)
    herded, labels = D.init_distilled(toy, tiny_cfg(init="herding"))
    idx = herding_indices(toy.x_train, toy.y_train, 2, 3)
    np.testing.assert_array_equal(herded, toy.x_train[idx])
    assert (labels.argmax(1) == toy.y_train[idx]).all()
    with pytest.raises(ValueError, match="init must be"):
        D.init_distilled(toy, tiny_cfg(init="zeros"))


def test_more_images_per_class_than_data(toy):
    with pytest.raises(ValueError, match="fewer than the 50 images per class"):
        D.init_state(toy, tiny_cfg(images_per_class=50))


def test_meta_gradient_matches_finite_differences(toy):
    with jax.enable_x64(True):
        cfg = tiny_cfg(kernel_dtype="float64")
        model = make_model("conv", 3, 16, width=4, norm="none")
        variables = jax.tree.map(lambda a: a.astype(jnp.float64), init_model(model, jax.random.PRNGKey(0),
                                                                             (16, 16, 1)))
        images, labels = D.init_distilled(toy, cfg)
        data = {"images": jnp.asarray(images, jnp.float64), "labels": jnp.asarray(labels, jnp.float64)}
        x_t = jnp.asarray(toy.x_train[:10], jnp.float64)
        y_t = kernels.centered_one_hot(toy.y_train[:10], 3).astype(jnp.float64)
        loss = lambda d: D.meta_loss(d, model, variables, x_t, y_t, cfg, flip=False)[0]  # noqa: E731
        grad = jax.grad(loss)(data)
        rng = np.random.RandomState(0)
        for key in ("images", "labels"):
            v = jnp.asarray(rng.randn(*data[key].shape))
            eps = 1e-5
            plus = loss({**data, key: data[key] + eps * v})
            minus = loss({**data, key: data[key] - eps * v})
            fd = (plus - minus) / (2 * eps)
            assert float(jnp.vdot(grad[key], v)) == pytest.approx(float(fd), rel=1e-5, abs=1e-9)


def test_fixed_labels_get_no_gradient(toy):
    cfg = tiny_cfg(learn_labels=False)
    state = D.init_state(toy, cfg)
    labels0 = np.asarray(state.labels)
    state, m = D.make_step(toy, cfg)(state, jnp.asarray(toy.x_train), jnp.asarray(toy.y_train))
    np.testing.assert_array_equal(np.asarray(state.labels), labels0)
    assert float(m["label_grad_norm"]) == 0.0


def test_pool_counters_start_staggered_and_reset_after_more_than_k(toy):
    cfg = tiny_cfg(pool_size=2, max_online_steps=4, steps=24)
    state = D.init_state(toy, cfg)
    assert np.asarray(state.pool.steps).tolist() == [0, 2]  # (K/m)*i
    step = D.make_step(toy, cfg)
    x, y = jnp.asarray(toy.x_train), jnp.asarray(toy.y_train)
    model, adam = D._model_and_online_optimizer(toy, cfg)
    counters, adam_counts, resets = [0, 2], [0, 0], 0
    for _ in range(24):
        before = jax.tree.map(np.asarray, state.pool.variables)
        key = np.asarray(state.key)  # the state is donated to the step
        t = int(state.step)
        state, m = step(state, x, y)
        i = int(m["model_index"])
        counters[i] += 1
        adam_counts[i] += 1
        after = jax.tree.map(np.asarray, state.pool.variables)
        after_opt = jax.tree.map(np.asarray, state.pool.opt_state)
        k_reset = jax.random.split(jax.random.fold_in(key, t), 4)[3]
        fresh = init_model(model, k_reset, (16, 16, 1))
        fresh_opt = adam.init(fresh["params"])
        is_fresh = all(np.array_equal(a[i], b) for a, b in zip(jax.tree.leaves(after),
                                                               jax.tree.leaves(fresh)))
        if counters[i] > 4:  # more than K online steps taken: re-initialised, counter back to 0
            counters[i], adam_counts[i], resets = 0, 0, resets + 1
            assert is_fresh  # parameters and running statistics of a new model ...
            for a, b in zip(jax.tree.leaves(after_opt), jax.tree.leaves(fresh_opt)):
                np.testing.assert_array_equal(a[i], b)  # ... and a new Adam state (count 0, moments 0)
        else:
            assert not is_fresh
            assert int(jax.tree.leaves(after_opt)[0][i]) == adam_counts[i]  # Adam steps since its (re)start
        assert np.asarray(state.pool.steps).tolist() == counters
        other = 1 - i  # the model not picked is untouched
        np.testing.assert_array_equal(before["params"]["Conv_0"]["kernel"][other],
                                      after["params"]["Conv_0"]["kernel"][other])
    assert resets >= 3


@pytest.mark.parametrize("order", ["v1", "v2"])
def test_distillation_lowers_the_meta_loss(toy, order):
    cfg = tiny_cfg(steps=60, order=order, real_batch=30, lr=1e-2)
    result = D.distill(toy, cfg, log_every=1, progress=False)
    loss = result.history["krr_loss"]  # the KRR part; the label-margin part saturates at -1/C
    assert len(loss) == 60 and np.mean(loss[-10:]) < 0.2 * np.mean(loss[:10])
    assert result.images.shape == (6, 16, 16, 1) and result.steps_done == 60


def test_deterministic_per_seed(toy):
    a = D.distill(toy, tiny_cfg(), progress=False)
    b = D.distill(toy, tiny_cfg(), progress=False)
    c = D.distill(toy, tiny_cfg(seed=1), progress=False)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.images, c.images)


def test_resume_gives_the_uninterrupted_result(toy, tmp_path):
    cfg = tiny_cfg(steps=8)
    whole = D.distill(toy, cfg, log_every=2, progress=False)
    ckpt = tmp_path / "run.ckpt"
    part = D.distill(toy, cfg, checkpoint=ckpt, checkpoint_every=2, log_every=2, stop_after=3, progress=False)
    assert part.steps_done == 3 and ckpt.exists()
    resumed = D.distill(toy, cfg, checkpoint=ckpt, checkpoint_every=2, log_every=2, progress=False)
    assert resumed.steps_done == 8
    np.testing.assert_array_equal(resumed.images, whole.images)
    np.testing.assert_array_equal(resumed.labels, whole.labels)
    assert resumed.history["step"] == [2, 3, 4, 6, 8]  # the stop at 3 was logged too
    logged = dict(zip(resumed.history["step"], resumed.history["loss"]))
    assert [logged[t] for t in whole.history["step"]] == whole.history["loss"]


def test_resumed_snapshots_are_arrays_like_fresh_ones(toy, tmp_path):
    cfg = tiny_cfg(steps=4)
    ckpt = tmp_path / "run.ckpt"
    D.distill(toy, cfg, checkpoint=ckpt, snapshot_every=2, stop_after=2, progress=False)
    resumed = D.distill(toy, cfg, checkpoint=ckpt, snapshot_every=2, progress=False)
    assert [s["step"] for s in resumed.history["snapshots"]] == [2, 4]
    for snap in resumed.history["snapshots"]:
        assert isinstance(snap["images"], np.ndarray) and snap["images"].shape == resumed.images.shape
        assert isinstance(snap["labels"], np.ndarray) and snap["labels"].shape == resumed.labels.shape
    np.testing.assert_array_equal(resumed.history["snapshots"][-1]["labels"], resumed.labels)


def test_checkpoint_of_another_run_is_refused_and_kept(toy, tmp_path):
    ckpt = tmp_path / "run.ckpt"
    D.distill(toy, tiny_cfg(steps=2), checkpoint=ckpt, progress=False)
    content = ckpt.read_bytes()
    with pytest.raises(ValueError, match="belongs to another run"):
        D.distill(toy, tiny_cfg(steps=2, lr=0.5), checkpoint=ckpt, progress=False)
    assert ckpt.read_bytes() == content


def test_foreign_checkpoint_file_is_refused(toy, tmp_path):
    bad = tmp_path / "notes.ckpt"
    bad.write_text("my notes")
    with pytest.raises(ValueError, match="not a frepo_lite checkpoint"):
        D.distill(toy, tiny_cfg(), checkpoint=bad, progress=False)
    assert bad.read_text() == "my notes"


def test_nan_in_the_real_data_is_a_clear_error(toy):
    x = toy.x_train.copy()
    x[3, 2, 2, 0] = np.nan
    with pytest.raises(ValueError, match="training images contain NaN"):
        D.distill(type(toy)(**{**toy.__dict__, "x_train": x}), tiny_cfg(steps=2), progress=False)


def test_divergence_is_a_clear_error(toy):
    # the images overflow in the first step while its loss (taken before the update) is still finite:
    # the check looks at the norms too
    with pytest.raises(FloatingPointError, match="diverged at step 1.*lower the learning rate"):
        D.distill(toy, tiny_cfg(steps=2, lr=1e30), log_every=1, progress=False)


def test_history_and_snapshots(toy):
    calls = []
    result = D.distill(toy, tiny_cfg(steps=4), log_every=2, snapshot_every=2, eval_every=2,
                       eval_fn=lambda x, y: calls.append(x.shape) or {"acc": 0.5}, progress=False)
    h = result.history
    assert h["step"] == [2, 4] and [s["step"] for s in h["snapshots"]] == [2, 4]
    np.testing.assert_array_equal(h["snapshots"][-1]["labels"], result.labels)  # the labels of that step
    assert not np.array_equal(h["snapshots"][0]["labels"], h["snapshots"][1]["labels"])  # learned: they move
    assert h["eval"] == [{"step": 2, "acc": 0.5}, {"step": 4, "acc": 0.5}] and calls == [(6, 16, 16, 1)] * 2
    for k in ("krr_batch_acc", "image_norm", "label_norm", "image_grad_norm", "label_grad_norm"):
        assert len(h[k]) == 2 and all(np.isfinite(h[k]))


def test_flip_for_rgb():
    from conftest import make_dataset
    rgb = make_dataset(channels=3)
    cfg = tiny_cfg()
    assert D.use_flip(cfg, rgb.info) and not D.use_flip(cfg, make_dataset().info)
    result = D.distill(rgb, cfg.replace(steps=2), progress=False)
    assert result.images.shape == (6, 16, 16, 3)


def test_krr_fallbacks_are_counted_and_warned_about_once(toy, monkeypatch):
    real = kernels.krr_features_solve
    calls = {"n": 0}

    def every_other_step_escalates(*a, **k):
        pred, _ = real(*a, **k)
        calls["n"] += 1
        return pred, jnp.asarray(2, jnp.int32)

    with pytest.warns(RuntimeWarning, match="Cholesky factorisation failed") as caught:
        monkeypatch.setattr(kernels, "krr_features_solve", every_other_step_escalates)
        result = D.distill(toy, tiny_cfg(steps=5), log_every=1, progress=False)
    assert result.history["krr_fallbacks"] == 5  # every step of 5, counted once each
    assert len([w for w in caught if "Cholesky" in str(w.message)]) == 1
    monkeypatch.undo()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning when the configured lambda works
        assert D.distill(toy, tiny_cfg(steps=3), progress=False).history["krr_fallbacks"] == 0


def test_a_diverged_state_is_never_written_over_a_good_checkpoint(toy, tmp_path):
    ckpt = tmp_path / "run.ckpt"
    cfg = tiny_cfg(steps=4, lr=1e15)  # LAMB steps by lr * ||images||: finite after step 1, inf after 2
    D.distill(toy, cfg, checkpoint=ckpt, stop_after=1, progress=False)  # step 1: huge but finite images
    good = ckpt.read_bytes()
    with pytest.raises(FloatingPointError, match="diverged"):
        # logging only at the end: the check before each checkpoint write catches it
        D.distill(toy, cfg, checkpoint=ckpt, checkpoint_every=2, log_every=1000, progress=False)
    assert ckpt.read_bytes() == good


def test_a_checkpoint_of_another_protocol_version_is_refused(toy, tmp_path, monkeypatch):
    ckpt = tmp_path / "run.ckpt"
    monkeypatch.setattr(checkpoint, "PROTOCOL_VERSION", checkpoint.PROTOCOL_VERSION - 1)
    D.distill(toy, tiny_cfg(steps=2), checkpoint=ckpt, stop_after=1, progress=False)
    monkeypatch.undo()
    content = ckpt.read_bytes()
    with pytest.raises(ValueError, match=f"protocol version {checkpoint.PROTOCOL_VERSION - 1}"):
        D.distill(toy, tiny_cfg(steps=2), checkpoint=ckpt, progress=False)
    assert ckpt.read_bytes() == content


def test_krr_support_subset_moves_only_the_chosen_images(toy):
    x, y = jnp.asarray(toy.x_train), jnp.asarray(toy.y_train)
    for k, moved in ((2, 2), (None, 6)):
        cfg = tiny_cfg(krr_support=k)
        state = D.init_state(toy, cfg)
        images0, labels0 = np.asarray(state.images), np.asarray(state.labels)
        state, _ = D.make_step(toy, cfg)(state, x, y)  # first LAMB step: a row without gradient stays put
        changed = np.any(np.asarray(state.images) != images0, axis=(1, 2, 3))
        assert changed.sum() == moved
        np.testing.assert_array_equal(np.any(np.asarray(state.labels) != labels0, axis=1), changed)


def test_krr_support_draws_distinct_images_anew_each_step():
    cfg = tiny_cfg(krr_support=3)
    draws = [np.asarray(D.support_indices(jax.random.PRNGKey(s), 6, cfg)) for s in range(5)]
    assert all(len(set(d.tolist())) == 3 and d.min() >= 0 and d.max() < 6 for d in draws)
    assert len({tuple(sorted(d.tolist())) for d in draws}) > 1
    assert D.support_indices(jax.random.PRNGKey(0), 6, tiny_cfg()) is None
    assert D.support_indices(jax.random.PRNGKey(0), 6, tiny_cfg(krr_support=6)) is None


def test_krr_support_bounds_the_kernel_solved_each_step(toy):
    """The Cholesky factorisation in the compiled step is k x k, not n x n: its cost no longer grows with n."""
    x, y = jnp.asarray(toy.x_train), jnp.asarray(toy.y_train)

    def cholesky_sizes(cfg):
        jaxpr = jax.make_jaxpr(D.make_step(toy, cfg))(D.init_state(toy, cfg), x, y)
        return {tuple(e.invars[0].aval.shape) for e in _equations(jaxpr.jaxpr) if e.primitive.name == "cholesky"}

    assert cholesky_sizes(tiny_cfg(images_per_class=4)) == {(12, 12)}
    assert cholesky_sizes(tiny_cfg(images_per_class=4, krr_support=5)) == {(5, 5)}


def _equations(jaxpr):
    """Every equation of a jaxpr, those of its sub-jaxprs (jit, cond, custom derivatives) included."""
    for e in jaxpr.eqns:
        yield e
        for v in e.params.values():
            for sub in (v if isinstance(v, (list, tuple)) else [v]):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    yield from _equations(inner)


def test_krr_support_larger_than_the_set_is_a_clear_error(toy):
    with pytest.raises(ValueError, match="krr_support=7 exceeds the 6 distilled images"):
        D.init_state(toy, tiny_cfg(krr_support=7))
    with pytest.raises(ValueError, match="krr_support must be an integer >= 1"):
        tiny_cfg(krr_support=0)


def test_a_checkpoint_written_before_a_setting_existed_resumes_with_its_default(toy, tmp_path):
    import json

    import flax.serialization
    ckpt = tmp_path / "run.ckpt"
    D.distill(toy, tiny_cfg(steps=4), checkpoint=ckpt, stop_after=2, progress=False)
    payload = flax.serialization.msgpack_restore(ckpt.read_bytes())
    config = json.loads(payload["config"])
    del config["krr_support"]  # as written before the setting was added
    payload["config"] = json.dumps(config)
    ckpt.write_bytes(flax.serialization.msgpack_serialize(payload))
    with pytest.raises(ValueError, match="belongs to another run.*krr_support"):
        D.distill(toy, tiny_cfg(steps=4, krr_support=3), checkpoint=ckpt, progress=False)
    whole = D.distill(toy, tiny_cfg(steps=4), progress=False)
    resumed = D.distill(toy, tiny_cfg(steps=4), checkpoint=ckpt, progress=False)
    np.testing.assert_array_equal(resumed.images, whole.images)
