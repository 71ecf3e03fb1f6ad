import jax
import jax.numpy as jnp
import numpy as np
import pytest

from frepo_lite.augment import OPS, apply_op, augment

KEY = jax.random.PRNGKey(0)


def images(n=4, size=16, channels=3):
    return jax.random.normal(jax.random.PRNGKey(1), (n, size, size, channels))


def test_flip_mirrors_each_image_exactly_or_leaves_it():
    x = images(n=64)
    out = np.asarray(apply_op(KEY, x, "flip"))
    mirrored = np.all(np.abs(out - np.asarray(x[:, :, ::-1])) < 1e-5, axis=(1, 2, 3))
    unchanged = np.all(np.abs(out - np.asarray(x)) < 1e-5, axis=(1, 2, 3))
    assert (mirrored | unchanged).all() and 16 < mirrored.sum() < 48  # a coin per image


def test_cutout_zeroes_one_square_of_side_res_over_4():
    x = jnp.ones((3, 16, 16, 1))
    out = np.asarray(apply_op(KEY, x, "cutout"))
    zeros = (out == 0).all(-1).sum((1, 2))
    assert (zeros == 16).all()  # 4x4 squares, always wholly inside the image
    assert set(np.unique(out)) <= {0.0, 1.0}


@pytest.mark.parametrize("op", ["crop", "rotate", "translate"])
def test_geometric_ops_keep_constant_images_constant(op):
    # bilinear resampling with edge replication: a constant image stays exactly constant
    x = jnp.full((3, 16, 16, 2), 0.7)
    np.testing.assert_allclose(np.asarray(apply_op(KEY, x, op)), 0.7, atol=1e-5)


@pytest.mark.parametrize("op", ["crop", "rotate", "translate"])
def test_geometric_ops_move_pixels(op):
    x = images(channels=1)
    out = np.asarray(apply_op(KEY, x, op))
    assert out.shape == x.shape and np.isfinite(out).all()
    assert np.abs(out - np.asarray(x)).max() > 1e-2


def test_translate_shifts_by_at_most_an_eighth():
    x = jnp.zeros((8, 16, 16, 1)).at[:, 8, 8, 0].set(1.0)
    out = np.asarray(apply_op(KEY, x, "translate"))
    peaks = np.array(np.unravel_index(out.reshape(8, -1).argmax(1), (16, 16))).T
    assert (np.abs(peaks - 8) <= 2.1).all()  # 12.5 % of 16 px


def test_colour_changes_brightness_within_range():
    x = jnp.zeros((64, 8, 8, 3))
    out = np.asarray(apply_op(KEY, x, "color"))
    shifts = out.mean((1, 2, 3))
    assert np.abs(shifts).max() <= 0.25 + 1e-5 and shifts.std() > 0.05


def test_augment_per_image_draws_one_op_per_image_and_no_flip_for_grayscale():
    x = jnp.tile(jnp.arange(16.0)[None, None, :, None], (200, 16, 1, 1))  # a horizontal ramp
    out = np.asarray(jax.jit(lambda k, x: augment(k, x, rgb=False, per="image"))(KEY, x))
    flipped = np.all(np.abs(out - np.asarray(x[:, :, ::-1])) < 1e-4, axis=(1, 2, 3))
    assert not flipped.any()
    unchanged = np.all(np.abs(out - np.asarray(x)) < 1e-6, axis=(1, 2, 3))
    assert unchanged.mean() < 0.3
    assert len(OPS) == 6
