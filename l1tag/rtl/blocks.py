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

from l1tag.hls.reference.attention import project_reference, scores_reference
from l1tag.numerics.fixed_point import FixedType
from l1tag.rtl import trace as tr

PER_PARTICLE = ("dense", "relu", "add", "dynamic_tanh")
REDUCTIONS = ("attention", "maxpool")
ROLES = ("per_particle", "scores", "mix", "projection", "pooling", "head")


@dataclass
class Port:
    """One input of a block: a value of the model (or of an attention's inside), per copy ``shape``."""

    name: str
    shape: tuple
    type: FixedType


@dataclass
class Block:
    name: str
    role: str  # one of ROLES
    layers: list[str]  # the model's layers (lowered ops) whose arithmetic it holds (all or part)
    instances: int  # copies in the firmware
    inputs: list[Port]
    outputs: list[str] = field(default_factory=list)  # the model values it produces (op blocks)
    ops: list = field(default_factory=list)  # the lowered ops it runs (op blocks)
    attention: object = None  # the attention op (scores, mix, projection)
    graph: object = None  # op blocks: the model graph they were cut from (for their sub-blocks)

    def sub_block(self, members: list, name: str) -> "Block":
        """The block of a consecutive run of this op block's ops (a piece of a large chain)."""
        return self.graph.op_block(name, self.role, members, self.instances)

    def trace(self):
        """(traced inputs, traced outputs): lists of da4ml arrays, flattened in this order by comb_solution."""
        ins = [tr.input_array(p.shape, p.type) for p in self.inputs]
        if self.role in ("per_particle", "pooling", "head"):
            values = tr.trace_ops(self.ops, {p.name: a for p, a in zip(self.inputs, ins)})
            return ins, [values[name] for name in self.outputs]
        op, like = self.attention, ins[0]
        if self.role == "projection":
            kp, vp = tr.trace_project(ins[0], ins[1], op)
            return ins, [tr.wrap(kp, like), tr.wrap(vp, like)]
        if self.role == "scores":
            return ins, [tr.wrap(tr.trace_scores(ins[0], ins[1]._vars, op), like)]
        return ins, [tr.trace_mix(ins[0]._vars, ins[1]._vars, op, like)]  # mix

    def vectors(self, values: dict) -> tuple[np.ndarray, np.ndarray]:
        """(inputs, expected outputs): one row per copy's evaluation, from the reference's ``values``
        (``attention_values`` included), in the flattened order of ``trace``."""
        def rows(name, per_particle):
            v = values[name]
            return v.reshape(v.shape[0] * v.shape[1], -1) if per_particle else v.reshape(v.shape[0], -1)

        if self.role in ("per_particle", "pooling", "head"):
            pp = self.role == "per_particle"
            x = [rows(p.name, pp) for p in self.inputs]
            y = [rows(name, pp) for name in self.outputs]
            return np.concatenate(x, axis=1), np.concatenate(y, axis=1)
        a = self.attention.name
        if self.role == "projection":
            x = [values[n].reshape(len(values[n]), -1) for n in self.attention.inputs[1:]]
            y = [values[f"{a}.{t}"].reshape(len(values[a]), -1) for t in ("kp", "vp")]
            return np.concatenate(x, axis=1), np.concatenate(y, axis=1)
        spec = self.attention.spec
        jets, n = values[a].shape[:2]
        if self.role == "scores":  # every row of every jet against its jet's K'
            q = values[self.attention.inputs[0]].reshape(jets * n, -1)
            kp = np.repeat(values[f"{a}.kp"].reshape(jets, -1), n, axis=0)
            raw = values[f"{a}.raw"].transpose(0, 2, 1, 3).reshape(jets * n, -1)  # (jets, n, heads, m)
            return np.concatenate([q, kp], axis=1), raw
        kh = spec.conv[0] if spec.conv else 1  # mix: each particle's raw-score rows (its halo) and V'
        halo = np.stack([tr.halo_rows(r, spec) for r in values[f"{a}.raw"]])  # (jets, heads, n + kh - 1, m)
        windows = np.stack([halo[:, :, i:i + kh] for i in range(n)], axis=1).reshape(jets * n, -1)
        vp = np.repeat(values[f"{a}.vp"].reshape(jets, -1), n, axis=0)
        return np.concatenate([windows, vp], axis=1), values[a].reshape(jets * n, -1)


def attention_values(ops, values: dict) -> dict:
    """The attention kernels' insides of each jet, from the reference: ``<op>.kp``, ``<op>.vp`` (K', V') and
    ``<op>.raw`` (the scores before the convolution), added to ``values``."""
    out = dict(values)
    for op in ops:
        if op.kind != "attention":
            continue
        q, k, v = (values[name] for name in op.inputs)
        kvp = [project_reference(kj, vj, op.weights, op.spec) for kj, vj in zip(k, v)]
        out[f"{op.name}.kp"] = np.stack([t[0] for t in kvp])
        out[f"{op.name}.vp"] = np.stack([t[1] for t in kvp])
        out[f"{op.name}.raw"] = np.stack([scores_reference(qj, t[0], op.spec) for qj, t in zip(q, kvp)])
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
    ops = [op for op in lowered.ops if op.kind != "input"]
    graph = _Graph(lowered, shapes)
    segment, pooled = {}, {}
    for op in lowered.ops:  # segment: reductions crossed so far; pooled: after the pooling
        ins = [graph.by_name[i] for i in op.inputs]
        segment[op.name] = max([segment[i.name] + (i.kind in REDUCTIONS) for i in ins], default=0)
        pooled[op.name] = op.kind == "maxpool" or any(pooled[i.name] for i in ins)
    blocks, chains = [], {}
    for op in ops:
        if op.kind in PER_PARTICLE and not pooled[op.name]:
            chains.setdefault(segment[op.name], []).append(op)
    for seg, members in sorted(chains.items()):
        blocks.append(graph.op_block(f"particle_chain{seg}", "per_particle", members, parallel))
    for op in ops:
        if op.kind == "maxpool":
            blocks.append(graph.op_block(f"{op.name}_pooling", "pooling", [op], 1))
        elif op.kind == "attention":
            blocks += _attention_blocks(op, parallel)
        elif op.kind not in PER_PARTICLE:
            raise ValueError(f"op '{op.name}' ({op.kind}) has no RTL block (supported: {', '.join(tr.SUPPORTED)})")
    head = [op for op in ops if pooled[op.name] and op.kind != "maxpool"]
    if head:
        blocks.append(graph.op_block("head", "head", head, 1))
    return blocks


def _attention_blocks(op, parallel: int) -> list[Block]:
    spec = op.spec
    q, k, v = op.inputs
    heads, m, dh, kh = spec.heads, spec.m, spec.head_dim, spec.conv[0] if spec.conv else 1
    kv = Port(f"{op.name}.kp", (heads, m, dh), spec.qkv_t), Port(f"{op.name}.vp", (heads, m, dh), spec.qkv_t)
    blocks = []
    if spec.projection_terms:  # full attention: K' = K, V' = V is wiring
        blocks.append(Block(f"{op.name}_projection", "projection", [op.name], 1,
                            [Port(k, (spec.n, spec.d), spec.qkv_t), Port(v, (spec.n, spec.d), spec.qkv_t)],
                            attention=op))
    blocks.append(Block(f"{op.name}_scores", "scores", [op.name], parallel + kh - 1,
                        [Port(q, (1, spec.d), spec.qkv_t), kv[0]], attention=op))
    blocks.append(Block(f"{op.name}_mix", "mix", [op.name], parallel,
                        [Port(f"{op.name}.raw", (heads, kh, m), spec.score_t), kv[1]], attention=op))
    return blocks
