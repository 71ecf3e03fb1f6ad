"""Write the student copies of the notebooks: worked solutions replaced by stubs, outputs cleared.

    python notebooks/student_version.py OUT_DIR                      # every notebooks/NN_*.ipynb
    python notebooks/student_version.py OUT_DIR notebooks/00_quickstart.ipynb
    python notebooks/student_version.py OUT_DIR --force              # overwrite earlier copies in OUT_DIR

The committed notebooks are the instructor's versions. In them an exercise is a code cell tagged
`solution` (imports and top-level functions, optionally starting with a `# Hint: <text>` line),
followed by an untagged code cell that runs its self-check; a conceptual question is answered in a
markdown cell tagged `solution`. In the student copy, written to OUT_DIR under the same file name:

- each `solution` code cell keeps its imports, hint comment, function signatures and docstrings; every
  function body becomes `raise NotImplementedError(<hint>)`, so the self-check below it fails until the
  student writes the function. The cell is tagged `exercise` instead of `solution`;
- each `solution` markdown cell becomes "**Your answer:** ", tagged `answer`;
- every cell's outputs and execution count are cleared.

Existing files in OUT_DIR are not overwritten unless --force is given; OUT_DIR may never be the
notebooks' own folder, since that would replace the instructor's copies.
"""
from __future__ import annotations

import argparse
import ast
import copy
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearOutputPreprocessor

HERE = Path(__file__).resolve().parent
HINT_PREFIX = "# Hint:"
DEFAULT_HINT = "write this function, then run the self-check below"
ANSWER = "**Your answer:** "


def hint_of(source: str) -> str | None:
    """The text of the `# Hint:` comment on the cell's first line, or None."""
    first = source.strip().split("\n", 1)[0]
    return first[len(HINT_PREFIX):].strip() if first.startswith(HINT_PREFIX) else None


def stub_function(fn: ast.FunctionDef, hint: str) -> ast.FunctionDef:
    """The function with its signature and docstring, its body replaced by raise NotImplementedError(hint)."""
    stub = copy.deepcopy(fn)
    docstring = stub.body[:1] if ast.get_docstring(stub, clean=False) is not None else []
    stub.body = docstring + [ast.parse(f"raise NotImplementedError({hint!r})").body[0]]
    return stub


def stub_source(source: str) -> str:
    """The student stub of a solution cell: its hint comment, imports and function stubs, nothing else."""
    hint = hint_of(source)
    message = hint or DEFAULT_HINT
    tree = ast.parse(source)
    imports = [ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    functions = [ast.unparse(stub_function(node, message))
                 for node in tree.body if isinstance(node, ast.FunctionDef)]
    header = "\n".join(([f"{HINT_PREFIX} {hint}"] if hint is not None else []) + imports)
    if not functions:
        return "\n".join(([header] if header else []) + [f"raise NotImplementedError({message!r})"]) + "\n"
    return "\n\n\n".join(([header] if header else []) + functions) + "\n"


def is_solution(cell) -> bool:
    return "solution" in cell.metadata.get("tags", [])


def retag(cell, tag: str) -> None:
    cell.metadata["tags"] = [tag if t == "solution" else t for t in cell.metadata["tags"]]


def student_notebook(nb):
    """A student copy of the instructor's notebook `nb` (which is left unchanged)."""
    student = copy.deepcopy(nb)
    for cell in student.cells:
        if is_solution(cell) and cell.cell_type == "code":
            cell.source = stub_source(cell.source)
            retag(cell, "exercise")
        elif is_solution(cell) and cell.cell_type == "markdown":
            cell.source = ANSWER
            retag(cell, "answer")
    student, _ = ClearOutputPreprocessor().preprocess(student, {})
    return student


def count_solutions(nb) -> tuple[int, int]:
    """(solution code cells, solution markdown cells) of an instructor notebook."""
    kinds = [cell.cell_type for cell in nb.cells if is_solution(cell)]
    return kinds.count("code"), kinds.count("markdown")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("out_dir", type=Path, help="folder for the student copies (created if missing)")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help=f"instructor notebooks (default: every {HERE}/[0-9][0-9]_*.ipynb)")
    parser.add_argument("--force", action="store_true", help="overwrite student copies already in OUT_DIR")
    args = parser.parse_args(argv)

    sources = args.notebooks or sorted(HERE.glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        parser.error(f"no notebooks given and none found in {HERE}")
    for path in sources:
        if not path.is_file():
            parser.error(f"{path} is not a file")
        if path.resolve().parent == args.out_dir.resolve():
            parser.error(f"{args.out_dir} is the folder of the instructor notebook {path.name}: student copies "
                         "would replace it, so this is refused even with --force; choose another folder")
    existing = [path.name for path in sources if (args.out_dir / path.name).exists()]
    if existing and not args.force:
        parser.error(f"{args.out_dir} already holds {', '.join(existing)}: choose another folder or delete "
                     "those files, or pass --force to overwrite them")

    args.out_dir.mkdir(parents=True, exist_ok=True)
    for path in sources:
        nb = nbformat.read(path, as_version=4)
        student = student_notebook(nb)
        nbformat.validate(student)
        out = args.out_dir / path.name
        nbformat.write(student, out)
        exercises, answers = count_solutions(nb)
        print(f"wrote {out}: {exercises} exercise(s) stubbed, {answers} answer(s) blanked")


if __name__ == "__main__":
    main()
