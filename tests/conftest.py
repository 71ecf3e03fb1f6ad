"""Shared fixtures: tiny synthetic datasets that make every test run in seconds on a CPU."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np
import pytest

from frepo_lite.data import Dataset, DatasetInfo, fit_preprocessing


def make_dataset(num_classes=3, resolution=16, channels=1, n_train=60, n_test=30, zca="none", seed=0):
    """A learnable toy dataset: each class is a different bright square on noise."""
    rng = np.random.RandomState(seed)
    info = DatasetInfo("toy", None, num_classes, resolution, channels, zca)

    def split(n):
        y = np.arange(n) % num_classes
        x = rng.randint(0, 60, (n, resolution, resolution, channels)).astype(np.uint8)
        for i, c in enumerate(y):
            r = (c * resolution) // num_classes
            x[i, r:r + resolution // num_classes, :, :] = 230
        return x, y.astype(np.int32)

    x_train, y_train = split(n_train)
    x_test, y_test = split(n_test)
    pre = fit_preprocessing(info, x_train, cache=False)
    return Dataset(info=info, preprocessing=pre, x_train=pre.transform(x_train), y_train=y_train,
                   x_val=pre.transform(x_test[:6]), y_val=y_test[:6], x_test=pre.transform(x_test), y_test=y_test)


@pytest.fixture
def toy():
    return make_dataset()


def write_npz_dataset(directory, name="mnist", n_train=200, n_test=50, shape=(28, 28, 1), num_classes=10):
    """A small file in the offline .npz layout, named like a real dataset."""
    rng = np.random.RandomState(0)
    np.savez(os.path.join(directory, f"{name}.npz"),
             x_train=rng.randint(0, 256, (n_train, *shape)).astype(np.uint8),
             y_train=np.arange(n_train) % num_classes,
             x_test=rng.randint(0, 256, (n_test, *shape)).astype(np.uint8),
             y_test=np.arange(n_test) % num_classes)
