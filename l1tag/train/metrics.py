"""Tagger quality with scikit-learn: accuracy, one-vs-rest AUCs, background rejection, confusion matrix.

Background rejection of class c at signal efficiency (TPR) t is 1 / FPR of the one-vs-rest ROC curve
of score c at TPR = t (linear interpolation on the curve); infinite rejection is reported as None.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, roc_auc_score, roc_curve

from l1tag.data.features import CLASSES


def rejection_at(y_true_binary: np.ndarray, score: np.ndarray, tpr_target: float) -> float | None:
    fpr, tpr, _ = roc_curve(y_true_binary, score)
    f = float(np.interp(tpr_target, tpr, fpr))
    return None if f <= 0 else 1.0 / f


def accuracy_by_multiplicity(y: np.ndarray, probs: np.ndarray, multiplicity: np.ndarray,
                             bins: int = 8) -> list[dict]:
    """Accuracy in ``bins`` quantile bins of the jets' constituent multiplicity (edges rounded to whole
    constituents, equal edges merged, the last one past the largest multiplicity): one row per non-empty bin
    with its edges [lo, hi), jets, accuracy and binomial standard error.  The edges depend only on
    ``multiplicity``, so models scored on the same test jets share them."""
    edges = np.unique(np.percentile(multiplicity, np.linspace(0, 100, bins + 1)).round())
    edges = np.append(edges[:-1], edges[-1] + 1) if len(edges) > 1 else np.array([edges[0], edges[0] + 1])
    idx = np.clip(np.digitize(multiplicity, edges[1:-1]), 0, len(edges) - 2)
    correct = probs.argmax(axis=1) == y
    rows = []
    for b in range(len(edges) - 1):
        sel = idx == b
        if sel.any():
            a = float(correct[sel].mean())
            rows.append({"bin": [int(edges[b]), int(edges[b + 1])], "jets": int(sel.sum()), "accuracy": a,
                         "error": float(np.sqrt(a * (1 - a) / sel.sum()))})
    return rows


def evaluate(y: np.ndarray, probs: np.ndarray, classes: tuple[str, ...] = CLASSES) -> dict:
    """Metrics of class probabilities ``probs`` (N, k) against integer labels ``y`` (N,)."""
    k = probs.shape[1]
    onehot = np.eye(k)[y]
    per_class_auc = {classes[c]: float(roc_auc_score(onehot[:, c], probs[:, c])) for c in range(k)}
    return {
        "accuracy": float(accuracy_score(y, probs.argmax(axis=1))),
        "auc_macro": float(roc_auc_score(y, probs, multi_class="ovr", average="macro")),
        "auc": per_class_auc,
        "rejection_at_tpr_0p5": {classes[c]: rejection_at(onehot[:, c], probs[:, c], 0.5) for c in range(k)},
        "rejection_at_tpr_0p8": {classes[c]: rejection_at(onehot[:, c], probs[:, c], 0.8) for c in range(k)},
        "confusion_matrix": confusion_matrix(y, probs.argmax(axis=1), labels=list(range(k))).tolist(),
        "jets": int(len(y)),
    }
