"""The built model cut into the blocks the firmware repeats, each traced once with da4ml.

The HLS firmware is a handful of distinct datapaths, instantiated many times (see
``l1tag/hls/particle_loops.py`` and ``firmware_templates/l1tag_attention.h``):

* ``per_particle`` -- each chain of per-particle layers between two reductions (embedding -> ReLU -> Q, K, V;
  add -> DynamicTanh -> FFN -> add -> DynamicTanh; Deep Sets' phi), for one particle: P copies, the
  body of a fused particle loop;
* ``scores`` -- one query row's raw scores against K' (variable products): P copies, plus the
  convolution's halo rows (kh - 1) when the kind has a score convolution;
* ``mix`` -- one particle's score convolution (its kh raw-score rows), table softmax and A V': P copies;
* ``projection`` -- K', V' of a whole jet (SAL-T's partition collapse, Linformer's E K and F V): one copy.
  The HLS kernel accumulates it over n / P iterations with the weights of each row group selected at run
  time; the RTL block is the same sums as one constant-weight adder graph (report.md says so);
* ``pooling`` -- the max over the n particles: one copy;
* ``head`` -- what follows the pooling (Dense -> ReLU -> Dense): one copy.

Each block knows its inputs (values read from outside it, with their firmware types and per-copy
shapes), how to trace itself (``l1tag/rtl/trace.py``), and how to cut its rows of inputs and expected
outputs out of the fixed-point reference's values (``vectors``), so that Verilator can check it on the
inputs real jets produce.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from l1tag.ops import Port, rule
from l1tag.ops.trace import input_array
from l1tag.rtl import trace

OP_BLOCKS = ("per_particle", "pooling", "head")  # blocks that run whole lowered ops; the others are parts of one op


@dataclass
class Block:
    name: str
    role: str  # per_particle | pooling | head, or the role of a part of one op (its rule's ``parts``)
    layers: list[str]  # the model's layers (lowered ops) whose arithmetic it holds (all or part)
    instances: int  # copies in the firmware
    inputs: list[Port]
    outputs: list[str] = field(default_factory=list)  # the model values it produces (op blocks)
    ops: list = field(default_factory=list)  # the lowered ops it runs (op blocks)
    owner: object = None  # parts: the op they are a part of (an attention's scores, mix, projection)
    graph: object = None  # op blocks: the model graph they were cut from (for their sub-blocks)

    def sub_block(self, members: list, name: str) -> "Block":
        """The block of a consecutive run of this op block's ops (a piece of a large chain)."""
        return self.graph.op_block(name, self.role, members, self.instances)

    def trace(self):
        """(traced inputs, traced outputs): lists of da4ml arrays, flattened in this order by comb_solution."""
        ins = [input_array(p.shape, p.type) for p in self.inputs]
        if self.role in OP_BLOCKS:
            values = trace.trace_ops(self.ops, {p.name: a for p, a in zip(self.inputs, ins)})
            return ins, [values[name] for name in self.outputs]
        return ins, rule(self.owner).trace_part(self.owner, self.role, ins)

    def vectors(self, values: dict) -> tuple[np.ndarray, np.ndarray]:
        """(inputs, expected outputs): one row per copy's evaluation, from the reference's ``values``
        (``inside_values`` included), in the flattened order of ``trace``."""
        if self.role not in OP_BLOCKS:
            return rule(self.owner).part_vectors(self.owner, self.role, values)

        def rows(name, per_particle):
            v = values[name]
            return v.reshape(v.shape[0] * v.shape[1], -1) if per_particle else v.reshape(v.shape[0], -1)

        pp = self.role == "per_particle"
        x = [rows(p.name, pp) for p in self.inputs]
        y = [rows(name, pp) for name in self.outputs]
        return np.concatenate(x, axis=1), np.concatenate(y, axis=1)


def inside_values(ops, values: dict) -> dict:
    """``values`` (the reference's, by op name) plus the insides of each op that its parts read
    (an attention's K', V' and raw scores: ``<op>.kp``, ``<op>.vp``, ``<op>.raw``)."""
    out = dict(values)
    for op in ops:
        out.update(rule(op).inside_values(op, values))
    return out


class _Graph:
    """What cutting op blocks out of a lowered model needs: its ops by name, their consumers, the values'
    per-jet shapes and the model's output."""

    def __init__(self, lowered, shapes: dict):
        self.by_name = {op.name: op for op in lowered.ops}
        self.shapes, self.output_name = shapes, lowered.output_name
        self.consumers: dict[str, list[str]] = {}
        for op in lowered.ops:
            for i in op.inputs:
                self.consumers.setdefault(i, []).append(op.name)

    def op_block(self, name: str, role: str, members: list, instances: int) -> Block:
        """A block of ``members`` (ops in graph order): its inputs are the values it reads from outside,
        its outputs the values read outside it (or the model's output)."""
        inside = {m.name for m in members}
        inputs = []
        for m in members:
            for i in m.inputs:
                if i not in inside and i not in [p.name for p in inputs]:
                    shape = (1,) + self.shapes[i][1:] if role == "per_particle" else self.shapes[i]
                    inputs.append(Port(i, shape, self.by_name[i].result_t))
        outputs = [m.name for m in members if m.name == self.output_name
                   or any(c not in inside for c in self.consumers.get(m.name, []))]
        block = Block(name, role, [m.name for m in members], instances, inputs, outputs, list(members))
        block.graph = self
        return block


def split_blocks(lowered, n: int, parallel: int, shapes: dict) -> list[Block]:
    """The blocks of a lowered model on n particles with P = ``parallel`` per clock; ``shapes``: the
    reference's value shapes of one jet (name -> shape without the jet axis)."""
    ops = [op for op in lowered.ops if op.operation != "input"]
    graph = _Graph(lowered, shapes)
    segment, pooled = {}, {}
    for op in lowered.ops:  # segment: reductions crossed so far; pooled: after the pooling
        ins = [graph.by_name[i] for i in op.inputs]
        segment[op.name] = max([segment[i.name] + rule(i).reduction for i in ins], default=0)
        pooled[op.name] = rule(op).pooling or any(pooled[i.name] for i in ins)
    blocks, chains = [], {}
    for op in ops:
        if rule(op).per_particle and not pooled[op.name]:
            chains.setdefault(segment[op.name], []).append(op)
    for seg, members in sorted(chains.items()):
        blocks.append(graph.op_block(f"particle_chain{seg}", "per_particle", members, parallel))
    for op in ops:
        if rule(op).pooling:
            blocks.append(graph.op_block(f"{op.name}_pooling", "pooling", [op], 1))
        elif rule(op).reduction:
            blocks += [Block(f"{op.name}_{part.suffix}", part.role, [op.name], part.instances, part.inputs,
                             owner=op) for part in rule(op).parts(op, parallel)]
        elif not rule(op).per_particle:
            raise ValueError(f"op '{op.name}' ({op.operation}) has no RTL block")
    head = [op for op in ops if pooled[op.name] and not rule(op).pooling]
    if head:
        blocks.append(graph.op_block("head", "head", head, 1))
    return blocks
