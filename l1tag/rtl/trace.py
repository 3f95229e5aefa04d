"""Trace the firmware's arithmetic with da4ml: the lowered ops (``l1tag/hls/lower.py``) as adder graphs.

The NumPy reference (``l1tag.ops.run_reference``) runs the lowered ops with ap_fixed semantics; here the
same ops are traced with da4ml's ``FixedVariableArray`` by their rules' ``trace`` (``l1tag/ops/``):
constant matmuls become adder graphs, ReLU and max become muxes, DynamicTanh's table a ROM; the
attention's scores and A V' are variable products, its exp and reciprocal tables ROMs, and the
reciprocal's bin index -- an integer division in the C++ -- an exact constant multiply and shift.  da4ml
then emits Verilog for them and its interpreters are checked against the reference bit for bit.  The
primitives (the exact round-half-even cast, balanced sums, traced inputs) are ``l1tag/ops/trace.py``.
"""

from __future__ import annotations

from l1tag.ops import rule

def trace_ops(ops, inputs: dict) -> dict:
    """Trace ``ops`` (lowered ops, in order) given traced arrays for the values they read from outside
    (``inputs``: name -> FixedVariableArray, e.g. one particle's row); returns every traced value by name.

    Arrays are (rows, features): a Dense acts on every row, max pooling reduces over the rows."""
    values = dict(inputs)
    for op in ops:
        if op.operation == "input":  # the model's input is one of ``inputs``
            continue
        values[op.name] = rule(op).trace(op, [values[name] for name in op.inputs])
    return values


def comb_solution(inputs, outputs):
    """da4ml's combinational solution of ``outputs`` over ``inputs`` (arrays, or lists of them)."""
    from da4ml.trace import comb_trace

    def flat(a):
        items = a if isinstance(a, (list, tuple)) else [a]
        return [v for item in items for v in item._vars.ravel()]

    return comb_trace(flat(inputs), flat(outputs))
