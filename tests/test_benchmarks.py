"""The benchmark scripts that choose (the preset's selection, the screening) read the validation split."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import screen  # noqa: E402
import select_preset  # noqa: E402


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
