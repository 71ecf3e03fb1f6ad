"""Distilled sets that ship with the package: the `cpu` preset's sets of Table 1, with their measured accuracy.

A notebook or script that would distill can load one of these instead and show results in a minute (Binder,
Colab, a slow laptop). `benchmarks/store_sets.py` writes them from the benchmark's runs; `index.json`
records, for each set, the recipe it was distilled with and its test accuracy as the benchmark measured it.
"""
from __future__ import annotations

import json
from pathlib import Path

from .export import DistilledSet, load_distilled

STORED_DIR = Path(__file__).resolve().parent / "stored_sets"


def stored_index() -> dict:
    """{name: entry} for every stored set; name is "<dataset>_ipc<k>", entry holds at least 'file',
    'dataset', 'images_per_class', 'steps', 'test_accuracy' (mean, std, split, network, networks)."""
    return json.loads((STORED_DIR / "index.json").read_text())


def load_stored(dataset: str, images_per_class: int) -> tuple[DistilledSet, dict]:
    """The stored set of `dataset` at `images_per_class` and its index entry; a KeyError lists what exists."""
    index = stored_index()
    name = f"{dataset}_ipc{images_per_class}"
    if name not in index:
        have = ", ".join(f"{e['dataset']} at {e['images_per_class']}/class" for e in index.values())
        raise KeyError(f"no stored set for {dataset} at {images_per_class} image(s) per class; stored sets: {have}. "
                       "Distill one instead (SOURCE = \"distill\" in the notebooks).")
    entry = index[name]
    return load_distilled(STORED_DIR / entry["file"]), entry


def describe(entry: dict) -> str:
    """One line saying what a stored set is and how well it did, e.g. for a notebook's output."""
    acc = entry["test_accuracy"]
    return (f"stored {entry['dataset']} set, {entry['images_per_class']} image(s)/class, {entry['steps']} steps of "
            f"the cpu preset; measured {100 * acc['mean']:.1f} +- {100 * acc['std']:.1f} % on the {acc['split']} "
            f"split by {acc['networks']} x {acc['network']} ({entry['command']})")


BENCHMARK_RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"


def benchmark_result(name: str) -> dict | None:
    """The JSON a benchmark wrote to benchmarks/results/<name> in this checkout of frepo-lite (e.g.
    "labels_mnist.json"), or None where there is none (a package installed without the repository)."""
    path = BENCHMARK_RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None
