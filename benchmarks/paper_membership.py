"""Membership inference against networks trained on real or distilled data (paper Sec. 5.2, Tables 4 and 6,
Fig. 5c-d).

    FREPO_DATA_DIR=../shared/datasets python benchmarks/paper_membership.py                    # MNIST and Fashion-MNIST
    python benchmarks/paper_membership.py --datasets mnist --checkpoints 100 1000 --members 2000 --nonmembers 2000

--members training images (class-balanced) are the private set and as many other training images are the
non-members. Three victims, each one network trained without augmentation (frepo_lite.privacy.train_victim,
Conv-NN of --width): on all the members, on a random subset of --ipc images per class of them, and on a set
of --ipc images per class distilled from the members only (the `cpu` preset, resumable under
runs/membership/). Each victim is attacked after each number of steps in --checkpoints by the five attacks of
frepo_lite.privacy; a finished victim's rows are kept in runs/membership/ and not recomputed. Test accuracy is
on the test split; nothing here chooses. Writes frepo_lite/results/membership_<dataset>.json and .md.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from frepo_lite import privacy
from frepo_lite.data import load_dataset
from frepo_lite.configs import preset
from frepo_lite.distill import distill
from frepo_lite.evaluate import EvalConfig, random_subset
from frepo_lite.kernels import centered_one_hot
from frepo_lite.protocol import PAPER_MEMBERSHIP, PROTOCOL_VERSION
from common import RESULTS, machine, provenance, write_results

RUNS = Path("runs") / "membership"
VICTIMS = ("real (all members)", "random subset", "FRePo")
ATTACK_NAMES = {"threshold": "threshold", "logistic": "LR", "mlp": "MLP", "random_forest": "RF", "knn": "KNN"}


def victim_sets(data, members, ipc: int, distill_steps: int | None) -> tuple[dict, dict]:
    """{victim: (images, labels)} and {victim: how it was made}: the members, a random subset of them, and a
    set distilled from them."""
    member_data = privacy.members_only(data, members)
    c = data.num_classes
    real = (member_data.x_train, np.asarray(centered_one_hot(member_data.y_train, c, 1 / np.sqrt(c / 10))))
    overrides = {"steps": distill_steps} if distill_steps else {}
    cfg = preset("cpu", data.info.name, images_per_class=ipc, **overrides)
    RUNS.mkdir(parents=True, exist_ok=True)
    ckpt = RUNS / f"{data.info.name}_members{len(members)}_ipc{ipc}_{cfg.steps}.ckpt"
    result = distill(member_data, cfg, checkpoint=ckpt, progress=True)
    sets = {VICTIMS[0]: real, VICTIMS[1]: random_subset(member_data, ipc, seed=0),
            VICTIMS[2]: (result.images, result.labels)}
    made = {VICTIMS[0]: f"{len(members)} member images", VICTIMS[1]: f"{ipc * c} of them at random",
            VICTIMS[2]: f"{ipc * c} images distilled from them (`cpu` preset, {cfg.steps} steps, "
                        f"{result.history['seconds'] / 60:.0f} min)"}
    return sets, made


def cached_rows(name: str, images, labels, data, members, nonmembers, cfg: EvalConfig, checkpoints, seed: int):
    """evaluate_victims for one victim, kept in runs/membership/ by what decides it."""
    h = hashlib.sha256(np.asarray(images, np.float32).tobytes() + np.asarray(labels, np.float32).tobytes()
                       + members.tobytes() + nonmembers.tobytes())
    h.update(json.dumps([data.info.name, cfg.width, cfg.lr, cfg.batch, sorted(checkpoints), seed,
                         PROTOCOL_VERSION]).encode())
    path = RUNS / f"victim_{h.hexdigest()[:32]}.json"
    if path.exists():
        return json.loads(path.read_text())
    rows = privacy.evaluate_victims({name: (images, labels)}, data, members, nonmembers, cfg, checkpoints,
                                    seed=seed)
    path.write_text(json.dumps(rows))
    return rows


def markdown(dataset: str, rows: list[dict], meta: dict) -> str:
    final = max(r["steps"] for r in rows)
    attacks = list(ATTACK_NAMES)
    lines = [f"# Membership inference: {dataset} (measured)", "",
             f"{meta['members']} member and {meta['nonmembers']} non-member training images. Each victim: one "
             f"{meta['network']} trained without augmentation (Adam at a constant learning rate {meta['lr']:g}, batch "
             f"{meta['batch']}); test accuracy (%) "
             "and the ROC AUC of each attack, with the true-positive rate at 1 % and 0.1 % false positives of "
             "the strongest attack (by AUC) in brackets.", "",
             f"## After {final} training steps", "",
             "| victim | trained on | test acc | " + " | ".join(ATTACK_NAMES[a] for a in attacks)
             + " | TPR at 1 % / 0.1 % FPR |", "|---|---|---|" + "---|" * len(attacks) + "---|"]
    for r in rows:
        if r["steps"] != final:
            continue
        best = max(attacks, key=lambda a: r["attacks"][a]["auc"])
        lows = r["attacks"][best]
        lines.append(f"| {r['victim']} | {meta['made'][r['victim']]} | {100 * r['test_acc']:.1f} | "
                     + " | ".join(f"{r['attacks'][a]['auc']:.2f}" for a in attacks)
                     + f" | {100 * lows['tpr_at_1%']:.1f} % / {100 * lows['tpr_at_0.1%']:.1f} % ({ATTACK_NAMES[best]}) |")
    paper = PAPER_MEMBERSHIP.get(dataset, {})
    if paper:
        lines += ["", "The paper (Table 4 for MNIST, 6 for Fashion-MNIST; width-128 networks, 500 distilled images; its "
                  f"Fig. 5c-d follows the victims to 16 000 steps, against {final} here):", "",
                  "| victim | test acc | " + " | ".join(ATTACK_NAMES[a] for a in attacks) + " |",
                  "|---|---|" + "---|" * len(attacks)]
        lines += [f"| {v} | {p[0]} | " + " | ".join(f"{x:.2f}" for x in p[1:]) + " |" for v, p in paper.items()]
    lines += ["", "## Over training steps (Fig. 5c-d): test accuracy (%) / largest AUC of the five attacks / its "
              "true-positive rate at 1 % false positives", "",
              "| victim | " + " | ".join(str(s) for s in meta["checkpoints"]) + " |",
              "|---|" + "---|" * len(meta["checkpoints"])]
    strongest = {(r["victim"], r["steps"]): max(r["attacks"].values(), key=lambda a: a["auc"]) for r in rows}
    for v in dict.fromkeys(r["victim"] for r in rows):
        by_step = {r["steps"]: r for r in rows if r["victim"] == v}
        lines.append(f"| {v} | " + " | ".join(
            f"{100 * by_step[s]['test_acc']:.1f} / {strongest[v, s]['auc']:.2f} / "
            f"{100 * strongest[v, s]['tpr_at_1%']:.1f} %" for s in meta["checkpoints"]) + " |")
    lines += ["", leak_sentence(strongest, meta["checkpoints"])]
    lines += ["", "An attack that fails shows that this attack fails, not that the network is private: see "
              "notebooks/07_membership_inference.ipynb.", "",
              *provenance(meta)]
    return "\n".join(lines) + "\n"


def leak_sentence(strongest: dict, checkpoints) -> str:
    """When the real victim starts to leak (its strongest attack's AUC >= privacy.LEAK_AUC), beside the distilled
    victim at the same step; or that it never does here. strongest: {(victim, steps): attack report}."""
    real, distilled = VICTIMS[0], VICTIMS[2]
    leaking = [s for s in sorted(checkpoints) if strongest[real, s]["auc"] >= privacy.LEAK_AUC]
    last = max(checkpoints)
    if not leaking:
        return (f"The real victim never leaks here (largest AUC {strongest[real, last]['auc']:.2f} at {last} steps, "
                f"below {privacy.LEAK_AUC}): the defence cannot be told apart from an attack too weak for this victim.")
    s = leaking[0]
    return (f"The real victim leaks from step {s} on (largest AUC {strongest[real, s]['auc']:.2f}, TPR "
            f"{100 * strongest[real, s]['tpr_at_1%']:.1f} % at 1 % FPR; {strongest[real, last]['auc']:.2f} at {last} "
            f"steps); the FRePo victim at step {s}: AUC {strongest[distilled, s]['auc']:.2f}, TPR "
            f"{100 * strongest[distilled, s]['tpr_at_1%']:.1f} % (at {last} steps: "
            f"{strongest[distilled, last]['auc']:.2f}).")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["mnist", "fashion_mnist"])
    p.add_argument("--members", type=int, default=10000)
    p.add_argument("--nonmembers", type=int, default=10000)
    p.add_argument("--ipc", type=int, default=50, help="images per class of the subset and the distilled set")
    p.add_argument("--distill-steps", type=int, help="FRePo steps (default: the cpu preset's)")
    p.add_argument("--checkpoints", type=int, nargs="+", default=[100, 400, 1000, 2000, 4000, 8000, 16000],
                   help="training steps after which each victim is attacked")
    p.add_argument("--width", type=int, default=32, help="width of the victims (protocol: 128)")
    p.add_argument("--batch", type=int, default=500, help="training batch of the victims (protocol: 500)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    command = "python benchmarks/paper_membership.py " + " ".join(sys.argv[1:] if argv is None else argv)
    cfg = EvalConfig(width=args.width, batch=args.batch, augment=False)
    for dataset in args.datasets:
        t0 = time.perf_counter()
        data = load_dataset(dataset)
        members, nonmembers = privacy.member_split(data.y_train, args.members, args.nonmembers, data.num_classes,
                                                   args.seed)
        sets, made = victim_sets(data, members, args.ipc, args.distill_steps)
        rows = [row for name, (images, labels) in sets.items()
                for row in cached_rows(name, images, labels, data, members, nonmembers, cfg, args.checkpoints,
                                       args.seed)]
        meta = {"dataset": dataset, "members": args.members, "nonmembers": args.nonmembers, "ipc": args.ipc,
                "checkpoints": sorted(args.checkpoints), "network": f"Conv-NN width {args.width}",
                "lr": cfg.lr, "batch": cfg.batch, "made": made, "machine": machine(),
                "protocol_version": PROTOCOL_VERSION, "command": command.strip(),
                "wall_minutes": (time.perf_counter() - t0) / 60}
        table = markdown(dataset, rows, meta)
        write_results(RESULTS, f"membership_{dataset}", {**meta, "rows": rows}, table)
        print(table)


if __name__ == "__main__":
    main()
