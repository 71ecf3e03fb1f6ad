"""Execute the notebooks with papermill and keep them clean for the repository.

    FREPO_DATA_DIR=$PWD/../shared/datasets python notebooks/run_notebooks.py            # all, defaults
    python notebooks/run_notebooks.py 00 03 --smoke --out /tmp/nb                        # a quick check

    python notebooks/run_notebooks.py --front-matter                                     # links only

Each notebook runs in a fresh scratch directory (so earlier outputs/ or checkpoints are not reused), in a
process of its own, with its `parameters` cell overridden by -p NAME VALUE pairs (values are read as Python
literals). Without --out the executed notebook replaces the committed one, stripped of editor and papermill
metadata (outputs and execution counts stay), and its text twin NN_name.md (jupytext, MyST markdown, for
review) is written beside it; its wall time, the peak resident memory of its kernel, the
machine and the date are recorded in notebooks/runtimes.json, and its front matter is rewritten: the Colab and
Binder badges and the Colab install cell from the one repository URL in pyproject.toml ([project.urls]
Repository), the runtime sentence of its first cell from runtimes.json.
"""
from __future__ import annotations

import argparse
import ast
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import jupytext
import nbformat
from jupytext.config import load_jupytext_config

HERE = Path(__file__).resolve().parent
PYPROJECT = HERE.parent / "pyproject.toml"
RUNTIMES = HERE / "runtimes.json"
KEEP_NOTEBOOK_METADATA = ("kernelspec", "language_info")
RUNTIME_SPAN = re.compile(r"<!-- runtime -->.*?<!-- /runtime -->", re.S)
BADGES = re.compile(r"^\[!\[Open In Colab\].*\n\[!\[Binder\].*$", re.M)


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


def text_twin(path: Path) -> str:
    """The notebook at path as its reviewable text twin, MyST markdown without outputs (the format and options
    of jupytext.toml at the repository root)."""
    return jupytext.writes(jupytext.read(path), fmt="md:myst", config=load_jupytext_config(str(path)))


def write_notebook(nb: nbformat.NotebookNode, path: Path) -> None:
    """Write the notebook and its text twin beside it (NN_name.md)."""
    nbformat.write(nb, path)
    path.with_suffix(".md").write_text(text_twin(path))


def load_runtimes() -> dict:
    """{notebook file name: {"minutes", "peak_memory_mb", "machine", "date"}} of the committed runs."""
    return json.loads(RUNTIMES.read_text()) if RUNTIMES.exists() else {}


def repository_url() -> str:
    """The project's repository, from pyproject.toml's [project.urls] (a https://github.com/OWNER/NAME URL)."""
    url = tomllib.loads(PYPROJECT.read_text())["project"]["urls"]["Repository"].rstrip("/")
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        raise SystemExit(f"[project.urls] Repository in {PYPROJECT} must be https://github.com/OWNER/NAME, got {url!r}")
    return url


def badges(name: str, url: str) -> str:
    """The Colab and Binder badges (two markdown lines) that open notebooks/<name> of the repository at url."""
    slug = url.removeprefix("https://github.com/")
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{slug}/blob/main/notebooks/{name})\n"
            f"[![Binder](https://mybinder.org/badge_logo.svg)]"
            f"(https://mybinder.org/v2/gh/{slug}/main?urlpath=lab/tree/notebooks/{name})")


def colab_cell(url: str, package: str | None = None) -> str:
    """The source of every notebook's second cell: on Colab, install frepo-lite (or `package`, a pip
    requirement: the course's student copies add otter-grader). The notebooks import only the package's own
    dependencies (tests/test_notebooks.py checks it); Colab brings Jupyter, so no extras."""
    package = package or f"frepo-lite @ git+{url}"
    return f'''# Colab only: install frepo_lite and its dependencies (this cell does nothing anywhere else)
import subprocess
import sys

if "google.colab" in sys.modules:
    PACKAGE = "{package}"
    if subprocess.run([sys.executable, "-m", "pip", "install", "-q", PACKAGE]).returncode != 0:
        raise RuntimeError(f"could not install {{PACKAGE}} (pip's message is above): check that this runtime "
                           "can reach the internet, then run this cell again")'''


def runtime_sentence(entry: dict) -> str:
    """What the first cell says of a notebook's cost, from its runtimes.json entry."""
    return (f"<!-- runtime -->Runtime with the defaults: {entry['minutes']} min, peak memory "
            f"{entry['peak_memory_mb']} MB ({entry['machine']}, {entry['date']}; "
            "`notebooks/runtimes.json`; these machines differ in speed by up to 3 times from day to day)."
            "<!-- /runtime -->")


def front_matter(nb: nbformat.NotebookNode, name: str, url: str, runtime: dict | None) -> nbformat.NotebookNode:
    """nb with its badges and Colab cell made from url and, where runtime is given, its runtime sentence."""
    first = nb.cells[0]
    if not BADGES.search(first.source) or (runtime and not RUNTIME_SPAN.search(first.source)):
        raise SystemExit(f"{name}: the first cell needs the two badge lines and a <!-- runtime --> span")
    first.source = BADGES.sub(lambda _: badges(name, url), first.source)
    if runtime:
        first.source = RUNTIME_SPAN.sub(lambda _: runtime_sentence(runtime), first.source)
    nb.cells[1].source = colab_cell(url)
    return nb


def run(path: Path, parameters: dict, out: Path | None) -> tuple[float, int, list[tuple[float, int]]]:
    """Execute the notebook in a process of its own: (wall seconds, peak resident memory in MB of the largest
    process of that run (its kernel), and (unix time, kernel's resident MB) sampled every half second)."""
    target = (out / path.name) if out else path
    with tempfile.TemporaryDirectory() as scratch:
        t0 = time.perf_counter()
        code = ("import json, sys, papermill; a = json.loads(sys.argv[1]); papermill.execute_notebook("
                "a['path'], a['target'], parameters=a['parameters'], cwd=a['cwd'], kernel_name='python3', "
                "progress_bar=False)")
        args = json.dumps({"path": str(path), "target": str(target), "parameters": parameters, "cwd": scratch})
        process = subprocess.Popen([sys.executable, "-c", code, args])
        samples = []
        while True:
            # wait4's usage covers the process and the children it waited for (the kernel): ru_maxrss is the largest
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            samples.append((time.time(), kernel_rss_mb(process.pid)))
            time.sleep(0.5)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - t0
    if process.returncode != 0:
        raise SystemExit(f"{path.name} failed (exit code {process.returncode}); its output is in {target}")
    return seconds, round(usage.ru_maxrss / 1024), samples


def kernel_rss_mb(pid: int) -> int:
    """The largest resident set (MB) among the processes that pid started (the kernel), 0 if none yet."""
    import psutil

    try:
        return max((c.memory_info().rss >> 20 for c in psutil.Process(pid).children(recursive=True)), default=0)
    except psutil.Error:
        return 0


def cell_profile(nb: nbformat.NotebookNode, samples: list[tuple[float, int]], k: int = 6) -> str:
    """The k slowest cells of an executed notebook (papermill's per-cell times), each with the largest kernel
    memory sampled while it ran, then the cell where memory peaked, one per line."""
    rows = []
    for i, cell in enumerate(nb.cells):
        meta = cell.metadata.get("papermill", {})
        if not meta.get("start_time") or not meta.get("end_time"):
            continue
        start, end = (datetime.datetime.fromisoformat(meta[key]).replace(tzinfo=datetime.timezone.utc).timestamp()
                      for key in ("start_time", "end_time"))
        peak = max((mb for t, mb in samples if start - 0.5 <= t <= end + 0.5), default=0)
        rows.append((meta.get("duration") or 0.0, peak, i, cell.source.split("\n")[0][:60]))
    show = sorted(rows, reverse=True)[:k] + [max(rows, key=lambda r: r[1])] if rows else []
    return "\n".join(f"    cell {i:2d}: {seconds:5.0f} s, peak {peak:5d} MB  {line}" for seconds, peak, i, line in show)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("select", nargs="*", help="notebook number prefixes, e.g. 00 03 (default: all)")
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("--smoke", action="store_true", help="set SMOKE=True (a quick check, not for committing)")
    parser.add_argument("--out", type=Path, help="write executed copies here instead of replacing the notebooks")
    parser.add_argument("--front-matter", action="store_true",
                        help="only rewrite the badges, Colab cell and runtime sentence of the committed notebooks, "
                             "and their text twins")
    args = parser.parse_args(argv)
    url = repository_url()
    times = load_runtimes()
    if args.front_matter:
        for path in notebooks(args.select):
            write_notebook(front_matter(nbformat.read(path, as_version=4), path.name, url, times.get(path.name)), path)
        return
    if os.environ.get("FREPO_DATA_DIR"):  # the kernels run in scratch directories
        os.environ["FREPO_DATA_DIR"] = str(Path(os.environ["FREPO_DATA_DIR"]).resolve())
    parameters = {k: literal(v) for k, v in args.p}
    if args.smoke:
        parameters["SMOKE"] = True
    if (parameters or args.smoke) and args.out is None:
        parser.error("committed notebooks keep a run of their defaults: pass --out with -p or --smoke")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    for path in notebooks(args.select):
        print(f"running {path.name} {parameters or ''}", flush=True)
        seconds, peak_mb, samples = run(path, parameters, args.out)
        executed = nbformat.read((args.out or path.parent) / path.name, as_version=4)
        print(f"  {seconds / 60:.1f} min, peak memory {peak_mb} MB; the slowest cells, then the one where the "
              f"memory peaked:\n{cell_profile(executed, samples)}", flush=True)
        if args.out is None:
            times[path.name] = {"minutes": round(seconds / 60, 1), "peak_memory_mb": peak_mb,
                                "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                                "date": datetime.date.today().isoformat()}
            RUNTIMES.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")
            nb = strip_metadata(nbformat.read(path, as_version=4))
            write_notebook(front_matter(nb, path.name, url, times[path.name]), path)


if __name__ == "__main__":
    main()
