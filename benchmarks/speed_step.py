"""Milliseconds per FRePo meta-step and peak memory: our single compiled step against a straightforward one.

    FREPO_DATA_DIR=../shared/datasets python benchmarks/speed_step.py

"straightforward" is the structure of the authors' code: the real batch is sampled on the host and copied
to the device every step, then three separately jitted calls run (target features; meta-gradient + LAMB;
Adam step of the online model) and the pool is kept in Python lists; its convolutions are flax's own
(`flax.linen.Conv` with XLA's kernel gradient), as in the authors' code. "three calls, our conv" is the
same with frepo_lite's convolution (frepo_lite/conv.py: on CPU, the kernel gradient as one matrix
product), which separates what the convolution gains from what fusing the step gains. "compiled" is
frepo_lite.distill.make_step: one XLA program per step, the dataset resident on the device, the state
donated, our convolution (on a GPU our convolution is XLA's own, so there the second and third variants
differ by fusion alone). Each variant runs in its own subprocess, so its peak memory is its own: the
resident set (ru_maxrss) on a CPU, where the arrays live, and the allocator's peak bytes in use on an
accelerator. Timing: mean over --steps steps after --warmup steps (compile excluded). Writes
frepo_lite/results/step_speed.json and .md on the CPU backend, step_speed_gpu.json and .md on a GPU; rows
of configurations not in --configs are kept from the previous results of the same backend, so the slow
paper configuration can be measured on its own.
"""
from __future__ import annotations

import argparse
import datetime
import json
import resource
import subprocess
import sys

from common import RESULTS
from frepo_lite.protocol import PROTOCOL_VERSION

# name -> (preset, distilled images per class of MNIST)
CONFIGS = {"paper": ("paper", 10), "cpu-ipc1": ("cpu", 1), "cpu-ipc10": ("cpu", 10)}


def straightforward_step_fn(data, cfg):
    """The three-call step with host-side batches: (step(state) -> state, the first state)."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    from frepo_lite import distill as D
    from frepo_lite import kernels
    from frepo_lite.models import apply_model, init_model

    model, adam = D._model_and_online_optimizer(data, cfg)
    lamb = D.make_meta_optimizer(cfg)
    c = data.num_classes

    @jax.jit
    def target_features(variables, x):
        return apply_model(model, variables, x)[0]

    @jax.jit
    def meta_update(images, labels, opt_state, variables, f_t, y_t):
        def loss(d):
            f_s = apply_model(model, variables, d["images"])[0]
            pred = kernels.krr_from_features(f_s, f_t, d["labels"], cfg.lambda0)
            return kernels.mse_loss(pred, y_t) + kernels.label_margin_loss(d["labels"])
        d = {"images": images, "labels": labels}
        grads = jax.grad(loss)(d)
        updates, opt_state = lamb.update(grads, opt_state, d)
        d = optax.apply_updates(d, updates)
        return d["images"], d["labels"], opt_state

    @jax.jit
    def online_update(variables, opt_state, images, labels):
        return D.online_update(model, adam, variables, opt_state, images, labels, jax.random.PRNGKey(0),
                               cfg.online_batch)

    rng = np.random.RandomState(0)
    images, labels = (jnp.asarray(a) for a in D.init_distilled(data, cfg))
    pool = [init_model(model, jax.random.PRNGKey(i), data.x_train.shape[1:]) for i in range(cfg.pool_size)]
    pool_opt = [adam.init(v["params"]) for v in pool]
    counters = [i * cfg.max_online_steps // cfg.pool_size for i in range(cfg.pool_size)]
    state = {"images": images, "labels": labels, "opt": lamb.init({"images": images, "labels": labels})}

    def step(state):
        i = rng.randint(cfg.pool_size)
        idx = rng.randint(0, len(data.x_train), cfg.real_batch)
        x_t = jnp.asarray(data.x_train[idx])  # host -> device copy every step
        y_t = kernels.centered_one_hot(jnp.asarray(data.y_train[idx]), c)
        f_t = target_features(pool[i], x_t)
        state["images"], state["labels"], state["opt"] = meta_update(state["images"], state["labels"],
                                                                      state["opt"], pool[i], f_t, y_t)
        pool[i], pool_opt[i] = online_update(pool[i], pool_opt[i], state["images"], state["labels"])
        counters[i] += 1
        if counters[i] >= cfg.max_online_steps:
            pool[i] = init_model(model, jax.random.PRNGKey(1000 + i), data.x_train.shape[1:])
            pool_opt[i], counters[i] = adam.init(pool[i]["params"]), 0
        return state

    return step, state


def compiled_step_fn(data, cfg):
    """frepo_lite's one compiled step: (step(state) -> state, the first state)."""
    import jax

    from frepo_lite import distill as D
    step = D.make_step(data, cfg)
    x, y = jax.device_put(data.x_train), jax.device_put(data.y_train)
    return (lambda s: step(s, x, y)[0]), D.init_state(data, cfg)


VARIANTS = ("straightforward", "three_calls_our_conv", "compiled")


def measure(variant: str, config: str, warmup: int, steps: int) -> dict:
    """Run in a subprocess: time one variant at one configuration."""
    import flax.linen as nn
    import jax

    from frepo_lite import models
    from frepo_lite.cost import seconds_per_call
    from frepo_lite.data import load_dataset
    from frepo_lite.configs import preset

    if variant == "straightforward":
        models.Conv2D = nn.Conv  # this subprocess only: flax's own convolution, as the authors' code has
    data = load_dataset("mnist")
    preset_name, ipc = CONFIGS[config]
    cfg = preset(preset_name, images_per_class=ipc)
    make = compiled_step_fn if variant == "compiled" else straightforward_step_fn
    step_fn, state = make(data, cfg)
    first, state = seconds_per_call(step_fn, state, 1)  # the first step: its compilation included
    seconds, state = seconds_per_call(step_fn, state, steps, warmup)
    ms = seconds * 1000
    device_stats = jax.local_devices()[0].memory_stats() or {}  # None on the CPU backend
    return {"variant": variant, "config": config, "ms_per_step": ms, "first_step_s": first,
            "warmup_steps": warmup, "timed_steps": steps, "date": datetime.date.today().isoformat(),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "peak_device_mb": device_stats["peak_bytes_in_use"] / 2**20 if "peak_bytes_in_use" in device_stats else None,
            "width": cfg.width,
            "real_batch": cfg.real_batch, "images_per_class": cfg.images_per_class, "lr": cfg.lr,
            "online_batch": cfg.online_batch}


def this_machine() -> tuple[str, str]:
    """(results file stem, machine description): step_speed on the CPU backend, step_speed_gpu (etc.) on an
    accelerator, so that each backend keeps its own table."""
    import jax

    from common import machine
    backend = jax.default_backend()
    return ("step_speed" if backend == "cpu" else f"step_speed_{backend}"), machine()


def ms(x: float) -> str:
    return f"{x:.0f} ms" if x >= 100 else f"{x:.2f} ms"


def write_results(rows: list[dict], stem: str, machine: str) -> None:
    """results/<stem>.json and .md from all measured rows (every config with all three variants)."""
    on_device = all(r.get("peak_device_mb") is not None for r in rows)
    memory = "peak device memory" if on_device else "peak RSS"
    lines = ["# ms per FRePo meta-step (measured)", "",
             "| config | width | real batch | distilled images | straightforward (3 calls, flax conv) | "
             "3 calls, our conv | compiled (1 call, our conv) | speed-up | of which fusion | "
             f"{memory} straightforward / compiled |", "|---|---|---|---|---|---|---|---|---|---|"]
    mem_key = "peak_device_mb" if on_device else "peak_rss_mb"
    complete = [c for c in CONFIGS if all(any(r["config"] == c and r["variant"] == v for r in rows) for v in VARIANTS)]
    for config in complete:
        a, m, b = (next(r for r in rows if r["config"] == config and r["variant"] == v) for v in VARIANTS)
        b["speedup"] = a["ms_per_step"] / b["ms_per_step"]
        b["fusion_speedup"] = m["ms_per_step"] / b["ms_per_step"]
        lines.append(f"| {config} | {a['width']} | {a['real_batch']} | {10 * a['images_per_class']} | "
                     f"{ms(a['ms_per_step'])} | {ms(m['ms_per_step'])} | {ms(b['ms_per_step'])} | "
                     f"{b['speedup']:.2f}x | {b['fusion_speedup']:.2f}x | "
                     f"{a[mem_key]:.0f} / {b[mem_key]:.0f} MB |")
    timed = ", ".join(f"{c} {r['timed_steps']} after {r['warmup_steps']}" for c in complete
                      for r in rows if r["config"] == c and r["variant"] == "compiled")
    dates = ", ".join(sorted({r["date"] for r in rows}))
    runs = {}  # (warm-up, timed steps) -> the configurations measured so, one command each
    for c in complete:
        r = next(r for r in rows if r["config"] == c and r["variant"] == "compiled")
        runs.setdefault((r["warmup_steps"], r["timed_steps"]), []).append(c)
    lines += ["", f"Machine: {machine}; measured {dates}; protocol version {PROTOCOL_VERSION}; mean over the timed steps after warm-up steps ({timed}), "
              "compile excluded. Speed-up: straightforward / compiled; of which fusion: (3 calls, our conv) / "
              "compiled. " + ("Peak device memory: the allocator's peak bytes in use on the accelerator, the "
                              "resident MNIST arrays included." if on_device else
                              "Peak RSS includes the MNIST arrays (~200 MB) and the Python runtime."), "",
              "Reproduce: " + (f"`FREPO_DATA_DIR=../shared/datasets python benchmarks/speed_step.py --warmup "
                               f"{rows[0]['warmup_steps']} --steps {rows[0]['timed_steps']}` on a GPU machine."
                               if on_device else
                               " then ".join(f"`FREPO_DATA_DIR=../shared/datasets python benchmarks/speed_step.py "
                                             f"--configs {' '.join(cs)} --warmup {w} --steps {n}`"
                                             for (w, n), cs in runs.items()) + ".")]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps({"machine": machine, "protocol_version": PROTOCOL_VERSION,
                                                      "rows": rows}, indent=1))
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="+", default=list(CONFIGS))
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # internal: variant config
    args = p.parse_args()
    if args.one:
        print(json.dumps(measure(*args.one, args.warmup, args.steps)))
        return
    stem, machine = this_machine()
    saved = RESULTS / f"{stem}.json"  # the rows of configurations not measured now are kept
    rows = [r for r in (json.loads(saved.read_text())["rows"] if saved.exists() else [])
            if r["config"] not in args.configs]
    for config in args.configs:
        for variant in VARIANTS:
            out = subprocess.run([sys.executable, __file__, "--one", variant, config, "--warmup",
                                  str(args.warmup), "--steps", str(args.steps)],
                                 capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    write_results(rows, stem, machine)


if __name__ == "__main__":
    main()
