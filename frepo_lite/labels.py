"""What learned labels say: the classes each distilled image's label leans towards, beyond its own."""
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
                            rows: int | None = None) -> list[str]:
    """Sentences generated from the labels: for each image (the first `rows`), its own class and score, and
    its k largest other-class scores against the value `start` every other-class score began at."""
    labels = np.asarray(labels)
    lines = []
    for i, leaning in enumerate(top_off_class(labels, k)[:rows]):
        own = int(np.argmax(labels[i]))
        parts = ", ".join(f"{class_names[c]} {s:+.2f}" for c, s in leaning)
        lines.append(f"image {i} ({class_names[own]}, own score {labels[i, own]:+.2f}): largest other scores "
                     f"{parts} (all started at {start:+.2f})")
    return lines
