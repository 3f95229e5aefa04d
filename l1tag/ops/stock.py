"""Shared pieces of the ops that hls4ml's own layers implement (dense, relu, add, max pooling)."""

from __future__ import annotations

from l1tag.numerics.fixed_point import FixedType


def sum_type(a: FixedType, b: FixedType) -> FixedType:
    """The exact type of a + b."""
    frac = max(a.frac, b.frac)
    integer = max(a.integer, b.integer) + 1
    return FixedType(integer + frac, integer, signed=True)
