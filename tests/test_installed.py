"""The package as Colab and Binder users get it: a wheel installed non-editable, used outside the checkout.

The wheel is built from this checkout and installed, without its dependencies, into a fresh virtual environment;
the dependencies come from the environment running the tests (a `.pth` file names its site-packages, which does
not activate the editable install of frepo_lite there). Everything then runs from a temporary directory, so
nothing of the checkout can be found by accident; the first check is that `frepo_lite` is the installed copy.
"""
import json
import os
import re
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ("mnist", "fashion_mnist")
BACKENDS = ("cpu",)


def notebook_results() -> set[str]:
    """Every results file a notebook reads with benchmark_result(...), for each dataset and backend."""
    names = set()
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        source = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
        for pattern in re.findall(r'benchmark_result\(f?"([^"]+)"\)', source):
            names |= {pattern.format(DATASET=d, backend=b) for d in DATASETS for b in BACKENDS}
    return names


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(python, workdir): the fresh environment's interpreter with the wheel installed, and a directory
    outside the checkout to run it in."""
    tmp = tmp_path_factory.mktemp("installed")
    wheels = tmp / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
                   check=True)
    (wheel,) = wheels.glob("frepo_lite-*.whl")
    env_dir = tmp / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                    str(wheel)], check=True)
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "test_dependencies.pth").write_text("\n".join(sorted(deps)) + "\n")
    work = tmp / "work"
    work.mkdir()
    return python, work


def run_python(installed, code: str, **env) -> str:
    python, work = installed
    result = subprocess.run([str(python), "-c", textwrap.dedent(code)], cwd=work, capture_output=True, text=True,
                            env={**os.environ, "JAX_PLATFORMS": "cpu", **env}, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_the_installed_package_is_the_wheels_not_the_checkouts(installed):
    where = run_python(installed, "import frepo_lite; print(frepo_lite.__file__)").strip()
    assert str(installed[0].parent.parent) in where and str(ROOT) not in where


def test_the_installed_package_has_every_stored_set_and_every_result_a_notebook_reads(installed):
    names = notebook_results()
    assert {"transfer_mnist.json", "labels_fashion_mnist.json", "cost_cpu.json"} <= names
    out = run_python(installed, f"""
        from frepo_lite.stored import benchmark_result, load_stored, stored_index
        for entry in stored_index().values():
            s, _ = load_stored(entry["dataset"], entry["images_per_class"])
            print("set", entry["dataset"], entry["images_per_class"], s.images.shape[0])
        for name in {sorted(names)!r}:
            print("result", name, benchmark_result(name) is not None)
    """)
    sets = [line.split() for line in out.splitlines() if line.startswith("set ")]
    assert {(d, int(k)) for _, d, k, _ in sets} >= {(d, k) for d in DATASETS for k in (1, 10)}
    assert all(int(n) == 10 * int(k) for _, _, k, n in sets)
    missing = [line for line in out.splitlines() if line.startswith("result ") and line.endswith("False")]
    assert not missing, missing


def test_a_notebooks_benchmark_section_shows_its_numbers_when_installed(installed, tmp_path):
    data_dir = os.environ.get("FREPO_DATA_DIR")
    if not data_dir or not (Path(data_dir) / "mnist.npz").exists():
        pytest.skip("needs the offline MNIST (FREPO_DATA_DIR)")
    notebook = ROOT / "notebooks" / "07_membership_inference.ipynb"
    executed = tmp_path / notebook.name
    run_python(installed, f"""
        import papermill
        papermill.execute_notebook({str(notebook)!r}, {str(executed)!r}, parameters={{"SMOKE": True}},
                                   kernel_name="python3", progress_bar=False)
    """, FREPO_DATA_DIR=str(Path(data_dir).resolve()))
    bench = json.loads((ROOT / "frepo_lite" / "results" / "membership_mnist.json").read_text())
    cells = json.loads(executed.read_text())["cells"]
    (section,) = [c for c in cells if c["cell_type"] == "code" and "benchmark_result(" in "".join(c["source"])]
    shown = "".join("".join(o.get("text", "")) for o in section["outputs"])
    assert "no membership benchmark results" not in shown
    assert bench["command"] in shown and f"{100 * bench['rows'][-1]['test_acc']:5.1f}" in shown
