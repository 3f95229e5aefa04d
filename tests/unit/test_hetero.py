"""Heterogeneous quantization (quantization.mode: heterogeneous): per-weight widths from HGQ's quantizer, the
firmware taking each weight as rounded, a weight rounded to zero costing no adder, and the config's checks."""

from __future__ import annotations

import numpy as np
import pytest

from l1tag.config import config_from_dict
from l1tag.errors import ConfigError
from l1tag.numerics.fixed_point import FixedType, fitting_type, quantize

pytest.importorskip("HGQ")


def _tagger(kind: str = "deepsets", n: int = 4, seed: int = 3):
    """A tiny heterogeneous tagger whose weights have random fractional bits in [-2, 6]: (model, config)."""
    import tensorflow as tf

    from l1tag.models.builders import build_model
    from l1tag.models.layers.hetero import hetero_layers

    tf.keras.utils.set_random_seed(seed)
    cfg = config_from_dict({"name": "t", "data": {"constituents": n},
                            "quantization": {"mode": "heterogeneous", "target": {"ebops": 1000}},
                            "model": {"type": kind, "d_model": 4, "heads": 2, "partitions": 2, "ffn_dim": 4,
                                      "head_dims": [4], "phi_dims": [4, 4]}})
    model = build_model(cfg.model, n, 3, cfg.quantization)
    rng = np.random.default_rng(seed)
    for layer in hetero_layers(model):
        for name in layer.hetero_names:
            var = layer._hetero[name][1]
            var.assign(rng.integers(-2, 7, var.shape).astype(np.float32))
    return model, cfg


@pytest.mark.parametrize("kind", ["deepsets", "salt"])
def test_every_dense_weight_has_its_own_grid_and_the_reference_is_the_keras_model(kind):
    """Each weight on the grid of its own fractional bits (some rounded to zero) -- the Dense layers' and
    the attention's Wq, Wk, Wv; the lowered Dense layers hold exactly those values, and the fixed-point
    reference of the whole tagger equals the Keras model."""
    import tensorflow as tf

    from l1tag import ops
    from l1tag.hls.lower import lower
    from l1tag.models.layers.hetero import hetero_layers

    model, _ = _tagger(kind)
    lowered = lower(model)
    dense = {op.name: op for op in lowered.ops if op.operation == "dense"}
    zeros, lowered_names = 0, set()
    for layer in hetero_layers(model):
        for name in layer.hetero_names:
            weight, fbits, _ = layer._hetero[name]
            op = dense[layer.name if name == "kernel" else f"{layer.name}_{name[1]}"]  # att0 wq -> att0_q
            f = np.round(fbits.numpy())
            np.testing.assert_array_equal(op.weights["kernel"], np.floor(weight.numpy() * 2.0**f + 0.5) / 2.0**f)
            zeros += int((op.weights["kernel"] == 0).sum())
            lowered_names.add(op.name)
    assert zeros > 0 and lowered_names == set(dense)  # every constant-weight Dense is heterogeneous
    jets = quantize(np.random.default_rng(0).normal(0, 2, (200, 4, 3)), lowered.input_t)
    logits = tf.keras.Model(model.input, model.get_layer("logits").output).predict(jets, verbose=0)
    np.testing.assert_array_equal(ops.run_reference(lowered.ops, jets), logits)


def test_a_weight_rounded_to_zero_costs_no_adder():
    """da4ml's adder graph of a Dense output whose other weights rounded to zero is that of the one weight
    left: the zeros add nothing."""
    import dataclasses

    pytest.importorskip("da4ml")
    from l1tag.hls.lower import lower
    from l1tag.models.layers import HQDense
    from l1tag.ops import rule
    from l1tag.ops.trace import input_array
    from l1tag.rtl.trace import comb_solution

    model, _ = _tagger("deepsets")
    layer = next(l for l in model.layers if isinstance(l, HQDense))  # phi0: 3 features -> 4
    layer.kernel.assign(np.random.default_rng(5).uniform(0.2, 0.9, layer.kernel.shape) * [[1], [-1], [1]])
    fbits = np.full(layer.fbits.shape, 6.0, dtype=np.float32)
    fbits[1:, 0] = -8.0  # output 0: features 1 and 2 round to zero
    layer.fbits.assign(fbits)
    lowered = lower(model)
    op = next(o for o in lowered.ops if o.name == layer.name)
    kernel, bias = op.weights["kernel"], op.weights["bias"]
    assert (kernel[1:, 0] == 0).all() and kernel[0, 0] != 0 and (kernel[:, 1] != 0).all()

    def adder_graph_cost(k: np.ndarray, b: np.ndarray) -> float:
        one = dataclasses.replace(op, weights={"kernel": k, "bias": b})
        x = input_array((1, k.shape[0]), lowered.input_t)
        return comb_solution(x, rule(one).trace(one, [x])).cost

    zeroed = adder_graph_cost(kernel[:, :1], bias[:1])
    assert zeroed == adder_graph_cost(kernel[:1, :1], bias[:1])  # as if the zero weights' inputs were absent
    assert adder_graph_cost(kernel[:, 1:2], bias[1:2]) > zeroed  # three nonzero weights: adders


def test_exact_bits_count_from_the_highest_to_the_lowest_set_bit():
    from l1tag.models.layers.hetero import exact_bits

    np.testing.assert_array_equal(exact_bits([0.0, 0.5, 0.75, -3.0, 2.0**-5, 5.0, -0.625]), [0, 1, 2, 2, 1, 3, 3])


def test_fitting_type_is_the_narrowest_that_holds_every_value():
    values = np.array([0.75, -3.0, 2.0**-5, 1.5])
    t = fitting_type(values)
    assert (t.width, t.integer) == (8, 3)  # sign + 2 integer bits (-3), 5 fractional (2^-5)
    np.testing.assert_array_equal(quantize(values, t), values)
    for narrower in (FixedType(7, 3), FixedType(7, 2)):
        assert not np.array_equal(quantize(values, narrower), values)
    assert (fitting_type([0.0]).width, fitting_type([1.0]).integer) == (1, 2)


@pytest.mark.parametrize("raw, message", [
    ({"mode": "heterogeneous"}, "quantization.mode heterogeneous needs a resource target: set quantization.target.ebops"),
    ({"target": {"ebops": 5000}}, "quantization.target is read only in heterogeneous mode"),
    ({"mode": "heterogeneous", "target": {"ebops": 0}}, r"quantization.target.ebops: expected an integer in \[1, "),
    ({"mode": "heterogeneous", "target": {"ebops": -3}}, r"quantization.target.ebops: expected an integer in \[1, "),
    ({"mode": "heterogeneous", "target": {"lut": 0}}, r"quantization.target.lut: expected an integer in \[1, "),
    ({"mode": "heterogeneous", "target": {"lut": 9000, "ebops": 5000}},
     "takes one of ebops and lut, not both"),
    ({"target": {"lut": 9000}}, "quantization.target is read only in heterogeneous mode"),
    ({"mode": "heterogeneous", "target": {"dsp": 5}}, "unknown key 'quantization.target.dsp'"),
    ({"mode": "mixed"}, "quantization.mode: expected one of"),
])
def test_a_bad_heterogeneous_config_is_refused_at_load(raw, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict({"name": "t", "quantization": raw})


def test_heterogeneous_mode_without_qat_epochs_is_refused():
    with pytest.raises(ConfigError, match="learns its bit widths in the quantization-aware epochs: set "
                                          "train.qat_epochs > 0"):
        config_from_dict({"name": "t", "quantization": {"mode": "heterogeneous", "target": {"ebops": 9}},
                          "train": {"qat_epochs": 0}})


def test_the_report_says_what_the_target_asked_and_what_the_kept_epoch_reached():
    from l1tag.report.markdown import heterogeneous_rows

    h = {"target": {"lut": 900000}, "target_ebops": 301234.6, "start_ebops": 1264320.0, "floor_lut": 817824,
         "start_lut": 1448720, "kept": {"epoch": 18, "ebops": 290384.0, "within_tolerance": True}}
    text = "\n".join(" | ".join(r) for r in heterogeneous_rows(h))
    assert "EBOPs target (start) | 301,235 (1,264,320)" in text
    assert "EBOPs of the weights kept | 290,384 (epoch 18, within 10 % of the target)" in text
    assert "900,000: floor 817,824 with every heterogeneous weight removed, 1,448,720 at the starting widths" in text
    h["kept"]["within_tolerance"] = False
    assert "NOT within 10 % of the target" in "\n".join(" | ".join(r) for r in heterogeneous_rows(h))
    assert heterogeneous_rows(None) == []
