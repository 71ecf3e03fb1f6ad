import numpy as np
import pytest

from frepo_lite.labels import (GROUPS, class_similarity, confusion_matrix, describe_label_leanings, label_confidence,
                               label_groups, label_margin, most_mixed_pairs, off_diagonal, rank_correlation,
                               top_off_class)


def test_top_off_class_skips_the_own_class_and_sorts():
    labels = np.array([[0.9, -0.1, 0.2, 0.05], [0.1, -0.3, 0.0, 0.8]])
    assert top_off_class(labels, 2) == [[(2, 0.2), (3, 0.05)], [(0, 0.1), (2, 0.0)]]


def test_sentences_come_from_the_numbers():
    labels = np.array([[-0.1, 0.9, -0.3, 0.25]])
    (line,) = describe_label_leanings(labels, ["a", "b", "c", "d"], start=-0.1, k=2)
    assert line.startswith("image 0 (b, own score +0.90)") and "d +0.25, a -0.10" in line
    (line,) = describe_label_leanings(np.array([[0.9, -0.001, -0.3]]), ["a", "b", "c"], start=-0.1, k=1)
    assert "b +0.00" in line  # a score that rounds to zero prints without a minus sign


def test_every_picks_the_first_image_of_each_class_with_its_real_index():
    labels = np.eye(4)[[0, 0, 1, 1]] - 0.25
    lines = describe_label_leanings(labels, ["a", "b", "c", "d"], start=-0.25, every=2)
    assert [line.split(" (")[0] for line in lines] == ["image 0", "image 2"] and "(b," in lines[1]


LABELS = np.array([[0.9, -0.1, -0.1],    # confident, large margin
                   [0.8, 0.7, -0.1],     # confident, small margin
                   [0.1, 0.05, 0.0]])    # low confidence


def test_confidence_and_margin_are_top1_and_top1_minus_top2():
    np.testing.assert_allclose(label_confidence(LABELS), [0.9, 0.8, 0.1])
    np.testing.assert_allclose(label_margin(LABELS), [1.0, 0.1, 0.05])


def test_three_groups_by_confidence_then_margin():
    groups = label_groups(LABELS, confidence_split=0.5, margin_split=0.5)
    assert list(groups) == [GROUPS[0], GROUPS[1], GROUPS[2]]
    assert list(label_groups(LABELS, confidence_split=0.05, margin_split=0.5)) == [GROUPS[0], GROUPS[1], GROUPS[1]]


def test_class_similarity_averages_the_rows_of_each_class():
    sim = class_similarity(LABELS, np.array([0, 0, 2]), 3)
    np.testing.assert_allclose(sim[0], [0.85, 0.3, -0.1])
    assert np.isnan(sim[1]).all()
    np.testing.assert_allclose(sim[2], LABELS[2])


def test_confusion_rows_are_fractions_of_each_true_class():
    cm = confusion_matrix(np.array([0, 0, 0, 1]), np.array([0, 1, 1, 1]), 3)
    np.testing.assert_allclose(cm, [[1 / 3, 2 / 3, 0], [0, 1, 0], [0, 0, 0]])


def test_off_diagonal_and_rank_correlation():
    m = np.arange(9.0).reshape(3, 3)
    assert list(off_diagonal(m)) == [1, 2, 3, 5, 6, 7]
    assert rank_correlation([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert rank_correlation([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    with pytest.raises(ValueError, match="one length"):
        rank_correlation([1, 2], [1, 2, 3])


def test_most_mixed_pairs_come_from_the_matrix():
    sim = np.array([[1.0, 0.3, -0.2], [0.1, 1.0, 0.5], [0.0, -0.1, 1.0]])
    assert most_mixed_pairs(sim, ["a", "b", "c"], k=2) == ["label of b gives c +0.50", "label of a gives b +0.30"]
    assert most_mixed_pairs(sim, ["a", "b", "c"], k=1, phrase="{row} taken for {col} {value:.0%}") == \
        ["b taken for c 50%"]


def test_nearest_real_images_orders_by_distance_and_scans_in_blocks():
    from frepo_lite.labels import nearest_real_images

    pool = np.arange(10, dtype=np.float32)[:, None, None, None] * np.ones((10, 2, 2, 1), np.float32)
    queries = np.array([3.2, 8.9], np.float32)[:, None, None, None] * np.ones((2, 2, 2, 1), np.float32)
    want = [[3, 4, 2], [9, 8, 7]]
    assert nearest_real_images(queries, pool, k=3).tolist() == want
    assert nearest_real_images(queries, pool, k=3, batch=3).tolist() == want  # blocks give the same answer
    with pytest.raises(ValueError, match="k must be between 1 and the pool size 10"):
        nearest_real_images(queries, pool, k=11)
    with pytest.raises(ValueError, match="same image shape"):
        nearest_real_images(queries, np.zeros((5, 3, 3, 1)), k=1)
