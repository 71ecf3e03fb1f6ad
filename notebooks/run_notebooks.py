"""Execute the notebooks with papermill and keep them clean for the repository.

    FREPO_DATA_DIR=$PWD/../shared/datasets python notebooks/run_notebooks.py            # all, defaults
    python notebooks/run_notebooks.py 00 03 --smoke --out /tmp/nb                        # a quick check

Each notebook runs in a fresh scratch directory (so earlier outputs/ or checkpoints are not reused), with
its `parameters` cell overridden by -p NAME VALUE pairs (values are read as Python literals). Without
--out the executed notebook replaces the committed one, stripped of editor and papermill metadata
(outputs and execution counts stay), and its wall time, machine and date are recorded in
notebooks/runtimes.json.
"""
from __future__ import annotations

import argparse
import ast
import datetime
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import nbformat
import papermill

HERE = Path(__file__).resolve().parent
KEEP_NOTEBOOK_METADATA = ("kernelspec", "language_info")


def notebooks(selection: list[str]) -> list[Path]:
    found = sorted(HERE.glob("[0-9][0-9]_*.ipynb"))
    chosen = [p for p in found if not selection or any(p.name.startswith(s) for s in selection)]
    if not chosen:
        raise SystemExit(f"no notebook matches {selection}; there are {[p.name for p in found]}")
    return chosen


WIDGET = "application/vnd.jupyter.widget-view+json"


def strip_metadata(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Keep outputs, execution counts and cell tags; drop editor and papermill metadata, and widget
    outputs (progress bars, viewers): without a live kernel they would show only a stale placeholder."""
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in KEEP_NOTEBOOK_METADATA}
    for cell in nb.cells:
        tags = [t for t in cell.metadata.get("tags", []) if t != "injected-parameters"]
        cell.metadata = {"tags": tags} if tags else {}
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if WIDGET not in o.get("data", {})]
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    return nb


def literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def run(path: Path, parameters: dict, out: Path | None) -> float:
    target = (out / path.name) if out else path
    with tempfile.TemporaryDirectory() as scratch:
        t0 = time.perf_counter()
        papermill.execute_notebook(str(path), str(target), parameters=parameters, cwd=scratch,
                                   kernel_name="python3", progress_bar=False)
        seconds = time.perf_counter() - t0
    if out is None:
        nb = strip_metadata(nbformat.read(target, as_version=4))
        nbformat.write(nb, target)
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("select", nargs="*", help="notebook number prefixes, e.g. 00 03 (default: all)")
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("--smoke", action="store_true", help="set SMOKE=True (a quick check, not for committing)")
    parser.add_argument("--out", type=Path, help="write executed copies here instead of replacing the notebooks")
    args = parser.parse_args(argv)
    if os.environ.get("FREPO_DATA_DIR"):  # the kernels run in scratch directories
        os.environ["FREPO_DATA_DIR"] = str(Path(os.environ["FREPO_DATA_DIR"]).resolve())
    parameters = {k: literal(v) for k, v in args.p}
    if args.smoke:
        parameters["SMOKE"] = True
    if (parameters or args.smoke) and args.out is None:
        parser.error("committed notebooks keep a run of their defaults: pass --out with -p or --smoke")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    times_file = HERE / "runtimes.json"
    times = json.loads(times_file.read_text()) if times_file.exists() else {}
    for path in notebooks(args.select):
        print(f"running {path.name} {parameters or ''}", flush=True)
        seconds = run(path, parameters, args.out)
        print(f"  {seconds / 60:.1f} min", flush=True)
        if args.out is None:
            times[path.name] = {"minutes": round(seconds / 60, 1), "machine": f"{platform.machine()}, "
                                f"{os.cpu_count()} cores", "date": datetime.date.today().isoformat()}
            times_file.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
