"""The firmware's lookup-table functions, in NumPy: the softmax (exp and reciprocal tables) and tanh.

One definition serves the three places that must agree bit for bit: the tables written into the
firmware as weights (``l1tag/hls/attention.py``, ``l1tag/hls/dynamic_tanh.py``), the NumPy reference of the firmware
(``l1tag/ops/``), and the QKeras model's forward pass (``l1tag/models/layers/firmware_ops.py``,
which runs the same indices and entries in TensorFlow).

Softmax over the last axis of scores S already in ``score_t`` (m columns, T entries per table)::

    k   = min(-(S - max S) / lsb(score_t), T - 1)   exact integer (S - max S is exact)
    e   = exp_table[k]                              exp(-k lsb) in EXP_T
    idx = min(((raw(sum e) - 1.0) * T) // ((m - 1) * 1.0), T - 1)    sum e in [1, m], raw = its integer in EXP_T
    A   = cast<softmax_t>(e * inv_table[idx])       1 / sum at the bin centre, in INV_T

tanh of t (exact in its own type), T entries spanning [-TANH_RANGE, TANH_RANGE)::

    i = clamp(floor(t * 2^index_shift) + T / 2, 0, T - 1),  y = tanh_table[i]   (bin centres, in out_t)

log2 of x >= 0 in x_t by shift and add (a leading-one search, K mantissa bits, a 2^K-entry table)::

    k = max(raw(x), 1)                  x's integer (x floored at one lsb: log2 0 is not a number)
    e = floor(log2 k)                   the leading one's position
    j = ((k << K) >> e) - 2^K           the K bits after it (truncated)
    y = cast<out_t>(e - frac(x_t) + log2_table[j])     log2(1 + (j + 1/2) / 2^K) in LOG2_T

Its error against log2(x) is at most log2(1 + 2^-(K+1)) (the mantissa bin's half width) plus half an lsb
of LOG2_T and of out_t; exact powers of two are off by log2(1 + 2^-(K+1)) at most.
"""

from __future__ import annotations

import math

import numpy as np

from l1tag.numerics.fixed_point import FixedType, quantize

EXP_T = FixedType(17, 1, signed=False)  # exp(-k lsb) in (0, 1]: 16 fractional bits
INV_T = FixedType(18, 1, signed=False)  # 1 / sum in [1/m, 1]: 17 fractional bits
LOG2_T = FixedType(12, 0, signed=False)  # log2(1 + f) in [0, 1): 12 fractional bits
TANH_RANGE = 4.0  # tanh(4) = 0.99933: beyond it every 8-bit output saturates anyway

# T, the entries of each table (hls.table_size): its one default, for the config, the Keras layers and
# the converter; a power of two (the indices are shifts) within these bounds.
DEFAULT_TABLE_SIZE = 1024
MIN_TABLE_SIZE, MAX_TABLE_SIZE = 16, 65536


def check_table_size(table_size: int) -> None:
    if table_size & (table_size - 1) or table_size < MIN_TABLE_SIZE:
        raise ValueError(f"table size {table_size} must be a power of two >= {MIN_TABLE_SIZE}")


def exp_table(score_t: FixedType, table_size: int) -> np.ndarray:
    """exp(-k * lsb(score_t)) for k = 0 .. T-1, in EXP_T (entry 0 is exactly 1)."""
    k = np.arange(table_size, dtype=np.float64)
    return quantize(np.round(np.exp(-k * score_t.lsb) * 2**EXP_T.frac) / 2**EXP_T.frac, EXP_T)


def inv_table(m: int, table_size: int) -> np.ndarray:
    """1 / s at the centre of each of T bins spanning s in [1, m], in INV_T."""
    j = np.arange(table_size, dtype=np.float64)
    s = 1.0 + (j + 0.5) * (m - 1) / table_size
    return quantize(np.round(2**INV_T.frac / s) / 2**INV_T.frac, INV_T)


def sum_type(m: int) -> FixedType:
    """The exact type of a sum of m exp-table entries (each <= 1)."""
    bits = max(1, math.ceil(math.log2(m + 1)))
    return FixedType(EXP_T.frac + bits, bits, signed=False)


def table_softmax(s: np.ndarray, score_t: FixedType, softmax_t: FixedType, table_size: int) -> np.ndarray:
    """The firmware's softmax over the last axis of ``s`` (values already in score_t)."""
    m = s.shape[-1]
    exp_t, inv_t = exp_table(score_t, table_size), inv_table(m, table_size)
    diff = s - s.max(axis=-1, keepdims=True)  # exact
    k = np.minimum(np.rint(-diff / score_t.lsb).astype(np.int64), table_size - 1)
    e = exp_t[k]
    total = e.sum(axis=-1, keepdims=True)  # exact in sum_type(m)
    if m > 1:
        one = 2**EXP_T.frac
        raw = np.rint(total * one).astype(np.int64)
        idx = np.minimum(((raw - one) * table_size) // ((m - 1) * one), table_size - 1)
    else:
        idx = np.zeros_like(total, dtype=np.int64)
    return quantize(e * inv_t[idx], softmax_t)


def exact_division(numerator_max: int, scale: int, divisor: int) -> tuple[int, int]:
    """(M, s) with floor(r * scale / divisor) == (r * M) >> s for every integer r in [0, numerator_max]:
    a division by a constant as a constant multiply and a truncation (what the firmware computes, so that
    no divider is built), checked on the whole range."""
    r = np.arange(numerator_max + 1, dtype=np.int64)
    want = (r * scale) // divisor
    for shift in range(64 - int(numerator_max).bit_length()):
        mult = -(-(scale << shift) // divisor)  # ceil(scale 2^s / divisor)
        if np.array_equal((r * mult) >> shift, want):
            return mult, shift
    raise ValueError(f"no exact multiply-shift for floor(r * {scale} / {divisor}) up to r = {numerator_max}")


def inv_index_division(m: int, table_size: int) -> tuple[int, int]:
    """(M, s) of the reciprocal table's index: ((raw(sum e) - 1.0) * T) // ((m - 1) * 1.0) == (r * M) >> s
    for every r = raw(sum e) - 1.0 in [0, (m - 1) * 1.0] (m > 1)."""
    one = 2**EXP_T.frac
    return exact_division((m - 1) * one, table_size, (m - 1) * one)


def exp_table_entries(score_t: FixedType, table_size: int) -> int:
    """Entries of the exp table the firmware keeps: the smallest power of two whose last entry is zero
    and past which every entry is zero (so clamping the index to it gives the same value), else all T."""
    t = exp_table(score_t, table_size)
    nonzero = np.flatnonzero(t)
    last = int(nonzero[-1]) if nonzero.size else 0
    if last >= table_size - 1:
        return table_size
    return min(table_size, 1 << (last + 1).bit_length())  # > last + 1 entries: entry size - 1 is zero


def tanh_index_shift(table_size: int) -> int:
    """log2(T / (2 R)): the tanh table index is floor(t * 2^index_shift) + T / 2."""
    return int(round(math.log2(table_size / (2 * TANH_RANGE))))


def tanh_table(out_t: FixedType, table_size: int) -> np.ndarray:
    """tanh at the centre of each of the T bins, in out_t with rounding to nearest and saturation."""
    check_table_size(table_size)
    shift = tanh_index_shift(table_size)
    i = np.arange(table_size, dtype=np.float64)
    centre = (i + 0.5 - table_size / 2) * 2.0**-shift
    return quantize(np.tanh(centre), FixedType(out_t.width, out_t.integer, out_t.signed, "AP_RND_CONV", "AP_SAT"))


def table_tanh(t: np.ndarray, out_t: FixedType, table_size: int) -> np.ndarray:
    """The firmware's tanh of ``t`` (exact values) through the table."""
    idx = np.floor(np.asarray(t, dtype=np.float64) * 2.0**tanh_index_shift(table_size)).astype(np.int64)
    return tanh_table(out_t, table_size)[np.clip(idx + table_size // 2, 0, table_size - 1)]


def log2_table(mantissa_bits: int) -> np.ndarray:
    """log2(1 + (j + 1/2) / 2^K) for j = 0 .. 2^K - 1 (bin centres), in LOG2_T (rounded)."""
    j = np.arange(2**mantissa_bits, dtype=np.float64)
    return quantize(np.round(np.log2(1.0 + (j + 0.5) * 2.0**-mantissa_bits) * 2**LOG2_T.frac) / 2**LOG2_T.frac,
                    LOG2_T)


def log2_parts(x: np.ndarray, x_t: FixedType, mantissa_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(e - frac(x_t), j) of x >= 0 in x_t: the integer part of log2 x and the index of its mantissa bin."""
    k = np.maximum(np.rint(np.asarray(x, dtype=np.float64) * 2.0**x_t.frac).astype(np.int64), 1)
    e = np.frexp(k.astype(np.float64))[1].astype(np.int64) - 1  # exact: k < 2^48
    j = ((k << mantissa_bits) >> e) - (1 << mantissa_bits)
    return e - x_t.frac, j


def table_log2(x: np.ndarray, x_t: FixedType, mantissa_bits: int, out_t: FixedType) -> np.ndarray:
    """The firmware's log2 of x >= 0 (values in x_t; x < one lsb counts as one lsb), in out_t."""
    e, j = log2_parts(x, x_t, mantissa_bits)
    return quantize(e + log2_table(mantissa_bits)[j], out_t)
