"""The registry of kinds drives cost, conversion and estimate: walk it, and check each consumer asks it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from l1tag import kinds
from l1tag.config import config_from_dict
from l1tag.models.builders import build_model
from l1tag.models.cost import closed_form_parameters, layer_costs
from l1tag.models.layers import attention_layer
from taggers import kind_config, kind_inputs

TINY = {"d_model": 8, "heads": 2, "partitions": 3, "ffn_dim": 8, "head_dims": [8], "conv_kernel": [3, 3]}
N, FEATURES = 10, 3  # FEATURES: every kind but the Lorentz-equivariant one (kind_inputs)
HEADER = Path(__file__).resolve().parents[2] / "firmware_templates" / "l1tag_attention.h"


def _parallel(kind: str) -> int:
    """P: 2 particles per clock, or all N where the kind's pair bias computes every pair at once."""
    return N if kinds.get(kind).pair_bias == kinds.PAIR_BIAS_ALWAYS else 2


def _model(kind: str, quantized: bool = True):
    settings = kind_config(kind, **TINY)
    cfg = config_from_dict({"name": "k", **settings, "data": {"constituents": N, **settings.get("data", {})},
                            "hls": {"strategy": "Latency", "parallelization_factor": _parallel(kind)}})
    features, norm = kind_inputs(kind)
    return cfg, build_model(cfg.model, N, features, cfg.quantization if quantized else None, normalisation=norm)


def test_every_name_resolves_to_its_own_module_and_is_a_config_choice():
    assert [k.name for k in kinds.all_kinds()] == list(kinds.NAMES)
    for name in kinds.NAMES:
        assert config_from_dict({"name": "x", **kind_config(name)}).model.type == name
    with pytest.raises(KeyError, match="known: salt, linformer, transformer, part, lgatr_slim, deepsets"):
        kinds.get("performer")


@pytest.mark.parametrize("kind", kinds.attention_kinds(), ids=lambda k: k.name)
def test_attention_kind_points_to_a_keras_layer_and_a_cpp_function(kind):
    cls = attention_layer(kind)
    assert cls.kind == kind.name and kinds.by_keras_layer(cls.__name__) is kind
    function = kind.cpp_function.split("::")[-1]
    assert re.search(rf"\bvoid {function}\(", HEADER.read_text()), f"{function} missing from {HEADER.name}"


@pytest.mark.parametrize("name", kinds.NAMES)
def test_cost_and_parameters_come_from_the_registry(name):
    """Parameters: the closed form (with the kind's extra term) equals the cost model's count (Keras', a tied
    weight by its free numbers); attention MACs: the shape's (a tied Wq, Wk, Wv without its zeros)."""
    cfg, model = _model(name, quantized=False)
    m = cfg.model
    rows = {r["layer"]: r for r in layer_costs(model)}
    if kinds.get(name).attention:
        closed = closed_form_parameters(name, N, kind_inputs(name)[0], m.d_model, m.heads, m.partitions, m.ffn_dim,
                                        m.blocks, m.conv_kernel, m.head_dims, m.classes,
                                        m.pair_hidden if kinds.uses_pair_bias(m) else None, vectors=m.vectors)
        assert closed == sum(r["params"] for r in rows.values())
        assert (closed == model.count_params()) != kinds.get(name).momentum
    for layer in model.layers:
        if getattr(layer, "kind", None):
            macs = layer.attention_shape().macs()
            if kinds.get(name).momentum:  # Wq, Wk, Wv: S^2 + 4 V^2 products of d^2 per particle
                s, v = m.d_model - 4 * m.vectors, m.vectors
                macs["qkv"] = 3 * N * (s * s + 4 * v * v)
            assert rows[layer.name]["macs"] == sum(macs.values())


def test_shape_counts_by_hand():
    """SAL-T n=10, d=8, H=2 (dh=4), p=3 (c=4), 3x3 conv: every MAC term written out."""
    shape = kinds.get("salt").shape(10, 8, {"heads": 2, "partitions": 3, "conv_kernel": (3, 3)})
    assert (shape.m, shape.chunk, shape.projection_terms) == (3, 4, 4)
    assert shape.macs() == {"qkv": 3 * 10 * 64, "projection": 2 * 2 * 3 * 4 * 4, "scores": 2 * 10 * 3 * 4,
                            "conv": 2 * 10 * 3 * 9, "mix": 2 * 10 * 3 * 4}
    assert shape.multiplications() == sum(shape.macs().values()) + 2 * 10 * 3
    lin = kinds.get("linformer").shape(10, 8, {"heads": 2, "projected": 3})
    assert lin.macs()["projection"] == 2 * 2 * 3 * 10 * 4 and lin.conv is None
    full = kinds.get("transformer").shape(10, 8, {"heads": 2})
    assert (full.m, full.macs()["projection"]) == (10, 0)


@pytest.mark.parametrize("name", kinds.NAMES)
def test_conversion_and_estimate_use_the_registry_counts(name, tmp_path):
    """The C++ call is the kind's function with n / P particle groups, and the estimator counts the
    multiplications of the registry's shape (Q, K, V are hls4ml Dense layers: the kernel has the rest)."""
    from l1tag.hardware.estimate import estimate_model
    from l1tag.hls.convert import convert_model

    cfg, model = _model(name)
    converted = convert_model(model, cfg.hls, tmp_path / "hls")
    rows = {r["layer"]: r for r in estimate_model(converted.hls_model)["layers"]}
    source = (tmp_path / "hls" / "firmware" / "myproject.cpp").read_text()
    params = (tmp_path / "hls" / "firmware" / "parameters.h").read_text()
    attention = [layer for layer in model.layers if getattr(layer, "kind", None)]
    assert bool(attention) == kinds.get(name).attention
    for layer in model.layers:  # l1tag's own layers are recognised by the estimator, whatever the backend
        if type(layer).__name__ == "QDynamicTanh" or getattr(layer, "kind", None):
            assert rows[layer.name]["LUT"] > 0 and rows[layer.name]["multiplications"] > 0
    for layer in attention:
        shape = layer.attention_shape()
        assert rows[layer.name]["multiplications"] == shape.multiplications() - shape.macs()["qkv"]
        assert sum(rows[f"{layer.name}_{p}"]["multiplications"] for p in "qkv") <= shape.macs()["qkv"]
        bias = "_bias" if kinds.uses_pair_bias(cfg.model) else ""  # the kernel's variant with the score bias
        assert f"{kinds.get(name).cpp_function}{bias}<" in source
        assert f"n_groups = {N // _parallel(name)};" in params


def test_the_linformer_bin_projection_by_hand_and_frozen_in_training():
    """model.projection bins: E = F = block averages (n = 10, k = 3: blocks of 4, 4, 2), not trained."""
    import numpy as np

    from l1tag.kinds.linformer import bin_projection

    e = bin_projection(2, 3, 10)
    np.testing.assert_array_equal(e[1, 0], [0.25] * 4 + [0] * 6)
    np.testing.assert_array_equal(e[0, 2], [0] * 8 + [0.5] * 2)
    assert np.array_equal(e[0], e[1]) and bin_projection(1, 4, 2)[0, 2:].sum() == 0  # more blocks than particles
    cfg = config_from_dict({"name": "k", "data": {"constituents": N},
                            "model": {"type": "linformer", "projection": "bins", **TINY}})
    model = build_model(cfg.model, N, FEATURES, cfg.quantization)
    (layer,) = [layer for layer in model.layers if getattr(layer, "kind", None) == "linformer"]
    assert not layer.eproj.trainable and not any(w is layer.eproj for w in model.trainable_weights)
    np.testing.assert_array_equal(layer.eproj.numpy(), bin_projection(2, 3, N))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(32, N, FEATURES)).astype("float32")
    model.fit(x, np.arange(32) % 5, epochs=1, verbose=0)
    np.testing.assert_array_equal(layer.fproj.numpy(), bin_projection(2, 3, N))  # still the averages
    learned = build_model(config_from_dict({"name": "k", "data": {"constituents": N},
                                            "model": {"type": "linformer", **TINY}}).model, N, FEATURES)
    assert learned.count_params() == model.count_params()  # the same weights, only frozen
    assert sum(int(np.prod(w.shape)) for w in learned.trainable_weights) - \
        sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 2 * 2 * 3 * N
