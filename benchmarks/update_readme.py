"""Copy the measured tables of frepo_lite/results into RESULTS.md, and the notebooks' measured runtimes
(notebooks/runtimes.json, written by notebooks/run_notebooks.py) and Table 1's rows into README.md.

README.md: between its <!-- NOTEBOOKS --> and <!-- HEADLINE --> markers. RESULTS.md: between its <!-- TABLE1 -->,
<!-- LABELS --> and <!-- SPEED --> markers, and, once benchmarks/paper_transfer.py, paper_continual.py, paper_membership.py, paper_cost.py,
select_krr_support.py and speed_devices.py have written results, between <!-- TRANSFER -->, <!-- CONTINUAL -->,
<!-- MEMBERSHIP -->, <!-- COST -->, <!-- KRR_SUPPORT --> and <!-- DEVICES --> markers.

Run from the repository root after a benchmark or a notebook run: python benchmarks/update_readme.py
"""
import json
import pathlib
import re

from frepo_lite.protocol import PAPER_TABLE2_CIFAR10
from frepo_lite.stored import RESULTS_DIR

NOTEBOOKS = {
    "00_quickstart": "distill MNIST to 10 images (or load the stored set), look at the images and learned labels, "
                     "compare with 10 random real images, export; the kernel's peak memory",
    "01_krr_and_conjugate_kernels": "ridge regression primal vs dual (timed), conjugate kernels of random vs trained "
                                    "networks, KRR as the support grows, the regulariser (chosen on the validation "
                                    "split) and the float32 spectrum, last-layer training converging to KRR",
    "02_meta_gradients_through_krr": "back-propagating the KRR loss into images; overfitting one fixed network; "
                                     "FRePo's pool; unrolled BPTT: time, memory and result measured; FRePo against "
                                     "1-step truncated BPTT over a longer run (paper Fig. 8)",
    "03_frepo": "the full algorithm, one step written out and checked against the compiled one; 10 images/class; "
                "learned labels read from the data; evaluation vs a random subset; an ablation of labels, m and K "
                "with its noise, read on the validation split; export; snapshot viewer",
    "04_cross_architecture_transfer": "six evaluation architectures (ResNet-18 a parameter away) and their sizes; one set per pool architecture "
                                      "(Conv-BN, Conv-IN, Conv-NN) side by side; instance norm written by hand; the "
                                      "transfer matrix with verdicts against the noise; why one architecture per pool; "
                                      "the benchmark's 10 img/cls matrix read the same way",
    "05_learned_labels": "what learned labels encode: confidence, margin and the paper's three groups; class "
                         "similarity against a real-data network's confusions (rank correlation against chance); "
                         "learned vs fixed labels with their noise; the initial label scale; a label explorer",
    "06_continual_learning": "class-incremental learning with GDumb; random, herding, FRePo-per-step and "
                             "FRePo-all-classes buffers of equal size; accuracy on the classes seen so far, step by "
                             "step, with its noise; why per-step distillation cannot relate classes across steps",
    "07_membership_inference": "the membership-inference game; five attacks against victims trained on the members, "
                               "a random subset and a set distilled from them, over training steps; AUC and TPR at "
                               "low FPR; the members a distilled set starts from; what a failed attack does not show",
    "08_training_cost": "time per step and XLA's memory against width and set size, FRePo against unrolled BPTT, "
                        "beside the paper's GPU numbers; where a step's time goes; a bounded random KRR support; "
                        "accuracy against wall-clock time, FRePo against truncated BPTT",
    "09_beyond_the_paper": "what came after the paper (RCIG): the moving average of the set, the cross-entropy with "
                           "a learned temperature, a more varied pool and its price per step; the selection "
                           "benchmark's validation results with their noise; accuracy against distillation time",
}
RESULTS = RESULTS_DIR
DATASETS = (("mnist", "MNIST"), ("fashion_mnist", "Fashion-MNIST"))  # (results key, name shown)


def measured(name: str) -> str:
    """A results/*.md table without its title (and without its reproduce line, kept by the caller's text)."""
    return (RESULTS / name).read_text().split("\n", 2)[2].strip()


def body(path: pathlib.Path) -> str:
    """A results file without its title line, its sections moved two levels down to sit under a RESULTS.md heading."""
    return re.sub(r"^## ", "#### ", path.read_text().split("\n", 2)[2].strip(), flags=re.M)


def transfer_block() -> str | None:
    """Our transfer tables (those measured) beside the paper's Table 2, which is on CIFAR-10; None if none."""
    tables = [(name, RESULTS / f"transfer_{key}.md") for key, name in DATASETS]
    tables = [(name, path) for name, path in tables if path.exists()]
    if not tables:
        return None
    cols = PAPER_TABLE2_CIFAR10["columns"]
    paper = "\n".join(f"| {k} | " + " | ".join(f"{v:.1f}" for v in vals) + " |"
                      for k, vals in PAPER_TABLE2_CIFAR10.items() if k != "columns")
    return ("### Cross-architecture transfer (paper Table 2)\n\n"
            + "\n\n".join(f"**{name}**\n\n" + body(path) for name, path in tables)
            + "\n\nThe paper's Table 2 is on **CIFAR-10** at 10 img/cls (no CIFAR is available offline, so there is "
            "no number of ours to set beside it); it shows the pattern to look for, FRePo's Conv-BN set against the "
            "Conv-IN sets of other methods:\n\n| set (CIFAR-10, paper) | " + " | ".join(cols) + " |\n|---|"
            + "---|" * len(cols) + "\n" + paper)


def measured_block(prefix: str, title: str, keys: tuple) -> str | None:
    """The measured tables results/<prefix>_<key>.md that exist ({key: name} pairs in keys), each under its
    name and all under one heading; None if none."""
    tables = [(name, RESULTS / f"{prefix}_{key}.md") for key, name in keys]
    tables = [(name, path) for name, path in tables if path.exists()]
    if not tables:
        return None
    return f"### {title}\n\n" + "\n\n".join(f"**{name}**\n\n" + body(path) for name, path in tables)


def results_block(prefix: str, title: str) -> str | None:
    """One table per dataset (results/<prefix>_<dataset>.md)."""
    return measured_block(prefix, title, DATASETS)


def backend_block(prefix: str, title: str) -> str | None:
    """One table per backend (results/<prefix>_cpu.md, _gpu.md)."""
    return measured_block(prefix, title, (("cpu", "CPU"), ("gpu", "GPU")))


def plus_block() -> str | None:
    """The `plus` preset: its test rows beside the paper's and RCIG's (results/plus_test.md) where reported, and
    the selection on the validation split that chose it (results/selection/plus.md)."""
    selection = RESULTS / "selection" / "plus.md"
    if not selection.exists():
        return None
    parts = ["### Beyond the paper: the `plus` preset (options from RCIG, Loo et al. 2023)"]
    if (RESULTS / "plus_test.md").exists():
        parts.append(body(RESULTS / "plus_test.md"))
    parts += ["**The selection, on the validation split** ([docs/plus.md](docs/plus.md))", body(selection)]
    return "\n\n".join(parts)


def cost(entry: dict) -> str:
    """A notebook's runtime and peak memory from its runtimes.json entry, e.g. '7.3 min, 2592 MB'."""
    peak = f"{entry['peak_memory_mb']} MB" if "peak_memory_mb" in entry else "peak not recorded"
    return f"{entry['minutes']:.1f} min, {peak}"


def fill(path: pathlib.Path, blocks: dict) -> None:
    """Replace each <!-- KEY --> ... <!-- /KEY --> block of the file at path by blocks[KEY]."""
    text = path.read_text()
    for key, body in blocks.items():
        marker = re.compile(rf"<!-- {key} -->.*?<!-- /{key} -->", re.S)
        if not marker.search(text):
            raise SystemExit(f"{path} has no <!-- {key} --> ... <!-- /{key} --> block")
        text = marker.sub(lambda m: f"<!-- {key} -->\n{body}\n<!-- /{key} -->", text)
    path.write_text(text)


def main() -> None:
    runtimes = json.loads(pathlib.Path("notebooks/runtimes.json").read_text())
    rows = "\n".join(f"| [`{k}`](notebooks/{k}.ipynb) | {v} | {cost(runtimes[k + '.ipynb'])} |"
                     for k, v in NOTEBOOKS.items() if k + ".ipynb" in runtimes)  # a notebook not run yet: left out
    paper = measured("table1_paper.md").split("\n\nReproduce")[0]
    table1 = measured("table1_cpu.md")
    fill(pathlib.Path("README.md"), {
        "NOTEBOOKS": "| notebook | what it teaches | runtime and peak memory (defaults, 2-core CPU) |\n|---|---|---|\n" + rows,
        "HEADLINE": "\n".join(line for line in table1.splitlines() if line.startswith("|")),
    })
    blocks = {
        "TABLE1": "### Table 1: the `cpu` preset, distilled in at most 15 minutes on a 2-core CPU\n\n"
                  + table1
                  + "\n\n### The `paper` preset, distilled on a GPU (protocol version 1)\n\n"
                  "The paper's own configuration (`preset(\"paper\")`: width 128, real batch 1024, LAMB 3e-4), "
                  "30000 steps on one NVIDIA H100, evaluated by the protocol there. Measured with protocol "
                  "version 1 of `frepo_lite` (`frepo_lite/protocol.py`: cutout one pixel short at 32 px, pool "
                  "models reset after K steps); not rerun since, which needs a GPU: "
                  "`FREPO_DATA_DIR=../shared/datasets python benchmarks/paper_table1.py --preset paper --rows "
                  "mnist:10:30000 fashion_mnist:10:30000 --checkpoint-every 5000` (and `mnist:1:30000 "
                  "fashion_mnist:1:30000`).\n\n" + paper,
        "LABELS": "### Learned against fixed labels (paper Table 7)\n\n"
                  "Each pair of sets is the `cpu` preset distilled with and without label learning, otherwise "
                  "identical; the paper's numbers are its own MNIST and Fashion-MNIST rows of Table 7 (its GPU "
                  "protocol), compared like with like; its CIFAR-10 row (learned 45.5 and 65.5, fixed 46.8 and "
                  "65.4 at 1 and 10 img/cls) has no counterpart here: no CIFAR is available offline. Each cell is one "
                  "distillation (one seed): the ± is the spread of the evaluation networks, not of the "
                  "distillation. Reproduce: `FREPO_DATA_DIR=../shared/datasets python benchmarks/paper_labels.py`.\n\n"
                  + "\n\n".join(f"**{name}**\n\n" + measured(f"labels_{key}.md").split("\n\nReproduce")[0]
                                .split("\n\n", 1)[1] for key, name in DATASETS),
        "SPEED": "### Speed of one FRePo step\n\nOn a 2-core CPU:\n\n" + measured("step_speed.md")
                 + "\n\nA speed-up below 1 means the single compiled step was the slower. What the columns say, "
                 "and how to measure on a GPU (no GPU table is committed), is in "
                 "[`benchmarks/README.md`](benchmarks/README.md).",
    }
    optional = {"TRANSFER": transfer_block(), "CONTINUAL": results_block("continual", "Continual learning (paper Sec. 5.1)"),
                "MEMBERSHIP": results_block("membership", "Membership inference (paper Sec. 5.2, Tables 4 and 6)"),
                "COST": backend_block("cost", "Time and memory of a step against width and set size (paper Fig. 3c-d, "
                                      "14; Tables 8-11)"),
                "KRR_SUPPORT": results_block("krr_support", "A random KRR support per step against the full "
                                             "support (App. C.5's suggestion; validation split)"),
                "DEVICES": backend_block("devices", "Several devices"),
                "PLUS": plus_block()}
    blocks.update({k: v for k, v in optional.items() if v is not None})
    fill(pathlib.Path("RESULTS.md"), blocks)


if __name__ == "__main__":
    main()
