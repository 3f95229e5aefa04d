"""da4ml tracing primitives: ap_fixed casts, arrays of traced variables, balanced sums, traced inputs.

da4ml 0.5.2 rounds only by truncation (``TRN``) or half up (``RND``); the QKeras quantizers round half
to even (``AP_RND_CONV``).  ``cast`` builds that exactly from the supported operations:
floor(y + 1/2 - eps + b eps), eps one source LSB and b the kept LSB (a bit select) -- ties go to the
even neighbour, everything else to the nearest (measured: docs/notes/da4ml-rtl-yosys-verilator.md).
Every sum is a balanced adder tree.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from l1tag.numerics.fixed_point import FixedType, quantize

_OVERFLOW = {"AP_SAT": "SAT", "AP_WRAP": "WRAP", "AP_SAT_SYM": "SAT_SYM"}


def kif(t: FixedType) -> tuple[int, int, int]:
    """da4ml's (keep_negative, integer bits without the sign, fractional bits) of an ap_fixed type."""
    return (1, t.integer - 1, t.frac) if t.signed else (0, t.integer, t.frac)


def _round_half_even(v, t: FixedType):
    """One traced variable cast to ``t`` with AP_RND_CONV: floor(y + 1/2 - eps + b eps), then the overflow."""
    from da4ml.trace import FixedVariable

    k, i, f = kif(t)
    if v.low == v.high:  # a constant: cast it here, with the reference's own ap_fixed semantics
        return FixedVariable.from_const(Decimal(float(quantize(float(v.low), t))), v.hwconf)
    source_frac = v.kif[2]
    if source_frac > f:
        kept_lsb = v.quantize(0, 1 - f, f)  # the bit of weight 2^-f: wiring
        v = (v + (2.0 ** (-f - 1) - 2.0**-source_frac)) + kept_lsb * 2.0 ** (f - source_frac)
    return v.quantize(k, i, f, _OVERFLOW[t.overflow], "TRN")


def cast(x, t: FixedType):
    """An ap_fixed assignment of the traced array ``x`` to ``t`` (its rounding and overflow modes)."""
    from da4ml.trace import FixedVariableArray

    k, i, f = kif(t)
    if t.rounding in ("AP_TRN", "AP_RND"):
        return x.quantize(k, i, f, _OVERFLOW[t.overflow], t.rounding[3:])
    if t.rounding != "AP_RND_CONV":
        raise ValueError(f"rounding {t.rounding} has no da4ml trace here (supported: AP_TRN, AP_RND, AP_RND_CONV)")
    flat = np.array([_round_half_even(v, t) for v in x._vars.ravel()], dtype=object)
    return FixedVariableArray(flat.reshape(x.shape), x.solver_options)


def wrap(objects, like):
    """An object array of traced variables (and constants) as da4ml's array, with ``like``'s solver options."""
    from da4ml.trace import FixedVariableArray

    return FixedVariableArray(np.asarray(objects, dtype=object), like.solver_options)


def contract(products: str, a, b, like):
    """einsum of two object arrays whose products keep the summed index as the last axis (``products``,
    e.g. 'hid,hjd->hijd'), summed by da4ml as a balanced adder tree."""
    return np.sum(wrap(np.einsum(products, a, b), like), axis=-1)._vars


def einsum(subscripts: str, a, b, like):
    """``np.einsum(subscripts, a, b)`` of object arrays of traced variables with one summed index: the
    products keep that index last and da4ml sums them as a balanced adder tree (``contract``)."""
    terms, result = subscripts.split("->")
    summed = sorted(set(terms.replace(",", "")) - set(result))
    if len(summed) != 1:
        raise ValueError(f"einsum '{subscripts}': exactly one summed index is traced, not {summed}")
    return contract(f"{terms}->{result}{summed[0]}", a, b, like)


def input_array(shape: tuple, t: FixedType):
    """A traced input of ``shape`` in the firmware type ``t``."""
    from da4ml.trace import FixedVariableArray, HWConfig

    k, i, f = kif(t)
    full = np.ones(shape, dtype=np.int64)
    return FixedVariableArray.from_kif(k * full, i * full, f * full, HWConfig(1, -1, -1))
