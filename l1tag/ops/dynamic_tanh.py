"""DynamicTanh (l1tag's own layer, ``QDynamicTanh``): spec, lowering, bit-exact reference and da4ml trace of
``firmware_templates/l1tag_dynamic_tanh.h``::

    t = alpha * x + beta                       exact in arg_t
    i = clamp(floor(t * T / (2 R)) + T / 2, 0, T - 1)      R = TANH_RANGE, T a power of two
    y = tanh_table[i]                          tanh at the bin centre, in out_t (l1tag/numerics/tables.py)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from l1tag.numerics import tables
from l1tag.numerics.fixed_point import FixedType, quantize
from l1tag.ops.base import OpRule, Product, quantizer_type


@dataclass(frozen=True)
class DynamicTanhSpec:
    x_t: FixedType
    param_t: FixedType
    out_t: FixedType
    table_size: int

    def __post_init__(self):
        if self.table_size & (self.table_size - 1) or self.table_size < 16:
            raise ValueError(f"tanh table size {self.table_size} must be a power of two >= 16")

    @property
    def arg_t(self) -> FixedType:
        """alpha * x + beta exactly."""
        frac = max(self.x_t.frac + self.param_t.frac, self.param_t.frac)
        mag = max(abs(self.x_t.min), self.x_t.max) * max(abs(self.param_t.min), self.param_t.max) + max(
            abs(self.param_t.min), self.param_t.max)
        integer = math.ceil(math.log2(mag + 2.0**-frac)) + 1
        return FixedType(integer + frac, integer, signed=True)

    @property
    def index_shift(self) -> int:
        """log2(T / (2 R)): the index is floor(t * 2^index_shift) + T/2."""
        return tables.tanh_index_shift(self.table_size)

    def table(self) -> np.ndarray:
        return tables.tanh_table(self.out_t, self.table_size)


def dynamic_tanh_reference(x: np.ndarray, alpha: float, beta: float, spec: DynamicTanhSpec) -> np.ndarray:
    return tables.table_tanh(alpha * np.asarray(x, dtype=np.float64) + beta, spec.out_t, spec.table_size)


def dynamic_tanh_products(spec, elements: int, alpha: float) -> list[Product]:
    """alpha x per element of one iteration (a constant product)."""
    return [Product("alpha", elements, spec.x_t, spec.param_t, True, (float(alpha),) * elements)]


class DynamicTanh(OpRule):
    name = "dynamic_tanh"
    keras_classes = ("QDynamicTanh",)
    per_particle = True

    def lower(self, layer, lowering):
        """Unchanged: l1tag's own hls4ml handler reads its quantizers (l1tag/hls/dynamic_tanh.py)."""
        lowering.trained_tables(layer)
        source = lowering.sources(layer)
        spec = DynamicTanhSpec(lowering.types[source[0]], quantizer_type(layer.name, layer.get_config(), "param_quantizer"),
                               quantizer_type(layer.name, layer.get_config(), "output_quantizer"), lowering.table_size)
        alpha, beta = (float(quantize(v, spec.param_t)) for v in layer.get_weights())
        lowering.float32_sums[layer.name] = spec.arg_t.width  # alpha x + beta
        lowering.emit(self.name, layer.name, source, spec.out_t, lambda inputs: type(layer).from_config(
            layer.get_config())(inputs[0]), weights={"alpha": alpha, "beta": beta}, spec=spec,
            keras_weights=layer.get_weights(), result_precision=False, kernel_config={"table_size": lowering.table_size,
                                                             "parallelization_factor": lowering.parallel})

    def reference(self, op, ins):
        return dynamic_tanh_reference(ins[0], op.weights["alpha"], op.weights["beta"], op.spec)

    def trace(self, op, ins):
        """t = alpha x + beta (exact), index = floor(t 2^shift) clipped to the table, y = the table entry."""
        from l1tag.ops.trace import kif

        spec = op.spec
        size = spec.table_size
        t = ins[0] * op.weights["alpha"] + op.weights["beta"]
        bits = int(np.log2(size)) - 1  # the index runs over [-T/2, T/2 - 1]: floor and saturate
        index = (t * 2.0**spec.index_shift).quantize(1, bits, 0, "SAT", "TRN")
        table = spec.table()
        k, i, f = kif(spec.out_t)
        return index.apply(lambda v: table[np.rint(np.asarray(v, dtype=np.float64)).astype(np.int64) + size // 2]) \
            .quantize(k, i, f, "SAT", "RND_CONV")


RULE = DynamicTanh()
