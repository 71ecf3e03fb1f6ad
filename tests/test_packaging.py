"""pyproject.toml, environment.yml and binder/ describe the same installation."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_environments_install_this_checkout_with_the_notebook_extras():
    root_env = (ROOT / "environment.yml").read_text()
    assert "-e .[notebooks]" in root_env and "python>=3.11" in root_env
    binder_env = (ROOT / "binder" / "environment.yml").read_text()
    assert re.search(r"python=3\.1[1-9]", binder_env), "binder pins a Python >= 3.11"
    post = (ROOT / "binder" / "postBuild").read_text()
    assert 'pip install --no-cache-dir -e ".[notebooks]"' in post
    assert (ROOT / "binder" / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"


def test_pyproject_declares_what_the_notebooks_and_widgets_need():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["requires-python"] == ">=3.11"
    deps = " ".join(meta["dependencies"])
    assert "ipywidgets>=8" in deps  # ipywidgets 8 ships the JupyterLab 4 extension (jupyterlab_widgets)
    extras = " ".join(meta["optional-dependencies"]["notebooks"])
    for name in ("jupyterlab>=4", "ipykernel", "papermill", "nbformat"):
        assert name in extras, name
