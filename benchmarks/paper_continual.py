"""Class-incremental learning with a replay buffer (paper Sec. 5.1, Fig. 5a-b), GDumb style.

    FREPO_DATA_DIR=../shared/datasets python benchmarks/paper_continual.py                      # MNIST and Fashion-MNIST
    python benchmarks/paper_continual.py --datasets mnist --orders 1 --eval-steps 300          # a quick look

The classes arrive in --steps groups (class orders np.random.RandomState(seed).permutation(C), seeds
0..--orders-1); after each step fresh networks are trained from scratch on the union of the buffers so far and
tested on the test images of the classes seen so far. Buffers of --ipc images per class: random real images,
herding, FRePo distilled from each step's classes only, and FRePo distilled from all classes at once (the
paper's reference point). The FRePo buffers are the `cpu` preset at --ipc images/class (--distill-steps
steps), distilled resumably under runs/continual/; the evaluations resume from runs/continual/eval. Test
split: this table reports, it chooses nothing. Writes frepo_lite/results/continual_<dataset>.json (the
settings, 'summary' and each order's rows under 'by_order') and .md.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from frepo_lite import continual
from frepo_lite.data import load_dataset
from frepo_lite.configs import preset
from frepo_lite.evaluate import EvalConfig
from frepo_lite.protocol import PAPER_CONTINUAL_CIFAR100, PROTOCOL_VERSION
from common import RESULTS, add_eval_args, eval_config, machine, provenance, write_results

RUNS = Path("runs") / "continual"
NAMES = {"random": "random real", "herding": "herding", "frepo": "FRePo, per step",
         "frepo_all": "FRePo, all classes at once"}


def run_order(data, seed: int, args, eval_cfg: EvalConfig, distill_cfg) -> dict:
    """{buffer: GDumb rows} for the class order of `seed`."""
    steps = continual.class_steps(continual.class_order(data.num_classes, seed), args.steps)
    out = {}
    for method in args.buffers:
        buffers = continual.build_buffers(data, method, steps, args.ipc, distill_cfg, runs_dir=RUNS, seed=0)
        out[method] = continual.gdumb(data, buffers, steps, eval_cfg, split="test", resume_dir=RUNS / "eval")
    return out


def summarise(orders: dict) -> dict:
    """{buffer: {'mean': (steps,), 'std': (steps,)}} of accuracy over class orders (each order's value: the
    mean over its networks), in [0, 1]."""
    methods = next(iter(orders.values())).keys()
    summary = {}
    for m in methods:
        acc = np.array([[r["acc_mean"] for r in orders[s][m]] for s in orders])  # (orders, steps)
        summary[m] = {"mean": acc.mean(0).tolist(), "std": acc.std(0).tolist()}
    return summary


def markdown(dataset: str, summary: dict, meta: dict) -> str:
    n = len(next(iter(summary.values()))["mean"])
    lines = [f"# Class-incremental learning: {dataset}, {meta['steps']} steps, {meta['ipc']} images/class "
             "(measured)", "",
             f"Test accuracy (%) on the classes seen so far, after each step: mean ± std over {meta['orders']} "
             f"class orders (each the mean of {meta['eval_models']} networks trained from scratch on the union "
             f"of the buffers, {meta['eval_network']}, {meta['eval_steps']}). FRePo buffers: the `cpu` preset, "
             f"{meta['distill_steps']} steps.", "",
             "| buffer | " + " | ".join(f"step {t + 1}" for t in range(n)) + " |", "|---|" + "---|" * n]
    for m, s in summary.items():
        lines.append(f"| {NAMES[m]} | " + " | ".join(f"{100 * a:.1f} ± {100 * b:.1f}"
                                                     for a, b in zip(s["mean"], s["std"])) + " |")
    lines += ["", "After the last step every class order holds the same random, herding and one-shot images (a "
              "class's exemplars do not depend on its step), in another order: their spread there is that of "
              "the training alone. The per-step FRePo images differ with the pairs of classes distilled together."]
    paper = PAPER_CONTINUAL_CIFAR100
    lines += ["", "The paper (CIFAR-100, 20 images/class; not this dataset): final accuracy "
              f"{paper[(5, 'FRePo')]} % (FRePo) and {paper[(5, 'DM')]} % (DM) after 5 steps, "
              f"{paper[(10, 'FRePo')]} % and {paper[(10, 'DM')]} % after 10; a set of 10 images/class (half the "
              f"buffer's images) distilled from all classes at once: {paper[('one-shot', 'FRePo, all classes')]} % "
              "(the paper's text; its Table 1: 42.5 %).", "",
              *provenance(meta)]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["mnist", "fashion_mnist"])
    p.add_argument("--steps", type=int, default=5, help="class-incremental steps (5: two classes each)")
    p.add_argument("--ipc", type=int, default=10, help="buffer images per class")
    p.add_argument("--orders", type=int, default=3, help="class orders (seeds 0..orders-1)")
    p.add_argument("--buffers", nargs="+", default=list(continual.BUFFERS), choices=list(continual.BUFFERS))
    p.add_argument("--distill-steps", type=int, help="FRePo steps per buffer (default: the cpu preset's)")
    add_eval_args(p)
    args = p.parse_args(argv)
    command = "python benchmarks/paper_continual.py " + " ".join(sys.argv[1:] if argv is None else argv)
    eval_cfg = eval_config(args)
    for dataset in args.datasets:
        t0 = time.perf_counter()
        data = load_dataset(dataset)
        overrides = {"steps": args.distill_steps} if args.distill_steps else {}
        distill_cfg = preset("cpu", dataset, images_per_class=args.ipc, **overrides)
        orders = {seed: run_order(data, seed, args, eval_cfg, distill_cfg) for seed in range(args.orders)}
        summary = summarise(orders)
        meta = {"dataset": dataset, "steps": args.steps, "ipc": args.ipc, "orders": args.orders,
                "eval_models": args.eval_models,
                "eval_network": f"Conv-NN width {args.eval_width}",
                "eval_steps": f"{args.eval_steps} training steps each" if args.eval_steps
                else "the protocol's training steps for each buffer size",
                "distill_steps": distill_cfg.steps, "machine": machine(), "protocol_version": PROTOCOL_VERSION,
                "command": command.strip(), "wall_minutes": (time.perf_counter() - t0) / 60}
        table = markdown(dataset, summary, meta)
        write_results(RESULTS, f"continual_{dataset}",
                      {**meta, "summary": summary, "by_order": {str(k): v for k, v in orders.items()}}, table)
        print(table)


if __name__ == "__main__":
    main()
