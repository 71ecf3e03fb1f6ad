import numpy as np
import pytest

from conftest import write_npz_dataset
from frepo_lite.cli import main
from frepo_lite.export import load_distilled

FAST_DISTILL = ["--ipc", "1", "--steps", "3", "--width", "4", "--batch", "32", "--eval-models", "1",
                "--eval-steps", "5", "--quiet"]


@pytest.fixture
def data_dir(tmp_path):
    write_npz_dataset(tmp_path)
    return str(tmp_path)


def test_distill_show_and_evaluate(data_dir, tmp_path, capsys):
    out = tmp_path / "set.npz"
    main(["--data-dir", data_dir, "distill", "--dataset", "mnist", "--out", str(out), *FAST_DISTILL])
    text = capsys.readouterr().out
    assert "distilled 10 images" in text and "test accuracy" in text
    s = load_distilled(out)
    assert s.images.shape == (10, 28, 28, 1) and s.metadata["distillation"]["width"] == 4
    assert (tmp_path / "set.npz.ckpt").exists()

    main(["show", str(out)])
    assert (tmp_path / "set.png").read_bytes()[:4] == b"\x89PNG"

    main(["--data-dir", data_dir, "evaluate", str(out), "--eval-models", "1", "--eval-steps", "5",
          "--json", str(tmp_path / "r.json")])
    assert "test accuracy" in capsys.readouterr().out and (tmp_path / "r.json").exists()


def test_distill_refuses_to_overwrite(data_dir, tmp_path):
    out = tmp_path / "mine.npz"
    out.write_bytes(b"precious")
    with pytest.raises(SystemExit, match="already exists"):
        main(["--data-dir", data_dir, "distill", "--dataset", "mnist", "--out", str(out), *FAST_DISTILL])
    assert out.read_bytes() == b"precious"


def test_random_subset_baseline(data_dir, capsys):
    main(["--data-dir", data_dir, "evaluate", "--random-subset", "--dataset", "mnist", "--ipc", "2",
          "--eval-models", "1", "--eval-steps", "5", "--eval-width", "4"])
    assert "random subset of 2 image(s)/class of mnist" in capsys.readouterr().out


def test_clear_errors(data_dir, tmp_path):
    with pytest.raises(SystemExit, match="Unknown dataset 'cifar11'"):
        main(["--data-dir", data_dir, "distill", "--dataset", "cifar11", "--out", str(tmp_path / "x.npz")])
    with pytest.raises(SystemExit, match="fewer than the 500 images per class"):
        main(["--data-dir", data_dir, "distill", "--dataset", "mnist", "--ipc", "500", "--batch", "32",
              "--out", str(tmp_path / "x.npz")])
    with pytest.raises(SystemExit, match="real_batch=256 exceeds the 180 training images"):
        main(["--data-dir", data_dir, "distill", "--dataset", "mnist", "--out", str(tmp_path / "x.npz")])
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(SystemExit, match="not a readable .npz"):
        main(["evaluate", str(tmp_path / "junk.npz")])
    with pytest.raises(SystemExit, match="--random-subset needs"):
        main(["evaluate", "--random-subset"])


def test_quickstart(tmp_path, capsys):
    write_npz_dataset(tmp_path, n_train=400)  # the cpu preset draws real batches of 256
    main(["--data-dir", str(tmp_path), "quickstart", "--out-dir", str(tmp_path / "qs"), "--steps", "2",
          "--eval-models", "1", "--eval-steps", "3"])
    text = capsys.readouterr().out
    assert "10 distilled images" in text and "10 random real images" in text
    assert len(list((tmp_path / "qs").glob("*.png"))) == 1
    assert np.isfinite(load_distilled(next((tmp_path / "qs").glob("*.npz"))).images).all()
