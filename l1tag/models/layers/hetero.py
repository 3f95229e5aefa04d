"""Heterogeneous quantization of constant weights: every weight learns its own number of fractional bits.

``PerWeightBits`` gives a layer this for some of its weights: ``HQDense`` (a Dense layer) and the attention
layers' Wq, Wk, Wv (``l1tag/models/layers/attention.py``).  The quantizer is HGQ's (``hgq`` 0.2.6, the
Keras-2 HGQ; ``HGQ.quantizer.HGQ``): one trainable fractional bit count f per weight, the weight rounded to
the nearest multiple of 2^-round(f), and HGQ's surrogate gradient for f.  The layer adds a resource term
to the loss, ``resource_beta x EBOPs``::

    EBOPs = copies x sum_ij  input_bits x bits(w_ij)

with bits(w) the bits of the rounded weight (integer and fractional, no sign; 0 for a weight rounded to
zero), ``input_bits`` the width of the layer's (uniform) input type and ``copies`` the particles the layer is
applied to (n for a per-particle layer: all n copies are built at II 1).  This is HGQ's effective bit
operations with a uniform input width.  In distributed arithmetic a zero bit costs nothing and a weight
rounded to zero no adder at all, so fewer EBOPs is fewer LUTs.  ``l1tag.train.hetero.EBOPsController``
steers ``resource_beta`` of every such layer to ``quantization.target``.

Why l1tag's layer and not HGQ's ``HDense``: HDense also quantizes its output per element, with widths known
only after ``HGQ.trace_minmax``; l1tag's lowering, fixed-point reference and C++ kernels take one type per
tensor, so the activations keep their QKeras quantizers (the next layer's ``QActivation``) and HGQ does what
it does best here, the per-weight widths.  The bias keeps its uniform QKeras quantizer (one adder per
output whatever its width).

The firmware takes each weight as rounded (``firmware_weight``): values on their own grids, held in one
type wide enough for all (``l1tag.ops.dense``, ``l1tag.ops.attention``), so that da4ml's adder graph and l1tag's estimate see the
zeros and the short constants.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from qkeras.quantizers import get_quantizer

# fractional bits a weight may learn: from -8 (|w| < 2^7 rounds to zero) to 8 (two more than the default
# weights' 6; more would take the Keras model's sums past float32's exact 24 bits: l1tag.hls.lower)
FBITS_RANGE = (-8.0, 8.0)


def _hgq_quantizer(fbits: tf.Variable):
    from HGQ.quantizer import HGQ

    q = HGQ(init_bw=0.0, skip_dims=None, rnd_strategy="standard_round", exact_q_value=True, bw_clip=FBITS_RANGE)
    q.build(fbits)  # HGQ's quantizer on l1tag's variable: the layer owns, saves and trains it
    return q


class PerWeightBits:
    """Per-weight fractional bits for a Keras layer's constant weights (HGQ's quantizer on each) and the
    EBOPs term of the loss.  The layer calls ``add_bits`` in ``build`` for each weight it quantizes this way,
    then ``add_resource_term`` (once, with the input width and the particles it runs on); in ``call`` it
    uses ``rounded(name, training)`` and ``add_ebops_loss`` when training."""

    def add_bits(self, name: str, weight, fbits: float) -> None:
        if not hasattr(self, "_hetero"):
            self._hetero = {}
        var = self.add_weight(name=f"fbits_{name}", shape=weight.shape, trainable=True,
                              initializer=tf.keras.initializers.Constant(fbits))
        self._hetero[name] = (weight, var, _hgq_quantizer(var))

    def add_resource_term(self, input_bits: int, copies: int, beta: float) -> None:
        self.resource_beta = self.add_weight(name="resource_beta", shape=(), trainable=False,
                                             initializer=tf.keras.initializers.Constant(beta))
        self.ebops_scale = int(input_bits) * int(copies)

    @property
    def hetero_names(self) -> list[str]:
        return list(getattr(self, "_hetero", {}))

    def rounded(self, name: str, training=None):
        weight, _, quantizer = self._hetero[name]
        return quantizer(weight, training=bool(training))

    def add_ebops_loss(self, rounded: dict) -> None:
        """The resource term: β x input bits x copies x the weights' bits (differentiable in the bits)."""
        total = 0.0
        for name, w in rounded.items():
            int_bits, frac_bits, _ = self._hetero[name][2].get_bits(w, quantized=True)
            total += tf.reduce_sum(tf.nn.relu(int_bits + frac_bits))
        self.add_loss(self.resource_beta * self.ebops_scale * total)

    def firmware_weight(self, name: str) -> np.ndarray:
        """A weight as rounded, as the firmware takes it (float64, exact)."""
        return np.asarray(self.rounded(name, False), dtype=np.float64)

    def exact_ebops(self) -> float:
        return float(self.ebops_scale * sum(exact_bits(self.firmware_weight(n)).sum() for n in self.hetero_names))


@tf.keras.utils.register_keras_serializable(package="l1tag")
class HQDense(PerWeightBits, tf.keras.layers.Dense):
    """A Dense layer (no activation) whose kernel weights each learn their fractional bits."""

    def __init__(self, units, kernel_fbits: float = 6.0, bias_quantizer=None, input_bits: int = 8,
                 resource_beta: float = 0.0, **kwargs):
        kwargs.pop("activation", None)
        super().__init__(units, **kwargs)
        self.kernel_fbits = float(kernel_fbits)
        self.bias_quantizer = bias_quantizer
        self.input_bits = int(input_bits)
        self.initial_beta = float(resource_beta)
        self._qb = get_quantizer(bias_quantizer) if bias_quantizer else (lambda b: b)

    def build(self, input_shape):
        super().build(input_shape)
        self.add_bits("kernel", self.kernel, self.kernel_fbits)
        copies = int(np.prod([int(s) for s in input_shape[1:-1]])) if len(input_shape) > 2 else 1
        self.add_resource_term(self.input_bits, copies, self.initial_beta)

    @property
    def fbits(self):
        return self._hetero["kernel"][1]

    def call(self, x, training=None):
        qk = self.rounded("kernel", training)
        y = tf.tensordot(x, qk, axes=[[-1], [0]])
        if self.use_bias:
            y = y + self._qb(self.bias)
        if training:
            self.add_ebops_loss({"kernel": qk})
        return y

    def firmware_kernel(self) -> np.ndarray:
        return self.firmware_weight("kernel")

    def get_config(self):
        config = super().get_config()
        config.pop("activation", None)
        return {**config, "kernel_fbits": self.kernel_fbits, "bias_quantizer": self.bias_quantizer,
                "input_bits": self.input_bits, "resource_beta": self.initial_beta}


def exact_bits(w: np.ndarray) -> np.ndarray:
    """Bits of each fixed-point constant (no sign): from its highest to its lowest nonzero bit position,
    as the firmware holds it (0 for a zero).  ``HQDense.weight_bits``, the count the loss differentiates,
    is its upper bound: it counts every learned fractional bit, trailing zeros included."""
    w = np.abs(np.asarray(w, dtype=np.float64))
    out = np.zeros(w.shape)
    nz = w > 0
    if nz.any():
        high = np.floor(np.log2(w[nz])) + 1
        frac = np.zeros(nz.sum())
        v = w[nz].copy()
        while np.any(v != np.round(v)):  # the lowest set bit: scale until integral (constants are dyadic)
            odd = v != np.round(v)
            v[odd] *= 2
            frac[odd] += 1
        out[nz] = np.maximum(high + frac, 1)
    return out


def hetero_layers(model) -> list:
    """The layers of ``model`` with per-weight bits (HQDense, and attention layers in heterogeneous mode)."""
    return [layer for layer in model.layers if isinstance(layer, PerWeightBits) and layer.hetero_names]


def model_ebops(model) -> float:
    """EBOPs of every heterogeneous layer of ``model`` as built (exact, after rounding)."""
    return float(sum(layer.exact_ebops() for layer in hetero_layers(model)))
