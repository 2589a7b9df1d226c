"""Classification accuracy: confusion matrix, OA, AA, Cohen's kappa, per-class precision, recall and F1.

Confusion matrix C[i, j] = number of pixels of true class i predicted as class j.
OA = Σ C_kk / N; AA = mean_k C_kk / Σ_j C_kj (classes with reference pixels); κ = (p_o - p_e) / (1 - p_e),
p_e = Σ_k row_k col_k / N².
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def confusion_matrix(reference: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """(classes, classes) counts for 0-based class indices; entries outside 0..classes-1 are ignored."""
    reference = np.asarray(reference, dtype=np.int64).ravel()
    predicted = np.asarray(predicted, dtype=np.int64).ravel()
    keep = (reference >= 0) & (reference < classes) & (predicted >= 0) & (predicted < classes)
    flat = reference[keep] * classes + predicted[keep]
    return np.bincount(flat, minlength=classes * classes).reshape(classes, classes)


def accuracy_summary(matrix: np.ndarray, class_names: Sequence[str] = ()) -> dict:
    """OA, AA, kappa (fractions), and per-class precision/recall/F1/support from a confusion matrix."""
    matrix = np.asarray(matrix, dtype=np.float64)
    total = matrix.sum()
    if total == 0:
        raise ValueError("the confusion matrix is empty")
    diagonal = np.diag(matrix)
    rows = matrix.sum(axis=1)
    cols = matrix.sum(axis=0)
    recall = np.divide(diagonal, rows, out=np.full_like(diagonal, np.nan), where=rows > 0)
    precision = np.divide(diagonal, cols, out=np.full_like(diagonal, np.nan), where=cols > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.full_like(diagonal, np.nan),
                   where=np.isfinite(denominator) & (denominator > 0))
    f1[np.isfinite(precision) & np.isfinite(recall) & (denominator == 0)] = 0.0
    oa = diagonal.sum() / total
    expected = (rows * cols).sum() / total**2
    kappa = (oa - expected) / (1 - expected) if expected < 1 else 1.0
    names = list(class_names) or [str(i + 1) for i in range(len(matrix))]
    return {
        "overall_accuracy": float(oa),
        "average_accuracy": float(np.nanmean(recall[rows > 0])),
        "kappa": float(kappa),
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(rows[i])}
            for i, name in enumerate(names)
        },
        "confusion_matrix": matrix.astype(np.int64).tolist(),
        "class_names": names,
    }
