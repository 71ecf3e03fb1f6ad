"""The notebooks: committed in a clean state with real outputs, exercises in the instructor's layout.

Every notebook also runs in smoke mode under nbval (`python -m pytest notebooks`, collected by the
default test command; see the root conftest.py). The papermill test here checks that injected
parameters reach a notebook; it needs the real MNIST / Fashion-MNIST files (FREPO_DATA_DIR, as CI sets
it); deselect it with `-m "not notebooks"`.
"""
import base64
import json
import os
import re
from pathlib import Path

import nbformat
import pytest

MAX_MEMORY_MB = 2000  # a notebook's defaults on the 2-core machine: Binder gives a kernel 2 GB
MAX_MINUTES = 10      # and at most this long there: a student's slow laptop
NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXPECTED = ["00_quickstart", "01_krr_and_conjugate_kernels", "02_meta_gradients_through_krr", "03_frepo",
            "04_cross_architecture_transfer",
            "05_learned_labels", "06_continual_learning", "07_membership_inference", "08_training_cost",
            "09_beyond_the_paper"]
needs_data = pytest.mark.skipif(not os.environ.get("FREPO_DATA_DIR"),
                                reason="set FREPO_DATA_DIR to the offline datasets (e.g. ../shared/datasets)")


def absolute_data_dir(monkeypatch):
    """The kernel runs in a scratch directory: a relative FREPO_DATA_DIR must be made absolute first."""
    monkeypatch.setenv("FREPO_DATA_DIR", str(Path(os.environ["FREPO_DATA_DIR"]).resolve()))


def load(path):
    return json.loads(path.read_text())


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_the_curriculum_notebooks_exist():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_clean_and_executed(path):
    nb = load(path)
    assert set(nb["metadata"]) <= {"kernelspec", "language_info"}, "editor metadata must be stripped"
    first = "".join(nb["cells"][0]["source"])
    assert nb["cells"][0]["cell_type"] == "markdown" and "colab-badge" in first and "mybinder" in first
    assert "What you will learn" in first
    params = [c for c in code_cells(nb) if "parameters" in c["metadata"].get("tags", [])]
    assert len(params) == 1 and 'SMOKE = os.environ.get("FREPO_SMOKE") == "1"' in "".join(params[0]["source"])
    for cell in nb["cells"]:
        assert set(cell["metadata"]) <= {"tags"}, f"cell metadata {cell['metadata']} should be stripped"
    counts = [c["execution_count"] for c in code_cells(nb)]
    assert all(isinstance(n, int) for n in counts), "every code cell must have run (execution counts kept)"
    assert counts == sorted(counts), "cells must have run top to bottom"
    outputs = [o for c in code_cells(nb) for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"], "committed outputs contain an error"
    assert "Exercises" in "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    pngs = [o["data"]["image/png"] for o in outputs if "image/png" in o.get("data", {})]
    assert pngs, "the committed run should show its figures"
    # the largest, a 10 x 10 grid of distilled images at 100 dpi, takes about 250 kB
    assert max(len(base64.b64decode(p)) for p in pngs) < 300_000, "keep figures modest (dpi, size)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercises_follow_the_instructor_layout(path):
    """The notebook is an otter-grader master (notebooks/course.py): every code question has a worked solution
    with a hint and solution markers, a public test that runs its `exercises.check_*` and a hidden test; every
    written question has a model answer; the figures use the shared style (frepo_lite.viz.NOTEBOOK_STYLE), and
    some deterministic output is pinned for nbval."""
    nb = nbformat.read(path, as_version=4)
    questions = course_module().questions(nb)
    code = [q for q in questions if not q["manual"]]
    assert code and len(code) < len(questions), "expected code questions and at least one written question"
    for q in code:
        (i,) = q["solutions"]
        solution = nb.cells[i].source
        assert solution.startswith("# Hint: ") and "# BEGIN SOLUTION" in solution and "# END SOLUTION" in solution, q
        public = [t["source"] for t in q["tests"] if not t["hidden"]]
        assert public and all("exercises.check_" in t for t in public), q["name"]
        assert any(t["hidden"] for t in q["tests"]), f"{q['name']} has no hidden test"
    for q in questions:
        if q["manual"]:
            assert all(nb.cells[i].source.startswith("**Model answer.**") for i in q["solutions"]), q["name"]
    assert not [c for c in nb.cells if "solution" in c.metadata.get("tags", [])], "the old `solution` tags are gone"
    cells = load(path)["cells"]
    source = "".join("".join(c["source"]) for c in code_cells(nb))
    assert "use_notebook_style()" in source and "figure.dpi" not in source, "figures use the shared style"
    assert "# NBVAL_CHECK_OUTPUT" in source, "pin at least one deterministic output for nbval"
    last = "".join(cells[-1]["source"])
    assert cells[-1]["cell_type"] == "markdown" and "## Summary" in last


@pytest.mark.notebooks
@needs_data
def test_injected_parameters_select_dataset_and_size(tmp_path, monkeypatch):
    import papermill

    absolute_data_dir(monkeypatch)

    path = [p for p in NOTEBOOKS if p.stem == "03_frepo"][0]
    out = tmp_path / "03.ipynb"
    papermill.execute_notebook(str(path), str(out), cwd=str(tmp_path), kernel_name="python3", progress_bar=False,
                               parameters={"SMOKE": True, "DATASET": "fashion_mnist", "IMAGES_PER_CLASS": 2})
    text = "".join(o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"])
                   for c in code_cells(load(out)) for o in c["outputs"])
    assert "dataset fashion_mnist: main run 2 image(s)/class" in text
    exported = list((tmp_path / "outputs").glob("frepo_fashion_mnist_ipc2*.npz"))
    assert len(exported) == 1


def _notebook_script(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, NOTEBOOKS[0].parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_notebooks_module():
    return _notebook_script("run_notebooks")


def course_module():
    return _notebook_script("course")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_badges_colab_cell_and_runtime_are_generated_from_one_url_and_runtimes_json(path):
    import copy

    import nbformat

    runner = run_notebooks_module()
    nb = nbformat.read(path, as_version=4)
    url = runner.repository_url()
    expected = runner.front_matter(copy.deepcopy(nb), path.name, url, runner.load_runtimes()[path.name])
    assert nb.cells[0].source == expected.cells[0].source, "run `python notebooks/run_notebooks.py --front-matter`"
    assert nb.cells[1].source == expected.cells[1].source
    moved = runner.front_matter(copy.deepcopy(nb), path.name, "https://github.com/someone/elsewhere", None)
    text = moved.cells[0].source + moved.cells[1].source
    assert url.removeprefix("https://github.com/") not in text and text.count("someone/elsewhere") == 3


def test_the_repository_url_is_named_once():
    runner = run_notebooks_module()
    url = runner.repository_url()
    root = NOTEBOOKS[0].parents[1]
    for path in [root / "README.md", root / "binder" / "postBuild", *root.glob("frepo_lite/*.py")]:
        assert url not in path.read_text(), f"{path} names the repository: make it from pyproject.toml"


def test_the_colab_cell_installs_the_package_and_says_so_when_it_cannot(monkeypatch):
    import subprocess
    import sys
    import types

    runner = run_notebooks_module()
    cell = runner.colab_cell("https://github.com/owner/name")
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda args, **k: calls.append(args) or types.SimpleNamespace(returncode=1))
    exec(cell, {})  # not on Colab: nothing happens
    assert not calls
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    with pytest.raises(RuntimeError, match="could not install frepo-lite @ git\\+https://github.com/owner/name"):
        exec(cell, {})
    assert calls and calls[0][-1] == "frepo-lite @ git+https://github.com/owner/name"


def test_the_notebooks_import_only_the_packages_declared_dependencies():
    """The Colab cell installs frepo-lite without extras, so a notebook may import the standard library,
    frepo_lite and the package's direct dependencies only."""
    import ast
    import importlib.metadata
    import re
    import sys
    import tomllib

    meta = tomllib.loads((NOTEBOOKS[0].parents[1] / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=;\[ ]", d)[0].lower().replace("_", "-") for d in meta["dependencies"]}
    providers = importlib.metadata.packages_distributions()
    undeclared = set()
    for path in NOTEBOOKS:
        for cell in code_cells(load(path)):
            for node in ast.walk(ast.parse("".join(cell["source"]))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
                for name in (n.split(".")[0] for n in names):
                    if name in sys.stdlib_module_names or name == "frepo_lite":
                        continue
                    dists = {d.lower().replace("_", "-") for d in providers.get(name, [name])}
                    if not dists & declared:
                        undeclared.add(f"{path.stem}: {name}")
    assert not undeclared, sorted(undeclared)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebooks_committed_run_is_recorded(path):
    """runtimes.json holds each notebook's last run with its defaults on the 2-core machine: its date, its
    minutes (at most MAX_MINUTES) and the peak resident memory of its kernel (under MAX_MEMORY_MB: Binder)."""
    entry = run_notebooks_module().load_runtimes()[path.name]
    assert "core" in entry["machine"] and re.fullmatch(r"\d{4}-\d\d-\d\d", entry["date"]), entry
    assert 0 < entry["minutes"] <= MAX_MINUTES, f"{path.name} takes {entry['minutes']} min"
    assert 0 < entry["peak_memory_mb"] < MAX_MEMORY_MB, f"{path.name} peaks at {entry['peak_memory_mb']} MB"


def test_the_runner_names_the_slowest_cells_and_the_cell_where_memory_peaked():
    import nbformat

    runner = run_notebooks_module()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"cell_{i} = {i}") for i in range(3)]
    times = [("2026-12-07T10:00:00.000000+00:00", "2026-12-07T10:00:10.000000+00:00", 10.0),
             ("2026-12-07T10:00:10.000000+00:00", "2026-12-07T10:01:10.000000+00:00", 60.0),
             ("2026-12-07T10:01:10.000000+00:00", "2026-12-07T10:01:15.000000+00:00", 5.0)]
    for cell, (start, end, seconds) in zip(nb.cells, times):
        cell.metadata["papermill"] = {"start_time": start, "end_time": end, "duration": seconds}
    t0 = 1796637600.0  # 2026-12-07T10:00:00 UTC
    samples = [(t0 + 5, 300), (t0 + 30, 900), (t0 + 72, 1500), (t0 + 74, 1400)]
    lines = runner.cell_profile(nb, samples, k=2).splitlines()
    assert "cell  1:    60 s, peak   900 MB  cell_1 = 1" in lines[0]  # the slowest first
    assert "cell  0:    10 s, peak   300 MB" in lines[1]
    assert "cell  2:     5 s, peak  1500 MB" in lines[2]  # then the cell where the memory peaked


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_its_text_twin_in_sync(path):
    """Each notebook is paired with NN_name.md (jupytext, MyST markdown, no outputs), so that a review reads a
    text diff; `jupytext --sync notebooks/*.ipynb` (or run_notebooks.py) brings a pair back in sync."""
    twin = path.with_suffix(".md")
    assert twin.exists(), f"{twin.name} is missing: run `jupytext --sync {path.name}` in notebooks/"
    assert twin.read_text() == run_notebooks_module().text_twin(path), f"{twin.name} is out of sync with {path.name}"
