"""Several devices: FRePo's step and the evaluation's two paths, on 1 and on N devices, one run each.

    FREPO_DATA_DIR=../shared/datasets python benchmarks/speed_devices.py                 # CPU: 1 and 4 host devices
    FREPO_DATA_DIR=../shared/datasets python benchmarks/speed_devices.py --devices 1 8   # e.g. a machine with 8 GPUs

Each device count runs in its own subprocess, since JAX fixes its devices when it starts. On the CPU backend
the N devices are forced with XLA_FLAGS=--xla_force_host_platform_device_count=N: they share the same cores,
so this measures what the sharding costs or gains there, not what N real devices would give. Measured in
each subprocess, compile excluded (a warm-up call first):
- FRePo: ms per step of ``distill.make_step`` on MNIST at 10 images/class for each preset of --configs,
  the real batch split across the devices, mean over --steps steps;
- evaluation: --networks networks of width --eval-widths trained on 100 MNIST images for --eval-steps
  steps, one after another ("sequential", on one device) and all at once ("parallel": vmap over the
  networks, split across the devices); ms per step of all networks together.
Writes frepo_lite/results/devices_<backend>.json and .md; ``evaluate.PARALLEL_EVAL`` takes its per-backend
choice from the evaluation rows on one device.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

from common import RESULTS

CONFIGS = {"cpu-ipc10": "cpu", "paper": "paper"}  # name -> preset, at 10 images/class of MNIST


def measure(configs: list[str], warmup: int, steps: int, networks: int, eval_widths: list[int],
            eval_steps: int) -> dict:
    """Run in a subprocess with its device count fixed: every measurement on all its devices."""
    import jax

    from frepo_lite import evaluate as E
    from frepo_lite import sharding
    from frepo_lite.configs import preset
    from frepo_lite.cost import seconds_per_call
    from frepo_lite.data import load_dataset
    from common import ms_per_step

    data = load_dataset("mnist")
    mesh = sharding.data_mesh()
    out = {"devices": len(jax.devices()), "backend": jax.default_backend(),
           "device_kind": jax.devices()[0].device_kind, "jax": jax.__version__, "frepo": {}, "eval": {}}
    for name in configs:
        cfg = preset(CONFIGS[name], "mnist", images_per_class=10)
        out["frepo"][name] = {"ms_per_step": ms_per_step(data, cfg, warmup, steps), "width": cfg.width,
                              "real_batch": cfg.real_batch, "warmup": warmup, "steps": steps}
    images, labels = E.random_subset(data, 10)
    keys = [jax.random.PRNGKey(i) for i in range(networks)]
    for width in eval_widths:
        cfg = E.EvalConfig(width=width, steps=eval_steps)
        _, train, train_many, _ = E._trainer_for(images, data, cfg)
        # one warm-up call (the compile), then one timed call of each path
        sequential, _ = seconds_per_call(lambda _: [train(k, images, labels) for k in keys], None, 1, warmup=1)
        parallel, _ = seconds_per_call(lambda _: train_many(keys, images, labels, mesh), None, 1, warmup=1)
        out["eval"][str(width)] = {"sequential_ms_per_step": sequential / eval_steps * 1000,
                                   "parallel_ms_per_step": parallel / eval_steps * 1000,
                                   "networks": networks, "steps": eval_steps, "support": len(images)}
    return out


def markdown(runs: list[dict], meta: dict) -> str:
    base = runs[0]
    lines = ["# Several devices: FRePo step and evaluation (measured)", "",
             f"Backend {base['backend']} ({base['device_kind']}). FRePo: ms per step on MNIST, 10 images/class, the "
             "real batch split across the devices (speed-up against 1 device in brackets). Evaluation: ms per "
             f"step of {base['eval'][next(iter(base['eval']))]['networks']} networks trained on 100 images, one "
             "after another (sequential) or all at once (parallel: vmap over the networks, split across the "
             "devices), and parallel's speed-up over sequential in brackets (below 1: slower).", ""]
    frepo = list(base["frepo"])
    evals = list(base["eval"])
    head = ["devices"] + [f"FRePo {c} (width {base['frepo'][c]['width']}, batch {base['frepo'][c]['real_batch']})"
                          for c in frepo]
    head += [f"eval width {w}: sequential / parallel" for w in evals]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for run in runs:
        cells = [str(run["devices"])]
        for c in frepo:
            ms = run["frepo"][c]["ms_per_step"]
            cells.append(f"{ms:.0f} ms ({base['frepo'][c]['ms_per_step'] / ms:.2f}x)")
        for w in evals:
            e = run["eval"][w]
            cells.append(f"{e['sequential_ms_per_step']:.0f} / {e['parallel_ms_per_step']:.0f} ms "
                         f"({e['sequential_ms_per_step'] / e['parallel_ms_per_step']:.2f}x)")
        lines.append("| " + " | ".join(cells) + " |")
    forced = ("The devices are forced host devices (`XLA_FLAGS=--xla_force_host_platform_device_count=N`) "
              "sharing the same CPU cores. " if base["backend"] == "cpu" else "")
    note = f" {meta['note']}" if meta.get("note") else ""
    lines += ["", f"Machine: {meta['machine']}; measured {meta['date']}.{note} {forced}Compile excluded; FRePo: mean over "
              f"{base['frepo'][frepo[0]]['steps']} steps after {base['frepo'][frepo[0]]['warmup']} "
              f"(per config); evaluation: one timed call of {base['eval'][evals[0]]['steps']} steps after a "
              "warm-up call.", "", f"Reproduce: `{meta['command']}`."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--devices", nargs="+", type=int, default=[1, 4], help="device counts, one subprocess each")
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--networks", type=int, default=4, help="evaluation networks (a multiple of the devices)")
    p.add_argument("--eval-widths", nargs="+", type=int, default=[32, 128])
    p.add_argument("--eval-steps", type=int, default=50)
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # internal: measure here
    args = p.parse_args(argv)
    settings = (args.configs, args.warmup, args.steps, args.networks, args.eval_widths, args.eval_steps)
    if args.one:
        print("RESULT" + json.dumps(measure(*settings)))
        return
    runs = []
    for n in args.devices:  # n host devices on the CPU backend, the first n GPUs on a GPU machine
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": ",".join(str(i) for i in range(n)),
               "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={n}".strip()}
        done = subprocess.run([sys.executable, __file__, "--one", *sys.argv[1:]], env=env, capture_output=True,
                              text=True)
        if done.returncode:
            sys.exit(f"the run on {n} device(s) failed:\n{done.stderr[-3000:]}")
        runs.append(json.loads(next(x for x in done.stdout.splitlines() if x.startswith("RESULT"))[6:]))
        print(json.dumps(runs[-1]), flush=True)
    meta = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
                       f"jax {runs[0]['jax']}", "date": datetime.date.today().isoformat(), "command": "FREPO_DATA_DIR=../shared/datasets python benchmarks/speed_devices.py "
            + " ".join(sys.argv[1:] if argv is None else argv)}
    RESULTS.mkdir(exist_ok=True)
    stem = f"devices_{runs[0]['backend']}"
    (RESULTS / f"{stem}.json").write_text(json.dumps({**meta, "runs": runs}, indent=1) + "\n")
    (RESULTS / f"{stem}.md").write_text(markdown(runs, meta))
    print(markdown(runs, meta))


if __name__ == "__main__":
    main()
