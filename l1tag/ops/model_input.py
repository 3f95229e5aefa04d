"""The model input: the particles, already in the firmware's input type (test vectors are pre-quantized)."""

from __future__ import annotations

from l1tag.numerics.fixed_point import quantize
from l1tag.ops.base import OpRule


class Input(OpRule):
    name = "input"
    per_particle = True

    def reference(self, op, ins):
        return quantize(ins[0], op.result_t)

    def trace(self, op, ins):
        return ins[0]


RULE = Input()
