"""da4ml traces of the firmware's arithmetic equal the NumPy fixed-point reference bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from taggers import perturbed_tagger

from l1tag.ops import run_reference
from l1tag.numerics.fixed_point import FixedType, quantize
from l1tag.numerics.tables import exact_division
from l1tag.ops.trace import cast, input_array, kif
from l1tag.rtl.trace import comb_solution, trace_ops

pytest.importorskip("da4ml")


@pytest.mark.parametrize("t", [FixedType(8, 3, False, "AP_RND_CONV", "AP_SAT"), FixedType(8, 4, True, "AP_RND_CONV", "AP_SAT"),
                               FixedType(6, 2, True, "AP_TRN", "AP_WRAP"), FixedType(7, 3, True, "AP_RND", "AP_SAT")])
def test_cast_is_the_ap_fixed_assignment(t):
    """Every value of a wider type (ties included) cast as ap_fixed does: l1tag.numerics' quantize."""
    src = FixedType(13, 6, True)
    x = input_array((1,), src)
    sol = comb_solution(x, cast(x, t))
    grid = np.arange(-(2 ** 12), 2 ** 12) * src.lsb  # all 8,192 values of the source type
    assert kif(src) == (1, 5, 7)
    np.testing.assert_array_equal(sol.predict(grid[:, None])[:, 0], quantize(grid, t))


def _model(kind: str, seed: int = 3):
    return perturbed_tagger(kind, seed=seed)[1]


@pytest.mark.parametrize("kind", ["salt", "linformer", "transformer", "deepsets"])
def test_a_whole_jet_traced_equals_the_reference(kind):
    """Every kind, the whole tiny model as one adder graph (attention included: the kind's projection,
    variable products, the score convolution, the table softmax with its exact bin index, A V')."""
    lowered = _model(kind)
    first = lowered.ops[0]
    x = input_array((8, 3), lowered.input_t)
    values = trace_ops(lowered.ops, {first.name: x})
    sol = comb_solution(x, values[lowered.output_name])
    jets = quantize(np.random.default_rng(0).normal(0, 2, (300, 8, 3)), lowered.input_t)
    np.testing.assert_array_equal(sol.predict(jets.reshape(300, -1)), run_reference(lowered.ops, jets))


@pytest.mark.parametrize("m, size", [(4, 1024), (2, 1024), (8, 256), (32, 1024)])
def test_the_softmax_bin_index_is_an_exact_multiply_and_shift(m, size):
    """floor(r T / ((m - 1) 2^16)) == (r M) >> s on the sum's whole range (checked inside, asserted here)."""
    one = 2**16
    mult, shift = exact_division((m - 1) * one, size, (m - 1) * one)
    r = np.arange((m - 1) * one + 1, dtype=np.int64)
    np.testing.assert_array_equal((r * mult) >> shift, (r * size) // ((m - 1) * one))


def test_a_salt_particle_chain_traced_equals_the_reference():
    """One particle through the SAL-T's fused loop after the attention: add -> DynamicTanh (its table) ->
    FFN -> add -> DynamicTanh, from the reference's own intermediate values."""
    lowered = _model("salt")
    jets = quantize(np.random.default_rng(1).normal(0, 2, (300, 8, 3)), lowered.input_t)
    _, trace = run_reference(lowered.ops, jets, trace=True)
    ops = {op.name: op for op in lowered.ops}
    chain = [ops[name] for name in ("att0_add", "att0_dyt", "ffn0_up", "ffn0_up_act", "ffn0_down", "ffn0_add",
                                    "ffn0_dyt")]
    outside = [name for name in chain[0].inputs]  # the embedding's ReLU and the attention's output
    inputs = {name: input_array((1, 8), ops[name].result_t) for name in outside}
    values = trace_ops(chain, inputs)
    sol = comb_solution([inputs[n] for n in outside], values["ffn0_dyt"])
    rows = np.concatenate([trace[n].reshape(-1, 8) for n in outside], axis=1)  # every particle of every jet
    np.testing.assert_array_equal(sol.predict(rows), trace["ffn0_dyt"].reshape(-1, 8))


def test_a_traced_layer_as_verilog_simulates_bit_exact_and_synthesizes(tmp_path):
    """One Dense -> ReLU block: da4ml's Verilog, simulated by Verilator, equals the reference on 3,000
    particles; Yosys maps it onto UltraScale+ LUTs and carries, without DSPs."""
    from l1tag.rtl.synth import simulate, synthesize, verilog_model, yosys_version

    lowered = _model("deepsets")
    ops = {op.name: op for op in lowered.ops}
    chain = [ops["phi0"], ops["phi0_act"]]
    x = input_array((1, 3), lowered.input_t)
    sol = comb_solution(x, trace_ops(chain, {lowered.ops[0].name: x})["phi0_act"])
    rows = quantize(np.random.default_rng(2).normal(0, 4, (3000, 3)), lowered.input_t)  # 375 jets of 8
    _, trace = run_reference(lowered.ops, rows.reshape(375, 8, 3), trace=True)
    want = trace["phi0_act"].reshape(3000, 8)
    model = verilog_model(sol, "phi0_block", tmp_path / "rtl")
    np.testing.assert_array_equal(simulate(model, rows), want)
    counts = synthesize(tmp_path / "rtl", "phi0_block", tmp_path / "yosys")
    assert counts["LUT"] > 0 and counts["CARRY"] > 0 and counts["DSP"] == 0 and counts["FF"] == 0
    assert "Yosys 0.70" in yosys_version()
