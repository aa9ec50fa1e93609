"""Classification metrics on NumPy arrays."""

from __future__ import annotations

import numpy as np


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose largest score is at the label."""
    return float((np.asarray(logits).argmax(axis=1) == np.asarray(labels)).mean())


def confusion_matrix(predicted: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """``m[i, j]``: samples of true class i predicted as class j."""
    return np.bincount(np.asarray(labels) * n_classes + np.asarray(predicted),
                       minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def format_confusion(matrix: np.ndarray, class_names: list[str] | None = None) -> str:
    """The matrix as an aligned table, rows true classes, columns predictions."""
    n = matrix.shape[0]
    names = [str(c)[:10] for c in (class_names or range(n))]
    width = max(max(len(x) for x in names), len(str(matrix.max())), 4)
    head = " " * (width + 2) + " ".join(f"{x:>{width}}" for x in names) + "   recall"
    rows = [head]
    for i in range(n):
        recall = matrix[i, i] / max(matrix[i].sum(), 1)
        rows.append(f"{names[i]:>{width}}  " + " ".join(f"{v:>{width}}" for v in matrix[i]) + f"   {recall:6.1%}")
    return "\n".join(rows)
