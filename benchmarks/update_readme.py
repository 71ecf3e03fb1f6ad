"""Copy the measured tables of benchmarks/results into README.md (between its <!-- TABLE1 --> and
<!-- SPEED --> markers). Run from the repository root after a benchmark: python benchmarks/update_readme.py"""
import re, pathlib
readme = pathlib.Path("README.md"); s = readme.read_text()
table = pathlib.Path("benchmarks/results/table1_cpu.md").read_text().split("\n", 2)[2].strip()
table = table.split("\n\nReproduce:")[0]
speed = pathlib.Path("benchmarks/results/step_speed.md").read_text().split("\n", 2)[2].strip()
speed = speed.split("\n\nReproduce:")[0]
blocks = {
 "TABLE1": "### Table 1 with the `cpu` preset\n\n" + table,
 "SPEED": "### Speed of one FRePo step\n\n" + speed + "\n\n`python benchmarks/step_speed.py --warmup 1 --steps 3` reproduces it. On this CPU the single compiled step is no faster than three separate calls: both are bound by the same convolution arithmetic (details in [`benchmarks/README.md`](benchmarks/README.md)).",
}
for key, text in blocks.items():
    marker = re.compile(rf"<!-- {key} -->.*?<!-- /{key} -->", re.S)
    body = f"<!-- {key} -->\n{text}\n<!-- /{key} -->"
    s = marker.sub(lambda m: body, s) if marker.search(s) else s.replace(f"{key}_RESULT", body)
readme.write_text(s)
