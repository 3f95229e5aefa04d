"""Taggers from the config: SAL-T, Linformer, Transformer, ParT-style (attention blocks) and Deep Sets.

Attention taggers (../shared/reference/models.md)::

    input (n, F) -> q_in -> Dense(d) relu                                   embedding, per particle
    blocks x [ x = DyT(x + Attention(x));  x = DyT(x + Dense(d)(relu(Dense(d_ff)(x)))) ]
    max/mean pool over particles -> [Dense(h) relu]* -> Dense(classes) -> softmax

Deep Sets: input -> [Dense(w) relu]* per particle -> pool -> [Dense(h) relu]* -> Dense(classes) -> softmax.

With ``model.pair_bias`` (and always for ``part``, ParT), U = PairBias(q_in(input)) (heads, n, n) is computed
once from the quantized inputs and added to the scores of every block's attention (l1tag/ops/pair_bias.py).

With ``quant=None`` every quantizer is off (the float twin); with a QuantizationConfig the same graph
(same layers, same weight order) is built with QKeras quantizers everywhere the firmware rounds, so the
QAT model can start from the float weights with ``set_weights``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from qkeras import QActivation, QDense

from l1tag import kinds
from l1tag.numerics.tables import DEFAULT_TABLE_SIZE
from l1tag.config import HETEROGENEOUS, PAIR_FEATURE_COLUMNS, TERNARY
from l1tag.models.layers import HQDense, QDynamicTanh, attention_layer
from l1tag.models.layers.pair_bias import QPairBias
from l1tag.models.ternary import DEFAULT_SCALE, ternary_quantizer


@dataclass(frozen=True)
class Quantizers:
    """QKeras quantizer strings per tensor class (None everywhere for the float twin)."""

    input: str | None = None
    weight: str | None = None
    bias: str | None = None
    relu: str | None = None  # activation after a ReLU (unsigned)
    act: str | None = None  # signed intermediate activations (Q, K, V, attention output, residual sums)
    unit: str | None = None  # values in [-1, 1]: DynamicTanh outputs
    score: str | None = None
    softmax: str | None = None
    pair_features: str | None = None
    # heterogeneous mode: the Dense kernels' starting fractional bits and the input widths (None: uniform)
    hetero_fbits: float | None = None
    input_bits: int = 0
    act_bits: int = 0
    # ternary mode: layer name -> its scale s (weights -s, 0, +s; l1tag/models/ternary.py), else None
    ternary: dict | None = None
    ternary_latent: bool = False  # PARQ's training twin: those kernels unrounded (its proximal step rounds them)
    # learned low rank (train.low_rank): Dense layer name -> its rank r (two layers d_in -> r -> d_out), else None
    low_rank: dict | None = None

    def weight_for(self, layer: str) -> str | None:
        """The kernel quantizer of ``layer``: its ternary one in ternary mode (none in PARQ's twin), else
        ``weight``."""
        if self.ternary is None:
            return self.weight
        return None if self.ternary_latent else ternary_quantizer(self.ternary.get(layer, DEFAULT_SCALE))

    @classmethod
    def from_config(cls, q, ternary_scales: dict | None = None, ternary_latent: bool = False,
                    low_rank: dict | None = None) -> "Quantizers":
        """QuantizationConfig -> quantizer strings (quantized_bits(b, i) is ap_fixed<b, i+1> in hls4ml)."""
        if q is None or not q.enabled:
            return cls()

        def bits(c, unsigned: bool = False, integer: int | None = None):
            i = c.integer if integer is None else integer
            if unsigned:
                return f"quantized_bits({c.bits},{i},keep_negative=0,alpha=1)"
            return f"quantized_bits({c.bits},{i},alpha=1)"

        hetero = q.mode == HETEROGENEOUS
        return cls(
            hetero_fbits=float(q.weights.bits - q.weights.integer - 1) if hetero else None,
            input_bits=q.input.bits, act_bits=q.activations.bits,
            input=bits(q.input), weight=bits(q.weights), bias=bits(q.bias),
            relu=f"quantized_relu({q.activations.bits},{q.activations.integer})", act=bits(q.activations),
            unit=bits(q.activations, integer=0), score=bits(q.scores), softmax=bits(q.softmax, unsigned=True),
            pair_features=bits(q.pair_features),
            ternary=dict(ternary_scales or {}) if q.mode == TERNARY else None, ternary_latent=ternary_latent,
            low_rank=dict(low_rank) if low_rank else None,
        )


def _act(x, quantizer: str | None, name: str, relu: bool):
    if quantizer is None:  # the float twin: a plain Keras activation (no weights, so weight order is kept)
        return tf.keras.layers.Activation("relu" if relu else "linear", name=name)(x)
    return QActivation(quantizer, name=name)(x)


def _linear(x, units: int, qz: Quantizers, name: str, input_bits: int):
    """QDense, or in heterogeneous mode HQDense (every weight its own fractional bits); a layer of learned low
    rank r as ``<name>_a`` (r outputs, in the activation type) then ``<name>`` (l1tag/models/low_rank.py)."""
    if qz.low_rank and name in qz.low_rank:
        x = QDense(qz.low_rank[name], kernel_quantizer=qz.weight, bias_quantizer=qz.bias, name=f"{name}_a")(x)
        x = _act(x, qz.act, f"{name}_a_act", relu=False)
    if qz.hetero_fbits is None:
        return QDense(units, kernel_quantizer=qz.weight_for(name), bias_quantizer=qz.bias, name=name)(x)
    return HQDense(units, kernel_fbits=qz.hetero_fbits, bias_quantizer=qz.bias, input_bits=input_bits, name=name)(x)


def _dense(x, units: int, qz: Quantizers, name: str, relu: bool, input_bits: int = 0):
    x = _linear(x, units, qz, name, input_bits or qz.act_bits)
    return _act(x, qz.relu if relu else qz.act, f"{name}_act", relu)


def _attention(kind: kinds.Kind, model_cfg, qz: Quantizers, name: str, table_size: int):
    return attention_layer(kind)(
        heads=model_cfg.heads, kernel_quantizer=qz.weight_for(name), qkv_quantizer=qz.act, score_quantizer=qz.score,
        softmax_quantizer=qz.softmax, output_quantizer=qz.act, table_size=table_size, name=name,
        qkv_fbits=qz.hetero_fbits, input_bits=qz.act_bits,
        **kind.layer_arguments(model_cfg, qz.weight, qz.bias))


def _pool(x, pooling: str):
    if pooling == "max":
        return tf.keras.layers.GlobalMaxPooling1D(name="pool")(x)
    return tf.keras.layers.GlobalAveragePooling1D(name="pool")(x)


def _pair_bias(x, model_cfg, qz: Quantizers, normalisation):
    """ParT's score bias U (B, heads, n, n) from the quantized inputs ``x``."""
    if normalisation is None:
        raise ValueError("model.pair_bias reads physical pT, etarel, phirel: build_model needs the data stage's "
                         "normalisation (features, center, scale)")
    features, center, scale = normalisation
    cols = [list(features).index(f) for f in PAIR_FEATURE_COLUMNS]
    return QPairBias(model_cfg.heads, cols, [float(center[c]) for c in cols], [float(scale[c]) for c in cols],
                     hidden=model_cfg.pair_hidden, pair_bits=model_cfg.pair_bits, input_quantizer=qz.input,
                     feature_quantizer=qz.pair_features, kernel_quantizer=qz.weight_for("pair_bias"),
                     bias_quantizer=qz.bias,
                     hidden_quantizer=qz.relu, score_quantizer=qz.score, name="pair_bias")(x)


def build_model(model_cfg, n_constituents: int, n_features: int, quant=None, name: str | None = None,
                table_size: int = DEFAULT_TABLE_SIZE, normalisation=None,
                ternary_scales: dict | None = None, ternary_latent: bool = False,
                low_rank: dict | None = None) -> tf.keras.Model:
    """The tagger of ``model_cfg`` on (n_constituents, n_features) inputs; ``quant`` None -> float.

    Quantized, its softmax and DynamicTanh run through the firmware's tables of ``table_size`` entries
    (``hls.table_size``), so that its forward pass is the firmware's.  ``normalisation``: (features, center,
    scale) of the data stage (``PreparedData``), which the pair bias needs (model.pair_bias).
    ``ternary_scales`` (quantization.mode ternary): layer name -> s, from ``ternary.ternary_scales`` of the
    trained float twin (a layer missing from it: ``ternary.DEFAULT_SCALE``); ``ternary_latent``: PARQ's
    training twin, those layers' kernels unrounded.  ``low_rank``: Dense layer name -> learned rank, from
    ``low_rank.learned_ranks`` of the trained float twin (quantized models only)."""
    qz = Quantizers.from_config(quant, ternary_scales, ternary_latent, low_rank)
    inp = tf.keras.Input((n_constituents, n_features), name="constituents")
    x = _act(inp, qz.input, "input_q", relu=False)
    kind = kinds.get(model_cfg.type)
    bias = _pair_bias(x, model_cfg, qz, normalisation) if kinds.uses_pair_bias(model_cfg) else None
    if not kind.attention:
        for i, w in enumerate(model_cfg.phi_dims):
            x = _dense(x, w, qz, f"phi{i}", relu=True, input_bits=qz.input_bits if i == 0 else 0)
    else:
        d = model_cfg.d_model
        x = _dense(x, d, qz, "embed", relu=True, input_bits=qz.input_bits)
        for b in range(model_cfg.blocks):
            a = _attention(kind, model_cfg, qz, f"att{b}", table_size)(x if bias is None else [x, bias])
            x = tf.keras.layers.Add(name=f"att{b}_add")([x, a])
            x = QDynamicTanh(param_quantizer=qz.bias, output_quantizer=qz.unit, table_size=table_size,
                             name=f"att{b}_dyt")(x)
            f = _dense(x, model_cfg.ffn_dim, qz, f"ffn{b}_up", relu=True)
            f = _dense(f, d, qz, f"ffn{b}_down", relu=False)
            x = tf.keras.layers.Add(name=f"ffn{b}_add")([x, f])
            x = QDynamicTanh(param_quantizer=qz.bias, output_quantizer=qz.unit, table_size=table_size,
                             name=f"ffn{b}_dyt")(x)
    x = _pool(x, model_cfg.pooling)
    for i, h in enumerate(model_cfg.head_dims):
        x = _dense(x, h, qz, f"head{i}", relu=True)
    x = _linear(x, model_cfg.classes, qz, "logits", qz.act_bits)
    out = tf.keras.layers.Activation("softmax", name="softmax")(x)
    return tf.keras.Model(inp, out, name=name or model_cfg.type)


def attention_maps(model: tf.keras.Model, x) -> dict[str, dict[str, np.ndarray]]:
    """Per attention layer, per-head maps for jets ``x``: scores (before and after the SAL-T
    convolution) and softmax weights, each (jets, heads, n, m)."""
    maps = {}
    for layer in model.layers:
        if hasattr(layer, "attention_maps"):
            upstream = tf.keras.Model(model.input, layer.input)
            maps[layer.name] = layer.attention_maps(upstream(x, training=False))
    return maps


def custom_objects() -> dict:
    """Everything Keras needs to load an l1tag model file."""
    from qkeras.utils import _add_supported_quantized_objects

    from l1tag.models import layers

    objs: dict = {}
    _add_supported_quantized_objects(objs)
    objs.update({n: getattr(layers, n) for n in layers.__all__})
    return objs


def load_model(path) -> tf.keras.Model:
    return tf.keras.models.load_model(path, custom_objects=custom_objects(), compile=False)
