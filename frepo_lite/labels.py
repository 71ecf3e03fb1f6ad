"""What learned labels say: the classes each label leans towards beyond its own, its confidence and margin
(the paper's three groups, Fig. 4d), and the class similarity they encode against a confusion matrix."""
from __future__ import annotations

import numpy as np


def top_off_class(labels: np.ndarray, k: int = 2) -> list[list[tuple[int, float]]]:
    """For each label row (n, C): its k largest scores among the classes other than its argmax, as
    [(class, score), ...] from the largest down."""
    labels = np.asarray(labels)
    rows = []
    for row in labels:
        own = int(np.argmax(row))
        others = [c for c in np.argsort(-row) if c != own][:k]
        rows.append([(int(c), float(row[c])) for c in others])
    return rows


def describe_label_leanings(labels: np.ndarray, class_names: list[str], start: float, k: int = 2,
                            every: int = 1) -> list[str]:
    """Sentences generated from the labels (n, C): for every `every`-th image (0, every, 2*every, ...; e.g.
    the first image of each class of a class-sorted set), its own class and score, and its k largest
    other-class scores against the value `start` every other-class score began at."""
    labels = np.asarray(labels)
    lines = []
    for i in range(0, len(labels), every):
        own = int(np.argmax(labels[i]))
        parts = ", ".join(f"{class_names[c]} {round(float(s), 2) + 0.0:+.2f}"  # + 0.0: no "-0.00"
                          for c, s in top_off_class(labels[i:i + 1], k)[0])
        lines.append(f"image {i} ({class_names[own]}, own score {labels[i, own]:+.2f}): largest other scores "
                     f"{parts} (all started at {start:+.2f})")
    return lines


# ------------------------------------------------------------------------------------------------
# Label statistics (paper Sec. 4.2 "Label Learning", Fig. 4d)

GROUPS = ("confident, large margin", "confident, small margin", "low confidence")


def label_confidence(labels: np.ndarray) -> np.ndarray:
    """(n,) the largest score of each label row (n, C)."""
    return np.asarray(labels).max(axis=-1)


def label_margin(labels: np.ndarray) -> np.ndarray:
    """(n,) the largest score minus the second largest of each label row (n, C)."""
    top2 = -np.sort(-np.asarray(labels), axis=-1)[:, :2]
    return top2[:, 0] - top2[:, 1]


def label_groups(labels: np.ndarray, confidence_split: float | None = None,
                 margin_split: float | None = None) -> np.ndarray:
    """(n,) the paper's three groups (GROUPS) of each label: 'low confidence' below `confidence_split`,
    otherwise 'confident, small margin' below `margin_split` and 'confident, large margin' above. The
    splits default to the medians of the set's own confidences and margins."""
    confidence, margin = label_confidence(labels), label_margin(labels)
    confidence_split = np.median(confidence) if confidence_split is None else confidence_split
    margin_split = np.median(margin) if margin_split is None else margin_split
    return np.where(confidence < confidence_split, GROUPS[2],
                    np.where(margin < margin_split, GROUPS[1], GROUPS[0]))


def class_similarity(labels: np.ndarray, classes: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) mean label of the distilled images of each class: row i averages the label rows of the images
    whose class is i (`classes` (n,), e.g. the class each image started as). A class with no image gives a
    row of NaN."""
    labels, classes = np.asarray(labels, np.float64), np.asarray(classes)
    out = np.full((num_classes, num_classes), np.nan)
    for c in range(num_classes):
        if np.any(classes == c):
            out[c] = labels[classes == c].mean(axis=0)
    return out


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) row-normalised confusion matrix: entry (i, j) is the fraction of class-i examples predicted j."""
    counts = np.zeros((num_classes, num_classes))
    np.add.at(counts, (np.asarray(y_true), np.asarray(y_pred)), 1.0)
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)


def off_diagonal(matrix: np.ndarray) -> np.ndarray:
    """(C*(C-1),) the entries of a square matrix off its diagonal, row by row."""
    matrix = np.asarray(matrix)
    return matrix[~np.eye(len(matrix), dtype=bool)]


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two equally long vectors (average ranks for ties)."""
    from scipy.stats import spearmanr

    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"rank_correlation needs two vectors of one length, got {a.shape} and {b.shape}")
    return float(spearmanr(a, b).statistic)


def most_mixed_pairs(similarity: np.ndarray, class_names: list[str], k: int = 3,
                     phrase: str = "label of {row} gives {col} {value:+.2f}") -> list[str]:
    """Sentences generated from a square class matrix (C, C), e.g. a class-similarity or a confusion matrix:
    its k largest off-diagonal entries, largest first, each written by `phrase` with {row}, {col} (class
    names) and {value} (e.g. phrase="{row} taken for {col} {value:.0%}" for a confusion matrix)."""
    similarity = np.asarray(similarity)
    masked = np.where(np.eye(len(similarity), dtype=bool), -np.inf, similarity)
    order = np.argsort(-masked, axis=None)[:k]
    return [phrase.format(row=class_names[i], col=class_names[j], value=similarity[i, j])
            for i, j in (np.unravel_index(o, similarity.shape) for o in order)]


def nearest_real_images(queries: np.ndarray, pool: np.ndarray, k: int = 3, batch: int = 4096) -> np.ndarray:
    """(n, k) indices into `pool` of the k images nearest to each query by Euclidean distance, nearest first.

    queries (n,H,W,C) and pool (N,H,W,C) in one space (e.g. distilled images and the real training set, both
    in model space); the pool is scanned `batch` images at a time.
    """
    queries = np.asarray(queries, np.float32).reshape(len(queries), -1)
    pool = np.asarray(pool, np.float32)
    if pool.shape[1:] and int(np.prod(pool.shape[1:])) != queries.shape[1]:
        raise ValueError(f"queries and pool must have the same image shape, got {queries.shape[1]} values per "
                         f"query and pool images of shape {pool.shape[1:]}")
    if not 1 <= k <= len(pool):
        raise ValueError(f"k must be between 1 and the pool size {len(pool)}, got {k}")
    q_sq = (queries ** 2).sum(1, keepdims=True)
    dist = np.empty((len(queries), len(pool)), np.float32)
    for s in range(0, len(pool), batch):
        block = pool[s:s + batch].reshape(-1, queries.shape[1])
        dist[:, s:s + batch] = q_sq - 2 * queries @ block.T + (block ** 2).sum(1)[None]
    return np.argsort(dist, axis=1, kind="stable")[:, :k]
