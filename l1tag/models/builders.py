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
    square: str | None = None  # lgatr_slim's squared vector components: the activation's product, 4 bits narrower
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
            square=f"quantized_bits({q.activations.bits + 4},{2 * q.activations.integer + 1},alpha=1)",
            ternary=dict(ternary_scales or {}) if q.mode == TERNARY else None, ternary_latent=ternary_latent,
            low_rank=dict(low_rank) if low_rank else None,
        )


def _act(x, quantizer: str | None, name: str, relu: bool):
    if quantizer is None:  # the float twin: a plain Keras activation (no weights, so weight order is kept)
        return tf.keras.layers.Activation("relu" if relu else "linear", name=name)(x)
    return QActivation(quantizer, name=name)(x)


def _linear(x, units: int, qz: Quantizers, name: str, input_bits: int, tie=None):
    """QDense, or in heterogeneous mode HQDense (every weight its own fractional bits); a layer of learned low
    rank r as ``<name>_a`` (r outputs, in the activation type) then ``<name>`` (l1tag/models/low_rank.py).
    ``tie``: (kernel, bias) constraints of an equivariant layer (lgatr_slim)."""
    if qz.low_rank and name in qz.low_rank:
        x = QDense(qz.low_rank[name], kernel_quantizer=qz.weight, bias_quantizer=qz.bias, name=f"{name}_a")(x)
        x = _act(x, qz.act, f"{name}_a_act", relu=False)
    if qz.hetero_fbits is None:
        kernel_c, bias_c = tie or (None, None)
        return QDense(units, kernel_quantizer=qz.weight_for(name), bias_quantizer=qz.bias, name=name,
                      kernel_constraint=kernel_c, bias_constraint=bias_c)(x)
    return HQDense(units, kernel_fbits=qz.hetero_fbits, bias_quantizer=qz.bias, input_bits=input_bits, name=name)(x)


def _dense(x, units: int, qz: Quantizers, name: str, relu: bool, input_bits: int = 0, tie=None):
    x = _linear(x, units, qz, name, input_bits or qz.act_bits, tie)
    return _act(x, qz.relu if relu else qz.act, f"{name}_act", relu)


def _tied(x, into, out, rule: str, qz: Quantizers, name: str, relu: bool, rows=None, input_bits: int = 0,
          time_reference: bool = False):
    """An equivariant Dense (l1tag/kinds/lgatr_slim.py) from layout ``into`` to ``out`` under ``rule``; ``rows``:
    the input columns in ``into``'s order (the embedding reads the features as the data stage orders them)."""
    from l1tag.kinds.lgatr_slim import bias_tying, kernel_tying
    from l1tag.models.layers.lorentz import TiedWeights

    group, sign = kernel_tying(into, out, rule, time_reference)
    if rows is not None:  # row r of the layout's kernel is input column rows[r]
        group[rows], sign[rows] = group.copy(), sign.copy()
    tie = (TiedWeights(group, sign), TiedWeights(*bias_tying(out, rule, into, time_reference)))
    return _dense(x, out.width, qz, name, relu, input_bits, tie)


def _lgatr_slim(x, model_cfg, qz: Quantizers, table_size: int, features):
    """L-GATr-slim's embedding, blocks and invariant readout (l1tag/kinds/lgatr_slim.py): per block
    x += Attention(x), then x += down_s(h) + down_v(relu(g) (.) v), with v = up_v(x), g = gate(x) and the
    hidden scalars h = relu(up_s(x) + norm(v (.) v)); every sum cast to the activation type."""
    from l1tag.data.features import momentum_columns
    from l1tag.kinds.lgatr_slim import CONTRACT, GATE, LINEAR, Layout, input_layout, stream_layout

    def residual(a, b, name):
        return _act(tf.keras.layers.Add(name=name)([a, b]), qz.act, f"{name}_act", relu=False)

    p4 = momentum_columns(features)
    if p4 is None:
        raise ValueError(f"model.type {model_cfg.type} reads a four-momentum; none in the features {list(features)}")
    into, rows = input_layout(len(features), p4)
    stream = stream_layout(model_cfg)
    vec, scal = Layout(0, model_cfg.vectors), Layout(model_cfg.ffn_dim, 0)
    x = _tied(x, into, stream, LINEAR, qz, "embed", relu=False, rows=rows, input_bits=qz.input_bits,
              time_reference=True)
    kind = kinds.get(model_cfg.type)
    for b in range(model_cfg.blocks):
        a = _attention(kind, model_cfg, qz, f"att{b}", table_size)(x)
        x = residual(x, a, f"att{b}_add")
        v = _tied(x, stream, vec, LINEAR, qz, f"ffn{b}_vec", relu=False)
        sq = tf.keras.layers.Multiply(name=f"ffn{b}_square")([v, v])
        sq = _act(sq, qz.square, f"ffn{b}_square_act", relu=False)
        norm = _tied(sq, vec, scal, CONTRACT, qz, f"ffn{b}_norm", relu=False)
        h = tf.keras.layers.Add(name=f"ffn{b}_hidden")([_tied(x, stream, scal, LINEAR, qz, f"ffn{b}_up", relu=False),
                                                         norm])
        h = _act(h, qz.relu, f"ffn{b}_hidden_relu", relu=True)
        g = _tied(x, stream, vec, GATE, qz, f"ffn{b}_gate", relu=True)
        gv = _act(tf.keras.layers.Multiply(name=f"ffn{b}_gated")([g, v]), qz.act, f"ffn{b}_gated_act", relu=False)
        f = residual(_tied(h, scal, stream, LINEAR, qz, f"ffn{b}_down_s", relu=False),
                     _tied(gv, vec, stream, LINEAR, qz, f"ffn{b}_down_v", relu=False), f"ffn{b}_down")
        x = residual(x, f, f"ffn{b}_add")
    return _tied(x, stream, Layout(model_cfg.d_model, 0), LINEAR, qz, "readout", relu=True)


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
    if kind.momentum:
        if normalisation is None:
            raise ValueError(f"model.type {model_cfg.type} reads the four-momentum: build_model needs the data "
                             f"stage's normalisation (features, center, scale) to find E, px, py, pz")
        x = _lgatr_slim(x, model_cfg, qz, table_size, normalisation[0])
    elif not kind.attention:
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
    model = tf.keras.Model(inp, out, name=name or model_cfg.type)
    if kind.momentum:
        from l1tag.models.layers.lorentz import tie_all

        tie_all(model)  # the initial weights on the tie too
        for layer in model.layers:  # the gates open: relu(1) passes the vectors (relu(0) would never learn)
            if layer.name.endswith("_gate"):
                layer.bias.assign(tf.ones_like(layer.bias))
    return model


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
