"""What every benchmark script shares: where results go, which machine measured them, how sets are evaluated,
how a result is written, and the trial configuration of the scripts that choose the `cpu` preset's values.

The scripts are grouped by the question they answer: ``paper_*`` reproduce the paper's tables and figures
(they choose nothing and report on the test split), ``select_*`` choose values on the validation split, and
``speed_*`` time a step. A single compiled function is timed by ``frepo_lite.cost.measure``; a run of
steps by :func:`ms_per_step`.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import platform
from pathlib import Path

import jax

from frepo_lite import cost, sharding
from frepo_lite.configs import EvalConfig, preset
from frepo_lite.distill import init_state, make_step
from frepo_lite.export import DistilledSet, load_distilled
from frepo_lite.protocol import SAME_DISTILLATION_SINCE
from frepo_lite.stored import RESULTS_DIR

RESULTS = RESULTS_DIR  # every result ships with the package (frepo_lite/results/)
RUNS = Path("runs")  # checkpoints and unfinished evaluations, under the working directory

# How the benchmarks measured on a 2-core CPU evaluate a set: 2 Conv-NN networks of width 32 (the protocol's
# are 5 of width 128, six times the cost here); steps by support size unless a script's --eval-steps says.
CPU_EVAL = EvalConfig(width=32, num_models=2)


def machine() -> str:
    """Where a row was measured: processor, CPU cores, JAX devices (an accelerator's kind named) and JAX
    version."""
    kind = "" if jax.default_backend() == "cpu" else f" ({jax.devices()[0].device_kind})"
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, {jax.device_count()} "
            f"{jax.default_backend()} device(s){kind}, jax {jax.__version__}")


def provenance(meta: dict) -> list[str]:
    """The closing lines of a results file: its machine, protocol version, wall time (when recorded) and the
    command that reproduces it, from the meta dict a benchmark writes beside its rows (a 'wall_note' there says
    what the wall time holds besides the run itself: pauses, another job on the same cores)."""
    minutes = f"; {meta['wall_minutes']:.0f} minutes in all" if "wall_minutes" in meta else ""
    minutes += f" ({meta['wall_note']})" if minutes and "wall_note" in meta else ""
    return [f"Machine: {meta['machine']}. Protocol version {meta['protocol_version']}{minutes}.", "",
            f"Reproduce: `{meta['command']}`."]


def add_eval_args(p: argparse.ArgumentParser, defaults: EvalConfig = CPU_EVAL, width: bool = True) -> None:
    """--eval-width (unless width is False: a script whose networks take the distillation's width), --eval-models
    and --eval-steps, with one set of defaults (CPU_EVAL) for every script."""
    if width:
        p.add_argument("--eval-width", type=int, default=defaults.width,
                       help=f"width of the evaluation networks (default {defaults.width}; the protocol's: 128)")
    p.add_argument("--eval-models", type=int, default=defaults.num_models,
                   help=f"networks per evaluated set (default {defaults.num_models}; the protocol's: 5)")
    p.add_argument("--eval-steps", type=int, default=defaults.steps,
                   help="training steps of each network (default: the protocol's, by support size)")


def eval_config(args: argparse.Namespace, **changes) -> EvalConfig:
    """The EvalConfig of add_eval_args' arguments and the changes (Conv-NN, the protocol's recipe otherwise)."""
    width = changes.pop("width", getattr(args, "eval_width", None))
    return EvalConfig(width=width, num_models=args.eval_models, steps=args.eval_steps, **changes)


def write_results(folder: Path, stem: str, payload, markdown: str) -> Path:
    """Write <folder>/<stem>.json (payload) and <folder>/<stem>.md (markdown); returns the JSON's path. folder:
    RESULTS, or the script's own (which a test points elsewhere)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.json"
    path.write_text(json.dumps(payload, indent=1) + "\n")
    (folder / f"{stem}.md").write_text(markdown if markdown.endswith("\n") else markdown + "\n")
    return path


def ms_per_step(data, cfg, warmup: int, steps: int, devices=None) -> float:
    """Mean wall time (ms) of FRePo's compiled step over `steps` steps after `warmup` (compile excluded), the
    state carried from step to step as in a run (frepo_lite.cost.seconds_per_call), on `devices` (default:
    all visible; several: the real batch split across them)."""
    mesh, place = sharding.placement(devices)
    step = make_step(data, cfg, mesh)
    state = jax.device_put(init_state(data, cfg), place)
    x, y = jax.device_put(data.x_train, place), jax.device_put(data.y_train, place)
    seconds, _ = cost.seconds_per_call(lambda s: step(s, x, y)[0], state, steps, warmup)
    return 1000 * seconds


def run_key(cfg, **context) -> str:
    """A short hash naming a run's checkpoint and set: the settings of cfg that differ from DistillConfig's
    defaults (so a setting added later, at its default, keeps every earlier name), with the context (dataset,
    protocol version)."""
    defaults = {f.name: f.default for f in dataclasses.fields(cfg)}
    changed = {k: v for k, v in dataclasses.asdict(cfg).items() if v != defaults[k]}
    return hashlib.sha256(json.dumps({**changed, **context}, sort_keys=True).encode()).hexdigest()[:16]


def trial_config(ipc: int, changes: dict):
    """A trial of the selection: the `cpu` preset at ipc images per class with the changes, without any
    dataset-specific settings."""
    return preset("cpu", None, images_per_class=ipc, **changes)


def preset_changes(dataset: str, ipc: int) -> dict:
    """The package's `cpu` preset for this row (frepo_lite.configs.CPU_ROWS) as changes to trial_config's
    generic settings."""
    final = dataclasses.asdict(preset("cpu", dataset, images_per_class=ipc))
    generic = dataclasses.asdict(trial_config(ipc, {}))
    return {k: v for k, v in final.items() if v != generic[k]}


def distilled_by(row: dict) -> int:
    """The protocol version that distilled a report row's set: its 'set_protocol_version', else the version of
    the row itself (rows written before the field existed; 1 for rows older than versions)."""
    return row.get("set_protocol_version", row.get("protocol_version", 1))


def stored_set(path: Path, cfg, info, made_by: int | None = None) -> DistilledSet | None:
    """The distilled set of dataset `info` stored at path when it was distilled with cfg's settings (its
    metadata's 'distillation'; a field it lacks counts as that field's default) by a protocol version whose
    distillation is this one's (protocol.SAME_DISTILLATION_SINCE), else None.

    A distilled set does not depend on the evaluation: when only the evaluation changed, a report script
    evaluates the stored set again instead of distilling it again. made_by: the protocol version that distilled
    the set, for a set whose metadata does not record it (the row that first measured it).
    """
    if not path.exists():
        return None
    stored = load_distilled(path)
    made = stored.metadata.get("distillation") or {}
    version = stored.metadata["provenance"].get("protocol_version", made_by)
    fields = {f.name: f.default for f in dataclasses.fields(cfg)}
    same = all(made.get(k, fields[k]) == v for k, v in dataclasses.asdict(cfg).items())
    current = version is not None and version >= SAME_DISTILLATION_SINCE["rgb" if info.is_rgb else "grayscale"]
    return stored if same and current and stored.metadata["dataset"] == info.name else None


# Under every Table 1 file: what its "random (published)" column is.
RANDOM_COLUMN_NOTE = ('"random (published)" is a random real subset of the same size as published by Zhao et al. '
                      "(DC, ICLR 2021), the baseline the literature quotes; the FRePo paper gives none.")
