"""Rules for hls4ml's own unweighted layers: elementwise layers (Add/Merge, pooling), global pooling,
activations, the table softmax, batch normalisation, io_stream zero padding (the "Elementwise" and "Tables"
parts of the model in ``l1tag/hardware/estimate/__init__.py``).  Weighted layers: ``stock_weighted.py``."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from l1tag.numerics.tables import DEFAULT_TABLE_SIZE
from l1tag.hardware.estimate.prices import (
    T_LUT_NS,
    cast_lut,
    costly_cast,
    hls_add_lut,
    hls_icmp_lut,
    hls_select_lut,
    var_precision,
)
from l1tag.hardware.estimate.target import Target
from l1tag.hls.binding import TABLE_LUTRAM_MAX_BITS
from l1tag.hls.particle_loops import layer_strategy

# reshapes, flatten, transposes, the input port: wiring
NO_HARDWARE = {"DSP": 0, "LUT": 0, "FF": 0, "BRAM_18K": 0, "latency": 0, "interval": 1, "multiplications": 0}


@dataclasses.dataclass(frozen=True)
class LayerGeometry:
    """What every stock rule reads of a layer's size: its output ``shape``, output ``pixels`` (all axes but
    the channels), ``partitions`` (hls4ml's PartitionLoop trips: 1 in io_stream or under a PIPELINE top) and
    its ``reuse_factor``."""

    shape: list
    pixels: int
    partitions: int
    reuse_factor: int

    @classmethod
    def of(cls, node, target: Target) -> LayerGeometry:
        out = node.get_output_variable()
        shape = list(out.shape) if out is not None else []
        pixels = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        partitions = 1 if target.io_stream or target.unroll else int(node.get_attr("n_partitions", 1) or 1)
        return cls(shape, pixels, partitions, int(node.get_attr("reuse_factor", 1) or 1))


def share(node, rf: int, io_stream: bool) -> int:
    """How many ways a multiplier is really shared: R under the Resource strategies; under Latency R
    in io_stream only (each layer its own dataflow process, whose ALLOCATION Vivado HLS honoured in
    the shared reports), 1 in io_parallel (the assumption of hls4ml issue #566, kept for tools without
    io_parallel evidence; a Latency Dense under a tool with ToolRules.parallel_allocation takes hls4ml's
    multiplier_limit instead, stock_weighted._constant_datapath)."""
    return rf if io_stream or layer_strategy(node).startswith("resource") else 1


def elementwise(node, per_element_lut: float, depth: int, io_stream: bool, delay_ns: float = 0.0) -> dict:
    """A fully unrolled elementwise layer: ``per_element_lut`` LUTs per output bit, ``depth`` register stages
    (io_stream: one pixel's channels, a pixel per cycle)."""
    shape = node.get_output_variable().shape
    size = int(np.prod(shape))
    bits, _, _ = var_precision(node.get_output_variable())
    pixels = int(np.prod(shape[:-1])) if io_stream and len(shape) > 1 else 1
    return {"DSP": 0, "LUT": int(size / pixels * bits * per_element_lut) if io_stream else int(size * bits *
                                                                                                  per_element_lut),
            "FF": (size // pixels if io_stream else size) * bits if depth else 0,
            "BRAM_18K": 0, "latency": depth + (pixels if io_stream else 0),
            "interval": pixels if io_stream else 1, "multiplications": 0, "delay_ns": delay_ns}


def global_pooling(node, target: Target) -> dict:
    """A global max (or average) pooling of n positions x f features, io_parallel: a balanced tree of n - 1
    compare-and-selects (adds) per feature, log2 n levels deep.  Measured by the open synthesis
    (l1tag/rtl: Yosys counts 7,936 LUT for the default 32 x 16 max pooling, where the per-output-element
    rule this replaces gave 128)."""
    in_shape = node.get_input_variable().shape
    n, f = int(np.prod(in_shape[:-1])), int(in_shape[-1])
    bits, _, _ = var_precision(node.get_input_variable())
    average = "average" in str(node.get_attr("pool_op") or "").lower()
    per = hls_add_lut(bits) if average else hls_icmp_lut(bits) + hls_select_lut(bits)
    levels = math.ceil(math.log2(max(n, 2)))
    depth = target.stage_cycles(0.0, levels) - 1
    return {"DSP": 0, "LUT": (n - 1) * f * per, "FF": f * bits, "BRAM_18K": 0, "latency": depth, "interval": 1,
            "multiplications": 0, "delay_ns": levels * target.add_ns}


def activation(node, shape: list, target: Target) -> dict:
    """An elementwise activation priced with HLS's operators: ReLU = a compare and a select per element,
    plus the output cast when its type rounds or saturates (QKeras quantized_relu / quantized_bits: the 6nrp
    Vitis ReLU is 28 LUT per 16-bit element = icmp 13 + select 16); io_stream: one pixel's channels."""
    io_stream = target.io_stream
    out = node.get_output_variable()
    size = int(np.prod(shape))
    elements = int(shape[-1]) if io_stream and len(shape) > 1 else size
    pixels = size // elements if io_stream else 1
    in_bits, _, _ = var_precision(node.get_input_variable())
    out_bits, _, _ = var_precision(out)
    act = str(node.get_attr("activation") or "").lower()
    per = 0
    if act in ("relu", "leaky_relu", "relu6", "elu", "selu", "hard_sigmoid", "hard_tanh") or "ReLU" in type(node).__name__:
        per += hls_icmp_lut(in_bits) + hls_select_lut(out_bits)
    prec = getattr(out.type, "precision", None)
    if prec is not None and costly_cast(prec) and in_bits > out_bits:
        per += cast_lut(prec, in_bits)
    merged = not io_stream and target.unroll  # scheduled into its producer's last cycle
    ff = 0 if (merged or io_stream) else size * out_bits
    return {"DSP": 0, "LUT": elements * per, "FF": ff, "BRAM_18K": 0,
            "latency": (0 if merged else 1) + (pixels if io_stream else 0), "interval": pixels if io_stream else 1,
            "multiplications": 0, "delay_ns": T_LUT_NS}


def softmax(node, shape: list, rf: int, target: Target) -> dict:
    """hls4ml's table softmax: exp and inverse tables (table_size entries of exp_table_t / inv_table_t), N
    exp reads (ToolRules.softmax_parallel_lookups: one dual-port copy per two reads on Vitis), N products by
    the inverse (DSPs, shared R ways in io_stream), a max / subtract / sum per element."""
    rules = target.rules
    size = int(np.prod(shape))
    n = int(shape[-1]) if shape else size
    entries = int(node.get_attr("table_size") or DEFAULT_TABLE_SIZE)

    def width(attr):
        p = getattr(node.get_attr(attr), "precision", None)
        return int(getattr(p, "width", 18) or 18)

    per_word = 18 if rules.rom_parity_bits else 16

    def copy_bram(bits):
        if entries * bits <= TABLE_LUTRAM_MAX_BITS:
            return 0
        return math.ceil(bits / per_word) * math.ceil(entries / 1024)

    exp_copies = math.ceil(n / 2) if rules.softmax_parallel_lookups else 1
    bram = exp_copies * copy_bram(width("exp_table_t")) + copy_bram(width("inv_table_t"))
    in_bits, _, _ = var_precision(node.get_input_variable())
    lut = n * (2 * hls_add_lut(in_bits) + hls_icmp_lut(in_bits) + hls_select_lut(in_bits) + hls_add_lut(18))
    dsp = math.ceil(n / rf) if target.io_stream else n
    return {"DSP": dsp, "LUT": lut, "FF": n * 18 * 3, "BRAM_18K": bram,
            "latency": 4 if not target.io_stream else 4 + n, "interval": 1, "multiplications": size}


def batch_normalization(node, shape: list, rf: int, io_stream: bool) -> dict:
    """A scale and a shift per element: two register stages of elementwise logic and one product each."""
    r = elementwise(node, 1.0, 2, io_stream)
    size = int(shape[-1]) if io_stream else int(np.prod(shape))
    if io_stream:
        # hls4ml's batchnorm config: multiplier_limit = DIV_ROUNDUP(n_in, R) over the whole tensor, one
        # pixel's channels multiplied per iteration (DNNonSilicon R = 16: 32 channels -> 32 DSP, 3x3x64 -> 36)
        r["DSP"] = min(size, math.ceil(int(np.prod(shape)) / rf))
    else:
        r["DSP"] = math.ceil(size / share(node, rf, io_stream))
    r["multiplications"] = size
    return r


def stream_zero_padding(pixels: int, rules) -> dict:
    """An io_stream zero padding is a process copying its pixels (ECE226: 132 cycles for 130 pixels, 157 LUT)."""
    return {"DSP": 0, "LUT": rules.zeropad_lut, "FF": 16, "BRAM_18K": 0, "latency": pixels + 2, "interval": pixels,
            "multiplications": 0}
