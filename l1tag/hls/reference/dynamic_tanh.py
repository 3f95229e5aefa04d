"""Bit-exact NumPy model of ``firmware_templates/l1tag_dynamic_tanh.h``::

    t = alpha * x + beta                       exact in arg_t
    i = clamp(floor(t * T / (2 R)) + T / 2, 0, T - 1)      R = TANH_RANGE, T a power of two
    y = tanh_table[i]                          tanh at the bin centre, in out_t (l1tag/numerics/tables.py)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from l1tag.numerics import tables
from l1tag.numerics.fixed_point import FixedType


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
