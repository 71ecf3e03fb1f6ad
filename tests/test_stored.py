"""The benchmark results and stored sets live in the package, load, and carry the accuracy the benchmark measured."""
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from frepo_lite import stored
from frepo_lite.stored import DISTILLED_DIR, RESULTS_DIR, describe, load_stored, stored_index

ROOT = Path(__file__).resolve().parents[1]


def test_every_stored_set_loads_with_its_shape_and_is_the_reports_own():
    index = stored_index()
    assert {"mnist_ipc1", "mnist_ipc10", "fashion_mnist_ipc1", "fashion_mnist_ipc10"} <= set(index)
    rows = json.loads((RESULTS_DIR / "selection" / "selection.json").read_text())
    for name, entry in index.items():
        loaded, got = load_stored(entry["dataset"], entry["images_per_class"])
        assert got == entry and entry["file"] == f"cpu_{name}.npz"
        assert loaded.images.shape == (10 * entry["images_per_class"], 28, 28, 1)
        assert loaded.metadata["dataset"] == entry["dataset"]
        assert loaded.metadata["distillation"]["images_per_class"] == entry["images_per_class"]
        row = [r for r in rows if r["split"] == "test" and r["dataset"] == entry["dataset"]
               and r["ipc"] == entry["images_per_class"] and r["trial"].startswith("preset")][-1]
        assert entry["test_accuracy"]["mean"] == row["acc_mean"] and entry["steps"] == row["steps"]
        assert np.isfinite(loaded.images).all()
        assert f"{100 * row['acc_mean']:.1f}" in describe(entry)


def test_the_index_keeps_the_last_test_row_of_the_final_preset(tmp_path, monkeypatch):
    row = lambda ipc, trial="preset_w32", split="test", acc=0.5: {  # noqa: E731
        "dataset": "mnist", "ipc": ipc, "trial": trial, "split": split, "steps": 10, "acc_mean": acc,
        "acc_std": 0.0, "network": "Conv-NN width 32", "accs": [acc], "machine": "m"}
    rows = [row(1, acc=0.1), row(1, acc=0.2), row(10, split="val"), row(50, trial="bn0.9")]
    selection = tmp_path / "selection.json"
    selection.write_text(json.dumps(rows))
    monkeypatch.setattr(stored, "SELECTION_FILE", selection)
    index = stored_index()
    assert list(index) == ["mnist_ipc1"] and index["mnist_ipc1"]["test_accuracy"]["mean"] == 0.2


def test_a_missing_stored_set_says_what_exists():
    with pytest.raises(KeyError, match="stored sets: .*mnist at 1/class"):
        load_stored("cifar10", 1)


def test_results_are_package_data_with_no_copy_elsewhere():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["frepo_lite"]
    package = ROOT / "frepo_lite"
    shipped = {p for pattern in patterns for p in package.glob(pattern)}
    on_disk = {p for p in RESULTS_DIR.rglob("*") if p.is_file()}
    assert on_disk and on_disk <= shipped, sorted(str(p) for p in on_disk - shipped)
    assert {DISTILLED_DIR / e["file"] for e in stored_index().values()} <= shipped
    assert not (ROOT / "benchmarks" / "results").exists()  # one home: the package


def test_benchmark_result_reads_the_packages_results_and_is_none_for_a_missing_one():
    assert stored.benchmark_result("no_such_table.json") is None
    assert stored.benchmark_result("step_speed.json") == json.loads((RESULTS_DIR / "step_speed.json").read_text())
