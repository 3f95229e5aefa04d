"""Rules for hls4ml's weighted layers: Dense, Conv1D/2D, pointwise, depthwise and separable convolutions
(the "Particle loops", "Multiplications", "Reuse factor", "Distributed arithmetic", "Adders", "Depth" and
"FF" parts of the model in ``l1tag/hardware/estimate/__init__.py``)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from l1tag.hardware.estimate.prices import (
    T_MULT_LUT_NS,
    cast_lut,
    costly_cast,
    csd_digits,
    da_adder_depth,
    hls_add_lut,
    hls_icmp_lut,
    hls_select_lut,
    loop_timing,
    multiplier_cost,
    rounding_modes,
    var_precision,
)
from l1tag.hardware.estimate.stock import LayerGeometry, share
from l1tag.hardware.estimate.target import Target
from l1tag.hls.particle_loops import layer_strategy


@dataclasses.dataclass(frozen=True, eq=False)
class Kernel:
    """One weighted kernel as its pricing reads it: the integer weights ``k`` = w 2^F and their CSD
    ``digits``, the operand, product and accumulator widths, and ``sat_lut``, the LUTs per product of an
    AP_RND* / AP_SAT* accumulator (0 for a plain one)."""

    k: np.ndarray
    digits: np.ndarray
    cost: dict  # multiplier_cost of the weights
    w_bits: int
    a_bits: int  # the input data
    out_bits: int
    acc_bits: int
    product_bits: int  # the width HLS gives a product (mul_16s_10s_26)
    levels: int  # adder-tree levels of one output
    per_dsp: int  # DSPs per DSP-bound product (2 when the data is wider than the A port)
    saturating: bool
    sat_lut: float
    dsp_min_bits: int  # the tool's narrowest data on a DSP (ToolRules.dsp_min_data_bits)


def _read_kernel(node, weight_name: str, terms_per_output: int, target: Target) -> Kernel:
    w = node.get_weights(weight_name)
    w_bits, w_int, _ = var_precision(w)
    a_bits, _, _ = var_precision(node.get_input_variable())
    out_bits, _, _ = var_precision(node.get_output_variable())
    cost = multiplier_cost(w.data, w_bits - w_int, a_bits, target.dsp_a_bits, target.rules.dsp_min_data_bits)
    acc_prec = getattr(node.get_attr("accum_t"), "precision", None)
    acc_bits = int(getattr(acc_prec, "width", 0)) or (
        a_bits + w_bits + math.ceil(math.log2(max(terms_per_output, 2))))
    k = np.rint(np.asarray(w.data, dtype=np.float64) * 2.0 ** (w_bits - w_int)).astype(np.int64).ravel()
    sig = np.ceil(np.log2(np.abs(k[k != 0]) + 1)).astype(int) + 1  # the constant's own signed width
    pw = a_bits + (int(np.mean(sig)) if sig.size else w_bits)  # product width HLS gives it (mul_16s_10s_26)
    # an AP_RND* / AP_SAT* accumulator: every product is cast into it (rounding, saturation) and every
    # addition saturates (hls4ml's acc[j] += mult[i] in accum_t)
    sat = acc_prec is not None and costly_cast(acc_prec)
    if not sat:
        sat_lut = 0
    elif target.rules.sat_lut_per_bit is not None:  # measured: LUTs per product per accumulator bit (LOO median)
        sat_lut = target.rules.sat_lut_per_bit * acc_bits
    else:  # HLS's operator prices: the cast, then the overflow test and two selects of the saturating add
        sat_lut = cast_lut(acc_prec, pw) + (hls_icmp_lut(2) + 2 * hls_select_lut(acc_bits)
                                            if rounding_modes(acc_prec)[1].startswith("SAT") else 0)
    return Kernel(k, csd_digits(k), cost, w_bits, a_bits, out_bits, acc_bits, pw,
                  math.ceil(math.log2(max(terms_per_output, 2))), 1 if a_bits <= target.dsp_a_bits else 2, sat,
                  sat_lut, target.rules.dsp_min_data_bits)


@dataclasses.dataclass(frozen=True)
class Datapath:
    """One kernel copy's resources times its copies, the delay of its multiplier, the pipeline depth, and
    its real products per pixel."""

    dsp: int
    lut: float
    ff: int
    bram: int
    mult_ns: float
    depth: int
    multiplications: int


def _resource_datapath(kn: Kernel, outputs: int, copies: int, rf: int, target: Target) -> Datapath:
    """hls4ml dense_resource: block_factor = DIV_ROUNDUP(n_in * n_out, R) multipliers, each fed from the
    weights ARRAY_RESHAPEd into R words of block_factor weights (ROM_nP_BRAM): variable x variable
    products (no constant folding), on DSPs (ML-fpga model_2/3: 24-bit x 8-bit -> 512 / 160 / 80 / 40 DSP =
    block_factor exactly)."""
    k, a_bits, w_bits, pw, acc_bits = kn.k, kn.a_bits, kn.w_bits, kn.product_bits, kn.acc_bits
    distinct = np.unique(np.abs(k[k != 0]))
    rom_const = distinct.size <= 1  # one weight value: HLS folds the ROM into a constant (conv2d_test)
    block = math.ceil(k.size / rf)
    if rom_const:  # a constant operand: a shift (1 CSD digit), a LUT add (2) or a DSP (3+)
        const_digits = int(csd_digits(distinct)[0]) if distinct.size else 0
        on_dsp = const_digits >= 3 and a_bits >= kn.dsp_min_bits
        lut_mult = block * max(0, const_digits - 1) * hls_add_lut(pw) if not on_dsp else 0
    else:
        on_dsp = max(a_bits, w_bits) >= kn.dsp_min_bits
        lut_mult = 0 if on_dsp else block * a_bits * w_bits // 2
    dsp = block * kn.per_dsp * copies if on_dsp else 0
    lut = (block * (hls_add_lut(acc_bits) + kn.sat_lut) + lut_mult) * copies
    rom_width, rom_bits = block * w_bits, block * w_bits * rf
    bram = 0
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
    mult_ns = target.mult_ns
    depth = target.stage_cycles(mult_ns, 1) + (2 if kn.saturating else 0)  # one MAC per cycle, II = 1
    return Datapath(dsp, lut, ff, bram, mult_ns, depth, block)


def _constant_datapath(node, kn: Kernel, outputs: int, copies: int, rf: int, limit_size: int | None,
                       target: Target) -> Datapath:
    """Products by constant weights (the Latency strategy, or R = 1): CSD-priced multipliers, one adder per
    nonzero term, registers as the tool binds them."""
    k, digits, a_bits, pw, acc_bits = kn.k, kn.digits, kn.a_bits, kn.product_bits, kn.acc_bits
    nonzero = int(np.count_nonzero(k))
    csd_dsp = kn.cost["dsp_mults"]
    multipliers = nonzero  # product instances: each nonzero weight's, or the ALLOCATION limit's
    if rf > 1 and (target.io_stream or target.rules.parallel_allocation):
        # ALLOCATION instances=mul limit=multiplier_limit = DIV_ROUNDUP(limit_size, R) - n_zeros / R
        # (hls4ml's config templates) is honoured in a dataflow process (DNNonSilicon R = 16: dense 96 and
        # 15 DSP, depthwise min(limit, CSD) 6 / 224 / 465 with hls4ml's kernel x n_chan x n_filt limit) and, by
        # Vivado HLS, in io_parallel too (ToolRules.parallel_allocation)
        limit = math.ceil((limit_size or k.size) / rf) - (k.size - nonzero) // rf
        dsp = min(limit * kn.per_dsp, csd_dsp) * copies
        if not target.io_stream:  # io_parallel: only the allocated multipliers' products are registered
            multipliers = min(limit, nonzero)
    else:
        dsp = math.ceil(csd_dsp * copies / share(node, rf, target.io_stream))
    # one HLS adder per nonzero term at accumulator width (bias included), one per extra CSD digit of a
    # LUT-built product at product width; ALLOCATION limits mul only, so adders are never shared
    lut_mult_mask = (digits >= 2) & ~((digits >= 3) & (a_bits >= kn.dsp_min_bits))
    lut_products = int(((digits[lut_mult_mask] - 1)).sum()) * hls_add_lut(pw)
    lut = (nonzero * (hls_add_lut(acc_bits) + kn.sat_lut) + lut_products) * copies
    mult_ns = target.mult_ns if kn.cost["dsp_mults"] else T_MULT_LUT_NS
    depth = target.stage_cycles(mult_ns, kn.levels) + (rf - 1)
    if target.rules.registered_products:  # every product registered, once per period that the multiplier
        # and the first adder level span (the DSP's pipeline registers: one on UltraScale+ down to ~3.6 ns,
        # two on a -1 DSP48E1 at 5 ns, where the reports show 90-115 FF per DSP product: tanvirana, bambu on
        # xc7z020-1, against 25 (one 25-bit register) for the same Dense on xc7vx690t-3), then the outputs
        regs = max(1, math.ceil((mult_ns + target.add_ns) / target.usable_ns))
        ff = (multipliers * pw * regs + outputs * acc_bits) * copies
    else:  # latency-0 multipliers: the first register cuts the tree after the DSP's post-adder and the
        # fabric levels that fit in the rest of the period
        cut = 1 + max(0, int((target.usable_ns - mult_ns) / target.add_ns))
        ff = (math.ceil(nonzero / 2 ** min(cut, kn.levels)) * pw + outputs * acc_bits) * copies
    return Datapath(dsp, lut, ff, 0, mult_ns, depth, kn.cost["multiplications"])


def _weighted_timing(strategy: str, resource: bool, depth: int, geometry: LayerGeometry, in_pixels: int | None,
                     is_conv: bool, target: Target) -> tuple[int, int]:
    """(latency, interval): io_stream reads a pixel per R cycles (a conv: per input pixel, at the tool's II);
    io_parallel runs its PartitionLoop."""
    rf, pixels = geometry.reuse_factor, geometry.pixels
    if target.io_stream:
        if is_conv and in_pixels:
            if strategy.startswith("resource"):  # conv_1d_cl's ReadInputWidthSerial: not pipelined, each pixel
                # runs dense_resource to its end: R MAC cycles + a fixed overhead (measured, ToolRules)
                per_pixel = rf + target.rules.resource_pixel_overhead
            else:  # ReadInputWidth, PIPELINE II = R, per input pixel (the tool's II at R = 1)
                per_pixel = rf * target.rules.stream_conv_ii
            return depth + in_pixels * per_pixel, in_pixels * per_pixel
        if resource:
            return depth + pixels * rf, pixels * (rf + depth)
        return depth + pixels * rf, pixels * rf
    # the Resource strategy's PartitionLoop is not pipelined (conv_1d_resource_cl)
    return loop_timing(geometry.partitions, rf, depth, pipelined=not strategy.startswith("resource"))


def weighted_layer(node, weight_name: str, terms_per_output: int, outputs: int, geometry: LayerGeometry,
                   target: Target, in_pixels: int | None = None, limit_size: int | None = None,
                   is_conv: bool = False) -> dict:
    """Dense-like layers: outputs x terms products by constant weights, adder trees, registers; in
    io_parallel pixels / partitions copies of the kernel, one partition per iteration.

    ``in_pixels``: the (padded) input pixels an io_stream conv reads, one per loop iteration;
    ``limit_size``: the product count in hls4ml's multiplier_limit (its config template's n_in x n_out,
    kernel_size x n_chan x n_filt)."""
    rf, pixels, io_stream = geometry.reuse_factor, geometry.pixels, target.io_stream
    strategy = layer_strategy(node)
    kn = _read_kernel(node, weight_name, terms_per_output, target)
    # io_parallel instantiates the kernel once per pixel of a partition; io_stream reuses one over the pixels
    copies = 1 if io_stream else pixels // geometry.partitions
    resource = strategy.startswith("resource") and rf > 1
    if resource:
        path = _resource_datapath(kn, outputs, copies, rf, target)
    else:
        path = _constant_datapath(node, kn, outputs, copies, rf, limit_size, target)
    latency, interval = _weighted_timing(strategy, resource, path.depth, geometry, in_pixels, is_conv, target)
    return {"DSP": int(path.dsp), "LUT": int(path.lut), "FF": int(path.ff), "BRAM_18K": int(path.bram),
            "latency": latency, "interval": interval,
            "multiplications": path.multiplications * (1 if io_stream else pixels), "out_bits": kn.out_bits,
            "copies": copies, "iterations": pixels if io_stream else geometry.partitions,
            "delay_ns": path.mult_ns + kn.levels * target.add_ns, "weighted": True}


def da_layer(node, pixels: int, geometry: LayerGeometry, target: Target) -> dict:
    """Distributed arithmetic: n_pixels copies of da4ml's kernel (its own LUT cost), no DSP, the adder
    depth of the generated adder graph."""
    cost = float(node.get_attr("da_kernel_cost"))
    levels = da_adder_depth(node.get_attr("da_codegen"))
    out = node.get_output_variable()
    out_bits, _, _ = var_precision(out)
    outputs = int(out.shape[-1])
    partitions = geometry.partitions
    copies = 1 if target.io_stream else pixels // partitions
    depth = target.stage_cycles(0.0, levels)
    if target.io_stream:
        latency, interval = depth + pixels, pixels
    else:
        latency, interval = loop_timing(partitions, 1, depth)
    return {"DSP": 0, "LUT": math.ceil(copies * cost), "FF": outputs * copies * out_bits * max(1, depth - 1),
            "BRAM_18K": 0, "latency": latency, "interval": interval, "multiplications": 0,
            "copies": copies, "iterations": pixels if target.io_stream else partitions, "adder_depth": levels,
            "delay_ns": levels * target.add_ns}


def _input_pixels(node) -> int:
    in_var = node.get_input_variable() if getattr(node, "inputs", None) else None
    return int(np.prod(list(in_var.shape)[:-1])) if in_var is not None and len(in_var.shape) > 1 else 1


def _kernel_size(node) -> int:
    return int(node.get_attr("filt_width", 1) or 1) * int(node.get_attr("filt_height", 1) or 1)


def dense(node, geometry: LayerGeometry, target: Target) -> dict:
    """A Dense, or a pointwise Conv (a Dense on every pixel)."""
    w = node.get_weights("weight").data
    n_in, n_out = int(np.prod(w.shape[:-1])), int(w.shape[-1])
    # the layer's own sizes: the Resource strategy stores the weights transposed
    n_in = int(node.get_attr("n_in") or 0) or int(node.get_attr("n_chan") or 0) * _kernel_size(node) or n_in
    n_out = int(node.get_attr("n_out") or 0) or int(node.get_attr("n_filt") or 0) or n_out
    return weighted_layer(node, "weight", n_in, n_out, geometry, target, in_pixels=_input_pixels(node),
                          limit_size=n_in * n_out, is_conv="Conv" in type(node).__name__)


def conv(node, geometry: LayerGeometry, target: Target) -> dict:
    """A Conv1D/2D: kernel x channels terms per output."""
    w = node.get_weights("weight").data
    terms, n_out = int(np.prod(w.shape[:-1])), int(w.shape[-1])
    if node.get_attr("n_chan") and node.get_attr("n_filt"):  # the layer's own sizes (weights may be transposed)
        terms, n_out = _kernel_size(node) * int(node.get_attr("n_chan")), int(node.get_attr("n_filt"))
    return weighted_layer(node, "weight", terms, n_out, geometry, target, in_pixels=_input_pixels(node),
                          limit_size=terms * n_out, is_conv=True)


def _sum_layers(parts: list[dict]) -> dict:
    out = {k: sum(p[k] for p in parts) for k in ("DSP", "LUT", "FF", "BRAM_18K", "latency", "multiplications")}
    out["interval"] = max(p["interval"] for p in parts)
    out["copies"] = max(p.get("copies", 1) for p in parts)
    out["iterations"] = max(p.get("iterations", 1) for p in parts)
    return out


def depthwise_separable(node, geometry: LayerGeometry, target: Target) -> dict:
    """A depthwise or separable conv: its depthwise and pointwise kernels one after the other."""
    cls = type(node).__name__
    in_pixels = _input_pixels(node)
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
            parts.append(weighted_layer(node, name, terms, outs, geometry, target,
                                        in_pixels=in_pixels if depthwise or "Depthwise" in cls else geometry.pixels,
                                        limit_size=limit, is_conv=True))
    return _sum_layers(parts)
