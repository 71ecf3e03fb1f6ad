"""The stored sets ship with the package, load, and carry the accuracy the benchmark measured."""
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from frepo_lite.stored import STORED_DIR, describe, load_stored, stored_index

ROOT = Path(__file__).resolve().parents[1]


def test_every_stored_set_loads_with_its_shape_and_is_the_benchmarks_own():
    index = stored_index()
    assert {"mnist_ipc1", "mnist_ipc10", "fashion_mnist_ipc1", "fashion_mnist_ipc10"} <= set(index)
    rows = json.loads((ROOT / "benchmarks/results/selection/selection.json").read_text())
    for name, entry in index.items():
        stored, got = load_stored(entry["dataset"], entry["images_per_class"])
        assert got == entry
        assert stored.images.shape == (10 * entry["images_per_class"], 28, 28, 1)
        assert stored.metadata["dataset"] == entry["dataset"]
        assert stored.metadata["distillation"]["images_per_class"] == entry["images_per_class"]
        same = (ROOT / "benchmarks/results/distilled" / f"cpu_{name}.npz").read_bytes()
        assert (STORED_DIR / entry["file"]).read_bytes() == same
        row = [r for r in rows if r["split"] == "test" and r["dataset"] == entry["dataset"]
               and r["ipc"] == entry["images_per_class"] and r["trial"].startswith("preset")][-1]
        assert entry["test_accuracy"]["mean"] == row["acc_mean"] and entry["steps"] == row["steps"]
        assert np.isfinite(stored.images).all()
        assert f"{100 * row['acc_mean']:.1f}" in describe(entry)


def test_a_missing_stored_set_says_what_exists():
    with pytest.raises(KeyError, match="stored sets: .*mnist at 1/class"):
        load_stored("cifar10", 1)


def test_stored_sets_are_package_data():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "frepo_lite.stored_sets" in setuptools["packages"]
    patterns = setuptools["package-data"]["frepo_lite.stored_sets"]
    files = {p.name for pattern in patterns for p in STORED_DIR.glob(pattern)}
    assert "index.json" in files and {e["file"] for e in stored_index().values()} <= files


def test_benchmark_result_reads_this_checkouts_results_and_is_none_for_a_missing_one():
    from frepo_lite.stored import BENCHMARK_RESULTS, benchmark_result

    assert benchmark_result("no_such_table.json") is None
    assert benchmark_result("step_speed.json") == json.loads((BENCHMARK_RESULTS / "step_speed.json").read_text())
