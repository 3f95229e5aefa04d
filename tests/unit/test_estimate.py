"""The hardware estimator on tiny models whose multiplier counts are worked out by hand."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import tensorflow as tf

from l1tag.hardware.estimate import csd_digits, estimate_model, multiplier_cost

# weights and their canonical signed-digit forms at 10 fractional bits (ap_fixed<16,6>):
#   0 -> none; 0.5 = 2^-1, -0.25, 1.0 -> shifts; 0.75 = 1 - 1/4, 0.875 = 1 - 1/8 -> one LUT add each;
#   0.6875 = 1 - 1/4 - 1/16 (3 digits) and 0.3 -> 307/1024 = 2^8 + 2^6 - 2^4 + 2^2 - 1 (5 digits) -> DSPs
WEIGHTS = np.array([[0.0, 0.5], [0.75, 0.6875], [0.3, -0.25], [0.875, 1.0]])


def test_csd_digits_by_hand():
    np.testing.assert_array_equal(csd_digits(np.array([0, 1, 2, 3, 7, -7, 704, 307])), [0, 1, 1, 2, 2, 2, 3, 5])


def test_multiplier_cost_by_hand():
    c = multiplier_cost(WEIGHTS, 10, data_bits=16)
    assert c["multiplications"] == 4 and c["dsp_mults"] == 2 and c["lut_mults"] == 2
    assert c["lut"] == 2 * (1 * (16 + 2))  # two 2-digit constants: one 18-bit adder each
    narrow = multiplier_cost(WEIGHTS, 10, data_bits=8)  # narrow data: no DSPs
    assert narrow["dsp_mults"] == 0 and narrow["lut_mults"] == 4


def _convert(model, out, io_type="io_parallel", parallelization: dict | None = None):
    import hls4ml

    cfg = {"Model": {"Precision": "ap_fixed<16,6>", "ReuseFactor": 1, "Strategy": "Latency"},
           "LayerName": {name: {"ParallelizationFactor": p} for name, p in (parallelization or {}).items()}}
    with contextlib.redirect_stdout(io.StringIO()):
        return hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, io_type=io_type, backend="Vitis",
                                                          output_dir=str(out))


def _dense(weights):
    inp = tf.keras.Input((4,))
    layer = tf.keras.layers.Dense(2, name="fc")
    model = tf.keras.Model(inp, layer(inp))
    layer.set_weights([weights, np.zeros(2)])
    return model


def test_dense_dsps_from_the_weights(tmp_path):
    est = estimate_model(_convert(_dense(WEIGHTS), tmp_path), part="xcvu9p-flga2104-2L-e")
    row = {r["layer"]: r for r in est["layers"]}["fc"]
    assert row["DSP"] == 2 and row["multiplications"] == 4
    assert est["source"] == "estimate" and est["resources"]["DSP"] == 2
    assert est["utilization"]["DSP"] == pytest.approx(2 / 6840)


def test_zero_weights_reduce_dsps(tmp_path):
    pruned = WEIGHTS.copy()
    pruned[1, 1] = pruned[2, 0] = 0.0  # the two DSP constants
    est = estimate_model(_convert(_dense(pruned), tmp_path))
    assert est["resources"]["DSP"] == 0
    assert {r["layer"]: r for r in est["layers"]}["fc"]["multiplications"] == 2


def test_conv_counts_per_pixel_in_flight_and_once_in_stream(tmp_path):
    """io_parallel: hls4ml's PartitionLoop computes out_width / n_partitions positions per iteration
    (ParallelizationFactor 1, its default: one position, three iterations); io_stream: one kernel."""
    inp = tf.keras.Input((4, 1))
    conv = tf.keras.layers.Conv1D(1, 2, name="conv")
    model = tf.keras.Model(inp, conv(inp))
    conv.set_weights([np.array([0.6875, 0.3]).reshape(2, 1, 1), np.zeros(1)])
    serial = {r["layer"]: r for r in estimate_model(_convert(model, tmp_path / "p"))["layers"]}["conv"]
    parallel = {r["layer"]: r for r in estimate_model(_convert(model, tmp_path / "a", parallelization={"conv": 3})
                                                      )["layers"]}["conv"]
    stream = {r["layer"]: r for r in estimate_model(_convert(model, tmp_path / "s", "io_stream"))["layers"]}["conv"]
    assert serial["DSP"] == 2 and serial["interval"] == 3  # one position in flight, two DSP constants
    assert parallel["DSP"] == 3 * 2 and parallel["interval"] == 1  # all three output positions at once
    # one kernel; io_stream reads one input pixel per iteration (conv_1d_cl's ReadInputWidth, 4 pixels), which
    # Vitis HLS schedules at II = 3 (ToolRules.stream_conv_ii; Vivado HLS: 1)
    assert stream["DSP"] == 2 and stream["interval"] == 4 * 3
    vivado = estimate_model(_convert(model, tmp_path / "s", "io_stream"), tool="vivado_hls")
    assert {r["layer"]: r for r in vivado["layers"]}["conv"]["interval"] == 4


def _convert_rf(model, out, strategy: str, rf: int):
    import hls4ml

    cfg = {"Model": {"Precision": "ap_fixed<16,6>", "ReuseFactor": rf, "Strategy": strategy}}
    with contextlib.redirect_stdout(io.StringIO()):
        return hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend="Vitis",
                                                          output_dir=str(out))


def test_reuse_factor_divides_dsps_only_under_resource(tmp_path):
    """Latency: R is an ALLOCATION limit the tools do not honour (resources kept, II = R); Resource:
    hls4ml's kernel really shares each multiplier R ways."""
    model = _dense(np.full((4, 2), 0.6875))  # eight 3-digit constants: eight DSPs unrolled
    latency = estimate_model(_convert_rf(model, tmp_path / "l", "Latency", 4))
    assert latency["resources"]["DSP"] == 8 and latency["ii_cycles"] == 4
    hm = _convert_rf(model, tmp_path / "r", "Resource", 4)
    rf = int(hm.graph["fc"].get_attr("reuse_factor"))  # hls4ml may move R to a valid one
    assert estimate_model(hm)["resources"]["DSP"] == -(-8 // rf)


def test_vivado_honours_the_allocation_limit_in_io_parallel(tmp_path):
    """A Latency Dense at R > 1 in io_parallel: Vivado HLS takes hls4ml's multiplier_limit = DIV_ROUNDUP(n_in
    n_out, R) - n_zeros / R (DNNonSilicon R 16 / R 8: 8 + 6 and 16 + 12 DSP), Vitis keeps a multiplier per
    product (ToolRules.parallel_allocation)."""
    w = np.full((4, 2), 0.6875)  # eight 3-digit constants
    w[0, 0] = w[1, 1] = 0.0  # six left
    hm = _convert_rf(_dense(w), tmp_path, "Latency", 2)
    assert estimate_model(hm, tool="vivado_hls")["resources"]["DSP"] == 8 // 2 - 2 // 2
    assert estimate_model(hm, tool="vitis_hls")["resources"]["DSP"] == 6


def test_speed_grade_of_part_names():
    from l1tag.hardware.estimate.prices import speed_grade

    assert speed_grade("xc7z020clg400-1") == "1" and speed_grade("xc7z020-clg400-1") == "1"
    assert speed_grade("xc7a200tl-ffg1156-2L") == "2" and speed_grade("xc7vx690t-3ffg1930") == "3"
    assert speed_grade("xcvu9p-flga2104-2L-e") == "2" and speed_grade("xc7vx690t-ffg1930-3") == "3"
    assert speed_grade("vu13p") is None and speed_grade(None) is None


def test_device_delays_slow_only_the_measured_slice_and_grade():
    from l1tag.hardware.estimate.prices import T_ADD_NS, T_MULT_DSP_NS, device_delays

    assert device_delays("DSP48E1", "xc7z020clg400-1") == (3.5, 2.1)
    for dsp, part in (("DSP48E2", "xcvu13p-flga2577-2-e"), ("DSP48E2", "xcu250-figd2104-2L-e"),
                      ("DSP48E1", "xc7vx690t-ffg1930-3"), ("DSP48E1", "xc7a200tl-ffg1156-2L"), (None, "xyz")):
        assert device_delays(dsp, part) == (T_MULT_DSP_NS, T_ADD_NS)


def test_a_slow_device_deepens_the_dense_and_its_product_registers(tmp_path):
    """The same Dense at 5 ns (the converter's 27 % uncertainty: 3.65 ns usable), Vivado's rules: on a -1 DSP48E1
    (3.5 ns multiply, 2.1 ns per adder level) 1 + ceil((3.5 + 2 x 2.1) / 3.65) = 4 cycles and two registers per
    product (the multiplier and the first adder level span two periods); on UltraScale+ and on the -3 part
    1 + ceil((2.5 + 2 x 0.65) / 3.65) = 3 and one."""
    hm = _convert(_dense(np.full((4, 2), 0.6875)), tmp_path)

    def fc(part):
        est = estimate_model(hm, part=part, tool="vivado_hls")
        return {r["layer"]: r for r in est["layers"]}["fc"]

    slow, fast, v7 = fc("xc7z020clg400-1"), fc("xcvu9p-flga2104-2L-e"), fc("xc7vx690t-ffg1930-3")
    assert slow["latency"] == 4 and fast["latency"] == 3 and v7 == fast
    outputs = 2 * 16  # the output registers (accum_t 16 bits)
    assert slow["FF"] - outputs == 2 * (fast["FF"] - outputs) > 0
    assert slow["DSP"] == fast["DSP"] and slow["LUT"] == fast["LUT"]
