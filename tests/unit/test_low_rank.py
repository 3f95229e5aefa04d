"""Learned low rank (train.low_rank): the nuclear norm's proximal step, the learned rank and its factors, a
rank-r layer's constants in the lowered model, and the config's refusals.

The shared op test base runs a tagger with two factorized layers ("salt+low_rank", tests/unit/test_ops.py);
the csim suite trains, converts and C-simulates one (tests/csim/test_convert_csim.py)."""

from __future__ import annotations

import numpy as np
import pytest

from l1tag.config import config_from_dict
from l1tag.errors import ConfigError
from l1tag.models import low_rank

RNG = np.random.default_rng(5)


def _matrix(singular, d_in=6, d_out=5):
    u, _ = np.linalg.qr(RNG.normal(size=(d_in, d_in)))
    v, _ = np.linalg.qr(RNG.normal(size=(d_out, d_out)))
    s = np.zeros((d_in, d_out))
    s[np.arange(len(singular)), np.arange(len(singular))] = singular
    return u @ s @ v.T


def test_the_proximal_step_soft_thresholds_the_singular_values():
    w = _matrix([3.0, 1.0, 0.2])
    out = low_rank.prox_nuclear(w, 0.5)
    np.testing.assert_allclose(np.linalg.svd(out, compute_uv=False)[:3], [2.5, 0.5, 0.0], atol=1e-12)
    assert low_rank.rank_of(out) == 2 and low_rank.rank_of(w) == 3
    np.testing.assert_allclose(np.linalg.svd(low_rank.prox_nuclear(w, 0.5, max_rank=1), compute_uv=False)[:2],
                               [2.5, 0.0], atol=1e-12)
    np.testing.assert_allclose(low_rank.prox_nuclear(w, 0.0), w, atol=1e-12)


def test_the_factors_of_the_learned_rank_rebuild_the_layer():
    w = _matrix([2.0, 0.7])
    a, b = low_rank.factor(w, 2)
    assert a.shape == (6, 2) and b.shape == (2, 5)
    np.testing.assert_allclose(a @ b, w, atol=1e-12)
    assert low_rank.saves(2, 6, 5) and not low_rank.saves(3, 6, 5)  # 22 < 30; 33 > 30
    assert not low_rank.saves(0, 6, 5)


def test_learned_ranks_and_the_transfer_into_two_layers():
    from l1tag.models.builders import build_model

    cfg = config_from_dict({"name": "t", "data": {"constituents": 8},
                            "model": {"d_model": 8, "heads": 2, "partitions": 2, "ffn_dim": 8, "head_dims": [8]}})
    float_model = build_model(cfg.model, 8, 3, None)
    layers = {layer.name: layer for layer in float_model.layers}
    w = _matrix([1.5, 0.8], 8, 8).astype(np.float32)
    layers["ffn0_up"].kernel.assign(w)
    ranks = low_rank.learned_ranks(float_model)
    assert ranks == {"ffn0_up": 2}  # the others are full rank: factorizing them saves nothing
    qat = build_model(cfg.model, 8, 3, cfg.quantization, low_rank=ranks)
    low_rank.transfer(float_model, qat, ranks)
    q = {layer.name: layer for layer in qat.layers}
    np.testing.assert_allclose(q["ffn0_up_a"].kernel.numpy() @ q["ffn0_up"].kernel.numpy(), w, atol=1e-5)
    np.testing.assert_array_equal(q["ffn0_up"].bias.numpy(), layers["ffn0_up"].bias.numpy())
    np.testing.assert_array_equal(q["ffn0_down"].kernel.numpy(), layers["ffn0_down"].kernel.numpy())


def test_a_rank_r_layer_holds_r_times_d_in_plus_d_out_constants():
    """Lowered, the 8 -> 8 layer of rank 2 is two Dense ops of 8 x 2 and 2 x 8 weights: 32 constants for 64."""
    from taggers import perturbed_tagger

    def dense_kernels(kind):
        return {op.name: op.weights["kernel"] for op in perturbed_tagger(kind)[1].ops if op.operation == "dense"}

    kernels, full_kernels = dense_kernels("salt+low_rank"), dense_kernels("salt")
    assert kernels["ffn0_up_a"].shape == (8, 2) and kernels["ffn0_up"].shape == (2, 8)
    assert kernels["ffn0_up_a"].size + kernels["ffn0_up"].size == 2 * (8 + 8) < full_kernels["ffn0_up"].size == 64
    assert kernels["head0_a"].shape == (8, 3) and kernels["head0"].shape == (3, 8)
    assert kernels["ffn0_down"].shape == full_kernels["ffn0_down"].shape == (8, 8)  # not factorized


@pytest.mark.parametrize("low, message", [
    ({"max_rank": 4}, "train.low_rank.max_rank is read only with train.low_rank.strength"),
    ({"strength": 0.1, "max_rank": 16}, "train.low_rank.max_rank 16 is not below the layers' width 16"),
    ({"strength": -1}, "train.low_rank.strength: expected a positive number"),
])
def test_bad_low_rank_settings_are_refused_at_load(low, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict({"name": "t", "train": {"low_rank": low}})


def test_low_rank_with_another_quantization_mode_is_refused():
    with pytest.raises(ConfigError, match="train.low_rank with quantization.mode heterogeneous"):
        config_from_dict({"name": "t", "train": {"low_rank": {"strength": 0.1}},
                          "quantization": {"mode": "heterogeneous", "target": {"ebops": 1000}}})
