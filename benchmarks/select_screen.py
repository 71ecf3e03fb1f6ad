"""Screen changes of the `cpu` preset fast: CPU step times here, distillation and evaluation on a GPU.

A trial of a preset change on the 2-core CPU costs a 13-minute distillation plus a GPU evaluation. Most of
that time buys nothing a GPU could not compute in seconds: the distilled set depends on the settings and
the number of steps, not on the machine (up to floating-point rounding). So screening has two phases:

    # 1. on the CPU machine: ms per step of each trial, hence the steps that fit the budget there
    FREPO_DATA_DIR=../shared/datasets python benchmarks/select_screen.py time --trials trials.json
    # 2. on a GPU machine: distil each trial with those steps, evaluate by the protocol (width 128, 5 nets)
    FREPO_DATA_DIR=../shared/datasets python benchmarks/select_screen.py run --trials trials.json

trials.json maps a trial name to its DistillConfig overrides of the `cpu` preset, e.g.
{"base": {}, "rb128": {"real_batch": 128}}. Phase 1 writes results/screen/steps.json (ms per step on this
CPU, trials timed before are kept; steps = the preset's steps scaled by
the ratio of its ms per step to the trial's, rounded down to 50; a trial that changes only values, such as a
learning rate, takes the preset's steps); phase 2 writes results/screen/screen.json and .md. A
trial already done with the same settings and steps is skipped. Screening ranks settings; a setting that
screens well is then distilled on the CPU for real (within the 15-minute limit) and that set is what counts.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from common import RESULTS, machine, ms_per_step, trial_config
from frepo_lite.configs import CPU_STEPS, EvalConfig
from frepo_lite.data import load_dataset
from frepo_lite.distill import distill, krr_settings
from frepo_lite.evaluate import evaluate_support
from frepo_lite.protocol import paper_frepo

SCREEN = RESULTS / "screen"
SPLIT = "val"  # screening chooses: it reads the validation split held out of train, never the test split


# settings that do not change what a step computes, only its values: such a trial takes the preset's steps
COST_FREE = {"lr", "lr_final_ratio", "learn_labels", "label_scale", "pool_size", "max_online_steps",
             "online_lr", "init", "init_noise_std", "lambda0", "seed", "steps"}


def cmd_time(args, trials: dict) -> None:
    """Steps per trial: the preset's CPU_STEPS scaled by (preset ms per step) / (trial ms per step), both
    measured in this run, so that a trial gets the CPU time the preset gets whatever this machine's pace. A
    trial that changes values only takes the preset's steps untimed (with the preset's ms from an earlier
    run when there is one)."""
    out_path = SCREEN / "steps.json"
    saved = json.loads(out_path.read_text()) if out_path.exists() else {}
    data = load_dataset(args.dataset)
    preset_steps = CPU_STEPS[args.ipc]
    measured = {}

    def preset_ms() -> float:
        if "ms" not in measured:
            measured["ms"] = ms_per_step(data, trial_config(args.ipc, {}), args.warmup, args.steps)
            print(f"the preset: {measured['ms']:.0f} ms per step, {preset_steps} steps", flush=True)
        return measured["ms"]

    for name, overrides in trials.items():
        if saved.get(name, {}).get("overrides") == overrides:
            continue  # timed before
        if set(overrides) <= COST_FREE:
            timed = [r["ms_per_step"] for r in saved.values() if r["overrides"] == {} and r["ipc"] == args.ipc]
            ms = timed[0] if timed else preset_ms()
            ms_ref, steps = ms, preset_steps
        else:
            ms, ms_ref = ms_per_step(data, trial_config(args.ipc, overrides), args.warmup, args.steps), preset_ms()
            steps = int(preset_steps * ms_ref / ms) // 50 * 50
        steps = overrides.get("steps", steps)  # a trial that names its steps asks what more steps would give
        saved[name] = {"overrides": overrides, "ipc": args.ipc, "ms_per_step": round(ms, 1),
                       "preset_ms_per_step": round(ms_ref, 1), "steps": steps, "machine": machine()}
        print(f"{name}: {ms:.0f} ms per step -> {steps} steps", flush=True)
        SCREEN.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(saved, indent=1))


def cmd_run(args, trials: dict) -> None:
    steps_of = json.loads((SCREEN / "steps.json").read_text())
    out_path = SCREEN / "screen.json"
    rows = json.loads(out_path.read_text()) if out_path.exists() else []
    data = load_dataset(args.dataset)
    eval_cfg = EvalConfig()
    for name, overrides in trials.items():
        if name not in steps_of or steps_of[name]["overrides"] != overrides:
            raise SystemExit(f"trial {name!r}: no CPU step time for these settings; run `select_screen.py time` first")
        cfg = trial_config(args.ipc, {**overrides, "steps": steps_of[name]["steps"]})
        settings = dataclasses.asdict(cfg)
        if any(r["settings"] == settings and r["dataset"] == args.dataset for r in rows):
            print(f"{name}: done before, skipped")
            continue
        t0 = time.perf_counter()
        result = distill(data, cfg, progress=False)
        seconds = time.perf_counter() - t0
        frepo = evaluate_support(result.images, result.labels, data, eval_cfg, split=SPLIT, progress=False,
                                 **krr_settings(cfg, data.info))
        krr_losses = result.history["krr_loss"][-20:]
        rows.append({"trial": name, "split": SPLIT, "dataset": args.dataset, "ipc": args.ipc, "overrides": overrides,
                     "settings": settings, "steps": cfg.steps, "cpu_ms_per_step": steps_of[name]["ms_per_step"],
                     "distill_seconds_here": round(seconds, 1), "eval_config": dataclasses.asdict(eval_cfg),
                     "frepo": frepo, "final_krr_loss": float(np.mean(krr_losses)) if krr_losses else None,
                     "machine": machine()})
        print(f"{name}: {100 * frepo['acc_mean']:.2f} +- {100 * frepo['acc_std']:.2f} % on the {SPLIT} split "
              f"({cfg.steps} steps)", flush=True)
        SCREEN.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(rows, indent=1))
    write_markdown(rows)


def write_markdown(rows: list[dict]) -> None:
    lines = ["# Screening changes of the `cpu` preset (distilled and evaluated on a GPU)", "",
             "Each trial: the `cpu` preset with the listed change, distilled for the steps that the 2-core CPU "
             "affords in its budget (its ms per step measured there by `select_screen.py time`), on a GPU, then "
             "evaluated by the protocol (Conv-NN width 128, 5 fresh networks). Accuracy (%) on the validation "
             "split held out of train (screening chooses, so it never reads the test split), mean +- std over "
             "the networks. A ranking, not a result: what counts is the set distilled on the CPU.", "",
             "A trial that names its steps asks what more steps would give: its CPU minutes "
             "(ms per step x steps) show whether the CPU could afford them.", "",
             "| dataset | img/cls | trial | change | CPU ms/step | steps | CPU min | FRePo (screen) | paper (same labels, Table 7) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        change = ", ".join(f"{k}={v}" for k, v in r["overrides"].items()) or "(the preset)"
        f, cpu_minutes = r["frepo"], r["cpu_ms_per_step"] * r["steps"] / 60000
        lines.append(f"| {r['dataset']} | {r['ipc']} | {r['trial']} | {change} | {r['cpu_ms_per_step']:.0f} | "
                     f"{r['steps']} | {cpu_minutes:.0f} | {100 * f['acc_mean']:.1f} ± {100 * f['acc_std']:.1f} | "
                     f"{paper_frepo(r['dataset'], r['ipc'], r['overrides'].get('learn_labels', True)) or ''} |")
    machines = sorted({r["machine"] for r in rows})
    lines += ["", f"Distilled and evaluated on: {'; '.join(machines)}.", "",
              "Reproduce: `python benchmarks/select_screen.py time --trials T.json` on the CPU machine, then "
              "`python benchmarks/select_screen.py run --trials T.json` on a GPU machine (T.json: trial name -> "
              "overrides, as in the `overrides` of results/screen/screen.json)."]
    (SCREEN / "screen.md").write_text("\n".join(lines) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("phase", choices=["time", "run"])
    p.add_argument("--trials", required=True, help="JSON file: trial name -> DistillConfig overrides")
    p.add_argument("--dataset", default="fashion_mnist")
    p.add_argument("--ipc", type=int, default=10)
    p.add_argument("--warmup", type=int, default=5, help="untimed steps before timing (time)")
    p.add_argument("--steps", type=int, default=30, help="timed steps (time)")
    args = p.parse_args()
    trials = json.loads(Path(args.trials).read_text())
    (cmd_time if args.phase == "time" else cmd_run)(args, trials)


if __name__ == "__main__":
    main()
