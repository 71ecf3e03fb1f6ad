"""The notebooks' prose agrees with the pages it stands on, checked on the committed notebooks without running them.

Every number in a markdown cell must be on the page (printed in one of that notebook's outputs, or set in one of
its code cells), or be one of the paper's numbers held in `frepo_lite.protocol` (cited with its table), or stand
on the short allow-list below with its reason. A printed number counts when it rounds to the prose's number at
the prose's precision (0.9253 as 92.5 %, too). A runtime in prose is the notebook's own, from
`notebooks/runtimes.json`. Numbers that only name things are not checked: inline code and math, links, small
counts (0-10), and references such as "Table 7", "Sec. 5.2", "notebook 05" or "Exercise 3". Prose is at most
MAX_WORDS words per notebook.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from frepo_lite import protocol

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
RUNTIMES = json.loads((ROOT / "notebooks" / "runtimes.json").read_text())
MAX_WORDS = 1500

# Numbers a notebook's prose may state without printing them: {notebook stem: {number as written: reason}}.
ALLOWED: dict[str, dict[str, str]] = {}

_RUNTIME = re.compile(r"<!-- runtime -->(.*?)<!-- /runtime -->", re.S)
_REMOVE = [
    re.compile(r"```.*?```", re.S),                       # fenced code
    re.compile(r"`[^`]*`"),                               # inline code
    re.compile(r"\$\$.*?\$\$", re.S), re.compile(r"\$[^$]*\$"),  # math
    re.compile(r"<!--.*?-->", re.S),                      # comments
    re.compile(r"\]\([^)]*\)"), re.compile(r"https?://\S+"),  # link targets and addresses
    re.compile(r"arXiv:\s*\d+\.\d+", re.I),                # arXiv identifiers
    re.compile(r"\b(?:Tables?|Figs?\.?|Figures?|Sec\.|Secs\.|Sections?|App\.|Appendix|Algorithm|Eqs?\.|"
               r"Equations?|Exercises?|[Nn]otebooks?|[Cc]ells?|[Ss]teps? of Algorithm|Part|Question|Q)"
               r"\s*\(?[A-Z]?\d+(?:\.\d+)*[a-z]?(?:\s*(?:,|and|-|–|to|or)\s*[A-Z]?(?:\d(?:\.\d+)+|\d{1,2})[a-z]?"
               r"(?![\d.]))*\)?"),
    re.compile(r"\b[A-Za-z]+[-_]?\d+[\w.-]*"),            # names with digits: CIFAR-10, ResNet-18, float32, v2
    re.compile(r"\b\d+(?:\.\d+)?e[-+]?\d+\b"),            # scientific notation (settings)
    re.compile(r"\b(?:19|20)\d\d\b"),                     # years
    re.compile(r"^#+\s*\d+(?:\.\d+)*\.?", re.M),          # section numbers in headings
    re.compile(r"\b\d{1,2}x\d{1,2}\b"),                   # grid and kernel shapes: 3x3, 10x10
]
_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:(?:,| |\u2009|\u202f)\d{3})+(?:\.\d+)?(?![\w])|(?<![\w.])\d+(?:\.\d+)?")


def _numbers(text: str) -> list[str]:
    return [m.group(0) for m in _NUMBER.finditer(text)]


def _value(token: str) -> float:
    return float(re.sub(r"[, \u2009\u202f]", "", token))


def _decimals(token: str) -> int:
    return len(token.split(".")[1]) if "." in token else 0


def prose_numbers(markdown: str) -> list[str]:
    """The numbers of a markdown cell that the test checks, as written."""
    text = _RUNTIME.sub(" ", markdown)
    for pattern in _REMOVE:
        text = pattern.sub(" ", text)
    return [t for t in _numbers(text) if _value(t) > 10 or "." in t]


def page_values(nb: dict) -> list[float]:
    """Every number printed by the notebook's code cells or written in their source."""
    texts = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        texts.append("".join(cell["source"]))
        for out in cell.get("outputs", []):
            if out.get("name") != "stderr":  # progress bars and warnings are not what a page shows
                texts.append("".join(out.get("text", "")))
            data = out.get("data", {})
            for kind in ("text/plain", "text/markdown", "text/html"):
                texts.append("".join(data.get(kind, "")))
    return [_value(t) for text in texts for t in _numbers(text)]


def _paper_values(obj) -> list[float]:
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        return [float(obj)]
    if isinstance(obj, dict):
        return [v for k, x in obj.items() for v in _paper_values(k) + _paper_values(x)]
    if isinstance(obj, (list, tuple)):
        return [v for x in obj for v in _paper_values(x)]
    return []


PAPER_VALUES = [v for name in dir(protocol) if name.startswith(("PAPER_", "PUBLISHED_"))
                for v in _paper_values(getattr(protocol, name))]


def shown(token: str, values: list[float]) -> bool:
    """Whether some value rounds to the prose's number at the prose's precision (as is, or as a percentage)."""
    target, half = _value(token), 0.5 * 10.0 ** -_decimals(token) + 1e-9
    return any(abs(abs(v) * scale - target) <= half for v in values for scale in (1.0, 100.0))


def unshown_numbers(nb: dict, stem: str) -> list[tuple[int, str]]:
    """(cell index, number) for every checked prose number that is neither on the page, the paper's, nor
    allowed."""
    values = page_values(nb) + PAPER_VALUES
    allowed = ALLOWED.get(stem, {})
    return [(i, t) for i, cell in enumerate(nb["cells"]) if cell["cell_type"] == "markdown"
            for t in prose_numbers("".join(cell["source"])) if t not in allowed and not shown(t, values)]


def prose_words(nb: dict) -> int:
    """Words of the markdown a student reads: not code, links, or the model answers of written questions (the
    markdown between a `# BEGIN SOLUTION` and an `# END SOLUTION` raw cell, which the student version drops)."""
    words, in_solution = 0, False
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "raw" and re.search(r"#\s*(BEGIN|END)\s+SOLUTION", source):
            in_solution = "BEGIN" in source
        elif cell["cell_type"] == "markdown" and not in_solution:
            text = re.sub(r"```.*?```|\[!\[.*?\]\(.*?\)\]\(.*?\)|<!--.*?-->", " ", source, flags=re.S)
            words += len(text.split())
    return words


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_number_in_the_prose_is_on_the_page(path):
    nb = json.loads(path.read_text())
    assert not unshown_numbers(nb, path.stem), (
        "numbers in the prose that no output prints, no code cell sets and frepo_lite.protocol does not hold "
        "(cell index, number): print them, cite the paper through frepo_lite.protocol, or allow them here with "
        "a reason")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_runtime_in_the_prose_is_the_measured_one(path):
    nb = json.loads(path.read_text())
    runtime = RUNTIMES[path.name]
    lines = [m.group(1) for c in nb["cells"] if c["cell_type"] == "markdown"
             for m in _RUNTIME.finditer("".join(c["source"]))]
    assert lines, "the notebook's introduction should state its runtime (notebooks/run_notebooks.py --front-matter)"
    for line in lines:
        assert f"{runtime['minutes']} min" in line and f"{runtime['peak_memory_mb']} MB" in line, line
    other = [(i, m.group(0)) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown"
             for m in re.finditer(r"\b\d+(?:\.\d+)? ?min(?:utes?)?\b", _RUNTIME.sub(" ", "".join(c["source"])))]
    values = page_values(nb)
    assert not [(i, t) for i, t in other if not shown(_numbers(t)[0], values)], other


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_prose_is_short(path):
    assert prose_words(json.loads(path.read_text())) <= MAX_WORDS


def figures_without_a_lesson(nb: dict) -> list[int]:
    """Indices of code cells outside the exercises that draw a figure and are not followed, before the next
    figure or section heading, by a markdown cell with a "What to notice" (figure cells with no markdown between
    them share one)."""
    missing, pending, prose_since, in_question = [], None, False, False
    for i, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"])
        if cell["cell_type"] == "raw" and re.search(r"#\s*(BEGIN|END)\s+QUESTION", source):
            in_question = "BEGIN" in source
            continue
        if cell["cell_type"] == "markdown":
            prose_since = True
            if "What to notice" in source:
                pending = None
            elif source.lstrip().startswith("#") and pending is not None:
                missing.append(pending)
                pending = None
        elif cell["cell_type"] == "code" and not in_question and any(
                "image/png" in o.get("data", {}) for o in cell.get("outputs", [])):
            if pending is not None and prose_since:
                missing.append(pending)
            if pending is None or prose_since:
                pending = i
            prose_since = False
    return missing + ([pending] if pending is not None else [])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_is_followed_by_what_to_notice(path):
    assert not figures_without_a_lesson(json.loads(path.read_text())), (
        "code cells (by index) whose figure no 'What to notice' follows before the next figure or heading")


def _notebook(*cells) -> dict:
    """A notebook from ("md", text), ("code", source, printed text) and ("figure",) cells."""
    made = []
    for kind, *rest in cells:
        if kind == "md":
            made.append({"cell_type": "markdown", "source": rest[0]})
        elif kind == "figure":
            made.append({"cell_type": "code", "source": "plot()", "outputs": [{"output_type": "display_data",
                                                                                 "data": {"image/png": "x"}}]})
        else:
            made.append({"cell_type": "code", "source": rest[0],
                         "outputs": [{"output_type": "stream", "name": "stdout", "text": rest[1]}]})
    return {"cells": made}


def test_the_checker_finds_a_number_the_page_does_not_print():
    nb = _notebook(("code", "acc = run()", "accuracy 0.9253\n"),
                   ("md", "The set scores 92.5 % (Table 7 has 92.5; the paper's Sec. 5.2), 93.1 on a rerun."))
    assert unshown_numbers(nb, "x") == [(1, "93.1")]
    assert (1, "92.5") not in unshown_numbers(nb, "x")  # printed (0.9253) and the paper's (PAPER_TABLE7)
    nb = _notebook(("code", "acc = run()", "accuracy 0.9153\n"), ("md", "The set scores 91.5 %."))
    assert unshown_numbers(nb, "x") == []
    nb["cells"][0]["outputs"][0]["name"] = "stderr"  # printed only on stderr (a progress bar) does not count
    assert unshown_numbers(nb, "x") == [(1, "91.5")]
    assert prose_numbers("`STEPS = 2000` on CIFAR-10 at $n = 400$, see notebook 05 and Tables 8-11") == []
    assert prose_numbers("took 12.3 s for 1 000 steps, ratio 27") == ["12.3", "1 000", "27"]
    assert shown("12.3", [12.26]) and not shown("12.3", [12.4]) and shown("1 000", [1000.0])


def test_the_checker_finds_a_figure_with_no_lesson_and_counts_only_what_students_read():
    nb = _notebook(("figure",), ("md", "**What to notice.** It falls."), ("figure",), ("md", "## 2. Next"),
                   ("figure",))
    assert figures_without_a_lesson(nb) == [2, 4]
    nb = _notebook(("figure",), ("figure",), ("md", "**What to notice.** Both fall."), ("figure",), ("md", "text"),
                   ("figure",), ("md", "**What to notice.** It rises."))
    assert figures_without_a_lesson(nb) == [3]
    nb = _notebook(("md", "one two three"), ("md", "[![b](u)](v) four"))
    nb["cells"] += [{"cell_type": "raw", "source": "# BEGIN SOLUTION"}, {"cell_type": "markdown", "source": "x y"},
                    {"cell_type": "raw", "source": "# END SOLUTION"}, {"cell_type": "markdown", "source": "five"}]
    assert prose_words(nb) == 5
