"""Max pooling over the particles: ``GlobalMaxPooling1D`` -> the same in hls4ml, result = input type.

Mean pooling is refused: its division rounds, so the bit-exact flow cannot carry it.
"""

from __future__ import annotations

import numpy as np

from l1tag.errors import ConversionError
from l1tag.numerics.fixed_point import quantize
from l1tag.ops.base import OpRule


class MaxPool(OpRule):
    name = "maxpool"
    keras_classes = ("GlobalMaxPooling1D", "GlobalAveragePooling1D")
    reduction = True
    pooling = True

    def lower(self, layer, lowering):
        if type(layer).__name__ == "GlobalAveragePooling1D":
            raise ConversionError(f"layer '{layer.name}': mean pooling is not supported by the bit-exact flow "
                                  f"(its division rounds); use model.pooling: max")
        import tensorflow as tf

        source = lowering.sources(layer)
        lowering.emit(self.name, layer.name, source, lowering.types[source[0]],
                      lambda inputs: tf.keras.layers.GlobalMaxPooling1D(name=layer.name)(inputs[0]))

    def reference(self, op, ins):
        return quantize(ins[0].max(axis=1), op.result_t)

    def trace(self, op, ins):
        from l1tag.ops.trace import cast

        return cast(np.max(ins[0], axis=0), op.result_t)


RULE = MaxPool()
