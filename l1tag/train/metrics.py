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
