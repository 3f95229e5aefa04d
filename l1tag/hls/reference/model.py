"""The whole firmware in NumPy: runs the ops of ``l1tag.hls.lower`` with ap_fixed semantics.

Stock hls4ml layers (Dense / PointwiseConv1D with exact accumulators, ReLU, Add, max pooling) reduce to
one rounding into their result type; l1tag's own layers run their references.  The C-simulation of
the generated project must equal this on every jet.
"""

from __future__ import annotations

import numpy as np

from l1tag.numerics.fixed_point import quantize
from l1tag.hls.reference.attention import attention_reference
from l1tag.hls.reference.dynamic_tanh import dynamic_tanh_reference


def run_reference(ops, x: np.ndarray, trace: bool = False):
    """x: (jets, n, F) already in the input type -> the firmware output (jets, classes).

    With ``trace`` also every op's output by name (to compare with hls4ml's per-layer trace)."""
    values: dict[str, np.ndarray] = {}
    out = None
    for op in ops:
        ins = [values[i] for i in op.inputs]
        if op.kind == "input":
            out = quantize(x, op.result_t)
        elif op.kind == "dense":
            out = quantize(ins[0] @ op.weights["kernel"] + op.weights["bias"], op.result_t)
        elif op.kind == "relu":
            out = quantize(np.maximum(ins[0], 0.0), op.result_t)
        elif op.kind == "add":
            out = quantize(ins[0] + ins[1], op.result_t)
        elif op.kind == "maxpool":
            out = quantize(ins[0].max(axis=1), op.result_t)
        elif op.kind == "attention":
            out = np.stack([attention_reference(q, k, v, op.weights, op.spec) for q, k, v in zip(*ins)])
        elif op.kind == "dynamic_tanh":
            out = dynamic_tanh_reference(ins[0], op.weights["alpha"], op.weights["beta"], op.spec)
        else:
            raise ValueError(f"unknown op {op.kind}")
        values[op.name] = out
    return (out, values) if trace else out
