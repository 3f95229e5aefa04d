"""The residual sum: Keras ``Add`` -> hls4ml's Add, result in the exact sum type (or, folded, the type of a
linear QActivation that follows: one cast, as lgatr_slim's residual stream takes)."""

from __future__ import annotations

from l1tag.numerics.fixed_point import FixedType, quantize
from l1tag.ops.base import OpRule


def sum_type(a: FixedType, b: FixedType) -> FixedType:
    """The exact type of a + b."""
    frac = max(a.frac, b.frac)
    integer = max(a.integer, b.integer) + 1
    return FixedType(integer + frac, integer, signed=True)


class Add(OpRule):
    name = "add"
    keras_classes = ("Add",)
    per_particle = True

    def lower(self, layer, lowering):
        import tensorflow as tf

        source = lowering.sources(layer)
        result_t = lowering.fold_cast(layer, sum_type(lowering.types[source[0]], lowering.types[source[1]]))
        lowering.emit(self.name, layer.name, source, result_t,
                      lambda inputs: tf.keras.layers.Add(name=layer.name)(inputs))

    def reference(self, op, ins):
        return quantize(ins[0] + ins[1], op.result_t)

    def trace(self, op, ins):
        from l1tag.ops.trace import cast

        return cast(ins[0] + ins[1], op.result_t)


RULE = Add()
