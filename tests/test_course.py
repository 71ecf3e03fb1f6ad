"""The course (notebooks/course.py, otter-grader): every master notebook goes through `otter assign`, and its
autograder grades as an instructor expects: the worked solutions get full marks, an untouched student copy
gets zero on every code question, and one wrong answer to a question loses exactly that question's points.

The course is built once for this module. Two submissions go through `otter run` end to end (course.py grade,
a kernel and the autograder zip); the others are graded in this process by the same autograder's test files
(otter's ExceptionTestFile), which is what `otter run` does after executing a submission.
"""
import importlib.util
import re
import zipfile
from pathlib import Path

import nbformat
import pytest

HERE = Path(__file__).resolve().parents[1] / "notebooks"
_spec = importlib.util.spec_from_file_location("course", HERE / "course.py")
course = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(course)
MASTERS = course.notebooks([])

# One wrong answer per code question, as a student could write it: each must lose exactly its question's points.
WRONG = {
    "to_pixels": "def to_pixels(x, mean, std):\n    return x * std + mean\n",  # not clipped
    "label_classes": "def label_classes(labels):\n    return labels.argmin(-1)\n",
    "read_set": "def read_set(path):\n    f = np.load(path)\n    return f['images'], f['labels']\n",
    "my_dual_ridge": "def my_dual_ridge(x_s, y_s, x_t, lam):\n    return x_t @ x_s.T @ np.linalg.solve(x_s @ x_s.T, y_s)\n",
    "my_regularizer": "def my_regularizer(k_ss, lambda0):\n    return lambda0 * np.trace(k_ss)\n",
    "my_kernel": "def my_kernel(f1, f2):\n    return f1 @ f2.T / f1.shape[1]\n",
    "my_krr_loss": ("def my_krr_loss(f_s, y_s, f_t, y_t, lambda0):\n"
                    "    pred = f_t @ f_s.T @ jnp.linalg.solve(f_s @ f_s.T, y_s)\n"
                    "    return 0.5 * jnp.mean(jnp.sum((pred - y_t) ** 2, -1))\n"),
    "bptt_memory": ("from frepo_lite.bptt import unrolled_meta_gradient\n\n\ndef bptt_memory(model, T, inner_lr, args):\n"
                    "    return unrolled_meta_gradient(model, T, inner_lr).lower(*args).compile()"
                    ".memory_analysis().argument_size_in_bytes\n"),
    "my_meta_step": ("import jax\n\n\ndef my_meta_step(features, x_s, y_s, x_t, y_t, lambda0, lr, krr_loss):\n"
                     "    g = jax.grad(lambda x: krr_loss(features(x), y_s, features(x_t), y_t, lambda0))(x_s)\n"
                     "    return x_s - lr * g, y_s\n"),  # the labels never move
    "my_label_init": "def my_label_init(y, num_classes):\n    return np.eye(num_classes)[y]\n",
    "my_margin_loss": "def my_margin_loss(labels):\n    return -jnp.mean(jnp.max(labels, -1))\n",
    "my_pool_offsets": "def my_pool_offsets(m, k):\n    return np.arange(m)\n",
    "my_pool_step": ("def my_pool_step(models, ages, i, K, train, init):\n"
                     "    models, ages = list(models), np.array(ages, copy=True)\n"
                     "    models[i], ages[i] = train(models[i]), ages[i] + 1\n"
                     "    if ages[i] >= K:\n"
                     "        models[i], ages[i] = init(), 0\n"
                     "    return models, ages\n"),  # resets one step early
    "my_conv_params": "def my_conv_params(c_in, c_out, k):\n    return k * k * c_in * c_out\n",
    "my_instance_norm": ("def my_instance_norm(x, eps):\n"
                         "    return (x - x.mean((1, 2), keepdims=True)) / (x.std((1, 2), keepdims=True) + eps)\n"),
    "my_compare_cell": ("def my_compare_cell(accs_a, accs_b):\n"
                        "    d = 100 * (np.mean(accs_a) - np.mean(accs_b))\n"
                        "    noise = 200 * np.sqrt(np.var(accs_a, ddof=1) + np.var(accs_b, ddof=1))\n"
                        "    return d, noise, 'beyond' if abs(d) > noise else 'within'\n"),  # std, not standard error
    "my_label_margin": "def my_label_margin(labels):\n    return labels.max(-1) - labels.min(-1)\n",
    "my_class_similarity": ("def my_class_similarity(labels, classes, num_classes):\n"
                            "    return np.stack([labels[classes == i].sum(0) for i in range(num_classes)])\n"),
    "my_spearman": "def my_spearman(a, b):\n    return np.corrcoef(a, b)[0, 1]\n",
    # the package's own answer, which the hidden test makes unavailable: loses the hidden test's point only
    "my_label_groups": "def my_label_groups(labels):\n    return label_groups(labels)\n",
    "my_class_steps": "def my_class_steps(order, num_steps):\n    return [order[i::num_steps] for i in range(num_steps)]\n",
    "my_seen_accuracy": "def my_seen_accuracy(logits, y, seen):\n    return np.mean(logits.argmax(1) == y)\n",
    "my_herding": ("def my_herding(x, k):\n"
                   "    return np.argsort(np.linalg.norm(x - x.mean(0), axis=1))[:k]\n"),  # nearest to the mean
    "my_threshold_auc": ("def my_threshold_auc(member_loss, nonmember_loss):\n"
                         "    return np.mean(member_loss[:, None] < nonmember_loss[None, :])\n"),  # ties not counted
    "my_tpr_at_fpr": ("def my_tpr_at_fpr(scores, is_member, fpr):\n"
                      "    from frepo_lite.privacy import tpr_at_fpr\n    return tpr_at_fpr(scores, is_member, fpr)\n"),
    "my_attack_scores": ("from sklearn.linear_model import LogisticRegression\n"
                         "from sklearn.pipeline import make_pipeline\n"
                         "from sklearn.preprocessing import StandardScaler\n\n\ndef my_attack_scores(features, is_member, folds, seed):\n"
                         "    attack = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))\n"
                         "    return attack.fit(features, is_member).predict_proba(features)[:, 1]\n"),  # in sample
    "my_growth_exponent": ("def my_growth_exponent(sizes, seconds):\n"
                           "    return np.polyfit(sizes, seconds, 1)[0]\n"),
    "my_time_to_accuracy": ("def my_time_to_accuracy(seconds, accuracy, target):\n"
                            "    return float(seconds[int(np.argmax(accuracy))])\n"),
    "my_cost_fit": ("def my_cost_fit(sizes, seconds, powers):\n"
                    "    design = np.asarray(sizes, float)[:, None] ** np.asarray(powers)[None, :]\n"
                    "    return np.linalg.lstsq(design, np.log(seconds), rcond=None)[0]\n"),
    "my_debiased_average": "def my_debiased_average(iterates, decay):\n    return np.mean(iterates, 0)\n",
    "my_tempered_cross_entropy": ("def my_tempered_cross_entropy(pred, classes, log_temperature):\n"
                                  "    z = pred * np.exp(log_temperature)\n"
                                  "    z = z - z.max(-1, keepdims=True)\n"
                                  "    log_p = z - np.log(np.exp(z).sum(-1, keepdims=True))\n"
                                  "    return -np.sum(log_p[np.arange(len(z)), classes])\n"),  # summed, not averaged
}
# wrong answers that only the hidden tests catch (the package's own function, allowed by the public check)
HIDDEN_ONLY = {"my_label_groups", "my_tpr_at_fpr"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("course")
    course.build(MASTERS, out)
    return out


def test_every_notebook_is_a_master_with_points_and_a_larger_hidden_tested_exercise():
    for path in MASTERS:
        questions = course.questions(nbformat.read(path, as_version=4))
        auto = [q for q in questions if not q["manual"]]
        assert auto and all(q["points"] > 0 for q in questions), path.name
        assert all(any(t["hidden"] for t in q["tests"]) and any(not t["hidden"] for t in q["tests"]) for q in auto)
        if path.name[:2] >= "02":
            largest = max(auto, key=lambda q: q["points"])
            assert all(q["points"] < largest["points"] for q in questions if q is not largest), path.name
            assert "seed=1" in " ".join(t["source"] for t in largest["tests"] if t["hidden"]), largest["name"]
    names = [q["name"] for p in MASTERS for q in course.questions(nbformat.read(p, as_version=4)) if not q["manual"]]
    assert sorted(names) == sorted(WRONG), "every code question needs its planted wrong answer here"


def test_the_build_refuses_to_overwrite_an_earlier_course(built):
    with pytest.raises(SystemExit, match="already exist"):
        course.build(MASTERS[:1], built)


def test_student_copies_hold_no_solution_and_no_hidden_test(built):
    for path in MASTERS:
        master = nbformat.read(path, as_version=4)
        student = nbformat.read(built / "student" / path.stem / path.name, as_version=4)
        text = "\n".join(c.source for c in student.cells)
        for q in course.questions(master):
            for i in q["solutions"]:
                solved = master.cells[i].source
                if "# BEGIN SOLUTION" in solved:
                    body = solved.split("# BEGIN SOLUTION", 1)[1].split("# END SOLUTION", 1)[0]
                    assert body.strip() not in text, (path.name, q["name"])
                else:  # a model answer (markdown)
                    assert solved not in text, (path.name, q["name"])
        assert "hidden=True" not in str(student.metadata["otter"]["tests"]), path.name
        assert not [o for c in student.cells if c.cell_type == "code" for o in c.outputs], "outputs left in"
        assert 'grader = otter.Notebook' in student.cells[0].source
        assert "frepo-lite[course] @ git+" in text  # its Colab cell installs otter-grader too
        assert len(list((built / "autograder" / path.stem).glob("*-autograder_*.zip"))) == 1


def _test_files(autograder: Path, tmp: Path) -> list[Path]:
    with zipfile.ZipFile(next(autograder.glob("*-autograder_*.zip"))) as z:
        names = [n for n in z.namelist() if re.fullmatch(r"tests/\w+\.py", n)]
        z.extractall(tmp, names)
    return [tmp / n for n in names]


def _scores(script: str, test_files: list[Path]) -> dict[str, float]:
    """{question: points} of a script graded by the autograder's test files, in this process."""
    from otter.test_files.exception_test import ExceptionTestFile

    env: dict = {}
    exec(compile(script, "submission.py", "exec"), env)
    scores = {}
    for path in test_files:
        test = ExceptionTestFile.from_file(str(path))
        test.run(env)
        scores[path.stem] = test.score
    return scores


def _script_with(master: nbformat.NotebookNode, question: str, source: str) -> str:
    """The master's answer script with one question's answer replaced by `source`."""
    nb = nbformat.from_dict(master)
    q = next(q for q in course.questions(nb) if q["name"] == question)
    nb.cells[q["solutions"][0]].source = source
    return course.answer_script(nb)


@pytest.mark.parametrize("path", MASTERS, ids=lambda p: p.stem[:2])
def test_solutions_get_full_marks_and_each_wrong_answer_loses_its_question(built, path, tmp_path):
    master = nbformat.read(path, as_version=4)
    points = {q["name"]: q["points"] for q in course.questions(master) if not q["manual"]}
    tests = _test_files(built / "autograder" / path.stem, tmp_path)
    assert sorted(t.stem for t in tests) == sorted(points)
    assert _scores(course.answer_script(master), tests) == points
    student = nbformat.read(built / "student" / path.stem / path.name, as_version=4)
    assert _scores(course.answer_script(student), tests) == dict.fromkeys(points, 0)
    for name in points:
        got = _scores(_script_with(master, name, WRONG[name]), tests)
        hidden = sum(t["points"] for q in course.questions(master) if q["name"] == name for t in q["tests"]
                     if t["hidden"])
        lost = hidden if name in HIDDEN_ONLY else points[name]
        assert got == {**points, name: points[name] - lost}, (name, got)


def test_otter_run_grades_a_submission_end_to_end(built, tmp_path):
    """course.py grade: the answers of a notebook through `otter run` and the autograder zip."""
    path = next(p for p in MASTERS if p.name.startswith("05"))
    points = {q["name"]: q["points"] for q in course.questions(nbformat.read(path, as_version=4)) if not q["manual"]}
    solved = course.grade(built / "autograder" / path.stem, path, tmp_path / "master")
    assert {k: v for k, v in solved.items() if k in points} == {k: (v, v) for k, v in points.items()}
    blank = course.grade(built / "autograder" / path.stem, built / "student" / path.stem / path.name,
                         tmp_path / "student")
    assert {k: v[0] for k, v in blank.items() if k in points} == dict.fromkeys(points, 0.0)


def test_the_instructor_page_lists_the_points_of_the_notebooks():
    page = (HERE / "README.md").read_text()
    table = re.search(r"<!-- points -->\n(.*?)\n<!-- /points -->", page, re.S).group(1)
    assert table == course.points_table(MASTERS), "run `python notebooks/course.py points` and paste its table"


def test_grading_refuses_to_overwrite_an_earlier_grading(tmp_path, capsys):
    earlier = tmp_path / "graded" / MASTERS[0].stem
    earlier.mkdir(parents=True)
    (earlier / "results.json").write_text("{}")
    with pytest.raises(SystemExit):
        course.main(["grade", str(tmp_path / "autograder"), str(MASTERS[0]), "--out", str(tmp_path)])
    assert "earlier grading" in capsys.readouterr().err
    assert (earlier / "results.json").read_text() == "{}"
