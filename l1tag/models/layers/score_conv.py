"""The SAL-T attention-score convolution: a depthwise 2-D convolution over each head's (n x p) scores.

One (kh x kw) kernel and one bias per head (HGQ2 style), 'same' zero padding, applied to scores laid
out as (n, p, heads) -- heads are the channels -- before the softmax.  It lets a particle's scores
see those of its kT neighbours and of the neighbouring partitions.
"""

from __future__ import annotations

import tensorflow as tf
from qkeras.quantizers import get_quantizer


@tf.keras.utils.register_keras_serializable(package="l1tag")
class QAttentionScoreConv(tf.keras.layers.Layer):
    """Depthwise 'same' 2-D convolution with quantized kernel and bias; input (B, n, m, H)."""

    def __init__(self, kernel_size=(3, 3), kernel_quantizer=None, bias_quantizer=None, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = tuple(int(k) for k in kernel_size)
        self.kernel_quantizer = kernel_quantizer
        self.bias_quantizer = bias_quantizer
        self._qk = get_quantizer(kernel_quantizer) if kernel_quantizer else (lambda w: w)
        self._qb = get_quantizer(bias_quantizer) if bias_quantizer else (lambda w: w)

    def build(self, input_shape):
        heads = int(input_shape[-1])
        kh, kw = self.kernel_size
        # start as the identity (centre tap 1), so the convolution begins by changing nothing
        init = tf.keras.initializers.Constant(
            tf.tensor_scatter_nd_update(tf.zeros((kh, kw, heads, 1)), [[kh // 2, kw // 2, h, 0] for h in range(heads)],
                                        tf.ones(heads)).numpy())
        self.convk = self.add_weight(name="convk", shape=(kh, kw, heads, 1), initializer=init)
        self.convb = self.add_weight(name="convb", shape=(heads,), initializer="zeros")
        super().build(input_shape)

    def call(self, s):
        y = tf.nn.depthwise_conv2d(s, self._qk(self.convk), strides=(1, 1, 1, 1), padding="SAME")
        return y + self._qb(self.convb)

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size, "kernel_quantizer": self.kernel_quantizer,
                "bias_quantizer": self.bias_quantizer}
