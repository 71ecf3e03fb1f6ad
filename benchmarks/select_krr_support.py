"""A random KRR support per step against the full support, on larger distilled sets (validation split).

    FREPO_DATA_DIR=../shared/datasets python benchmarks/select_krr_support.py                        # MNIST, Fashion-MNIST
    FREPO_DATA_DIR=../shared/datasets python benchmarks/select_krr_support.py --datasets mnist --supports 100 --steps 300

For each dataset, the `cpu` preset at --ipc images/class (default 50: 500 images) is distilled with the full
support and with `krr_support=k` for each k of --supports, the same in everything else (seed, steps), each
as a resumable trial of select_preset.py (under runs/select/, named by its settings): the full-support set is
then the one `select_preset.py report --rows <dataset>:50` reports on the test split, not distilled twice.
Each set's seconds per step come from its run; its accuracy from --eval-models networks of the preset's
width trained on it for --eval-steps steps and tested on the **validation** split, since this comparison
chooses (whether, and with which k, a bounded support is worth it); the test split is not read. Writes
frepo_lite/results/krr_support_<dataset>.json and .md.
"""
from __future__ import annotations

import argparse
import sys
import time

from frepo_lite.configs import preset
from frepo_lite.evaluate import EvalConfig
from frepo_lite.protocol import PROTOCOL_VERSION
from common import CPU_EVAL, RESULTS, add_eval_args, eval_config, machine, preset_changes, provenance, write_results
from select_preset import run_trial  # each set is a trial of the selection, so the full-support one is reported



def run_one(data_cache: dict, dataset: str, ipc: int, support: int | None, steps: int | None,
            eval_cfg: EvalConfig) -> dict:
    """Distil the `cpu` preset with one support (select_preset's resumable trial, so the full-support set is
    the very run that `select_preset.py report` reports at this size) and evaluate it on the validation split:
    one row of the table."""
    changes = {**preset_changes(dataset, ipc), **({"krr_support": support} if support else {}),
               **({"steps": steps} if steps else {})}
    r = run_trial(f"krr_support_{support or 'all'}", dataset, ipc, changes, data_cache, eval_cfg=eval_cfg)
    return {"krr_support": support, "steps": r["steps"], "seconds": r["distill_seconds"],
            "seconds_per_step": r["distill_seconds"] / r["steps"], "val_acc_mean": r["acc_mean"],
            "val_acc_std": r["acc_std"], "accs": r["accs"], "network": r["network"],
            "eval_steps": r["eval_steps"], "config": r["settings"]}


def markdown(dataset: str, ipc: int, rows: list[dict], meta: dict) -> str:
    n = ipc * 10
    lines = [f"# Random KRR support against the full support: {dataset}, {ipc} images/class (measured)", "",
             f"The `cpu` preset at {n} distilled images, {rows[0]['steps']} steps, each set evaluated on the "
             f"**validation** split by {len(rows[0]['accs'])} x {rows[0]['network']} trained for "
             f"{rows[0]['eval_steps']} steps (mean ± std over the networks; one distillation per row).", "",
             "| KRR support per step | seconds per step | distillation minutes | validation accuracy (%) | "
             "against the full support |", "|---|---|---|---|---|"]
    name = lambda r: f"all {n}" if r["krr_support"] is None else f"random {r['krr_support']}"  # noqa: E731
    full = next(r for r in rows if r["krr_support"] is None)
    for r in rows:
        versus = "" if r is full else (f"{100 * (r['val_acc_mean'] - full['val_acc_mean']):+.2f} points, "
                                       f"{full['seconds_per_step'] / r['seconds_per_step']:.1f}x the steps per second")
        lines.append(f"| {name(r)} | {r['seconds_per_step']:.2f} | {r['seconds'] / 60:.1f} | "
                     f"{100 * r['val_acc_mean']:.2f} ± {100 * r['val_acc_std']:.2f} | {versus} |")
    lines += ["", f"Best on the validation split: {name(max(rows, key=lambda r: r['val_acc_mean']))}.", "",
              *provenance(meta)]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["mnist", "fashion_mnist"])
    p.add_argument("--ipc", type=int, default=50)
    p.add_argument("--supports", nargs="+", type=int, default=[100, 250], help="random KRR supports k")
    p.add_argument("--steps", type=int, help="distillation steps (default: the cpu preset's)")
    add_eval_args(p, CPU_EVAL.replace(steps=1000), width=False)  # the preset's width evaluates its sets
    args = p.parse_args(argv)
    command = ("FREPO_DATA_DIR=../shared/datasets python benchmarks/select_krr_support.py "
               + " ".join(sys.argv[1:] if argv is None else argv)).strip()
    data_cache: dict = {}
    for dataset in args.datasets:
        t0 = time.perf_counter()
        width = preset("cpu", dataset, images_per_class=args.ipc).width
        eval_cfg = eval_config(args, width=width)
        rows = [run_one(data_cache, dataset, args.ipc, k, args.steps, eval_cfg)
                for k in [None, *sorted(args.supports)]]
        meta = {"dataset": dataset, "ipc": args.ipc, "machine": machine(), "protocol_version": PROTOCOL_VERSION,
                "command": command, "wall_minutes": (time.perf_counter() - t0) / 60}
        write_results(RESULTS, f"krr_support_{dataset}", {**meta, "rows": rows}, markdown(dataset, args.ipc, rows, meta))
        print(markdown(dataset, args.ipc, rows, meta))


if __name__ == "__main__":
    main()
