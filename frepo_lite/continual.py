"""Class-incremental learning with a replay buffer (paper Sec. 5.1, Fig. 5a-b), GDumb style.

The classes arrive in steps (a permutation of the classes, cut into equal groups). At each step the learner
may keep a fixed number of images per class of the new classes in its buffer; after the step a network is
trained *from scratch* on the union of the buffers so far and tested on the test images of every class seen
so far, predicting by the argmax over all C logits (GDumb, Prabhu et al. 2020). Only the buffer differs
between methods:

* ``random``: random real images of each new class;
* ``herding``: real images chosen by herding (``data.herding_indices``, iCaRL's exemplars);
* ``frepo``: a set distilled by FRePo from the new classes' training images only (what a continual learner
  can do: it never sees old classes' data again);
* ``frepo_all``: the rows of one set distilled from all classes at once (the paper's reference point,
  not a continual learner: it needs every class's data at the start).

Labels are over all C classes throughout (centred one-hot scaled by 1/sqrt(C/10), or learned).
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import kernels
from .data import Dataset, class_balanced_indices, herding_indices
from .configs import DistillConfig, EvalConfig, label_scale
from .distill import distill
from .evaluate import evaluate_support

BUFFERS = ("random", "herding", "frepo", "frepo_all")


def class_order(num_classes: int, seed: int) -> np.ndarray:
    """The order in which the classes arrive: ``np.random.RandomState(seed).permutation(num_classes)``."""
    return np.random.RandomState(seed).permutation(num_classes)


def class_steps(order, num_steps: int) -> list[np.ndarray]:
    """The classes of each step: `order` (C,) cut into num_steps consecutive groups of C // num_steps."""
    order = np.asarray(order)
    if num_steps < 1 or len(order) % num_steps:
        raise ValueError(f"{len(order)} classes cannot be split into {num_steps} equal steps: choose a number of "
                         f"steps that divides {len(order)}")
    return list(order.reshape(num_steps, -1))


def _rows_of_classes(y_rows: np.ndarray, classes) -> np.ndarray:
    """Indices of the rows whose class id is in `classes`, ordered class by class as `classes` lists them."""
    return np.concatenate([np.flatnonzero(y_rows == c) for c in classes])


def real_buffer(dataset: Dataset, classes, per_class: int, method: str = "random", seed: int = 0):
    """per_class real training images of each class in `classes`: (images (n,H,W,C), labels (n,C)).

    method "random" (class-balanced, seed) or "herding" (deterministic). A class's images do not depend on
    the other classes of its step, so every class order gets the same exemplars of a class.
    """
    c = dataset.num_classes
    if method == "random":
        idx = class_balanced_indices(dataset.y_train, per_class, c, seed)
    elif method == "herding":
        idx = herding_indices(dataset.x_train, dataset.y_train, per_class, c)
    else:
        raise ValueError(f"real buffers are 'random' or 'herding', got {method!r}")
    idx = idx[_rows_of_classes(dataset.y_train[idx], classes)]
    labels = kernels.centered_one_hot(dataset.y_train[idx], c, label_scale(c))
    return dataset.x_train[idx], np.asarray(labels)


def classes_only(dataset: Dataset, classes) -> Dataset:
    """The dataset restricted to `classes` (k of them) and relabelled 0..k-1 in the order given, as a k-class
    dataset (for distilling from one step's classes). Preprocessing and name are the parent's."""
    classes = [int(c) for c in classes]

    def pick(x, y):
        keep = np.isin(y, classes)
        remap = np.full(dataset.num_classes, -1, np.int32)
        remap[classes] = np.arange(len(classes))
        return x[keep], remap[y[keep]]

    names = dataset.info.class_names
    info = dataclasses.replace(dataset.info, num_classes=len(classes),
                               class_names=None if names is None else tuple(names[c] for c in classes))
    x_tr, y_tr = pick(dataset.x_train, dataset.y_train)
    x_va, y_va = pick(dataset.x_val, dataset.y_val)
    x_te, y_te = pick(dataset.x_test, dataset.y_test)
    return dataclasses.replace(dataset, info=info, x_train=x_tr, y_train=y_tr, x_val=x_va, y_val=y_va,
                               x_test=x_te, y_test=y_te)


def expand_labels(labels_k, classes, num_classes: int, scale: float) -> np.ndarray:
    """Labels (n, k) learned over k = len(classes) classes, as labels (n, C) over all classes.

    The k columns go to their classes, shifted by scale/k - scale/C so that a k-class centred one-hot label
    becomes exactly the C-class one; the other classes get the C-class off value -scale/C.
    """
    labels_k = np.asarray(labels_k, np.float32)
    k = len(classes)
    if labels_k.ndim != 2 or labels_k.shape[1] != k:
        raise ValueError(f"labels must be (n, {k}) for {k} classes, got {labels_k.shape}")
    out = np.full((len(labels_k), num_classes), -scale / num_classes, np.float32)
    out[:, np.asarray(classes)] = labels_k + scale / k - scale / num_classes
    return out


def distilled_buffer(dataset: Dataset, classes, cfg: DistillConfig, checkpoint: str | os.PathLike | None = None,
                     progress: bool = True):
    """A FRePo set distilled from the training images of `classes` only: (images (n,H,W,C), labels (n,C)).

    cfg.images_per_class images of each class; the labels start at the C-class scale and are learned over
    the k classes of the step, then expanded to all C (expand_labels). checkpoint: resumable run file.
    """
    c = dataset.num_classes
    scale = cfg.initial_label_scale(c)
    result = distill(classes_only(dataset, classes), cfg.replace(label_scale=scale), checkpoint=checkpoint,
                     progress=progress)
    return result.images, expand_labels(result.labels, classes, c, scale)


def build_buffers(dataset: Dataset, method: str, steps: list, per_class: int, distill_cfg: DistillConfig | None = None,
                  runs_dir: str | os.PathLike | None = None, seed: int = 0, progress: bool = True) -> list[tuple]:
    """The buffer each step adds: [(images (n_t,H,W,C), labels (n_t,C))] for the class groups `steps`.

    method: one of BUFFERS. "frepo" and "frepo_all" need distill_cfg (its images_per_class is set to
    per_class); runs_dir keeps their distillations resumable (one file per class group, named by it).
    """
    if method not in BUFFERS:
        raise ValueError(f"unknown buffer {method!r}; choose one of {BUFFERS}")
    if method in ("random", "herding"):
        return [real_buffer(dataset, classes, per_class, method, seed) for classes in steps]
    if distill_cfg is None:
        raise ValueError(f"the {method!r} buffer distils: pass distill_cfg")
    cfg = distill_cfg.replace(images_per_class=per_class, seed=seed)

    def ckpt(tag: str):
        if runs_dir is None:
            return None
        Path(runs_dir).mkdir(parents=True, exist_ok=True)
        return Path(runs_dir) / f"{dataset.info.name}_{tag}_ipc{per_class}_{cfg.steps}_seed{seed}.ckpt"

    if method == "frepo":
        return [distilled_buffer(dataset, classes, cfg, ckpt("classes" + "-".join(map(str, classes))), progress)
                for classes in steps]
    result = distill(dataset, cfg, checkpoint=ckpt("all"), progress=progress)
    row_class = np.repeat(np.arange(dataset.num_classes), per_class)  # the set is ordered class by class
    return [(result.images[rows], result.labels[rows])
            for rows in (_rows_of_classes(row_class, classes) for classes in steps)]


def seen_classes_only(dataset: Dataset, classes) -> Dataset:
    """The dataset with its validation and test splits restricted to `classes` (labels and C unchanged)."""
    keep_val, keep_test = np.isin(dataset.y_val, classes), np.isin(dataset.y_test, classes)
    return dataclasses.replace(dataset, x_val=dataset.x_val[keep_val], y_val=dataset.y_val[keep_val],
                               x_test=dataset.x_test[keep_test], y_test=dataset.y_test[keep_test])


def gdumb(dataset: Dataset, buffers: list[tuple], steps: list, cfg: EvalConfig = EvalConfig(), split: str = "test",
          resume_dir: str | os.PathLike | None = None, progress: bool = True) -> list[dict]:
    """The GDumb loop: after step t, train cfg.num_models fresh networks on the union of buffers[:t+1] and
    test them on the `split` images of the classes of steps[:t+1] (argmax over all C logits).

    Returns one row per step: {'step' (1-based), 'classes' (seen so far), 'buffer_size', 'acc_mean',
    'acc_std', 'accs'} with accuracies in [0, 1]. resume_dir: finished networks are kept (evaluate_support).
    """
    if len(buffers) != len(steps):
        raise ValueError(f"{len(buffers)} buffers for {len(steps)} steps: give one buffer per step")
    rows = []
    for t in tqdm(range(len(steps)), desc="GDumb steps", disable=not progress, leave=False):
        seen = np.concatenate(steps[:t + 1])
        images = np.concatenate([b[0] for b in buffers[:t + 1]])
        labels = np.concatenate([b[1] for b in buffers[:t + 1]])
        result = evaluate_support(images, labels, seen_classes_only(dataset, seen), cfg, split=split,
                                  progress=False, resume_dir=resume_dir)
        rows.append({"step": t + 1, "classes": [int(c) for c in seen], "buffer_size": len(images),
                     "acc_mean": result["acc_mean"], "acc_std": result["acc_std"], "accs": result["accs"]})
    return rows
