"""Lowered layers of l1tag's own kernels that carry no weights: what the model handed to hls4ml holds in
place of a stock layer whose hls4ml kernel would leave a decision to the tool (l1tag/hls/lower.py)."""

from __future__ import annotations

import tensorflow as tf


@tf.keras.utils.register_keras_serializable(package="l1tag")
class ProductCore(tf.keras.layers.Layer):
    """[a, b] -> a (.) b: the ``multiply`` op (l1tag/ops/multiply.py), converted by l1tag's handler
    (l1tag/hls/product.py) so that each product's binding is the config's, not the tool's choice."""

    def call(self, inputs):
        return inputs[0] * inputs[1]

    def compute_output_shape(self, input_shape):
        return input_shape[0]
