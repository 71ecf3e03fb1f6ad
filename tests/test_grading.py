"""frepo_lite.grading: while a student's function runs, the package functions that answer its exercise raise,
however they are reached, and everything is restored afterwards."""
import numpy as np
import pytest

from frepo_lite import data, grading, labels
from frepo_lite.labels import label_margin


def test_the_package_answer_raises_through_its_module_a_name_in_the_notebook_and_a_method():
    env = {"label_margin": label_margin}
    pre = data.Preprocessing(mean=np.zeros(1, np.float32), std=np.ones(1, np.float32))
    through_module = lambda y: labels.label_margin(y)  # noqa: E731
    through_env = lambda y: env["label_margin"](y)  # noqa: E731
    for student in (through_module, through_env):
        with pytest.raises(grading.PackageAnswerUsed, match="frepo_lite.labels.label_margin"):
            grading.without(student, env, labels.label_margin)(np.eye(3))
    with pytest.raises(grading.PackageAnswerUsed, match="Preprocessing.inverse"):
        grading.without(lambda x: pre.inverse(x), None, data.Preprocessing.inverse)(np.zeros((1, 2, 2, 1)))


def test_everything_is_restored_and_a_students_own_code_runs():
    env = {"label_margin": label_margin}
    own = lambda y: np.sort(y, -1)[:, -1] - np.sort(y, -1)[:, -2]  # noqa: E731
    y = np.array([[0.1, 0.7, 0.2]])
    np.testing.assert_allclose(grading.without(own, env, labels.label_margin)(y), [0.5])
    with pytest.raises(grading.PackageAnswerUsed):
        grading.without(lambda v: labels.label_margin(v), env, labels.label_margin)(y)
    assert labels.label_margin is label_margin and env["label_margin"] is label_margin
    assert "inverse" in vars(data.Preprocessing) and callable(data.Preprocessing.inverse)
    np.testing.assert_allclose(labels.label_margin(y), [0.5])
