"""DynamicTanh: y = tanh(alpha * x + beta), trainable scalars -- a cheap stand-in for LayerNorm."""

from __future__ import annotations

import tensorflow as tf
from qkeras.quantizers import get_quantizer

from l1tag.numerics.tables import DEFAULT_TABLE_SIZE
from l1tag.models.layers import firmware_ops
from l1tag.numerics.fixed_point import from_qkeras


@tf.keras.utils.register_keras_serializable(package="l1tag")
class QDynamicTanh(tf.keras.layers.Layer):
    """tanh(alpha * x + beta) with alpha = 1, beta = 0 at start; alpha and beta quantized like weights.

    Quantized (an output quantizer), tanh is the firmware's table of ``table_size`` entries (values in
    the output type; l1tag/numerics/tables.py) with tanh's gradient; float, it is tf.tanh."""

    def __init__(self, param_quantizer=None, output_quantizer=None, table_size: int = DEFAULT_TABLE_SIZE, **kwargs):
        super().__init__(**kwargs)
        self.param_quantizer = param_quantizer
        self.output_quantizer = output_quantizer
        self.table_size = int(table_size)
        self._qp = get_quantizer(param_quantizer) if param_quantizer else (lambda w: w)
        self._out_t = from_qkeras(output_quantizer, f"{self.name}: output_quantizer") if output_quantizer else None

    def build(self, input_shape):
        self.alpha = self.add_weight(name="alpha", shape=(), initializer="ones")
        self.beta = self.add_weight(name="beta", shape=(), initializer="zeros")
        super().build(input_shape)

    def call(self, x):
        t = self._qp(self.alpha) * x + self._qp(self.beta)  # exact: 8-bit parameters times the input
        if self._out_t is None:
            return tf.tanh(t)
        return firmware_ops.table_tanh(t, self._out_t, self.table_size)

    def get_config(self):
        return {**super().get_config(), "param_quantizer": self.param_quantizer,
                "output_quantizer": self.output_quantizer, "table_size": self.table_size}
