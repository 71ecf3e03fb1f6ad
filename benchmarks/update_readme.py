"""Copy the measured tables of benchmarks/results and the notebooks' measured runtimes
(notebooks/runtimes.json, written by notebooks/run_notebooks.py) into README.md, between its
<!-- TABLE1 -->, <!-- SPEED --> and <!-- NOTEBOOKS --> markers.
Run from the repository root after a benchmark or a notebook run: python benchmarks/update_readme.py"""
import json, re, pathlib
NOTEBOOKS = {
 "00_quickstart": "distill MNIST to 10 images, look at the images and learned labels, compare with 10 random real images, export",
 "01_krr_and_conjugate_kernels": "ridge regression primal vs dual (timed), conjugate kernels of random vs trained networks, KRR on MNIST as the support grows, the regulariser and conditioning, last-layer training converging to KRR",
 "02_meta_gradients_through_krr": "back-propagating the KRR loss into images; overfitting one fixed network; FRePo's pool; unrolled BPTT (full, truncated): time, memory and result measured",
 "03_frepo": "the full algorithm: pool, online updates, resets; evaluation by fresh networks and KRR vs a random subset; ablation of order, labels, m and K; export; snapshot viewer",
}
readme = pathlib.Path("README.md"); s = readme.read_text()
table = pathlib.Path("benchmarks/results/table1_cpu.md").read_text().split("\n", 2)[2].strip()
table = table.split("\n\nReproduce:")[0]
speed = pathlib.Path("benchmarks/results/step_speed.md").read_text().split("\n", 2)[2].strip()
speed = speed.split("\n\nReproduce:")[0]
runtimes = json.loads(pathlib.Path("notebooks/runtimes.json").read_text())
rows = "\n".join(f"| [`{k}`](notebooks/{k}.ipynb) | {v} | {runtimes[k + '.ipynb']['minutes']:.1f} min |"
                 for k, v in NOTEBOOKS.items())
blocks = {
 "NOTEBOOKS": "| notebook | what it teaches | runtime (defaults, 2-core CPU) |\n|---|---|---|\n" + rows,
 "TABLE1": "### Table 1 with the `cpu` preset\n\n" + table,
 "SPEED": "### Speed of one FRePo step\n\n" + speed + "\n\n`FREPO_DATA_DIR=../shared/datasets python benchmarks/step_speed.py --configs paper --warmup 1 --steps 3` (about 5 minutes) and `... --configs cpu-ipc1 cpu-ipc10 --warmup 1 --steps 5` reproduce it. On this CPU the gain over the straightforward step comes from frepo_lite's convolution, whose kernel gradient is one matrix product (XLA:CPU's own is 4-5x slower than the convolution); fusing the three calls into one program gains nothing here (the \"of which fusion\" column), because convolution arithmetic is the whole cost; the single program's advantage is for a GPU, not measured (details in [`benchmarks/README.md`](benchmarks/README.md)).",
}
for key, text in blocks.items():
    marker = re.compile(rf"<!-- {key} -->.*?<!-- /{key} -->", re.S)
    body = f"<!-- {key} -->\n{text}\n<!-- /{key} -->"
    s = marker.sub(lambda m: body, s) if marker.search(s) else s.replace(f"{key}_RESULT", body)
readme.write_text(s)
