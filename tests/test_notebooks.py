"""The notebooks: committed in a clean state with real outputs, and executable in smoke mode.

The execution tests run each notebook with papermill and SMOKE=True (a few steps of everything; the
notebooks' own asserts on result ranges are switched off there). They need the real MNIST /
Fashion-MNIST files (FREPO_DATA_DIR, as CI sets it) and take a few minutes; deselect them with
`-m "not notebooks"`.
"""
import base64
import json
import os
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXPECTED = ["00_quickstart", "01_krr_and_conjugate_kernels", "02_meta_gradients_through_krr", "03_frepo"]
needs_data = pytest.mark.skipif(not os.environ.get("FREPO_DATA_DIR"),
                                reason="set FREPO_DATA_DIR to the offline datasets (e.g. ../shared/datasets)")


def absolute_data_dir(monkeypatch):
    """The kernel runs in a scratch directory: a relative FREPO_DATA_DIR must be made absolute first."""
    monkeypatch.setenv("FREPO_DATA_DIR", str(Path(os.environ["FREPO_DATA_DIR"]).resolve()))


def load(path):
    return json.loads(path.read_text())


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_the_four_notebooks_exist():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_clean_and_executed(path):
    nb = load(path)
    assert set(nb["metadata"]) <= {"kernelspec", "language_info"}, "editor metadata must be stripped"
    first = "".join(nb["cells"][0]["source"])
    assert nb["cells"][0]["cell_type"] == "markdown" and "colab-badge" in first and "mybinder" in first
    assert "What you will learn" in first
    params = [c for c in code_cells(nb) if "parameters" in c["metadata"].get("tags", [])]
    assert len(params) == 1 and "SMOKE = False" in "".join(params[0]["source"])
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
    assert max(len(base64.b64decode(p)) for p in pngs) < 250_000, "keep figures modest (dpi, size)"


@pytest.mark.notebooks
@needs_data
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_smoke_mode(path, tmp_path, monkeypatch):
    import papermill

    absolute_data_dir(monkeypatch)

    out = tmp_path / path.name
    papermill.execute_notebook(str(path), str(out), parameters={"SMOKE": True}, cwd=str(tmp_path),
                               kernel_name="python3", progress_bar=False)
    nb = load(out)
    assert not [o for c in code_cells(nb) for o in c["outputs"] if o["output_type"] == "error"]


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
