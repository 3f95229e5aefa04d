"""An analytic ESTIMATE of latency, II and resources of an hls4ml 1.x model (never a synthesis result).

The model of the hardware, per layer of the converted hls4ml graph:

* **Multiplications** are counted from the actual quantized weights. A weight w in a type with F
  fractional bits is the integer k = w 2^F. k = 0 costs nothing; a power of two (one nonzero digit in
  its canonical signed-digit form) is a shift and costs nothing; two digits make one shifted
  add/subtract in LUTs; three or more digits make a real multiplier, bound to a DSP when the data is
  at least ``DSP_MIN_BITS`` wide, else built from (digits - 1) LUT adders as wide as the data.  Products of two variables (attention scores, A V') always use the data widths.
  With reuse factor R every multiplier (DSP or LUT-built) is shared R ways: ceil(multiplications / R).
* **Adders**: each output sums its nonzero products with an adder tree of (terms - 1) adders as wide
  as the accumulator, one LUT per bit.
* **Latency** (io_parallel): each layer is a pipeline of one multiplier stage and ceil(log2(terms))
  adder levels; the stage delays (``T_MULT_DSP_NS``, ``T_MULT_LUT_NS``, ``T_ADD_NS`` per level) are
  packed into clock cycles of the period less the clock uncertainty, plus one register stage per layer;
  layers run one after the other.  io_stream: a layer processes one pixel per R cycles, so its interval
  is pixels x R; the dataflow interval is the slowest layer's and the latency the sum of depths plus
  that interval.
* **FF**: every pipeline stage registers the layer's outputs at accumulator width, plus one register
  per LUT-built product.
* **Tables** (softmax, tanh, l1tag's exp/inverse/tanh tables): BRAM_18K when larger than
  ``TABLE_LUTRAM_MAX_BITS``, else LUTs (one per 64 bits, as LUTRAM).
* **io_stream FIFOs**: every layer output is a stream of (pixels) words of (channels x bits); up to
  two words it is registers, up to ``SRL_MAX_DEPTH`` a shift register in LUTs, deeper it takes the fewest BRAM_18K of any
  aspect ratio (36 x 512 ... 1 x 16384).

Its error against real Vivado/Vitis HLS reports is measured by ``bench/estimator_accuracy.py`` and
published in the README.  The constants below are properties of the tools and devices, not fits to
single reports.
"""

from __future__ import annotations

import math

import numpy as np

from l1tag.config import DEFAULT_TABLE_SIZE
from l1tag.hardware.parts import RESOURCES

DSP_MIN_BITS = 10  # narrower data: Vivado/Vitis HLS build constant multipliers from LUTs
DSP_A_BITS = 27  # DSP48E2's A port, for a part not in the table (l1tag/hardware/parts/*.yaml has each device's)
T_MULT_DSP_NS = 2.5  # a registered DSP48 multiply
T_MULT_LUT_NS = 1.6  # a small LUT multiplier / shift-add
T_ADD_NS = 0.65  # one carry-chain adder level (~16-24 bits)
CLOCK_UNCERTAINTY = 0.27  # hls4ml's default for Vitis (../shared/reference/l1t.md)
TABLE_LUTRAM_MAX_BITS = 4096
BRAM_BITS = 18 * 1024


def csd_digits(k: np.ndarray) -> np.ndarray:
    """Nonzero digits of the canonical signed-digit (NAF) form of integers k."""
    k = np.abs(np.asarray(k, dtype=np.int64))
    digits = np.zeros_like(k)
    while np.any(k):
        odd = (k & 1) == 1
        # NAF: a digit of +1 or -1 where k is odd, chosen so that the next bit becomes 0
        step = np.where(odd, 2 - (k & 3), 0)
        digits += odd
        k = (k - step) >> 1
    return digits


def _precision(var) -> tuple[int, int, bool]:
    p = var.type.precision
    width = int(getattr(p, "width", 16))
    integer = int(getattr(p, "integer", width))
    return width, integer, bool(getattr(p, "signed", True))


def multiplier_cost(weights: np.ndarray, weight_frac: int, data_bits: int, dsp_a_bits: int = DSP_A_BITS) -> dict:
    """DSPs, LUTs and count of the constant multiplications by ``weights`` (already quantized)."""
    k = np.rint(np.asarray(weights, dtype=np.float64) * 2.0**weight_frac).astype(np.int64).ravel()
    digits = csd_digits(k)
    real = digits >= 2  # zeros and powers of two need no multiplier
    dsp_mult = (digits >= 3) & (data_bits >= DSP_MIN_BITS)
    lut_mult = real & ~dsp_mult
    per_dsp = 1 if data_bits <= dsp_a_bits else 2  # wider data than the DSP's A port takes two
    return {
        "multiplications": int(real.sum()),
        "dsp_mults": int(dsp_mult.sum()) * per_dsp,
        "lut": int(((digits[lut_mult] - 1) * (data_bits + 2)).sum()),
        "lut_mults": int(lut_mult.sum()),
    }


def _stage_cycles(mult_ns: float, levels: int, clock_ns: float) -> int:
    usable = clock_ns * (1 - CLOCK_UNCERTAINTY)
    return 1 + max(1, math.ceil((mult_ns + levels * T_ADD_NS) / usable))


BRAM18_SHAPES = ((36, 512), (18, 1024), (9, 2048), (4, 4096), (2, 8192), (1, 16384))  # width x depth
SRL_MAX_DEPTH = 64  # shallower FIFOs are shift registers (SRL32) in LUTs


def stream_fifo(depth: int, width: int) -> dict:
    """One io_stream FIFO of ``depth`` words of ``width`` bits: SRL LUTs, or the fewest BRAM_18K."""
    if depth <= 2:  # a register or two
        return {"BRAM_18K": 0, "LUT": 0, "FF": depth * width}
    if depth <= SRL_MAX_DEPTH:
        return {"BRAM_18K": 0, "LUT": width * math.ceil(depth / 32), "FF": 0}
    bram = min(math.ceil(width / w) * math.ceil(depth / d) for w, d in BRAM18_SHAPES)
    return {"BRAM_18K": bram, "LUT": 0, "FF": 0}


def _table(bits: int) -> dict:
    if bits > TABLE_LUTRAM_MAX_BITS:
        return {"BRAM_18K": math.ceil(bits / BRAM_BITS), "LUT": 0}
    return {"BRAM_18K": 0, "LUT": math.ceil(bits / 64)}


def _weighted_layer(node, weight_name: str, terms_per_output: int, outputs: int, pixels: int, io_stream: bool,
                    clock_ns: float, rf: int, dsp_a_bits: int = DSP_A_BITS) -> dict:
    """Dense-like layers: outputs x terms products by constant weights, adder trees, registers."""
    w = node.get_weights(weight_name)
    w_bits, w_int, _ = _precision(w)
    a_bits, _, _ = _precision(node.get_input_variable())
    out_bits, _, _ = _precision(node.get_output_variable())
    cost = multiplier_cost(w.data, w_bits - w_int, a_bits, dsp_a_bits)
    acc = node.get_attr("accum_t")
    acc_bits = int(getattr(getattr(acc, "precision", None), "width", 0)) or (
        a_bits + w_bits + math.ceil(math.log2(max(terms_per_output, 2))))
    adders = max(0, int(np.count_nonzero(w.data)) - outputs)  # each output sums its nonzero terms
    # io_parallel instantiates the kernel once per pixel; io_stream reuses one kernel over the pixels
    copies = 1 if io_stream else pixels
    dsp = math.ceil(cost["dsp_mults"] * copies / rf)
    lut = (cost["lut"] + adders * acc_bits) * copies // rf
    levels = math.ceil(math.log2(max(terms_per_output, 2)))
    mult_ns = T_MULT_DSP_NS if cost["dsp_mults"] else T_MULT_LUT_NS
    depth = _stage_cycles(mult_ns, levels, clock_ns) + (rf - 1)
    ff = (outputs * copies * acc_bits * max(1, depth - 1) + cost["lut_mults"] * copies * (a_bits + 4)) // rf
    interval = pixels * rf if io_stream else rf
    return {"DSP": dsp, "LUT": lut, "FF": ff, "BRAM_18K": 0, "latency": depth + (pixels * rf if io_stream else 0),
            "interval": interval, "multiplications": cost["multiplications"] * copies, "out_bits": out_bits}


def _elementwise(node, per_element_lut: float, depth: int, io_stream: bool) -> dict:
    shape = node.get_output_variable().shape
    size = int(np.prod(shape))
    bits, _, _ = _precision(node.get_output_variable())
    pixels = int(np.prod(shape[:-1])) if io_stream and len(shape) > 1 else 1
    return {"DSP": 0, "LUT": int(size / pixels * bits * per_element_lut) if io_stream else int(size * bits *
                                                                                                  per_element_lut),
            "FF": size * bits if depth else 0, "BRAM_18K": 0, "latency": depth + (pixels if io_stream else 0),
            "interval": pixels if io_stream else 1, "multiplications": 0}


def estimate_layer(node, clock_ns: float, io_stream: bool, dsp_a_bits: int = DSP_A_BITS) -> dict:
    """One layer's estimate (DSP, LUT, FF, BRAM_18K, latency cycles, interval, multiplications)."""
    cls = type(node).__name__
    rf = int(node.get_attr("reuse_factor", 1) or 1)
    shape = list(node.get_output_variable().shape) if node.get_output_variable() is not None else []
    if "Input" in cls:
        return {"DSP": 0, "LUT": 0, "FF": 0, "BRAM_18K": 0, "latency": 0, "interval": 1, "multiplications": 0}
    if cls.endswith("Dense") or "PointwiseConv" in cls:
        w = node.get_weights("weight").data
        n_in, n_out = int(np.prod(w.shape[:-1])), int(w.shape[-1])
        pixels = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        return _weighted_layer(node, "weight", n_in, n_out, pixels, io_stream, clock_ns, rf, dsp_a_bits)
    if "Conv" in cls and "Depthwise" not in cls and "Separable" not in cls:
        w = node.get_weights("weight").data
        terms = int(np.prod(w.shape[:-1]))
        pixels = int(np.prod(shape[:-1]))
        return _weighted_layer(node, "weight", terms, int(w.shape[-1]), pixels, io_stream, clock_ns, rf, dsp_a_bits)
    if "Depthwise" in cls or "Separable" in cls:
        parts = []
        pixels = int(np.prod(shape[:-1]))
        for name in ("depthwise", "pointwise", "weight"):
            if name in node.weights:
                w = node.get_weights(name).data
                parts.append(_weighted_layer(node, name, int(np.prod(w.shape[:-2])) if name == "depthwise" else
                                             int(np.prod(w.shape[:-1])), int(np.prod(w.shape[-2:])) if
                                             name == "depthwise" else int(w.shape[-1]), pixels, io_stream, clock_ns,
                                             rf, dsp_a_bits))
        return _sum_layers(parts)
    # l1tag's own IR layers, by their exact class (node.class_name drops the backend's wrapper)
    if node.class_name == "L1tagAttention":  # every attention kind of the registry
        return _attention(node, clock_ns, rf, dsp_a_bits)
    if node.class_name == "L1tagDynamicTanh":
        size = int(np.prod(shape))
        out_bits, _, _ = _precision(node.get_output_variable())
        t = _table(node.get_attr("table_size", DEFAULT_TABLE_SIZE) * out_bits)
        a_bits, _, _ = _precision(node.get_input_variable())
        return {"DSP": 0, "LUT": size * (a_bits + 8) // rf + t["LUT"] * size, "FF": size * out_bits * 2,
                "BRAM_18K": t["BRAM_18K"], "latency": _stage_cycles(T_MULT_LUT_NS, 1, clock_ns), "interval": rf,
                "multiplications": size}
    if "Softmax" in cls or ("Activation" in cls and str(node.get_attr("activation")).lower() in
                            ("softmax", "tanh", "sigmoid")):
        size = int(np.prod(shape))
        tables = _table(2 * int(node.get_attr("table_size") or DEFAULT_TABLE_SIZE) * 18)  # hls4ml's default too
        n_mult = size
        return {"DSP": math.ceil(n_mult / rf), "LUT": tables["LUT"] + size * 40, "FF": size * 18 * 3,
                "BRAM_18K": tables["BRAM_18K"], "latency": 4 if not io_stream else 4 + size,
                "interval": 1, "multiplications": n_mult}
    if cls in ("Activation", "ReLU", "ParametrizedActivation", "LeakyReLU") or "Activation" in cls:
        return _elementwise(node, 0.5, 1, io_stream)
    if "BatchNormalization" in cls:
        r = _elementwise(node, 1.0, 2, io_stream)
        size = int(shape[-1]) if io_stream else int(np.prod(shape))
        r["DSP"] = math.ceil(size / rf)
        r["multiplications"] = size
        return r
    if "Pooling" in cls or cls in ("Merge", "Add", "Concatenate", "Resize"):
        return _elementwise(node, 1.0, 1, io_stream)
    # reshapes, flatten, zero padding, transposes: wiring
    return {"DSP": 0, "LUT": 0, "FF": 0, "BRAM_18K": 0, "latency": 0, "interval": 1, "multiplications": 0}


def _attention(node, clock_ns: float, rf: int, dsp_a_bits: int = DSP_A_BITS) -> dict:
    from l1tag.hls.extension import attention_layer_spec

    spec = attention_layer_spec(node)
    q_bits, s_bits = spec.qkv_t.width, spec.softmax_t.width
    parts = []
    for name in ("wq", "wk", "wv", "kproj", "vproj", "convk"):
        if name in node.weights:
            w = node.get_weights(name)
            w_bits, w_int, _ = _precision(w)
            data_bits = spec.x_t.width if name in ("wq", "wk", "wv") else (spec.score_t.width if name == "convk"
                                                                         else q_bits)
            copies = {"wq": spec.n, "wk": spec.n, "wv": spec.n, "kproj": spec.head_dim, "vproj": spec.head_dim,
                      "convk": spec.n * spec.m}[name]
            c = multiplier_cost(w.data, w_bits - w_int, data_bits, dsp_a_bits)
            parts.append((c["dsp_mults"] * copies, c["lut"] * copies, c["multiplications"] * copies))
    # variable x variable products: Q K'^T, softmax normalisation, A V'
    var_mults = spec.heads * spec.n * spec.m * (2 * spec.head_dim + 1)
    var_dsp = var_mults if min(q_bits, s_bits) >= DSP_MIN_BITS else 0
    var_lut = 0 if var_dsp else var_mults * q_bits * s_bits // 2
    dsp = math.ceil((sum(p[0] for p in parts) + var_dsp) / rf)
    # with reuse factor R the ALLOCATION pragma shares every multiplier R ways, LUT-built ones included
    lut = (sum(p[1] for p in parts) + var_lut + spec.multiplications() * spec.acc_mix_t.width // 2) // rf
    tables = _table(spec.table_size * 35)  # exp (17 bits) + inverse (18 bits) tables, per row in parallel
    rows = spec.heads * spec.n
    lut += tables["LUT"] * rows + rows * spec.m * spec.score_t.width * 2  # max and subtract per row
    levels = (math.ceil(math.log2(max(spec.d, 2))) + math.ceil(math.log2(max(spec.head_dim, 2))) +
              math.ceil(math.log2(max(spec.m, 2))) * 3 +
              (math.ceil(math.log2(spec.projection_terms)) if spec.projection_terms else 0))
    latency = _stage_cycles(4 * (T_MULT_DSP_NS if dsp else T_MULT_LUT_NS), levels, clock_ns) + 2 + (rf - 1)
    ff = (3 * spec.n * spec.d * q_bits + rows * spec.m * (spec.score_t.width + 35)) * max(1, latency // 2)
    return {"DSP": dsp, "LUT": int(lut), "FF": int(ff), "BRAM_18K": tables["BRAM_18K"] * rows, "latency": latency,
            "interval": rf, "multiplications": spec.multiplications()}


def _sum_layers(parts: list[dict]) -> dict:
    out = {k: sum(p[k] for p in parts) for k in ("DSP", "LUT", "FF", "BRAM_18K", "latency", "multiplications")}
    out["interval"] = max(p["interval"] for p in parts)
    return out


def estimate_model(hls_model, part: str | None = None, totals: dict | None = None) -> dict:
    """The hardware section (docs/design.md keys, ``source: 'estimate'``) plus a per-layer table.

    ``part`` defaults to the project's; its DSP port width comes from the parts table, and
    ``totals`` (a budget's, for a part not in the table) replace the table's for the utilization."""
    from l1tag.hardware.parts import device, utilization

    cfg = hls_model.config
    clock_ns = float(cfg.get_config_value("ClockPeriod") or 5.0)
    io_stream = cfg.get_config_value("IOType") == "io_stream"
    part = part or cfg.get_config_value("Part") or ""
    dev = device(part)
    dsp_a_bits = dev.dsp_a_bits if dev else DSP_A_BITS
    layers, rows = [], []
    nodes = list(hls_model.get_layers())
    for i, node in enumerate(nodes):
        est = estimate_layer(node, clock_ns, io_stream, dsp_a_bits)
        out = node.get_output_variable()
        internal = 0 < i < len(nodes) - 1  # the input and output streams are the top-level ports, not FIFOs
        if io_stream and internal and out is not None and len(out.shape) > 1:  # hls4ml: FIFO depth = pixels
            bits, _, _ = _precision(out)
            fifo = stream_fifo(int(np.prod(out.shape[:-1])), int(out.shape[-1]) * bits)
            est = {**est, **{k: est[k] + fifo[k] for k in ("BRAM_18K", "LUT", "FF")}}
        layers.append(est)
        rows.append({"layer": node.name, "class": type(node).__name__,
                     **{k: int(est[k]) for k in ("DSP", "LUT", "FF", "BRAM_18K", "latency", "interval",
                                                 "multiplications")}})
    resources = {k: int(sum(e.get(k, 0) for e in layers)) for k in RESOURCES}  # no layer model uses URAM
    # layers run one after the other (io_stream latencies already include their pixel loops)
    interval = max(e["interval"] for e in layers)
    latency = sum(e["latency"] for e in layers)
    return {
        "source": "estimate", "part": part, "clock_ns": clock_ns, "latency_cycles": int(latency),
        "latency_ns": float(latency * clock_ns), "ii_cycles": int(interval), "resources": resources,
        "utilization": utilization(resources, part, totals), "layers": rows,
    }
