"""Checkpoint files of a distillation run: the whole run state, its configuration and its history in one
msgpack file, written atomically and restored only by the same configuration and protocol.

The state is any flax pytree (``distill.DistillState``); :func:`load_checkpoint` restores it into the shape of a
template, so this module needs nothing from the loop that uses it.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np

from .configs import DistillConfig
from .protocol import PROTOCOL_VERSION

CHECKPOINT_VERSION = 2
# Parts of the run state added after checkpoints of this version were first written (docs/plus.md's options):
# a checkpoint without them resumes with the template's values, what a run with those options off holds.
ADDED_STATE = ("log_temperature", "average")


def save_checkpoint(path: str | os.PathLike, state, cfg: DistillConfig, dataset_name: str,
                    history: dict) -> None:
    """Write the whole run state atomically (a crash mid-write never destroys the previous checkpoint)."""
    path = Path(path)
    payload = {
        "version": CHECKPOINT_VERSION,
        "protocol_version": PROTOCOL_VERSION,
        "config": json.dumps(dataclasses.asdict(cfg)),
        "dataset": dataset_name,
        "history": json.dumps(_history_to_json(history)),
        "state": flax.serialization.to_state_dict(jax.device_get(state)),
    }
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # two processes never share a partial file
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_bytes(flax.serialization.msgpack_serialize(payload))
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike, template, cfg: DistillConfig, dataset_name: str):
    """(state, history) from a checkpoint written by the same configuration; a mismatch is an error.

    template: a state of the run's structure and shapes (``distill.init_state(dataset, cfg)``), filled with
    the saved values."""
    path = Path(path)
    try:
        payload = flax.serialization.msgpack_restore(path.read_bytes())
        version = payload["version"]
    except Exception as e:
        raise ValueError(f"{path} is not a frepo_lite checkpoint ({e}); move it away or choose another "
                         "checkpoint path") from e
    if version != CHECKPOINT_VERSION or payload.get("protocol_version") != PROTOCOL_VERSION:
        raise ValueError(f"{path} was written by another version of frepo_lite (checkpoint version {version}, "
                         f"protocol version {payload.get('protocol_version', 1)}; this one writes "
                         f"{CHECKPOINT_VERSION} and {PROTOCOL_VERSION}): its run would not continue the same "
                         "algorithm. Start a new run with another checkpoint path; the file is left untouched.")
    # a setting added after the checkpoint was written takes its default, which keeps the earlier behaviour
    saved = {**_config_defaults(), **json.loads(payload["config"])}
    if saved != dataclasses.asdict(cfg) or payload["dataset"] != dataset_name:
        diff = {k: (saved.get(k), v) for k, v in dataclasses.asdict(cfg).items() if saved.get(k) != v}
        raise ValueError(f"{path} belongs to another run (dataset {payload['dataset']!r}; differing settings "
                         f"saved vs now: {diff}). Resume with the same settings or choose another checkpoint "
                         "path; the existing file is left untouched.")
    # a part of the state added after the checkpoint was written starts as the template's (its setting is off)
    saved_state, initial = dict(payload["state"]), flax.serialization.to_state_dict(template)
    for name in ADDED_STATE:
        saved_state.setdefault(name, initial[name])
    state = flax.serialization.from_state_dict(template, saved_state)
    return jax.tree.map(jnp.asarray, state), _history_from_json(json.loads(payload["history"]))


def _config_defaults() -> dict:
    return {f.name: f.default for f in dataclasses.fields(DistillConfig)}


def _history_to_json(history: dict) -> dict:
    out = dict(history)
    out["snapshots"] = [{"step": s["step"], "images": np.asarray(s["images"]).tolist(),
                         "labels": np.asarray(s["labels"]).tolist()} for s in history["snapshots"]]
    return out


def _history_from_json(saved: dict) -> dict:
    """Inverse of _history_to_json: snapshot images (n,H,W,C) and labels (n,C) back to float32 arrays (a
    snapshot saved before labels were kept has none: None)."""
    history = dict(saved)
    history["snapshots"] = [{"step": s["step"], "images": np.asarray(s["images"], np.float32),
                             "labels": np.asarray(s["labels"], np.float32) if "labels" in s else None}
                            for s in saved["snapshots"]]
    return history
