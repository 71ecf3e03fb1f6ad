"""The benchmark scripts that choose (the preset's selection, the screening) read the validation split."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import screen  # noqa: E402
import select_preset  # noqa: E402
import labels as labels_bench  # noqa: E402
import transfer as transfer_bench  # noqa: E402


class FakeResult:
    def __init__(self, n=10):
        self.images = np.zeros((n, 28, 28, 1), np.float32)
        self.labels = np.zeros((n, 10), np.float32)
        self.steps_done, self.seconds = 1, 1.0
        self.history = {"seconds": 1.0, "krr_fallbacks": 0, "krr_loss": [0.1]}


def fake_evaluation(calls):
    def evaluate_support(images, labels, data, cfg, split="test", **kw):
        calls.append(split)
        return {"acc_mean": 0.5 + 0.01 * len(calls), "acc_std": 0.0, "krr_acc_mean": 0.5, "krr_acc_std": 0.0,
                "accs": [0.5], "krr_accs": [0.5], "steps": 1, "split": split, "network": "Conv-NN width 32"}
    return evaluate_support


@pytest.fixture
def selection(tmp_path, monkeypatch, toy):
    """select_preset with its distillation and evaluation faked, writing into tmp_path."""
    calls = []
    monkeypatch.setattr(select_preset, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(select_preset, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(select_preset, "load_dataset", lambda name: toy)
    monkeypatch.setattr(select_preset, "distill", lambda data, cfg, **kw: FakeResult())
    monkeypatch.setattr(select_preset, "save_distilled", lambda *a, **k: None)
    monkeypatch.setattr(select_preset, "evaluate_support", fake_evaluation(calls))
    monkeypatch.setattr(select_preset, "machine", lambda: "test machine")
    return calls


def test_every_selection_phase_reads_only_the_validation_split(selection):
    select_preset.cmd_bn_momentum(None, {})
    select_preset.cmd_cpu_tuned(None, {})
    select_preset.cmd_others(None, {})
    assert selection and set(selection) == {"val"}
    rows = json.loads((select_preset.RESULTS / "selection.json").read_text())
    assert {r["split"] for r in rows} == {"val"}
    assert "| val |" in (select_preset.RESULTS / "selection.md").read_text()


def test_choose_picks_the_best_mean_validation_accuracy_and_ignores_test_rows():
    rows = [{"trial": "a", "dataset": "d", "ipc": 1, "split": "val", "acc_mean": 0.80},
            {"trial": "b", "dataset": "d", "ipc": 1, "split": "val", "acc_mean": 0.82},
            {"trial": "a", "dataset": "d", "ipc": 1, "split": "test", "acc_mean": 0.99}]
    assert select_preset.choose(rows, ["a", "b"]) == "b"


def test_screening_evaluates_on_the_validation_split(tmp_path, monkeypatch, toy):
    calls = []
    monkeypatch.setattr(screen, "SCREEN", tmp_path)
    (tmp_path / "steps.json").write_text(json.dumps({"t": {"overrides": {}, "steps": 3, "ms_per_step": 1.0}}))
    monkeypatch.setattr(screen, "load_dataset", lambda name: toy)
    monkeypatch.setattr(screen, "distill", lambda data, cfg, **kw: FakeResult())
    monkeypatch.setattr(screen, "evaluate_support", fake_evaluation(calls))
    monkeypatch.setattr(screen, "machine", lambda: "test machine")

    class Args:
        dataset, ipc = "mnist", 1
    screen.cmd_run(Args, {"t": {}})
    assert calls == ["val"]
    assert json.loads((tmp_path / "screen.json").read_text())[0]["frepo"]["split"] == "val"


def test_transfer_benchmark_distills_one_set_per_pool_and_writes_its_table(tmp_path, monkeypatch, toy):
    configs, evaluated = [], []

    def fake_distill(data, cfg, **kw):
        configs.append((cfg.arch, cfg.norm, cfg.images_per_class))
        return FakeResult(n=3)

    def fake_transfer(sets, data, archs, cfg, split, resume_dir):
        evaluated.append((list(sets), archs, split, cfg.width, cfg.num_models, cfg.steps))
        return [{"set": s, "arch": a, "network": a, "acc_mean": 0.5, "acc_std": 0.01, "accs": [0.5], "split": split,
                 "steps": cfg.steps} for s in sets for a in archs]

    monkeypatch.setattr(transfer_bench, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(transfer_bench, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(transfer_bench, "load_dataset", lambda name: toy)
    monkeypatch.setattr(transfer_bench, "distill", fake_distill)
    monkeypatch.setattr(transfer_bench, "evaluate_transfer", fake_transfer)
    monkeypatch.setattr(transfer_bench, "machine", lambda: "test machine")
    transfer_bench.main(["--datasets", "mnist", "--ipc", "1", "--archs", "Conv-NN", "AlexNet",
                         "--eval-width", "32", "--eval-models", "2", "--eval-steps", "300"])
    assert configs == [("conv", "batch", 1), ("conv", "instance", 1), ("conv", "none", 1), ("dc_conv", "instance", 1)]
    assert evaluated == [(["Conv-BN", "Conv-IN", "Conv-NN", "DC ConvNet-IN", "random real subset"],
                          ["Conv-NN", "AlexNet"], "test", 32, 2, 300)]
    table = (tmp_path / "results" / "transfer_mnist.md").read_text()
    assert "| random real subset | 50.0 ± 1.0 | 50.0 ± 1.0 |" in table and "test machine" in table
    assert "for 300 steps (width 32;" in table
    saved = json.loads((tmp_path / "results" / "transfer_mnist.json").read_text())
    assert len(saved["rows"]) == 10 and saved["eval_width"] == 32 and "--eval-width 32" in saved["command"]


def test_labels_benchmark_pairs_the_preset_with_its_fixed_label_twin(selection, tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(select_preset, "distill", lambda data, cfg, **kw: (seen.append(cfg), FakeResult())[1])
    monkeypatch.setattr(labels_bench, "RESULTS", tmp_path / "results")
    labels_bench.main(["--rows", "fashion_mnist:10", "mnist:1"])
    # each row: the package's cpu preset (Fashion-MNIST 10/cls with its tuned settings) and the same without
    # label learning, evaluated on the test split only
    assert [(c.images_per_class, c.learn_labels, c.lambda0) for c in seen] == \
        [(10, True, 1e-2), (10, False, 1e-2), (1, True, 1e-6), (1, False, 1e-6)]
    assert set(selection) == {"test"}
    table = (tmp_path / "results" / "labels_fashion_mnist.md").read_text()
    assert "| 10 | 51.0 ± 0.0 (50.0) | 52.0 ± 0.0 (50.0) | -1.0 | 86.2 | 86.0 | 1 x Conv-NN width 32 |" in table
    rows = json.loads((tmp_path / "results" / "labels_mnist.json").read_text())["rows"]
    assert [r["ipc"] for r in rows] == [1] and rows[0]["fixed"]["settings"]["learn_labels"] is False
