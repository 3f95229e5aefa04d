"""The estimator follows the structure of the C++ hls4ml writes: particle loops (n_partitions), the
DATAFLOW or PIPELINE top, the Latency strategy's unhonoured ALLOCATION, distributed arithmetic (da4ml's
own cost), and l1tag's particle-parallel attention and DynamicTanh."""

from __future__ import annotations

import contextlib
import io
import math
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

from l1tag.hardware.estimate import Target, da_adder_depth, estimate_layer, estimate_model, multiplier_cost
from l1tag.hls.particle_loops import pipeline_style

AT_5NS = Target(clock_ns=5.0)  # Vitis HLS rules, its default clock uncertainty, io_parallel

N = 8  # particles
# per particle: 0.6875 (3 CSD digits) and 0.3 (5) are DSP constants at 16-bit data, the rest shifts/LUT adds
WEIGHTS = np.array([[0.6875, 0.3], [0.5, 0.75], [0.0, 0.875]])
PRECISION = "ap_fixed<16,6>"


def _convert(model, out, layers: dict | None = None, **model_cfg):
    import hls4ml

    cfg = {"Model": {"Precision": PRECISION, "ReuseFactor": 1, "Strategy": "Latency", **model_cfg},
           "LayerName": layers or {}}
    with contextlib.redirect_stdout(io.StringIO()):
        return hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, io_type="io_parallel",
                                                          backend="Vitis", output_dir=str(out))


def _particles_model():
    """(N, 3) -> Dense 'fc' (a pointwise Conv1D in hls4ml) -> ReLU -> Dense 'fc2'."""
    inp = tf.keras.Input((N, 3))
    fc, fc2 = tf.keras.layers.Dense(2, name="fc"), tf.keras.layers.Dense(2, name="fc2")
    model = tf.keras.Model(inp, fc2(tf.keras.layers.ReLU(name="relu")(fc(inp))))
    fc.set_weights([WEIGHTS, np.zeros(2)])
    fc2.set_weights([np.full((2, 2), 0.5), np.zeros(2)])
    return model


def _rows(est: dict) -> dict:
    return {r["layer"]: r for r in est["layers"]}


def test_parallelization_factor_sets_copies_and_interval(tmp_path):
    """P particles per iteration: P copies of one particle's multipliers, n / P iterations at II = R."""
    per_particle = multiplier_cost(WEIGHTS, 10, 16)["dsp_mults"]
    rows, styles = {}, {}
    for p in (1, 2, N):
        layers = {name: {"ParallelizationFactor": p} for name in ("fc", "fc2")}
        hm = _convert(_particles_model(), tmp_path / str(p), layers)
        assert hm.graph["fc"].get_attr("n_partitions") == N // p  # hls4ml's own partitioning
        rows[p], styles[p] = _rows(estimate_model(hm))["fc"], pipeline_style(hm)
    for p in (1, 2, N):
        assert rows[p]["copies"] == p and rows[p]["iterations"] == N // p
        assert rows[p]["DSP"] == per_particle * p
        assert rows[p]["interval"] == N // p
        assert rows[p]["latency"] - rows[N]["latency"] == N // p - 1  # pipelined at II = 1
        assert rows[p]["multiplications"] == rows[N]["multiplications"]  # per jet, whatever P
    assert styles == {1: "dataflow", 2: "dataflow", N: "pipeline"}


def test_dataflow_top_interval_is_the_slowest_layer_latency_the_sum(tmp_path):
    """Under DATAFLOW the layers are processes: II = max interval, latency = sum, and each internal
    array is a ping-pong buffer; a PIPELINE top unrolls the particle loops whatever P is."""
    layers = {"fc": {"ParallelizationFactor": 2}, "fc2": {"ParallelizationFactor": N}}
    dataflow = _convert(_particles_model(), tmp_path / "d", layers)
    pipeline = _convert(_particles_model(), tmp_path / "p", layers, PipelineStyle="pipeline")
    assert (pipeline_style(dataflow), pipeline_style(pipeline)) == ("dataflow", "pipeline")
    d, p = estimate_model(dataflow), estimate_model(pipeline)
    assert d["ii_cycles"] == max(r["interval"] for r in d["layers"]) == N // 2
    # each process hands over to the next by ap_done -> ap_start: one cycle each (ToolRules.dataflow_handshake)
    processes = len(d["layers"]) - 1  # the input layer is the port
    assert d["latency_cycles"] == sum(r["latency"] for r in d["layers"]) + processes
    assert _rows(p)["fc"]["copies"] == N and p["ii_cycles"] == 1
    assert p["latency_cycles"] == sum(r["latency"] for r in p["layers"])
    relu = dataflow.graph["relu"].get_output_variable()
    bits = int(np.prod(relu.shape)) * relu.type.precision.width
    assert _rows(p)["relu"]["FF"] == 0 and _rows(p)["relu"]["latency"] == 0  # merged into fc's last stage
    assert _rows(d)["relu"]["FF"] == bits + 2 * bits  # its output register + the ping-pong buffer


def test_latency_strategy_reuse_factor_does_not_halve_resources(tmp_path):
    """Latency R = 2: same multipliers, LUTs and FFs as R = 1 (ALLOCATION not honoured), II doubled;
    the particle loop runs at II = R."""
    layers = {"fc": {"ParallelizationFactor": 2}}
    hm = _convert(_particles_model(), tmp_path / "2", layers, ReuseFactor=2)
    assert hm.graph["fc"].get_attr("reuse_factor") == 2
    one = _rows(estimate_model(_convert(_particles_model(), tmp_path / "1", layers)))
    two = _rows(estimate_model(hm))
    assert two["fc"]["DSP"] == one["fc"]["DSP"] > 0 and two["fc"]["LUT"] == one["fc"]["LUT"]
    assert two["fc"]["FF"] >= one["fc"]["FF"]  # R - 1 more pipeline cycles, never fewer registers
    assert two["fc"]["interval"] == 2 * one["fc"]["interval"] == 2 * (N // 2)


def _da_model():
    """(N, 3) -> Dense 'fc' (DA pointwise Conv1D) -> average over particles -> Dense 'out' (DA, on a vector)."""
    inp = tf.keras.Input((N, 3))
    fc, out = tf.keras.layers.Dense(4, name="fc"), tf.keras.layers.Dense(2, name="out")
    model = tf.keras.Model(inp, out(tf.keras.layers.GlobalAveragePooling1D(name="pool")(fc(inp))))
    rng = np.random.default_rng(7)
    for layer in (fc, out):  # 8-bit weights (6 fractional bits), exact in the weight type
        layer.set_weights([np.round(rng.normal(size=w.shape) * 64) / 64 for w in layer.get_weights()])
    return model


def _da4ml_trace(node, keras_layer):
    """da4ml's solution of the layer's kernel, traced here from the Keras weights and the input type."""
    from da4ml.trace import FixedVariableArray, HWConfig, comb_trace

    kernel, bias = keras_layer.get_weights()
    p = node.get_input_variable().type.precision
    n_in = kernel.shape[0]
    k, i, f = int(p.signed), p.integer - int(p.signed), p.width - p.integer
    inp = FixedVariableArray.from_kif(np.full(n_in, k), np.full(n_in, i), np.full(n_in, f), HWConfig(1, -1, -1),
                                      solver_options={"hard_dc": 2, "search_all_decompose_dc": True})
    return comb_trace(inp, inp @ kernel + bias)


@pytest.mark.parametrize("p", [2, N])
def test_da_layer_cost_is_da4ml_cost(tmp_path, p):
    """The acceptance line: the estimator's LUTs of a DA layer = n_pixels x da4ml's cost of its kernel."""
    pytest.importorskip("da4ml")
    model = _da_model()
    layers = {"fc": {"Strategy": "distributed_arithmetic", "ReuseFactor": 1, "ParallelizationFactor": p},
              "out": {"Strategy": "distributed_arithmetic", "ReuseFactor": 1}}
    hm = _convert(model, tmp_path, layers)
    rows = _rows(estimate_model(hm))
    for name, copies in (("fc", p), ("out", 1)):
        sol = _da4ml_trace(hm.graph[name], model.get_layer(name))
        assert float(hm.graph[name].get_attr("da_kernel_cost")) == sol.cost  # hls4ml kept da4ml's figure
        assert rows[name]["copies"] == copies
        assert rows[name]["LUT"] == math.ceil(copies * sol.cost)
        assert rows[name]["DSP"] == 0


def test_da_adder_depth_is_parsed_from_the_generated_code(tmp_path):
    """The adder depth is the largest '// <latency>' comment of da4ml's C++, and sets the latency."""
    pytest.importorskip("da4ml")
    assert da_adder_depth("int a = b; // 0.0\nint c = a + b; // 2.0\nint d = c - a; // 3.0\n// a -> b") == 3.0
    assert da_adder_depth(SimpleNamespace(code="")) == 0.0
    model = _da_model()
    layers = {"fc": {"Strategy": "distributed_arithmetic", "ReuseFactor": 1, "ParallelizationFactor": 2}}
    hm = _convert(model, tmp_path, layers)
    node = hm.graph["fc"]
    depth = da_adder_depth(node.get_attr("da_codegen"))
    assert depth == _da4ml_trace(node, model.get_layer("fc")).latency[1] > 0
    clock = float(hm.config.get_config_value("ClockPeriod"))
    row = _rows(estimate_model(hm))["fc"]
    assert row["latency"] == Target(clock_ns=clock).stage_cycles(0.0, depth) + (node.get_attr("n_partitions") - 1)


# ------------------------------------------------------------------------------------------
# l1tag's own layers, as IR stubs (what estimate reads: attributes, variables, weights)
# ------------------------------------------------------------------------------------------


def _hls_type(width: int, integer: int):
    from hls4ml.model.types import FixedPrecisionType

    return SimpleNamespace(precision=FixedPrecisionType(width=width, integer=integer, signed=True))


class _Node:
    def __init__(self, class_name: str, attrs: dict, in_shape, out_shape, in_t, out_t, weights: dict | None = None):
        self.class_name, self.name, self.attrs = class_name, "stub", attrs
        self.inputs = ["input"]  # one input variable, as hls4ml's nodes name theirs
        self._in = SimpleNamespace(shape=list(in_shape), type=in_t)
        self._out = SimpleNamespace(shape=list(out_shape), type=out_t)
        self.weights = {k: SimpleNamespace(data=np.asarray(v), type=_hls_type(8, 2)) for k, v in (weights or {}).items()}

    def get_attr(self, key, default=None):
        return self.attrs.get(key, default)

    def get_input_variable(self):
        return self._in

    def get_output_variable(self):
        return self._out

    def get_weights(self, name):
        return self.weights[name]


def _attention(p: int | None, n: int = N, heads: int = 2, m: int = 4, d: int = 8, rf: int = 1,
               products: str = "dsp"):
    """A Linformer attention node: wide (12-bit) Q/K/V and softmax, so every variable product fits a DSP;
    projection weights 0.5 (shifts), so only the variable products cost DSPs."""
    from l1tag.numerics.fixed_point import FixedType

    wide, narrow = FixedType(12, 4, True), FixedType(8, 2, True)
    types = {"weight": narrow, "qkv": wide, "score": wide, "softmax": FixedType(12, 1, False), "out": wide}
    attrs = {"kind": "linformer", "n": n, "d": d, "heads": heads, "m": m, "conv": None, "types": types,
             "table_size": 4096, "reuse_factor": rf, "variable_products": products}
    if p is not None:
        attrs["parallelization_factor"] = p
    weights = {"kproj": np.full((heads, m, n), 0.5), "vproj": np.full((heads, m, n), 0.5)}
    return _Node("L1tagAttention", attrs, (n, d), (n, d), _hls_type(12, 4), _hls_type(12, 4), weights)


def test_loop_interval_is_its_trip_count_when_rewound_else_its_latency_plus_one():
    """UG1399: a pipelined loop that is its process's outermost construct overlaps the next call only with
    rewind; without it the pipeline drains first."""
    from l1tag.hardware.estimate.prices import loop_timing

    assert loop_timing(4, 1, 9) == (12, 4)
    assert loop_timing(4, 1, 9, rewind=False) == (12, 13)
    assert loop_timing(1, 1, 9, rewind=False) == (9, 10)
    assert loop_timing(4, 2, 9, pipelined=False) == (36, 36)


def test_attention_datapath_scales_with_particles_per_iteration():
    """P copies of the per-particle datapath (variable products bound to DSPs, one exp ROM copy per two
    reads), two rewound loops of n / P iterations in a DATAFLOW region: a jet every n / P cycles, the
    latency of both loops and one handshake."""
    from l1tag.hardware.estimate.tools import TOOL_RULES, VITIS_HLS

    from l1tag.numerics.tables import inv_index_division, sum_type

    full = estimate_layer(_attention(N), AT_5NS)
    heads, m, dh = 2, 4, 4
    index_dsp = multiplier_cost(np.array([inv_index_division(m, 4096)[0]]), 0, sum_type(m).width)["dsp_mults"]
    assert index_dsp == 1
    for p in (1, 2, 4):
        row = estimate_layer(_attention(p), AT_5NS)
        assert row["copies"] == p and row["iterations"] == N // p
        # Q K'^T, e x 1/sum, A V' of P particles, the run-time projection weights x K, V, and the reciprocal
        # index's constant multiplier (>= 3 signed digits on >= 10-bit data: a DSP by the constant rule)
        assert row["DSP"] == heads * p * m * (2 * dh + 1) + 2 * p * heads * m * dh + heads * p * index_dsp
        assert row["BRAM_18K"] == full["BRAM_18K"] * p // N  # ceil(reads / 2) ROM copies, reads ~ P
        assert row["interval"] == N // p
        proj, core = row["processes"]
        assert (proj["interval"], core["interval"]) == (N // p, N // p)  # rewound: the trip count
        assert row["latency"] == proj["latency"] + TOOL_RULES[VITIS_HLS].dataflow_handshake + core["latency"]
        assert core["latency"] == N // p - 1 + core["depth"]
        assert row["multiplications"] == full["multiplications"]  # per jet, whatever P
    assert full["DSP"] == heads * N * m * (2 * dh + 1) + heads * N * index_dsp  # one iteration: the projection weights are constants
    assert full["interval"] == 1 and full["iterations"] == 1
    assert estimate_layer(_attention(2), Target(clock_ns=5.0, unroll=True))["copies"] == N  # a PIPELINE top unrolls
    lut = estimate_layer(_attention(2, products="lut"), AT_5NS)
    assert lut["DSP"] == heads * 2 * index_dsp and lut["LUT"] > estimate_layer(_attention(2), AT_5NS)["LUT"]  # BIND_OP fabric


def test_dynamic_tanh_elements_per_iteration():
    """P x d lanes per iteration, one dual-port table copy per two lanes, n / P rewound iterations."""
    d = 4

    def tanh(p):
        attrs = {"table_size": 1024, "reuse_factor": 1, "parallelization_factor": p, "alpha": 0.75, "beta": 0.0,
                 "types": {"param": _fixed(8, 3), "out": _fixed(8, 1)}}
        return estimate_layer(_Node("L1tagDynamicTanh", attrs, (N, d), (N, d), _hls_type(16, 6), _hls_type(8, 1)),
                              AT_5NS)

    full = tanh(N)
    for p in (1, 2, N):
        row = tanh(p)
        assert row["copies"] == p and row["interval"] == N // p
        assert row["BRAM_18K"] == p * d // 2  # 1K x 8 bits: one RAMB18 per copy
        assert (row["LUT"], row["FF"]) == tuple(full[k] * p // N for k in ("LUT", "FF"))


def _fixed(width, integer):
    from l1tag.numerics.fixed_point import FixedType

    return FixedType(width, integer, True)


def test_fused_particle_loop_is_one_process_with_chained_delays(tmp_path):
    """l1tag's fused loop (fc -> relu -> fc2 for one particle, n / P iterations): one process whose depth
    chains the members' delays, no ping-pong array inside it, elementwise layers P copies; the project's
    hls4ml_config.yml records it, so an estimate from disk agrees; a plain hls4ml project is not fused."""
    from l1tag.hardware.estimate.compose import loop_latency
    from l1tag.hardware.estimate.prices import T_LUT_NS
    from l1tag.hardware.project import estimate_project
    from l1tag.hls import particle_loops

    layers = {name: {"ParallelizationFactor": 2} for name in ("fc", "fc2")}
    plain = _convert(_particles_model(), tmp_path / "plain", layers)
    fused = _convert(_particles_model(), tmp_path / "fused", layers)
    loops = particle_loops.fuse(fused)
    assert [(lp.member_names, lp.iterations, lp.parallel) for lp in loops] == [(["fc", "relu", "fc2"], N // 2, 2)]
    assert particle_loops.is_fused(fused) and not particle_loops.is_fused(plain)
    p, f = estimate_model(plain), estimate_model(fused)
    hand = len(p["layers"]) - 1  # a DATAFLOW handshake per process
    assert p["particle_loops"] == [] and p["latency_cycles"] == sum(r["latency"] for r in p["layers"]) + hand
    rows = {r["layer"]: r for r in p["layers"]}
    delays = [estimate_layer(fused.graph[name], AT_5NS)["delay_ns"] for name in ("fc", "relu", "fc2")]
    assert delays[1] == T_LUT_NS
    want = N // 2 - 1 + AT_5NS.stage_cycles(sum(delays))
    assert loop_latency(loops[0], {n: estimate_layer(fused.graph[n], AT_5NS) for n in ("fc", "relu", "fc2")},
                        AT_5NS) == want
    assert f["latency_cycles"] == want + 1 < p["latency_cycles"] and f["ii_cycles"] == p["ii_cycles"] == N // 2
    assert f["particle_loops"][0]["latency"] == want
    relu = fused.graph["relu"].get_output_variable()
    relu_bits = relu.type.precision.width
    fused_rows = {r["layer"]: r for r in f["layers"]}
    # the relu's P = 2 copies instead of N, and no ping-pong array behind it
    assert fused_rows["relu"]["FF"] == (rows["relu"]["FF"] - 2 * N * 2 * relu_bits) * 2 // N
    assert fused_rows["fc"]["DSP"] == rows["fc"]["DSP"]
    with contextlib.redirect_stdout(io.StringIO()):
        fused.write()
    from_disk = estimate_project(tmp_path / "fused")
    assert (from_disk["latency_cycles"], from_disk["resources"]) == (f["latency_cycles"], f["resources"])
