"""HLS operator prices and delays: what one adder, compare, select, cast, constant product, pipeline stage,
loop and io_stream FIFO costs (the "Multiplications", "Adders", "Depth" and "io_stream FIFOs" parts of the
model in ``l1tag/hardware/estimate/__init__.py``).  Pure functions of widths and counts; what differs per
tool comes in as a ``ToolRules`` argument (``tools.py``)."""

from __future__ import annotations

import math
import re

import numpy as np

DSP_MIN_BITS = 10  # narrower data: Vivado HLS builds constant multipliers from LUTs (ToolRules.dsp_min_data_bits)
DSP_A_BITS = 27  # DSP48E2's A port, for a part not in the table (l1tag/hardware/parts/*.yaml has each device's)
T_MULT_DSP_NS = 2.5  # a registered DSP48 multiply
T_MULT_LUT_NS = 1.6  # a small LUT multiplier / shift-add
T_ADD_NS = 0.65  # one carry-chain adder level (~16-24 bits)
T_LUT_NS = 0.5  # one LUT level and its routing (a ReLU's select, a LUTRAM read)
T_CAST_NS = 1.5  # an AP_RND_CONV / AP_SAT cast on a chained path (the review's ~1.5-2 ns)
CLOCK_UNCERTAINTY = 0.27  # hls4ml's default for Vitis (../shared/reference/l1t.md)

# The device's speed in the stage timing: (multiply ns, adder level ns) by DSP slice and speed grade, where the
# reports show a device slower than the defaults above (T_MULT_DSP_NS, T_ADD_NS: UltraScale+ / DSP48E2, every
# Vitis design and l1tag's VU13P, which keep them).  DSP48E1 at speed grade -1 (Zynq-7000 xc7z020-clg400-1,
# Vivado HLS 2019.2/2020.1): the same 16-input 16-bit Dense (Hls-and-bambu model_single_dense) takes 5 cycles at
# 5 ns on xc7z020-1 and 2 on xc7vx690t-3; the jet tagger's 8 Latency Dense instances (tanvirana baseline and
# pruned, myproject_csynth.rpt instance tables) take 4 cycles at 3-4 adder levels, 5 at 5, 5-6 at 6-7: two adder
# levels per 4.375 ns usable period (T_ADD ~ 2.1 ns) after a multiplier stage of about one period (3.5 ns).  No
# report here measures a -2 (ML-fpga's xc7a200tl-2L runs Resource only) and the one -3 design already sits at
# the formula's floor: those keep the defaults.
SLICE_DELAYS = {("DSP48E1", "1"): (3.5, 2.1)}


def speed_grade(part: str | None) -> str | None:
    """The speed grade digit of a part name ('xc7z020clg400-1' -> '1', 'xc7a200tl-ffg1156-2L' -> '2',
    'xc7vx690t-3ffg1930' -> '3'), or None."""
    m = re.search(r"-(\d)(?:[lie])?(?=$|-|[a-z]{3})", str(part or "").strip().lower())
    return m.group(1) if m else None


def device_delays(dsp_slice: str | None, part: str | None) -> tuple[float, float]:
    """(multiply ns, adder level ns) of a device: SLICE_DELAYS where it has the slice and grade, else the
    defaults (T_MULT_DSP_NS, T_ADD_NS)."""
    return SLICE_DELAYS.get((str(dsp_slice or ""), speed_grade(part)), (T_MULT_DSP_NS, T_ADD_NS))

# A divider core where the C++ divides by a non-power-of-two (the GIMPLE census finds them): public Vitis module
# tables list udiv_32ns_32ns_32_36_1 / urem_32ns_3ns_2_36_1 at LATENCY 35; ~1.9k LUT and ~2k FF each (the
# schedule review's 40-80k LUT and 60-300k FF for 32 such cores, lower ends); on the critical path, serially.
DIVIDER_CORE = {"LUT": 1900, "FF": 2000, "latency": 35}


# HLS's own cost of an operator, as its csynth reports print it in the Expression tables (Vivado HLS 2019.2,
# Hls-and-bambu myproject_axi_csynth.rpt: '+' 16 bits 23 LUT, 32 bits 39, 64 bits 71; 'icmp' 16 bits 13, 32 bits
# 18, 63 bits 29; 'select' w bits w LUT).
def hls_add_lut(bits: int) -> int:
    return int(bits) + 7


def hls_icmp_lut(bits: int) -> int:
    return 7 + math.ceil(int(bits) / 3)


def hls_select_lut(bits: int) -> int:
    return int(bits)


def rounding_modes(precision) -> tuple[str, str]:
    """(quantization, overflow) mode names of an hls4ml precision, upper case ('TRN', 'WRAP' when absent)."""
    q = str(getattr(getattr(precision, "rounding_mode", None), "name", getattr(precision, "rounding_mode", "")) or "")
    o = str(getattr(getattr(precision, "saturation_mode", None), "name", getattr(precision, "saturation_mode", "")) or "")
    return (q.upper() or "TRN"), (o.upper() or "WRAP")


def costly_cast(precision) -> bool:
    """A type whose assignment rounds (AP_RND*) or saturates (AP_SAT*): extra logic on every write."""
    q, o = rounding_modes(precision)
    return q.startswith("RND") or o.startswith("SAT")


def cast_lut(precision, in_bits: int) -> int:
    """LUTs of one assignment into ``precision`` from a wider value: rounding = an incrementer, saturation =
    an overflow compare and two selects (ap_fixed_base.h's quantization / overflow code as HLS prices it)."""
    w = int(getattr(precision, "width", 16))
    q, o = rounding_modes(precision)
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


def var_precision(var) -> tuple[int, int, bool]:
    """(width, integer bits, signed) of an hls4ml variable or weight."""
    p = var.type.precision
    width = int(getattr(p, "width", 16))
    integer = int(getattr(p, "integer", width))
    return width, integer, bool(getattr(p, "signed", True))


def multiplier_cost(weights: np.ndarray, weight_frac: int, data_bits: int, dsp_a_bits: int = DSP_A_BITS,
                    dsp_min_bits: int = DSP_MIN_BITS) -> dict:
    """DSPs, LUTs and count of the constant multiplications by ``weights`` (already quantized): a product of
    three or more CSD digits on data at least ``dsp_min_bits`` wide (the tool's rule) takes a DSP."""
    k = np.rint(np.asarray(weights, dtype=np.float64) * 2.0**weight_frac).astype(np.int64).ravel()
    digits = csd_digits(k)
    real = digits >= 2  # zeros and powers of two need no multiplier
    dsp_mult = (digits >= 3) & (data_bits >= dsp_min_bits)
    lut_mult = real & ~dsp_mult
    per_dsp = 1 if data_bits <= dsp_a_bits else 2  # wider data than the DSP's A port takes two
    return {
        "multiplications": int(real.sum()),
        "dsp_mults": int(dsp_mult.sum()) * per_dsp,
        "lut": int(((digits[lut_mult] - 1) * (data_bits + 2)).sum()),
        "lut_mults": int(lut_mult.sum()),
    }


def stage_cycles(mult_ns: float, adder_levels: float, clock_ns: float, uncertainty: float,
                 add_ns: float = T_ADD_NS) -> int:
    """Cycles of one pipelined datapath: a multiplier stage and ``adder_levels`` adder levels of ``add_ns``
    each (the device's, ``device_delays``) packed into the period less the clock uncertainty (a fraction of
    it), at least one, plus one register stage."""
    usable = clock_ns * (1 - uncertainty)
    return 1 + max(1, math.ceil((mult_ns + adder_levels * add_ns) / usable))


def loop_timing(iterations: int, ii: int, depth: int, pipelined: bool = True, rewind: bool = True) -> tuple[int, int]:
    """(latency, interval) of a loop of ``iterations`` trips of ``depth`` cycles each, the outermost construct
    of its process.  Rewound (``PIPELINE rewind``, UG1399 "Rewinding Pipelined Loops"): the next call's first
    iteration follows this call's last, interval = trips x II; otherwise the pipeline drains before the next
    call: interval = latency + 1."""
    if not pipelined:
        return iterations * depth, iterations * depth
    latency = (iterations - 1) * ii + depth
    return latency, iterations * ii if rewind else latency + 1


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


def stream_fifo_tool(depth: int, channels: int, bits: int, rules) -> dict:
    """An io_stream channel of ``depth`` words of ``channels`` x ``bits`` under the tool's FIFO rules
    (ToolRules.fifo_per_element, fifo_srl_max_bits): a shift register up to the SRL limit (HLS prints its
    LUTs as 0 and a few FFs of control), else ceil(width / 18) BRAM_18K per 1024 words (RAMB18 1K x 18; every
    BRAM FIFO in the reports: 16-bit 1, 24/28-bit 2 (Vivado, per element); 864-bit 48, 1408-bit 79, 20-bit 2
    (Vitis 2023.1, HG-DREAM))."""
    fifos, width = (channels, bits) if rules.fifo_per_element else (1, channels * bits)
    # FFs as the reports print them: Vivado 5 per depth-1 / SRL FIFO and ~30 + 2 log2(depth) per BRAM FIFO
    # (control only); Vitis a depth-1 FIFO holds two words (ECE226 layer5_out: 516 FF at 256 bits), a BRAM FIFO
    # ~150 FF (HG-DREAM, 8 FIFOs: 153-160)
    log_depth = math.ceil(math.log2(max(depth, 2)))
    if depth <= 1:
        return {"BRAM_18K": 0, "LUT": 0, "FF": fifos * 5 if rules.fifo_per_element else 2 * width + 4}
    if depth * width <= rules.fifo_srl_max_bits:
        return {"BRAM_18K": 0, "LUT": 0, "FF": fifos * (log_depth + 3)}
    return {"BRAM_18K": fifos * math.ceil(width / 18) * math.ceil(depth / 1024), "LUT": 0,
            "FF": fifos * (2 * log_depth + (30 if rules.fifo_per_element else 140))}
