"""Prices of l1tag's own IR layers, ``L1tagAttention``, ``L1tagDynamicTanh``, ``L1tagPairBias`` and
``L1tagProduct`` (the "l1tag attention" part of the model in ``l1tag/hardware/estimate/__init__.py``), from
what their C++ computes per loop iteration (``kernels.py``).  ``KERNEL_PRICES`` maps the hls4ml IR class name
to its rule."""

from __future__ import annotations

import math

import numpy as np

from l1tag import kinds
from l1tag.config import particles_per_clock
from l1tag.hardware.estimate import kernels
from l1tag.ops.attention import attention_products, partitioned
from l1tag.ops.base import Product
from l1tag.ops.dynamic_tanh import dynamic_tanh_products
from l1tag.hardware.estimate.prices import (
    T_ADD_NS,
    T_CAST_NS,
    T_LUT_NS,
    T_MULT_DSP_NS,
    T_MULT_LUT_NS,
    cast_lut,
    hls_add_lut,
    hls_icmp_lut,
    hls_select_lut,
    loop_timing,
    multiplier_cost,
)
from l1tag.hardware.estimate.target import Target
from l1tag.numerics.pair_features import LOG_T
from l1tag.numerics.tables import EXP_T, INV_T, LOG2_T, exp_table_entries


def _particles(node, n: int, unroll: bool) -> int:
    """P, particles per iteration of an l1tag layer: its ``parallelization_factor`` (absent: n); a
    PIPELINE top unrolls the particle loop whatever P is."""
    p = particles_per_clock(n, node.get_attr("parallelization_factor"), f"layer '{node.name}': "
                                                                         f"parallelization_factor")
    return n if unroll else p


def _products_cost(products, binding: str, target) -> tuple[int, int]:
    """(DSP, LUT) of one loop iteration's products (``l1tag.ops.base.Product``); a constant product is priced from its
    weights' canonical signed digits (as hls4ml's constant weights)."""
    dsp = lut = 0
    for pr in products:
        if pr.constant:
            c = multiplier_cost(np.asarray(pr.weights, dtype=np.float64), pr.b.frac, pr.a.width, target.dsp_a_bits,
                                target.rules.dsp_min_data_bits)
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
    """Adder-tree levels of a sum of ``terms`` (none for one term)."""
    return math.ceil(math.log2(max(terms, 1))) if terms > 1 else 0


def dynamic_tanh(node, target: Target) -> dict:
    """One rewound loop of n / P iterations, P x d lanes each: alpha x (a constant product, priced by its
    digits), + beta, the index (a shift, a clamp), the table read (a ROM, ceil(lanes / 2) copies)."""
    from l1tag.hls.dynamic_tanh import dynamic_tanh_layer_spec

    spec = dynamic_tanh_layer_spec(node)
    shape = list(node.get_output_variable().shape)
    rf = int(node.get_attr("reuse_factor", 1) or 1)
    size = int(np.prod(shape))
    n = int(shape[0]) if len(shape) > 1 else 1
    p = _particles(node, n, target.unroll)
    iterations = n // p
    elements = size // iterations
    alpha = float(node.get_attr("alpha") if node.get_attr("alpha") is not None else 1.0)
    products = dynamic_tanh_products(spec, elements, alpha)
    dsp, mult_lut = _products_cost(products, "lut", target)
    rules = target.rules
    table = kernels.rom(spec.table_size, spec.out_t.width, elements, rules.rom_parity_bits)
    arg_bits = spec.arg_t.width
    index_lut = hls_add_lut(arg_bits) + 2 * (hls_icmp_lut(arg_bits) + hls_select_lut(spec.table_size.bit_length()))
    lut = mult_lut + elements * index_lut + table["LUT"]
    on_dsp = dsp > 0
    delay = (T_MULT_DSP_NS if on_dsp else T_MULT_LUT_NS) + T_ADD_NS + T_LUT_NS  # alpha x, + beta, clamp
    reads = rules.rom_read_cycles if table["BRAM_18K"] else 0
    depth = target.stage_cycles(delay) + reads
    ii = rf if node.get_attr("parallelization_factor") is None else 1
    latency, interval = loop_timing(iterations, ii, depth)
    return {"DSP": dsp, "LUT": int(lut), "FF": elements * (spec.out_t.width + arg_bits) * max(1, depth - 1),
            "BRAM_18K": table["BRAM_18K"], "latency": latency, "interval": interval,
            "multiplications": size, "copies": p, "iterations": iterations,
            # inside a fused particle loop: its combinational delay and its synchronous table read
            "delay_ns": delay + (0.0 if table["BRAM_18K"] else T_LUT_NS), "table_reads": reads,
            "products": products}


def _constant_projection(node, spec, projection: list) -> list:
    """With one iteration the projection weights are constants of the unrolled loop: the K and V weights as
    one constant product (priced by their digits)."""
    w = np.asarray(node.get_weights("kproj").data, dtype=np.float64).ravel()
    reps = max(1, projection[0].count // (2 * w.size)) if w.size else 1
    return [Product("projection", projection[0].count, spec.x_t, spec.w_t, True,
                            tuple(np.tile(np.concatenate([w, np.asarray(node.get_weights("vproj").data,
                                                                        dtype=np.float64).ravel()]), reps)))]


def _constant_bias(node, spec, product: Product) -> Product:
    """With one iteration the partition weights that reduce the score bias are constants of the unrolled loop:
    each row's wK[h, j, l] for every key particle j c + l < n, priced by their digits."""
    w = np.asarray(node.get_weights("kproj").data, dtype=np.float64).reshape(spec.heads, spec.m * spec.chunk)
    kept = w[:, :spec.n].ravel()
    return Product("bias", product.count, product.b, spec.w_t, True,
                   tuple(np.tile(kept, max(1, product.count // kept.size))))


def _projection_tree(spec, p: int, iterations: int) -> tuple[int, int]:
    """(outputs, terms) of the projection's per-iteration adder tree."""
    from l1tag.hls.attention import group_in_partition

    accumulators = 2 * spec.heads * spec.m * spec.head_dim
    if partitioned(spec) and iterations > 1:
        return (2 * spec.heads * spec.head_dim if group_in_partition(spec, p) else accumulators), p
    if spec.projection_terms and iterations > 1:
        return accumulators, p
    return (accumulators, max(1, spec.projection_terms)) if spec.projection_terms else (0, 0)


def _projection_adders_lut(spec, iterations: int, tree_outputs: int, terms: int, acc_proj: int) -> int:
    """The projection's per-iteration tree, its accumulator add, and (looping) the restart / write selects."""
    accumulators = 2 * spec.heads * spec.m * spec.head_dim
    add_proj = tree_outputs * max(0, terms - 1) + (accumulators if spec.projection_terms and iterations > 1 else 0)
    lut = add_proj * hls_add_lut(acc_proj)
    if spec.projection_terms and iterations > 1:  # restart at g == 0, write at the last: a select each
        lut += accumulators * hls_select_lut(acc_proj)
        if partitioned(spec):  # routing the group's tree (or each product) to its partition
            lut += accumulators * (hls_select_lut(acc_proj) + hls_icmp_lut(8))
    return lut


def attention(node, target: Target) -> dict:
    """The attention's DATAFLOW region of two rewound loops (projection or gather, then the core), each
    n / P iterations with P copies of the per-particle datapath (l1tag/hardware/estimate/kernels.py)."""
    from l1tag.hls.attention import attention_layer_spec, score_bias_type
    from l1tag.hls.common import to_hls

    spec = attention_layer_spec(node)
    n, heads, m, dh = spec.n, spec.heads, spec.m, spec.head_dim
    p = _particles(node, n, target.unroll)
    iterations = n // p
    binding = str(node.get_attr("variable_products") or kernels.DEFAULT_VARIABLE_PRODUCTS)
    rules = target.rules
    conv = spec.conv if kinds.get(spec.kind).score_conv else None
    bias_t = score_bias_type(node)
    products = attention_products(spec, p, node.get_attr("convk_data") if conv else None, bias_t)
    by_name = {pr.name: pr for pr in products}
    proj = [pr for pr in products if pr.name == "projection"]
    if proj and iterations == 1:  # one iteration: the projection weights are constants of the unrolled loop
        proj = _constant_projection(node, spec, proj)
    if "bias" in by_name:  # SAL-T's score bias reduced by wK, in the projection process
        proj.append(_constant_bias(node, spec, by_name["bias"]) if iterations == 1 else by_name["bias"])
    core = [pr for pr in products if pr.name not in ("projection", "bias")]
    dsp_p, lut_p = _products_cost(proj, binding, target)
    dsp_c, lut_c = _products_cost(core, binding, target)
    dsp, lut = dsp_p + dsp_c, lut_p + lut_c
    rows = by_name["scores"].count // (heads * m * dh)  # the group's rows and the convolution's halo
    acc = {k: getattr(spec, f"acc_{k}_t").width for k in ("proj", "score", "mix")}
    # adders: the projection's per-iteration tree and accumulator add, the score sums, the convolution,
    # the softmax's sum, A V'
    accumulators = 2 * heads * m * dh
    tree_outputs, terms = _projection_tree(spec, p, iterations)
    lut += _projection_adders_lut(spec, iterations, tree_outputs, terms, acc["proj"])
    lut += rows * heads * m * (dh - 1) * hls_add_lut(acc["score"])
    if bias_t is not None:  # + U' on every raw score; SAL-T: U' = the sums of each row's n products into m
        acc["score"] = spec.acc_biased_score_t(bias_t).width
        lut += rows * heads * m * hls_add_lut(acc["score"])
        if "bias" in by_name:
            lut += p * heads * (spec.n - m) * hls_add_lut(spec.acc_bias_t(bias_t).width)
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
    exp_rom = kernels.rom(exp_entries, EXP_T.width, row_heads * m, rules.rom_parity_bits)
    inv_rom = kernels.rom(spec.table_size, INV_T.width, row_heads if m > 1 else 0, rules.rom_parity_bits)
    lut += exp_rom["LUT"] + inv_rom["LUT"]
    bram = exp_rom["BRAM_18K"] + inv_rom["BRAM_18K"]
    # depths: the projection (a weight ROM read when it loops, the product, its tree, the accumulator add)
    # and the core's chain (module docstring of kernels.py)
    rom_cycles = rules.rom_read_cycles
    proj_ns = (_product_ns(proj, binding) + (max(_levels(terms), _levels(spec.chunk) if "bias" in by_name else 0)
                                               + 1) * T_ADD_NS + T_LUT_NS) if proj else T_LUT_NS
    depth_proj = target.stage_cycles(proj_ns) + (rom_cycles if proj and iterations > 1 else 0)
    mult_ns = _product_ns(core, binding)
    core_ns = (mult_ns + (_levels(dh) + (bias_t is not None)) * T_ADD_NS + T_CAST_NS  # raw score (+ U')
               + ((T_MULT_LUT_NS + _levels(conv_terms) * T_ADD_NS + T_CAST_NS) if conv else 0.0)  # convolution
               + _levels(m) * (T_ADD_NS + T_LUT_NS) + T_ADD_NS + T_LUT_NS  # max, subtract, clamp
               + _levels(m) * T_ADD_NS + T_ADD_NS + T_MULT_LUT_NS + T_LUT_NS  # sum, index multiply-shift, clamp
               + mult_ns + T_CAST_NS  # e x 1/sum, cast
               + mult_ns + _levels(m) * T_ADD_NS + T_CAST_NS)  # A V', cast
    depth_core = target.stage_cycles(core_ns) + 2 * rom_cycles  # the exp read, then the reciprocal read
    lat_p, int_p = loop_timing(iterations, 1, depth_proj)
    lat_c, int_c = loop_timing(iterations, 1, depth_core)
    latency = lat_p + rules.dataflow_handshake + lat_c
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


def _log2_lut(bits: int, mantissa_bits: int) -> int:
    """One shift-and-add log2 of a ``bits``-wide value without its table: the leading-one search (a select
    per bit), the K-bit barrel shift (a 2:1 select per output bit and shift level) and the exponent's add."""
    return bits * hls_select_lut(1) + mantissa_bits * math.ceil(math.log2(max(bits, 2))) + hls_add_lut(LOG_T.width)


def pair_bias(node, target: Target) -> dict:
    """One pipelined function, every pair once (n (n + 1) / 2): per particle pT + offset and a log2; per pair
    two differences cast to diff_t, two squares (variables), their constant coefficients and sum, two log2
    (dR^2 and the pT sum), a minimum, the features' adds and casts, the constant embedding; the mantissa
    table read by every log (firmware_templates/l1tag_pair_bias.h)."""
    from l1tag.hls.common import to_hls
    from l1tag.hls.pair_bias import _weights, pair_bias_layer_spec
    from l1tag.ops.pair_bias import pair_bias_products

    spec = pair_bias_layer_spec(node)
    n, pairs, k = spec.n, spec.n * (spec.n + 1) // 2, spec.mantissa_bits
    binding = str(node.get_attr("variable_products") or kernels.DEFAULT_VARIABLE_PRODUCTS)
    c = spec.constants()
    products = pair_bias_products(spec, _weights(node, spec), (c["coef_eta"], c["coef_phi"]))
    dsp, lut = _products_cost(products, binding, target)
    lw = LOG_T.width
    per_particle = hls_add_lut(spec.pt_t.width) + _log2_lut(spec.pt_t.width, k) + hls_add_lut(lw)
    per_pair = (2 * (hls_add_lut(spec.x_t.width + 1) + cast_lut(to_hls(spec.diff_t), spec.x_t.width + 1))
                + hls_add_lut(spec.r2_t.width) + _log2_lut(spec.r2_t.width, k)  # dR^2
                + hls_add_lut(spec.ptsum_t.width) + _log2_lut(spec.ptsum_t.width, k) + hls_add_lut(lw)  # pT sum
                + hls_icmp_lut(lw) + hls_select_lut(lw)  # min
                + 4 * hls_add_lut(lw + 1) + 4 * cast_lut(to_hls(spec.feat_t), lw + 2)  # features
                + spec.width1 * 4 * hls_add_lut(spec.acc1_t.width))  # f W1 + b1
    if spec.hidden:
        per_pair += (spec.hidden * (hls_select_lut(spec.acc1_t.width) + cast_lut(to_hls(spec.hidden_t),
                                                                                spec.acc1_t.width))
                     + spec.heads * spec.hidden * hls_add_lut(spec.acc2_t.width)
                     + spec.heads * cast_lut(to_hls(spec.score_t), spec.acc2_t.width))
    else:
        per_pair += spec.heads * cast_lut(to_hls(spec.score_t), spec.acc1_t.width)
    table = kernels.rom(2**k, LOG2_T.width, n + 2 * pairs, target.rules.rom_parity_bits)
    lut += n * per_particle + pairs * per_pair + table["LUT"]
    log_ns = 2 * T_LUT_NS + math.ceil(math.log2(spec.r2_t.width)) * T_LUT_NS + T_LUT_NS + T_ADD_NS
    delay = (T_ADD_NS + T_CAST_NS + _product_ns(products[:1], binding) + T_MULT_LUT_NS + T_ADD_NS  # dR^2
             + log_ns + 2 * T_ADD_NS + T_CAST_NS  # log2, features
             + (T_MULT_LUT_NS + 3 * T_ADD_NS + T_CAST_NS) * (2 if spec.hidden else 1))  # the embedding
    depth = target.stage_cycles(delay) + (target.rules.rom_read_cycles if table["BRAM_18K"] else 0)
    live = pairs * (4 * spec.feat_t.width + spec.width1 * spec.acc1_t.width)
    return {"DSP": int(dsp), "LUT": int(lut), "FF": int(live * max(1, depth - 1)), "BRAM_18K": table["BRAM_18K"],
            "latency": depth, "interval": 1, "multiplications": sum(pr.count for pr in products),
            "copies": pairs, "iterations": 1, "products": products}


def product(node, target: Target) -> dict:
    """One rewound loop of n / P iterations, P x d products of two variables each (bound as
    ``variable_products`` asks), each cast once to the result type (firmware_templates/l1tag_product.h)."""
    from l1tag.hls.common import from_hls
    from l1tag.ops.multiply import multiply_products

    a, b = (node.get_input_variable(i) for i in node.inputs[:2])
    out = node.get_output_variable()
    shape = list(out.shape)
    size = int(np.prod(shape))
    n = int(shape[0]) if len(shape) > 1 else 1
    iterations = n // _particles(node, n, target.unroll)
    elements = size // iterations
    binding = str(node.get_attr("variable_products") or kernels.DEFAULT_VARIABLE_PRODUCTS)
    a_t, b_t = from_hls(a.type.precision), from_hls(b.type.precision)
    products = multiply_products(a_t, b_t, elements)
    dsp, lut = _products_cost(products, binding, target)
    lut += elements * cast_lut(out.type.precision, a_t.width + b_t.width)
    delay = _product_ns(products, binding) + T_CAST_NS
    depth = target.stage_cycles(delay)
    latency, interval = loop_timing(iterations, 1, depth)
    return {"DSP": int(dsp), "LUT": int(lut), "FF": elements * from_hls(out.type.precision).width * max(1, depth - 1),
            "BRAM_18K": 0, "latency": latency, "interval": interval, "multiplications": size,
            "copies": n // iterations, "iterations": iterations, "delay_ns": delay, "table_reads": 0,
            "products": products}


# l1tag's own IR layers by their exact hls4ml class name (node.class_name drops the backend's wrapper)
KERNEL_PRICES = {
    "L1tagAttention": attention,  # every attention kind of the registry
    "L1tagDynamicTanh": dynamic_tanh,
    "L1tagPairBias": pair_bias,
    "L1tagProduct": product,
}
