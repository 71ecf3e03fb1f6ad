import numpy as np

from frepo_lite.labels import describe_label_leanings, top_off_class


def test_top_off_class_skips_the_own_class_and_sorts():
    labels = np.array([[0.9, -0.1, 0.2, 0.05], [0.1, -0.3, 0.0, 0.8]])
    assert top_off_class(labels, 2) == [[(2, 0.2), (3, 0.05)], [(0, 0.1), (2, 0.0)]]


def test_sentences_come_from_the_numbers():
    labels = np.array([[-0.1, 0.9, -0.3, 0.25]])
    (line,) = describe_label_leanings(labels, ["a", "b", "c", "d"], start=-0.1, k=2)
    assert line.startswith("image 0 (b, own score +0.90)") and "d +0.25, a -0.10" in line
