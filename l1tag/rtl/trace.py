"""Trace the firmware's arithmetic with da4ml: the lowered ops (``l1tag/hls/lower.py``) as adder graphs.

The NumPy reference (``l1tag/hls/reference/model.py``) runs the lowered ops with ap_fixed semantics;
here the same ops are traced with da4ml's ``FixedVariableArray`` (constant matmuls become adder graphs,
ReLU and max become muxes, DynamicTanh's table a ROM; the attention's scores and A V' are variable
products, its exp and reciprocal tables ROMs, and the reciprocal's bin index -- an integer division
in the C++ -- an exact constant multiply and shift), so that da4ml can emit Verilog for them and its
interpreters can be checked against the reference bit for bit.  Every sum is a balanced adder tree.

da4ml 0.5.2 rounds only by truncation (``TRN``) or half up (``RND``); the QKeras quantizers round half
to even (``AP_RND_CONV``).  ``cast`` builds that exactly from the supported operations:
floor(y + 1/2 - eps + b eps), eps one source LSB and b the kept LSB (a bit select) -- ties go to the
even neighbour, everything else to the nearest (measured: docs/notes/da4ml-rtl-yosys-verilator.md).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from l1tag.numerics import tables
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


def _dynamic_tanh(x, op):
    """t = alpha x + beta (exact), index = floor(t 2^shift) clipped to the table, y = the table entry."""
    spec = op.spec
    size = spec.table_size
    shift = tables.tanh_index_shift(size)
    t = x * op.weights["alpha"] + op.weights["beta"]
    bits = int(np.log2(size)) - 1  # the index runs over [-T/2, T/2 - 1]: floor and saturate
    index = (t * 2.0**shift).quantize(1, bits, 0, "SAT", "TRN")
    table = spec.table()
    k, i, f = kif(spec.out_t)
    return index.apply(lambda v: table[np.rint(np.asarray(v, dtype=np.float64)).astype(np.int64) + size // 2]) \
        .quantize(k, i, f, "SAT", "RND_CONV")


def wrap(objects, like):
    """An object array of traced variables (and constants) as da4ml's array, with ``like``'s solver options."""
    from da4ml.trace import FixedVariableArray

    return FixedVariableArray(np.asarray(objects, dtype=object), like.solver_options)


def _contract(products: str, a, b, like):
    """einsum of two object arrays whose products keep the summed index as the last axis (``products``,
    e.g. 'hid,hjd->hijd'), summed by da4ml as a balanced adder tree."""
    return np.sum(wrap(np.einsum(products, a, b), like), axis=-1)._vars


def _softmax_row(row, spec):
    """The firmware's table softmax of one row of m scores (l1tag/numerics/tables.py), traced."""
    size, m = spec.table_size, row.shape[0]
    exp_table, inv_table = spec.exp_table(), spec.inv_table()
    index_bits = int(np.log2(size))
    diff = row - np.max(row)  # <= 0, exact
    k = (-diff * 2.0**spec.score_t.frac).quantize(0, index_bits, 0, "SAT", "TRN")  # an exact integer, clipped
    e = k.apply(lambda v: exp_table[np.rint(np.asarray(v, dtype=np.float64)).astype(np.int64)]) \
        .quantize(*kif(tables.EXP_T), "SAT", "RND_CONV")
    if m > 1:
        one = 2**tables.EXP_T.frac
        mult, shift = tables.inv_index_division(m, size)
        raw = (np.sum(e, keepdims=True) - 1.0) * float(one)  # the sum's integer, minus 1.0
        idx = (raw * float(mult) * 2.0**-shift).quantize(0, index_bits, 0, "SAT", "TRN")
        inv = idx.apply(lambda v: inv_table[np.rint(np.asarray(v, dtype=np.float64)).astype(np.int64)]) \
            .quantize(*kif(tables.INV_T), "SAT", "RND_CONV")
        products = wrap([v * inv._vars[0] for v in e._vars], e)
    else:
        products = e * float(inv_table[0])
    return cast(products, spec.softmax_t)


def _heads(t, spec):
    """(rows, d) object array -> (heads, rows, dh)."""
    return t.reshape(t.shape[0], spec.heads, spec.head_dim).transpose(1, 0, 2)


def trace_project(k, v, op):
    """K', V' (heads, m, dh object arrays, in qkv_t) of one jet's traced k, v (n, d): the kind's projection
    (l1tag/hls/reference/attention.py project_reference), a constant-weight adder graph."""
    from l1tag import kinds

    spec, w = op.spec, op.weights
    n, heads, dh = spec.n, spec.heads, spec.head_dim
    kh, vh = _heads(k._vars, spec), _heads(v._vars, spec)
    if spec.kind == "salt":  # the partition collapse, on object arrays (rows past n are zero)
        c, p = spec.chunk, spec.m
        padded = [np.zeros((heads, p * c, dh), dtype=object) for _ in range(2)]
        for t, src in zip(padded, (kh, vh)):
            t[:, :n] = src
        kp, vp = (_contract("hjld,hjl->hjdl", t.reshape(heads, p, c, dh), w[name], k)
                  for t, name in zip(padded, ("kproj", "vproj")))
    elif spec.kind == "linformer":  # E K, F V over all n rows
        kp, vp = (_contract("hjn,hnd->hjdn", w[name], t, k) for t, name in ((kh, "kproj"), (vh, "vproj")))
    else:
        kp, vp = kinds.get(spec.kind).project(kh, vh, w, spec)
    return cast(wrap(kp, k), spec.qkv_t)._vars, cast(wrap(vp, k), spec.qkv_t)._vars


def trace_scores(q, kp, op):
    """The raw scores (heads, rows, m) in score_t of traced query rows q (rows, d) against K': variable
    products summed as balanced trees (reference: scores_reference)."""
    spec = op.spec
    return cast(wrap(_contract("hid,hjd->hijd", _heads(q._vars, spec), kp, q), q) * 2.0**-spec.shift,
                spec.score_t)._vars


def trace_mix(raw, vp, op, like):
    """Rows of the attention output (rows, d) from raw scores (heads, rows + kh - 1, m when the kind has a
    score convolution: the rows and their halo, zero outside the jet) and V': the convolution, the table
    softmax, A V' (reference: mix_reference)."""
    spec, w = op.spec, op.weights
    heads = spec.heads
    s = wrap(raw, like)
    if spec.conv:
        kh_, kw_ = spec.conv
        left = (kw_ - 1) // 2
        rows, m = raw.shape[1] - (kh_ - 1), raw.shape[2]
        pad = np.zeros((heads, rows + kh_ - 1, m + kw_ - 1), dtype=object)
        pad[:, :, left:left + m] = raw
        taps = [w["convk"][a, b, :, 0][:, None, None] * pad[:, a:a + rows, b:b + m]
                for a in range(kh_) for b in range(kw_)]
        acc = np.sum(wrap(np.stack(taps, axis=-1), like), axis=-1)._vars
        s = cast(wrap(acc + w["convb"][:, None, None], like), spec.score_t)
    rows = s.shape[1]
    a = np.empty(s.shape, dtype=object)
    for h in range(heads):
        for i in range(rows):
            a[h, i] = _softmax_row(wrap(s._vars[h, i], like), spec)._vars
    o = cast(wrap(_contract("hij,hjd->hidj", a, vp, like), like), spec.out_t)
    return wrap(o._vars.transpose(1, 0, 2).reshape(rows, spec.d), like)


def halo_rows(raw, spec):
    """(heads, n, m) raw scores -> (heads, n + kh - 1, m) with the convolution's zero rows above and below."""
    if not spec.conv:
        return raw
    kh_ = spec.conv[0]
    top = (kh_ - 1) // 2
    pad = np.zeros((raw.shape[0], raw.shape[1] + kh_ - 1, raw.shape[2]), dtype=raw.dtype)
    pad[:, top:top + raw.shape[1]] = raw
    return pad


def _attention(q, k, v, op):
    """The attention kernel of one jet (l1tag/hls/reference/attention.py), traced: the kind's projection,
    scores, the score convolution, the table softmax, A V'."""
    kp, vp = trace_project(k, v, op)
    return trace_mix(halo_rows(trace_scores(q, kp, op), op.spec), vp, op, q)


SUPPORTED = ("input", "dense", "relu", "add", "maxpool", "dynamic_tanh", "attention")


def trace_ops(ops, inputs: dict) -> dict:
    """Trace ``ops`` (lowered ops, in order) given traced arrays for the values they read from outside
    (``inputs``: name -> FixedVariableArray, e.g. one particle's row); returns every traced value by name.

    Arrays are (rows, features): a Dense acts on every row, max pooling reduces over the rows."""
    values = dict(inputs)
    for op in ops:
        if op.kind == "input":
            continue
        ins = [values[name] for name in op.inputs]
        if op.kind == "dense":
            out = cast(ins[0] @ op.weights["kernel"] + op.weights["bias"], op.result_t)
        elif op.kind == "relu":
            out = cast(ins[0].relu(), op.result_t)
        elif op.kind == "add":
            out = cast(ins[0] + ins[1], op.result_t)
        elif op.kind == "maxpool":
            out = cast(np.max(ins[0], axis=0), op.result_t)
        elif op.kind == "dynamic_tanh":
            out = _dynamic_tanh(ins[0], op)
        elif op.kind == "attention":
            out = _attention(*ins, op)
        else:
            raise ValueError(f"op '{op.name}' ({op.kind}) cannot be traced yet (supported: {', '.join(SUPPORTED)})")
        values[op.name] = out
    return values


def input_array(shape: tuple, t: FixedType):
    """A traced input of ``shape`` in the firmware type ``t``."""
    from da4ml.trace import FixedVariableArray, HWConfig

    k, i, f = kif(t)
    full = np.ones(shape, dtype=np.int64)
    return FixedVariableArray.from_kif(k * full, i * full, f * full, HWConfig(1, -1, -1))


def comb_solution(inputs, outputs):
    """da4ml's combinational solution of ``outputs`` over ``inputs`` (arrays, or lists of them)."""
    from da4ml.trace import comb_trace

    def flat(a):
        items = a if isinstance(a, (list, tuple)) else [a]
        return [v for item in items for v in item._vars.ravel()]

    return comb_trace(flat(inputs), flat(outputs))
