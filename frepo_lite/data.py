"""Datasets: loading, preprocessing (standardisation, ZCA), splits and class-balanced sampling.

Images are NHWC float32 throughout. A dataset is loaded

* from a directory of ``.npz`` files named by the environment variable ``FREPO_DATA_DIR`` (or the
  ``data_dir`` argument): ``<dir>/<name>.npz`` with ``x_train (N,H,W,C) uint8``, ``y_train (N,) int``,
  ``x_test``, ``y_test``; this directory is only read, never written; else
* from tensorflow-datasets (needs internet the first time), which downloads and prepares the dataset in
  its own data directory: ``$TFDS_DATA_DIR``, else ``~/tensorflow_datasets``, or the ``tfds_data_dir``
  argument.

Preprocessing is a plain numpy object (:class:`Preprocessing`) so that an exported distilled set can be
turned back into pixels by someone who has only numpy.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import numpy as np

DATA_DIR_ENV = "FREPO_DATA_DIR"
CACHE_DIR_ENV = "FREPO_CACHE_DIR"
ZCA_REGULARIZATION = 0.1  # reg = 0.1 * trace(cov) / d, as in KIP and FRePo


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a dataset: what the models and the preprocessing need to know."""

    name: str
    tfds_name: str | None  # None: only available as an offline .npz
    num_classes: int
    resolution: int  # images are resolution x resolution after loading
    channels: int
    zca: str  # "none" | "full" | "checkerboard"
    test_split: str = "test"
    class_names: tuple[str, ...] | None = None  # None: the class ids "0", "1", ...

    @property
    def is_rgb(self) -> bool:
        return self.channels == 3

    @property
    def labels_text(self) -> tuple[str, ...]:
        """A short name per class, for figure titles."""
        return self.class_names or tuple(str(c) for c in range(self.num_classes))


REGISTRY: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo("mnist", "mnist", 10, 28, 1, "none"),
    "fashion_mnist": DatasetInfo("fashion_mnist", "fashion_mnist", 10, 28, 1, "none", class_names=(
        "T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot")),
    "cifar10": DatasetInfo("cifar10", "cifar10", 10, 32, 3, "full", class_names=(
        "plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")),
    "cifar100": DatasetInfo("cifar100", "cifar100", 100, 32, 3, "full"),
    "svhn": DatasetInfo("svhn", "svhn_cropped", 10, 32, 3, "full"),
    "tiny_imagenet": DatasetInfo("tiny_imagenet", None, 200, 64, 3, "full"),
    "imagenette": DatasetInfo("imagenette", "imagenette/full-size-v2", 10, 128, 3, "checkerboard",
                              test_split="validation"),
    "imagewoof": DatasetInfo("imagewoof", "imagewoof/full-size-v2", 10, 128, 3, "checkerboard",
                             test_split="validation"),
}


def dataset_info(name: str) -> DatasetInfo:
    """Look up a dataset by name; an unknown name lists the known ones."""
    if name not in REGISTRY:
        raise ValueError(f"Unknown dataset {name!r}. Known datasets: {', '.join(sorted(REGISTRY))}. "
                         "Register another with frepo_lite.data.register_dataset(DatasetInfo(...)).")
    return REGISTRY[name]


def register_dataset(info: DatasetInfo) -> None:
    """Add a dataset (any tfds builder name or offline .npz) to the registry."""
    if info.zca not in ("none", "full", "checkerboard"):
        raise ValueError(f"zca must be 'none', 'full' or 'checkerboard', got {info.zca!r}")
    REGISTRY[info.name] = info


# ----------------------------------------------------------------------------------------------
# Preprocessing


@dataclasses.dataclass
class Preprocessing:
    """Pixels in [0, 1] -> model space, and back. numpy only.

    mean, std: (C,) per-channel statistics of the training set on [0, 1] pixels.
    zca: "none" | "full" | "checkerboard"; zca_matrix (d, d) and its inverse, zca_mean (d,), where d is
    H*W*C for "full" and (H/2)*(W/2)*C for "checkerboard" (one transform shared by the 4 stride-2
    sub-images).
    """

    mean: np.ndarray
    std: np.ndarray
    zca: str = "none"
    zca_mean: np.ndarray | None = None
    zca_matrix: np.ndarray | None = None
    zca_inverse: np.ndarray | None = None

    def transform(self, pixels: np.ndarray) -> np.ndarray:
        """(N,H,W,C) pixels in [0,1] (or uint8 0..255) -> (N,H,W,C) float32 model inputs."""
        x = np.asarray(pixels)
        x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
        x = (x - self.mean) / self.std
        if self.zca != "none":
            x = _apply_zca(x, self.zca, self.zca_mean, self.zca_matrix)
        return x.astype(np.float32)

    def inverse(self, x: np.ndarray) -> np.ndarray:
        """(N,H,W,C) model inputs -> (N,H,W,C) float32 pixels, clipped to [0, 1]."""
        x = np.asarray(x, dtype=np.float32)
        if self.zca != "none":
            x = _apply_zca(x, self.zca, None, self.zca_inverse, add_mean=self.zca_mean)
        return np.clip(x * self.std + self.mean, 0.0, 1.0).astype(np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays to store beside an exported set (prefix ``pre_``)."""
        out = {"pre_mean": self.mean, "pre_std": self.std}
        if self.zca != "none":
            out.update(pre_zca_mean=self.zca_mean, pre_zca_matrix=self.zca_matrix,
                       pre_zca_inverse=self.zca_inverse)
        return out

    @classmethod
    def from_arrays(cls, zca: str, arrays) -> "Preprocessing":
        get = lambda k: np.asarray(arrays[k]) if k in arrays else None  # noqa: E731
        return cls(mean=get("pre_mean"), std=get("pre_std"), zca=zca, zca_mean=get("pre_zca_mean"),
                   zca_matrix=get("pre_zca_matrix"), zca_inverse=get("pre_zca_inverse"))


def _to_blocks(x: np.ndarray, mode: str) -> np.ndarray:
    """(N,H,W,C) -> (M, d) rows for the ZCA: whole images, or the 4 stride-2 sub-images of each."""
    n = x.shape[0]
    if mode == "full":
        return x.reshape(n, -1)
    subs = [x[:, i::2, j::2, :] for i in (0, 1) for j in (0, 1)]
    return np.stack(subs, 1).reshape(n * 4, -1)


def _from_blocks(rows: np.ndarray, shape: tuple, mode: str) -> np.ndarray:
    if mode == "full":
        return rows.reshape(shape)
    n, h, w, c = shape
    subs = rows.reshape(n, 4, h // 2, w // 2, c)
    out = np.empty(shape, rows.dtype)
    for k, (i, j) in enumerate((i, j) for i in (0, 1) for j in (0, 1)):
        out[:, i::2, j::2, :] = subs[:, k]
    return out


def _apply_zca(x, mode, mean, matrix, add_mean=None):
    rows = _to_blocks(x, mode)
    if mean is not None:
        rows = rows - mean
    rows = rows @ matrix
    if add_mean is not None:
        rows = rows + add_mean
    return _from_blocks(rows.astype(np.float32), x.shape, mode)


def fit_zca(x: np.ndarray, mode: str = "full", regularization: float = ZCA_REGULARIZATION):
    """Regularised ZCA of standardised images x (N,H,W,C).

    Returns (mean (d,), W (d,d), W^-1 (d,d)) with cov = Xc^T Xc / N, reg = regularization*tr(cov)/d,
    W = U diag((s + reg)^-1/2) U^T.
    """
    rows = _to_blocks(np.asarray(x, np.float32), mode).astype(np.float64)
    mean = rows.mean(0)
    rows -= mean
    cov = rows.T @ rows / rows.shape[0]
    s, u = np.linalg.eigh(cov)
    s = np.maximum(s, 0.0) + regularization * np.trace(cov) / cov.shape[0]
    w = (u * s ** -0.5) @ u.T
    w_inv = (u * s ** 0.5) @ u.T
    return mean.astype(np.float32), w.astype(np.float32), w_inv.astype(np.float32)


def _cache_dir() -> Path:
    return Path(os.environ.get(CACHE_DIR_ENV, Path.home() / ".cache" / "frepo_lite"))


def fit_preprocessing(info: DatasetInfo, x_train_pixels: np.ndarray, cache: bool = True) -> Preprocessing:
    """Per-channel standardisation (+ the dataset's ZCA) fitted on training pixels (N,H,W,C) uint8."""
    x = x_train_pixels.astype(np.float32) / 255.0
    mean = x.mean((0, 1, 2))
    std = x.std((0, 1, 2))
    pre = Preprocessing(mean=mean, std=std)
    if info.zca == "none":
        return pre
    key = hashlib.sha1(np.ascontiguousarray(x_train_pixels[::97]).tobytes()).hexdigest()[:12]
    path = _cache_dir() / f"zca_{info.name}_{info.zca}_{ZCA_REGULARIZATION}_{len(x)}_{key}.npz"
    if cache and path.exists():
        z = np.load(path)
        zmean, w, w_inv = z["mean"], z["w"], z["w_inv"]
    else:
        zmean, w, w_inv = fit_zca((x - mean) / std, info.zca)
        if cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, mean=zmean, w=w, w_inv=w_inv)
            os.replace(tmp, path)
    return dataclasses.replace(pre, zca=info.zca, zca_mean=zmean, zca_matrix=w, zca_inverse=w_inv)


# ----------------------------------------------------------------------------------------------
# Loading


@dataclasses.dataclass
class Dataset:
    """A preprocessed dataset. x_*: (N,H,W,C) float32 in model space; y_*: (N,) int32 class ids."""

    info: DatasetInfo
    preprocessing: Preprocessing
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def num_classes(self) -> int:
        return self.info.num_classes


def _check_raw(name: str, source: str, arrays: dict) -> None:
    for k in ("x_train", "y_train", "x_test", "y_test"):
        if k not in arrays:
            raise ValueError(f"{source} has no array {k!r}: a dataset file needs x_train, y_train, x_test, "
                             f"y_test (see the layout in the README)")
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 4 or x.dtype != np.uint8:
            raise ValueError(f"{source}: x_{split} must be (N,H,W,C) uint8, got {x.shape} {x.dtype}")
        if y.shape != (x.shape[0],):
            raise ValueError(f"{source}: y_{split} must be ({x.shape[0]},), got {y.shape}")


def _load_npz(path: Path) -> dict:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def _load_tfds(info: DatasetInfo, tfds_data_dir: str | None) -> dict:
    """Both splits through tfds.load, which downloads and prepares the dataset into tfds_data_dir (None:
    tfds's default directory) the first time."""
    if info.tfds_name is None:
        raise ValueError(f"Dataset {info.name!r} is not in tensorflow-datasets: put {info.name}.npz into "
                         f"the directory named by ${DATA_DIR_ENV}.")
    try:
        import tensorflow as tf
        import tensorflow_datasets as tfds
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("Loading through tensorflow-datasets needs `tensorflow-datasets` and the "
                          "TensorFlow CPU runtime: pip install 'frepo-lite' (they are dependencies), or "
                          f"set ${DATA_DIR_ENV} to a directory of .npz files.") from e
    tf.config.set_visible_devices([], "GPU")  # leave the accelerator to JAX
    out = {}
    for split, tfds_split in (("train", "train"), ("test", info.test_split)):
        ds = tfds.load(info.tfds_name, split=tfds_split, as_supervised=True, data_dir=tfds_data_dir)
        r = info.resolution
        ds = ds.map(lambda x, y: (tf.cast(tf.image.resize(x, (r, r), antialias=True) if x.shape[0] != r
                                          else x, tf.uint8), y))
        xs, ys = zip(*tfds.as_numpy(ds.batch(4096)))
        out[f"x_{split}"], out[f"y_{split}"] = np.concatenate(xs), np.concatenate(ys)
    return out


def load_raw(name: str, data_dir: str | os.PathLike | None = None,
             tfds_data_dir: str | os.PathLike | None = None) -> dict:
    """Raw uint8 arrays {x_train, y_train, x_test, y_test}: <data_dir>/<name>.npz if that file exists, else
    from tensorflow-datasets.

    data_dir: the directory of offline .npz files (default $FREPO_DATA_DIR); it is only read: a dataset
    that has no .npz there is not downloaded into it.
    tfds_data_dir: where tensorflow-datasets keeps the datasets it downloads and prepares; None: its
    default, $TFDS_DATA_DIR or else ~/tensorflow_datasets.
    """
    info = dataset_info(name)
    data_dir = data_dir or os.environ.get(DATA_DIR_ENV)
    npz = Path(data_dir) / f"{name}.npz" if data_dir else None
    if npz is not None and npz.exists():
        arrays, source = _load_npz(npz), str(npz)
    else:
        tfds_dir = str(tfds_data_dir) if tfds_data_dir else None
        arrays, source = _load_tfds(info, tfds_dir), f"tfds:{info.tfds_name}"
    _check_raw(name, source, arrays)
    if arrays["x_train"].shape[1:] != (info.resolution, info.resolution, info.channels):
        raise ValueError(f"{source}: images are {arrays['x_train'].shape[1:]}, expected "
                         f"{(info.resolution, info.resolution, info.channels)} for {name}")
    return arrays


def stratified_split(y: np.ndarray, size: int, num_classes: int, seed: int = 0):
    """Indices (rest, held_out) with size // num_classes held-out examples of every class."""
    per_class = size // num_classes
    rng = np.random.RandomState(seed)
    held = [rng.permutation(np.flatnonzero(y == c))[:per_class] for c in range(num_classes)]
    held = np.sort(np.concatenate(held)) if held else np.zeros(0, int)
    rest = np.setdiff1d(np.arange(len(y)), held)
    return rest, held


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, validation_size: int = 5000,
                 cache_zca: bool = True, tfds_data_dir: str | os.PathLike | None = None) -> Dataset:
    """Load and preprocess a dataset.

    data_dir, tfds_data_dir: where the raw images come from, as in :func:`load_raw` (the .npz directory,
    default $FREPO_DATA_DIR; tensorflow-datasets' own data directory, default $TFDS_DATA_DIR or
    ~/tensorflow_datasets).

    validation_size examples (class-balanced, at most a tenth of the training set) are held out of the
    training set for any model selection; the preprocessing is fitted on the remaining training images.
    """
    info = dataset_info(name)
    raw = load_raw(name, data_dir, tfds_data_dir)
    y_all = raw["y_train"].astype(np.int32)
    validation_size = min(validation_size, len(y_all) // 10)  # small (test) datasets keep 90 % for training
    train, val = stratified_split(y_all, validation_size, info.num_classes)
    pre = fit_preprocessing(info, raw["x_train"][train], cache=cache_zca)
    x_all = pre.transform(raw["x_train"])
    return Dataset(info=info, preprocessing=pre, x_train=x_all[train], y_train=y_all[train],
                   x_val=x_all[val], y_val=y_all[val], x_test=pre.transform(raw["x_test"]),
                   y_test=raw["y_test"].astype(np.int32))


def _indices_by_class(y: np.ndarray, per_class: int, num_classes: int) -> list[np.ndarray]:
    """The indices of each class's examples, [(n_c,)] for c < num_classes, checked to hold per_class each."""
    if per_class < 1:
        raise ValueError(f"images per class must be >= 1, got {per_class}")
    members = [np.flatnonzero(y == c) for c in range(num_classes)]
    for c, idx in enumerate(members):
        if len(idx) < per_class:
            raise ValueError(f"class {c} has only {len(idx)} examples, fewer than the {per_class} images per "
                             "class asked for: ask for fewer images per class")
    return members


def class_balanced_indices(y: np.ndarray, per_class: int, num_classes: int, seed: int = 0) -> np.ndarray:
    """Indices of per_class random examples of each class, ordered class by class: (num_classes*per_class,)."""
    rng = np.random.RandomState(seed)
    return np.concatenate([rng.choice(idx, per_class, replace=False)
                           for idx in _indices_by_class(y, per_class, num_classes)])


def herding_indices(x: np.ndarray, y: np.ndarray, per_class: int, num_classes: int) -> np.ndarray:
    """Indices of per_class examples of each class chosen by herding (Welling 2009; iCaRL's exemplars),
    ordered class by class: (num_classes*per_class,).

    x (N, ...) features (here: preprocessed pixels, flattened), y (N,) int labels. For each class, step k
    picks the example that brings the mean of the k picked so far closest to the class mean. Deterministic.
    """
    out = []
    for idx in _indices_by_class(y, per_class, num_classes):
        xc = x[idx].reshape(len(idx), -1).astype(np.float64)
        mu, total, picked = xc.mean(0), np.zeros(xc.shape[1]), []
        for k in range(1, per_class + 1):
            dist = np.linalg.norm(mu - (total + xc) / k, axis=1)
            dist[picked] = np.inf
            picked.append(int(np.argmin(dist)))
            total += xc[picked[-1]]
        out.append(idx[picked])
    return np.concatenate(out)
