"""Learned against fixed labels (paper Sec. 4.2, Table 7): the `cpu` preset's set distilled with and without
label learning at the same budget, each evaluated by fresh networks on the test split.

    FREPO_DATA_DIR=../shared/datasets python benchmarks/paper_labels.py
    FREPO_DATA_DIR=../shared/datasets python benchmarks/paper_labels.py --rows mnist:1 --eval-models 5

Each row is `preset("cpu", dataset, images_per_class=k)` as the package has it (the learned-label set is then
the set the package ships, frepo_lite/results/distilled/cpu_<dataset>_ipc<k>.npz, select_preset.py's own run of
the same settings, evaluated again as it is) and the same with `learn_labels=False` (distilled and evaluated
resumably under runs/select/). Networks:
Conv-NN of width 32 by the protocol's recipe, 5 at 1 image/class and 2 at 10 unless --eval-models says
otherwise, as in results/table1_cpu.md. This table reports; it chooses nothing. Writes
results/labels_<dataset>.json and .md beside the paper's Table 7.
"""
from __future__ import annotations

import argparse
import json
import sys

from frepo_lite.evaluate import EvalConfig
from frepo_lite.protocol import PAPER_TABLE7, PROTOCOL_VERSION
from common import RESULTS, preset_changes
from select_preset import run_trial, shipped_set  # the learned-label set is the preset's shipped set, reused

ROWS = ("mnist:1", "mnist:10", "fashion_mnist:1", "fashion_mnist:10")
EVAL_MODELS = {1: 5, 10: 2}  # the networks of results/table1_cpu.md


def measure_row(dataset: str, ipc: int, eval_cfg: EvalConfig, cache: dict) -> dict:
    """The row's learned-label and fixed-label sets, distilled (resumably) and evaluated on the test split."""
    changes = preset_changes(dataset, ipc)
    row = {"dataset": dataset, "ipc": ipc, "network": None, "protocol_version": PROTOCOL_VERSION}
    shipped = shipped_set(dataset, ipc)  # the preset's own set, as the package ships it, while still the preset's
    for name, change, (stored, previous) in (("learned", {}, shipped),
                                             ("fixed", {"learn_labels": False}, (None, None))):
        r = run_trial(f"labels_{name}", dataset, ipc, {**changes, **change}, cache, split="test",
                      eval_cfg=eval_cfg, stored=stored, previous=previous)
        row[name] = {k: r[k] for k in ("acc_mean", "acc_std", "accs", "krr_acc_mean", "distill_seconds",
                                       "steps", "settings", "set", "machine")}
        row["network"] = f"{len(r['accs'])} x {r['network']}"
    return row


def markdown(dataset: str, rows: list[dict], command: str) -> str:
    pct = lambda r: f"{100 * r['acc_mean']:.1f} ± {100 * r['acc_std']:.1f}"  # noqa: E731
    lines = [f"# Learned against fixed labels: {dataset} (measured)", "",
             "Test accuracy (%), mean ± std over fresh networks trained on each set (KRR accuracy in brackets). "
             "Each pair of sets: the `cpu` preset at that size, distilled on the 2-core CPU with label learning "
             "and without (`learn_labels=False`), otherwise identical. The paper's Table 7 ran its GPU "
             "protocol (width 128, up to 2M steps); its numbers for this dataset stand beside ours.", "",
             "| img/cls | learned labels (ours) | fixed labels (ours) | learned − fixed | learned (paper) | "
             "fixed (paper) | evaluation networks | steps |", "|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: r["ipc"]):
        learned, fixed = r["learned"], r["fixed"]
        paper = PAPER_TABLE7.get((dataset, r["ipc"]), ("", ""))
        lines.append(f"| {r['ipc']} | {pct(learned)} ({100 * learned['krr_acc_mean']:.1f}) | {pct(fixed)} "
                     f"({100 * fixed['krr_acc_mean']:.1f}) | {100 * (learned['acc_mean'] - fixed['acc_mean']):+.1f} "
                     f"| {paper[0]} | {paper[1]} | {r['network']} | {learned['steps']} |")
    machines = sorted({r[k]["machine"] for r in rows for k in ("learned", "fixed")})
    lines += ["", "Machine: " + "; ".join(machines) + ".", "", f"Reproduce: `{command}`."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", nargs="+", default=list(ROWS), help="dataset:images_per_class, e.g. mnist:1")
    p.add_argument("--eval-width", type=int, default=32, help="width of the evaluation networks")
    p.add_argument("--eval-models", type=int, help="networks per set (default: 5 at 1 img/cls, 2 at 10)")
    args = p.parse_args(argv)
    command = ("FREPO_DATA_DIR=../shared/datasets python benchmarks/paper_labels.py "
               + " ".join(sys.argv[1:] if argv is None else argv)).strip()
    cache: dict = {}
    for item in args.rows:
        dataset, ipc = item.split(":")[0], int(item.split(":")[1])
        models = args.eval_models or EVAL_MODELS.get(ipc, 2)
        row = measure_row(dataset, ipc, EvalConfig(width=args.eval_width, num_models=models), cache)
        path = RESULTS / f"labels_{dataset}.json"
        rows = json.loads(path.read_text())["rows"] if path.exists() else []
        rows = [r for r in rows if r["ipc"] != ipc] + [row]
        RESULTS.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"dataset": dataset, "command": command, "rows": rows}, indent=1) + "\n")
        (RESULTS / f"labels_{dataset}.md").write_text(markdown(dataset, rows, command))
        print(f"{dataset} {ipc}/cls: learned {100 * row['learned']['acc_mean']:.1f}, "
              f"fixed {100 * row['fixed']['acc_mean']:.1f} ({row['network']})", flush=True)


if __name__ == "__main__":
    main()
