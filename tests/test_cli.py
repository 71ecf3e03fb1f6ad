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
    assert "distilled 10 images" in text and "[test split, 1 x Conv-NN width 4, 5 steps]" in text
    s = load_distilled(out)
    assert s.images.shape == (10, 28, 28, 1) and s.metadata["distillation"]["width"] == 4
    assert (tmp_path / "set.npz.ckpt").exists()

    main(["show", str(out)])
    assert (tmp_path / "set.png").read_bytes()[:4] == b"\x89PNG"

    main(["--data-dir", data_dir, "evaluate", str(out), "--eval-models", "1", "--eval-steps", "5",
          "--json", str(tmp_path / "r.json")])
    assert "[test split, 1 x Conv-NN width 4, 5 steps]" in capsys.readouterr().out  # the set's width
    assert (tmp_path / "r.json").exists()


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


@pytest.mark.parametrize("argv,message", [
    (["distill", "--dataset", "mnist", "--out", "x.npz", "--steps", "-5"], "--steps: must be >= 1, got -5"),
    (["distill", "--dataset", "mnist", "--out", "x.npz", "--ipc", "0"], "--ipc: must be >= 1"),
    (["distill", "--dataset", "mnist", "--out", "x.npz", "--lr", "0"], "--lr: must be > 0"),
    (["distill", "--dataset", "mnist", "--out", "x.npz", "--batch", "ten"], "--batch: expected an integer"),
    (["distill", "--dataset", "mnist", "--out", "x.npz", "--eval-models", "-1"], "--eval-models: must be >= 0"),
    (["evaluate", "x.npz", "--eval-models", "0"], "--eval-models: must be >= 1"),
    (["evaluate", "x.npz", "--eval-width", "0"], "--eval-width: must be >= 1"),
    (["distill", "--dataset", "mnist", "--out", "x.npz", "--krr-support", "0"], "--krr-support: must be >= 1"),
    (["quickstart", "--steps", "0"], "--steps: must be >= 1")])
def test_numeric_arguments_are_range_checked(argv, message, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    assert message in capsys.readouterr().err


def test_protocol_flag_is_the_papers_evaluation():
    from frepo_lite.cli import _eval_config, build_parser
    args = build_parser().parse_args(["evaluate", "x.npz", "--protocol", "--eval-width", "16"])
    cfg = _eval_config(args, distill_width=32)
    assert (cfg.arch, cfg.norm, cfg.width, cfg.num_models, cfg.steps) == ("conv", "none", 128, 5, None)
    args = build_parser().parse_args(["evaluate", "x.npz"])
    assert _eval_config(args, distill_width=32).width == 32


def test_evaluate_takes_the_krr_settings_of_the_set(data_dir, tmp_path, monkeypatch):
    from frepo_lite import evaluate as E
    out = tmp_path / "set.npz"
    main(["--data-dir", data_dir, "distill", "--dataset", "mnist", "--out", str(out), *FAST_DISTILL[:-5],
          "--eval-models", "0", "--quiet"])
    seen = {}
    monkeypatch.setattr(E, "evaluate_support", lambda *a, **k: seen.update(k) or {
        "acc_mean": 0.5, "acc_std": 0.0, "krr_acc_mean": 0.5, "krr_acc_std": 0.0, "accs": [0.5], "steps": 1,
        "split": "test", "network": "Conv-NN width 4"})
    main(["--data-dir", data_dir, "evaluate", str(out)])
    assert seen["krr_lambda0"] == load_distilled(out).metadata["distillation"]["lambda0"]
    assert seen["krr_flip"] is False


def test_distill_with_a_random_krr_support(data_dir, tmp_path):
    out = tmp_path / "set.npz"
    main(["--data-dir", data_dir, "distill", "--dataset", "mnist", "--out", str(out), *FAST_DISTILL[:-5],
          "--eval-models", "0", "--krr-support", "4", "--quiet"])
    assert load_distilled(out).metadata["distillation"]["krr_support"] == 4
