"""A self-describing file for a distilled set, readable with numpy alone.

One ``.npz`` holds

* ``images`` (n,H,W,C) float32: the distilled images in model space (after the preprocessing below);
* ``labels`` (n,C) float32: their labels, regression targets for MSE training (argmax = class);
* ``pre_mean``, ``pre_std`` (C,): per-channel standardisation of [0,1] pixels, and for ZCA'd data
  ``pre_zca_mean`` (d,), ``pre_zca_matrix`` (d,d), ``pre_zca_inverse`` (d,d);
* ``metadata``: a JSON string (dataset, label convention, preprocessing recipe, distillation and
  evaluation recipe, provenance).

Back to pixels with numpy only (``zca == "none"``): ``pixels = clip(images * pre_std + pre_mean, 0, 1)``;
with ZCA first ``rows = rows @ pre_zca_inverse + pre_zca_mean`` on each image flattened (or on its 4
stride-2 sub-images for "checkerboard"). :func:`to_pixels` does exactly this.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from .data import ZCA_REGULARIZATION, Preprocessing

FORMAT = "frepo_lite.distilled_set"
FORMAT_VERSION = 1

LABEL_CONVENTION = ("labels[i] is a vector of C class scores used as a regression target: train a network "
                    "with the mean squared error between its C logits and labels[i]; argmax(labels[i]) is "
                    "the class. They start as (one_hot - 1/C) / sqrt(C/10) and are learned when "
                    "learn_labels is true.")


@dataclasses.dataclass
class DistilledSet:
    images: np.ndarray  # (n,H,W,C) float32, model space
    labels: np.ndarray  # (n,C) float32
    preprocessing: Preprocessing
    metadata: dict

    def pixels(self) -> np.ndarray:
        """(n,H,W,C) float32 in [0, 1], for viewing."""
        return self.preprocessing.inverse(self.images)


def build_metadata(dataset_info, distill_config: dict | None = None, eval_config: dict | None = None,
                   **provenance) -> dict:
    """The JSON metadata of an exported set."""
    import jax

    from . import __version__
    from .protocol import PROTOCOL_VERSION
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "dataset": dataset_info.name,
        "num_classes": dataset_info.num_classes,
        "image_shape": [dataset_info.resolution, dataset_info.resolution, dataset_info.channels],
        "preprocessing": {
            "steps": ["pixels / 255", "per-channel standardisation (x - pre_mean) / pre_std"]
                     + ([f"{dataset_info.zca} ZCA: rows = (rows - pre_zca_mean) @ pre_zca_matrix"]
                        if dataset_info.zca != "none" else []),
            "zca": dataset_info.zca,
            "zca_regularization": ZCA_REGULARIZATION if dataset_info.zca != "none" else None,
        },
        "label_convention": LABEL_CONVENTION,
        "distillation": distill_config,
        "evaluation_recipe": eval_config,
        "provenance": {"frepo_lite": __version__, "protocol_version": PROTOCOL_VERSION, "jax": jax.__version__,
                       "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                       **provenance},
    }


def free_path(path: str | os.PathLike) -> Path:
    """path itself if nothing is there yet, else the first free 'name-2.npz', 'name-3.npz', ..."""
    path = Path(path)
    k = 2
    candidate = path
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{k}{path.suffix}")
        k += 1
    return candidate


def save_distilled(path: str | os.PathLike, images, labels, preprocessing: Preprocessing, metadata: dict,
                   overwrite: bool = False) -> Path:
    """Write a distilled set. An existing file is never replaced unless overwrite=True."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"a distilled set is saved as .npz, got {path.name!r}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; choose another name or pass overwrite=True "
                              "(--overwrite) to replace it")
    images, labels = np.asarray(images, np.float32), np.asarray(labels, np.float32)
    _check_arrays(images, labels, metadata, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez_compressed(tmp, images=images, labels=labels, metadata=np.array(json.dumps(metadata)),
                        **preprocessing.to_arrays())
    os.replace(tmp, path)
    return path


def _check_arrays(images, labels, metadata, source):
    shape, c = tuple(metadata["image_shape"]), metadata["num_classes"]
    if images.ndim != 4 or images.shape[1:] != shape:
        raise ValueError(f"{source}: images have shape {images.shape}, expected (n, {', '.join(map(str, shape))})")
    if labels.shape != (images.shape[0], c):
        raise ValueError(f"{source}: labels have shape {labels.shape}, expected ({images.shape[0]}, {c})")


def load_distilled(path: str | os.PathLike) -> DistilledSet:
    """Read a distilled set; anything that is not one gives a ValueError saying what is wrong."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no distilled set at {path}")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise ValueError(f"{path} is not a readable .npz file ({e}); it may be truncated or corrupt") from e
    missing = [k for k in ("images", "labels", "metadata", "pre_mean", "pre_std") if k not in arrays]
    if missing:
        raise ValueError(f"{path} is not a frepo_lite distilled set: it lacks {missing}")
    try:
        metadata = json.loads(str(arrays["metadata"]))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: its metadata is not valid JSON ({e})") from e
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path}: metadata format is {metadata.get('format')!r}, not {FORMAT!r}")
    if metadata.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{path} was written by a newer frepo_lite (format version "
                         f"{metadata['format_version']} > {FORMAT_VERSION}); upgrade frepo_lite")
    zca = metadata["preprocessing"]["zca"]
    if zca != "none" and "pre_zca_inverse" not in arrays:
        raise ValueError(f"{path}: the metadata says {zca} ZCA but the ZCA matrices are missing")
    images, labels = arrays["images"], arrays["labels"]
    _check_arrays(images, labels, metadata, str(path))
    return DistilledSet(images=images, labels=labels, preprocessing=Preprocessing.from_arrays(zca, arrays),
                        metadata=metadata)


def to_pixels(path: str | os.PathLike) -> np.ndarray:
    """The images of an exported set as (n,H,W,C) float32 pixels in [0, 1]."""
    return load_distilled(path).pixels()
