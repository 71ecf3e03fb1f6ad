import json

import numpy as np
import pytest

from conftest import make_dataset
from frepo_lite.export import build_metadata, free_path, load_distilled, save_distilled
from frepo_lite.viz import image_grid, save_grid_png


def exported(tmp_path, zca="none", channels=1):
    ds = make_dataset(channels=channels, zca=zca)
    x, y = ds.x_train[:6], np.eye(3, dtype=np.float32)[ds.y_train[:6]]
    path = save_distilled(tmp_path / "set.npz", x, y, ds.preprocessing, build_metadata(ds.info, {"lr": 1.0}))
    return ds, x, y, path


def test_round_trip(tmp_path):
    ds, x, y, path = exported(tmp_path)
    s = load_distilled(path)
    np.testing.assert_array_equal(s.images, x)
    np.testing.assert_array_equal(s.labels, y)
    assert s.metadata["dataset"] == "toy" and s.metadata["distillation"] == {"lr": 1.0}
    np.testing.assert_allclose(s.pixels(), ds.preprocessing.inverse(x))


@pytest.mark.parametrize("zca", ["none", "full"])
def test_numpy_alone_recovers_the_pixels(tmp_path, zca):
    ds, x, _, path = exported(tmp_path, zca=zca, channels=3)
    f = np.load(path)  # what someone without frepo_lite does, following the module docstring
    meta = json.loads(str(f["metadata"]))
    rows = f["images"].reshape(len(f["images"]), -1)
    if meta["preprocessing"]["zca"] == "full":
        rows = rows @ f["pre_zca_inverse"] + f["pre_zca_mean"]
    pixels = np.clip(rows.reshape(f["images"].shape) * f["pre_std"] + f["pre_mean"], 0, 1)
    np.testing.assert_allclose(pixels, load_distilled(path).pixels(), atol=1e-6)
    raw = ds.preprocessing.inverse(ds.x_train[:6])
    np.testing.assert_allclose(pixels, raw, atol=1e-4)


def test_existing_file_is_never_overwritten_silently(tmp_path):
    ds, x, y, path = exported(tmp_path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite"):
        save_distilled(path, x * 0, y, ds.preprocessing, build_metadata(ds.info))
    assert path.read_bytes() == before
    save_distilled(path, x * 0, y, ds.preprocessing, build_metadata(ds.info), overwrite=True)
    assert (load_distilled(path).images == 0).all()


def test_free_path_never_points_at_an_existing_file(tmp_path):
    assert free_path(tmp_path / "set.npz") == tmp_path / "set.npz"
    exported(tmp_path)
    assert free_path(tmp_path / "set.npz") == tmp_path / "set-2.npz"
    (tmp_path / "set-2.npz").write_bytes(b"")
    assert free_path(tmp_path / "set.npz") == tmp_path / "set-3.npz"


def test_corrupt_and_foreign_files_are_refused(tmp_path):
    _, _, _, path = exported(tmp_path)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="not a readable .npz"):
        load_distilled(truncated)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.zeros(3))
    with pytest.raises(ValueError, match="not a frepo_lite distilled set"):
        load_distilled(foreign)
    f = dict(np.load(path))
    f["metadata"] = np.array(json.dumps({**json.loads(str(f["metadata"])), "format": "other"}))
    np.savez(tmp_path / "other.npz", **f)
    with pytest.raises(ValueError, match="metadata format"):
        load_distilled(tmp_path / "other.npz")
    f["metadata"] = np.array("{not json")
    np.savez(tmp_path / "badjson.npz", **f)
    with pytest.raises(ValueError, match="not valid JSON"):
        load_distilled(tmp_path / "badjson.npz")
    with pytest.raises(FileNotFoundError):
        load_distilled(tmp_path / "missing.npz")


def test_wrong_shapes_are_refused(tmp_path):
    ds = make_dataset()
    meta = build_metadata(ds.info)
    with pytest.raises(ValueError, match="labels have shape"):
        save_distilled(tmp_path / "a.npz", ds.x_train[:6], np.zeros((6, 4)), ds.preprocessing, meta)
    with pytest.raises(ValueError, match="images have shape"):
        save_distilled(tmp_path / "a.npz", ds.x_train[:6, :8], np.zeros((6, 3)), ds.preprocessing, meta)


def test_png_grid(tmp_path):
    grid = image_grid(np.zeros((5, 4, 4, 1)), ncols=3)
    assert grid.shape == (2 * 5 - 1, 3 * 5 - 1, 1)
    save_grid_png(tmp_path / "g.png", np.random.rand(6, 4, 4, 1), ncols=3)
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"


def test_figures():
    import matplotlib
    matplotlib.use("Agg")
    from frepo_lite.viz import plot_distilled, plot_history, plot_labels

    labels = np.eye(3, dtype=np.float32)[[0, 1, 2, 2]]
    fig = plot_distilled(np.random.rand(4, 4, 4, 1), labels, class_names=["a", "b", "c"], title="t")
    assert [ax.get_title() for ax in fig.axes[:4]] == ["a (1.00)", "b (1.00)", "c (1.00)", "c (1.00)"]
    assert plot_labels(labels).axes[0].get_xlabel() == "class"
    assert plot_labels(np.eye(10)[np.arange(100) % 10]).get_size_inches()[1] <= 8  # 100 rows stay on screen
    fig = plot_history({"step": [1, 2], "loss": [1.0, 0.5], "krr_batch_acc": [0.1, 0.2], "image_norm": []})
    assert [ax.get_title() for ax in fig.axes] == ["loss", "krr_batch_acc"]
