"""ReLU: ``QActivation(quantized_relu)`` -> hls4ml's ReLU, result in the quantizer's type."""

from __future__ import annotations

import numpy as np

from l1tag.errors import ConversionError
from l1tag.numerics.fixed_point import quantize
from l1tag.ops.base import OpRule, quantizer_type


class Relu(OpRule):
    name = "relu"
    keras_classes = ("QActivation",)
    per_particle = True

    def lower(self, layer, lowering):
        if not str(layer.get_config()["activation"]).startswith("quantized_relu"):
            raise ConversionError(f"layer '{layer.name}': a linear QActivation must follow a QDense")
        import tensorflow as tf

        lowering.emit(self.name, layer.name, lowering.sources(layer),
                      quantizer_type(layer.name, layer.get_config(), "activation"),
                      lambda inputs: tf.keras.layers.Activation("relu", name=layer.name)(inputs[0]))

    def reference(self, op, ins):
        return quantize(np.maximum(ins[0], 0.0), op.result_t)

    def trace(self, op, ins):
        from l1tag.ops.trace import cast

        return cast(ins[0].relu(), op.result_t)


RULE = Relu()
