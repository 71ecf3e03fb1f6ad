"""The options from FRePo's successors (RCIG), each pinned by behaviour and off by default.

Cross-entropy meta-loss with a learned temperature, a debiased moving average of the set, several online steps
per visit, Adam-family meta-optimisers, a smooth activation in the pool models.
"""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from frepo_lite import distill as D
from frepo_lite import kernels
from frepo_lite.configs import DistillConfig
from frepo_lite.models import apply_model, init_model, make_model, softplus

TINY = dict(width=4, real_batch=16, pool_size=1, max_online_steps=50, steps=6, lr=1e-2, images_per_class=2)


def tiny_cfg(**kw):
    return DistillConfig(**{**TINY, **kw})


def one_step(toy, cfg, state=None):
    state = D.init_state(toy, cfg) if state is None else state
    return D.make_step(toy, cfg)(state, jnp.asarray(toy.x_train), jnp.asarray(toy.y_train))


def test_every_option_is_off_by_default():
    cfg = DistillConfig()
    assert (cfg.meta_loss, cfg.ema_decay, cfg.online_steps, cfg.meta_optimizer, cfg.activation) == (
        "mse", None, 1, "lamb", "relu")


@pytest.mark.parametrize("field,value,message", [
    ("meta_loss", "ce", "meta_loss must be one of"), ("meta_optimizer", "sgd", "meta_optimizer must be one of"),
    ("activation", "gelu", "activation must be one of"), ("ema_decay", 1.0, "ema_decay must be in"),
    ("ema_decay", 0.0, "ema_decay must be in"), ("online_steps", 0, "online_steps must be an integer >= 1"),
    ("online_steps", 51, "online_steps \\(51\\) must be at most max_online_steps \\(50\\)"),
    ("softplus_beta", 0.0, "softplus_beta must be a number > 0"),
    ("temperature_lr", -1.0, "temperature_lr must be a number > 0")])
def test_a_bad_option_is_a_clear_error(field, value, message):
    with pytest.raises(ValueError, match=message):
        tiny_cfg(**{field: value})


# ---------------------------------------------------------------------------------------------
# The cross-entropy meta-loss


def test_cross_entropy_meta_loss_equals_numpy():
    """KRR predictions times exp(log T), softmax cross-entropy against the true classes, plus the label margin."""
    from conftest import make_dataset
    data = make_dataset(num_classes=3)
    with jax.enable_x64(True):
        cfg = tiny_cfg(kernel_dtype="float64", lambda0=1e-2, meta_loss="cross_entropy")
        model = make_model("conv", 3, 16, width=4, norm="batch")
        variables = jax.tree.map(lambda a: a.astype(jnp.float64),
                                 init_model(model, jax.random.PRNGKey(1), (16, 16, 1)))
        images, _ = D.init_distilled(data, cfg)
        labels = np.random.RandomState(0).randn(6, 3) * 0.3
        x_t, classes = data.x_train[:12], data.y_train[:12]
        params = {"images": jnp.asarray(images, jnp.float64), "labels": jnp.asarray(labels),
                  "log_temperature": jnp.asarray(0.7)}
        loss, _ = D.meta_loss(params, model, variables, jnp.asarray(x_t, jnp.float64),
                              kernels.centered_one_hot(classes, 3), cfg, False)

        f_s, f_t = (np.asarray(apply_model(model, variables, jnp.asarray(x, jnp.float64))[0]) for x in (images, x_t))
    k_ss = f_s @ f_s.T
    pred = f_t @ f_s.T @ np.linalg.solve(k_ss + 1e-2 * np.trace(k_ss) / 6 * np.eye(6), labels)
    logits = pred * np.exp(0.7)
    log_softmax = logits - logits.max(1, keepdims=True)
    log_softmax -= np.log(np.exp(log_softmax).sum(1, keepdims=True))
    cross_entropy = -np.mean(log_softmax[np.arange(12), classes])
    top = np.sort(labels, axis=1)[:, ::-1]
    margin = np.mean(-np.minimum(top[:, 0] - top[:, 1], 1.0 / 3))
    assert float(loss) == pytest.approx(cross_entropy + margin, rel=1e-7)


def test_the_temperature_is_learned_by_adam_at_its_own_rate(toy):
    """Adam's first step moves a parameter by its learning rate: the log-temperature by temperature_lr (not the
    images' lr); with the MSE meta-loss it stays 0 and is not a meta-parameter."""
    cfg = tiny_cfg(meta_loss="cross_entropy", temperature_lr=0.05)
    state, step = D.init_state(toy, cfg), D.make_step(toy, cfg)
    state, _ = step(state, jnp.asarray(toy.x_train), jnp.asarray(toy.y_train))
    assert abs(float(state.log_temperature)) == pytest.approx(0.05, rel=1e-3)
    state, _ = step(state, jnp.asarray(toy.x_train), jnp.asarray(toy.y_train))
    assert abs(float(state.log_temperature)) > 0.06  # it keeps learning
    plain, _ = one_step(toy, tiny_cfg())
    assert float(plain.log_temperature) == 0.0
    assert "log_temperature" not in D.meta_params(plain, tiny_cfg())


def test_a_cross_entropy_run_records_its_temperature_each_step(toy):
    """history['temperature'] is exp(log_temperature) after each logged step: exp(+-temperature_lr) after the
    first (Adam's first step), one entry per step in history['step']; an MSE run has no temperature to record."""
    cfg = tiny_cfg(steps=3, meta_loss="cross_entropy", temperature_lr=0.05)
    history = D.distill(toy, cfg, log_every=1, progress=False).history
    assert len(history["temperature"]) == len(history["step"]) == 3
    assert abs(np.log(history["temperature"][0])) == pytest.approx(0.05, rel=1e-3)
    state = D.init_state(toy, cfg)
    step = D.make_step(toy, cfg)
    for _ in range(3):
        state, _ = step(state, jnp.asarray(toy.x_train), jnp.asarray(toy.y_train))
    assert history["temperature"][-1] == pytest.approx(float(np.exp(state.log_temperature)), rel=1e-6)
    assert "temperature" not in D.distill(toy, tiny_cfg(steps=2), progress=False).history


# ---------------------------------------------------------------------------------------------
# The moving average of the set


def test_the_run_gives_the_debiased_moving_average_of_its_iterates(toy):
    """With ema_decay d, the set a run returns is sum_s (1-d) d^(T-s) x_s / (1 - d^T) over the iterates x_1..x_T
    (which the average does not change); without it, the last iterate."""
    decay, steps = 0.6, 5
    plain_cfg = tiny_cfg(steps=steps)
    state, step = D.init_state(toy, plain_cfg), D.make_step(toy, plain_cfg)
    iterates = []
    for _ in range(steps):
        state, _ = step(state, jnp.asarray(toy.x_train), jnp.asarray(toy.y_train))
        iterates.append((np.asarray(state.images), np.asarray(state.labels)))
    weights = np.array([(1 - decay) * decay ** (steps - s) for s in range(1, steps + 1)]) / (1 - decay ** steps)
    averaged = D.distill(toy, tiny_cfg(steps=steps, ema_decay=decay), progress=False)
    for k, got in enumerate((averaged.images, averaged.labels)):
        want = sum(w * it[k] for w, it in zip(weights, iterates))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    last = D.distill(toy, plain_cfg, progress=False)
    np.testing.assert_allclose(last.images, iterates[-1][0], rtol=1e-6, atol=1e-6)
    assert not np.allclose(averaged.images, last.images, atol=1e-3)


def test_snapshots_and_evaluations_see_the_average(toy):
    seen = []
    run = D.distill(toy, tiny_cfg(steps=4, ema_decay=0.5), snapshot_every=4, eval_every=4, progress=False,
                    eval_fn=lambda images, labels: seen.append(images) or {"n": 0.0})
    np.testing.assert_array_equal(run.history["snapshots"][-1]["images"], run.images)
    np.testing.assert_array_equal(run.history["snapshots"][-1]["labels"], run.labels)
    np.testing.assert_array_equal(seen[-1], run.images)


# ---------------------------------------------------------------------------------------------
# Several online steps per visit


def test_each_visit_trains_its_model_a_uniform_1_to_s_steps(toy):
    """The pool model's age grows by the steps it took: 1..online_steps, each drawn, none beyond."""
    cfg = tiny_cfg(online_steps=4, max_online_steps=10_000)
    state, step = D.init_state(toy, cfg), D.make_step(toy, cfg)
    taken = []
    for _ in range(40):
        before = int(state.pool.steps[0])
        state, _ = step(state, jnp.asarray(toy.x_train), jnp.asarray(toy.y_train))
        taken.append(int(state.pool.steps[0]) - before)
    assert set(taken) == {1, 2, 3, 4}


def test_the_visit_is_that_many_hand_written_online_steps(toy):
    cfg = tiny_cfg(online_steps=6, online_batch=4, max_online_steps=10_000)
    state = D.init_state(toy, cfg)
    new, _ = one_step(toy, cfg, jax.tree.map(jnp.asarray, jax.tree.map(np.asarray, state)))
    n = int(new.pool.steps[0]) - int(state.pool.steps[0])
    assert n > 1  # this seed draws several (else the test shows nothing)
    model, adam = D._model_and_online_optimizer(toy, cfg)
    _, _, k_online, _ = jax.random.split(jax.random.fold_in(state.key, state.step), 4)
    take = lambda tree: jax.tree.map(lambda a: a[0], tree)  # noqa: E731
    variables, opt = take(state.pool.variables), take(state.pool.opt_state)
    for j in range(n):  # v2: on the updated set, a fresh subset of online_batch images each step
        variables, opt = D.online_update(model, adam, variables, opt, new.images, new.labels,
                                         jax.random.fold_in(k_online, j), cfg.online_batch)
    for a, b in zip(jax.tree.leaves(new.pool.variables), jax.tree.leaves(variables)):
        np.testing.assert_allclose(a[0], b, rtol=1e-3, atol=1e-5)


def test_a_model_past_k_steps_is_reset_to_a_fresh_one_whatever_it_took(toy):
    """Each visit ages the model by the 1..S steps it took while that stays within K; past K the model is a fresh
    initialisation (from the step's reset key) of age 0."""
    cfg = tiny_cfg(online_steps=4, max_online_steps=6)
    state, step = D.init_state(toy, cfg), D.make_step(toy, cfg)
    model, _ = D._model_and_online_optimizer(toy, cfg)
    resets = kept = 0
    for _ in range(12):
        before, t, key = int(state.pool.steps[0]), int(state.step), jnp.asarray(np.asarray(state.key))  # donated
        state, _ = step(state, jnp.asarray(toy.x_train), jnp.asarray(toy.y_train))
        age = int(state.pool.steps[0])
        if age == 0:
            resets += 1
            k_reset = jax.random.split(jax.random.fold_in(key, t), 4)[3]
            fresh = init_model(model, k_reset, toy.x_train.shape[1:])
            for a, b in zip(jax.tree.leaves(state.pool.variables), jax.tree.leaves(fresh)):
                np.testing.assert_allclose(a[0], b, rtol=1e-6)
        else:
            kept += 1
            assert 1 <= age - before <= 4 and age <= 6
    assert resets and kept


def test_the_v1_order_ages_its_models_too(toy):
    cfg = tiny_cfg(order="v1", max_online_steps=10_000)
    state, step = D.init_state(toy, cfg), D.make_step(toy, cfg)
    for expected in (1, 2, 3):
        state, _ = step(state, jnp.asarray(toy.x_train), jnp.asarray(toy.y_train))
        assert int(state.pool.steps[0]) == expected


# ---------------------------------------------------------------------------------------------
# Adam-family meta-optimisers


@pytest.mark.parametrize("name,first_step", [("adam", 1.0), ("adabelief", 1 / 0.9)])
def test_the_images_take_the_named_optimiser(toy, name, first_step):
    """The first step of Adam moves every pixel with a gradient by lr; AdaBelief's by lr / 0.9 (its second moment
    is of g - m, 0.81 g^2); LAMB's scale with the tensor's norm instead."""
    cfg = tiny_cfg(meta_optimizer=name, lr=1e-3)
    state = D.init_state(toy, cfg)
    start = np.asarray(state.images)
    new, _ = one_step(toy, cfg, state)
    moved = np.abs(np.asarray(new.images) - start)
    # all but pixels whose gradient is near Adam's epsilon
    assert np.mean(np.isclose(moved, 1e-3 * first_step, rtol=1e-2)) > 0.99


def test_adam_follows_the_schedule():
    """With a constant gradient every Adam update has size lr(t) per element, t its count."""
    cfg = tiny_cfg(meta_optimizer="adam", lr=1e-2, steps=8)
    opt, schedule = D.make_meta_optimizer(cfg), D.meta_lr_schedule(cfg)
    params = {"images": jnp.ones((2, 3)), "labels": jnp.ones((2, 4))}
    grads = jax.tree.map(lambda p: jnp.full(p.shape, 0.5), params)
    state = opt.init(params)
    for t in range(8):
        updates, state = opt.update(grads, state, params)
        for k in params:
            np.testing.assert_allclose(np.abs(updates[k]), float(schedule(t)), rtol=1e-4)
    assert float(schedule(7)) < 0.5 * float(schedule(0))  # the schedule decays, so a constant lr would show


def test_with_the_cross_entropy_the_set_keeps_its_optimiser_and_the_temperature_gets_adam():
    cfg = tiny_cfg(meta_loss="cross_entropy", temperature_lr=0.05)
    rng = np.random.RandomState(0)
    params = {"images": jnp.asarray(rng.randn(2, 3)), "labels": jnp.asarray(rng.randn(2, 4)),
              "log_temperature": jnp.asarray(0.3)}
    grads = jax.tree.map(lambda p: jnp.asarray(rng.randn(*p.shape)), params)
    updates, _ = D.make_meta_optimizer(cfg).update(grads, D.make_meta_optimizer(cfg).init(params), params)
    lamb = D.make_set_optimizer(cfg)
    plain = {k: params[k] for k in ("images", "labels")}
    want, _ = lamb.update({k: grads[k] for k in plain}, lamb.init(plain), plain)
    for k in plain:
        np.testing.assert_allclose(updates[k], want[k], rtol=1e-6)
    assert float(updates["log_temperature"]) == pytest.approx(-0.05 * np.sign(float(grads["log_temperature"])),
                                                            rel=1e-4)


def test_a_constant_rate_is_lr_final_ratio_one():
    schedule = D.meta_lr_schedule(tiny_cfg(meta_optimizer="adam", lr_final_ratio=1.0, steps=100))
    assert [float(schedule(t)) for t in (0, 50, 100)] == pytest.approx([1e-2] * 3)


# ---------------------------------------------------------------------------------------------
# The smooth activation


def test_softplus_is_a_smooth_relu_within_log2_over_beta():
    x = jnp.linspace(-1, 1, 201)
    y = softplus(60.0)(x)
    np.testing.assert_allclose(y, np.log1p(np.exp(60 * np.asarray(x, np.float64))) / 60, rtol=1e-5, atol=1e-7)
    assert float(jnp.max(jnp.abs(y - nn.relu(x)))) == pytest.approx(np.log(2) / 60, rel=1e-4)


def test_the_pool_uses_the_smooth_activation_and_the_evaluation_relu(toy):
    from frepo_lite import evaluate as E
    cfg = tiny_cfg(activation="softplus", softplus_beta=5.0)
    pool_model, _ = D._model_and_online_optimizer(toy, cfg)
    smooth = make_model("conv", 3, 16, 4, "batch", activation=softplus(5.0))
    relu = make_model("conv", 3, 16, 4, "batch")
    variables = init_model(relu, jax.random.PRNGKey(0), (16, 16, 1))
    x = jnp.asarray(toy.x_train[:5])
    features = lambda model: np.asarray(apply_model(model, variables, x)[0])  # noqa: E731
    np.testing.assert_allclose(features(pool_model), features(smooth), rtol=1e-6)
    assert not np.allclose(features(pool_model), features(relu), rtol=1e-2)
    images, labels = D.init_distilled(toy, cfg)
    eval_model, _ = E.train_network(images, labels, toy, E.EvalConfig(width=4, steps=2, warmup_steps=1))
    assert eval_model.activation is nn.relu


def test_only_the_conv_takes_another_activation(toy):
    with pytest.raises(ValueError, match="needs arch='conv'"):
        D.init_state(toy, tiny_cfg(activation="softplus", arch="dc_conv"))


# ---------------------------------------------------------------------------------------------
# Checkpoints


def test_a_run_with_every_option_resumes_to_the_uninterrupted_result(toy, tmp_path):
    cfg = tiny_cfg(steps=6, meta_loss="cross_entropy", ema_decay=0.9, online_steps=3, meta_optimizer="adabelief",
                   activation="softplus", pool_size=2, max_online_steps=4)
    whole = D.distill(toy, cfg, progress=False)
    ckpt = tmp_path / "run.ckpt"
    D.distill(toy, cfg, checkpoint=ckpt, checkpoint_every=2, stop_after=3, progress=False)
    resumed = D.distill(toy, cfg, checkpoint=ckpt, progress=False)
    np.testing.assert_array_equal(resumed.images, whole.images)
    np.testing.assert_array_equal(resumed.labels, whole.labels)


def test_a_checkpoint_written_before_the_options_existed_resumes(toy, tmp_path):
    import flax.serialization
    ckpt = tmp_path / "run.ckpt"
    D.distill(toy, tiny_cfg(steps=4), checkpoint=ckpt, stop_after=2, progress=False)
    payload = flax.serialization.msgpack_restore(ckpt.read_bytes())
    for field in ("log_temperature", "average"):  # as written before the state held them
        payload["state"].pop(field, None)
    ckpt.write_bytes(flax.serialization.msgpack_serialize(payload))
    resumed = D.distill(toy, tiny_cfg(steps=4), checkpoint=ckpt, progress=False)
    np.testing.assert_array_equal(resumed.images, D.distill(toy, tiny_cfg(steps=4), progress=False).images)
