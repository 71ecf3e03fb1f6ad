"""Build the course from the master notebooks with otter-grader: student copies and autograders.

    python notebooks/course.py build                       # every notebook: dist/student/NN_name/, dist/autograder/NN_name/
    python notebooks/course.py build 03 05 --out course/   # some of them, elsewhere
    python notebooks/course.py points                      # each notebook's questions and their points
    python notebooks/course.py grade dist/autograder/05_learned_labels submission.ipynb   # one submission's answers

The committed notebooks are otter-grader master notebooks (otter's notebook format, v1): each exercise is a
question between `# BEGIN QUESTION` and `# END QUESTION` raw cells that give its name and points, with its
prompt, its worked solution (run, outputs kept; the lines between `# BEGIN SOLUTION` and `# END SOLUTION`
markers are what the student copy leaves out) and its tests: public ones, which a student runs with
`grader.check("name")`, and hidden ones, which only the autograder has. Written questions are graded by hand
(`manual: true`).

For each notebook this script writes a copy with the assignment's configuration cell (its name, and the package
the autograder installs: `frepo-lite[course]` from the repository in pyproject.toml), with a Colab cell that
installs the same, and runs `otter assign` on it (no PDFs, and without running the whole notebook: the
tests run in this repository's test suite). `otter assign` writes the student copy (solutions and hidden tests
removed, outputs cleared, public tests in the notebook's metadata) and the autograder (the solved notebook, every
test, and a zip for `otter run` or Gradescope). Existing course folders are not overwritten unless --force.

`grade` scores a submission's answers without running its whole notebook: it writes a script of the notebook's
imports and its answer cells and has `otter run` grade that script with the autograder's tests, public and hidden
(answers must stand in their own cells; to grade everything a notebook computes, `otter run` the notebook itself).
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run_notebooks import colab_cell, notebooks, repository_url  # noqa: E402

COURSE_EXTRA = "course"  # the package extra that brings otter-grader (pyproject.toml)
BOUNDARY = re.compile(r"#\s*(BEGIN|END)\s+(QUESTION|SOLUTION|TESTS|PROMPT)\b", re.I)
TEST_CONFIG = re.compile(r'"""\s*#\s*BEGIN TEST CONFIG(.*?)"""\s*#\s*END TEST CONFIG', re.S)


def package(url: str) -> str:
    """What the autograder and a student's Colab install: the package with its course extra, from the repository."""
    return f"frepo-lite[{COURSE_EXTRA}] @ git+{url}"


def assignment_config(name: str, url: str) -> str:
    """The source of the raw `# ASSIGNMENT CONFIG` cell that otter assign reads for notebook `name`."""
    config = {
        "name": name,
        "requirements": [package(url)],
        "run_tests": False,  # the repository's tests run the notebooks and grade the solutions
        "init_cell": True,
        "check_all_cell": False,
        "export_cell": {"pdf": False, "instructions": "Submit the zip file this cell writes."},
        "tests": {"files": False, "ok_format": False},  # exception-based tests, public ones in the metadata
        "generate": {"pdf": False},
    }
    return "# ASSIGNMENT CONFIG\n" + yaml.safe_dump(config, sort_keys=False)


def boundary(cell) -> tuple[str, str] | None:
    """('BEGIN'|'END', 'QUESTION'|'SOLUTION'|'TESTS'|'PROMPT') of an otter block boundary (a raw cell), or None."""
    if cell.cell_type != "raw":
        return None
    match = BOUNDARY.match(cell.source.strip())
    return (match.group(1).upper(), match.group(2).upper()) if match else None


def questions(nb: nbformat.NotebookNode) -> list[dict]:
    """The master notebook's questions in order: {'name', 'points', 'manual', 'tests': [{'points', 'hidden',
    'source'}], 'solutions': [cell index]}; a question's points are its own or the sum of its tests'."""
    out, current, block = [], None, None
    for i, cell in enumerate(nb.cells):
        edge = boundary(cell)
        if edge == ("BEGIN", "QUESTION"):
            config = yaml.safe_load(cell.source.split("\n", 1)[1])
            current = {"name": config["name"], "points": config.get("points"), "manual": bool(config.get("manual")),
                       "tests": [], "solutions": []}
        elif edge == ("END", "QUESTION"):
            if current["points"] is None:
                current["points"] = sum(t["points"] for t in current["tests"])
            out.append(current)
            current = None
        elif edge is not None:
            block = edge[1] if edge[0] == "BEGIN" else None
        elif current is not None and block == "TESTS":
            match = TEST_CONFIG.match(cell.source)
            config = yaml.safe_load(match.group(1)) if match else {}
            current["tests"].append({"points": config.get("points", 0), "hidden": bool(config.get("hidden")),
                                     "source": cell.source})
        elif current is not None and block == "SOLUTION":
            current["solutions"].append(i)
    return out


def points(qs: list[dict]) -> tuple[float, float]:
    """(autograded points, points graded by hand) of a notebook's questions (as questions() gives them)."""
    return (sum(q["points"] for q in qs if not q["manual"]), sum(q["points"] for q in qs if q["manual"]))


def course_master(nb: nbformat.NotebookNode, name: str, url: str) -> nbformat.NotebookNode:
    """A copy of the master notebook for otter assign: the assignment configuration after the first cell and a
    Colab cell that also installs otter-grader (the student copy's first code cell imports it)."""
    nb = nbformat.from_dict(nb)  # a deep copy
    nb.cells[1].source = colab_cell(url, package(url))
    nb.cells.insert(1, nbformat.v4.new_raw_cell(assignment_config(name, url)))
    return nb


def build(paths: list[Path], out: Path, force: bool = False) -> None:
    """otter assign each master notebook into out/student/<stem>/ and out/autograder/<stem>/."""
    from otter.assign import main as otter_assign

    url = repository_url()
    targets = [out / kind / path.stem for path in paths for kind in ("student", "autograder")]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not force:
        raise SystemExit(f"{', '.join(existing)} already exist: choose another --out, delete them, or pass --force "
                         "to replace them")
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        with tempfile.TemporaryDirectory() as tmp:
            master = Path(tmp) / path.name
            nbformat.write(course_master(nb, path.stem, url), master)
            otter_assign(str(master), str(Path(tmp) / "dist"), no_pdfs=True, no_run_tests=True)
            for kind in ("student", "autograder"):
                target = out / kind / path.stem
                if target.exists():
                    shutil.rmtree(target)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(Path(tmp) / "dist" / kind), target)
        qs = questions(nb)
        auto, manual = points(qs)
        print(f"{path.stem}: {len(qs)} questions, {auto:g} points autograded + {manual:g} graded by hand -> "
              f"{out / 'student' / path.stem}, {out / 'autograder' / path.stem}")


def answer_cells(nb: nbformat.NotebookNode) -> list[str]:
    """The sources of the code answers of a master notebook (its autograded questions' solution cells) or of an
    otter student copy or submission (the cells otter tagged `otter_answer_cell`)."""
    if any(boundary(cell) for cell in nb.cells):
        return [nb.cells[i].source for q in questions(nb) if not q["manual"] for i in q["solutions"]
                if nb.cells[i].cell_type == "code"]
    return [cell.source for cell in nb.cells
            if cell.cell_type == "code" and "otter_answer_cell" in cell.metadata.get("tags", [])]


def answer_script(nb: nbformat.NotebookNode) -> str:
    """A Python script of the notebook's top-level imports (from every code cell) followed by its code answers."""
    imports = []
    for cell in nb.cells:
        if cell.cell_type != "code" or cell.source.lstrip().startswith(("%", "!")):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # a student's cell that does not parse: its answer scores nothing
            continue
        imports += [ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
                    and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")
                    and not any(alias.name == "otter" for alias in node.names)]
    return "\n".join(dict.fromkeys(imports)) + "\n\n\n" + "\n\n\n".join(answer_cells(nb)) + "\n"


def grade(autograder: Path, submission: Path, out: Path) -> dict[str, tuple[float, float]]:
    """{question: (score, max score)} of the submission's code answers, graded by `otter run` with the autograder's
    zip (in the folder `autograder`, as course.py build writes it); otter's results.json goes to out."""
    zips = sorted(autograder.glob("*-autograder_*.zip"))
    if not zips:
        raise SystemExit(f"no autograder zip in {autograder}: build the course first "
                         "(python notebooks/course.py build)")
    out.mkdir(parents=True, exist_ok=True)
    script = out / (submission.stem + ".py")
    script.write_text(answer_script(nbformat.read(submission, as_version=4)))
    done = subprocess.run([sys.executable, "-m", "otter", "run", "-a", str(zips[-1]), "-o", str(out), str(script)],
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"otter run failed on {script}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    tests = json.loads((out / "results.json").read_text())["tests"]
    return {t["name"]: (float(t["score"]), float(t["max_score"])) for t in tests if "max_score" in t}


def points_table(paths: list[Path]) -> str:
    """A markdown table of each notebook's questions and points (the instructor page's)."""
    lines = ["| notebook | questions (points; * graded by hand) | autograded | by hand |", "|---|---|---|---|"]
    for path in paths:
        qs = questions(nbformat.read(path, as_version=4))
        listed = ", ".join(f"`{q['name']}` {q['points']:g}{'*' if q['manual'] else ''}" for q in qs)
        auto, manual = points(qs)
        lines.append(f"| {path.stem[:2]} | {listed} | {auto:g} | {manual:g} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("command", choices=("build", "points", "grade"))
    parser.add_argument("notebooks", nargs="*", help="build, points: two-digit prefixes (default: all), e.g. 03 05; "
                        "grade: the autograder folder, then the submitted notebook")
    parser.add_argument("--out", type=Path, default=Path("dist"), help="the course folder (default: dist)")
    parser.add_argument("--force", action="store_true", help="replace earlier copies of these notebooks (build) or "
                        "an earlier grading (grade) in --out")
    args = parser.parse_args(argv)
    if args.command == "grade":
        if len(args.notebooks) != 2:
            parser.error("grade takes the autograder folder and the submitted notebook")
        autograder, submission = map(Path, args.notebooks)
        out = args.out / "graded" / submission.stem
        if out.exists() and not args.force:
            parser.error(f"{out} holds an earlier grading: choose another --out (one per student) or pass --force")
        scores = grade(autograder, submission, out)
        for name, (score, most) in scores.items():
            print(f"{name}: {score:g} / {most:g}")
        print(f"total: {sum(s for s, _ in scores.values()):g} / {sum(m for _, m in scores.values()):g} "
              "(questions graded by hand not included)")
        return
    paths = notebooks(args.notebooks)
    if args.command == "points":
        print(points_table(paths))
    else:
        build(paths, args.out, args.force)


if __name__ == "__main__":
    main()
