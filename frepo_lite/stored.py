"""What ships with the package: the benchmarks' results and the `cpu` preset's distilled sets of Table 1.

Every benchmark in `benchmarks/` writes its results into this package, `frepo_lite/results/` (RESULTS_DIR), and
nowhere else, so a notebook finds them wherever the package is installed: a checkout, a wheel on Colab, Binder.

* ``results/<table>.json`` (and ``.md``): a benchmark's numbers, read by :func:`benchmark_result`;
* ``results/distilled/cpu_<dataset>_ipc<k>.npz``: the sets that ``benchmarks/select_preset.py report`` measured
  on the test split, whose rows are in ``results/selection/selection.json``. A notebook or script that would
  distill can load one of these instead and show results in a minute (:func:`load_stored`).
"""
from __future__ import annotations

import json
from pathlib import Path

from .export import DistilledSet, load_distilled

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DISTILLED_DIR = RESULTS_DIR / "distilled"
SELECTION_FILE = RESULTS_DIR / "selection" / "selection.json"
REPORT_COMMAND = "benchmarks/select_preset.py report"


def stored_index() -> dict:
    """{name: entry} for every stored set, name "<dataset>_ipc<k>": the last test-split row of the final
    preset that `select_preset.py report` wrote for each dataset and size. An entry holds 'file' (in
    DISTILLED_DIR), 'dataset', 'images_per_class', 'steps', 'test_accuracy' (mean, std, split, network,
    networks), 'machine' and 'command'."""
    rows = [r for r in json.loads(SELECTION_FILE.read_text())
            if r["split"] == "test" and r["trial"].startswith("preset")]
    index = {}
    for row in rows:  # later rows of the same set replace earlier ones
        name = f"{row['dataset']}_ipc{row['ipc']}"
        index[name] = {"file": f"cpu_{name}.npz", "dataset": row["dataset"], "images_per_class": row["ipc"],
                       "steps": row["steps"],
                       "test_accuracy": {"mean": row["acc_mean"], "std": row["acc_std"], "split": row["split"],
                                         "network": row["network"], "networks": len(row["accs"])},
                       "machine": row["machine"], "command": REPORT_COMMAND}
    return dict(sorted(index.items()))


def load_stored(dataset: str, images_per_class: int) -> tuple[DistilledSet, dict]:
    """The stored set of `dataset` at `images_per_class` and its index entry; a KeyError lists what exists."""
    index = stored_index()
    name = f"{dataset}_ipc{images_per_class}"
    if name not in index:
        have = ", ".join(f"{e['dataset']} at {e['images_per_class']}/class" for e in index.values())
        raise KeyError(f"no stored set for {dataset} at {images_per_class} image(s) per class; stored sets: {have}. "
                       "Distill one instead (SOURCE = \"distill\" in the notebooks).")
    entry = index[name]
    return load_distilled(DISTILLED_DIR / entry["file"]), entry


def describe(entry: dict) -> str:
    """One line saying what a stored set is and how well it did, e.g. for a notebook's output."""
    acc = entry["test_accuracy"]
    return (f"stored {entry['dataset']} set, {entry['images_per_class']} image(s)/class, {entry['steps']} steps of "
            f"the cpu preset; measured {100 * acc['mean']:.1f} +- {100 * acc['std']:.1f} % on the {acc['split']} "
            f"split by {acc['networks']} x {acc['network']} ({entry['command']})")


def benchmark_result(name: str) -> dict | None:
    """The JSON a benchmark wrote to frepo_lite/results/<name> (e.g. "labels_mnist.json"), or None where that
    benchmark has not been run."""
    path = RESULTS_DIR / name
    return json.loads(path.read_text()) if path.exists() else None
