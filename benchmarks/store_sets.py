"""Copy the `cpu` preset's final sets (Table 1, `select_preset.py report`) into the package as stored sets.

    python benchmarks/store_sets.py

Reads the test rows of `benchmarks/results/selection/selection.json` (one per dataset and size) at the sizes
the notebooks load (STORED_SIZES), copies each row's set from `benchmarks/results/distilled/cpu_*.npz` (where the report copies them) to
`frepo_lite/stored_sets/` and writes `frepo_lite/stored_sets/index.json` with its measured accuracy. Run
after `select_preset.py report`.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SELECTION = ROOT / "benchmarks" / "results" / "selection" / "selection.json"
DISTILLED = ROOT / "benchmarks" / "results" / "distilled"
STORED = ROOT / "frepo_lite" / "stored_sets"
REPORT_COMMAND = "benchmarks/select_preset.py report"
# Images per class of the sets the package ships: those the notebooks load. The 50 images/class sets (1.4 MB
# each) stay in benchmarks/results/distilled/ so that installing the package stays light.
STORED_SIZES = (1, 10)


def final_rows(rows: list[dict]) -> dict:
    """The last test-split row of the final preset for each (dataset, images per class) of STORED_SIZES."""
    return {(r["dataset"], r["ipc"]): r for r in rows
            if r["split"] == "test" and r["trial"].startswith("preset") and r["ipc"] in STORED_SIZES}


def main() -> None:
    rows = final_rows(json.loads(SELECTION.read_text()))
    if not rows:
        raise SystemExit(f"no test rows in {SELECTION}: run `python {REPORT_COMMAND}` first")
    STORED.mkdir(exist_ok=True)
    index = {}
    for (dataset, ipc), row in sorted(rows.items()):
        name = f"{dataset}_ipc{ipc}"
        source = DISTILLED / f"cpu_{name}.npz"
        shutil.copyfile(source, STORED / f"{name}.npz")
        index[name] = {"file": f"{name}.npz", "dataset": dataset, "images_per_class": ipc, "steps": row["steps"],
                       "test_accuracy": {"mean": row["acc_mean"], "std": row["acc_std"], "split": row["split"],
                                         "network": row["network"], "networks": len(row["accs"])},
                       "machine": row["machine"], "command": REPORT_COMMAND}
        print(f"stored {name}: {100 * row['acc_mean']:.1f} % ({len(row['accs'])} x {row['network']})")
    (STORED / "index.json").write_text(json.dumps(index, indent=1) + "\n")


if __name__ == "__main__":
    main()
