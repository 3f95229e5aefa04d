"""Tagger metrics: accuracy by multiplicity bin, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from l1tag.train.metrics import accuracy_by_multiplicity


def _probs(correct: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Scores whose argmax is ``y`` where ``correct`` and another class elsewhere."""
    probs = np.full((len(y), 5), 0.1)
    probs[np.arange(len(y)), np.where(correct, y, (y + 1) % 5)] = 0.6
    return probs


def test_quantile_bins_counts_and_accuracy_by_hand():
    multiplicity = np.repeat([10, 20, 30, 40], 25)  # four equal quarters
    y = np.arange(100) % 5
    correct = np.zeros(100, bool)
    correct[:25] = True                 # 10 constituents: all right
    correct[25:25 + 10] = True          # 20: 10 of 25
    rows = accuracy_by_multiplicity(y, _probs(correct, y), multiplicity, bins=4)
    assert [r["bin"] for r in rows] == [[10, 18], [18, 25], [25, 32], [32, 41]]  # percentile edges, rounded; [lo, hi)
    assert [r["jets"] for r in rows] == [25, 25, 25, 25]
    assert [r["accuracy"] for r in rows] == [1.0, 0.4, 0.0, 0.0]
    assert rows[1]["error"] == pytest.approx(np.sqrt(0.4 * 0.6 / 25))
    assert rows[0]["error"] == 0.0


def test_equal_edges_merge_and_every_jet_is_counted_once():
    multiplicity = np.array([30] * 90 + [31, 40, 50, 60, 70, 80, 90, 100, 110, 120])
    y = np.zeros(100, int)
    rows = accuracy_by_multiplicity(y, _probs(np.ones(100, bool), y), multiplicity, bins=8)
    edges = [r["bin"] for r in rows]
    assert all(a[1] == b[0] for a, b in zip(edges, edges[1:]))  # contiguous, no repeated edge
    assert sum(r["jets"] for r in rows) == 100
    assert len(rows) < 8  # the percentiles at 30 collapsed into one edge


def test_one_multiplicity_is_one_bin():
    y = np.arange(10) % 5
    rows = accuracy_by_multiplicity(y, _probs(np.arange(10) < 7, y), np.full(10, 32))
    assert rows == [{"bin": [32, 33], "jets": 10, "accuracy": 0.7, "error": pytest.approx(np.sqrt(0.21 / 10))}]
