"""Ternary weights (quantization.mode ternary): the scale rule, the firmware type of QKeras' ternary quantizer,
the per-layer quantizers of a model, the config's refusals, and what a ternary layer costs in DA adders.

The shared op test base runs a ternary SAL-T ("salt+ternary", tests/unit/test_ops.py); the csim suite
trains, converts and C-simulates one (tests/csim/test_convert_csim.py)."""

from __future__ import annotations

import numpy as np
import pytest

from l1tag.config import config_from_dict
from l1tag.errors import ConfigError
from l1tag.models import ternary
from l1tag.numerics.fixed_point import FixedType, from_qkeras, quantize


def test_the_scale_is_the_power_of_two_nearest_the_large_weights_mean():
    w = np.array([0.01, -0.02, 0.3, -0.35, 0.4, 0.0])  # mean|w| 0.18: above 0.126 are 0.3, 0.35, 0.4 (mean 0.35)
    assert ternary.ternary_scale(w) == 0.25  # log2 0.35 = -1.51 -> 2^-2
    assert ternary.ternary_scale(4 * w) == 1.0  # 1.4 -> 2^0
    assert ternary.ternary_scale(np.zeros(5)) == ternary.DEFAULT_SCALE


@pytest.mark.parametrize("scale", [2.0, 0.5, 0.125, 2.0**-5])
def test_qkeras_ternary_is_a_cast_to_its_fixed_point_type(scale):
    from qkeras.quantizers import get_quantizer

    text = ternary.ternary_quantizer(scale)
    t = from_qkeras(text, "w")
    assert (t.width, t.integer, t.rounding, t.overflow) == (2, int(np.log2(scale)) + 2, "AP_RND_INF", "AP_SAT_SYM")
    grid = np.arange(-64, 65) * scale / 16  # every tie, both signs, beyond the ends
    qkeras = get_quantizer(text)(grid.astype(np.float32)).numpy().astype(np.float64)
    np.testing.assert_array_equal(quantize(grid, t), qkeras)
    assert set(np.unique(qkeras)) == {-scale, 0.0, scale}


@pytest.mark.parametrize("text", ["ternary(alpha=0.3,threshold=0.15)", "ternary(alpha=0.25,threshold=0.1)",
                                  "ternary(alpha='auto_po2')"])
def test_a_ternary_quantizer_without_a_fixed_point_twin_is_refused(text):
    with pytest.raises(ValueError, match="power of two and threshold alpha / 2"):
        from_qkeras(text, "att0 kernel")


def test_each_layer_gets_its_own_ternary_quantizer_and_the_conv_taps_keep_theirs():
    from l1tag.models.builders import build_model

    cfg = config_from_dict({"name": "t", "data": {"constituents": 8}, "quantization": {"mode": "ternary"},
                            "model": {"d_model": 8, "heads": 2, "partitions": 2, "ffn_dim": 8, "head_dims": [8]}})
    model = build_model(cfg.model, 8, 3, cfg.quantization, ternary_scales={"embed": 0.5, "ffn0_up": 0.125})
    layers = {layer.name: layer for layer in model.layers}
    assert from_qkeras(layers["embed"].get_config()["kernel_quantizer"], "embed").lsb == 0.5
    assert from_qkeras(layers["ffn0_up"].get_config()["kernel_quantizer"], "up").lsb == 0.125
    assert from_qkeras(layers["att0"].get_config()["kernel_quantizer"], "att0").lsb == ternary.DEFAULT_SCALE
    assert layers["att0"].get_config()["conv_quantizer"] == "quantized_bits(8,1,alpha=1)"  # quantization.weights
    w = layers["embed"].kernel_quantizer_internal(np.random.default_rng(0).normal(0, 1, (3, 8)).astype(np.float32))
    w = w.numpy()
    assert set(np.unique(w)) <= {-0.5, 0.0, 0.5}


def test_ternary_scales_of_a_float_model_cover_every_ternary_layer():
    from l1tag.models.builders import build_model

    cfg = config_from_dict({"name": "t", "data": {"constituents": 8},
                            "model": {"d_model": 8, "heads": 2, "partitions": 2, "ffn_dim": 8, "head_dims": [8]}})
    scales = ternary.ternary_scales(build_model(cfg.model, 8, 3, None))
    assert set(scales) == {"embed", "att0", "ffn0_up", "ffn0_down", "head0", "logits"}
    assert all(np.log2(s) == round(np.log2(s)) for s in scales.values())


def test_ternary_with_a_bit_width_is_refused_at_load():
    with pytest.raises(ConfigError, match="quantization.weights.bits 4 with quantization.mode ternary: ternary "
                                          "weights are -s, 0 or \\+s"):
        config_from_dict({"name": "t", "quantization": {"mode": "ternary", "weights": {"bits": 4}}})
    assert config_from_dict({"name": "t", "quantization": {"mode": "ternary"}}).quantization.mode == "ternary"
    with pytest.raises(ConfigError, match="quantization.ternary_training parq is read only in ternary mode"):
        config_from_dict({"name": "t", "quantization": {"ternary_training": "parq"}})
    # a full dump of a ternary config (as the search writes its trials') loads as its source did
    import dataclasses

    cfg = config_from_dict({"name": "t", "quantization": {"mode": "ternary"}})
    dumped = {"name": "t", "quantization": {k: v for k, v in dataclasses.asdict(cfg.quantization).items()
                                            if k in ("mode", "weights", "ternary_training")}}
    assert config_from_dict(dumped).quantization.mode == "ternary"
    with pytest.raises(ConfigError, match="quantization.ternary_training: expected one of 'ste', 'parq'"):
        config_from_dict({"name": "t", "quantization": {"mode": "ternary", "ternary_training": "prox"}})


def test_parq_prox_goes_from_the_identity_to_rounding_continuously():
    s = 0.25
    w = np.linspace(-0.6, 0.6, 2401)
    np.testing.assert_allclose(ternary.prox(w, s, 1.0), w, atol=1e-15)  # gamma 1: the identity
    hard = ternary.prox(w, s, 0.0)
    assert set(np.unique(hard)) == {-s, 0.0, s}
    np.testing.assert_array_equal(hard[np.abs(np.abs(w) - s / 2) > 1e-9], np.clip(np.round(w / s), -1, 1)[
        np.abs(np.abs(w) - s / 2) > 1e-9] * s)  # rounding to the nearest grid point (ties aside)
    for gamma in (0.75, 0.5, 0.1):
        p = ternary.prox(w, s, gamma)
        assert np.all(np.diff(p) >= -1e-12)  # monotone
        assert np.max(np.abs(np.diff(p))) < 2 * (w[1] - w[0]) / gamma  # continuous: steps of at most 1/gamma
        np.testing.assert_allclose(p, -ternary.prox(-w, s, gamma))  # odd
        flat = (np.abs(w) <= (1 - gamma) * s / 2) | ((np.abs(np.abs(w) - s) <= (1 - gamma) * s / 2 - 1e-12)
                                                     & (np.abs(w) <= s))
        assert set(np.unique(p[flat])) <= {-s, 0.0, s}  # the flat zones sit on the grid
    assert ternary.gamma_at(0, 100) == 1.0 and ternary.gamma_at(75, 100) == pytest.approx(0.0)
    assert ternary.gamma_at(100, 100) == 0.0 and 0.4 < ternary.gamma_at(37, 100) < 0.6


def test_a_ternary_dense_costs_one_adder_per_extra_nonzero_weight():
    """da4ml's adder graph of a ternary 6 -> 3 matrix, two nonzero weights per column on distinct inputs:
    each output is +-s x_a +- s x_b, one adder (the scale s is wiring), 3 in all.  The same supports with
    8-bit weights need more."""
    from l1tag.ops.trace import input_array
    from l1tag.rtl.trace import comb_solution

    s = 0.25
    w = np.zeros((6, 3))
    w[[0, 1, 2, 3, 4, 5], [0, 0, 1, 1, 2, 2]] = [s, -s, s, s, -s, s]

    def adders(matrix):
        x = input_array((6,), FixedType(8, 3))
        return sum(op.opcode in (0, 1) for op in comb_solution([x], [x @ matrix]).ops)

    assert adders(w) == 3
    eight_bit = np.where(w != 0, np.array([0.3671875, -0.71875, 0.5390625])[None, :] * np.sign(w), 0.0)
    assert adders(eight_bit) > 3
    w[5, 2] = 0.0  # a zero weight costs nothing: that output is one shifted input
    assert adders(w) == 2
