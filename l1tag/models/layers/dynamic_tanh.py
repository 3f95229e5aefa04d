"""DynamicTanh: y = tanh(alpha * x + beta), trainable scalars -- a cheap stand-in for LayerNorm."""

from __future__ import annotations

import tensorflow as tf
from qkeras.quantizers import get_quantizer


@tf.keras.utils.register_keras_serializable(package="l1tag")
class QDynamicTanh(tf.keras.layers.Layer):
    """tanh(alpha * x + beta) with alpha = 1, beta = 0 at start; alpha and beta quantized like weights."""

    def __init__(self, param_quantizer=None, output_quantizer=None, **kwargs):
        super().__init__(**kwargs)
        self.param_quantizer = param_quantizer
        self.output_quantizer = output_quantizer
        self._qp = get_quantizer(param_quantizer) if param_quantizer else (lambda w: w)
        self._qo = get_quantizer(output_quantizer) if output_quantizer else (lambda w: w)

    def build(self, input_shape):
        self.alpha = self.add_weight(name="alpha", shape=(), initializer="ones")
        self.beta = self.add_weight(name="beta", shape=(), initializer="zeros")
        super().build(input_shape)

    def call(self, x):
        return self._qo(tf.tanh(self._qp(self.alpha) * x + self._qp(self.beta)))

    def get_config(self):
        return {**super().get_config(), "param_quantizer": self.param_quantizer,
                "output_quantizer": self.output_quantizer}
