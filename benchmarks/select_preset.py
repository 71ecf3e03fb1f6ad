"""Choose values of the `cpu` preset on the validation split, then report the chosen rows once on test.

Every choice is made on the validation split (5000 images held out of the training set by
`load_dataset`); the test split is read only by `report`, once per final row:

    # 1. BatchNorm momentum of the pool models: 0.9 against 0.1, MNIST and Fashion-MNIST, 1 and 10 img/cls
    FREPO_DATA_DIR=../shared/datasets python benchmarks/select_preset.py bn_momentum
    # 2. Fashion-MNIST 10 img/cls: the paper's KRR settings against lambda0 1e-2 + initial label scale 0.5
    FREPO_DATA_DIR=../shared/datasets python benchmarks/select_preset.py cpu_tuned
    # 3. the other values earlier trials chose on test: LAMB's learning rate, the online batch
    FREPO_DATA_DIR=../shared/datasets python benchmarks/select_preset.py others
    # 4. the preset's rows as chosen, on test (each set is the selection run of the same settings; at 50
    #    img/cls the full-support run of select_krr_support.py)
    FREPO_DATA_DIR=../shared/datasets python benchmarks/select_preset.py report

A trial distills the `cpu` preset (its steps for the images per class, no dataset-specific settings) with
the trial's changes on this CPU, then trains fresh Conv-NN networks of the distillation's width 32 on it
and measures them on the validation split (the protocol's width 128 costs six times as much here). Each
distillation resumes from its checkpoint and each evaluation from its finished networks (runs/select/), so
an interrupted command continues where it stopped. Results: results/selection/selection.json and .md.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from frepo_lite.data import dataset_info, load_dataset
from frepo_lite.configs import preset
from frepo_lite.distill import distill, krr_settings
from frepo_lite.evaluate import EvalConfig, eval_steps_for, evaluate_random_subset, evaluate_support
from frepo_lite.export import build_metadata, save_distilled
from frepo_lite.protocol import PAPER_TABLE1, PROTOCOL_VERSION, PUBLISHED_RANDOM, paper_frepo
from common import (CPU_EVAL, RANDOM_COLUMN_NOTE, RESULTS as ALL_RESULTS, distilled_by, machine, preset_changes,
                    run_key, stored_set, trial_config)

RESULTS = ALL_RESULTS / "selection"
RUNS = Path("runs") / "select"
DISTILLED = RESULTS.parent / "distilled"  # the reported sets, as cpu_<dataset>_ipc<k>.npz
SELECTION_EVAL = CPU_EVAL  # what ranks the trials, on the validation split
ROWS = (("mnist", 1), ("mnist", 10), ("fashion_mnist", 1), ("fashion_mnist", 10))
# Rows `report` also measures: 50 images/class, where the preset's values are those chosen above and
# select_krr_support.py compares its full KRR support with random ones on the validation split (the same run).
LARGE_ROWS = (("mnist", 50), ("fashion_mnist", 50))
TUNED = {"lambda0": 1e-2, "label_scale": 0.5}


def run_trial(name: str, dataset: str, ipc: int, changes: dict, data_cache: dict, split: str = "val",
              eval_cfg: EvalConfig = SELECTION_EVAL, stored: tuple | None = None, previous: dict | None = None) -> dict:
    """Distill the trial's configuration (resumable) and evaluate the set on `split`; the row as a dict.

    stored: (path, DistilledSet) of a set of exactly this configuration, already distilled (common.stored_set),
    to evaluate instead of distilling; its distillation time and KRR fallbacks are those of `previous`, the row
    that measured it first.
    """
    if dataset not in data_cache:
        data_cache[dataset] = load_dataset(dataset)
    data = data_cache[dataset]
    cfg = trial_config(ipc, changes)
    settings = dataclasses.asdict(cfg)
    t0 = time.perf_counter()
    if stored is not None:
        path, kept = stored
        images, labels, set_path = kept.images, kept.labels, Path(os.path.relpath(path))
        distill_seconds, fallbacks = previous["distill_seconds"], previous["krr_fallbacks"]
        made_by = distilled_by(previous)
    else:
        digest = run_key(cfg, dataset=dataset, protocol=PROTOCOL_VERSION)
        RUNS.mkdir(parents=True, exist_ok=True)
        set_path = RUNS / f"{dataset}_ipc{ipc}_{digest}.npz"
        result = distill(data, cfg, checkpoint=RUNS / f"{dataset}_ipc{ipc}_{digest}.ckpt", progress=False)
        if not set_path.exists():
            meta = build_metadata(data.info, settings, dataclasses.asdict(eval_cfg), steps_done=result.steps_done,
                                  seconds=round(result.seconds, 1), command=f"select_preset.py trial {name}")
            save_distilled(set_path, result.images, result.labels, data.preprocessing, meta)
        images, labels = result.images, result.labels
        distill_seconds, fallbacks = round(result.history["seconds"], 1), result.history["krr_fallbacks"]
        made_by = PROTOCOL_VERSION
    krr = krr_settings(cfg, data.info)
    r = evaluate_support(images, labels, data, eval_cfg, split=split, progress=False, resume_dir=RUNS, **krr)
    return {"trial": name, "dataset": dataset, "ipc": ipc, "changes": changes, "split": split,
            "network": r["network"], "eval_steps": r["steps"], "acc_mean": r["acc_mean"], "acc_std": r["acc_std"],
            "accs": r["accs"], "krr_acc_mean": r["krr_acc_mean"], "distill_seconds": distill_seconds,
            "krr_fallbacks": fallbacks, "steps": cfg.steps, "set": str(set_path), "settings": settings,
            "protocol_version": PROTOCOL_VERSION, "set_protocol_version": made_by, "machine": machine(),
            "wall_seconds": round(time.perf_counter() - t0, 1)}


def load_rows() -> list[dict]:
    path = RESULTS / "selection.json"
    return json.loads(path.read_text()) if path.exists() else []


def save_row(row: dict) -> None:
    rows = [r for r in load_rows() if not (r["trial"] == row["trial"] and r["dataset"] == row["dataset"]
                                           and r["ipc"] == row["ipc"] and r["split"] == row["split"])]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "selection.json").write_text(json.dumps(rows + [row], indent=1))
    write_markdown(rows + [row])
    if row["split"] == "test":
        write_table1(rows + [row])
    print(f"{row['trial']} {row['dataset']} {row['ipc']}/cls on {row['split']}: "
          f"{100 * row['acc_mean']:.2f} +- {100 * row['acc_std']:.2f} % ({row['network']})", flush=True)


def choose(rows: list[dict], trials: list[str]) -> str:
    """The trial with the best validation accuracy averaged over the rows where every trial was run."""
    val = [r for r in rows if r["split"] == "val" and r["trial"] in trials]
    cells = {(r["dataset"], r["ipc"]) for r in val}
    cells = [c for c in cells if all(any(r["trial"] == t and (r["dataset"], r["ipc"]) == c for r in val)
                                     for t in trials)]
    if not cells:
        raise SystemExit(f"no row has all of {trials} on the validation split yet")
    mean = {t: np.mean([r["acc_mean"] for r in val if r["trial"] == t and (r["dataset"], r["ipc"]) in cells])
            for t in trials}
    return max(trials, key=mean.get)


def cmd_bn_momentum(args, cache) -> None:
    for momentum in (0.9, 0.1):
        for dataset, ipc in ROWS:
            if not done(f"bn{momentum}", dataset, ipc, "val"):
                save_row(run_trial(f"bn{momentum}", dataset, ipc, {"bn_momentum": momentum}, cache))
    print("validation winner:", choose(load_rows(), ["bn0.9", "bn0.1"]))


def chosen_momentum() -> float:
    """The BatchNorm momentum that won on the validation split (phase bn_momentum)."""
    return float(choose(load_rows(), ["bn0.9", "bn0.1"])[2:])


def chosen_changes(dataset: str, ipc: int) -> tuple[str, dict]:
    """(trial name, changes) of the choices made so far on the validation split for this row."""
    base = f"bn{chosen_momentum()}"
    changes = {"bn_momentum": chosen_momentum()}
    if (dataset, ipc) == ("fashion_mnist", 10) and choose(load_rows(), [base, f"{base}_tuned"]) != base:
        return f"{base}_tuned", {**changes, **TUNED}
    return base, changes


def cmd_cpu_tuned(args, cache) -> None:
    momentum = chosen_momentum()
    base = f"bn{momentum}"
    for name, changes in ((base, {"bn_momentum": momentum}), (f"{base}_tuned", {"bn_momentum": momentum, **TUNED})):
        if not done(name, "fashion_mnist", 10, "val"):
            save_row(run_trial(name, "fashion_mnist", 10, changes, cache))
    print("validation winner:", choose(load_rows(), [base, f"{base}_tuned"]))


# The other values of the preset that earlier trials chose by test accuracy, each against the alternative
# it was chosen over, at the same CPU time: the online models' batch of 50 distilled images (against all 100
# images at 1600 steps, what fits the same time) and LAMB's learning rate 3e-3 (against the paper's 3e-4).
# The real batch (128, 512) and the width (48), each against what fitted the same time when the preset was set.
OTHERS = {("fashion_mnist", 10): {"ob100": {"online_batch": 100, "steps": 1600},
                                  "rb512": {"real_batch": 512, "steps": 1500},
                                  "rb128": {"real_batch": 128, "steps": 2400},
                                  "w48": {"width": 48, "steps": 1050}},
          ("mnist", 1): {"lr3e-4": {"lr": 3e-4}}}


def cmd_others(args, cache) -> None:
    for (dataset, ipc), trials in OTHERS.items():
        base, changes = chosen_changes(dataset, ipc)
        if not done(base, dataset, ipc, "val"):
            save_row(run_trial(base, dataset, ipc, changes, cache))
        for name, change in trials.items():
            if not done(f"{base}_{name}", dataset, ipc, "val"):
                save_row(run_trial(f"{base}_{name}", dataset, ipc, {**changes, **change}, cache))
        print(f"{dataset} {ipc}/cls validation winner:",
              choose(load_rows(), [base] + [f"{base}_{name}" for name in trials]), flush=True)


def done(trial: str, dataset: str, ipc: int, split: str) -> bool:
    return any(r["trial"] == trial and r["dataset"] == dataset and r["ipc"] == ipc and r["split"] == split
               and r["protocol_version"] == PROTOCOL_VERSION for r in load_rows())


def shipped_path(dataset: str, ipc: int) -> Path:
    """Where the package ships the `cpu` preset's set of the row (frepo_lite.stored reads it there)."""
    return DISTILLED / f"cpu_{dataset}_ipc{ipc}.npz"


def shipped_set(dataset: str, ipc: int) -> tuple[tuple | None, dict | None]:
    """The `cpu` preset's shipped set of the row, results/distilled/cpu_<dataset>_ipc<k>.npz, as run_trial's
    (stored, previous): the set and the earlier report row that measured it, when that set is still the
    preset's (common.stored_set: same settings, a distillation this protocol version shares); else (None, None).
    A set does not depend on its evaluation: a newer protocol, or other networks, evaluate it again as it is."""
    shipped = shipped_path(dataset, ipc)
    earlier = [r for r in load_rows() if r["split"] == "test" and r["trial"].startswith("preset")
               and (r["dataset"], r["ipc"]) == (dataset, ipc)]
    if not earlier:
        return None, None
    kept = stored_set(shipped, trial_config(ipc, preset_changes(dataset, ipc)), dataset_info(dataset),
                      distilled_by(earlier[-1]))
    return ((shipped, kept), earlier[-1]) if kept is not None else (None, None)


def cmd_report(args, cache) -> None:
    """Each final preset row (`preset("cpu", dataset, images_per_class=k)` as the package has it) once on
    the test split, beside a random real subset of the same size by the same networks. The preset must be
    what the validation split chose: its set is then the selection's own run (same settings, same seed),
    copied to results/distilled/cpu_<dataset>_ipc<k>.npz."""
    for dataset, ipc in ROWS + LARGE_ROWS:
        if args.rows and f"{dataset}:{ipc}" not in args.rows:
            continue
        changes = preset_changes(dataset, ipc)
        final = dataclasses.asdict(preset("cpu", dataset, images_per_class=ipc))
        chosen = dataclasses.asdict(trial_config(ipc, chosen_changes(dataset, ipc)[1]))
        if chosen != final:
            raise SystemExit(f"{dataset} {ipc}/cls: the package's cpu preset differs from what the validation "
                             f"split chose ({ {k: (final[k], v) for k, v in chosen.items() if final[k] != v} }): "
                             "update frepo_lite.distill first")
        name = f"preset_w{args.eval.width}"
        if done(name, dataset, ipc, "test"):
            continue
        stored, previous = shipped_set(dataset, ipc)
        reuse = stored is not None
        row = run_trial(name, dataset, ipc, changes, cache, split="test", eval_cfg=args.eval,
                        stored=stored, previous=previous)
        base = evaluate_random_subset(cache[dataset], ipc, args.eval, progress=False, split="test",
                                      resume_dir=RUNS)
        row["random_subset"] = {"acc_mean": base["acc_mean"], "acc_std": base["acc_std"], "accs": base["accs"]}
        if not reuse:
            DISTILLED.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(row["set"], shipped_path(dataset, ipc))  # the set the package ships (frepo_lite.stored)
        save_row(row)


def evaluated_by(row: dict) -> str:
    """What evaluated a trial row, e.g. '2 x Conv-NN width 32, 1000 steps'."""
    return f"{len(row['accs'])} x {row['network']}, {row['eval_steps']} steps"


def write_markdown(rows: list[dict]) -> None:
    lines = ["# Choosing the `cpu` preset on the validation split", "",
             "Each row: the `cpu` preset with the trial's changes, distilled on the 2-core CPU, then fresh "
             "networks trained on the set and measured on the split named (`val`: 5000 images held out of "
             "the training set, for choosing; `test`: read once, for the final rows). Accuracy (%), mean ± std "
             "over the networks. Reproduce: `python benchmarks/select_preset.py {bn_momentum,cpu_tuned,others,report}`.",
             "", "| split | dataset | img/cls | trial | changes | network | accuracy | KRR acc | random subset | "
             "steps | distill min | KRR fallbacks |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["split"] != "val", r["dataset"], r["ipc"], r["trial"])):
        changes = ", ".join(f"{k}={v}" for k, v in r["changes"].items()) or "(none)"
        base = r.get("random_subset")
        base = f"{100 * base['acc_mean']:.2f} ± {100 * base['acc_std']:.2f}" if base else ""
        lines.append(f"| {r['split']} | {r['dataset']} | {r['ipc']} | {r['trial']} | {changes} | "
                     f"{evaluated_by(r)} | {100 * r['acc_mean']:.2f} ± {100 * r['acc_std']:.2f} | "
                     f"{100 * r['krr_acc_mean']:.1f} | {base} | {r['steps']} | {r['distill_seconds'] / 60:.1f} | "
                     f"{r['krr_fallbacks']} |")
    lines += ["", "Machines: " + "; ".join(sorted({r["machine"] for r in rows})) + "."]
    (RESULTS / "selection.md").write_text("\n".join(lines) + "\n")


def write_table1(rows: list[dict]) -> None:
    """results/table1_cpu.md: the final preset rows on the test split, beside the paper's numbers."""
    final = sorted((r for r in rows if r["split"] == "test"), key=lambda r: (r["dataset"], r["ipc"], r["trial"]))
    pct = lambda r: f"{100 * r['acc_mean']:.1f} ± {100 * r['acc_std']:.1f}"  # noqa: E731
    lines = ["# Table 1 with the `cpu` preset (measured)", "",
             "Each set distilled on the 2-core CPU with `preset(\"cpu\", dataset, images_per_class=k)` (values "
             "chosen on the validation split: `frepo_lite/results/selection/selection.md`), then fresh networks trained on it and on a random "
             "real subset of the same size, and measured once on the test split. Accuracy (%), mean ± std over "
             "the networks; KRR accuracy in brackets. Our sets learn their labels: \"FRePo (paper)\" is the paper's "
             "learned-label run (its Table 7); its Table 1 reports the better of a learned-label and a fixed-label "
             "run, given in the last column. " + RANDOM_COLUMN_NOTE, "",
             "| dataset | img/cls | FRePo (ours) | random subset (ours) | FRePo (paper) | random (published) | "
             "evaluation networks | protocol | steps | distill time | paper's Table 1 (the better of learned and "
             "fixed labels) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in final:
        key = (r["dataset"], r["ipc"])
        paper = paper_frepo(*key, learn_labels=r["settings"]["learn_labels"])
        lines.append(f"| {r['dataset']} | {r['ipc']} | {pct(r)} ({100 * r['krr_acc_mean']:.1f}) | "
                     f"{pct(r['random_subset'])} | {paper or ''} | {PUBLISHED_RANDOM.get(key, '')} | "
                     f"{evaluated_by(r)} | "
                     f"{r['protocol_version']} | {r['steps']} | {r['distill_seconds'] / 60:.1f} min | "
                     f"{PAPER_TABLE1.get(key, '')} |")
    lines += ["", "The protocol trains each network " + ", ".join(f"{eval_steps_for(n)} steps at {n} images"
                                                             for n in (10, 100, 500)) +
              " (`frepo_lite.evaluate.eval_steps_for`); the evaluation column gives the steps each row's networks "
              "trained, on the distilled set and on the random subset alike (fewer than the protocol's where a "
              "2-core CPU could not afford more).", "",
              "Machine: " + "; ".join(sorted({r["machine"] for r in final})) + ".", "",
              "Distillation times are wall-clock times on that machine, with other measurements sharing its two "
              "cores at times.", "",
              "Reproduce: `FREPO_DATA_DIR=../shared/datasets python benchmarks/select_preset.py report --rows "
              "mnist:1 fashion_mnist:1 --eval-models 5` (5 networks of width 32), `... report --protocol --rows "
              "mnist:1 fashion_mnist:1` (the paper's 5 networks of width 128), `... report --rows mnist:10 "
              "fashion_mnist:10` (2 networks of width 32) and `... report --rows mnist:50 fashion_mnist:50 "
              "--eval-steps 1000` (2 networks). Each row's set is the selection's own run of its settings (at 50 "
              "images/class the full-support run of `select_krr_support.py`), shipped in "
              "`frepo_lite/results/distilled/`; a report under a newer evaluation protocol evaluates that set again "
              "without distilling it."]
    (RESULTS.parent / "table1_cpu.md").write_text("\n".join(lines) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("phase", choices=["bn_momentum", "cpu_tuned", "others", "report"])
    p.add_argument("--protocol", action="store_true",
                   help="report: evaluate by the paper's protocol (5 Conv-NN networks of width 128)")
    p.add_argument("--eval-width", type=int, default=32, help="report: width of the evaluation networks")
    p.add_argument("--eval-models", type=int, default=2, help="report: number of evaluation networks")
    p.add_argument("--eval-steps", type=int,
                   help="report: training steps of each network (default: the protocol's for the set's size)")
    p.add_argument("--rows", nargs="*", help="report: only these rows, e.g. mnist:1 fashion_mnist:10")
    args = p.parse_args()
    args.eval = (EvalConfig() if args.protocol else EvalConfig(width=args.eval_width, num_models=args.eval_models)
                 ).replace(steps=args.eval_steps)
    cache: dict = {}
    {"bn_momentum": cmd_bn_momentum, "cpu_tuned": cmd_cpu_tuned, "others": cmd_others,
     "report": cmd_report}[args.phase](args, cache)


if __name__ == "__main__":
    main()
