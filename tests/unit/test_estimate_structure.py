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

from l1tag.hardware.estimate import (
    _stage_cycles,
    da_adder_depth,
    estimate_layer,
    estimate_model,
    multiplier_cost,
    pipeline_style,
)

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
    assert d["latency_cycles"] == sum(r["latency"] for r in d["layers"])
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
    assert row["latency"] == _stage_cycles(0.0, depth, clock) + (node.get_attr("n_partitions") - 1)


# ------------------------------------------------------------------------------------------
# l1tag's own layers, as IR stubs (what estimate reads: attributes, variables, weights)
# ------------------------------------------------------------------------------------------


def _hls_type(width: int, integer: int):
    from hls4ml.model.types import FixedPrecisionType

    return SimpleNamespace(precision=FixedPrecisionType(width=width, integer=integer, signed=True))


class _Node:
    def __init__(self, class_name: str, attrs: dict, in_shape, out_shape, in_t, out_t, weights: dict | None = None):
        self.class_name, self.name, self.attrs = class_name, "stub", attrs
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


def _attention(p: int | None, n: int = N, heads: int = 2, m: int = 4, d: int = 8, rf: int = 1, qkv: bool = False):
    """A Linformer attention node: wide (12-bit) Q/K/V and softmax, so every variable product is a DSP;
    projection weights 0.5 (shifts), so only the variable products cost DSPs."""
    from l1tag.numerics.fixed_point import FixedType

    wide, narrow = FixedType(12, 4, True), FixedType(8, 2, True)
    types = {"weight": narrow, "qkv": wide, "score": wide, "softmax": FixedType(12, 1, False), "out": wide}
    attrs = {"kind": "linformer", "n": n, "d": d, "heads": heads, "m": m, "conv": None, "types": types,
             "table_size": 4096, "reuse_factor": rf}
    if p is not None:
        attrs["parallelization_factor"] = p
    weights = {"kproj": np.full((heads, m, n), 0.5), "vproj": np.full((heads, m, n), 0.5)}
    if qkv:  # the legacy kernel holds Wq, Wk, Wv
        weights.update({w: np.full((d, d), 0.5) for w in ("wq", "wk", "wv")})
    return _Node("L1tagAttention", attrs, (n, d), (n, d), _hls_type(12, 4), _hls_type(12, 4), weights)


def test_attention_datapath_scales_with_particles_per_iteration():
    """P copies of the per-particle datapath (variable products, one table pair per row-head), two
    loops of n / P iterations, DATAFLOW processes: a jet every n / P cycles, latency over both."""
    full = estimate_layer(_attention(N), 5.0, False)
    heads, m, dh = 2, 4, 4
    for p in (1, 2, 4):
        row = estimate_layer(_attention(p), 5.0, False)
        assert row["copies"] == p and row["iterations"] == N // p
        assert row["DSP"] == heads * p * m * (2 * dh + 1)  # Q K'^T, e x 1/sum, A V' of P particles
        assert row["BRAM_18K"] == full["BRAM_18K"] * p // N  # exp and reciprocal tables, per row-head
        assert row["interval"] == N // p
        assert row["latency"] >= 2 * (N // p)
        assert row["multiplications"] == full["multiplications"]  # per jet, whatever P
    assert full["interval"] == 1 and full["iterations"] == 1
    assert estimate_layer(_attention(2), 5.0, False, unroll=True)["copies"] == N  # a PIPELINE top unrolls


def test_legacy_attention_is_fully_parallel_and_not_divided_by_the_reuse_factor():
    """No parallelization_factor: P = n, one pipeline at II = R whose ALLOCATION limit is not honoured."""
    one, two = (estimate_layer(_attention(None, rf=rf, qkv=True), 5.0, False) for rf in (1, 2))
    assert one["copies"] == N and one["interval"] == 1 and two["interval"] == 2
    assert (two["DSP"], two["LUT"], two["BRAM_18K"]) == (one["DSP"], one["LUT"], one["BRAM_18K"])


def test_dynamic_tanh_elements_per_iteration():
    """P x d elements per iteration, one tanh table per element in flight, n / P iterations at II = 1."""
    d = 4

    def tanh(p):
        attrs = {"table_size": 1024, "reuse_factor": 1, "parallelization_factor": p}
        return estimate_layer(_Node("L1tagDynamicTanh", attrs, (N, d), (N, d), _hls_type(16, 6), _hls_type(8, 1)),
                              5.0, False)

    full = tanh(N)
    for p in (1, 2, N):
        row = tanh(p)
        assert row["copies"] == p and row["interval"] == N // p
        assert (row["LUT"], row["BRAM_18K"], row["FF"]) == tuple(full[k] * p // N for k in ("LUT", "BRAM_18K", "FF"))


def test_fused_particle_loop_is_one_process_with_chained_delays(tmp_path):
    """l1tag's fused loop (fc -> relu -> fc2 for one particle, n / P iterations): one process whose depth
    chains the members' delays, no ping-pong array inside it, elementwise layers P copies; the project's
    hls4ml_config.yml records it, so an estimate from disk agrees; a plain hls4ml project is not fused."""
    from l1tag.hardware.estimate import T_LUT_NS, loop_latency
    from l1tag.hardware.project import estimate_project
    from l1tag.hls import particle_loops

    layers = {name: {"ParallelizationFactor": 2} for name in ("fc", "fc2")}
    plain = _convert(_particles_model(), tmp_path / "plain", layers)
    fused = _convert(_particles_model(), tmp_path / "fused", layers)
    loops = particle_loops.fuse(fused)
    assert [(lp.member_names, lp.iterations, lp.parallel) for lp in loops] == [(["fc", "relu", "fc2"], N // 2, 2)]
    assert particle_loops.is_fused(fused) and not particle_loops.is_fused(plain)
    p, f = estimate_model(plain), estimate_model(fused)
    assert p["particle_loops"] == [] and p["latency_cycles"] == sum(r["latency"] for r in p["layers"])
    rows = {r["layer"]: r for r in p["layers"]}
    delays = [estimate_layer(fused.graph[name], 5.0, False)["delay_ns"] for name in ("fc", "relu", "fc2")]
    assert delays[1] == T_LUT_NS
    want = N // 2 - 1 + _stage_cycles(sum(delays), 0, 5.0)
    assert loop_latency(loops[0], {n: estimate_layer(fused.graph[n], 5.0, False) for n in ("fc", "relu", "fc2")},
                        5.0) == want
    assert f["latency_cycles"] == want < p["latency_cycles"] and f["ii_cycles"] == p["ii_cycles"] == N // 2
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
