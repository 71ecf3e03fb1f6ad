import numpy as np
import pytest

from frepo_lite import data
from frepo_lite.data import Preprocessing, class_balanced_indices, fit_zca, herding_indices, load_dataset

from conftest import write_npz_dataset


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(ValueError, match="Known datasets: .*mnist"):
        load_dataset("mnits")


def test_npz_directory_is_loaded_and_standardised(tmp_path):
    write_npz_dataset(tmp_path)
    ds = load_dataset("mnist", tmp_path)
    assert ds.x_train.shape[1:] == (28, 28, 1) and ds.x_train.dtype == np.float32
    assert len(ds.x_train) + len(ds.x_val) == 200 and len(ds.x_val) == 20  # a tenth held out, class-balanced
    assert np.bincount(ds.y_val).tolist() == [2] * 10
    assert not set(ds.y_val.tolist()) - set(range(10))
    np.testing.assert_allclose(ds.x_train.mean(), 0.0, atol=1e-4)
    np.testing.assert_allclose(ds.x_train.std(), 1.0, atol=1e-3)


def test_environment_variable_names_the_data_dir(tmp_path, monkeypatch):
    write_npz_dataset(tmp_path, "fashion_mnist")
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    assert load_dataset("fashion_mnist").x_test.shape == (50, 28, 28, 1)


def test_npz_with_wrong_layout_is_refused(tmp_path):
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((4, 28, 28, 1), np.float32), y_train=np.zeros(4),
             x_test=np.zeros((2, 28, 28, 1), np.uint8), y_test=np.zeros(2))
    with pytest.raises(ValueError, match="uint8"):
        load_dataset("mnist", tmp_path)
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((4, 28, 28, 1), np.uint8))
    with pytest.raises(ValueError, match="y_train"):
        load_dataset("mnist", tmp_path)


def test_class_balanced_sampling():
    y = np.repeat(np.arange(4), 5)
    idx = class_balanced_indices(y, 3, 4, seed=1)
    assert idx.shape == (12,) and np.bincount(y[idx]).tolist() == [3, 3, 3, 3]
    assert (y[idx] == np.repeat(np.arange(4), 3)).all()  # ordered class by class
    np.testing.assert_array_equal(idx, class_balanced_indices(y, 3, 4, seed=1))


def test_more_images_per_class_than_the_data_has():
    with pytest.raises(ValueError, match="fewer than the 6 images per class"):
        class_balanced_indices(np.repeat(np.arange(4), 5), 6, 4)
    with pytest.raises(ValueError, match="fewer than the 6 images per class"):
        herding_indices(np.zeros((20, 2)), np.repeat(np.arange(4), 5), 6, 4)


def test_herding_follows_the_class_mean():
    rng = np.random.RandomState(0)
    x, y = rng.randn(400, 8) + 3.0 * np.repeat(np.eye(2, 8), 200, axis=0), np.repeat([0, 1], 200)
    idx = herding_indices(x, y, 5, 2)
    assert idx.shape == (10,) and (y[idx] == np.repeat([0, 1], 5)).all() and len(set(idx.tolist())) == 10
    means = np.stack([x[y == c].mean(0) for c in (0, 1)])
    assert np.argmin(np.linalg.norm(x[y == 0] - means[0], axis=1)) == idx[0]  # nearest the mean comes first
    herding_error = np.linalg.norm(x[idx].reshape(2, 5, 8).mean(1) - means)
    random_errors = [np.linalg.norm(x[class_balanced_indices(y, 5, 2, seed=s)].reshape(2, 5, 8).mean(1) - means)
                     for s in range(50)]
    assert herding_error < 0.5 * min(random_errors)  # the picked examples keep the class means
    np.testing.assert_array_equal(idx, herding_indices(x, y, 5, 2))


def _correlated_images(n=2000, shape=(4, 4, 2), seed=0):
    rng = np.random.RandomState(seed)
    d = int(np.prod(shape))
    mix = rng.randn(d, d)
    return (rng.randn(n, d) @ mix).reshape(n, *shape).astype(np.float32)


def test_zca_whitens_without_regularisation():
    x = _correlated_images()
    mean, w, _ = fit_zca(x, "full", regularization=0.0)
    white = (x.reshape(len(x), -1) - mean) @ w
    np.testing.assert_allclose(white.T @ white / len(x), np.eye(w.shape[0]), atol=1e-3)
    np.testing.assert_allclose(w, w.T, atol=1e-5)  # ZCA (not PCA): a symmetric transform


@pytest.mark.parametrize("mode", ["full", "checkerboard"])
def test_zca_inverse_round_trip(mode):
    x = _correlated_images()
    zmean, w, w_inv = fit_zca(x, mode)
    pre = Preprocessing(mean=np.zeros(2, np.float32), std=np.ones(2, np.float32), zca=mode,
                        zca_mean=zmean, zca_matrix=w, zca_inverse=w_inv)
    pixels = np.random.RandomState(3).uniform(0, 1, (5, 4, 4, 2)).astype(np.float32)
    np.testing.assert_allclose(pre.inverse(pre.transform(pixels)), pixels, atol=1e-4)


def test_checkerboard_zca_shares_one_transform_over_sub_images():
    _, w, _ = fit_zca(_correlated_images(shape=(8, 8, 1)), "checkerboard")
    assert w.shape == (16, 16)  # (8/2)*(8/2)*1


def test_zca_matrices_are_cached(tmp_path, monkeypatch):
    monkeypatch.setenv(data.CACHE_DIR_ENV, str(tmp_path))
    info = data.DatasetInfo("toyrgb", None, 2, 4, 3, "full")
    pixels = np.random.RandomState(0).randint(0, 256, (300, 4, 4, 3)).astype(np.uint8)
    first = data.fit_preprocessing(info, pixels)
    assert len(list(tmp_path.glob("zca_toyrgb_*.npz"))) == 1
    np.testing.assert_array_equal(first.zca_matrix, data.fit_preprocessing(info, pixels).zca_matrix)


def test_tfds_path_with_mock_data(monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv(data.CACHE_DIR_ENV, "/tmp/frepo_lite_test_cache")
    with tfds.testing.mock_data(num_examples=100):
        ds = load_dataset("cifar10", validation_size=10)
    assert ds.x_train.shape[1:] == ds.x_val.shape[1:] == ds.x_test.shape[1:] == (32, 32, 3)
    assert len(ds.x_train) + len(ds.x_val) == 100 and 0 < len(ds.x_val) <= 10
    assert ds.preprocessing.zca == "full" and ds.preprocessing.zca_matrix.shape == (3072, 3072)
    assert ds.y_train.max() < 10
