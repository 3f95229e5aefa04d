"""ParT's pairwise score bias as a QKeras layer: constituents (n, F) -> U (heads, n, n).

Quantized, its forward pass is the fixed-point reference of ``l1tag/numerics/pair_features.py`` and
``l1tag/ops/pair_bias.py`` (the same casts, the same shift-and-add logarithms): read it there.  Float (no
quantizers), the same formulas without the casts, with pT and dR^2 floored at the quantized version's smallest
values.  The logarithms read only the inputs
and carry no gradient; the embedding (weights pw1, pb1 and, with a hidden layer, pw2, pb2) trains with
QKeras' straight-through quantizers.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
from qkeras.quantizers import get_quantizer

from l1tag.models.layers import firmware_ops
from l1tag.numerics.pair_features import PAIR_FEATURES, PairBiasSpec, diff_type, pair_bias_spec


FLOAT_PT_FLOOR = 2.0**-8  # the float twin's floor of pT / scale_pt: one lsb of the default input type


def _identity(x):
    return x


@tf.keras.utils.register_keras_serializable(package="l1tag")
class QPairBias(tf.keras.layers.Layer):
    """The bias U of every particle pair and head, from the pT, etarel, phirel columns of the input.

    ``center``, ``scale``: the data stage's normalisation of those three columns; ``input_quantizer``: the
    model input's (the type the features are read in); ``pair_bits``: the width of d eta', d phi';
    ``hidden``: units of a ReLU layer between the features and the heads (0: linear)."""

    def __init__(self, heads: int, columns, center, scale, hidden: int = 0, pair_bits: int = 12,
                 mantissa_bits: int = 5, input_quantizer=None, feature_quantizer=None, kernel_quantizer=None,
                 bias_quantizer=None, hidden_quantizer=None, score_quantizer=None, **kwargs):
        super().__init__(**kwargs)
        self.heads, self.hidden = int(heads), int(hidden)
        self.columns = tuple(int(c) for c in columns)
        self.center = tuple(float(c) for c in center)
        self.scale = tuple(float(s) for s in scale)
        self.pair_bits, self.mantissa_bits = int(pair_bits), int(mantissa_bits)
        self.quantizer_strings = {"input_quantizer": input_quantizer, "feature_quantizer": feature_quantizer,
                                  "kernel_quantizer": kernel_quantizer, "bias_quantizer": bias_quantizer,
                                  "hidden_quantizer": hidden_quantizer, "score_quantizer": score_quantizer}
        self.quantized = bool(input_quantizer)
        self.q = {k: (get_quantizer(v) if v else _identity) for k, v in self.quantizer_strings.items()}

    def build(self, input_shape):
        self.n, self.n_feat = int(input_shape[-2]), int(input_shape[-1])
        width = self.hidden or self.heads
        def init():  # U starts near 0, attention as without it; one instance per weight (else equal values)
            return tf.keras.initializers.RandomUniform(-0.05, 0.05)

        self.pw1 = self.add_weight(name="pw1", shape=(len(PAIR_FEATURES), width), initializer=init())
        self.pb1 = self.add_weight(name="pb1", shape=(width,), initializer="zeros")
        if self.hidden:
            self.pw2 = self.add_weight(name="pw2", shape=(self.hidden, self.heads), initializer=init())
            self.pb2 = self.add_weight(name="pb2", shape=(self.heads,), initializer="zeros")
        self._spec = pair_bias_spec(self.get_config(), self.n, self.n_feat) if self.quantized else None  # not traced
        super().build(input_shape)

    # -- the spec of the fixed-point reference -----------------------------------------------------
    def spec(self) -> PairBiasSpec:
        """The layer's fixed-point description (quantized layers only; built with the layer)."""
        return self._spec

    def weights_on_grid(self) -> dict[str, np.ndarray]:
        """pw1, pb1 (pw2, pb2) as the firmware holds them."""
        names = ("pw1", "pb1", "pw2", "pb2") if self.hidden else ("pw1", "pb1")
        return {k: self._weight(k).numpy() for k in names}

    # -- forward ----------------------------------------------------------------------------------
    def features(self, x):
        """The four log2 pair features (B, n, n, 4), float64."""
        pt, eta, phi = (tf.cast(x[..., c], tf.float64) for c in self.columns)
        diff_t = diff_type(self.scale[1], self.scale[2], self.pair_bits)
        log2_scale = math.log2(self.scale[0])
        d_eta, d_phi = eta[:, :, None] - eta[:, None, :], phi[:, :, None] - phi[:, None, :]
        if self.quantized:
            spec = self._spec
            c = spec.constants()
            p = firmware_ops.quantize(pt + c["pt_offset"], spec.pt_t)
            lp = firmware_ops.table_log2(p, spec.pt_t, self.mantissa_bits) + c["log2_pt_scale"]
            ls = firmware_ops.table_log2(p[:, :, None] + p[:, None, :], spec.ptsum_t,
                                         self.mantissa_bits) + c["log2_pt_scale"]
            d_eta, d_phi = firmware_ops.quantize(d_eta, diff_t), firmware_ops.quantize(d_phi, diff_t)
            r2 = c["coef_eta"] * d_eta**2 + c["coef_phi"] * d_phi**2
            lr2 = firmware_ops.table_log2(r2, spec.r2_t, self.mantissa_bits)
        else:  # the same quantities in float, floored where the quantized layer floors them
            pt_lsb = FLOAT_PT_FLOOR
            lp = tf.math.log(tf.maximum(pt + self.center[0] / self.scale[0], pt_lsb)) / math.log(2.0) + log2_scale
            pair = tf.maximum(pt[:, :, None] + pt[:, None, :] + 2 * self.center[0] / self.scale[0], pt_lsb)
            ls = tf.math.log(pair) / math.log(2.0) + log2_scale
            r2 = self.scale[1] ** 2 * d_eta**2 + self.scale[2] ** 2 * d_phi**2
            floor = (min(self.scale[1], self.scale[2]) * diff_t.lsb) ** 2
            lr2 = tf.math.log(tf.maximum(r2, floor)) / math.log(2.0)
        low = tf.minimum(lp[:, :, None], lp[:, None, :])
        f = tf.stack([lr2 / 2, low + lr2 / 2, low - ls, lp[:, :, None] + lp[:, None, :] + lr2], axis=-1)
        if self.quantized:
            f = firmware_ops.quantize(f, self._spec.feat_t)
        return tf.stop_gradient(f)

    def _cast(self, v, key: str):
        """The ap_fixed cast of the quantizer ``key`` on a float64 tensor (exact: the sums before it need
        more than float32's 24 bits), with a straight-through gradient; float layers: none."""
        if not self.quantized:
            return v
        t = {"hidden_quantizer": self._spec.hidden_t, "score_quantizer": self._spec.score_t}[key]
        return v + tf.stop_gradient(firmware_ops.quantize(v, t) - v)

    def _weight(self, name: str):
        key = "bias_quantizer" if name.startswith("pb") else "kernel_quantizer"
        return tf.cast(self.q[key](getattr(self, name)), tf.float64)

    def call(self, x):
        f = self.features(x)
        u = tf.einsum("bijf,fk->bijk", f, self._weight("pw1")) + self._weight("pb1")
        if self.hidden:
            h = self._cast(tf.nn.relu(u), "hidden_quantizer")
            u = tf.einsum("bijk,kh->bijh", h, self._weight("pw2")) + self._weight("pb2")
        u = tf.cast(self._cast(u, "score_quantizer"), tf.float32)
        return tf.transpose(u, (0, 3, 1, 2))  # (B, heads, n, n)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.heads, input_shape[-2], input_shape[-2])

    def get_config(self):
        return {**super().get_config(), "heads": self.heads, "columns": list(self.columns),
                "center": list(self.center), "scale": list(self.scale), "hidden": self.hidden,
                "pair_bits": self.pair_bits, "mantissa_bits": self.mantissa_bits, **self.quantizer_strings}


@tf.keras.utils.register_keras_serializable(package="l1tag")
class PairBiasCore(tf.keras.layers.Layer):
    """What l1tag's pair-bias kernel computes, for the model handed to hls4ml: constituents -> U (heads, n, n).

    The lowering (``l1tag/ops/pair_bias.py``) replaces each QPairBias by this layer, which carries the
    layer's config (normalisation, types) and its embedding weights; its ``call`` only gives hls4ml the
    output shape (the firmware's numbers come from the NumPy reference)."""

    def __init__(self, pair_config: dict, weight_shapes: dict, **kwargs):
        super().__init__(**kwargs)
        self.pair_config = dict(pair_config)
        self.weight_shapes = {k: tuple(v) for k, v in weight_shapes.items()}

    def build(self, input_shape):
        for name, shape in self.weight_shapes.items():
            setattr(self, name, self.add_weight(name=name, shape=shape, initializer="zeros", trainable=False))
        super().build(input_shape)

    def call(self, x):
        n, heads = int(x.shape[-2]), int(self.pair_config["heads"])
        return tf.zeros(tf.stack([tf.shape(x)[0], heads, n, n]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], int(self.pair_config["heads"]), input_shape[-2], input_shape[-2])

    def get_config(self):
        return {**super().get_config(), "pair_config": self.pair_config,
                "weight_shapes": {k: list(v) for k, v in self.weight_shapes.items()}}
