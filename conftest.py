"""pytest (nbval) runs every notebook in notebooks/ in smoke mode: `python -m pytest notebooks`, or the whole suite.

The notebooks' `parameters` cell reads FREPO_SMOKE; the kernels nbval starts inherit this process's
environment and run in the notebooks' folder, so a relative FREPO_DATA_DIR is made absolute first. Without
the offline datasets (FREPO_DATA_DIR) the notebooks would try to download them: they are skipped instead.
(This file sits at the root, not in notebooks/, so that the test modules' `from conftest import ...` keeps
finding tests/conftest.py.)
"""
import os
from pathlib import Path

os.environ["FREPO_SMOKE"] = "1"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
if os.environ.get("FREPO_DATA_DIR"):
    os.environ["FREPO_DATA_DIR"] = str(Path(os.environ["FREPO_DATA_DIR"]).resolve())
    collect_ignore_glob = []
else:
    collect_ignore_glob = ["notebooks/*.ipynb"]
