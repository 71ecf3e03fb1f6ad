"""The `cpu` preset's distilled sets evaluated by the unchanged DESIGN.md protocol: Conv-NN width 128, 5 networks.

    FREPO_DATA_DIR=../shared/datasets python benchmarks/protocol_eval.py

table1.py evaluates the sets it distils with networks of the distillation's width (32 for the `cpu` preset).
This script takes the sets that table1.py exported (results/distilled/<preset>_<dataset>_ipc<k>.npz) and
evaluates each, and a random real subset of the same size drawn with the row's seed, with `EvalConfig()`: the
protocol's width 128 and 5 fresh networks, nothing else changed. A width-128 network trains in seconds on a
GPU; on the 2-core CPU machine of session 8 it took about 1 minute on 10 images and 14.4 minutes on 100
(0.43 s per step), so a 10-images/class row took 72 minutes there (the machine of sessions 1-7 was about
three times slower). Writes results/protocol_eval_<preset>.json and .md; a set
already evaluated (same file contents, same evaluation settings) is skipped, and an interrupted row resumes
with the networks it had finished (kept in runs/). `--sets PATH ...` evaluates other exported sets (trials of
a preset change) instead, into results/trials/protocol_eval.json and .md. Sets are identified by their
images and labels, not by their files: once the preset adopts a trial's settings and its set (table1.py copies
it), the preset's row is the trial's ("promoted_from"), so that step evaluates nothing again. The random
subset does not depend on the set: its result is taken from an earlier row of the same dataset, images per
class, seed and evaluation settings ("random_subset_from"), which halves the time of a trial.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from frepo_lite.data import load_dataset
from frepo_lite.evaluate import EvalConfig, evaluate_random_subset, evaluate_support
from frepo_lite.export import DistilledSet, load_distilled
from table1 import PAPER, RANDOM_PAPER, RESULTS, RUNS, TRIALS, machine


def set_digest(ds: DistilledSet) -> str:
    """sha256 of a set's images and labels: equal for the same distilled set exported to different files."""
    return hashlib.sha256(ds.images.tobytes() + ds.labels.tobytes()).hexdigest()


def reusable_baseline(name: str, ipc: int, seed: int, eval_cfg: EvalConfig) -> tuple[dict, str] | None:
    """An earlier row's random-subset result (any results/**/protocol_eval*.json) with the same dataset,
    images per class, seed and evaluation settings: that baseline does not depend on the distilled set."""
    want = (name, ipc, seed, dataclasses.asdict(eval_cfg))
    for path in sorted(RESULTS.glob("**/protocol_eval*.json")):
        for r in json.loads(path.read_text())["rows"]:
            if (r["dataset"], r["ipc"], r["random_subset_seed"], r["eval_config"]) == want:
                return r["random_subset"], r.get("random_subset_from") or f"{path.relative_to(RESULTS)}: {r['set']}"
    return None


def evaluate_set(ds: DistilledSet, where: str, eval_cfg: EvalConfig) -> dict:
    """One row: the set `ds` (its file `where`, relative to results/) and a random subset of its size, both
    by eval_cfg (the random subset's result taken from an earlier row when there is one)."""
    name, ipc = ds.metadata["dataset"], ds.metadata["distillation"]["images_per_class"]
    seed = ds.metadata["distillation"]["seed"]
    data = load_dataset(name)
    for key, ours in data.preprocessing.to_arrays().items():  # the set must live in this dataset's space
        if not np.allclose(ours, ds.preprocessing.to_arrays()[key], rtol=1e-5, atol=1e-6):
            raise ValueError(f"{where}: its preprocessing ({key}) differs from {name}'s as loaded here")
    t0 = time.perf_counter()
    frepo = evaluate_support(ds.images, ds.labels, data, eval_cfg, resume_dir=RUNS)
    seconds = time.perf_counter() - t0
    found = reusable_baseline(name, ipc, seed, eval_cfg)
    random, random_from = found if found else (
        evaluate_random_subset(data, ipc, eval_cfg, seed=seed, resume_dir=RUNS), None)
    return {"dataset": name, "ipc": ipc, "set": where, "set_digest": set_digest(ds),
            "distill_steps": ds.metadata["distillation"]["steps"],
            "distill_seconds": ds.metadata["provenance"].get("seconds"),
            "eval_config": dataclasses.asdict(eval_cfg), "eval_seconds_per_model": seconds / eval_cfg.num_models,
            "frepo": frepo, "random_subset": random, "random_subset_seed": seed, "random_subset_from": random_from,
            "paper_frepo": PAPER.get((name, ipc)), "paper_random": RANDOM_PAPER.get((name, ipc)),
            "machine": machine()}


def write_markdown(rows: list[dict], preset_name: str, trials: bool) -> str:
    pct = lambda r: f"{100 * r['acc_mean']:.1f} ± {100 * r['acc_std']:.1f}"  # noqa: E731
    what = ("Trial sets (`results/trials/`), distilled on the 2-core CPU machine" if trials else
            f"The `{preset_name}` preset's sets, distilled on the 2-core CPU machine (`table1_{preset_name}.md`)")
    lines = [f"# {'Trials' if trials else f'Table 1 with the `{preset_name}` preset'}, evaluated by the paper's "
             "protocol (measured)", "",
             f"{what}, each evaluated by fresh Conv-NN networks of the protocol's width 128 (not the width 32 of "
             "`table1.py`'s CPU evaluation), beside a random real subset of the same size evaluated by the same "
             "recipe (on the machine of an earlier row with the same settings, where there is one: "
             "`random_subset_from` in the JSON). Test accuracy (%), mean ± std over the networks; KRR accuracy "
             "in brackets.", "",
             "| dataset | img/cls | " + ("set | " if trials else "") + "FRePo (ours) | random subset (ours) | "
             "FRePo (paper) | random (paper) | distill time (CPU) | steps | eval width | eval nets | s per net | "
             "evaluated on |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if trials else "")]
    machines = sorted({r["machine"] for r in rows})  # rows evaluated on a GPU and on the CPU sit side by side
    for r in sorted(rows, key=lambda r: (r["dataset"], r["ipc"], r["set"])):
        e = r["eval_config"]
        lines.append(f"| {r['dataset']} | {r['ipc']} | " + (f"{r['set']} | " if trials else "") + f"{pct(r['frepo'])} ({100 * r['frepo']['krr_acc_mean']:.1f}) | "
                     f"{pct(r['random_subset'])} | {r['paper_frepo']} | {r['paper_random']} | "
                     f"{r['distill_seconds'] / 60:.1f} min | {r['distill_steps']} | {e['width']} | {e['num_models']} | "
                     f"{r['eval_seconds_per_model']:.0f} | [{machines.index(r['machine']) + 1}] |")
    if rows:
        lines += [""] + [f"[{i + 1}] {m}." for i, m in enumerate(machines)] + [
            "", "Reproduce: `FREPO_DATA_DIR=../shared/datasets python benchmarks/protocol_eval.py " +
            ("--sets <the sets>`" if trials else f"--preset {preset_name}`") + " (a width-128 network takes "
            "seconds on a GPU, 14.4 minutes on 100 images on the 2-core CPU of session 8)."]
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="cpu", help="evaluate results/distilled/<preset>_*.npz")
    p.add_argument("--sets", nargs="+", type=Path, help="exported sets to evaluate instead (trials)")
    p.add_argument("--eval-models", type=int, default=5)
    args = p.parse_args()
    eval_cfg = EvalConfig(num_models=args.eval_models)
    out = TRIALS / "protocol_eval.json" if args.sets else RESULTS / f"protocol_eval_{args.preset}.json"
    rows = json.loads(out.read_text())["rows"] if out.exists() else []
    trial_file = TRIALS / "protocol_eval.json"
    trial_rows = [] if args.sets or not trial_file.exists() else json.loads(trial_file.read_text())["rows"]
    for path in args.sets or sorted((RESULTS / "distilled").glob(f"{args.preset}_*.npz")):
        ds, where = load_distilled(path), os.path.relpath(path, RESULTS)
        key = (set_digest(ds), dataclasses.asdict(eval_cfg))
        same = lambda r: (r["set_digest"], r["eval_config"]) == key  # noqa: E731
        if any(same(r) for r in rows):
            print(f"{path.name}: already evaluated with these settings, skipping")
            continue
        rows = [r for r in rows if r["set"] != where]
        trial = next((r for r in trial_rows if same(r)), None)
        if trial:
            print(f"{path.name}: the trial {trial['set']} is this very set: taking its row")
            rows.append({**trial, "set": where, "promoted_from": trial["set"]})
        else:
            rows.append(evaluate_set(ds, where, eval_cfg))
        r = rows[-1]
        print(f"{path.name}: FRePo {100 * r['frepo']['acc_mean']:.2f} ± {100 * r['frepo']['acc_std']:.2f}, "
              f"random {100 * r['random_subset']['acc_mean']:.2f} ± {100 * r['random_subset']['acc_std']:.2f}, "
              f"{r['eval_seconds_per_model']:.0f} s per network", flush=True)
        out.write_text(json.dumps({"rows": rows}, indent=1))  # after every row: an interrupted run keeps its rows
    md = write_markdown(rows, args.preset, trials=bool(args.sets))
    out.with_suffix(".md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
