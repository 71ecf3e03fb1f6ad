"""Time per step and memory of FRePo and of unrolled BPTT against model width and distilled-set size
(paper Fig. 3c-d and Fig. 14, Tables 8-11), on this machine.

    FREPO_DATA_DIR=../shared/datasets python benchmarks/paper_cost.py
    FREPO_DATA_DIR=../shared/datasets python benchmarks/paper_cost.py --widths 16 32 --sizes 100 200 --bptt 1   # quick

Sweeps, on MNIST with the paper's measurement setting (Conv, real batch 256): the width at 100 distilled
images, and the number of distilled images at width --size-width. Methods: FRePo's whole step (all images as
KRR support), FRePo with a random --krr-support of them as support each step (the size sweep), and a step of
full BPTT through T inner steps for each T of --bptt. Each point: the best of --repeats timed calls after a
warm-up call, and XLA's memory of the compiled step (frepo_lite.cost). A method's series stops once a point
takes longer than --max-seconds per call ("where it fits"). FRePo's parts (frepo_lite.cost.PARTS) are
measured at every size. Writes frepo_lite/results/cost_<backend>.json and .md, resumably (points already
in the JSON are kept).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax

from frepo_lite import cost
from frepo_lite.data import load_dataset
from frepo_lite.configs import DistillConfig
from frepo_lite.protocol import PAPER_COST
from common import RESULTS, machine



def markdown(rows: list[dict], meta: dict) -> str:
    lines = [f"# Time per step and memory (measured on {meta['backend']})", ""]
    for sweep, label in (("width", "width (100 distilled images)"),
                         ("size", f"distilled images (width {meta['size_width']})")):
        paper = PAPER_COST[sweep]["FRePo"]
        sel = [r for r in rows if r["sweep"] == sweep]
        methods = list(dict.fromkeys(r["label"] for r in sel))
        xs = sorted({r["x"] for r in sel})
        if not sel:
            continue
        lines += [f"## Against {label}", "",
                  "| " + label + " | " + " | ".join(f"{m}: ms / MiB" for m in methods)
                  + " | paper FRePo (GPU): ms / GB |", "|---|" + "---|" * (len(methods) + 1)]
        for x in xs:
            cells = []
            for m in methods:
                r = next((r for r in sel if r["x"] == x and r["label"] == m), None)
                cells.append(f"{r['ms']:.0f} / {r['temp_mb']:.0f}" if r else "-")
            theirs = paper.get(x)
            cells.append(f"{theirs[0]} / {theirs[1]}" if theirs else "-")
            lines.append(f"| {x} | " + " | ".join(cells) + " |")
        lines.append("")
    parts = [r for r in rows if r["sweep"] == "size" and "parts" in r and r["label"] == "FRePo"]
    if parts:
        names = list(parts[0]["parts"])
        lines += ["## Where FRePo's step goes (ms)", "", "| distilled images | whole step | " + " | ".join(names)
                  + " |", "|---|---|" + "---|" * len(names)]
        for r in sorted(parts, key=lambda r: r["x"]):
            lines.append(f"| {r['x']} | {r['ms']:.0f} | " + " | ".join(f"{r['parts'][n]['ms']:.0f}" for n in names)
                         + " |")
        lines.append("")
    lines += [f"Machine: {meta['machine']}. MNIST (28 px, padded to 32, 1 channel), frepo_lite's Conv (channels "
              f"w, 2w, 4w over its three blocks), real batch {meta['real_batch']}, each method's whole step given the "
              f"training set; the best of {meta['repeats']} calls after a warm-up call, compilation excluded; "
              "memory: XLA's working memory of the compiled step (its temporaries, beyond its arguments and outputs), "
              f"in MiB. A series stops once a point takes more than {meta['max_seconds']} s, or at the first point whose "
              f"compiled program needs more than {meta['max_memory_gb']} GiB (not run; marked -). BPTT T=k: one step of "
              "distillation by full BPTT through k inner steps (a fresh network, LAMB on the images). FRePo: the "
              "paper's settings (`DistillConfig`'s defaults), whose online step trains on up to "
              f"{meta['online_batch']} of the distilled images, so that part grows with the set up to that "
              "size (notebook 08's `cpu` preset takes 50). The paper's "
              "column is its Tables 8-11 (an NVIDIA Quadro RTX 6000; the DSA Conv, the same width in every layer; "
              "batch 256; the GPU allocator's peak, in GB; the dataset and the size sweep's width are not stated, "
              "and that sweep's 100-image row matches its width-64 row for DSA, DM and MTT).", "",
              f"Reproduce: `{meta['command']}`."]
    return "\n".join(lines) + "\n"


def memory_limit() -> int:
    """60 % of the first device's memory in bytes (an accelerator's allocator limit; on a CPU, the machine's
    physical memory): XLA's figure for a program leaves out what the runtime needs beside it."""
    stats = jax.devices()[0].memory_stats() or {}
    total = stats.get("bytes_limit") or os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return int(0.6 * total)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--widths", nargs="+", type=int, default=[16, 32, 64, 128, 256, 512])
    p.add_argument("--sizes", nargs="+", type=int, default=[100, 200, 400, 800, 1600, 3200, 6400],
                   help="distilled images (multiples of 10)")
    p.add_argument("--size-width", type=int, default=64, help="width of the size sweep (the paper's: not stated, "
                   "64 by its numbers)")
    p.add_argument("--krr-support", type=int, default=500, help="random KRR support of the size sweep's second "
                   "FRePo series")
    p.add_argument("--bptt", nargs="+", type=int, default=[1, 10], help="unroll lengths T of full BPTT")
    p.add_argument("--real-batch", type=int, default=256)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-seconds", type=float, default=60.0)
    p.add_argument("--max-memory-gb", type=float, help="a series stops at the first point whose compiled program "
                   "needs more (XLA's figure; default: 60%% of the device's memory, or of the machine's on a CPU)")
    args = p.parse_args(argv)
    backend = jax.default_backend()
    out = RESULTS / f"cost_{backend}.json"
    rows = json.loads(out.read_text())["rows"] if out.exists() else []
    data = load_dataset("mnist")
    base = DistillConfig(real_batch=args.real_batch, images_per_class=10, flip=False)
    bptt = [f"BPTT T={t}" for t in args.bptt]
    sweeps = {"width": [(w, m, m, base.replace(width=w)) for m in ["FRePo", *bptt] for w in args.widths]}
    sized = lambda n: base.replace(width=args.size_width, images_per_class=n // 10)  # noqa: E731
    bounded = f"FRePo, krr_support {args.krr_support}"
    sweeps["size"] = ([(n, "FRePo", "FRePo", sized(n)) for n in args.sizes]
                      + [(n, bounded, "FRePo", sized(n).replace(krr_support=args.krr_support))
                         for n in args.sizes if n > args.krr_support]
                      + [(n, m, m, sized(n)) for m in bptt for n in args.sizes])
    max_bytes = int(args.max_memory_gb * 2**30) if args.max_memory_gb else memory_limit()
    meta = {"backend": backend, "machine": machine(), "real_batch": args.real_batch,
            "size_width": args.size_width, "repeats": args.repeats, "max_seconds": args.max_seconds,
            "max_memory_gb": round(max_bytes / 2**30, 1),
            "online_batch": base.online_batch,
            "command": "FREPO_DATA_DIR=../shared/datasets python benchmarks/paper_cost.py "
            + " ".join(sys.argv[1:] if argv is None else argv)}
    for name, points in sweeps.items():
        done = {(r["x"], r["label"]) for r in rows if r["sweep"] == name}
        too_slow = {r["label"] for r in rows if r["sweep"] == name and r["ms"] > 1e3 * args.max_seconds}
        for point in points:  # one at a time, so that an interrupted run keeps what it measured
            if (point[0], point[1]) in done or point[1] in too_slow:
                continue
            t0 = time.perf_counter()
            parts_of = ("FRePo",) if name == "size" else ()
            measured = cost.sweep(data, [point], args.repeats, parts_of=parts_of, progress=False, max_bytes=max_bytes)
            if not measured:  # its program does not fit in max_bytes: the series stops, as it would on a device
                too_slow.add(point[1])
                continue
            row = {"sweep": name, **measured[0]}
            rows.append(row)
            print(f"{name} {row['x']} {row['label']}: {row['ms']:.0f} ms, {row['temp_mb']:.0f} MiB working memory "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
            if row["ms"] > 1e3 * args.max_seconds:
                too_slow.add(row["label"])
            RESULTS.mkdir(exist_ok=True)
            out.write_text(json.dumps({**meta, "rows": rows}, indent=1) + "\n")
            (RESULTS / f"cost_{backend}.md").write_text(markdown(rows, meta))
    print(markdown(rows, meta))


if __name__ == "__main__":
    main()
