"""The unrolled (BPTT) meta-gradient that notebook 02 compares with FRePo's KRR meta-gradient."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from frepo_lite.bptt import unrolled_loss, unrolled_meta_gradient
from frepo_lite.kernels import centered_one_hot
from frepo_lite.models import init_model, make_model


def _setup(toy):
    model = make_model("conv", 3, 16, 4, "none")
    params = init_model(model, jax.random.PRNGKey(0), toy.x_train.shape[1:])["params"]
    xs, ys = jnp.asarray(toy.x_train[:3]), centered_one_hot(toy.y_train[:3], 3)
    xt, yt = jnp.asarray(toy.x_train[3:20]), centered_one_hot(toy.y_train[3:20], 3)
    return model, params, xs, ys, xt, yt


def test_zero_inner_steps_is_the_initial_network(toy):
    model, params, xs, ys, xt, yt = _setup(toy)
    loss = unrolled_loss(xs, ys, model, params, xt, yt, 0, 0.1)
    logits = model.apply({"params": params}, xt)[1]
    np.testing.assert_allclose(loss, 0.5 * np.mean(np.sum((logits - yt) ** 2, -1)), rtol=1e-5)


def test_inner_steps_reduce_the_support_loss_and_gradient_is_finite(toy):
    model, params, xs, ys, xt, yt = _setup(toy)
    before = unrolled_loss(xs, ys, model, params, xs, ys, 0, 0.05)
    after = unrolled_loss(xs, ys, model, params, xs, ys, 5, 0.05)
    assert after < before
    loss, grad = unrolled_meta_gradient(model, 5, 0.05)(xs, ys, params, xt, yt)
    assert grad.shape == xs.shape and np.all(np.isfinite(grad)) and np.linalg.norm(grad) > 0


def test_truncation_to_all_steps_is_full_bptt_and_shorter_truncation_differs(toy):
    model, params, xs, ys, xt, yt = _setup(toy)
    full = unrolled_meta_gradient(model, 4, 0.05)(xs, ys, params, xt, yt)
    same = unrolled_meta_gradient(model, 4, 0.05, truncate=4)(xs, ys, params, xt, yt)
    short = unrolled_meta_gradient(model, 4, 0.05, truncate=1)(xs, ys, params, xt, yt)
    np.testing.assert_allclose(full[1], same[1], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(full[0], short[0], rtol=1e-6)  # the loss itself is not truncated
    assert not np.allclose(full[1], short[1])


def test_gradient_matches_finite_differences(toy):
    with jax.enable_x64(True):
        model, params, xs, ys, xt, yt = _setup(toy)
        params, xs, ys, xt, yt = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), (params, xs, ys, xt, yt))
        loss_fn = lambda x: unrolled_loss(x, ys, model, params, xt, yt, 3, 0.05)  # noqa: E731
        grad = jax.grad(loss_fn)(xs)
        v = jnp.asarray(np.random.RandomState(0).randn(*xs.shape))
        eps = 1e-5
        fd = (loss_fn(xs + eps * v) - loss_fn(xs - eps * v)) / (2 * eps)
        assert float(jnp.vdot(grad, v)) == pytest.approx(float(fd), rel=1e-5, abs=1e-10)



def test_distill_bptt_steps_down_the_unrolled_gradient_and_keeps_the_labels(toy):
    from frepo_lite.bptt import distill_bptt
    from frepo_lite.configs import DistillConfig
    from frepo_lite.distill import init_distilled
    cfg = DistillConfig(width=4, real_batch=30, images_per_class=2, steps=1, lr=1e-2)
    images0, labels0 = init_distilled(toy, cfg)
    result = distill_bptt(toy, cfg, inner_steps=2, progress=False)
    np.testing.assert_array_equal(result.labels, labels0)
    # step 0's network and real batch, drawn as the step draws them
    k_init, k_batch = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(cfg.seed), 0))
    model = make_model("conv", 3, 16, 4, "none")
    params = init_model(model, k_init, toy.x_train.shape[1:])["params"]
    idx = jax.random.randint(k_batch, (30,), 0, len(toy.x_train))
    _, grad = unrolled_meta_gradient(model, 2, 0.01)(jnp.asarray(images0), jnp.asarray(labels0), params,
                                                     jnp.asarray(toy.x_train)[idx], centered_one_hot(toy.y_train[idx], 3))
    step = result.images - images0
    cosine = float(jnp.vdot(step, grad) / (jnp.linalg.norm(step) * jnp.linalg.norm(grad)))
    assert cosine < -0.5  # LAMB's first step is -lr * trust ratio * sign-like(grad): downhill


def test_distill_bptt_snapshots(toy):
    from frepo_lite.bptt import distill_bptt
    from frepo_lite.configs import DistillConfig
    cfg = DistillConfig(width=4, real_batch=30, images_per_class=2, steps=6, lr=1e-2)
    result = distill_bptt(toy, cfg, inner_steps=1, snapshot_every=2, progress=False)
    assert [s["step"] for s in result.history["snapshots"]] == [2, 4, 6] == result.history["step"]
    np.testing.assert_array_equal(result.history["snapshots"][-1]["images"], result.images)
    assert result.history["seconds"] > 0 and all(np.isfinite(result.history["loss"]))
