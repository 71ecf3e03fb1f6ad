"""Table 1 rows of the `paper` preset, each beside the random-subset baseline and the paper's number, on the test split.

    FREPO_DATA_DIR=../shared/datasets python benchmarks/paper_table1.py --preset paper --rows mnist:10:30000 \\
        --checkpoint-every 5000      # on a GPU

This script reports; it chooses nothing. It is the only producer of results/table1_paper.md; the `cpu` preset's
Table 1 (results/table1_cpu.md) is `select_preset.py report`'s, whose sets are the validation runs that chose
its values. Each row distills `preset("paper", dataset, images_per_class=k)` (steps as given), exports
the set to results/distilled/<preset>_<dataset>_ipc<k>.npz, trains fresh networks on it and on a random real
subset of the same size (the protocol's Conv-NN of width 128), and
writes results/table1_<preset>_<dataset>_ipc<k>.json and the table results/table1_<preset>.md. A finished row
is skipped; an interrupted distillation resumes from its checkpoint in runs/ (named by a hash of the settings
and the protocol version), an interrupted evaluation with the networks it had finished. A row of an older
protocol version whose set is stored with the same settings is evaluated again without distilling (a set
does not depend on the evaluation), when the protocol version that distilled it has the same distillation
(frepo_lite.protocol.SAME_DISTILLATION_SINCE).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from common import RANDOM_COLUMN_NOTE, RESULTS, RUNS, distilled_by, machine, run_key, stored_set
from frepo_lite.configs import EvalConfig, preset
from frepo_lite.data import load_dataset
from frepo_lite.distill import distill, krr_settings
from frepo_lite.evaluate import evaluate_random_subset, evaluate_support
from frepo_lite.export import build_metadata, save_distilled
from frepo_lite.protocol import PAPER_TABLE1, PROTOCOL_VERSION, PUBLISHED_RANDOM, paper_frepo

def run_row(name: str, ipc: int, preset_name: str, steps: int | None, eval_models: int, seed: int,
            checkpoint_every: int = 200) -> dict:
    out = RESULTS / f"table1_{preset_name}_{name}_ipc{ipc}.json"
    if out.exists() and json.loads(out.read_text()).get("protocol_version") == PROTOCOL_VERSION:
        print(f"{out.name}: done before, skipped (delete it to rerun)")
        return json.loads(out.read_text())
    cfg = preset(preset_name, name, images_per_class=ipc, seed=seed, **({"steps": steps} if steps else {}))
    eval_cfg = EvalConfig(num_models=eval_models)  # the protocol's Conv-NN of width 128
    data = load_dataset(name)
    shipped = RESULTS / "distilled" / f"{preset_name}_{name}_ipc{ipc}.npz"
    earlier = json.loads(out.read_text()) if out.exists() else None
    kept = stored_set(shipped, cfg, data.info, distilled_by(earlier)) if earlier else None
    if kept is not None:  # the set an earlier row measured, evaluated again as it is (a newer protocol)
        images, labels = kept.images, kept.labels
        distill_seconds, fallbacks = earlier["distill_seconds"], earlier["krr_fallbacks"]
        made_by = distilled_by(earlier)
        print(f"{shipped.name}: the stored set of these settings, evaluated again without distilling")
    else:
        digest = run_key(cfg, protocol=PROTOCOL_VERSION)[:8]
        result = distill(data, cfg, checkpoint=RUNS / f"table1_{name}_ipc{ipc}_{digest}.ckpt",
                         checkpoint_every=checkpoint_every)
        meta = build_metadata(data.info, dataclasses.asdict(cfg), dataclasses.asdict(eval_cfg),
                              steps_done=result.steps_done, seconds=round(result.seconds, 1),
                              command=f"python benchmarks/paper_table1.py --preset {preset_name} --rows {name}:{ipc}")
        save_distilled(shipped, result.images, result.labels, data.preprocessing, meta, overwrite=True)
        images, labels = result.images, result.labels
        distill_seconds, fallbacks = result.history["seconds"], result.history["krr_fallbacks"]
        made_by = PROTOCOL_VERSION
    t0 = time.perf_counter()
    ours = evaluate_support(images, labels, data, eval_cfg, resume_dir=RUNS, **krr_settings(cfg, data.info))
    eval_seconds = time.perf_counter() - t0
    base = evaluate_random_subset(data, ipc, eval_cfg, seed=seed, resume_dir=RUNS)
    row = {"dataset": name, "ipc": ipc, "preset": preset_name, "distill_config": dataclasses.asdict(cfg),
           "eval_config": dataclasses.asdict(eval_cfg), "distill_seconds": distill_seconds,
           "eval_seconds_per_model": eval_seconds / eval_models, "frepo": ours, "random_subset": base,
           "paper_frepo": paper_frepo(name, ipc, cfg.learn_labels), "paper_table1": PAPER_TABLE1.get((name, ipc)),
           "paper_random": PUBLISHED_RANDOM.get((name, ipc)),
           "krr_fallbacks": fallbacks, "protocol_version": PROTOCOL_VERSION, "set_protocol_version": made_by,
           "machine": machine()}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(row, indent=1))
    print(f"{name} ipc {ipc}: FRePo {100 * ours['acc_mean']:.2f} +- {100 * ours['acc_std']:.2f}, "
          f"random {100 * base['acc_mean']:.2f} +- {100 * base['acc_std']:.2f} ({ours['network']}, test split), "
          f"distillation {distill_seconds / 60:.1f} min")
    return row


def write_markdown(preset_name: str) -> Path:
    rows = [json.loads(p.read_text()) for p in sorted(RESULTS.glob(f"table1_{preset_name}_*.json"))]
    rows.sort(key=lambda r: (r["dataset"], r["ipc"]))
    pct = lambda r: f"{100 * r['acc_mean']:.1f} ± {100 * r['acc_std']:.1f}"  # noqa: E731
    lines = [f"# Table 1 with the `{preset_name}` preset (measured)", "",
             "Test accuracy (%) of fresh Conv-NN networks trained on the set (mean ± std over the networks); "
             "KRR accuracy in brackets. \"FRePo (paper)\" is the paper's run of the same label setting (its Table 7; "
             "ours learn their labels); its Table 1 reports the better of a learned-label and a fixed-label run, "
             "given in the last column. " + RANDOM_COLUMN_NOTE, "",
             "| dataset | img/cls | FRePo (ours) | random subset (ours) | FRePo (paper) | random (published) | "
             "distill time | steps | width | eval nets | protocol | paper's Table 1 (the better of learned and "
             "fixed labels) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        c, key = r["distill_config"], (r["dataset"], r["ipc"])
        lines.append(f"| {r['dataset']} | {r['ipc']} | {pct(r['frepo'])} ({100 * r['frepo']['krr_acc_mean']:.1f}) | "
                     f"{pct(r['random_subset'])} | {paper_frepo(*key, c['learn_labels'])} | {r['paper_random']} | "
                     f"{r['distill_seconds'] / 60:.1f} min | {c['steps']} | {r['eval_config']['width']} | "
                     f"{r['eval_config']['num_models']} | {r.get('protocol_version', 1)} | {PAPER_TABLE1.get(key, '')} |")
    if rows:
        lines += ["", "Machine: " + "; ".join(sorted({r["machine"] for r in rows})) + ".", "",
                  "Reproduce: `FREPO_DATA_DIR=../shared/datasets python benchmarks/paper_table1.py --preset "
                  f"{preset_name} --rows ...` (see benchmarks/README.md)."]
    path = RESULTS / f"table1_{preset_name}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="paper", help="paper (the only one this script reports)")
    p.add_argument("--rows", nargs="+", default=["mnist:1", "fashion_mnist:1", "mnist:10", "fashion_mnist:10"],
                   help="dataset:ipc[:steps[:eval_models]]")
    p.add_argument("--eval-models", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=int, default=200,
                   help="steps between checkpoints (on a GPU a step of the paper preset takes milliseconds and "
                        "a checkpoint of its pool ~200 MB: use thousands)")
    args = p.parse_args()
    if args.preset != "paper":
        p.error("this script reports the paper preset only. The cpu preset's Table 1 (results/table1_cpu.md) is "
                "select_preset.py's report, whose sets are the validation runs that chose its values: run "
                "`FREPO_DATA_DIR=../shared/datasets python benchmarks/select_preset.py report --rows mnist:50` (add "
                "--protocol for width-128 networks)")
    for spec in args.rows:
        parts = spec.split(":")
        run_row(parts[0], int(parts[1]), args.preset, int(parts[2]) if len(parts) > 2 else None,
                int(parts[3]) if len(parts) > 3 else args.eval_models, args.seed, args.checkpoint_every)
        print(write_markdown(args.preset).read_text())


if __name__ == "__main__":
    main()
