"""notebooks/student_version.py: the student copies keep the exercises' signatures and self-checks and
nothing of the worked solutions, so every self-check that passes on the instructor's solution fails on
the student's stub until the student writes the function."""
import ast
import copy
import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from frepo_lite import exercises

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
_spec = importlib.util.spec_from_file_location("student_version", NOTEBOOK_DIR / "student_version.py")
sv = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sv)

SOLUTION = '''# Hint: scale, then shift
import numpy as np
from math import pi


def affine(x, scale=2.0):
    """Return scale * x + 1."""
    y = np.multiply(x, scale)  # the scaling
    return y + 1


def double(x):
    return 2 * x
'''
DOUBLE = "def double(x):\n    return 2 * x\n"
DOUBLE_CHECK = "assert double(3) == 6\n"


def run(source, namespace):
    exec(compile(source, "<cell>", "exec"), namespace)


# stub_source -----------------------------------------------------------------------------------------

def test_stub_keeps_hint_imports_signatures_and_docstrings_only():
    stub = sv.stub_source(SOLUTION)
    tree = ast.parse(stub)
    assert stub.startswith("# Hint: scale, then shift\n")
    assert [ast.unparse(n) for n in tree.body[:2]] == ["import numpy as np", "from math import pi"]
    functions = tree.body[2:]
    assert [(f.name, ast.unparse(f.args)) for f in functions] == [("affine", "x, scale=2.0"), ("double", "x")]
    assert [ast.get_docstring(f) for f in functions] == ["Return scale * x + 1.", None]
    assert [type(f.body[-1]) for f in functions] == [ast.Raise, ast.Raise]
    for body_line in ("np.multiply", "return", "2 * x", "the scaling"):
        assert body_line not in stub
    namespace = {}
    run(stub, namespace)
    with pytest.raises(NotImplementedError, match="scale, then shift"):
        namespace["affine"](1.0)


def test_stub_without_hint_uses_the_default_message():
    stub = sv.stub_source(DOUBLE)
    assert "# Hint" not in stub
    namespace = {}
    run(stub, namespace)
    with pytest.raises(NotImplementedError, match=sv.DEFAULT_HINT):
        namespace["double"](3)


def test_stub_of_a_cell_without_function_is_the_hint_and_a_raise():
    assert sv.stub_source("# Hint: set answer to 42\nanswer = 42\n") == (
        "# Hint: set answer to 42\nraise NotImplementedError('set answer to 42')\n")


def test_self_check_passes_on_the_solution_and_fails_on_the_stub():
    run(DOUBLE + DOUBLE_CHECK, {})
    with pytest.raises(NotImplementedError):
        run(sv.stub_source(DOUBLE) + DOUBLE_CHECK, {})


# student_notebook ------------------------------------------------------------------------------------

def instructor_notebook():
    stream = new_output("stream", name="stdout", text="ok\n")
    return new_notebook(cells=[
        new_markdown_cell("# A toy lesson"),
        new_code_cell("x = 1\nprint(x)", execution_count=1, outputs=[stream], metadata={"tags": ["parameters"]}),
        new_markdown_cell("**Exercise.** Write `double`."),
        new_code_cell(DOUBLE, execution_count=2, outputs=[stream], metadata={"tags": ["solution"]}),
        new_code_cell(DOUBLE_CHECK, execution_count=3, outputs=[stream]),
        new_markdown_cell("**Question.** Why double?"),
        new_markdown_cell("**Model answer.** Because.", metadata={"tags": ["solution"]}),
    ])


def test_student_notebook_stubs_blanks_and_clears():
    nb = instructor_notebook()
    before = copy.deepcopy(nb)
    student = sv.student_notebook(nb)
    assert nb == before, "the instructor's notebook must not be modified"
    nbformat.validate(student)
    assert len(student.cells) == len(nb.cells)
    assert student.cells[3].source == sv.stub_source(DOUBLE)
    assert student.cells[3].metadata.tags == ["exercise"]
    assert student.cells[6].source == "**Your answer:** "
    assert student.cells[6].metadata.tags == ["answer"]
    for i in (0, 1, 2, 4, 5):
        assert (student.cells[i].source, student.cells[i].metadata) == (nb.cells[i].source, nb.cells[i].metadata)
    for cell in student.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


# main ------------------------------------------------------------------------------------------------

@pytest.fixture
def course(tmp_path):
    """An instructor notebook in its own folder."""
    path = tmp_path / "course" / "00_toy.ipynb"
    path.parent.mkdir()
    nbformat.write(instructor_notebook(), path)
    return path


def test_main_writes_the_student_copy_and_reports_it(course, tmp_path, capsys):
    out = tmp_path / "students"
    sv.main([str(out), str(course)])
    assert capsys.readouterr().out == (
        f"wrote {out / course.name}: 1 exercise(s) stubbed, 1 answer(s) blanked\n")
    written = nbformat.read(out / course.name, as_version=4)
    assert written == sv.student_notebook(nbformat.read(course, as_version=4))


def test_main_refuses_to_overwrite_without_force(course, tmp_path, capsys):
    out = tmp_path / "students"
    out.mkdir()
    (out / course.name).write_text("earlier copy")
    with pytest.raises(SystemExit):
        sv.main([str(out), str(course)])
    error = capsys.readouterr().err
    assert course.name in error and "choose another folder or delete" in error and "--force" in error
    assert (out / course.name).read_text() == "earlier copy"
    sv.main([str(out), str(course), "--force"])
    assert nbformat.read(out / course.name, as_version=4).cells[3].metadata.tags == ["exercise"]


def test_main_refuses_the_notebooks_folder_even_with_force(course, capsys):
    before = course.read_text()
    with pytest.raises(SystemExit):
        sv.main([str(course.parent), str(course), "--force"])
    assert "refused even with --force" in capsys.readouterr().err
    assert course.read_text() == before


# the real notebooks ----------------------------------------------------------------------------------

REAL_NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def solution_code_cells(path):
    nb = nbformat.read(path, as_version=4)
    return [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and sv.is_solution(cell)]


def body_lines(source):
    """The non-blank, non-comment lines of the top-level functions' bodies, docstrings left out."""
    lines = source.splitlines()
    found = []
    for fn in ast.parse(source).body:
        if isinstance(fn, ast.FunctionDef):
            body = fn.body[1:] if ast.get_docstring(fn) is not None else fn.body
            for node in body:
                found += [line.strip() for line in lines[node.lineno - 1:node.end_lineno]]
    return [line for line in found if line and not line.startswith("#")]


@pytest.fixture(scope="module")
def student_copies(tmp_path_factory):
    out = tmp_path_factory.mktemp("students")
    sv.main([str(out)])
    return out


@pytest.mark.parametrize("path", REAL_NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_with_self_checks_has_solution_cells(path):
    nb = nbformat.read(path, as_version=4)
    if any("exercises.check_" in cell.source for cell in nb.cells if cell.cell_type == "code"):
        assert solution_code_cells(path), f"{path.name} has self-checks but no code cell tagged 'solution'"


@pytest.mark.parametrize("path", REAL_NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_gives_the_student_a_hint(path):
    nb = nbformat.read(path, as_version=4)
    missing = [i for i in solution_code_cells(path) if not nb.cells[i].source.startswith("# Hint: ")]
    assert not missing, f"{path.name}: solution cells {missing} have no '# Hint: ...' first line for the stub"


@pytest.mark.parametrize("path,index", [pytest.param(path, i, id=f"{path.stem}-cell{i}")
                                        for path in REAL_NOTEBOOKS for i in solution_code_cells(path)])
def test_student_stub_fails_the_self_check_that_the_solution_passes(path, index, student_copies):
    where = f"{path.name} cell {index}"
    instructor = nbformat.read(path, as_version=4)
    student = nbformat.read(student_copies / path.name, as_version=4)
    assert len(student.cells) == len(instructor.cells), f"{path.name}: the student copy lost or gained cells"
    solution, stub = instructor.cells[index], student.cells[index]
    check = instructor.cells[index + 1] if index + 1 < len(instructor.cells) else None
    assert check is not None and check.cell_type == "code" and not check.metadata.get("tags"), (
        f"{where}: a solution cell must be followed by an untagged code cell that runs its self-check")
    assert student.cells[index + 1].source == check.source, f"{where}: the student copy changed the self-check"

    student_text = "\n".join(cell.source for cell in student.cells)
    leaked = [line for line in body_lines(solution.source) if line in student_text]
    assert not leaked, f"{where}: lines of the worked solution are left in the student copy: {leaked}"

    def execute(source, namespace, cell):
        exec(compile(source, f"{path.name} cell {cell}", "exec"), namespace)

    fresh = {"np": np, "jnp": jnp, "jax": jax, "exercises": exercises}
    instructor_namespace, student_namespace = dict(fresh), dict(fresh)
    execute(solution.source, instructor_namespace, index)
    execute(check.source, instructor_namespace, index + 1)
    execute(stub.source, student_namespace, index)
    with pytest.raises(NotImplementedError):
        execute(check.source, student_namespace, index + 1)
