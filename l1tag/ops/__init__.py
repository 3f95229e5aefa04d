"""The firmware's ops, one home each, and their registry.

Each module of this package holds one op: its spec, its lowering rule (which Keras layers it stands
for), its NumPy fixed-point reference, its da4ml trace and, for ops that read every particle, its RTL
parts (``base.OpRule``).  The stages loop over ``OPS`` instead of dispatching on op names:
``l1tag/hls/lower.py`` asks each rule whether it lowers a Keras layer, ``run_reference`` and
``l1tag/rtl/trace.py`` run the rules of the lowered ops, ``l1tag/rtl/blocks.py`` asks them for their
blocks.  Importing this package imports neither TensorFlow nor hls4ml nor da4ml (config validation stays
instant).  Adding an op: docs/design.md, "Adding an op".
"""

from __future__ import annotations

import numpy as np

from l1tag.ops import add, attention, dense, dynamic_tanh, maxpool, model_input, multiply, pair_bias, relu
from l1tag.ops.base import Op, OpRule, Part, Port

# the registry: a lowered model's ops are these rules' ops (the order is the lowering's order of asking)
OPS: tuple[OpRule, ...] = (model_input.RULE, dense.RULE, relu.RULE, add.RULE, multiply.RULE, maxpool.RULE,
                           attention.RULE, dynamic_tanh.RULE, pair_bias.RULE)
__all__ = ["OPS", "Op", "OpRule", "Part", "Port", "rule", "run_reference"]


def rule(op: Op | str) -> OpRule:
    """The rule of a lowered op (or of an op name)."""
    name = op if isinstance(op, str) else op.operation
    for registered in OPS:
        if registered.name == name:
            return registered
    raise ValueError(f"unknown op '{name}' (registered: {', '.join(r.name for r in OPS)})")


def run_reference(ops: list[Op], x: np.ndarray, trace: bool = False):
    """The whole firmware in NumPy: x (jets, n, F) already in the input type -> the output (jets, classes).

    Stock hls4ml layers (Dense with exact accumulators, ReLU, Add, max pooling) and products reduce to one
    rounding into their result type; l1tag's own layers run their references.  The C-simulation of the generated project
    must equal this on every jet.  With ``trace`` also every op's output by name (to compare with hls4ml's
    per-layer trace)."""
    values: dict[str, np.ndarray] = {}
    out = None
    for op in ops:
        ins = [values[i] for i in op.inputs] if op.inputs else [x]
        out = rule(op).reference(op, ins)
        values[op.name] = out
    return (out, values) if trace else out
