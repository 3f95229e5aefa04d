"""The firmware's table functions in TensorFlow, so that the QKeras model computes what the firmware does.

The forward pass follows ``l1tag/numerics/tables.py`` (the same tables, indices and casts as the C++
and its NumPy reference), in float64 where float32 could round (the softmax product e x 1/sum has
35 significant bits); the backward pass is the float function's (softmax, tanh): a straight-through
estimator, so quantization-aware training optimises the model that is shipped.
"""

from __future__ import annotations

import math

import tensorflow as tf

from l1tag.numerics import tables
from l1tag.numerics.fixed_point import FixedType


def quantize(x, t: FixedType):
    """ap_fixed cast of a float64 tensor (the modes the QKeras quantizers map to: AP_RND_CONV or AP_TRN,
    AP_SAT or AP_WRAP)."""
    v = x * 2.0**t.frac
    if t.rounding == "AP_RND_CONV":
        q = tf.round(v)  # half to even
    elif t.rounding == "AP_TRN":
        q = tf.floor(v)
    else:
        raise ValueError(f"rounding {t.rounding} has no TensorFlow emulation here")
    lo, hi = t.min * 2.0**t.frac, t.max * 2.0**t.frac
    if t.overflow == "AP_SAT":
        q = tf.clip_by_value(q, lo, hi)
    elif t.overflow == "AP_WRAP":
        q = tf.math.floormod(q - lo, 2.0**t.width) + lo
    else:
        raise ValueError(f"overflow {t.overflow} has no TensorFlow emulation here")
    return q * 2.0**-t.frac


def table_softmax(s, score_t: FixedType, softmax_t: FixedType, table_size: int, m: int):
    """The firmware's softmax over the last axis (``m`` columns) of scores ``s`` (values in score_t);
    the float softmax's gradient."""
    exp_table = tf.constant(tables.exp_table(score_t, table_size), tf.float64)
    inv_table = tf.constant(tables.inv_table(m, table_size), tf.float64)
    one = 2**tables.EXP_T.frac

    @tf.custom_gradient
    def forward(scores):
        x = tf.cast(scores, tf.float64)
        diff = x - tf.reduce_max(x, axis=-1, keepdims=True)  # exact
        k = tf.minimum(tf.cast(tf.round(-diff / score_t.lsb), tf.int64), table_size - 1)
        e = tf.gather(exp_table, k)
        if m > 1:
            raw = tf.cast(tf.round(tf.reduce_sum(e, axis=-1, keepdims=True) * one), tf.int64)
            idx = tf.minimum(((raw - one) * table_size) // ((m - 1) * one), table_size - 1)
        else:
            idx = tf.zeros_like(k[..., :1])
        a = quantize(e * tf.gather(inv_table, idx), softmax_t)

        def grad(dy):
            p = tf.nn.softmax(scores, axis=-1)
            return p * (dy - tf.reduce_sum(dy * p, axis=-1, keepdims=True))

        return tf.cast(a, scores.dtype), grad

    return forward(s)


def table_tanh(t, out_t: FixedType, table_size: int):
    """The firmware's tanh of ``t`` (exact values: alpha x + beta) through its table; tanh's gradient."""
    table = tf.constant(tables.tanh_table(out_t, table_size), tf.float64)
    scale = 2.0 ** tables.tanh_index_shift(table_size)

    @tf.custom_gradient
    def forward(arg):
        idx = tf.cast(tf.floor(tf.cast(arg, tf.float64) * scale), tf.int64) + table_size // 2
        y = tf.gather(table, tf.clip_by_value(idx, 0, table_size - 1))

        def grad(dy):
            return dy * (1.0 - tf.square(tf.tanh(arg)))

        return tf.cast(y, arg.dtype), grad

    return forward(t)


def table_log2(x, x_t: FixedType, mantissa_bits: int):
    """The firmware's shift-and-add log2 (``l1tag.numerics.tables.table_log2`` before its output cast) of
    x >= 0 on x_t's grid, in float64; no gradient (it reads only the model's inputs)."""
    table = tf.constant(tables.log2_table(mantissa_bits), tf.float64)
    k = tf.maximum(tf.cast(tf.round(tf.cast(x, tf.float64) * 2.0**x_t.frac), tf.int64), 1)
    e = tf.cast(tf.floor(tf.math.log(tf.cast(k, tf.float64)) / math.log(2.0)), tf.int64)
    one = tf.ones_like(k)
    e = tf.where(tf.bitwise.left_shift(one, e) > k, e - 1, e)  # float log rounding at powers of two
    e = tf.where(tf.bitwise.left_shift(one, e + 1) <= k, e + 1, e)
    j = tf.bitwise.right_shift(tf.bitwise.left_shift(k, mantissa_bits), e) - (1 << mantissa_bits)
    return tf.stop_gradient(tf.cast(e - x_t.frac, tf.float64) + tf.gather(table, j))
