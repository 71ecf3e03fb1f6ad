"""Table 1 rows with a FRePo preset, each beside the random-subset baseline and the paper's number.

    FREPO_DATA_DIR=../shared/datasets python benchmarks/table1.py --rows mnist:1 fashion_mnist:1

Writes benchmarks/results/table1_<preset>_<dataset>_ipc<k>.json per row (a finished row is skipped when
run again; an interrupted distillation resumes from its checkpoint in runs/, named by a hash of its
settings, and an interrupted evaluation with the networks it had finished, also kept there) and rebuilds
benchmarks/results/table1_<preset>.md from all row files. The distilled sets are exported beside them; a set
exported earlier with the row's very settings (by --distill-only, or by a trial) is evaluated, not distilled
again. A row made before the preset changed stays (delete its JSON to rerun it), and the table names what
changed since.

Screening a change of the preset: `--trial NAME --set key=value ...` writes the row (and the set) to
benchmarks/results/trials/NAME_<dataset>_ipc<k>.json (.npz) instead (the table is left alone), e.g.

    python benchmarks/table1.py --trial ob50 --set online_batch=50 --rows fashion_mnist:10:2000:2

The random-subset baseline does not depend on the distillation settings: a row reuses it from any earlier
row file of the same dataset, images per class, seed and evaluation settings (its file is named in
"random_subset_from"), which halves the cost of a trial. Once the preset takes a trial's settings, the
preset row is that trial's result (same settings and seed give the same run), copied with "promoted_from".
`--fresh` does neither: it distills and evaluates everything anew. `--distill-only` distills and exports the
sets without evaluating them (e.g. for protocol_eval.py); run the same command again without it and each row
evaluates its exported set. A trial's set does not carry over bit for bit to another processor (another
floating-point path): the same settings and seed distilled on another CPU give another run of them.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import platform
import shutil
import time
from pathlib import Path

import jax

from frepo_lite.data import REGISTRY, load_dataset
from frepo_lite.distill import DistillConfig, distill, krr_settings, preset
from frepo_lite.evaluate import EvalConfig, evaluate_random_subset, evaluate_support
from frepo_lite.export import build_metadata, load_distilled, save_distilled

RESULTS = Path(__file__).parent / "results"
TRIALS = RESULTS / "trials"
RUNS = Path("runs")  # checkpoints and the networks of unfinished evaluations, under the working directory
PAPER = {("mnist", 1): 93.0, ("mnist", 10): 98.6, ("mnist", 50): 99.2, ("fashion_mnist", 1): 75.6,
         ("fashion_mnist", 10): 86.2, ("fashion_mnist", 50): 89.6}
RANDOM_PAPER = {("mnist", 1): 64.9, ("mnist", 10): 95.1, ("mnist", 50): 97.9, ("fashion_mnist", 1): 51.4,
                ("fashion_mnist", 10): 73.8, ("fashion_mnist", 50): 82.5}


def parse_overrides(pairs: list[str]) -> dict:
    """['online_batch=50', 'lr=0.005'] -> {'online_batch': 50, 'lr': 0.005}, typed by DistillConfig's fields."""
    defaults = dataclasses.asdict(DistillConfig())
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in defaults:
            raise SystemExit(f"--set {pair!r}: expected key=value with key one of {sorted(defaults)}")
        if value.lower() in ("true", "false", "none"):
            out[key] = {"true": True, "false": False, "none": None}[value.lower()]
        else:
            out[key] = type(defaults[key])(value) if defaults[key] is not None else float(value)
    return out


def machine() -> str:
    """Where a row was measured: processor, JAX devices (an accelerator's kind named) and JAX version."""
    kind = "" if jax.default_backend() == "cpu" else f" ({jax.devices()[0].device_kind})"
    return (f"{platform.processor() or platform.machine()}, {jax.device_count()} {jax.default_backend()} "
            f"device(s){kind}, jax {jax.__version__}")


def saved_rows():
    """(path, row) of every row file written so far: the table's rows, then the trials' (not protocol_eval's)."""
    for path in sorted(RESULTS.glob("table1_*_ipc*.json")) + sorted(TRIALS.glob("*_ipc*.json")):
        yield path, json.loads(path.read_text())


def reusable_baseline(name: str, ipc: int, eval_cfg: EvalConfig, seed: int) -> tuple[dict, str] | None:
    """An earlier row's random-subset result with the same dataset, ipc, seed and evaluation settings."""
    want = dataclasses.asdict(eval_cfg)
    for path, row in saved_rows():
        if (row["dataset"], row["ipc"], row["distill_config"]["seed"], row["eval_config"]) == (name, ipc, seed, want):
            return row["random_subset"], row.get("random_subset_from") or str(path.relative_to(RESULTS))
    return None


def trial_of_same_run(name: str, cfg: DistillConfig, eval_cfg: EvalConfig) -> tuple[dict, Path] | None:
    """A trial row that distilled and evaluated with exactly these settings (runs are deterministic per seed)."""
    want = (name, dataclasses.asdict(cfg), dataclasses.asdict(eval_cfg))
    for path, row in saved_rows():
        if path.parent == TRIALS and (row["dataset"], row["distill_config"], row["eval_config"]) == want:
            return row, path
    return None


def exported_set_of_same_run(name: str, ipc: int, cfg: DistillConfig, exported: Path):
    """(path, set) of a finished set of dataset `name` distilled with exactly these settings: this row's own
    export (from an earlier --distill-only) or a trial's (a run of the same settings and seed), else None."""
    for path in [exported] + sorted(TRIALS.glob(f"*_{name}_ipc{ipc}.npz")):  # "*_mnist_*" matches fashion_mnist
        if path.exists():
            done = load_distilled(path)
            meta = done.metadata
            if (meta["dataset"], meta["distillation"], meta["provenance"]["steps_done"]) == (
                    name, dataclasses.asdict(cfg), cfg.steps):
                return path, done
    return None


def run_row(name: str, ipc: int, preset_name: str, steps: int | None, eval_models: int, seed: int,
            overrides: dict, trial: str | None, fresh: bool = False, checkpoint_every: int = 200,
            distill_only: bool = False) -> dict | None:
    out = TRIALS / f"{trial}_{name}_ipc{ipc}.json" if trial else RESULTS / f"table1_{preset_name}_{name}_ipc{ipc}.json"
    exported = out.with_suffix(".npz") if trial else RESULTS / "distilled" / f"{preset_name}_{name}_ipc{ipc}.npz"
    if out.exists():
        print(f"{out} exists: skipping")
        return json.loads(out.read_text())
    cfg = preset(preset_name, name, images_per_class=ipc, seed=seed, **({"steps": steps} if steps else {}),
                 **overrides)
    eval_cfg = EvalConfig(width=cfg.width, num_models=eval_models)
    if not trial and not fresh and (found := trial_of_same_run(name, cfg, eval_cfg)):
        row, path = found
        print(f"{path} ran these very settings: taking it as the {preset_name} row")
        shutil.copyfile(path.with_suffix(".npz"), exported)
        row = {**row, "preset": preset_name, "overrides": {}, "promoted_from": str(path.relative_to(RESULTS))}
        out.write_text(json.dumps(row, indent=1))
        return row
    data = load_dataset(name)
    found = None if fresh else exported_set_of_same_run(name, ipc, cfg, exported)
    if found:  # distilled before (--distill-only, here or as a trial): evaluate that set
        path, done = found
        print(f"{path} holds these very settings, distilled: evaluating it")
        if path != exported:
            shutil.copyfile(path, exported)
        images, labels, seconds = done.images, done.labels, done.metadata["provenance"]["seconds"]
        final_krr_batch_acc = None  # the distillation's history is not exported with the set
        promoted_from = None if path == exported else str(path.relative_to(RESULTS))
    else:
        settings = hashlib.sha1(json.dumps(dataclasses.asdict(cfg), sort_keys=True).encode()).hexdigest()[:8]
        result = distill(data, cfg, checkpoint=RUNS / f"table1_{name}_ipc{ipc}_{settings}.ckpt",
                         checkpoint_every=checkpoint_every)
        command = "python benchmarks/table1.py " + (f"--trial {trial} " if trial else f"--preset {preset_name} ") + \
            " ".join(f"--set {k}={v}" for k, v in overrides.items())
        meta = build_metadata(data.info, dataclasses.asdict(cfg), dataclasses.asdict(eval_cfg),
                              steps_done=result.steps_done, seconds=round(result.seconds, 1), command=command.strip())
        save_distilled(exported, result.images, result.labels, data.preprocessing, meta, overwrite=True)
        images, labels, seconds = result.images, result.labels, result.seconds
        final_krr_batch_acc, promoted_from = result.history["krr_batch_acc"][-1], None
    if distill_only:
        print(f"{name} ipc {ipc}: distilled in {seconds / 60:.1f} min, {exported}; not evaluated")
        return None
    t0 = time.perf_counter()
    ours = evaluate_support(images, labels, data, eval_cfg, resume_dir=RUNS,
                            **krr_settings(cfg, data.info.is_rgb, data.num_classes))
    eval_seconds = time.perf_counter() - t0
    found = None if fresh else reusable_baseline(name, ipc, eval_cfg, seed)
    base, base_from = found if found else (evaluate_random_subset(data, ipc, eval_cfg, seed=seed, resume_dir=RUNS),
                                           None)
    row = {"dataset": name, "ipc": ipc, "preset": preset_name, "overrides": overrides,
           "distill_config": dataclasses.asdict(cfg),
           "eval_config": dataclasses.asdict(eval_cfg), "distill_seconds": seconds,
           "eval_seconds_per_model": eval_seconds / eval_models, "frepo": ours, "random_subset": base,
           "random_subset_from": base_from,
           "paper_frepo": PAPER.get((name, ipc)), "paper_random": RANDOM_PAPER.get((name, ipc)),
           "final_krr_batch_acc": final_krr_batch_acc, "machine": machine(),
           **({"promoted_from": promoted_from} if promoted_from else {})}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(row, indent=1))
    print(f"{name} ipc {ipc}: FRePo {100 * ours['acc_mean']:.2f} +- {100 * ours['acc_std']:.2f}, "
          f"random {100 * base['acc_mean']:.2f} +- {100 * base['acc_std']:.2f}, "
          f"distillation {seconds / 60:.1f} min")
    return row


def acting_settings(config: dict, dataset: str) -> dict:
    """A run's settings as they act: an online batch as large as the distilled set or larger takes all of it."""
    n = config["images_per_class"] * REGISTRY[dataset].num_classes
    return {**config, "online_batch": min(config["online_batch"], n)}


def write_markdown(preset_name: str) -> Path:
    rows = [json.loads(p.read_text()) for p in sorted(RESULTS.glob(f"table1_{preset_name}_*.json"))]
    rows.sort(key=lambda r: (r["dataset"], r["ipc"]))
    pct = lambda r: f"{100 * r['acc_mean']:.1f} ± {100 * r['acc_std']:.1f}"  # noqa: E731
    lines = [f"# Table 1 with the `{preset_name}` preset (measured)", "",
             "Test accuracy (%) of fresh Conv-NN networks trained on the set (mean ± std over the networks); "
             "KRR accuracy in brackets.", "",
             "| dataset | img/cls | FRePo (ours) | random subset (ours) | FRePo (paper) | random (paper) | "
             "distill time | steps | width | eval nets |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        c = r["distill_config"]
        lines.append(f"| {r['dataset']} | {r['ipc']} | {pct(r['frepo'])} ({100 * r['frepo']['krr_acc_mean']:.1f}) | "
                     f"{pct(r['random_subset'])} | {r['paper_frepo']} | {r['paper_random']} | "
                     f"{r['distill_seconds'] / 60:.1f} min | {c['steps']} | {c['width']} | "
                     f"{r['eval_config']['num_models']} |")
    stale = []
    for r in rows:
        was = acting_settings(r["distill_config"], r["dataset"])
        now = acting_settings(dataclasses.asdict(preset(preset_name, r["dataset"], **{
            k: was[k] for k in ("images_per_class", "steps", "seed")})), r["dataset"])
        if now != was:
            changed = ", ".join(f"{k} {v!r} (now {now[k]!r})" for k, v in was.items() if now[k] != v)
            stale.append(f"{r['dataset']} {r['ipc']}/cls: {changed}")
    if stale:  # a row stays until it is rerun, and says how the preset has changed since
        lines += ["", "Rows made before the preset changed, with their settings: " + "; ".join(stale) + "."]
    if rows:
        lines += ["", f"Machine: {rows[0]['machine']}.", "",
                  "Reproduce: `FREPO_DATA_DIR=../shared/datasets python benchmarks/table1.py --preset "
                  f"{preset_name} --rows ...` (see benchmarks/README.md)."]
    path = RESULTS / f"table1_{preset_name}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="cpu")
    p.add_argument("--rows", nargs="+", default=["mnist:1", "fashion_mnist:1", "mnist:10", "fashion_mnist:10"],
                   help="dataset:ipc[:steps[:eval_models]]")
    p.add_argument("--eval-models", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="override preset settings (DistillConfig fields), only together with --trial")
    p.add_argument("--trial", help="name of a screening run: results go to results/trials/, not the table")
    p.add_argument("--fresh", action="store_true",
                   help="measure everything anew: no trial row taken over, no random-subset baseline reused")
    p.add_argument("--checkpoint-every", type=int, default=200,
                   help="steps between checkpoints (on a GPU a step of the paper preset takes milliseconds and "
                        "a checkpoint of its pool ~200 MB: use thousands)")
    p.add_argument("--distill-only", action="store_true",
                   help="distill and export the sets, write no row (evaluate them elsewhere, e.g. "
                        "protocol_eval.py on a GPU); run again without it to evaluate (the run resumes finished)")
    args = p.parse_args()
    overrides = parse_overrides(args.set)
    if overrides and not args.trial:
        p.error("--set changes the preset; name the run with --trial so that the table keeps preset rows only")
    for spec in args.rows:
        parts = spec.split(":")
        run_row(parts[0], int(parts[1]), args.preset, int(parts[2]) if len(parts) > 2 else None,
                int(parts[3]) if len(parts) > 3 else args.eval_models, args.seed, overrides, args.trial,
                args.fresh, args.checkpoint_every, args.distill_only)
        if not args.trial and not args.distill_only:
            print(write_markdown(args.preset).read_text())


if __name__ == "__main__":
    main()
