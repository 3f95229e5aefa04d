"""Quantized attention layers: SAL-T partitioned, Linformer and full multi-head attention.

All three share one structure, so that one firmware kernel family and one fixed-point reference
serve them (``firmware_templates/l1tag_attention.h``, ``l1tag/ops/attention.py``)::

    Q, K, V = q_qkv(X Wq), q_qkv(X Wk), q_qkv(X Wv)             X: (n, d), heads of depth dh = d / H
    K', V'  = q_qkv(project(K)), q_qkv(project(V))              SAL-T: partition collapse; Linformer: E K, F V;
                                                                full attention: K' = K, V' = V
    S       = q_score(Q K'^T * 2^-s [+ U'])                     (n, m) per head, m = p or n; U: an optional
                                                                second input (heads, n, n), a score bias
                                                                (ParT's pair bias, l1tag/ops/pair_bias.py);
                                                                U' = U (full attention), or reduced over the
                                                                key particles as K' is (SAL-T)
    S       = q_score(conv(S))                                  SAL-T only: depthwise 2-D conv over (n, m, H)
    A       = q_softmax(softmax over m)
    O       = q_out(A V')                                       heads concatenated -> (n, d)

The score scale is 1/sqrt(dh) rounded to a power of two, 2^-s with s = round(log2(dh) / 2)
(``l1tag.kinds.score_shift``), so that the firmware applies it as a shift (exact for dh = 4, 16, 64).
Each layer's ``kind`` is its name in the registry of kinds (``l1tag/kinds/``), which holds its shape,
costs, firmware call and fixed-point reference.

Quantizers are QKeras quantizer strings (``"quantized_bits(8,0,alpha=1)"``) or None (float), written
out in ``get_config`` so that hls4ml and the fixed-point reference read the same precision.
Weights are named so that none contains another (hls4ml's weight reader matches substrings).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
from qkeras.quantizers import get_quantizer

from l1tag.numerics.tables import DEFAULT_TABLE_SIZE
from l1tag.kinds import AttentionShape, get, score_shift
from l1tag.models.layers import firmware_ops
from l1tag.models.layers.hetero import PerWeightBits
from l1tag.models.layers.score_conv import QAttentionScoreConv
from l1tag.numerics.fixed_point import from_qkeras

def _identity(x):
    return x


class QAttentionBase(PerWeightBits, tf.keras.layers.Layer):
    """Shared projections, quantizers and softmax mixing; subclasses define ``_project`` and ``_extra``.

    ``qkv_fbits`` (heterogeneous mode): Wq, Wk, Wv each weight its own fractional bits, starting there,
    with the EBOPs term for ``input_bits``-wide inputs (l1tag/models/layers/hetero.py); the kind's own
    weights keep ``kernel_quantizer``."""

    kind = ""  # the registry name (l1tag/kinds/<kind>.py)

    def __init__(self, heads: int, kernel_quantizer=None, qkv_quantizer=None, score_quantizer=None,
                 softmax_quantizer=None, output_quantizer=None, table_size: int = DEFAULT_TABLE_SIZE,
                 qkv_fbits: float | None = None, input_bits: int = 8, **kwargs):
        super().__init__(**kwargs)
        self.qkv_fbits = None if qkv_fbits is None else float(qkv_fbits)
        self.input_bits = int(input_bits)
        self.heads = int(heads)
        self.table_size = int(table_size)
        self.quantizer_strings = {
            "kernel_quantizer": kernel_quantizer, "qkv_quantizer": qkv_quantizer,
            "score_quantizer": score_quantizer, "softmax_quantizer": softmax_quantizer,
            "output_quantizer": output_quantizer,
        }
        self.q = {k: (get_quantizer(v) if v else _identity) for k, v in self.quantizer_strings.items()}
        # quantized: the firmware's table softmax (l1tag/numerics/tables.py), float softmax's gradient
        self._softmax_types = None
        # an ablation (l1tag/report/attention_study.py): fixed weights (heads, n, m) used in place of the
        # softmax for every jet; never saved with the model
        self.fixed_attention = None
        if score_quantizer and softmax_quantizer:
            self._softmax_types = (from_qkeras(score_quantizer, f"{self.name}: score_quantizer"),
                                   from_qkeras(softmax_quantizer, f"{self.name}: softmax_quantizer"))

    # -- weights ------------------------------------------------------------------------------
    def build(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and isinstance(input_shape[0], (list, tuple, tf.TensorShape)):
            input_shape = input_shape[0]  # [X, U]: the particles and a score bias
        n, d = int(input_shape[-2]), int(input_shape[-1])
        if d % self.heads:
            raise ValueError(f"{self.name}: width {d} is not divisible by heads={self.heads}")
        self.n, self.d, self.head_dim = n, d, d // self.heads
        # one initializer instance per weight: a shared unseeded instance returns identical values
        for name in ("wq", "wk", "wv"):
            setattr(self, name, self.add_weight(name=name, shape=(d, d), constraint=self._qkv_constraint(name),
                                                initializer=tf.keras.initializers.GlorotUniform()))
        if self.qkv_fbits is not None:
            for name in ("wq", "wk", "wv"):
                self.add_bits(name, getattr(self, name), self.qkv_fbits)
            self.add_resource_term(self.input_bits, n, 0.0)
        self._build_extra()
        super().build(input_shape)

    def _build_extra(self) -> None:
        """Type-specific weights (projections, convolution)."""

    def _qkv_constraint(self, name: str):
        """A Keras constraint on Wq, Wk or Wv (``name``), or None (free weights)."""
        return None

    def kernel(self, w):
        """The weight as the firmware sees it (quantized)."""
        return self.q["kernel_quantizer"](w)

    def qkv_weights(self, training=None) -> dict:
        """Wq, Wk, Wv as the firmware sees them: each weight rounded to its own bits (heterogeneous), or
        ``kernel_quantizer``'s."""
        if self.hetero_names:
            return {name: self.rounded(name, training) for name in ("wq", "wk", "wv")}
        return {name: self.kernel(getattr(self, name)) for name in ("wq", "wk", "wv")}

    # -- forward ------------------------------------------------------------------------------
    def _heads(self, x):  # (B, n, d) -> (B, H, n, dh)
        b = tf.shape(x)[0]
        return tf.transpose(tf.reshape(x, (b, -1, self.heads, self.head_dim)), (0, 2, 1, 3))

    def _project(self, k, v):
        """(B, H, n, dh) K and V -> K', V' of shape (B, H, m, dh)."""
        return k, v

    def _project_bias(self, u):
        """A score bias (B, H, n, n) over particle pairs -> (B, H, n, m) over the keys (the kind's
        ``project_bias``); full attention: U."""
        return u

    def _conv(self, s):
        return s

    def scores(self, x, training=None, bias=None):
        """Attention scores before the softmax and the SAL-T convolution, (B, H, n, m), and V'; ``bias``: a
        score bias (B, H, n, m) added before the score quantizer."""
        qkv = self.q["qkv_quantizer"]
        w = self.qkv_weights(training)
        if training and self.hetero_names:
            self.add_ebops_loss(w)
        q = qkv(self._heads(tf.matmul(x, w["wq"])))
        k = qkv(self._heads(tf.matmul(x, w["wk"])))
        v = qkv(self._heads(tf.matmul(x, w["wv"])))
        kp, vp = self._project(k, v)
        kp, vp = qkv(kp), qkv(vp)
        s = tf.matmul(q, kp, transpose_b=True) * 2.0 ** -score_shift(self.head_dim)
        if bias is not None:
            s = s + self._project_bias(bias)
        return self.q["score_quantizer"](s), vp

    def softmax(self, s):
        """The float softmax, or (quantized) the firmware's table softmax with the float gradient."""
        if self._softmax_types is None:
            return self.q["softmax_quantizer"](tf.nn.softmax(s, axis=-1))
        m = s.shape[-1] if s.shape[-1] is not None else self.n  # full attention: the n keys
        return firmware_ops.table_softmax(s, *self._softmax_types, self.table_size, int(m))

    @staticmethod
    def _inputs(inputs):
        """x, or [x, U] -> (x, U or None)."""
        if isinstance(inputs, (list, tuple)):
            return inputs[0], inputs[1]
        return inputs, None

    def call(self, inputs, training=None):
        x, bias = self._inputs(inputs)
        s, vp = self.scores(x, training, bias)
        s = self._conv(s)
        if self.fixed_attention is None:
            a = self.softmax(s)
        else:
            a = tf.broadcast_to(tf.constant(self.fixed_attention, s.dtype), tf.shape(s))
        o = self.q["output_quantizer"](tf.matmul(a, vp))  # (B, H, n, dh)
        b = tf.shape(x)[0]
        return tf.reshape(tf.transpose(o, (0, 2, 1, 3)), (b, -1, self.d))

    def attention_maps(self, inputs) -> dict[str, np.ndarray]:
        """Per-head maps for plots: scores before and after the convolution, and the softmax output."""
        x, bias = self._inputs(inputs)
        raw, _ = self.scores(x, None, bias)
        conv = self._conv(raw)
        soft = self.softmax(conv)
        return {"scores": raw.numpy(), "scores_conv": conv.numpy(), "softmax": soft.numpy()}

    def compute_output_shape(self, input_shape):
        return input_shape[0] if isinstance(input_shape, list) else input_shape

    def attention_shape(self) -> AttentionShape:
        """Shape and multiplication counts of this (built) layer, from the registry."""
        return get(self.kind).shape(self.n, self.d, self.get_config())

    def get_config(self):
        return {**super().get_config(), "heads": self.heads, **self.quantizer_strings, "table_size": self.table_size,
                "qkv_fbits": self.qkv_fbits, "input_bits": self.input_bits}


@tf.keras.utils.register_keras_serializable(package="l1tag")
class QPartitionedAttention(QAttentionBase):
    """SAL-T linear partitioned multi-head attention (LPP-MHA) with the attention-score convolution.

    The n (kT-sorted) particles are cut into p contiguous partitions of c = ceil(n / p) rows (zero
    padded to p * c); each partition is collapsed by learned per-head weights:
    K'[h, j] = sum_{l<c} wK[h, j, l] K[h, j*c + l]  (V' likewise with wV).  Scores are (n, p) per head.
    """

    kind = "salt"

    def __init__(self, heads: int, partitions: int, conv_kernel=(3, 3), conv_quantizer=None,
                 conv_bias_quantizer=None, **kwargs):
        super().__init__(heads, **kwargs)
        self.partitions = int(partitions)
        self.conv_kernel = tuple(int(k) for k in conv_kernel) if conv_kernel else None
        self.conv_quantizer = conv_quantizer
        self.conv_bias_quantizer = conv_bias_quantizer

    def _build_extra(self) -> None:
        self.chunk = math.ceil(self.n / self.partitions)
        shape = (self.heads, self.partitions, self.chunk)
        self.kpart = self.add_weight(name="kpart", shape=shape,
                                     initializer=tf.keras.initializers.RandomUniform(0.0, 2.0 / self.chunk))
        self.vpart = self.add_weight(name="vpart", shape=shape,
                                     initializer=tf.keras.initializers.RandomUniform(0.0, 2.0 / self.chunk))
        self.score_conv = None
        if self.conv_kernel:
            self.score_conv = QAttentionScoreConv(
                self.conv_kernel, kernel_quantizer=self.conv_quantizer, bias_quantizer=self.conv_bias_quantizer,
                name="score_conv")
            self.score_conv.build((None, self.n, self.partitions, self.heads))

    def _collapse(self, t, w):
        """(B, H, n, x) -> (B, H, p, x) by the per-head partition weights w (H, p, c).  x is U's query axis when
        collapsing the bias, unknown to a graph traced from a Keras Sequence (train.augment): read at run time."""
        pad = self.partitions * self.chunk - self.n
        t = tf.pad(t, [[0, 0], [0, 0], [0, pad], [0, 0]])
        x = t.shape[-1] if t.shape[-1] is not None else tf.shape(t)[-1]
        t = tf.reshape(t, (-1, self.heads, self.partitions, self.chunk, x))
        return tf.einsum("bhjld,hjl->bhjd", t, self.kernel(w))

    def _project(self, k, v):
        return self._collapse(k, self.kpart), self._collapse(v, self.vpart)

    def _project_bias(self, u):
        """U'[h, i, j] = sum_l wK[h, j, l] U[h, i, j c + l]: the keys' collapse on U's key axis
        (l1tag/kinds/salt.py ``project_bias``)."""
        return tf.transpose(self._collapse(tf.transpose(u, (0, 1, 3, 2)), self.kpart), (0, 1, 3, 2))

    def _conv(self, s):
        if self.score_conv is None:
            return s
        y = self.score_conv(tf.transpose(s, (0, 2, 3, 1)))  # (B, n, p, H): heads are the channels
        return self.q["score_quantizer"](tf.transpose(y, (0, 3, 1, 2)))

    def get_config(self):
        return {**super().get_config(), "partitions": self.partitions, "conv_kernel": self.conv_kernel,
                "conv_quantizer": self.conv_quantizer, "conv_bias_quantizer": self.conv_bias_quantizer}


@tf.keras.utils.register_keras_serializable(package="l1tag")
class QLinformerAttention(QAttentionBase):
    """Linformer attention: K' = E K and V' = F V with dense learned E, F of shape (H, k, n)."""

    kind = "linformer"

    def __init__(self, heads: int, projected: int, fixed: bool = False, **kwargs):
        super().__init__(heads, **kwargs)
        self.projected = int(projected)
        self.fixed = bool(fixed)  # model.projection bins: E, F the block averages, not trained

    def _build_extra(self) -> None:
        from l1tag.kinds.linformer import bin_projection

        shape = (self.heads, self.projected, self.n)
        if self.fixed:
            init = tf.keras.initializers.Constant(bin_projection(self.heads, self.projected, self.n))
        else:
            lim = 1.0 / math.sqrt(self.n)
            init = tf.keras.initializers.RandomUniform(-lim, lim)
        self.eproj = self.add_weight(name="eproj", shape=shape, initializer=init, trainable=not self.fixed)
        self.fproj = self.add_weight(name="fproj", shape=shape, initializer=init, trainable=not self.fixed)

    def _project(self, k, v):
        return (tf.einsum("hjn,bhnd->bhjd", self.kernel(self.eproj), k),
                tf.einsum("hjn,bhnd->bhjd", self.kernel(self.fproj), v))

    def get_config(self):
        return {**super().get_config(), "projected": self.projected, "fixed": self.fixed}


@tf.keras.utils.register_keras_serializable(package="l1tag")
class QMultiHeadAttention(QAttentionBase):
    """Full multi-head self-attention: (n x n) scores per head; cost grows as n^2."""

    kind = "transformer"


@tf.keras.utils.register_keras_serializable(package="l1tag")
class QParTAttention(QMultiHeadAttention):
    """Full multi-head self-attention whose scores always take ParT's pair bias (the layer's second input)."""

    kind = "part"


@tf.keras.utils.register_keras_serializable(package="l1tag")
class QLorentzAttention(QMultiHeadAttention):
    """Minkowski-inner-product attention (L-GATr-slim, l1tag/kinds/lgatr_slim.py): full attention on a stream
    of ``vectors`` Lorentz vectors and scalars per particle, Wq and Wv tied equivariantly, Wk with the metric
    folded in, so that Q K^T sums each head's scalar products and Minkowski products."""

    kind = "lgatr_slim"

    def __init__(self, heads: int, vectors: int, **kwargs):
        super().__init__(heads, **kwargs)
        self.vectors = int(vectors)

    def _qkv_constraint(self, name: str):
        from l1tag.kinds.lgatr_slim import LINEAR, METRIC_KEY, Layout, kernel_tying
        from l1tag.models.layers.lorentz import TiedWeights

        layout = Layout(self.d - 4 * self.vectors, self.vectors, self.heads)
        return TiedWeights(*kernel_tying(layout, layout, METRIC_KEY if name == "wk" else LINEAR))

    def get_config(self):
        return {**super().get_config(), "vectors": self.vectors}


@tf.keras.utils.register_keras_serializable(package="l1tag")
class AttentionCore(tf.keras.layers.Layer):
    """What l1tag's attention kernel computes, for the model handed to hls4ml: [Q, K, V] -> output.

    The lowering (``l1tag/hls/lower.py``) splits each attention layer into three Dense layers (Q, K, V:
    constant weights, so hls4ml's strategies apply to them) and this core. It carries the kind, the
    quantizer strings and the kind's projection / convolution weights under their Keras names; its
    ``call`` only gives hls4ml the output shape (the firmware's numbers come from the NumPy reference).
    """

    def __init__(self, kind: str, attention_config: dict, weight_shapes: dict, **kwargs):
        super().__init__(**kwargs)
        self.kind = kind
        self.attention_config = dict(attention_config)
        self.weight_shapes = {k: tuple(v) for k, v in weight_shapes.items()}

    def build(self, input_shape):
        for name, shape in self.weight_shapes.items():  # the kind's weights, by their Keras names
            setattr(self, name, self.add_weight(name=name, shape=shape, initializer="zeros", trainable=False))
        super().build(input_shape)

    def call(self, inputs):
        return inputs[0]

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "attention_config": self.attention_config,
                "weight_shapes": {k: list(v) for k, v in self.weight_shapes.items()}}
