"""Cross-architecture transfer (paper Table 2, App. C.6): sets distilled with different pool architectures,
each trained on by every evaluation architecture, beside a random real subset of the same size.

    FREPO_DATA_DIR=../shared/datasets python benchmarks/paper_transfer.py                     # MNIST and Fashion-MNIST
    python benchmarks/paper_transfer.py --datasets mnist --eval-width 32 --eval-models 2 --eval-steps 500  # a 2-core CPU

Each pool architecture's set is the `cpu` preset at --ipc images/class with only the pool's architecture
changed, distilled resumably under runs/transfer/ (the preset's own pool, Conv-BN, is the set the package ships,
frepo_lite/results/distilled/cpu_<dataset>_ipc<k>.npz, while it is still the preset's); every set is then
evaluated on each architecture of frepo_lite.transfer.TRANSFER_ARCHS (networks trained from scratch by the
protocol's recipe at --eval-width, resumable, test split: this table reports, it chooses nothing). Writes
frepo_lite/results/transfer_<dataset>.json and .md with the machine that made them.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from frepo_lite.data import load_dataset
from frepo_lite.configs import preset
from frepo_lite.distill import distill
from frepo_lite.evaluate import random_subset
from frepo_lite.protocol import PROTOCOL_VERSION
from frepo_lite.transfer import POOL_ARCHS, TRANSFER_ARCHS, evaluate_transfer, transfer_matrix
from common import RESULTS, add_eval_args, eval_config, machine, provenance, write_results
from select_preset import shipped_set

RUNS = Path("runs") / "transfer"
RANDOM = "random real subset"


def distill_sets(data, dataset: str, ipc: int, pools: list[str], steps: int | None) -> tuple[dict, dict]:
    """{set name: (images, labels)} for each pool architecture (distilled, resumable) and the random subset of
    the same size, and {set name: distillation settings and seconds}."""
    sets, recipes = {}, {}
    RUNS.mkdir(parents=True, exist_ok=True)
    for name in pools:
        arch, norm = POOL_ARCHS[name]
        overrides = {"steps": steps} if steps else {}
        cfg = preset("cpu", dataset, images_per_class=ipc, arch=arch, norm=norm, **overrides)
        stored, previous = (shipped_set(dataset, ipc) if cfg == preset("cpu", dataset, images_per_class=ipc)
                            else (None, None))
        if stored is not None:  # the preset's own set, as the package ships it: evaluated again as it is
            path, kept = stored
            sets[name] = (kept.images, kept.labels)
            recipes[name] = {**dataclasses.asdict(cfg), "seconds": previous["distill_seconds"],
                             "shipped_set": path.name}
            continue
        tag = name.replace(" ", "_")
        result = distill(data, cfg, checkpoint=RUNS / f"{dataset}_ipc{ipc}_{tag}_{cfg.steps}.ckpt", progress=True)
        sets[name] = (result.images, result.labels)
        recipes[name] = {**dataclasses.asdict(cfg), "seconds": round(result.history["seconds"], 1)}
    sets[RANDOM] = random_subset(data, ipc, seed=0)
    recipes[RANDOM] = {"images_per_class": ipc, "seed": 0}
    return sets, recipes


def markdown(dataset: str, ipc: int, rows: list[dict], meta: dict) -> str:
    """The results as a markdown table: sets down, evaluation architectures across, mean +- std (%)."""
    sets, archs, mean, std = transfer_matrix(rows)
    lines = [f"# Cross-architecture transfer: {dataset}, {ipc} images/class (measured)", "",
             f"Test accuracy (%), mean ± std over {meta['eval_models']} networks of each architecture trained from "
             f"scratch on each set for {meta['eval_steps']} steps (width {meta['eval_width']}; 128 is the paper's "
             "networks, a smaller width scales every layer's channels). Rows: "
             "the pool architecture the set was distilled with (`cpu` preset), and a random real subset of the same "
             "size.", "",
             "| set | " + " | ".join(archs) + " |", "|---|" + "---|" * len(archs)]
    for i, name in enumerate(sets):
        lines.append(f"| {name} | " + " | ".join(f"{100 * m:.1f} ± {100 * s:.1f}" for m, s in zip(mean[i], std[i]))
                     + " |")
    for name, recipe in meta["recipes"].items():
        if "shipped_set" in recipe:
            lines += ["", f"The {name} set is the `cpu` preset's own, as the package ships it "
                      f"(`frepo_lite/results/distilled/{recipe['shipped_set']}`), evaluated again as it is: its "
                      "distillation is not in this run's wall time."]
    if meta.get("resumed"):
        lines += ["", "Resumed from earlier runs of the same command (runs/transfer/), so its total wall time is not "
                  "known; each set's distillation seconds are in the .json beside this file."]
    lines += ["", *provenance(meta)]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["mnist", "fashion_mnist"])
    p.add_argument("--ipc", type=int, default=10, help="images per class")
    p.add_argument("--pools", nargs="+", default=list(POOL_ARCHS), choices=list(POOL_ARCHS))
    p.add_argument("--archs", nargs="+", default=list(TRANSFER_ARCHS), choices=list(TRANSFER_ARCHS))
    p.add_argument("--steps", type=int, help="distillation steps (default: the cpu preset's)")
    add_eval_args(p)
    args = p.parse_args(argv)
    command = "python benchmarks/paper_transfer.py " + " ".join(sys.argv[1:] if argv is None else argv)
    cfg = eval_config(args)
    for dataset in args.datasets:
        t0 = time.perf_counter()
        # a run that finds this dataset's checkpoints continues earlier work: its own wall time is not the total
        resumed = any(RUNS.glob(f"{dataset}_ipc{args.ipc}_*.ckpt"))
        data = load_dataset(dataset)
        sets, recipes = distill_sets(data, dataset, args.ipc, args.pools, args.steps)
        rows = evaluate_transfer(sets, data, args.archs, cfg, split="test", resume_dir=RUNS / "eval")
        meta = {"dataset": dataset, "ipc": args.ipc, "eval_width": args.eval_width, "eval_models": args.eval_models,
                "eval_steps": rows[0]["steps"] if rows else None,
                "machine": machine(), "protocol_version": PROTOCOL_VERSION, "command": command.strip(),
                "recipes": recipes,
                **({"resumed": True} if resumed else {"wall_minutes": (time.perf_counter() - t0) / 60})}
        write_results(RESULTS, f"transfer_{dataset}", {**meta, "rows": rows}, markdown(dataset, args.ipc, rows, meta))
        print(markdown(dataset, args.ipc, rows, meta))


if __name__ == "__main__":
    main()
