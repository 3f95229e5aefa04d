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
* **l1tag attention** (``L1tagAttention``) and **DynamicTanh** (``L1tagDynamicTanh``): priced from the
  schedule and the operators their generated C++ asks for (``l1tag/hardware/kernels.py``: two rewound
  loops of n / P iterations in a DATAFLOW region, their products by operand width and BIND_OP binding,
  ROM copies and reads, casts, adder trees); ``model_products`` lists their products in the form of the
  GIMPLE census (``l1tag/hls/census.py``), which the build holds equal.
* **l1tag's fused particle loops** (``l1tag/hls/particle_loops.py``; a project whose hls4ml_config.yml
  says ``L1tagParticleLoops: true``): a chain of per-particle layers is one process, a loop of n / P
  iterations at II = 1.  Its resources are its members' (elementwise members: P copies, not n); only
  the values it hands to other processes are ping-pong arrays; latency = n / P - 1 + the depth of one
  iteration, in which the members' combinational delays (``delay_ns``: adder levels, multiplier, a
  LUT level) chain along the longest path and are packed into clock cycles as for one layer, plus one
  cycle per BRAM table read on that path (a synchronous read).
* **Tables** (hls4ml's softmax tables): BRAM_18K when larger than ``TABLE_LUTRAM_MAX_BITS``, else LUTs
  (one per 64 bits, as LUTRAM); l1tag's tables: ``kernels.rom``.
* **Elementwise** hls4ml layers (activations, Add/Merge, pooling, batch normalisation) are fully
  unrolled.
* **io_stream FIFOs**: every layer output is a stream of (pixels) words of (channels x bits); up to
  two words it is registers, up to ``SRL_MAX_DEPTH`` a shift register in LUTs, deeper it takes the
  fewest BRAM_18K of any aspect ratio (36 x 512 ... 1 x 16384).

* **Per tool** (``ToolRules``, picked from the backend: ``vivado_hls`` for Vivado / VivadoAccelerator,
  ``vitis_hls`` for Vitis): clock uncertainty, io_stream conv II, FIFO binding, ROM words, softmax table
  copies and where constant products are registered differ; each field of ``ToolRules`` names its source.
  io_stream tops are DATAFLOW regions over FIFOs: latency = the slowest process's interval + each process's
  own depth along the longest path.  hls4ml's ``multiplier_limit`` (ALLOCATION on ``mul`` only) caps DSPs in
  io_stream Latency layers at R > 1; adders are never shared.  The Resource strategy (R > 1) has
  DIV_ROUNDUP(n_in n_out, R) variable x variable multipliers fed from a ROM (BRAM above 1024 bits).  LUTs are
  HLS's own operator prices (an adder w + 7, a compare, a select) per nonzero term; AP_RND / AP_SAT
  accumulators add ``ToolRules.sat_lut_per_bit`` LUTs per product per accumulator bit (measured).

Each layer row also gives ``copies`` (datapath copies in flight) and ``iterations`` (loop trips per
jet).  ``multiplications`` counts real (non-shift) products per jet (io_stream: per pixel).
Its error against real Vivado/Vitis HLS reports is measured by ``bench/estimator_accuracy.py`` and
published in the README.  The constants below are properties of the tools and devices, not fits to
single reports.
"""

from __future__ import annotations

import contextvars
import dataclasses
import math
import re

import numpy as np

from l1tag.config import DEFAULT_TABLE_SIZE
from l1tag import kinds
from l1tag.hardware import kernels
from l1tag.numerics.tables import EXP_T, INV_T, exp_table_entries
from l1tag.hardware.error_band import error_band
from l1tag.hardware.parts import RESOURCES
from l1tag.hls import dataflow, particle_loops
from l1tag.hls.binding import TABLE_LUTRAM_MAX_BITS
from l1tag.hls.particle_loops import layer_strategy, pipeline_style  # noqa: F401 (pipeline_style: re-exported)

DSP_MIN_BITS = 10  # narrower data: Vivado/Vitis HLS build constant multipliers from LUTs
DSP_A_BITS = 27  # DSP48E2's A port, for a part not in the table (l1tag/hardware/parts/*.yaml has each device's)
T_MULT_DSP_NS = 2.5  # a registered DSP48 multiply
T_MULT_LUT_NS = 1.6  # a small LUT multiplier / shift-add
T_ADD_NS = 0.65  # one carry-chain adder level (~16-24 bits)
T_LUT_NS = 0.5  # one LUT level and its routing (a ReLU's select, a LUTRAM read)
CLOCK_UNCERTAINTY = 0.27  # hls4ml's default for Vitis (../shared/reference/l1t.md)
BRAM_BITS = 18 * 1024
DA = "distributed_arithmetic"  # hls4ml 1.3's strategy built on da4ml

# ---- per-tool rules (issue: separate vivado_hls / vitis_hls models) ------------------------------------------
VIVADO_HLS, VITIS_HLS = "vivado_hls", "vitis_hls"


@dataclasses.dataclass(frozen=True)
class ToolRules:
    """What differs between Vivado HLS 2019-2020 and Vitis HLS 2022+ (each field: its source).

    clock_uncertainty: hls4ml's default ClockUncertainty: 12.5 % (VivadoBackend.create_initial_config) and
        27 % (VitisBackend.create_initial_config); the reports print 0.62 ns / 1.25 ns at 5 / 10 ns (Vivado) and
        1.35 ns at 5 ns (Vitis).
    stream_conv_ii: cycles per input pixel of an io_stream Latency Conv1D/2D at R = 1 (hls4ml asks II = R in
        conv_1d_cl's ReadInputWidth loop).  Vivado HLS reaches it; Vitis HLS 2023.1/2024.1 schedule the
        INLINE-OFF compute_output_buffer_1d (static line-buffer counters) at II = 3 (HG-DREAM conv config2: 249
        cycles for 82 pixels; ECE226: 390 for 130, 'II' issue in csynth.rpt); hls4ml PR #1141 reports the same
        Vitis io_stream II misses for pooling / zero padding.
    fifo_per_element: Vivado HLS splits an nnet::array stream into one FIFO per element ('layerN_out_V_data_K_V'
        rows in every Vivado report); Vitis HLS keeps one packed FIFO ('layerN_out_U').
    fifo_srl_max_bits: a FIFO of at most this many bits (depth x width) is a shift register, deeper ones take
        BRAM_18K.  Vitis: UG1399 config_storage fifo -auto_srl_max_bits (default 1024).  Vivado HLS 2019/2020:
        measured, every FIFO in the Vivado reports: <= 448 bits SRL (16 x 28, 25 x 16, 9 x 16), >= 768 bits BRAM
        (32 x 24, 35 x 24, 66 x 16 ...), so 512.
    rom_parity_bits: Vitis HLS stores a ROM without the RAMB18's parity bits (1K x 16 a BRAM_18K): 6nrp's
        Bind Storage report, an 18-bit 1024-entry exp/invert table copy = 2 BRAM_18K; Vivado HLS uses them
        (DNNonSilicon softmax: 2 tables, 2 BRAM_18K).
    softmax_parallel_lookups: Vitis HLS unrolls softmax's N exp-table reads onto a multi-port ROM, one
        dual-port copy per two reads (6nrp Bind Storage: exp_table rom_np 6 = 3 copies x 2 for N = 5);
        Vivado HLS's io_stream softmax reads them one after the other (DNNonSilicon: 1 copy).
    registered_products: Vivado HLS binds a constant multiplication with its output register(s) (products
        registered: bambu 1605 FF = 64 products x 25 bits at latency 2); Vitis HLS binds them with latency 0
        (6nrp Bind Op report: every mul 'Latency 0'), the first register cuts the adder tree.
    rom_read_cycles: a ROM read at a run-time index: every rom_np / ROM_AUTO entry in public Vitis module
        tables has LATENCY 2 (../shared/reference/hls-schedule-review.md 1e); Vivado HLS's block-RAM ROM reads
        in one (a RAMB18's registered output).
    dataflow_handshake: UG1399's DATAFLOW processes hand over by ap_done -> ap_start (ap_ctrl_chain): one cycle
        per process on the path (the review's 1-2; the lower bound, an assumption no report here checks).
    """

    tool: str
    clock_uncertainty: float
    stream_conv_ii: int
    fifo_per_element: bool
    fifo_srl_max_bits: int
    rom_parity_bits: bool
    softmax_parallel_lookups: bool
    registered_products: bool
    rom_read_cycles: int = 1  # a ROM read at a run-time index (see TOOL_RULES)
    dataflow_handshake: int = 1  # cycles between one DATAFLOW process's ap_done and the next one's ap_start
    sat_lut_per_bit: float | None = 10.9  # LUTs per product instance per accumulator bit, AP_RND*/AP_SAT acc
    resource_pixel_overhead: int = 11  # cycles per input pixel of a Resource io_stream conv beyond its R
    zeropad_lut: int = 299  # LUTs of an io_stream zero-padding process


TOOL_RULES = {
    VIVADO_HLS: ToolRules(VIVADO_HLS, 0.125, 1, True, 512, True, False, True, rom_read_cycles=1),
    VITIS_HLS: ToolRules(VITIS_HLS, 0.27, 3, False, 1024, False, True, False, rom_read_cycles=2),
}
_RULES: contextvars.ContextVar = contextvars.ContextVar("l1tag_estimate_rules", default=TOOL_RULES[VITIS_HLS])


def _tr() -> ToolRules:
    return _RULES.get()


def tool_of(hls_model) -> str:
    """'vitis_hls' for hls4ml's Vitis backend, 'vivado_hls' for Vivado / VivadoAccelerator."""
    backend = getattr(hls_model.config, "backend", None)
    name = str(getattr(backend, "name", None) or hls_model.config.get_config_value("Backend") or "Vitis")
    return VITIS_HLS if "vitis" in name.lower() else VIVADO_HLS


def _uncertainty(cfg, clock_ns: float) -> float:
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
    return _tr().clock_uncertainty


_UNC: contextvars.ContextVar = contextvars.ContextVar("l1tag_estimate_uncertainty", default=CLOCK_UNCERTAINTY)


# HLS's own cost of an operator, as its csynth reports print it in the Expression tables (Vivado HLS 2019.2,
# Hls-and-bambu myproject_axi_csynth.rpt: '+' 16 bits 23 LUT, 32 bits 39, 64 bits 71; 'icmp' 16 bits 13, 32 bits
# 18, 63 bits 29; 'select' w bits w LUT).
def hls_add_lut(bits: int) -> int:
    return int(bits) + 7


def hls_icmp_lut(bits: int) -> int:
    return 7 + math.ceil(int(bits) / 3)


def hls_select_lut(bits: int) -> int:
    return int(bits)


def _modes(precision) -> tuple[str, str]:
    """(quantization, overflow) mode names of an hls4ml precision, upper case ('TRN', 'WRAP' when absent)."""
    q = str(getattr(getattr(precision, "rounding_mode", None), "name", getattr(precision, "rounding_mode", "")) or "")
    o = str(getattr(getattr(precision, "saturation_mode", None), "name", getattr(precision, "saturation_mode", "")) or "")
    return (q.upper() or "TRN"), (o.upper() or "WRAP")


def _costly_cast(precision) -> bool:
    """A type whose assignment rounds (AP_RND*) or saturates (AP_SAT*): extra logic on every write."""
    q, o = _modes(precision)
    return q.startswith("RND") or o.startswith("SAT")


def cast_lut(precision, in_bits: int) -> int:
    """LUTs of one assignment into ``precision`` from a wider value: rounding = an incrementer, saturation =
    an overflow compare and two selects (ap_fixed_base.h's quantization / overflow code as HLS prices it)."""
    w = int(getattr(precision, "width", 16))
    q, o = _modes(precision)
    lut = 0
    if q.startswith("RND"):
        lut += hls_add_lut(w)
    if o.startswith("SAT"):
        lut += hls_icmp_lut(max(1, in_bits - w)) + 2 * hls_select_lut(w)
    return lut


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


def _stage_cycles(mult_ns: float, levels: float, clock_ns: float) -> int:
    usable = clock_ns * (1 - _UNC.get())
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


def stream_fifo_tool(depth: int, channels: int, bits: int) -> dict:
    """An io_stream channel of ``depth`` words of ``channels`` x ``bits`` under the tool's FIFO rules
    (ToolRules.fifo_per_element, fifo_srl_max_bits): a shift register up to the SRL limit (HLS prints its
    LUTs as 0 and a few FFs of control), else ceil(width / 18) BRAM_18K per 1024 words (RAMB18 1K x 18; every
    BRAM FIFO in the reports: 16-bit 1, 24/28-bit 2 (Vivado, per element); 864-bit 48, 1408-bit 79, 20-bit 2
    (Vitis 2023.1, HG-DREAM))."""
    t = _tr()
    fifos, width = (channels, bits) if t.fifo_per_element else (1, channels * bits)
    # FFs as the reports print them: Vivado 5 per depth-1 / SRL FIFO and ~30 + 2 log2(depth) per BRAM FIFO
    # (control only); Vitis a depth-1 FIFO holds two words (ECE226 layer5_out: 516 FF at 256 bits), a BRAM FIFO
    # ~150 FF (HG-DREAM, 8 FIFOs: 153-160)
    log_depth = math.ceil(math.log2(max(depth, 2)))
    if depth <= 1:
        return {"BRAM_18K": 0, "LUT": 0, "FF": fifos * 5 if t.fifo_per_element else 2 * width + 4}
    if depth * width <= t.fifo_srl_max_bits:
        return {"BRAM_18K": 0, "LUT": 0, "FF": fifos * (log_depth + 3)}
    return {"BRAM_18K": fifos * math.ceil(width / 18) * math.ceil(depth / 1024), "LUT": 0,
            "FF": fifos * (2 * log_depth + (30 if t.fifo_per_element else 140))}


def _share(node, rf: int, io_stream: bool) -> int:
    """How many ways a multiplier is really shared: R under the Resource strategies; under Latency R
    in io_stream only (each layer its own dataflow process, whose ALLOCATION Vivado HLS honoured in
    the shared reports), 1 in io_parallel (ALLOCATION not honoured, hls4ml issue #566)."""
    return rf if io_stream or layer_strategy(node).startswith("resource") else 1


def _loop(iterations: int, ii: int, depth: int, pipelined: bool = True, rewind: bool = True) -> tuple[int, int]:
    """(latency, interval) of a loop of ``iterations`` trips of ``depth`` cycles each, the outermost construct
    of its process.  Rewound (``PIPELINE rewind``, UG1399 "Rewinding Pipelined Loops"): the next call's first
    iteration follows this call's last, interval = trips x II; otherwise the pipeline drains before the next
    call: interval = latency + 1."""
    if not pipelined:
        return iterations * depth, iterations * depth
    latency = (iterations - 1) * ii + depth
    return latency, iterations * ii if rewind else latency + 1


def _weighted_layer(node, weight_name: str, terms_per_output: int, outputs: int, pixels: int, io_stream: bool,
                    clock_ns: float, rf: int, dsp_a_bits: int = DSP_A_BITS, partitions: int = 1,
                    in_pixels: int | None = None, limit_size: int | None = None, is_conv: bool = False) -> dict:
    """Dense-like layers: outputs x terms products by constant weights, adder trees, registers; in
    io_parallel pixels / partitions copies of the kernel, one partition per iteration.

    ``in_pixels``: the (padded) input pixels an io_stream conv reads, one per loop iteration;
    ``limit_size``: the product count in hls4ml's multiplier_limit (its config template's n_in x n_out,
    kernel_size x n_chan x n_filt)."""
    w = node.get_weights(weight_name)
    w_bits, w_int, _ = _precision(w)
    a_bits, _, _ = _precision(node.get_input_variable())
    out_bits, _, _ = _precision(node.get_output_variable())
    strategy = layer_strategy(node)
    cost = multiplier_cost(w.data, w_bits - w_int, a_bits, dsp_a_bits)
    acc = node.get_attr("accum_t")
    acc_prec = getattr(acc, "precision", None)
    acc_bits = int(getattr(acc_prec, "width", 0)) or (
        a_bits + w_bits + math.ceil(math.log2(max(terms_per_output, 2))))
    k = np.rint(np.asarray(w.data, dtype=np.float64) * 2.0 ** (w_bits - w_int)).astype(np.int64).ravel()
    nonzero = int(np.count_nonzero(k))
    digits = csd_digits(k)
    sig = np.ceil(np.log2(np.abs(k[k != 0]) + 1)).astype(int) + 1  # the constant's own signed width
    pw = a_bits + (int(np.mean(sig)) if sig.size else w_bits)  # product width HLS gives it (mul_16s_10s_26)
    # io_parallel instantiates the kernel once per pixel of a partition; io_stream reuses one over the pixels
    copies = 1 if io_stream else pixels // partitions
    t = _tr()
    levels = math.ceil(math.log2(max(terms_per_output, 2)))
    usable = clock_ns * (1 - _UNC.get())
    per_dsp = 1 if a_bits <= dsp_a_bits else 2
    # an AP_RND* / AP_SAT* accumulator: every product is cast into it (rounding, saturation) and every
    # addition saturates (hls4ml's acc[j] += mult[i] in accum_t)
    sat = acc_prec is not None and _costly_cast(acc_prec)
    if not sat:
        sat_lut = 0
    elif t.sat_lut_per_bit is not None:  # measured: LUTs per product per accumulator bit (LOO median)
        sat_lut = t.sat_lut_per_bit * acc_bits
    else:  # HLS's operator prices: the cast, then the overflow test and two selects of the saturating add
        sat_lut = cast_lut(acc_prec, pw) + (hls_icmp_lut(2) + 2 * hls_select_lut(acc_bits)
                                            if _modes(acc_prec)[1].startswith("SAT") else 0)
    distinct = np.unique(np.abs(k[k != 0]))
    resource = strategy.startswith("resource") and rf > 1
    rom_const = distinct.size <= 1  # one weight value: HLS folds the ROM into a constant (conv2d_test)
    bram = 0
    if resource:
        # hls4ml dense_resource: block_factor = DIV_ROUNDUP(n_in * n_out, R) multipliers, each fed from the
        # weights ARRAY_RESHAPEd into R words of block_factor weights (ROM_nP_BRAM): variable x variable
        # products (no constant folding), on DSPs (ML-fpga model_2/3: 24-bit x 8-bit -> 512 / 160 / 80 / 40 DSP =
        # block_factor exactly)
        block = math.ceil(k.size / rf)
        if rom_const:  # a constant operand: a shift (1 CSD digit), a LUT add (2) or a DSP (3+)
            const_digits = int(csd_digits(distinct)[0]) if distinct.size else 0
            on_dsp = const_digits >= 3 and a_bits >= DSP_MIN_BITS
            lut_mult = block * max(0, const_digits - 1) * hls_add_lut(pw) if not on_dsp else 0
        else:
            on_dsp = max(a_bits, w_bits) >= DSP_MIN_BITS
            lut_mult = 0 if on_dsp else block * a_bits * w_bits // 2
        dsp = block * per_dsp * copies if on_dsp else 0
        lut = (block * (hls_add_lut(acc_bits) + sat_lut) + lut_mult) * copies
        rom_width, rom_bits = block * w_bits, block * w_bits * rf
        if rom_const:
            pass
        elif rom_bits > 1024:  # ML-fpga: 2 x 1280-bit ROM 36 BRAM_18K, 2 x 640-bit 18, 2 x 320-bit none (LUTs)
            bram = math.ceil(rom_width / 36) * math.ceil(rf / 512) * copies
        else:
            lut += math.ceil(rom_bits / 64) * copies
        # registers per multiplier: the ROM word, the operand, the product and the value cast to accum_t --
        # ReuseLoop is PIPELINE II=1 with acc[out_index] carried across iterations, so everything before the
        # accumulation is pipelined ahead of it; then the accumulators
        ff = (block * ((0 if rom_const else w_bits) + a_bits + pw + acc_bits) + outputs * acc_bits) * copies
        mult_ns = T_MULT_DSP_NS
        depth = _stage_cycles(mult_ns, 1, clock_ns) + (2 if sat else 0)  # one MAC per cycle, II = 1
        mults = block
    else:
        csd_dsp = cost["dsp_mults"]
        if io_stream and rf > 1:
            # ALLOCATION instances=mul limit=multiplier_limit = DIV_ROUNDUP(limit_size, R) - n_zeros / R
            # (hls4ml's config templates) is honoured in a dataflow process (DNNonSilicon R = 16: dense 96 and
            # 15 DSP, depthwise min(limit, CSD) 6 / 224 / 465 with hls4ml's kernel x n_chan x n_filt limit)
            limit = math.ceil((limit_size or k.size) / rf) - (k.size - nonzero) // rf
            dsp = min(limit * per_dsp, csd_dsp)
        else:
            dsp = math.ceil(csd_dsp * copies / _share(node, rf, io_stream))
        # one HLS adder per nonzero term at accumulator width (bias included), one per extra CSD digit of a
        # LUT-built product at product width; ALLOCATION limits mul only, so adders are never shared
        lut_mult_mask = (digits >= 2) & ~((digits >= 3) & (a_bits >= DSP_MIN_BITS))
        lut_products = int(((digits[lut_mult_mask] - 1)).sum()) * hls_add_lut(pw)
        lut = (nonzero * (hls_add_lut(acc_bits) + sat_lut) + lut_products) * copies
        mult_ns = T_MULT_DSP_NS if cost["dsp_mults"] else T_MULT_LUT_NS
        depth = _stage_cycles(mult_ns, levels, clock_ns) + (rf - 1)
        if t.registered_products:  # every nonzero product registered once, then the output register
            ff = (nonzero * pw + outputs * acc_bits) * copies
        else:  # latency-0 multipliers: the first register cuts the tree after the DSP's post-adder and the
            # fabric levels that fit in the rest of the period
            cut = 1 + max(0, int((usable - mult_ns) / T_ADD_NS))
            ff = (math.ceil(nonzero / 2 ** min(cut, levels)) * pw + outputs * acc_bits) * copies
        mults = cost["multiplications"]
    if io_stream:
        if is_conv and in_pixels:
            if strategy.startswith("resource"):  # conv_1d_cl's ReadInputWidthSerial: not pipelined, each pixel
                # runs dense_resource to its end: R MAC cycles + a fixed overhead (measured, ToolRules)
                per_pixel = rf + t.resource_pixel_overhead
            else:  # ReadInputWidth, PIPELINE II = R, per input pixel (the tool's II at R = 1)
                per_pixel = rf * t.stream_conv_ii
            latency, interval = depth + in_pixels * per_pixel, in_pixels * per_pixel
        elif resource:
            latency, interval = depth + pixels * rf, pixels * (rf + depth)
        else:
            latency, interval = depth + pixels * rf, pixels * rf
    else:  # the Resource strategy's PartitionLoop is not pipelined (conv_1d_resource_cl)
        latency, interval = _loop(partitions, rf, depth, pipelined=not strategy.startswith("resource"))
    return {"DSP": int(dsp), "LUT": int(lut), "FF": int(ff), "BRAM_18K": int(bram), "latency": latency,
            "interval": interval, "multiplications": mults * (1 if io_stream else pixels), "out_bits": out_bits,
            "copies": copies, "iterations": pixels if io_stream else partitions,
            "delay_ns": mult_ns + levels * T_ADD_NS, "weighted": True}


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
            "FF": (size // pixels if io_stream else size) * bits if depth else 0,
            "BRAM_18K": 0, "latency": depth + (pixels if io_stream else 0),
            "interval": pixels if io_stream else 1, "multiplications": 0, "delay_ns": delay_ns}


def _global_pooling(node, clock_ns: float) -> dict:
    """A global max (or average) pooling of n positions x f features, io_parallel: a balanced tree of n - 1
    compare-and-selects (adds) per feature, log2 n levels deep.  Measured by the open synthesis
    (l1tag/rtl: Yosys counts 7,936 LUT for the default 32 x 16 max pooling, where the per-output-element
    rule this replaces gave 128)."""
    in_shape = node.get_input_variable().shape
    n, f = int(np.prod(in_shape[:-1])), int(in_shape[-1])
    bits, _, _ = _precision(node.get_input_variable())
    average = "average" in str(node.get_attr("pool_op") or "").lower()
    per = hls_add_lut(bits) if average else hls_icmp_lut(bits) + hls_select_lut(bits)
    levels = math.ceil(math.log2(max(n, 2)))
    depth = _stage_cycles(0.0, levels, clock_ns) - 1
    return {"DSP": 0, "LUT": (n - 1) * f * per, "FF": f * bits, "BRAM_18K": 0, "latency": depth, "interval": 1,
            "multiplications": 0, "delay_ns": levels * T_ADD_NS}


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
    in_var = node.get_input_variable() if getattr(node, "inputs", None) else None
    in_pixels = int(np.prod(list(in_var.shape)[:-1])) if in_var is not None and len(in_var.shape) > 1 else 1
    kernel = int(node.get_attr("filt_width", 1) or 1) * int(node.get_attr("filt_height", 1) or 1)
    if cls.endswith("Dense") or "PointwiseConv" in cls:
        w = node.get_weights("weight").data
        n_in, n_out = int(np.prod(w.shape[:-1])), int(w.shape[-1])
        # the layer's own sizes: the Resource strategy stores the weights transposed
        n_in = int(node.get_attr("n_in") or 0) or int(node.get_attr("n_chan") or 0) * kernel or n_in
        n_out = int(node.get_attr("n_out") or 0) or int(node.get_attr("n_filt") or 0) or n_out
        return _weighted_layer(node, "weight", n_in, n_out, pixels, io_stream, clock_ns, rf, dsp_a_bits, partitions,
                               in_pixels=in_pixels, limit_size=n_in * n_out, is_conv="Conv" in cls)
    if "Conv" in cls and "Depthwise" not in cls and "Separable" not in cls:
        w = node.get_weights("weight").data
        terms, n_out = int(np.prod(w.shape[:-1])), int(w.shape[-1])
        if node.get_attr("n_chan") and node.get_attr("n_filt"):  # the layer's own sizes (weights may be transposed)
            terms, n_out = kernel * int(node.get_attr("n_chan")), int(node.get_attr("n_filt"))
        return _weighted_layer(node, "weight", terms, n_out, pixels, io_stream, clock_ns, rf, dsp_a_bits,
                               partitions, in_pixels=in_pixels, limit_size=terms * n_out, is_conv=True)
    if "Depthwise" in cls or "Separable" in cls:
        parts = []
        for name in ("depthwise", "pointwise", "weight"):
            if name in node.weights:
                w = node.get_weights(name).data
                depthwise = name == "depthwise" or (name == "weight" and "Depthwise" in cls)
                terms = int(np.prod(w.shape[:-2])) if depthwise else int(np.prod(w.shape[:-1]))
                outs = int(np.prod(w.shape[-2:])) if depthwise else int(w.shape[-1])
                chan = int(node.get_attr("n_chan") or 1)
                # hls4ml's depthwise config: multiplier_limit over kernel x n_chan x n_filt, n_filt = n_chan
                limit = terms * chan * int(node.get_attr("n_filt") or chan) if depthwise else terms * outs
                parts.append(_weighted_layer(node, name, terms, outs, pixels, io_stream, clock_ns, rf, dsp_a_bits,
                                             partitions, in_pixels=in_pixels if depthwise or "Depthwise" in cls
                                             else pixels, limit_size=limit, is_conv=True))
        return _sum_layers(parts)
    # l1tag's own IR layers, by their exact class (node.class_name drops the backend's wrapper)
    if node.class_name == "L1tagAttention":  # every attention kind of the registry
        return _attention(node, clock_ns, rf, dsp_a_bits, unroll)
    if node.class_name == "L1tagDynamicTanh":
        return _dynamic_tanh(node, shape, clock_ns, rf, unroll, dsp_a_bits)
    if "Softmax" in cls or ("Activation" in cls and str(node.get_attr("activation")).lower() in
                            ("softmax", "tanh", "sigmoid")):
        return _softmax(node, shape, io_stream, rf)
    if cls in ("Activation", "ReLU", "ParametrizedActivation", "LeakyReLU") or "Activation" in cls:
        return _activation(node, shape, io_stream, unroll)
    if "BatchNormalization" in cls:
        r = _elementwise(node, 1.0, 2, io_stream)
        size = int(shape[-1]) if io_stream else int(np.prod(shape))
        if io_stream:
            # hls4ml's batchnorm config: multiplier_limit = DIV_ROUNDUP(n_in, R) over the whole tensor, one
            # pixel's channels multiplied per iteration (DNNonSilicon R = 16: 32 channels -> 32 DSP, 3x3x64 -> 36)
            r["DSP"] = min(size, math.ceil(int(np.prod(shape)) / rf))
        else:
            r["DSP"] = math.ceil(size / _share(node, rf, io_stream))
        r["multiplications"] = size
        return r
    if "GlobalPooling" in cls and not io_stream:
        return _global_pooling(node, clock_ns)
    if "Pooling" in cls or node.class_name in ("Merge", "Add", "Resize"):  # class_name: without the backend's prefix
        return _elementwise(node, 1.0, 1, io_stream, T_ADD_NS)
    if io_stream and "ZeroPadding" in cls and len(shape) > 1:
        # an io_stream zero padding is a process copying its pixels (ECE226: 132 cycles for 130 pixels, 157 LUT)
        return {"DSP": 0, "LUT": _tr().zeropad_lut, "FF": 16, "BRAM_18K": 0, "latency": pixels + 2, "interval": pixels,
                "multiplications": 0}
    # reshapes, flatten, zero padding, transposes: wiring
    return {"DSP": 0, "LUT": 0, "FF": 0, "BRAM_18K": 0, "latency": 0, "interval": 1, "multiplications": 0}


def _activation(node, shape: list, io_stream: bool, unroll: bool) -> dict:
    """An elementwise activation priced with HLS's operators: ReLU = a compare and a select per element,
    plus the output cast when its type rounds or saturates (QKeras quantized_relu / quantized_bits: the 6nrp
    Vitis ReLU is 28 LUT per 16-bit element = icmp 13 + select 16); io_stream: one pixel's channels."""
    out = node.get_output_variable()
    size = int(np.prod(shape))
    elements = int(shape[-1]) if io_stream and len(shape) > 1 else size
    pixels = size // elements if io_stream else 1
    in_bits, _, _ = _precision(node.get_input_variable())
    out_bits, _, _ = _precision(out)
    act = str(node.get_attr("activation") or "").lower()
    per = 0
    if act in ("relu", "leaky_relu", "relu6", "elu", "selu", "hard_sigmoid", "hard_tanh") or "ReLU" in type(node).__name__:
        per += hls_icmp_lut(in_bits) + hls_select_lut(out_bits)
    prec = getattr(out.type, "precision", None)
    if prec is not None and _costly_cast(prec) and in_bits > out_bits:
        per += cast_lut(prec, in_bits)
    merged = not io_stream and unroll  # scheduled into its producer's last cycle
    ff = 0 if (merged or io_stream) else size * out_bits
    return {"DSP": 0, "LUT": elements * per, "FF": ff, "BRAM_18K": 0,
            "latency": (0 if merged else 1) + (pixels if io_stream else 0), "interval": pixels if io_stream else 1,
            "multiplications": 0, "delay_ns": T_LUT_NS}


def _softmax(node, shape: list, io_stream: bool, rf: int) -> dict:
    """hls4ml's table softmax: exp and inverse tables (table_size entries of exp_table_t / inv_table_t), N
    exp reads (ToolRules.softmax_parallel_lookups: one dual-port copy per two reads on Vitis), N products by
    the inverse (DSPs, shared R ways in io_stream), a max / subtract / sum per element."""
    t = _tr()
    size = int(np.prod(shape))
    n = int(shape[-1]) if shape else size
    entries = int(node.get_attr("table_size") or DEFAULT_TABLE_SIZE)

    def width(attr):
        p = getattr(node.get_attr(attr), "precision", None)
        return int(getattr(p, "width", 18) or 18)

    per_word = 18 if t.rom_parity_bits else 16

    def copy_bram(bits):
        if entries * bits <= TABLE_LUTRAM_MAX_BITS:
            return 0
        return math.ceil(bits / per_word) * math.ceil(entries / 1024)

    exp_copies = math.ceil(n / 2) if t.softmax_parallel_lookups else 1
    bram = exp_copies * copy_bram(width("exp_table_t")) + copy_bram(width("inv_table_t"))
    in_bits, _, _ = _precision(node.get_input_variable())
    lut = n * (2 * hls_add_lut(in_bits) + hls_icmp_lut(in_bits) + hls_select_lut(in_bits) + hls_add_lut(18))
    dsp = math.ceil(n / rf) if io_stream else n
    return {"DSP": dsp, "LUT": lut, "FF": n * 18 * 3, "BRAM_18K": bram, "latency": 4 if not io_stream else 4 + n,
            "interval": 1, "multiplications": size}


def _constant_cost(pr, dsp_a_bits: int) -> dict:
    """A constant product's price from its weights' canonical signed digits (as hls4ml's constant weights)."""
    return multiplier_cost(np.asarray(pr.weights, dtype=np.float64), pr.b.frac, pr.a.width, dsp_a_bits)


def _products_cost(products, binding: str, dsp_a_bits: int) -> tuple[int, int]:
    """(DSP, LUT) of one loop iteration's products (kernels.Product)."""
    dsp = lut = 0
    for pr in products:
        if pr.constant:
            c = _constant_cost(pr, dsp_a_bits)
            dsp, lut = dsp + c["dsp_mults"], lut + c["lut"]
        else:
            d_, l_ = kernels.variable_product_cost(pr.count, pr.a.width, pr.b.width, binding)
            dsp, lut = dsp + d_, lut + l_
    return dsp, lut


def _product_ns(products, binding: str) -> float:
    """The slowest product's delay: a DSP48 or a LUT multiplier (constants: shift-adds)."""
    if any(not pr.constant for pr in products) and binding == "dsp":
        return T_MULT_DSP_NS
    return T_MULT_LUT_NS


def _levels(terms: int) -> int:
    return math.ceil(math.log2(max(terms, 1))) if terms > 1 else 0


def _dynamic_tanh(node, shape: list, clock_ns: float, rf: int, unroll: bool, dsp_a_bits: int = DSP_A_BITS) -> dict:
    """One rewound loop of n / P iterations, P x d lanes each: alpha x (a constant product, priced by its
    digits), + beta, the index (a shift, a clamp), the table read (a ROM, ceil(lanes / 2) copies)."""
    from l1tag.hls.dynamic_tanh import dynamic_tanh_layer_spec

    spec = dynamic_tanh_layer_spec(node)
    size = int(np.prod(shape))
    n = int(shape[0]) if len(shape) > 1 else 1
    p = _particles(node, n, unroll)
    iterations = n // p
    elements = size // iterations
    alpha = float(node.get_attr("alpha") if node.get_attr("alpha") is not None else 1.0)
    products = kernels.dynamic_tanh_products(spec, elements, alpha)
    dsp, mult_lut = _products_cost(products, "lut", dsp_a_bits)
    t = _tr()
    table = kernels.rom(spec.table_size, spec.out_t.width, elements, t.rom_parity_bits)
    arg_bits = spec.arg_t.width
    index_lut = hls_add_lut(arg_bits) + 2 * (hls_icmp_lut(arg_bits) + hls_select_lut(spec.table_size.bit_length()))
    lut = mult_lut + elements * index_lut + table["LUT"]
    on_dsp = dsp > 0
    delay = (T_MULT_DSP_NS if on_dsp else T_MULT_LUT_NS) + T_ADD_NS + T_LUT_NS  # alpha x, + beta, clamp
    reads = t.rom_read_cycles if table["BRAM_18K"] else 0
    depth = _stage_cycles(delay, 0, clock_ns) + reads
    ii = rf if node.get_attr("parallelization_factor") is None else 1
    latency, interval = _loop(iterations, ii, depth)
    return {"DSP": dsp, "LUT": int(lut), "FF": elements * (spec.out_t.width + arg_bits) * max(1, depth - 1),
            "BRAM_18K": table["BRAM_18K"], "latency": latency, "interval": interval,
            "multiplications": size, "copies": p, "iterations": iterations,
            # inside a fused particle loop: its combinational delay and its synchronous table read
            "delay_ns": delay + (0.0 if table["BRAM_18K"] else T_LUT_NS), "table_reads": reads,
            "products": products}


def _attention(node, clock_ns: float, rf: int, dsp_a_bits: int = DSP_A_BITS, unroll: bool = False) -> dict:
    """The attention's DATAFLOW region of two rewound loops (projection or gather, then the core), each
    n / P iterations with P copies of the per-particle datapath (l1tag/hardware/kernels.py)."""
    from l1tag.hls.attention import attention_layer_spec, group_in_partition
    from l1tag.hls.common import to_hls

    spec = attention_layer_spec(node)
    n, heads, m, dh = spec.n, spec.heads, spec.m, spec.head_dim
    p = _particles(node, n, unroll)
    iterations = n // p
    binding = str(node.get_attr("variable_products") or kernels.DEFAULT_VARIABLE_PRODUCTS)
    t = _tr()
    conv = spec.conv if kinds.get(spec.kind).score_conv else None
    products = kernels.attention_products(spec, p, node.get_attr("convk_data") if conv else None)
    by_name = {pr.name: pr for pr in products}
    proj = [pr for pr in products if pr.name == "projection"]
    if proj and iterations == 1:  # one iteration: the projection weights are constants of the unrolled loop
        w = np.asarray(node.get_weights("kproj").data, dtype=np.float64).ravel()
        reps = max(1, proj[0].count // (2 * w.size)) if w.size else 1
        proj = [kernels.Product("projection", proj[0].count, spec.x_t, spec.w_t, True,
                                tuple(np.tile(np.concatenate([w, np.asarray(node.get_weights("vproj").data,
                                                                            dtype=np.float64).ravel()]), reps)))]
    core = [pr for pr in products if pr.name != "projection"]
    dsp_p, lut_p = _products_cost(proj, binding, dsp_a_bits)
    dsp_c, lut_c = _products_cost(core, binding, dsp_a_bits)
    dsp, lut = dsp_p + dsp_c, lut_p + lut_c
    rows = by_name["scores"].count // (heads * m * dh)  # the group's rows and the convolution's halo
    acc = {k: getattr(spec, f"acc_{k}_t").width for k in ("proj", "score", "mix")}
    # adders: the projection's per-iteration tree and accumulator add, the score sums, the convolution,
    # the softmax's sum, A V'
    accumulators = 2 * heads * m * dh
    if kernels.partitioned(spec) and iterations > 1:
        tree_outputs = 2 * heads * dh if group_in_partition(spec, p) else accumulators
        terms = p
    elif spec.projection_terms and iterations > 1:
        tree_outputs, terms = accumulators, p
    else:
        tree_outputs, terms = (accumulators, max(1, spec.projection_terms)) if spec.projection_terms else (0, 0)
    add_proj = tree_outputs * max(0, terms - 1) + (accumulators if spec.projection_terms and iterations > 1 else 0)
    lut += add_proj * hls_add_lut(acc["proj"])
    if spec.projection_terms and iterations > 1:  # restart at g == 0, write at the last: a select each
        lut += accumulators * hls_select_lut(acc["proj"])
        if kernels.partitioned(spec):  # routing the group's tree (or each product) to its partition
            lut += accumulators * (hls_select_lut(acc["proj"]) + hls_icmp_lut(8))
    lut += rows * heads * m * (dh - 1) * hls_add_lut(acc["score"])
    conv_terms = 0
    if conv:
        conv_terms = by_name["conv"].count // (p * heads * m) + 1  # taps in range + the bias
        lut += p * heads * m * (conv_terms - 1) * hls_add_lut(spec.acc_conv_t.width)
    row_heads = p * heads
    s_bits, sum_bits = spec.score_t.width, spec.sum_t.width
    lut += row_heads * ((m - 1) * (hls_icmp_lut(s_bits) + hls_select_lut(s_bits))  # max
                        + m * (hls_add_lut(spec.diff_t.width) + hls_icmp_lut(spec.diff_t.width)
                               + hls_select_lut(spec.table_size.bit_length()))  # subtract, clamp
                        + (m - 1) * hls_add_lut(sum_bits)  # sum
                        + hls_add_lut(sum_bits) + hls_icmp_lut(sum_bits + 8) + hls_select_lut(10))  # index
    lut += p * heads * dh * (m - 1) * hls_add_lut(acc["mix"])
    # casts: K', V' (at the last iteration), raw scores, convolved scores, softmax weights, the output
    casts = [(spec.qkv_t, acc["proj"], accumulators if spec.projection_terms else 0),
             (spec.score_t, acc["score"], rows * heads * m),
             (spec.score_t, spec.acc_conv_t.width if conv else 0, p * heads * m if conv else 0),
             (spec.softmax_t, EXP_T.width + INV_T.width, p * heads * m),
             (spec.out_t, acc["mix"], p * spec.d)]
    lut += sum(count * cast_lut(to_hls(ty), bits) for ty, bits, count in casts if count)
    # tables: every row-head reads m exp entries and one reciprocal per iteration
    exp_entries = exp_table_entries(spec.score_t, spec.table_size)
    exp_rom = kernels.rom(exp_entries, EXP_T.width, row_heads * m, t.rom_parity_bits)
    inv_rom = kernels.rom(spec.table_size, INV_T.width, row_heads if m > 1 else 0, t.rom_parity_bits)
    lut += exp_rom["LUT"] + inv_rom["LUT"]
    bram = exp_rom["BRAM_18K"] + inv_rom["BRAM_18K"]
    # depths: the projection (a weight ROM read when it loops, the product, its tree, the accumulator add)
    # and the core's chain (module docstring of kernels.py)
    rom_cycles = t.rom_read_cycles
    proj_ns = (_product_ns(proj, binding) + (_levels(terms) + 1) * T_ADD_NS + T_LUT_NS) if proj else T_LUT_NS
    depth_proj = _stage_cycles(proj_ns, 0, clock_ns) + (rom_cycles if proj and iterations > 1 else 0)
    mult_ns = _product_ns(core, binding)
    core_ns = (mult_ns + _levels(dh) * T_ADD_NS + kernels.T_CAST_NS  # raw score
               + ((T_MULT_LUT_NS + _levels(conv_terms) * T_ADD_NS + kernels.T_CAST_NS) if conv else 0.0)  # convolution
               + _levels(m) * (T_ADD_NS + T_LUT_NS) + T_ADD_NS + T_LUT_NS  # max, subtract, clamp
               + _levels(m) * T_ADD_NS + T_ADD_NS + T_MULT_LUT_NS + T_LUT_NS  # sum, index multiply-shift, clamp
               + mult_ns + kernels.T_CAST_NS  # e x 1/sum, cast
               + mult_ns + _levels(m) * T_ADD_NS + kernels.T_CAST_NS)  # A V', cast
    depth_core = _stage_cycles(core_ns, 0, clock_ns) + 2 * rom_cycles  # the exp read, then the reciprocal read
    lat_p, int_p = _loop(iterations, 1, depth_proj)
    lat_c, int_c = _loop(iterations, 1, depth_core)
    latency = lat_p + t.dataflow_handshake + lat_c
    interval = max(int_p, int_c)
    # registers: every stage of the core holds the iteration's live values; the projection its
    # accumulators; the region's ping-pong buffers (Q pass-through, K', V')
    live = p * spec.d * spec.x_t.width + row_heads * m * (s_bits + EXP_T.width) + p * spec.d * spec.out_t.width
    ff = live * max(1, depth_core - 1) + 2 * p * heads * dh * acc["proj"] * max(1, depth_proj - 1)
    if spec.projection_terms:
        ff += accumulators * acc["proj"]
    if iterations > 1:
        ff += 2 * (n * spec.d * spec.x_t.width + 2 * heads * m * dh * spec.qkv_t.width)
    return {"DSP": int(dsp), "LUT": int(lut), "FF": int(ff), "BRAM_18K": int(bram), "latency": latency,
            "interval": interval, "multiplications": spec.multiplications() - spec.macs()["qkv"],
            "copies": p, "iterations": iterations, "products": proj + core,
            "processes": [{"name": "projection", "latency": lat_p, "interval": int_p, "depth": depth_proj},
                          {"name": "core", "latency": lat_c, "interval": int_c, "depth": depth_core}]}


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
    usable = clock_ns * (1 - _UNC.get())
    arrival: dict[str, tuple[float, int]] = {}  # value -> (ns, table reads) of its longest path

    def cost(a):
        return a[0] + a[1] * usable

    for m in loop.members:
        est = estimates[m.name]
        start = max((arrival.get(name, (0.0, 0)) for name in m.inputs), key=cost)
        arrival[m.outputs[0]] = (start[0] + est.get("delay_ns", 0.0), start[1] + est.get("table_reads", 0))
    ns, reads = max(arrival.values(), key=cost)
    return loop.iterations - 1 + _stage_cycles(ns, 0, clock_ns) + reads


# A divider core where the C++ divides by a non-power-of-two (the GIMPLE census finds them): public Vitis module
# tables list udiv_32ns_32ns_32_36_1 / urem_32ns_3ns_2_36_1 at LATENCY 35; ~1.9k LUT and ~2k FF each (the
# schedule review's 40-80k LUT and 60-300k FF for 32 such cores, lower ends); on the critical path, serially.
DIVIDER_CORE = {"LUT": 1900, "FF": 2000, "latency": 35}


def estimate_model(hls_model, part: str | None = None, totals: dict | None = None, tool: str | None = None,
                   rules: ToolRules | None = None, dividers: int = 0) -> dict:
    """The hardware section (docs/design.md keys, ``source: 'estimate'``) plus a per-layer table.

    ``part`` defaults to the project's; its DSP port width comes from the parts table, and
    ``totals`` (a budget's, for a part not in the table) replace the table's for the utilization.
    ``tool`` ('vivado_hls' | 'vitis_hls', default: the project's backend) picks the ToolRules;
    ``rules`` replaces them (tests, leave-one-out calibration).  ``dividers``: divider instances the GIMPLE
    census found in the C++ (l1tag/hls/census.py), each priced as a ``DIVIDER_CORE`` on the critical path."""
    rules = rules or TOOL_RULES[tool or tool_of(hls_model)]
    token = _RULES.set(rules)
    try:
        cfg = hls_model.config
        clock_ns = float(cfg.get_config_value("ClockPeriod") or 5.0)
        token_unc = _UNC.set(_uncertainty(cfg, clock_ns))
        try:
            out = _estimate_model(hls_model, part, totals)
        finally:
            _UNC.reset(token_unc)
    finally:
        _RULES.reset(token)
    if dividers:
        from l1tag.hardware.parts import utilization

        out["resources"] = {k: v + dividers * DIVIDER_CORE.get(k, 0) for k, v in out["resources"].items()}
        out["utilization"] = utilization(out["resources"], out["part"], totals)
        out["latency_cycles"] += DIVIDER_CORE["latency"]
        out["latency_ns"] = float(out["latency_cycles"] * out["clock_ns"])
        out["dividers"] = dividers
    out["tool"] = rules.tool
    out["error_band"] = dict(error_band())  # measured against real syntheses, leave-one-out
    return out


def model_products(hls_model, tool: str | None = None) -> dict[tuple[int, int], int]:
    """The products of l1tag's kernels per loop iteration by (narrower, wider) operand width, as the
    estimate prices them: the form of the GIMPLE census (l1tag/hls/census.py), which a test holds equal."""
    rules = TOOL_RULES[tool or tool_of(hls_model)]
    token = _RULES.set(rules)
    try:
        cfg = hls_model.config
        clock_ns = float(cfg.get_config_value("ClockPeriod") or 5.0)
        unroll = pipeline_style(hls_model) == "pipeline"
        products = []
        for node in hls_model.get_layers():
            if node.class_name in ("L1tagAttention", "L1tagDynamicTanh"):
                products += estimate_layer(node, clock_ns, False, unroll=unroll).get("products", [])
    finally:
        _RULES.reset(token)
    return kernels.census_by_width(products)


def _estimate_model(hls_model, part: str | None, totals: dict | None) -> dict:
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
    # a channel that bypasses processes holds one buffer per jet in flight (l1tag/hls/dataflow.py)
    buffers = {b.variable: b.depth for b in dataflow.bypasses(dataflow.processes(hls_model))} \
        if style == "dataflow" and not io_stream else {}
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
        if io_stream and internal and out is not None and \
                "Reshape" not in type(node).__name__ and "Flatten" not in type(node).__name__:
            bits, _, _ = _precision(out)  # hls4ml: FIFO depth = pixels (1 for a vector)
            shape = list(out.shape)
            fifo = stream_fifo_tool(int(np.prod(shape[:-1])) if len(shape) > 1 else 1, int(shape[-1]), bits)
            est = {**est, **{k: est[k] + fifo[k] for k in ("BRAM_18K", "LUT", "FF")}}
        elif io_stream and internal and out is not None and len(out.shape) > 1:  # hls4ml: FIFO depth = pixels
            bits, _, _ = _precision(out)
            fifo = stream_fifo(int(np.prod(out.shape[:-1])), int(out.shape[-1]) * bits)
            est = {**est, **{k: est[k] + fifo[k] for k in ("BRAM_18K", "LUT", "FF")}}
        elif style == "dataflow" and not io_stream and internal and channel and out is not None and \
                "Inplace" not in type(out).__name__:  # a fully partitioned ping-pong array between two processes
            bits, _, _ = _precision(out)
            depth = buffers.get(node.outputs[0], 2)
            est = {**est, "FF": est["FF"] + depth * int(np.prod(out.shape)) * bits}
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
    if io_stream:
        # FIFO channels: a process starts on its producer's first word, so the pipeline fills once: the slowest
        # process's interval plus every process's own depth (latency - interval) along the longest path
        # (UG1399 DATAFLOW with stream channels; ECE226 395 = 390 + 5, DNNonSilicon 14409 = its first
        # separable conv alone)
        depth_of = {id(e): max(0, e["latency"] - e["interval"]) if e["interval"] > 1 else e["latency"]
                    for e in layers}
        processes = [(i, o, depth_of[id(e)]) for (i, o, _), e in zip(processes, layers)] \
            if len(processes) == len(layers) else processes
        latency = interval + critical_path(processes)
    else:
        # a DATAFLOW top: each process hands over to the next by ap_done -> ap_start (ToolRules)
        hand = _tr().dataflow_handshake if style == "dataflow" else 0
        ports = {n.name for n in nodes if "Input" in type(n).__name__}  # the input layer is a port, no process
        latency = critical_path([(i, o, lat + (0 if set(o) & ports else hand)) for i, o, lat in processes])
    return {
        "source": "estimate", "part": part, "clock_ns": clock_ns, "latency_cycles": int(latency),
        "latency_ns": float(latency * clock_ns), "ii_cycles": int(interval), "resources": resources,
        "utilization": utilization(resources, part, totals), "layers": rows, "particle_loops": loop_rows,
    }
