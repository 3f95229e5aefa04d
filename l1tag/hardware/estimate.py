"""An analytic ESTIMATE of latency, II and resources of an hls4ml 1.x model (never a synthesis result).

The model of the hardware, per layer of the converted hls4ml graph, follows the C++ hls4ml writes:

* **Top function.**  hls4ml makes the top ``#pragma HLS DATAFLOW`` for io_stream, when any Conv has
  ``n_partitions != 1`` (a Dense on an (n, d) tensor is a pointwise Conv1D, ``n_partitions = n /
  ParallelizationFactor``) or under the Resource strategy; otherwise one ``PIPELINE``
  (``hls_model.config.pipeline_style``, hls4ml's ``SetPipelineStyle``).  A PIPELINE top unrolls every
  loop beneath it: each layer is then fully parallel (n_partitions = 1, l1tag's P = n).  Under
  DATAFLOW each layer is a process and the layers pass fully partitioned arrays (ping-pong buffers:
  2 x elements x bits FF per internal array; io_stream: FIFOs, below).  Either way the model's II is
  the slowest layer's interval, and a layer starts when its inputs are complete: the latency is the
  longest path through the layer graph (parallel branches such as Q, K and V overlap).
* **Particle loops** (io_parallel Conv, ``conv_1d_latency_cl`` / ``nnet_da_wrappers.h``): a
  ``PartitionLoop`` of n_partitions iterations pipelined at II = R (reuse factor; ``rewind``), each
  computing n_pixels = pixels / n_partitions pixels with unrolled copies of the kernel.  So the
  resources are n_pixels copies of one pixel's, interval = n_partitions x R, latency = (n_partitions
  - 1) x R + the depth of one iteration.  Under the Resource strategy that loop is not pipelined
  (``conv_1d_resource_cl``): latency = interval = n_partitions x depth.
* **Multiplications** by constant weights are counted from the quantized weights. A weight w in a type
  with F fractional bits is the integer k = w 2^F. k = 0 costs nothing; a power of two (one nonzero
  digit in its canonical signed-digit form) is a shift and costs nothing; two digits make one shifted
  add/subtract in LUTs; three or more digits make a real multiplier, bound to a DSP when the data is
  at least ``DSP_MIN_BITS`` wide, else built from (digits - 1) LUT adders as wide as the data.
  Products of two variables (attention scores, A V') use the data widths.
* **Reuse factor R.**  Under the Resource strategy hls4ml really shares each multiplier R ways:
  ceil(multipliers / R), LUTs and FFs / R.  Under the Latency strategy R is an ``ALLOCATION`` limit,
  which Vivado/Vitis HLS routinely do not honour in io_parallel (hls4ml issue #566): there resources
  are never divided and R only sets the II.  io_stream keeps the division: each layer is its own
  dataflow process, and the shared Vivado HLS report at R = 16 (DNNonSilicon) shows its Dense
  layers shared about R ways.  l1tag's own kernels are never divided (ALLOCATION, or no sharing).
* **Distributed arithmetic** (strategy ``distributed_arithmetic``, R = 1): hls4ml solves each kernel
  with da4ml and keeps da4ml's cost of one kernel instance (``da_kernel_cost``, LUTs of its adders).
  LUT = ceil(n_pixels x da_kernel_cost) (a Dense on a vector: one copy), DSP = 0; the adder depth is
  the largest ``// <latency>`` comment of the generated adder graph (``da_codegen``), in adder levels.
* **Adders**: each output sums its nonzero products with an adder tree of (terms - 1) adders as wide
  as the accumulator, one LUT per bit.
* **Depth** of one iteration: one multiplier stage and ceil(log2(terms)) adder levels (DA: its adder
  depth, no multiplier); the stage delays (``T_MULT_DSP_NS``, ``T_MULT_LUT_NS``, ``T_ADD_NS`` per
  level) are packed into clock cycles of the period less the clock uncertainty, plus one register
  stage, plus R - 1.  io_stream: a layer processes one pixel per R cycles, so its interval is pixels
  x R and its latency depth + pixels x R.
* **FF**: every pipeline stage registers the layer's outputs in flight at accumulator width (DA: at
  the output width), plus one register per LUT-built product.
* **l1tag attention** (``L1tagAttention``) with P = its ``parallelization_factor`` (absent: P = n;
  the legacy kernel that still holds Wq, Wk, Wv is one fully parallel pipeline at II = R): two particle
  loops of n / P iterations at II = 1 run in sequence, the K'/V' projection (SAL-T: each particle
  weighted once into its partition; Linformer: into all m rows; accumulated over the iterations) and
  the core (per particle: its scores against the m keys of every head, the score-convolution taps of
  its row, the table softmax, A V').  Resources are P copies of the per-particle datapath (the
  scores of the kh - 1 halo rows the convolution reads are recomputed: P + kh - 1 score rows), the
  products counted from ``AttentionSpec.macs()`` without the Q/K/V term; projection weights are
  constants when the loop is unrolled (n / P = 1) and ROM reads (variable products) otherwise; one
  exp and one reciprocal table per row-head in flight (heads x P); K'/V' accumulators held across
  the iterations.  Latency = 2 x (n / P) + the depth of one iteration (legacy kernel: + R - 1);
  interval = n / P: the two loops are the processes of a DATAFLOW region in the kernel (K', V' in
  ping-pong buffers), so the next jet's projection overlaps this jet's core loop; II when n / P = 1.
* **l1tag's fused particle loops** (``l1tag/hls/particle_loops.py``; a project whose hls4ml_config.yml
  says ``L1tagParticleLoops: true``): a chain of per-particle layers is one process, a loop of n / P
  iterations at II = 1.  Its resources are its members' (elementwise members: P copies, not n); only
  the values it hands to other processes are ping-pong arrays; latency = n / P - 1 + the depth of one
  iteration, in which the members' combinational delays (``delay_ns``: adder levels, multiplier, a
  LUT level) chain along the longest path and are packed into clock cycles as for one layer, plus one
  cycle per BRAM table read on that path (a synchronous read).
* **l1tag DynamicTanh** (``L1tagDynamicTanh``): P x d elements per iteration, n / P iterations at
  II = 1 (absent attribute: all elements, II = R); one tanh table per element in flight.
* **Tables** (softmax, tanh, l1tag's exp/inverse/tanh tables): BRAM_18K when larger than
  ``TABLE_LUTRAM_MAX_BITS``, else LUTs (one per 64 bits, as LUTRAM); l1tag's as many copies as
  above, hls4ml's softmax tables once.
* **Elementwise** hls4ml layers (activations, Add/Merge, pooling, batch normalisation) are fully
  unrolled.
* **io_stream FIFOs**: every layer output is a stream of (pixels) words of (channels x bits); up to
  two words it is registers, up to ``SRL_MAX_DEPTH`` a shift register in LUTs, deeper it takes the
  fewest BRAM_18K of any aspect ratio (36 x 512 ... 1 x 16384).

Each layer row also gives ``copies`` (datapath copies in flight) and ``iterations`` (loop trips per
jet).  ``multiplications`` counts real (non-shift) products per jet (io_stream: per pixel).
Its error against real Vivado/Vitis HLS reports is measured by ``bench/estimator_accuracy.py`` and
published in the README.  The constants below are properties of the tools and devices, not fits to
single reports.
"""

from __future__ import annotations

import math
import re

import numpy as np

from l1tag.config import DEFAULT_TABLE_SIZE
from l1tag.hardware.parts import RESOURCES
from l1tag.hls import particle_loops
from l1tag.hls.particle_loops import layer_strategy, pipeline_style  # noqa: F401 (pipeline_style: re-exported)

DSP_MIN_BITS = 10  # narrower data: Vivado/Vitis HLS build constant multipliers from LUTs
DSP_A_BITS = 27  # DSP48E2's A port, for a part not in the table (l1tag/hardware/parts/*.yaml has each device's)
T_MULT_DSP_NS = 2.5  # a registered DSP48 multiply
T_MULT_LUT_NS = 1.6  # a small LUT multiplier / shift-add
T_ADD_NS = 0.65  # one carry-chain adder level (~16-24 bits)
T_LUT_NS = 0.5  # one LUT level and its routing (a ReLU's select, a LUTRAM read)
CLOCK_UNCERTAINTY = 0.27  # hls4ml's default for Vitis (../shared/reference/l1t.md)
TABLE_LUTRAM_MAX_BITS = 4096
BRAM_BITS = 18 * 1024
DA = "distributed_arithmetic"  # hls4ml 1.3's strategy built on da4ml


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


def _var_products(count: int, a_bits: int, b_bits: int) -> tuple[int, int]:
    """(DSP, LUT) of ``count`` products of two variables: DSPs when both are wide enough, else LUTs."""
    if min(a_bits, b_bits) >= DSP_MIN_BITS:
        return count, 0
    return 0, count * a_bits * b_bits // 2


def _stage_cycles(mult_ns: float, levels: float, clock_ns: float) -> int:
    usable = clock_ns * (1 - CLOCK_UNCERTAINTY)
    return 1 + max(1, math.ceil((mult_ns + levels * T_ADD_NS) / usable))


_DA_LATENCY = re.compile(r"//\s*(-?\d+(?:\.\d*)?)\s*$")


def da_adder_depth(source) -> float:
    """Adder depth of a da4ml kernel: the largest ``// <latency>`` comment of its generated C++ lines."""
    code = getattr(source, "code", source) or ""
    depths = [float(m.group(1)) for line in str(code).splitlines() if (m := _DA_LATENCY.search(line))]
    return max(depths, default=0.0)


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


def _share(node, rf: int, io_stream: bool) -> int:
    """How many ways a multiplier is really shared: R under the Resource strategies; under Latency R
    in io_stream only (each layer its own dataflow process, whose ALLOCATION Vivado HLS honoured in
    the shared reports), 1 in io_parallel (ALLOCATION not honoured, hls4ml issue #566)."""
    return rf if io_stream or layer_strategy(node).startswith("resource") else 1


def _loop(iterations: int, ii: int, depth: int, pipelined: bool = True) -> tuple[int, int]:
    """(latency, interval) of a loop of ``iterations`` trips of ``depth`` cycles each."""
    if not pipelined:
        return iterations * depth, iterations * depth
    return (iterations - 1) * ii + depth, iterations * ii


def _weighted_layer(node, weight_name: str, terms_per_output: int, outputs: int, pixels: int, io_stream: bool,
                    clock_ns: float, rf: int, dsp_a_bits: int = DSP_A_BITS, partitions: int = 1) -> dict:
    """Dense-like layers: outputs x terms products by constant weights, adder trees, registers; in
    io_parallel pixels / partitions copies of the kernel, one partition per iteration."""
    w = node.get_weights(weight_name)
    w_bits, w_int, _ = _precision(w)
    a_bits, _, _ = _precision(node.get_input_variable())
    out_bits, _, _ = _precision(node.get_output_variable())
    cost = multiplier_cost(w.data, w_bits - w_int, a_bits, dsp_a_bits)
    acc = node.get_attr("accum_t")
    acc_bits = int(getattr(getattr(acc, "precision", None), "width", 0)) or (
        a_bits + w_bits + math.ceil(math.log2(max(terms_per_output, 2))))
    adders = max(0, int(np.count_nonzero(w.data)) - outputs)  # each output sums its nonzero terms
    # io_parallel instantiates the kernel once per pixel of a partition; io_stream reuses one over the pixels
    copies = 1 if io_stream else pixels // partitions
    share = _share(node, rf, io_stream)
    dsp = math.ceil(cost["dsp_mults"] * copies / share)
    lut = (cost["lut"] + adders * acc_bits) * copies // share
    levels = math.ceil(math.log2(max(terms_per_output, 2)))
    mult_ns = T_MULT_DSP_NS if cost["dsp_mults"] else T_MULT_LUT_NS
    depth = _stage_cycles(mult_ns, levels, clock_ns) + (rf - 1)
    ff = (outputs * copies * acc_bits * max(1, depth - 1) + cost["lut_mults"] * copies * (a_bits + 4)) // share
    if io_stream:
        latency, interval = depth + pixels * rf, pixels * rf
    else:  # the Resource strategy's PartitionLoop is not pipelined (conv_1d_resource_cl)
        latency, interval = _loop(partitions, rf, depth, pipelined=not layer_strategy(node).startswith("resource"))
    return {"DSP": dsp, "LUT": lut, "FF": ff, "BRAM_18K": 0, "latency": latency, "interval": interval,
            "multiplications": cost["multiplications"] * (1 if io_stream else pixels), "out_bits": out_bits,
            "copies": copies, "iterations": pixels if io_stream else partitions,
            "delay_ns": mult_ns + levels * T_ADD_NS}


def _da_layer(node, pixels: int, partitions: int, io_stream: bool, clock_ns: float) -> dict:
    """Distributed arithmetic: n_pixels copies of da4ml's kernel (its own LUT cost), no DSP, the adder
    depth of the generated adder graph."""
    cost = float(node.get_attr("da_kernel_cost"))
    levels = da_adder_depth(node.get_attr("da_codegen"))
    out = node.get_output_variable()
    out_bits, _, _ = _precision(out)
    outputs = int(out.shape[-1])
    copies = 1 if io_stream else pixels // partitions
    depth = _stage_cycles(0.0, levels, clock_ns)
    if io_stream:
        latency, interval = depth + pixels, pixels
    else:
        latency, interval = _loop(partitions, 1, depth)
    return {"DSP": 0, "LUT": math.ceil(copies * cost), "FF": outputs * copies * out_bits * max(1, depth - 1),
            "BRAM_18K": 0, "latency": latency, "interval": interval, "multiplications": 0,
            "copies": copies, "iterations": pixels if io_stream else partitions, "adder_depth": levels,
            "delay_ns": levels * T_ADD_NS}


def _elementwise(node, per_element_lut: float, depth: int, io_stream: bool, delay_ns: float = 0.0) -> dict:
    shape = node.get_output_variable().shape
    size = int(np.prod(shape))
    bits, _, _ = _precision(node.get_output_variable())
    pixels = int(np.prod(shape[:-1])) if io_stream and len(shape) > 1 else 1
    return {"DSP": 0, "LUT": int(size / pixels * bits * per_element_lut) if io_stream else int(size * bits *
                                                                                                  per_element_lut),
            "FF": size * bits if depth else 0, "BRAM_18K": 0, "latency": depth + (pixels if io_stream else 0),
            "interval": pixels if io_stream else 1, "multiplications": 0, "delay_ns": delay_ns}


def _particles(node, n: int, unroll: bool) -> int:
    """P, particles per iteration of an l1tag layer: its ``parallelization_factor`` (absent: n); a
    PIPELINE top unrolls the particle loop whatever P is."""
    p = node.get_attr("parallelization_factor")
    if p is None or unroll:
        return n
    p = int(p)
    if p < 1 or n % p:
        raise ValueError(f"layer '{node.name}': parallelization_factor {p} does not divide its {n} particles")
    return p


def estimate_layer(node, clock_ns: float, io_stream: bool, dsp_a_bits: int = DSP_A_BITS, unroll: bool = False) -> dict:
    """One layer's estimate (DSP, LUT, FF, BRAM_18K, latency cycles, interval, multiplications).

    ``unroll``: the top function is one PIPELINE, which unrolls every loop of the layer."""
    cls = type(node).__name__
    rf = int(node.get_attr("reuse_factor", 1) or 1)
    shape = list(node.get_output_variable().shape) if node.get_output_variable() is not None else []
    pixels = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    partitions = 1 if io_stream or unroll else int(node.get_attr("n_partitions", 1) or 1)
    if "Input" in cls:
        return {"DSP": 0, "LUT": 0, "FF": 0, "BRAM_18K": 0, "latency": 0, "interval": 1, "multiplications": 0}
    if layer_strategy(node) == DA and node.get_attr("da_kernel_cost") is not None:
        return _da_layer(node, pixels if "Conv" in cls else 1, partitions, io_stream, clock_ns)
    if layer_strategy(node) == DA and "weight" not in node.weights:
        raise ValueError(f"layer '{node.name}': distributed arithmetic without hls4ml's da_kernel_cost (its "
                         f"DistributedArithmeticCodegen pass has not run) and without weights to count")
    if cls.endswith("Dense") or "PointwiseConv" in cls:
        w = node.get_weights("weight").data
        n_in, n_out = int(np.prod(w.shape[:-1])), int(w.shape[-1])
        return _weighted_layer(node, "weight", n_in, n_out, pixels, io_stream, clock_ns, rf, dsp_a_bits, partitions)
    if "Conv" in cls and "Depthwise" not in cls and "Separable" not in cls:
        w = node.get_weights("weight").data
        terms = int(np.prod(w.shape[:-1]))
        return _weighted_layer(node, "weight", terms, int(w.shape[-1]), pixels, io_stream, clock_ns, rf, dsp_a_bits,
                               partitions)
    if "Depthwise" in cls or "Separable" in cls:
        parts = []
        for name in ("depthwise", "pointwise", "weight"):
            if name in node.weights:
                w = node.get_weights(name).data
                parts.append(_weighted_layer(node, name, int(np.prod(w.shape[:-2])) if name == "depthwise" else
                                             int(np.prod(w.shape[:-1])), int(np.prod(w.shape[-2:])) if
                                             name == "depthwise" else int(w.shape[-1]), pixels, io_stream, clock_ns,
                                             rf, dsp_a_bits, partitions))
        return _sum_layers(parts)
    # l1tag's own IR layers, by their exact class (node.class_name drops the backend's wrapper)
    if node.class_name == "L1tagAttention":  # every attention kind of the registry
        return _attention(node, clock_ns, rf, dsp_a_bits, unroll)
    if node.class_name == "L1tagDynamicTanh":
        return _dynamic_tanh(node, shape, clock_ns, rf, unroll)
    if "Softmax" in cls or ("Activation" in cls and str(node.get_attr("activation")).lower() in
                            ("softmax", "tanh", "sigmoid")):
        size = int(np.prod(shape))
        tables = _table(2 * int(node.get_attr("table_size") or DEFAULT_TABLE_SIZE) * 18)  # hls4ml's default too
        n_mult = size
        return {"DSP": math.ceil(n_mult / rf), "LUT": tables["LUT"] + size * 40, "FF": size * 18 * 3,
                "BRAM_18K": tables["BRAM_18K"], "latency": 4 if not io_stream else 4 + size,
                "interval": 1, "multiplications": n_mult}
    if cls in ("Activation", "ReLU", "ParametrizedActivation", "LeakyReLU") or "Activation" in cls:
        return _elementwise(node, 0.5, 1, io_stream, T_LUT_NS)
    if "BatchNormalization" in cls:
        r = _elementwise(node, 1.0, 2, io_stream)
        size = int(shape[-1]) if io_stream else int(np.prod(shape))
        r["DSP"] = math.ceil(size / _share(node, rf, io_stream))
        r["multiplications"] = size
        return r
    if "Pooling" in cls or node.class_name in ("Merge", "Add", "Resize"):  # class_name: without the backend's prefix
        return _elementwise(node, 1.0, 1, io_stream, T_ADD_NS)
    # reshapes, flatten, zero padding, transposes: wiring
    return {"DSP": 0, "LUT": 0, "FF": 0, "BRAM_18K": 0, "latency": 0, "interval": 1, "multiplications": 0}


def _dynamic_tanh(node, shape: list, clock_ns: float, rf: int, unroll: bool) -> dict:
    """P x d elements per iteration (absent P: all of them, at II = R), one table per element in flight."""
    size = int(np.prod(shape))
    p = _particles(node, int(shape[0]) if len(shape) > 1 else 1, unroll)
    iterations = (int(shape[0]) if len(shape) > 1 else 1) // p
    elements = size // iterations
    ii = rf if node.get_attr("parallelization_factor") is None else 1
    out_bits, _, _ = _precision(node.get_output_variable())
    a_bits, _, _ = _precision(node.get_input_variable())
    t = _table(node.get_attr("table_size", DEFAULT_TABLE_SIZE) * out_bits)
    latency, interval = _loop(iterations, ii, _stage_cycles(T_MULT_LUT_NS, 1, clock_ns))
    return {"DSP": 0, "LUT": elements * (a_bits + 8) + t["LUT"] * elements, "FF": elements * out_bits * 2,
            "BRAM_18K": t["BRAM_18K"] * elements, "latency": latency, "interval": interval,
            "multiplications": size, "copies": p, "iterations": iterations,
            # t = alpha x + beta, then the lookup: a BRAM read is a clock edge, a LUTRAM read a LUT level
            "delay_ns": T_MULT_LUT_NS + T_ADD_NS + (0.0 if t["BRAM_18K"] else T_LUT_NS),
            "table_reads": 1 if t["BRAM_18K"] else 0}


def _attention(node, clock_ns: float, rf: int, dsp_a_bits: int = DSP_A_BITS, unroll: bool = False) -> dict:
    """P copies of the per-particle datapath, two particle loops of n / P iterations (module docstring)."""
    from l1tag.hls.extension import attention_layer_spec

    spec = attention_layer_spec(node)
    n, heads, m, dh = spec.n, spec.heads, spec.m, spec.head_dim
    p = _particles(node, n, unroll)
    iterations = n // p
    has_qkv = "wq" in node.weights  # the legacy kernel: Q, K, V inside, one pipeline at II = R
    ii = rf if has_qkv else 1
    macs = spec.macs()
    q_bits, s_bits = spec.qkv_t.width, spec.softmax_t.width
    kh = spec.conv[0] if spec.conv else 1
    score_rows = min(n, p + kh - 1)  # the convolution's halo rows are recomputed in every iteration
    in_flight = {"qkv": macs["qkv"] if has_qkv else 0, "projection": math.ceil(macs["projection"] * p / n),
                 "scores": heads * score_rows * m * dh, "conv": macs["conv"] * p // n, "mix": heads * p * m * dh,
                 "softmax": heads * p * m}
    # constant weights: (name, data bits, copies in flight); the projection's only while its loop is unrolled
    constants = [(name, spec.x_t.width, n) for name in ("wq", "wk", "wv")] + [("convk", spec.score_t.width, p * m)]
    if iterations == 1:
        constants += [("kproj", q_bits, dh), ("vproj", q_bits, dh)]
    dsp = lut = 0
    for name, data_bits, copies in constants:
        if name in node.weights:
            w = node.get_weights(name)
            w_bits, w_int, _ = _precision(w)
            c = multiplier_cost(w.data, w_bits - w_int, data_bits, dsp_a_bits)
            dsp, lut = dsp + c["dsp_mults"] * copies, lut + c["lut"] * copies
    # variable x variable products: Q K'^T, softmax normalisation, A V'; a projection weight read per iteration
    for count, a_bits, b_bits in ((in_flight["scores"] + in_flight["softmax"] + in_flight["mix"], q_bits, s_bits),
                                  (in_flight["projection"] if iterations > 1 else 0, q_bits, spec.w_t.width)):
        d_, l_ = _var_products(count, a_bits, b_bits)
        dsp, lut = dsp + d_, lut + l_
    lut += sum(in_flight.values()) * spec.acc_mix_t.width // 2  # adders
    tables = _table(spec.table_size * 35)  # exp (17 bits) + inverse (18 bits) tables, per row-head in flight
    rows = heads * p
    lut += tables["LUT"] * rows + rows * m * spec.score_t.width * 2  # max and subtract per row
    terms = spec.projection_terms if iterations == 1 else min(p, spec.projection_terms) + 1  # + the running sum
    levels = ((math.ceil(math.log2(max(spec.d, 2))) if has_qkv else 0) + math.ceil(math.log2(max(dh, 2))) +
              math.ceil(math.log2(max(m, 2))) * 3 + (math.ceil(math.log2(terms)) if spec.projection_terms else 0))
    stages = 4 if has_qkv else 3
    depth = _stage_cycles(stages * (T_MULT_DSP_NS if dsp else T_MULT_LUT_NS), levels, clock_ns) + 2 + (ii - 1)
    latency = 2 * (iterations - 1) * ii + depth  # projection loop, then core loop
    interval = iterations * ii  # the two loops are DATAFLOW processes: they overlap across jets
    ff = (3 * p * spec.d * q_bits + rows * m * (spec.score_t.width + 35)) * max(1, depth // 2)
    if iterations > 1:  # K', V' accumulate over the iterations and wait for the core loop
        ff += 2 * heads * m * dh * (spec.acc_proj_t.width + q_bits)
    return {"DSP": dsp, "LUT": int(lut), "FF": int(ff), "BRAM_18K": tables["BRAM_18K"] * rows, "latency": latency,
            "interval": interval, "multiplications": spec.multiplications() - (0 if has_qkv else macs["qkv"]),
            "copies": p, "iterations": iterations}


def _sum_layers(parts: list[dict]) -> dict:
    out = {k: sum(p[k] for p in parts) for k in ("DSP", "LUT", "FF", "BRAM_18K", "latency", "multiplications")}
    out["interval"] = max(p["interval"] for p in parts)
    out["copies"] = max(p.get("copies", 1) for p in parts)
    out["iterations"] = max(p.get("iterations", 1) for p in parts)
    return out


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


def loop_latency(loop, estimates: dict, clock_ns: float) -> int:
    """Latency of a fused particle loop: (iterations - 1) + the depth of one iteration, the members'
    combinational delays chained along the longest path (the tool schedules the loop body as one
    pipeline) plus one cycle per synchronous (BRAM) table read on it."""
    usable = clock_ns * (1 - CLOCK_UNCERTAINTY)
    arrival: dict[str, tuple[float, int]] = {}  # value -> (ns, table reads) of its longest path

    def cost(a):
        return a[0] + a[1] * usable

    for m in loop.members:
        est = estimates[m.name]
        start = max((arrival.get(name, (0.0, 0)) for name in m.inputs), key=cost)
        arrival[m.outputs[0]] = (start[0] + est.get("delay_ns", 0.0), start[1] + est.get("table_reads", 0))
    ns, reads = max(arrival.values(), key=cost)
    return loop.iterations - 1 + _stage_cycles(ns, 0, clock_ns) + reads


def estimate_model(hls_model, part: str | None = None, totals: dict | None = None) -> dict:
    """The hardware section (docs/design.md keys, ``source: 'estimate'``) plus a per-layer table.

    ``part`` defaults to the project's; its DSP port width comes from the parts table, and
    ``totals`` (a budget's, for a part not in the table) replace the table's for the utilization."""
    from l1tag.hardware.parts import device, utilization

    cfg = hls_model.config
    clock_ns = float(cfg.get_config_value("ClockPeriod") or 5.0)
    io_stream = cfg.get_config_value("IOType") == "io_stream"
    style = pipeline_style(hls_model)
    part = part or cfg.get_config_value("Part") or ""
    dev = device(part)
    dsp_a_bits = dev.dsp_a_bits if dev else DSP_A_BITS
    loops = particle_loops.plan(hls_model) if particle_loops.is_fused(hls_model) else []
    loop_of = {m.name: loop for loop in loops for m in loop.members}
    layers, rows = [], []
    nodes = list(hls_model.get_layers())
    for i, node in enumerate(nodes):
        est = estimate_layer(node, clock_ns, io_stream, dsp_a_bits, unroll=style == "pipeline" and not io_stream)
        out = node.get_output_variable()
        loop = loop_of.get(node.name)
        internal = 0 < i < len(nodes) - 1  # the input and output are the top-level ports, not channels
        if loop is not None and particle_loops.member_role(node) in ("relu", "add"):
            # an elementwise layer inside a particle loop: P particles' worth of copies, not n
            est = {**est, **{k: est[k] * loop.parallel // loop.n for k in ("LUT", "FF")}}
        channel = loop is None or node.outputs[0] in loop.outputs  # a loop's internal values are wires
        if io_stream and internal and out is not None and len(out.shape) > 1:  # hls4ml: FIFO depth = pixels
            bits, _, _ = _precision(out)
            fifo = stream_fifo(int(np.prod(out.shape[:-1])), int(out.shape[-1]) * bits)
            est = {**est, **{k: est[k] + fifo[k] for k in ("BRAM_18K", "LUT", "FF")}}
        elif style == "dataflow" and not io_stream and internal and channel and out is not None and \
                "Inplace" not in type(out).__name__:  # a fully partitioned ping-pong array between two processes
            bits, _, _ = _precision(out)
            est = {**est, "FF": est["FF"] + 2 * int(np.prod(out.shape)) * bits}
        layers.append(est)
        rows.append({"layer": node.name, "class": type(node).__name__,
                     **{k: int(est.get(k, 1)) for k in ("DSP", "LUT", "FF", "BRAM_18K", "latency", "interval",
                                                        "multiplications", "copies", "iterations")},
                     **({"particle_loop": loop.name} if loop is not None else {})})
    resources = {k: int(sum(e.get(k, 0) for e in layers)) for k in RESOURCES}  # no layer model uses URAM
    # pipeline or dataflow, a process starts when its inputs are complete: the latency is the longest path
    # through the graph of processes (parallel branches, e.g. Q, K and V, overlap; io_stream latencies
    # include their pixels); a fused particle loop is one process
    by_name = dict(zip((n.name for n in nodes), layers))
    processes, seen, loop_rows = [], set(), []
    for node, est in zip(nodes, layers):
        loop = loop_of.get(node.name)
        if loop is None:
            processes.append((node.inputs, node.outputs, est["latency"]))
        elif loop.name not in seen:
            seen.add(loop.name)
            lat = loop_latency(loop, by_name, clock_ns)
            processes.append((loop.inputs, loop.outputs, lat))
            loop_rows.append({"name": loop.name, "layers": loop.member_names, "parallel": loop.parallel,
                              "iterations": loop.iterations, "latency": lat, "interval": loop.iterations})
    interval = max(e["interval"] for e in layers)
    latency = critical_path(processes)
    return {
        "source": "estimate", "part": part, "clock_ns": clock_ns, "latency_cycles": int(latency),
        "latency_ns": float(latency * clock_ns), "ii_cycles": int(interval), "resources": resources,
        "utilization": utilization(resources, part, totals), "layers": rows, "particle_loops": loop_rows,
    }
