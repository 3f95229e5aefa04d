"""The shared op test base: every op of the registry (``l1tag.ops.OPS``) passes the same checks.

An op gets its tests by declaring, in ``CASES``, the tiny taggers it occurs in.  For each of its
instances there, on random jets:

* the NumPy reference of the whole model equals the quantized Keras model bit for bit (the op's
  lowering and reference agree with the layer the model trains);
* the op's da4ml trace equals its reference on the values that reach it (``rule.trace``);
* its outputs are not trivial: more than one value, and not all at the ends of the result type.

The C-simulation of every op is the csim suite's (``tests/csim/test_convert_csim.py``, all kinds) and
Verilator's the open-synth suite's; this base runs without a compiler.  A registered op without a case, or
a case naming an op that no longer occurs, fails.
"""

from __future__ import annotations

import numpy as np
import pytest
from taggers import kind_inputs, perturbed_tagger

from l1tag import ops
from l1tag.numerics.fixed_point import quantize

pytest.importorskip("da4ml")

# op -> the tiny taggers it occurs in (l1tag.kinds names)
CASES = {
    "input": ("deepsets",),
    "dense": ("deepsets", "salt+ternary", "salt+low_rank", "lgatr_slim"),
    "relu": ("deepsets",),
    "add": ("salt", "lgatr_slim"),
    "multiply": ("lgatr_slim",),
    "maxpool": ("deepsets",),
    "attention": ("salt", "linformer", "transformer", "part", "lgatr_slim", "salt+ternary", "salt+pair_bias"),
    "dynamic_tanh": ("salt",),
    "pair_bias": ("transformer+pair_bias", "part", "salt+pair_bias"),
}
JETS = 64


def test_every_registered_op_has_a_case():
    assert sorted(CASES) == sorted(rule.name for rule in ops.OPS)


_MODELS: dict = {}


def _tiny(kind: str):
    """A tiny tagger of ``kind`` with perturbed weights, lowered, and its reference values on random jets."""
    if kind not in _MODELS:
        model, lowered, rng = perturbed_tagger(kind, seed=11)
        jets = quantize(rng.normal(0, 2, (JETS, 8, kind_inputs(kind)[0])), lowered.input_t)
        _, values = ops.run_reference(lowered.ops, jets, trace=True)
        _MODELS[kind] = (model, lowered, jets, values)
    return _MODELS[kind]


CASE_LIST = [(op, kind) for op, kinds_ in CASES.items() for kind in kinds_]


@pytest.mark.parametrize("operation, kind", CASE_LIST)
def test_the_reference_equals_the_quantized_keras_model(operation, kind):
    from l1tag.hls.convert import logits_model

    model, lowered, jets, values = _tiny(kind)
    assert any(op.operation == operation for op in lowered.ops), f"no '{operation}' op in the {kind} tagger"
    keras = logits_model(model).predict(jets.astype(np.float32), verbose=0)
    np.testing.assert_array_equal(np.asarray(keras, np.float64), values[lowered.output_name])


@pytest.mark.parametrize("operation, kind", CASE_LIST)
def test_the_trace_equals_the_reference_on_nontrivial_values(operation, kind):
    from l1tag.ops.trace import input_array
    from l1tag.rtl.trace import comb_solution

    _, lowered, jets, values = _tiny(kind)
    instances = [op for op in lowered.ops if op.operation == operation]
    assert instances, f"no '{operation}' op in the {kind} tagger"
    by_name = {op.name: op for op in lowered.ops}
    for op in instances:
        out = values[op.name]
        t = op.result_t
        assert np.unique(out).size > 1, f"{op.name}: constant output, the check would prove nothing"
        at_ends = np.isin(out, [t.min, t.max]).mean()
        assert at_ends < 0.9, f"{op.name}: {at_ends:.0%} of the outputs saturated"
        sources = op.inputs or []
        arrays = [input_array(values[s].shape[1:], by_name[s].result_t) for s in sources] or \
            [input_array(jets.shape[1:], lowered.input_t)]
        traced = ops.rule(op).trace(op, arrays)
        solution = comb_solution(arrays, traced)
        x = np.concatenate([values[s].reshape(JETS, -1) for s in sources], axis=1) if sources \
            else jets.reshape(JETS, -1)
        got = solution.predict(x[:16])
        np.testing.assert_array_equal(got, out[:16].reshape(16, -1), err_msg=op.name)


def test_an_op_without_a_reference_or_trace_fails(monkeypatch):
    """The base is not vacuous: a rule that lost its reference (or trace) raises, it is not skipped."""
    from l1tag.ops.base import OpRule

    _, lowered, jets, _ = _tiny("deepsets")
    relu = ops.rule("relu")
    monkeypatch.setattr(type(relu), "reference", OpRule.reference)
    with pytest.raises(NotImplementedError, match="op 'relu' has no reference"):
        ops.run_reference(lowered.ops, jets)
    monkeypatch.setattr(type(relu), "trace", OpRule.trace)
    with pytest.raises(NotImplementedError, match="op 'relu' cannot be traced"):
        relu.trace(next(op for op in lowered.ops if op.operation == "relu"), [])
