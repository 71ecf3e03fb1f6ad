"""Choose the `plus` preset on the validation split: options from FRePo's successors (RCIG, Loo et al. 2023) on
top of the `cpu` preset, within its budget of 15 minutes of distillation on a 2-core CPU.

    # 1. each option alone against the cpu preset (and the preset given all of the budget's steps)
    FREPO_DATA_DIR=../shared/datasets python benchmarks/select_plus.py alone
    FREPO_DATA_DIR=../shared/datasets python benchmarks/select_plus.py alone --rows mnist:1 --options ema
    # 2. the options that beat the preset, together (with the whole budget's steps where those beat the preset's)
    FREPO_DATA_DIR=../shared/datasets python benchmarks/select_plus.py combine
    # 3. the `plus` preset (frepo_lite.configs.PLUS_ROWS, the combination written out) once on the test split
    FREPO_DATA_DIR=../shared/datasets python benchmarks/select_plus.py report --rows mnist:1 fashion_mnist:1

A trial is the `cpu` preset of its row (frepo_lite.configs.CPU_ROWS) with the option's changes, distilled on this
CPU and measured on the **validation** split by the selection's networks (2 Conv-NN of width 32, as
select_preset.py); the test split is not read. An option that makes a step dearer keeps the preset's steps only
while they fit the budget: the trial first times 30 compiled steps and takes at most BUDGET_SECONDS of them (the
steps chosen are kept in runs/select/plus_steps.json, so that an interrupted trial resumes the same run). Each
trial is a resumable trial of select_preset.py (runs/select/). The cpu preset's own row evaluates the set the
package ships (the same settings and seed), without distilling it again, and times its step like the others.
Results: frepo_lite/results/selection/plus.json and .md; a row given the whole budget is compared with the
`budget` row, the others with the cpu preset's. `report` evaluates the plus preset's set (the combination's own
run) by the protocol's networks (5 Conv-NN of width 128) on the test split, beside the cpu preset's set under the
same evaluation (select_preset.py report --protocol), the paper's learned-label and RCIG's published numbers:
frepo_lite/results/plus_test.json and .md.
"""
from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np

from frepo_lite.configs import PLUS_ROWS, preset
from frepo_lite.data import load_dataset
from frepo_lite.evaluate import EvalConfig
from frepo_lite.protocol import PROTOCOL_VERSION, PUBLISHED_RCIG, paper_frepo
from common import ms_per_step, preset_changes, trial_config, write_results
import select_preset
from select_preset import ROWS, RUNS, run_trial

RESULTS = select_preset.RESULTS  # results/selection/
BUDGET_SECONDS = 15 * 60  # the cpu preset's budget: 15 minutes of distillation on a 2-core CPU

# Each option as changes to the cpu preset, with RCIG's values (docs/plus.md).
OPTIONS: dict[str, dict] = {
    "cross_entropy": {"meta_loss": "cross_entropy"},
    "ema": {"ema_decay": 0.99},
    "pool": {"pool_size": 30, "online_steps": 15, "online_lr": 5e-5},
    "adabelief": {"meta_optimizer": "adabelief", "lr_final_ratio": 1.0},
    # Adam at a constant rate near the mean of the preset's cosine (3e-3 to 3e-4): AdaBelief's step m/sqrt(s)
    # grows where the gradient is steady (s small), so its rate is not comparable with Adam's or LAMB's.
    "adam": {"meta_optimizer": "adam", "lr_final_ratio": 1.0, "lr": 1e-3},
    "softplus": {"activation": "softplus"},
}
BUDGET = "budget"  # the preset itself, given as many steps as the budget allows
# The plus preset's targets (test accuracy %, the protocol's networks): at 1 img/cls most of the way from the
# paper's learned-label numbers (92.5, 74.2) to RCIG's (94.7, 79.8); at 10 img/cls the paper's.
GOALS = {("mnist", 1): 94.0, ("fashion_mnist", 1): 77.0, ("mnist", 10): 98.6, ("fashion_mnist", 10): 86.2}
REPORT_EVAL = EvalConfig()  # the protocol's networks: 5 x Conv-NN width 128


def load_rows(current: bool = True) -> list[dict]:
    """The rows of plus.json (current: only those of this protocol version)."""
    path = RESULTS / "plus.json"
    rows = json.loads(path.read_text()) if path.exists() else []
    return [r for r in rows if r["protocol_version"] == PROTOCOL_VERSION or not current]


def done(trial: str, dataset: str, ipc: int) -> dict | None:
    return next((r for r in load_rows() if (r["trial"], r["dataset"], r["ipc"]) == (trial, dataset, ipc)), None)


def save_row(row: dict) -> None:
    same = lambda r: (r["trial"], r["dataset"], r["ipc"]) == (row["trial"], row["dataset"], row["ipc"])  # noqa: E731
    rows = [r for r in load_rows(current=False) if not (same(r) and r["protocol_version"] == PROTOCOL_VERSION)]
    write_results(RESULTS, "plus", rows + [row],
                  markdown([r for r in rows if r["protocol_version"] == PROTOCOL_VERSION] + [row]))
    print(f"{row['trial']} {row['dataset']} {row['ipc']}/cls: {100 * row['acc_mean']:.2f} +- "
          f"{100 * row['acc_std']:.2f} % on val, {row['steps']} steps, {row['distill_seconds'] / 60:.1f} min",
          flush=True)


def timed(data, changes: dict, ipc: int) -> float:
    """ms per step of the trial's configuration: 30 compiled steps after 3 of warm-up."""
    return ms_per_step(data, trial_config(ipc, changes), warmup=3, steps=30)


def budget_steps(name: str, data, changes: dict, ipc: int, fill: bool) -> tuple[int, float]:
    """(steps, ms per step): the preset's steps (fill: as many as the budget allows) capped by the budget at the
    trial's measured time per step; chosen once per trial and kept (runs/select/plus_steps.json)."""
    plans = RUNS / "plus_steps.json"
    kept = json.loads(plans.read_text()) if plans.exists() else {}
    key = f"{name} {data.info.name} {ipc} protocol {PROTOCOL_VERSION}"
    if key not in kept:
        ms = timed(data, changes, ipc)
        most = int(BUDGET_SECONDS * 1000 / ms)
        kept[key] = {"steps": most if fill else min(trial_config(ipc, changes).steps, most), "ms_per_step": ms}
        plans.parent.mkdir(parents=True, exist_ok=True)
        plans.write_text(json.dumps(kept, indent=1))
    return kept[key]["steps"], kept[key]["ms_per_step"]


def run_option(name: str, changes: dict, dataset: str, ipc: int, cache: dict, fill: bool = False) -> dict:
    """One trial of the `cpu` preset of this row with the changes, within the budget, on the validation split."""
    if dataset not in cache:
        cache[dataset] = load_dataset(dataset)
    changes = {**preset_changes(dataset, ipc), **changes}
    steps, ms = budget_steps(name, cache[dataset], changes, ipc, fill)
    row = run_trial(f"plus_{name}", dataset, ipc, {**changes, "steps": steps}, cache)
    return {**row, "trial": name, "ms_per_step": round(ms, 1), "fill": fill}


def run_preset(dataset: str, ipc: int, cache: dict) -> dict:
    """The cpu preset's row: the set the package ships (the same settings and seed) evaluated on the validation
    split, or distilled again where none is stored."""
    if dataset not in cache:
        cache[dataset] = load_dataset(dataset)
    changes = preset_changes(dataset, ipc)
    stored, previous = select_preset.shipped_set(dataset, ipc)
    row = run_trial("plus_cpu", dataset, ipc, changes, cache, stored=stored, previous=previous)
    return {**row, "trial": "cpu", "ms_per_step": round(timed(cache[dataset], changes, ipc), 1), "fill": False}


def gains(rows: list[dict]) -> dict[str, float]:
    """Each option's validation accuracy minus the cpu preset's, averaged over the rows where both ran."""
    out = {}
    for name in OPTIONS:
        pairs = [(r["acc_mean"], b["acc_mean"]) for r in rows if r["trial"] == name
                 for b in rows if b["trial"] == "cpu" and (b["dataset"], b["ipc"]) == (r["dataset"], r["ipc"])]
        if pairs:
            out[name] = float(np.mean([a - b for a, b in pairs]))
    return out


def winners(rows: list[dict]) -> list[str]:
    """The options that beat the cpu preset on the validation split (mean over the rows where both ran)."""
    return [name for name, gain in gains(rows).items() if gain > 0]


def combined(rows: list[dict]) -> tuple[str, dict]:
    """(name, changes) of the winning options together ('combined:' and their names); of winners that set the same field (two optimisers),
    only the one with the larger gain."""
    gain = gains(rows)
    chosen: list[str] = []
    for name in sorted(winners(rows), key=lambda n: -gain[n]):
        if not any(set(OPTIONS[name]) & set(OPTIONS[c]) for c in chosen):
            chosen.append(name)
    if not chosen:
        raise SystemExit("no option beats the cpu preset on the validation split yet: run `alone` first")
    chosen = [name for name in OPTIONS if name in chosen]
    # named apart from the options' own rows: a combination of one option still gets its whole-budget run
    return "combined:" + "+".join(chosen), {k: v for name in chosen for k, v in OPTIONS[name].items()}


def cmd_alone(args, cache) -> None:
    for dataset, ipc in rows_of(args):
        if not done("cpu", dataset, ipc):
            save_row(run_preset(dataset, ipc, cache))
        for name in args.options:
            if not done(name, dataset, ipc):
                save_row(run_option(name, {} if name == BUDGET else OPTIONS[name], dataset, ipc, cache,
                                    fill=name == BUDGET))
    print("beat the cpu preset on validation:", winners(load_rows()) or "none")


def more_steps_help(dataset: str, ipc: int) -> bool:
    """Whether the preset given the whole budget (the `budget` row) beat the preset at its own steps on this row's
    validation split; run `alone --options budget` first."""
    cpu, budget = done("cpu", dataset, ipc), done(BUDGET, dataset, ipc)
    if cpu is None or budget is None:
        raise SystemExit(f"{dataset} {ipc}/cls: the cpu and budget rows are needed first: `select_plus.py alone "
                         f"--rows {dataset}:{ipc} --options budget`")
    return budget["acc_mean"] > cpu["acc_mean"]


def cmd_combine(args, cache) -> None:
    """The winners together: with the whole budget's steps where the budget row beat the preset on validation,
    else with the preset's steps (capped by the budget, as each option alone)."""
    name, changes = combined(load_rows())
    for dataset, ipc in rows_of(args):
        if not done(name, dataset, ipc):
            save_row(run_option(name, changes, dataset, ipc, cache, fill=more_steps_help(dataset, ipc)))


def cpu_test_row(dataset: str, ipc: int, eval_cfg: EvalConfig) -> dict:
    """The cpu preset's test row by these networks (select_preset.py report), of this protocol version."""
    rows = [r for r in select_preset.load_rows() if r["split"] == "test" and r["trial"] == f"preset_w{eval_cfg.width}"
            and (r["dataset"], r["ipc"]) == (dataset, ipc) and r["protocol_version"] == PROTOCOL_VERSION
            and len(r["accs"]) == eval_cfg.num_models]
    if not rows:
        raise SystemExit(f"{dataset} {ipc}/cls: the cpu preset has no test row by {eval_cfg.num_models} networks of "
                         f"width {eval_cfg.width}: run `select_preset.py report --protocol --rows {dataset}:{ipc}` "
                         "first")
    return rows[-1]


def cmd_report(args, cache) -> None:
    """The plus preset of each row once on the test split by the protocol's networks. The package's preset must
    be the combination the validation split chose, at the steps it ran: its set is that run's own."""
    name, _ = combined(load_rows())
    path = RESULTS.parent / "plus_test.json"  # results/plus_test.json
    report = json.loads(path.read_text()) if path.exists() else []
    for dataset, ipc in rows_of(args):
        if (dataset, ipc) not in PLUS_ROWS:
            print(f"{dataset} {ipc}/cls: no plus preset chosen for this row yet (configs.PLUS_ROWS): skipped")
            continue
        chosen = done(name, dataset, ipc)
        if chosen is None:
            raise SystemExit(f"{dataset} {ipc}/cls: the combination {name} has no validation row: run `combine` first")
        final = json.loads(json.dumps(dataclasses.asdict(preset("plus", dataset, images_per_class=ipc))))
        if final != chosen["settings"]:
            differ = {k: (final.get(k), v) for k, v in chosen["settings"].items() if final.get(k) != v}
            raise SystemExit(f"{dataset} {ipc}/cls: the package's plus preset differs from the combination the "
                             f"validation split chose (preset, chosen: {differ}): update frepo_lite.configs.PLUS_ROWS")
        if any((r["dataset"], r["ipc"], r["protocol_version"]) == (dataset, ipc, PROTOCOL_VERSION) for r in report):
            continue
        cpu = cpu_test_row(dataset, ipc, REPORT_EVAL)
        row = run_trial("plus_report", dataset, ipc, chosen["changes"], cache, split="test", eval_cfg=REPORT_EVAL)
        row.update(trial=name, ms_per_step=chosen["ms_per_step"], paper_frepo=paper_frepo(dataset, ipc),
                   rcig=PUBLISHED_RCIG[dataset, ipc], goal=GOALS[dataset, ipc],
                   cpu={k: cpu[k] for k in ("acc_mean", "acc_std", "accs", "steps", "distill_seconds", "network")})
        report = [r for r in report if (r["dataset"], r["ipc"]) != (dataset, ipc)] + [row]
        write_results(path.parent, path.stem, report, report_markdown(report))
        print(f"plus {dataset} {ipc}/cls on test: {100 * row['acc_mean']:.2f} +- {100 * row['acc_std']:.2f} % "
              f"(cpu preset {100 * cpu['acc_mean']:.2f}, goal {row['goal']})", flush=True)


def report_markdown(rows: list[dict]) -> str:
    lines = ["# The `plus` preset on the test split", "",
             "Each row: the set of `preset(\"plus\", dataset, images_per_class=k)` (the cpu preset with the options "
             "that beat it on the validation split, `selection/plus.md`, distilled within 15 minutes on the 2-core "
             "CPU) and the cpu preset's set, each evaluated once on the test split by the same networks. Accuracy "
             "(%), mean ± std over the networks. \"FRePo (paper)\": the paper's learned-label run (Table 7); RCIG: "
             "Loo et al. (ICML 2023), Table 1. Reproduce: `FREPO_DATA_DIR=../shared/datasets python "
             "benchmarks/select_plus.py report`.", "",
             "| dataset | img/cls | plus (ours) | cpu (ours) | plus - cpu | FRePo (paper) | RCIG | goal | plus - goal | "
             "options | steps | distill min | evaluation networks |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["dataset"], r["ipc"])):
        plus, cpu = 100 * r["acc_mean"], 100 * r["cpu"]["acc_mean"]
        lines.append(f"| {r['dataset']} | {r['ipc']} | {plus:.1f} ± {100 * r['acc_std']:.1f} | {cpu:.1f} ± "
                     f"{100 * r['cpu']['acc_std']:.1f} | {plus - cpu:+.1f} | {r['paper_frepo']} | {r['rcig']} | "
                     f"{r['goal']} | {plus - r['goal']:+.1f} | {r['trial']} | {r['steps']} | "
                     f"{r['distill_seconds'] / 60:.1f} | {len(r['accs'])} x {r['network']}, {r['eval_steps']} steps |")
    lines += ["", "Machines: " + "; ".join(sorted({r["machine"] for r in rows})) + "."]
    return "\n".join(lines) + "\n"


def rows_of(args) -> list[tuple[str, int]]:
    return [(d, k) for d, k in ROWS if not args.rows or f"{d}:{k}" in args.rows]


def markdown(rows: list[dict]) -> str:
    lines = ["# Options from FRePo's successors on the `cpu` preset (validation split)", "",
             "Each row: the `cpu` preset of its dataset and size with the trial's changes, distilled on the 2-core "
             f"CPU within {BUDGET_SECONDS // 60} minutes, then fresh networks trained on the set and measured on the "
             "**validation** split (5000 images held out of the training set). Accuracy (%), mean ± std over the "
             "networks; one distillation per row. `budget`: the preset with as many steps as the budget allows; "
             "`combined:`: the options that beat the preset, together, with the budget's steps where the `budget` "
             "row beat the preset (then compared with it), else with the preset's. "
             "Reproduce: `FREPO_DATA_DIR=../shared/datasets python benchmarks/select_plus.py {alone,combine}`.", "",
             "| dataset | img/cls | trial | changes | network | accuracy | difference (against) | KRR acc | steps | "
             "ms per step | distill min |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    base = {(r["trial"], r["dataset"], r["ipc"]): r for r in rows if r["trial"] in ("cpu", BUDGET)}
    for r in sorted(rows, key=lambda r: (r["dataset"], r["ipc"], r["trial"] != "cpu", r["trial"])):
        changes = {k: v for k, v in r["changes"].items() if k != "steps" and k not in preset_changes(r["dataset"], r["ipc"])}
        against = BUDGET if r["fill"] and r["trial"] != BUDGET else "cpu"
        b = base.get((against, r["dataset"], r["ipc"]))
        versus = f"{100 * (r['acc_mean'] - b['acc_mean']):+.2f} ({against})" if b and r is not b else ""
        lines.append(f"| {r['dataset']} | {r['ipc']} | {r['trial']} | "
                     f"{', '.join(f'{k}={v}' for k, v in changes.items()) or '(none)'} | "
                     f"{len(r['accs'])} x {r['network']}, {r['eval_steps']} steps | "
                     f"{100 * r['acc_mean']:.2f} ± {100 * r['acc_std']:.2f} | {versus} | "
                     f"{100 * r['krr_acc_mean']:.1f} | {r['steps']} | {r['ms_per_step']:.0f} | "
                     f"{r['distill_seconds'] / 60:.1f} |")
    lines += ["", "Beat the cpu preset (mean over the rows where both ran): " + (", ".join(winners(rows)) or "none")
              + ".", "", "Machines: " + "; ".join(sorted({r["machine"] for r in rows})) + "."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("phase", choices=["alone", "combine", "report"])
    p.add_argument("--rows", nargs="*", help="only these rows, e.g. mnist:1 fashion_mnist:10 (default: all four)")
    p.add_argument("--options", nargs="*", default=[*OPTIONS, BUDGET], choices=[*OPTIONS, BUDGET],
                   help="alone: the options to try (default: all, and the budget's steps)")
    args = p.parse_args(argv)
    cache: dict = {}
    {"alone": cmd_alone, "combine": cmd_combine, "report": cmd_report}[args.phase](args, cache)


if __name__ == "__main__":
    main()
