"""The model of a whole hls4ml graph (the "Top function", "l1tag's fused particle loops", "io_stream FIFOs"
and "Per tool" parts of the model in ``l1tag/hardware/estimate/__init__.py``): each layer priced by its rule
(``estimate_layer``), the channels between processes, and the latency as the longest path through them."""

from __future__ import annotations

import numpy as np

from l1tag.hardware.error_band import error_band
from l1tag.hardware.estimate import kernels, stock, stock_weighted
from l1tag.hardware.estimate.l1tag_ops import KERNEL_PRICES
from l1tag.hardware.estimate.prices import (
    DIVIDER_CORE,
    DSP_A_BITS,
    device_delays,
    stream_fifo,
    stream_fifo_tool,
    var_precision,
)
from l1tag.hardware.estimate.stock import NO_HARDWARE, LayerGeometry
from l1tag.hardware.estimate.target import Target
from l1tag.hardware.estimate.tools import TOOL_RULES, ToolRules, tool_of
from l1tag.devices import RESOURCES, device, utilization
from l1tag.hls import dataflow, particle_loops
from l1tag.config import DA
from l1tag.hls.particle_loops import layer_strategy, pipeline_style


def estimate_layer(node, target: Target) -> dict:
    """One layer's estimate (DSP, LUT, FF, BRAM_18K, latency cycles, interval, multiplications)."""
    cls = type(node).__name__
    if "Input" in cls:
        return dict(NO_HARDWARE)
    geometry = LayerGeometry.of(node, target)
    if layer_strategy(node) == DA and node.get_attr("da_kernel_cost") is not None:
        return stock_weighted.da_layer(node, geometry.pixels if "Conv" in cls else 1, geometry, target)
    if layer_strategy(node) == DA and "weight" not in node.weights:
        raise ValueError(f"layer '{node.name}': distributed arithmetic without hls4ml's da_kernel_cost (its "
                         f"DistributedArithmeticCodegen pass has not run) and without weights to count")
    if cls.endswith("Dense") or "PointwiseConv" in cls:
        return stock_weighted.dense(node, geometry, target)
    if "Conv" in cls and "Depthwise" not in cls and "Separable" not in cls:
        return stock_weighted.conv(node, geometry, target)
    if "Depthwise" in cls or "Separable" in cls:
        return stock_weighted.depthwise_separable(node, geometry, target)
    kernel_price = KERNEL_PRICES.get(node.class_name)  # l1tag's own IR layers, by their exact class
    if kernel_price is not None:
        return kernel_price(node, target)
    shape, rf, io_stream = geometry.shape, geometry.reuse_factor, target.io_stream
    if "Softmax" in cls or ("Activation" in cls and str(node.get_attr("activation")).lower() in
                            ("softmax", "tanh", "sigmoid")):
        return stock.softmax(node, shape, rf, target)
    if cls in ("Activation", "ReLU", "ParametrizedActivation", "LeakyReLU") or "Activation" in cls:
        return stock.activation(node, shape, target)
    if "BatchNormalization" in cls:
        return stock.batch_normalization(node, shape, rf, io_stream)
    if "GlobalPooling" in cls and not io_stream:
        return stock.global_pooling(node, target)
    if "Pooling" in cls or node.class_name in ("Merge", "Add", "Resize"):  # class_name: without the backend's prefix
        return stock.elementwise(node, 1.0, 1, io_stream, target.add_ns)
    if io_stream and "ZeroPadding" in cls and len(shape) > 1:
        return stock.stream_zero_padding(geometry.pixels, target.rules)
    # reshapes, flatten, zero padding, transposes: wiring
    return dict(NO_HARDWARE)


def critical_path(processes: list[tuple]) -> int:
    """Longest input-to-output path of the process graph: (inputs, outputs, latency) per process, in
    hls4ml's order (topological)."""
    producer = {}  # output variable name -> finish time of the process that writes it
    finish = 0
    for inputs, outputs, lat in processes:
        start = max((producer.get(name, 0) for name in inputs), default=0)
        finish = start + lat
        for name in outputs:
            producer[name] = finish
    return max(producer.values(), default=finish)


def loop_latency(loop, estimates: dict, target: Target) -> int:
    """Latency of a fused particle loop: (iterations - 1) + the depth of one iteration, the members'
    combinational delays chained along the longest path (the tool schedules the loop body as one
    pipeline) plus one cycle per synchronous (BRAM) table read on it."""
    usable = target.usable_ns
    arrival: dict[str, tuple[float, int]] = {}  # value -> (ns, table reads) of its longest path

    def cost(a):
        return a[0] + a[1] * usable

    for m in loop.members:
        est = estimates[m.name]
        start = max((arrival.get(name, (0.0, 0)) for name in m.inputs), key=cost)
        arrival[m.outputs[0]] = (start[0] + est.get("delay_ns", 0.0), start[1] + est.get("table_reads", 0))
    ns, reads = max(arrival.values(), key=cost)
    return loop.iterations - 1 + target.stage_cycles(ns) + reads


def clock_uncertainty(cfg, clock_ns: float, rules: ToolRules) -> float:
    """The clock uncertainty as a fraction of the period: the config's ClockUncertainty (hls4ml writes it into
    build_prj.tcl), else the tool's hls4ml default."""
    value = cfg.get_config_value("ClockUncertainty")
    try:
        text = str(value).strip()
        if text.endswith("%"):
            return float(text[:-1]) / 100
        if value is not None:
            return float(text) / clock_ns
    except ValueError:
        pass
    return rules.clock_uncertainty


def _clock_ns(cfg) -> float:
    return float(cfg.get_config_value("ClockPeriod") or 5.0)


def estimate_model(hls_model, part: str | None = None, totals: dict | None = None, tool: str | None = None,
                   rules: ToolRules | None = None, dividers: int = 0) -> dict:
    """The hardware section (docs/design.md keys, ``source: 'estimate'``) plus a per-layer table.

    ``part`` defaults to the project's; its DSP port width comes from the parts table, and
    ``totals`` (a budget's, for a part not in the table) replace the table's for the utilization.
    ``tool`` ('vivado_hls' | 'vitis_hls', default: the project's backend) picks the ToolRules;
    ``rules`` replaces them (tests, leave-one-out calibration).  ``dividers``: divider instances the GIMPLE
    census found in the C++ (l1tag/hls/census.py), each priced as a ``DIVIDER_CORE`` on the critical path."""
    rules = rules or TOOL_RULES[tool or tool_of(hls_model)]
    out = _estimate_model(hls_model, part, totals, rules)
    if dividers:
        out["resources"] = {k: v + dividers * DIVIDER_CORE.get(k, 0) for k, v in out["resources"].items()}
        out["utilization"] = utilization(out["resources"], out["part"], totals)
        out["latency_cycles"] += DIVIDER_CORE["latency"]
        out["latency_ns"] = float(out["latency_cycles"] * out["clock_ns"])
        out["dividers"] = dividers
    out["tool"] = rules.tool
    out["error_band"] = error_band(rules.tool)  # measured against real syntheses, leave-one-repository-out
    return out


def model_products(hls_model, tool: str | None = None) -> dict[tuple[int, int], int]:
    """The products of l1tag's kernels per loop iteration by (narrower, wider) operand width, as the
    estimate prices them: the form of the GIMPLE census (l1tag/hls/census.py), which a test holds equal."""
    # the products do not depend on the clock's uncertainty or the device: those keep their defaults
    target = Target(rules=TOOL_RULES[tool or tool_of(hls_model)], clock_ns=_clock_ns(hls_model.config),
                    unroll=pipeline_style(hls_model) == "pipeline")
    products = []
    for node in hls_model.get_layers():
        if node.class_name in KERNEL_PRICES:
            products += estimate_layer(node, target).get("products", [])
    return kernels.census_by_width(products)


def _with_channel(est: dict, node, internal: bool, loop, style: str, buffers: dict, target: Target) -> dict:
    """The layer's estimate plus the channel its output travels on to the next process: an io_stream FIFO
    (the tool's rules; a reshape's by the plain FIFO rule), or under a DATAFLOW top a fully partitioned
    ping-pong array (``buffers``: a deeper one where the channel bypasses processes).  The model's input and
    output are ports, a fused loop's internal values wires."""
    out = node.get_output_variable()
    io_stream = target.io_stream
    channel = loop is None or node.outputs[0] in loop.outputs  # a loop's internal values are wires
    if io_stream and internal and out is not None and \
            "Reshape" not in type(node).__name__ and "Flatten" not in type(node).__name__:
        bits, _, _ = var_precision(out)  # hls4ml: FIFO depth = pixels (1 for a vector)
        shape = list(out.shape)
        fifo = stream_fifo_tool(int(np.prod(shape[:-1])) if len(shape) > 1 else 1, int(shape[-1]), bits,
                                target.rules)
        return {**est, **{k: est[k] + fifo[k] for k in ("BRAM_18K", "LUT", "FF")}}
    if io_stream and internal and out is not None and len(out.shape) > 1:  # hls4ml: FIFO depth = pixels
        bits, _, _ = var_precision(out)
        fifo = stream_fifo(int(np.prod(out.shape[:-1])), int(out.shape[-1]) * bits)
        return {**est, **{k: est[k] + fifo[k] for k in ("BRAM_18K", "LUT", "FF")}}
    if style == "dataflow" and not io_stream and internal and channel and out is not None and \
            "Inplace" not in type(out).__name__:  # a fully partitioned ping-pong array between two processes
        bits, _, _ = var_precision(out)
        depth = buffers.get(node.outputs[0], 2)
        return {**est, "FF": est["FF"] + depth * int(np.prod(out.shape)) * bits}
    return est


def _processes(nodes: list, layers: list[dict], loop_of: dict, target: Target) -> tuple[list, list]:
    """(inputs, outputs, latency) of every process in hls4ml's order -- a layer, or a fused particle loop as
    one -- and the fused loops' rows."""
    by_name = dict(zip((n.name for n in nodes), layers))
    processes, seen, loop_rows = [], set(), []
    for node, est in zip(nodes, layers):
        loop = loop_of.get(node.name)
        if loop is None:
            processes.append((node.inputs, node.outputs, est["latency"]))
        elif loop.name not in seen:
            seen.add(loop.name)
            lat = loop_latency(loop, by_name, target)
            processes.append((loop.inputs, loop.outputs, lat))
            loop_rows.append({"name": loop.name, "layers": loop.member_names, "parallel": loop.parallel,
                              "iterations": loop.iterations, "latency": lat, "interval": loop.iterations})
    return processes, loop_rows


def _latency(processes: list, nodes: list, layers: list[dict], interval: int, style: str, target: Target) -> int:
    """Pipeline or dataflow, a process starts when its inputs are complete: the latency is the longest path
    through the graph of processes (parallel branches, e.g. Q, K and V, overlap; io_stream latencies include
    their pixels)."""
    if target.io_stream:
        # FIFO channels: a process starts on its producer's first word, so the pipeline fills once: the slowest
        # process's interval plus every process's own depth (latency - interval) along the longest path
        # (UG1399 DATAFLOW with stream channels; ECE226 395 = 390 + 5, DNNonSilicon 14409 = its first
        # separable conv alone)
        depth_of = {id(e): max(0, e["latency"] - e["interval"]) if e["interval"] > 1 else e["latency"]
                    for e in layers}
        processes = [(i, o, depth_of[id(e)]) for (i, o, _), e in zip(processes, layers)] \
            if len(processes) == len(layers) else processes
        return interval + critical_path(processes)
    # a DATAFLOW top: each process hands over to the next by ap_done -> ap_start (ToolRules)
    hand = target.rules.dataflow_handshake if style == "dataflow" else 0
    ports = {n.name for n in nodes if "Input" in type(n).__name__}  # the input layer is a port, no process
    return critical_path([(i, o, lat + (0 if set(o) & ports else hand)) for i, o, lat in processes])


def _estimate_model(hls_model, part: str | None, totals: dict | None, rules: ToolRules) -> dict:
    cfg = hls_model.config
    clock_ns = _clock_ns(cfg)
    io_stream = cfg.get_config_value("IOType") == "io_stream"
    style = pipeline_style(hls_model)
    part = part or cfg.get_config_value("Part") or ""
    dev = device(part)
    mult_ns, add_ns = device_delays(dev.dsp if dev else None, part)  # the device's speed (prices.SLICE_DELAYS)
    target = Target(rules=rules, clock_ns=clock_ns, uncertainty=clock_uncertainty(cfg, clock_ns, rules),
                    dsp_a_bits=dev.dsp_a_bits if dev else DSP_A_BITS, mult_ns=mult_ns, add_ns=add_ns,
                    io_stream=io_stream,
                    unroll=style == "pipeline" and not io_stream)
    loops = particle_loops.plan(hls_model) if particle_loops.is_fused(hls_model) else []
    loop_of = {m.name: loop for loop in loops for m in loop.members}
    # a channel that bypasses processes holds one buffer per jet in flight (l1tag/hls/dataflow.py)
    buffers = {b.variable: b.depth for b in dataflow.bypasses(dataflow.processes(hls_model))} \
        if style == "dataflow" and not io_stream else {}
    layers, rows = [], []
    nodes = list(hls_model.get_layers())
    for i, node in enumerate(nodes):
        est = estimate_layer(node, target)
        loop = loop_of.get(node.name)
        if loop is not None and particle_loops.member_role(node) in ("relu", "add"):
            # an elementwise layer inside a particle loop: P particles' worth of copies, not n
            est = {**est, **{k: est[k] * loop.parallel // loop.n for k in ("LUT", "FF")}}
        internal = 0 < i < len(nodes) - 1  # the input and output are the top-level ports, not channels
        est = _with_channel(est, node, internal, loop, style, buffers, target)
        layers.append(est)
        rows.append({"layer": node.name, "class": type(node).__name__,
                     **{k: int(est.get(k, 1)) for k in ("DSP", "LUT", "FF", "BRAM_18K", "latency", "interval",
                                                        "multiplications", "copies", "iterations")},
                     **({"particle_loop": loop.name} if loop is not None else {})})
    resources = {k: int(sum(e.get(k, 0) for e in layers)) for k in RESOURCES}  # no layer model uses URAM
    processes, loop_rows = _processes(nodes, layers, loop_of, target)
    interval = max(e["interval"] for e in layers)
    latency = _latency(processes, nodes, layers, interval, style, target)
    return {
        "source": "estimate", "part": part, "clock_ns": clock_ns, "latency_cycles": int(latency),
        "latency_ns": float(latency * clock_ns), "ii_cycles": int(interval), "resources": resources,
        "utilization": utilization(resources, part, totals), "layers": rows, "particle_loops": loop_rows,
    }
