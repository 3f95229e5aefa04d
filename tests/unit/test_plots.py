"""Plots: each function writes a non-empty PNG of the expected size; the sparsity measure by hand."""

from __future__ import annotations

import numpy as np
import pytest

from l1tag.config import config_from_dict
from l1tag.data.features import constituent_features
from l1tag.models.builders import attention_maps as extract_maps
from l1tag.models.builders import build_model
from l1tag.report import plots

RNG = np.random.default_rng(4)


def _png_size(path):
    import matplotlib.pyplot as plt

    assert path.stat().st_size > 1000, "empty-looking PNG"
    img = plt.imread(path)
    return img.shape[1], img.shape[0]  # width, height


def test_sparsity_by_hand():
    binary = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    uniform = np.full((2, 4), 0.25)
    mixed = np.array([[0.5, 0.5], [0.9, 0.1]])
    assert plots.sparsity(binary) == 1.0
    assert plots.sparsity(uniform) == 0.25
    assert plots.sparsity(mixed) == pytest.approx(0.7)
    assert plots.sparsity(np.stack([binary, binary])) == 1.0  # heads stacked


def _jets(n_jets=10, n=8):
    p4 = np.zeros((n_jets, n, 4))
    pt = np.sort(RNG.uniform(1, 100, (n_jets, n)), axis=1)[:, ::-1]
    eta, phi = RNG.normal(0, 0.2, (n_jets, n)), RNG.normal(0, 0.2, (n_jets, n))
    p4[:] = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)], axis=-1)
    return constituent_features(p4).astype(np.float32), np.arange(n_jets) % 5


def test_roc_and_multiplicity_plots(tmp_path):
    y = np.arange(50) % 5
    probs = RNG.dirichlet(np.ones(5), size=50)
    probs[np.arange(50), y] += 0.5
    assert _png_size(plots.roc_curves(y, {"float": probs, "quantized": probs}, tmp_path / "roc.png")) == (640, 480)
    mult = RNG.integers(10, 100, 50)
    assert _png_size(plots.accuracy_vs_multiplicity(y, probs, mult, tmp_path / "m.png")) == (640, 400)


def test_partition_picture(tmp_path):
    raw, y = _jets()
    assert _png_size(plots.partition_picture(raw, y, 4, tmp_path / "p.png")) == (1600, 340)


def test_attention_maps_from_a_tiny_model(tmp_path):
    cfg = config_from_dict({"name": "t", "model": {"d_model": 8, "heads": 2, "partitions": 2}})
    model = build_model(cfg.model, 8, 3, cfg.quantization)
    raw, y = _jets()
    jets = [3, 7]  # a Z and a W jet (labels cycle g, q, w, z, t)
    maps = next(iter(extract_maps(model, raw[jets][..., [5, 8, 11]]).values()))
    path, stats = plots.attention_maps(maps, y[jets], jets, tmp_path / "a.png")
    assert _png_size(path) == (540, 960)  # 2 heads x 2.2 + 1 inch wide, 2 jets x 3 maps x 1.6 inch high
    assert set(stats) == {"z", "w"} and all(1 / 2 <= v <= 1 for v in stats.values())


def test_the_report_stage_converts_and_estimates_nothing():
    """The cost-versus-n table is a benchmark (bench/scaling.py), not part of a build's report."""
    import ast
    import inspect

    names = {n.module for n in ast.walk(ast.parse(inspect.getsource(plots))) if isinstance(n, ast.ImportFrom)}
    assert not names & {"l1tag.hls.convert", "l1tag.hardware.estimate", "l1tag.models.cost"}
    assert not hasattr(plots, "cost_table") and not hasattr(plots, "cost_vs_n")
