"""The tensorflow-datasets path end to end, without internet: tfds really downloads the datasets' original
files (from an HTTP server on 127.0.0.1), checks their checksums and prepares the dataset; frepo_lite loads it.

tests/test_data.py::test_tfds_path_with_mock_data skips download_and_prepare; these tests run it, so they fail
when a module that only download_and_prepare imports is missing (importlib_resources: tfds reads it to find a
builder's checksums), or when a download lands in the offline .npz folder ($FREPO_DATA_DIR) instead of
tensorflow-datasets' data directory.

tfds is pointed at the local server through the builders' URLs (MNIST.URL, Cifar10._cifar_info), and the
checksums of the served files are registered the tfds way, tfds.download.add_checksums_dir: tfds checks every
download against them. Apart from those URLs nothing of tfds is replaced or skipped: the builders still look up
their own checksums files, and download_and_prepare runs in full.
"""
import functools
import gzip
import hashlib
import http.server
import io
import os
import struct
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from frepo_lite import data
from frepo_lite import distill as D
from frepo_lite.configs import preset

tfds = pytest.importorskip("tensorflow_datasets")
from tensorflow_datasets.core.download import checksums as tfds_checksums  # noqa: E402
from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError  # noqa: E402
from tensorflow_datasets.image_classification import cifar as tfds_cifar  # noqa: E402
from tensorflow_datasets.image_classification import mnist as tfds_mnist  # noqa: E402

MNIST_FILES = {  # file tfds's mnist builder downloads -> (array of the .npz, idx magic number)
    "train-images-idx3-ubyte.gz": ("x_train", 0x803),
    "train-labels-idx1-ubyte.gz": ("y_train", 0x801),
    "t10k-images-idx3-ubyte.gz": ("x_test", 0x803),
    "t10k-labels-idx1-ubyte.gz": ("y_test", 0x801),
}
CIFAR_ARCHIVE = "cifar-10-binary.tar.gz"
CIFAR_PER_CLASS = 20  # images of each class in each of the 6 batch files


class _Server:
    """An HTTP server on 127.0.0.1 (in a thread) serving the files of `root`; `requested` lists the paths
    asked for. `checksums` is a checksums file in tfds's format: one `url<TAB>size<TAB>sha256<TAB>filename`
    line per served file."""

    def __init__(self, root: Path, checksums: Path):
        self.root, self.checksums, self.requested = root, checksums, []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, format, *args):  # noqa: A002 - the base class's signature
                server.requested.append(self.path)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     functools.partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def serve(self, name: str, content: bytes) -> None:
        """Serve content at url + name and register its size and sha256 for tfds."""
        (self.root / name).write_bytes(content)
        with open(self.checksums, "a") as f:
            f.write(f"{self.url}{name}\t{len(content)}\t{hashlib.sha256(content).hexdigest()}\t{name}\n")


def _forget_loaded_checksums() -> None:
    """tfds reads the checksum folders once per process: make it read them again."""
    tfds_checksums._checksum_paths.cache_clear()
    tfds_checksums.get_all_url_infos.cache_clear()


@pytest.fixture
def server(tmp_path, monkeypatch):
    (tmp_path / "served").mkdir()
    (tmp_path / "checksums").mkdir()
    s = _Server(tmp_path / "served", tmp_path / "checksums" / "served_files.txt")
    monkeypatch.setattr(tfds_checksums, "_CUSTOM_CHECKSUM_DIRS", [])  # tfds's list, restored after the test
    tfds.download.add_checksums_dir(str(tmp_path / "checksums"))
    _forget_loaded_checksums()
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()
    s.thread.join()
    _forget_loaded_checksums()


@pytest.fixture(autouse=True)
def default_dirs_in_tmp(tmp_path, monkeypatch):
    """The ZCA cache and tfds's default data directory (~/tensorflow_datasets) inside tmp_path."""
    monkeypatch.setenv(data.CACHE_DIR_ENV, str(tmp_path / "zca_cache"))
    monkeypatch.setattr(tfds.core.constants, "DATA_DIR", str(tmp_path / "tfds_default"))


def _listing(directory: Path) -> list:
    return sorted((str(p.relative_to(directory)), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in directory.rglob("*"))


def _examples(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(N, 1 + H*W*C) uint8 rows (label, pixels), sorted: tfds shuffles the examples when it prepares a
    dataset, so two sets of arrays hold the same examples when these are equal."""
    assert x.dtype == np.uint8 and y.shape == (len(x),) and 0 <= y.min() and y.max() < 256
    rows = np.ascontiguousarray(np.concatenate([y.astype(np.uint8)[:, None], x.reshape(len(x), -1)], axis=1))
    return np.sort(rows.view(np.dtype((np.void, rows.shape[1]))).ravel()).view(np.uint8).reshape(rows.shape)


def _assert_same_examples(raw: dict, expected: dict) -> None:
    for split in ("train", "test"):
        x, y = raw[f"x_{split}"], raw[f"y_{split}"]
        assert x.shape == expected[f"x_{split}"].shape
        np.testing.assert_array_equal(_examples(x, y), _examples(expected[f"x_{split}"], expected[f"y_{split}"]))


# ----------------------------------------------------------------------------------------------
# MNIST: the real images, served as the four idx .gz files


def _idx(array: np.ndarray, magic: int) -> bytes:
    """The idx format of the MNIST files: big-endian magic number and dimensions, then the uint8 values."""
    array = np.ascontiguousarray(array, np.uint8)
    return struct.pack(f">{1 + array.ndim}I", magic, *array.shape) + array.tobytes()


def test_mnist_is_downloaded_checked_and_prepared_by_tfds(server, tmp_path, monkeypatch):
    offline = Path(os.environ[data.DATA_DIR_ENV]) if os.environ.get(data.DATA_DIR_ENV) else None
    if offline is None or not (offline / "mnist.npz").exists():
        pytest.skip(f"needs ${data.DATA_DIR_ENV}/mnist.npz (the offline MNIST) to serve as the original files")
    offline_before = _listing(offline)
    with np.load(offline / "mnist.npz") as f:
        expected = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    for name, (key, magic) in MNIST_FILES.items():
        array = expected[key][..., 0] if key.startswith("x") else expected[key]  # idx images are (N, 28, 28)
        server.serve(name, gzip.compress(_idx(array, magic), compresslevel=1))
    monkeypatch.setattr(tfds_mnist.MNIST, "URL", server.url)
    monkeypatch.delenv(data.DATA_DIR_ENV)
    tfds_dir = tmp_path / "tfds"

    raw = data.load_raw("mnist", tfds_data_dir=tfds_dir)

    assert sorted(server.requested) == sorted(f"/{name}" for name in MNIST_FILES)  # each downloaded once
    _assert_same_examples(raw, expected)
    assert (tfds_dir / "downloads").is_dir() and list((tfds_dir / "mnist").glob("*/dataset_info.json"))
    assert _listing(offline) == offline_before  # nothing written into the offline .npz folder


# ----------------------------------------------------------------------------------------------
# CIFAR-10: synthetic images in the original binary format


def _synthetic_cifar(seed: int = 0) -> dict:
    """{batch file: (images (n,32,32,3) uint8, labels (n,) uint8)}, CIFAR_PER_CLASS images of each class."""
    rng = np.random.RandomState(seed)
    out = {}
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        labels = rng.permutation(np.repeat(np.arange(10), CIFAR_PER_CLASS)).astype(np.uint8)
        images = rng.randint(0, 256, (len(labels), 32, 32, 3)).astype(np.uint8)
        images[np.arange(len(labels)), 3 * labels] = 255  # a bright row that depends on the class
        out[name] = images, labels
    return out


def _cifar_archive(batches: dict) -> bytes:
    """cifar-10-binary.tar.gz: cifar-10-batches-bin/ holds batches.meta.txt (the class names) and the batch
    files, each record a label byte and the image's R, G and B planes (32x32 each)."""
    members = {"batches.meta.txt": ("\n".join(data.REGISTRY["cifar10"].class_names) + "\n").encode()}
    for name, (images, labels) in batches.items():
        planes = images.transpose(0, 3, 1, 2).reshape(len(images), 3072)
        members[name] = np.concatenate([labels[:, None], planes], axis=1).tobytes()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _expected_cifar(batches: dict) -> dict:
    train = [batches[f"data_batch_{i}.bin"] for i in range(1, 6)]
    return {"x_train": np.concatenate([x for x, _ in train]), "y_train": np.concatenate([y for _, y in train]),
            "x_test": batches["test_batch.bin"][0], "y_test": batches["test_batch.bin"][1]}


@pytest.fixture
def served_cifar(server, monkeypatch):
    """The synthetic batches; their archive is served and tfds's cifar10 builder downloads it from there."""
    batches = _synthetic_cifar()
    server.serve(CIFAR_ARCHIVE, _cifar_archive(batches))
    original = tfds_cifar.Cifar10._cifar_info
    monkeypatch.setattr(tfds_cifar.Cifar10, "_cifar_info",
                        property(lambda self: original.fget(self)._replace(url=server.url + CIFAR_ARCHIVE)))
    return batches


def test_cifar10_from_tfds_is_preprocessed_and_distilled(server, served_cifar, tmp_path, monkeypatch):
    npz_dir = tmp_path / "npz"  # an offline folder without cifar10.npz: tfds must not download into it
    npz_dir.mkdir()
    monkeypatch.setenv(data.DATA_DIR_ENV, str(npz_dir))
    tfds_dir = tmp_path / "tfds"

    ds = data.load_dataset("cifar10", tfds_data_dir=tfds_dir, validation_size=100)

    assert server.requested == [f"/{CIFAR_ARCHIVE}"]
    assert list(npz_dir.iterdir()) == []
    assert (tfds_dir / "downloads").is_dir() and list((tfds_dir / "cifar10").glob("*/dataset_info.json"))
    assert not Path(tfds.core.constants.DATA_DIR).exists()  # tfds_data_dir, not tfds's default
    assert len(ds.x_val) == 100 and np.bincount(ds.y_val).tolist() == [10] * 10
    assert ds.preprocessing.zca == "full" and ds.preprocessing.zca_matrix.shape == (3072, 3072)
    pixels = lambda x: np.rint(ds.preprocessing.inverse(x) * 255).astype(np.uint8)  # noqa: E731
    loaded = {"x_train": pixels(np.concatenate([ds.x_train, ds.x_val])),
              "y_train": np.concatenate([ds.y_train, ds.y_val]), "x_test": pixels(ds.x_test), "y_test": ds.y_test}
    _assert_same_examples(loaded, _expected_cifar(served_cifar))

    cfg = preset("cpu", "cifar10", width=8, real_batch=32, online_batch=10, pool_size=1, max_online_steps=1,
                   steps=1, images_per_class=1)
    assert D.krr_settings(cfg, ds.info)["krr_flip"]  # CIFAR-10: flips are used
    initial, _ = D.init_distilled(ds, cfg)
    result = D.distill(ds, cfg, progress=False, log_every=1)
    assert result.steps_done == 1 and len(result.history["loss"]) == 1 and np.isfinite(result.history["loss"]).all()
    assert result.images.shape == (10, 32, 32, 3) and not np.allclose(result.images, initial)


def test_cifar10_download_goes_to_tfds_default_directory(server, served_cifar, tmp_path, monkeypatch):
    """Without tfds_data_dir, tfds's own default ($TFDS_DATA_DIR or ~/tensorflow_datasets; default_dirs_in_tmp
    points it into tmp_path) is used; the $FREPO_DATA_DIR folder, which has no cifar10.npz, stays untouched."""
    npz_dir = tmp_path / "npz"
    npz_dir.mkdir()
    monkeypatch.setenv(data.DATA_DIR_ENV, str(npz_dir))
    default_dir = Path(tfds.core.constants.DATA_DIR)

    raw = data.load_raw("cifar10")

    _assert_same_examples(raw, _expected_cifar(served_cifar))
    assert list(npz_dir.iterdir()) == []
    assert list((default_dir / "cifar10").glob("*/dataset_info.json"))


def test_a_download_with_a_wrong_checksum_is_refused(server, served_cifar, tmp_path, monkeypatch):
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    sha256 = hashlib.sha256((server.root / CIFAR_ARCHIVE).read_bytes()).hexdigest()
    server.checksums.write_text(server.checksums.read_text().replace(sha256, "0" * 64))
    with pytest.raises(NonMatchingChecksumError):
        data.load_raw("cifar10", tfds_data_dir=tmp_path / "tfds")
    assert server.requested == [f"/{CIFAR_ARCHIVE}"]
