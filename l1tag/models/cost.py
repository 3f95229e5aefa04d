"""Parameter, FLOP and BOP counts of an l1tag model, layer by layer.

Conventions (the ones of the SAL-T paper's tables and of Baskin et al., "UNIQ", for BOPs):

* one multiply-accumulate (MAC) = 2 FLOPs; a bias add, an activation, an exponential = 1 FLOP each;
* BOPs of a layer = MACs x b_a x b_w + (accumulator additions, neglected), with b_a the activation
  bits and b_w the weight bits of the operands (32 each for float layers; for products of two
  activations, as Q K'^T and A V', b_a x b_a').

Per layer, for n particles of width d_in -> d_out, H heads of depth dh = d / H, m = p (SAL-T, Linformer)
or n (full attention), c = ceil(n / p), a (kh x kw) score convolution (the attention MACs are
``l1tag.kinds.AttentionShape.macs``, the one definition the converter and the estimator use too):

=====================  ==========================================================================
Dense (per particle)   MACs = n d_in d_out; FLOPs = 2 MACs + n d_out (bias)
Q, K, V projections    MACs = 3 n d^2
K', V' (SAL-T)         MACs = 2 H p c dh (each padded row weighted once)
K', V' (Linformer)     MACs = 2 H p n dh
scores Q K'^T          MACs = H n m dh
score convolution      MACs = H n m kh kw; FLOPs = 2 MACs + H n m
softmax                FLOPs = 3 H n m (exp, sum, divide)
A V'                   MACs = H n m dh
DynamicTanh            FLOPs = 3 n d (scale, shift, tanh); ReLU or activation quantizer: 1 per element
residual Add           FLOPs = n d; pooling: n d; softmax (classes k): 3 k
=====================  ==========================================================================

Parameters are Keras' own count (``count_params()``, without a heterogeneous layer's bit widths and β; a
Lorentz-tied weight counts its free numbers, and its zeros are no MACs); ``closed_form_parameters`` gives the
formula for the attention taggers, checked against this count in the tests.

**Energy per jet** (the measure of "Economical Jet Taggers — Equivariant, Slim, and Quantized"): every
operation priced with the per-operation energies of M. Horowitz, "Computing's energy problem (and what we
can do about it)", ISSCC 2014 (45 nm, 0.9 V), ``ENERGY_PJ``: a MAC is one multiplication and one addition
at the accumulator width, every other FLOP one addition.  A float layer (32-bit operands) uses the fp32
energies.  A quantized one uses integer energies scaled from Horowitz's 32-bit points: an adder's energy
linear in its width (8 bits: 0.025 pJ against his 0.03), a multiplier's in the product of the operand
widths (8 x 8: 0.19 pJ against his 0.2).  The numbers are a technology-neutral way to compare taggers, not
an FPGA power estimate: memory traffic, clocking and routing are not counted.  The paper prices with the
same author's table scaled to 7 nm (``ENERGY_7NM_PJ``; an fp32 MAC 1.69 pJ against 4.6): ``float_energy_pj``
reprices a float model's counts with it, and bench/energy.py compares l1tag's count of the paper's
Transformer with the paper's own, term by term (docs/search.md).
"""

from __future__ import annotations

import math
import re

import numpy as np
import tensorflow as tf

from l1tag import kinds

FLOAT_BITS = 32
# operations of one pair's four ParT features (l1tag/numerics/pair_features.py): 2 differences, 2 squares, 2 constant
# products, 2 sums, 2 logarithms (each a leading-one search, a shift, a table and an add: counted as one), a
# minimum, the constants' 2 adds and the features' 4 adds
PAIR_FEATURE_OPS = 17
# pJ per operation, Horowitz ISSCC 2014 (45 nm): 32-bit integer add / multiply, fp32 add / multiply
ENERGY_PJ = {"int32_add": 0.1, "int32_mult": 3.1, "fp32_add": 0.9, "fp32_mult": 3.7}
# Horowitz's table scaled to 7 nm, the one "Economical Jet Taggers" prices its taggers with (arXiv:2112.00133,
# table 1, as heidelberg-hepml/tagger-quantization cost_estimate/estimate.py get_energy_cost_7nm_Horowitz has it)
ENERGY_7NM_PJ = {"fp32_add": 0.38, "fp32_mult": 1.31, "fp16_add": 0.16, "fp16_mult": 0.34,
                 "fp8_add": 0.11, "fp8_mult": 0.21}


def int_add_pj(bits: float) -> float:
    """An integer addition of ``bits`` bits: linear in the width from the 32-bit point."""
    return ENERGY_PJ["int32_add"] * bits / 32


def int_mult_pj(a_bits: float, b_bits: float) -> float:
    """An a x b integer multiplication: proportional to the partial products a b, from the 32 x 32 point."""
    return ENERGY_PJ["int32_mult"] * a_bits * b_bits / 32**2


def op_energy_pj(macs: int, other_ops: int, a_bits: int, b_bits: int) -> float:
    """``macs`` multiply-accumulates of a_bits x b_bits operands plus ``other_ops`` single additions, in pJ:
    fp32 when both operands are 32-bit (float), integer otherwise (accumulator a + b bits)."""
    if a_bits >= FLOAT_BITS and b_bits >= FLOAT_BITS:
        return macs * (ENERGY_PJ["fp32_mult"] + ENERGY_PJ["fp32_add"]) + other_ops * ENERGY_PJ["fp32_add"]
    return macs * (int_mult_pj(a_bits, b_bits) + int_add_pj(a_bits + b_bits)) + other_ops * int_add_pj(a_bits)


def float_energy_pj(rows: list[dict], table: dict = ENERGY_PJ) -> float:
    """The fp32 energy of ``layer_costs`` rows priced with another per-operation ``table`` (its fp32_mult,
    fp32_add): each MAC a multiplication and an addition, every other FLOP an addition -- for a float model
    with ``ENERGY_PJ`` the energy ``layer_costs`` gives."""
    mac_pj, add_pj = table["fp32_mult"] + table["fp32_add"], table["fp32_add"]
    return sum(r["macs"] * mac_pj + (r["flops"] - 2 * r["macs"]) * add_pj for r in rows)


def _bits(quantizer: str | None) -> int:
    """Bits of a QKeras quantizer string ('quantized_bits(8,0,alpha=1)' -> 8); float -> 32."""
    if not quantizer:
        return FLOAT_BITS
    if str(quantizer).lstrip().startswith("ternary"):
        return 2  # {-s, 0, s}
    m = re.match(r"\s*quantized_(?:bits|relu)\(\s*(\d+)", str(quantizer))
    return int(m.group(1)) if m else FLOAT_BITS


def _quantizer_of(layer, attr: str) -> str | None:
    q = layer.get_config().get(attr)
    if isinstance(q, dict):  # QKeras serialises quantizer objects as dicts
        if q.get("class_name") == "ternary":
            return "ternary()"
        return f"quantized_bits({q.get('config', {}).get('bits', FLOAT_BITS)})"
    return q


def layer_costs(model: tf.keras.Model) -> list[dict]:
    """One row per layer: name, class, params, MACs, FLOPs, BOPs."""
    rows = []
    act_bits = FLOAT_BITS  # bits of the tensor flowing into the current layer
    for layer in model.layers:
        cls = type(layer).__name__
        out_shape = layer.output_shape
        macs = flops = bops = 0
        energy = None
        if cls in ("QDense", "Dense"):
            in_shape = layer.input_shape
            n = int(math.prod(in_shape[1:-1])) if len(in_shape) > 2 else 1
            d_in, d_out = int(in_shape[-1]), int(out_shape[-1])
            macs = n * _kernel_entries(layer, d_in * d_out)
            flops = 2 * macs + n * d_out
            w_bits = _bits(_quantizer_of(layer, "kernel_quantizer"))
            bops = macs * act_bits * w_bits
            energy = op_energy_pj(macs, n * d_out, act_bits, w_bits)
        elif cls == "HQDense":  # heterogeneous: each weight its own bits; a weight rounded to zero costs nothing
            from l1tag.models.layers.hetero import exact_bits

            in_shape = layer.input_shape
            n = int(math.prod(in_shape[1:-1])) if len(in_shape) > 2 else 1
            bits = exact_bits(layer.firmware_kernel())
            macs = n * bits.size
            flops = 2 * macs + n * int(out_shape[-1])
            bops = n * act_bits * int(bits.sum())
            kept = int((bits > 0).sum())
            energy = op_energy_pj(n * kept, n * int(out_shape[-1]), act_bits, bits.sum() / max(kept, 1))
        elif getattr(layer, "kind", None) in kinds.NAMES:
            macs, flops, bops, energy = _attention_cost(layer, act_bits)
        elif cls == "QPairBias":  # per pair: the features (PAIR_FEATURE_OPS), then the embedding's products
            n, width = layer.n, layer.hidden or layer.heads
            macs = n * n * (4 * width + layer.hidden * layer.heads)
            flops = 2 * macs + n * n * PAIR_FEATURE_OPS
            w_bits = _bits(_quantizer_of(layer, "kernel_quantizer"))
            bops = macs * _bits(_quantizer_of(layer, "feature_quantizer")) * w_bits
            energy = op_energy_pj(macs, n * n * PAIR_FEATURE_OPS, act_bits, w_bits)
        elif cls in ("Multiply", "ProductCore"):  # a product of two variables per element
            size = int(math.prod(out_shape[1:]))
            flops = size
            bops = size * act_bits * act_bits
            energy = op_energy_pj(size, 0, act_bits, act_bits)
        elif cls == "QDynamicTanh" or cls == "Add":
            size = int(math.prod(out_shape[1:]))
            flops = (3 if cls == "QDynamicTanh" else 1) * size
        elif cls in ("GlobalMaxPooling1D", "GlobalAveragePooling1D"):
            flops = int(math.prod(layer.input_shape[1:]))
        elif cls in ("Activation", "QActivation"):  # softmax: exp, sum, divide; ReLU / quantizer: one op
            softmax = layer.get_config().get("activation") == "softmax"
            flops = (3 if softmax else 1) * int(math.prod(out_shape[1:]))
        if energy is None:  # no products: each FLOP one addition at the incoming width
            energy = op_energy_pj(0, flops, act_bits, act_bits)
        if cls == "QActivation":
            act_bits = _bits(layer.get_config().get("activation"))
        elif cls == "QDynamicTanh":
            act_bits = _bits(layer.output_quantizer)
        params = _trainable_numbers(layer) if cls != "HQDense" else layer.kernel.shape.num_elements() + (
            layer.bias.shape.num_elements() if layer.use_bias else 0)  # not its bit widths and β
        rows.append({"layer": layer.name, "class": cls, "params": int(params),
                     "macs": int(macs), "flops": int(flops), "bops": int(bops), "energy_pj": round(energy, 3)})
    return rows


def _tie(weight):
    """The Lorentz tie of a weight (l1tag.models.layers.lorentz.TiedWeights), or None."""
    from l1tag.models.layers.lorentz import TiedWeights

    c = getattr(weight, "constraint", None)
    return c if isinstance(c, TiedWeights) else None


def _kernel_entries(layer, full: int) -> int:
    """Entries of a Dense kernel that carry a weight: all, or a tied kernel's non-zero ones (its zeros are no
    products, in the firmware's adder graph either)."""
    tie = _tie(layer.kernel) if getattr(layer, "kernel", None) is not None else None
    return int((tie.group >= 0).sum()) if tie is not None else full


def _trainable_numbers(layer) -> int:
    """Keras' count, but a tied weight counts its free numbers (its groups)."""
    total = 0
    for w in layer.weights:
        tie = _tie(w)
        total += tie.free_parameters() if tie is not None else int(np.prod(w.shape))
    return total


def _attention_cost(layer, act_bits: int) -> tuple[int, int, int, float]:
    shape = layer.attention_shape()
    mac = shape.macs()
    if getattr(layer, "vectors", None) is not None:  # Lorentz-tied Wq, Wk, Wv: their zeros are no products
        mac["qkv"] = mac["qkv"] * sum(int((_tie(w).group >= 0).sum()) for w in (layer.wq, layer.wk, layer.wv)) \
            // (3 * shape.d * shape.d)
    wb = _bits(layer.quantizer_strings["kernel_quantizer"])
    qb = _bits(layer.quantizer_strings["qkv_quantizer"])
    sb = _bits(layer.quantizer_strings["softmax_quantizer"])
    macs = sum(mac.values())
    softmax = 3 * shape.softmax_elements  # exp, sum, divide
    flops = 2 * macs + softmax + (shape.softmax_elements if mac["conv"] else 0)  # + the conv bias
    operands = {"qkv": (act_bits, wb), "projection": (qb, wb), "scores": (qb, qb), "conv": (qb, wb), "mix": (sb, qb)}
    bops = sum(mac[k] * a * b for k, (a, b) in operands.items())
    other = flops - 2 * macs  # softmax (exp, sum, divide) and the conv bias, at the score width
    energy = sum(op_energy_pj(mac[k], 0, a, b) for k, (a, b) in operands.items()) + op_energy_pj(0, other, qb, qb)
    if isinstance(layer.input, list):  # [x, U]: + U' on every score; SAL-T first reduces U by wK (n x n products)
        scb = _bits(layer.quantizer_strings["score_quantizer"])
        reduce = shape.heads * shape.n * shape.n if shape.chunk else 0
        macs, flops = macs + reduce, flops + 2 * reduce + shape.softmax_elements
        bops += reduce * scb * wb
        energy += op_energy_pj(reduce, shape.softmax_elements, scb, wb)
    if getattr(layer, "hetero_names", None):  # Wq, Wk, Wv: each weight its own bits, a zero costs nothing
        from l1tag.models.layers.hetero import exact_bits

        bits = np.concatenate([exact_bits(layer.firmware_weight(name)).ravel() for name in layer.hetero_names])
        rows = mac["qkv"] // bits.size  # the particles
        kept = int((bits > 0).sum())
        bops += rows * act_bits * int(bits.sum()) - mac["qkv"] * act_bits * wb
        energy += op_energy_pj(rows * kept, 0, act_bits, bits.sum() / max(kept, 1)) - op_energy_pj(mac["qkv"], 0,
                                                                                                     act_bits, wb)
    return macs, flops, bops, energy


def model_cost(model: tf.keras.Model) -> dict:
    """Totals: parameters (Keras' count, tied weights by their free numbers), FLOPs, BOPs and energy per jet (pJ,
    Horowitz 45 nm)."""
    rows = layer_costs(model)
    return {"parameters": sum(r["params"] for r in rows), "flops": sum(r["flops"] for r in rows),
            "bops": sum(r["bops"] for r in rows), "energy_pj": round(sum(r["energy_pj"] for r in rows), 1),
            "layers": rows}


def closed_form_parameters(model_type: str, n: int, f: int, d: int, heads: int, p: int, d_ff: int, blocks: int,
                           conv_kernel: tuple[int, int] | None, head_dims: tuple[int, ...], classes: int,
                           pair_hidden: int | None = None, vectors: int = 0) -> int:
    """Parameters of an attention tagger, written out (no Keras):

    embedding f d + d; per block: Wq, Wk, Wv 3 d^2 (bias-free); SAL-T partition weights 2 H p ceil(n/p)
    and the depthwise score convolution H (kh kw + 1); Linformer projections 2 H p n; two DynamicTanh
    2 x 2 scalars; FFN d d_ff + d_ff + d_ff d + d; then the pooled MLP and the classifier.  With ParT's pair
    bias (``pair_hidden``: its hidden width, 0 for none; None: no pair bias), once per tagger: the embedding
    of the 4 pair features to H biases, 4 H + H, or 4 h + h + h H + H.
    """
    if kinds.get(model_type).momentum:
        return _lorentz_parameters(f, d, heads, vectors, d_ff, blocks, head_dims, classes)
    total = f * d + d
    if pair_hidden is not None:
        total += (4 * pair_hidden + pair_hidden + pair_hidden * heads + heads) if pair_hidden else 4 * heads + heads
    per_block = 3 * d * d + 4 + (d * d_ff + d_ff) + (d_ff * d + d)
    per_block += kinds.get(model_type).extra_parameters(n, heads, p, conv_kernel)
    total += blocks * per_block
    width = d
    for h in head_dims:
        total += width * h + h
        width = h
    return total + width * classes + classes


def _lorentz_parameters(f: int, d: int, heads: int, vectors: int, d_ff: int, blocks: int, head_dims, classes: int):
    """L-GATr-slim's free parameters (l1tag/kinds/lgatr_slim.py), S = d - 4 V stream scalars, f - 4 input
    scalars beside the four-momentum: embedding (f - 4) S + V + S (the energy, its time reference) + S; per
    block Wq, Wk, Wv 3 (S^2 + V^2), the FFN's vectors V^2, scalars S d_ff + d_ff, norms V d_ff + d_ff, gates
    S V + V and down d_ff S + S + V^2; the readout S d + d, then the pooled MLP and the classifier."""
    s, s_in = d - 4 * vectors, f - 4
    total = s_in * s + vectors + 2 * s
    per_block = 3 * (s * s + vectors * vectors) + vectors * vectors + (s * d_ff + d_ff) + (vectors * d_ff + d_ff) \
        + (s * vectors + vectors) + (d_ff * s + s) + vectors * vectors
    total += blocks * per_block + s * d + d
    width = d
    for h in head_dims:
        total += width * h + h
        width = h
    return total + width * classes + classes
