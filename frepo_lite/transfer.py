"""Cross-architecture transfer (paper Table 2, App. C.6): train several architectures on distilled sets.

A set distilled with one pool architecture may encode that architecture's inductive bias. This module
evaluates one or more sets on a list of architectures, each by ``evaluate.evaluate_support`` (networks
trained from scratch on the set, measured on the test or validation split), and returns a tidy table: one
row per (set, architecture). ``viz.plot_transfer_matrix`` draws it.
"""
from __future__ import annotations

import os

import numpy as np
from tqdm.auto import tqdm

from .data import Dataset
from .configs import EvalConfig
from .evaluate import evaluate_support

# The pool architectures of the paper's transfer study, by name: (arch, norm) of the distillation's pool networks.
POOL_ARCHS = {"Conv-BN": ("conv", "batch"), "Conv-IN": ("conv", "instance"), "Conv-NN": ("conv", "none"),
              "DC ConvNet-IN": ("dc_conv", "instance")}
# The evaluation architectures of the paper's transfer tables, by name: (arch, norm) for models.make_model.
TRANSFER_ARCHS = {
    "Conv-NN": ("conv", "none"),
    "Conv-BN": ("conv", "batch"),
    "Conv-IN": ("conv", "instance"),
    "DC ConvNet": ("dc_conv", "instance"),
    "AlexNet": ("alexnet", "none"),
    "VGG11": ("vgg11", "batch"),
    "ResNet-18": ("resnet18", "instance"),
}


def evaluate_transfer(sets: dict, dataset: Dataset, archs: list[str] | None = None,
                      cfg: EvalConfig = EvalConfig(), split: str = "test",
                      resume_dir: str | os.PathLike | None = None, progress: bool = True) -> list[dict]:
    """Train cfg.num_models networks of each architecture on each set and test them.

    sets: {name: (images (n,H,W,C) in model space, labels (n,C))}, e.g. sets distilled with different pool
    architectures and a random real subset of the same size; archs: names of TRANSFER_ARCHS (default: all).
    cfg: the evaluation recipe; its arch and norm are replaced by each architecture's. resume_dir: where each
    finished network is kept (see evaluate_support), so an interrupted table resumes where it stopped.
    Returns one row per (set, architecture): {'set', 'arch', 'network', 'acc_mean', 'acc_std', 'accs',
    'split', 'steps'} with accuracies in [0, 1] and the training steps of each network.
    """
    archs = list(TRANSFER_ARCHS) if archs is None else list(archs)
    unknown = [a for a in archs if a not in TRANSFER_ARCHS]
    if unknown:
        raise ValueError(f"unknown architecture(s) {unknown}; choose from {list(TRANSFER_ARCHS)}")
    if not sets:
        raise ValueError("no sets to evaluate: pass {name: (images, labels)}")
    rows = []
    pairs = [(name, arch) for name in sets for arch in archs]
    for name, arch in tqdm(pairs, desc="transfer", disable=not progress):
        images, labels = sets[name]
        arch_id, norm = TRANSFER_ARCHS[arch]
        result = evaluate_support(images, labels, dataset, cfg.replace(arch=arch_id, norm=norm), split=split,
                                  progress=False, resume_dir=resume_dir)
        rows.append({"set": name, "arch": arch, "network": result["network"], "acc_mean": result["acc_mean"],
                     "acc_std": result["acc_std"], "accs": result["accs"], "split": result["split"],
                     "steps": result["steps"]})
    return rows


def transfer_matrix(rows: list[dict]) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """(set names, architecture names, mean accuracy (sets, archs), std (sets, archs)) from the rows of
    evaluate_transfer, in the order they first appear; a missing pair is NaN."""
    sets = list(dict.fromkeys(r["set"] for r in rows))
    archs = list(dict.fromkeys(r["arch"] for r in rows))
    mean = np.full((len(sets), len(archs)), np.nan)
    std = np.full((len(sets), len(archs)), np.nan)
    for r in rows:
        i, j = sets.index(r["set"]), archs.index(r["arch"])
        mean[i, j], std[i, j] = r["acc_mean"], r["acc_std"]
    return sets, archs, mean, std
