"""hls4ml glue of the attention op (every attention kind): the Keras-v2 handler of ``AttentionCore``, the IR
layer ``L1tagAttention`` with its typed attributes, its config and function templates, and its header
``firmware_templates/l1tag_attention.h``.

The recipe of hls4ml's ``test/pytest/test_extensions.py``: a handler (Keras JSON + weights -> layer dict),
an IR layer (``initialize`` adds the output and weight variables with their exact precisions), a config
template (the C++ ``struct config{index}``) and a function template (the call line).  Precision comes from
the QKeras quantizers in the Keras layer's config; intermediate accumulators are exact
(``l1tag/ops/attention.py``), and the softmax tables are the reference's, written into the config as
constants, so C++ and reference agree bit for bit.  What differs between kinds (projection weights, shape,
the C++ function) comes from the registry of kinds: one IR layer and one pair of templates serve them all.
"""

from __future__ import annotations

import numpy as np
from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
from hls4ml.model.attributes import Attribute, ChoiceAttribute, ConfigurableAttribute
from hls4ml.model.layers import Layer

from l1tag import kinds
from l1tag.errors import ConversionError
from l1tag.hls.binding import VARIABLE_PRODUCTS, product_impl, table_storage
from l1tag.hls.common import (apply_defaults, backend_name, constant_function, from_hls, rom_function, to_hls)
from l1tag.numerics.fixed_point import FixedType, quantize
from l1tag.numerics.tables import (DEFAULT_TABLE_SIZE, EXP_T, INV_T, exact_division, exp_table_entries,
                                   inv_index_division)
from l1tag.config import particles_per_clock
from l1tag.ops.attention import (AttentionSpec, attention_dims, attention_spec, attention_types, kernel_weight_names,
                                 kind_weight_args)

KERAS_LAYER = "AttentionCore"  # the lowered attention (l1tag/hls/lower.py) that this handler converts
HEADER = "l1tag_attention.h"


def parse_attention(keras_layer, input_names, input_shapes, data_reader):
    """Keras-v2 handler for ``AttentionCore`` (the lowered attention of every kind): inputs [Q, K, V], or
    [Q, K, V, U] with a score bias."""
    from hls4ml.converters.keras_v2_to_hls import parse_default_keras_layer

    layer = parse_default_keras_layer(keras_layer, input_names)
    name = layer["name"]
    kind = kinds.get(keras_layer["config"]["kind"])
    cfg = keras_layer["config"]["attention_config"]  # the QKeras attention layer's own config
    n, d = int(input_shapes[0][1]), int(input_shapes[0][2])
    layer.update(n=n, d=d, **attention_dims(kind, cfg, n))
    layer["types"] = attention_types(name, cfg)
    raw = {w: data_reader.get_weights_data(name, w) for w in kernel_weight_names(kind, cfg)}
    for var, data in kind.firmware_weights(cfg, raw, layer["types"], quantize).items():
        layer[f"{var}_data"] = data
    return layer, [input_shapes[0][0], n, d]


def score_bias_type(node) -> FixedType | None:
    """The type of the node's score bias U (its fourth input), or None."""
    return from_hls(node.get_input_variable(node.inputs[3]).type.precision) if len(node.inputs) > 3 else None


def attention_layer_spec(node) -> AttentionSpec:
    """The AttentionSpec of an IR node (also read by the estimator)."""
    x_t = from_hls(node.get_input_variable().type.precision)
    return attention_spec(node.get_attr("kind"), node.get_attr("n"), node.get_attr("d"), node.get_attr("heads"),
                          node.get_attr("m"), node.get_attr("conv"), x_t, node.get_attr("types"),
                          node.get_attr("table_size"))


def particles_per_iteration(node) -> int:
    """P of the node: its ``parallelization_factor``, checked (``l1tag.config.particles_per_clock``)."""
    return particles_per_clock(node.get_attr("n"), node.get_attr("parallelization_factor"),
                              f"layer '{node.name}': hls.parallelization_factor")


class L1tagAttention(Layer):
    """Attention of any registered kind; weights quantized to the QKeras weight type."""

    _expected_attributes = [
        Attribute("kind", value_type=str, description="the tagger kind (l1tag.kinds) whose attention this is"),
        Attribute("n", description="particles"),
        Attribute("d", description="features per particle"),
        Attribute("heads"),
        Attribute("m", description="keys per query: partitions, the Linformer length, or n"),
        Attribute("conv", value_type=None, description="(kh, kw) of the score convolution, or None"),
        Attribute("types", value_type=dict, description="FixedType of weight, qkv, score, softmax, out, conv_w, conv_b"),
        ConfigurableAttribute("table_size", default=DEFAULT_TABLE_SIZE, description="softmax table entries"),
        ConfigurableAttribute("parallelization_factor", description="P, particles per clock (l1tag/hls/lower.py "
                                                                    "sets it: hls.parallelization_factor or n)"),
        ChoiceAttribute("variable_products", VARIABLE_PRODUCTS, default="lut",
                        description="binding of the scores' and A V' products (BIND_OP)"),
    ]

    def initialize(self):
        apply_defaults(self)
        spec = attention_layer_spec(self)
        if spec.table_size & (spec.table_size - 1):
            raise ConversionError(f"layer '{self.name}': hls.table_size {spec.table_size} must be a power of two")
        particles_per_iteration(self)
        self.add_output_variable(shape=[spec.n, spec.d], precision=to_hls(spec.out_t))
        # the projections are ROMs read at run time (P < n); the score convolution's taps and the softmax
        # tables are compile-time constants of the layer's config (ConfigTemplate), kept as attributes
        # (convk_data, convb_data) for the estimator
        for var in ("kproj", "vproj"):
            if self.get_attr(f"{var}_data") is not None:  # already quantized by the handler
                self._add(var, self.get_attr(f"{var}_data"), spec.w_t)

    def _add(self, var, data, t: FixedType):
        self.add_weights_variable(name=var, var_name=f"{var}{{index}}", precision=to_hls(t),
                                  data=np.asarray(data, dtype=np.float64))


attention_config_template = """struct config{index} : l1tag::attention_config {{
    static const unsigned n = {n};
    static const unsigned d = {d};
    static const unsigned heads = {heads};
    static const unsigned head_dim = {head_dim};
    static const unsigned m = {m};
    static const unsigned chunk = {chunk};
    static const unsigned conv_kh = {conv_kh};
    static const unsigned conv_kw = {conv_kw};
    static const int score_shift = {shift};
    static const unsigned table_size = {table_size};
    static const unsigned exp_frac = {exp_frac};
    static const unsigned parallel = {parallel};
    static const unsigned n_groups = {n_groups};
    typedef {weight_t} weight_t;
    typedef {conv_weight_t} conv_weight_t;
    typedef {conv_bias_t} conv_bias_t;
    typedef {qkv_t} qkv_t;
    typedef {score_t} score_t;
    typedef {softmax_t} softmax_t;
    typedef {acc_proj_t} acc_proj_t;
    typedef {acc_score_t} acc_score_t;
    typedef {acc_conv_t} acc_conv_t;
    typedef {acc_mix_t} acc_mix_t;
    typedef {acc_bias_t} acc_bias_t;
    typedef {diff_t} diff_t;
    typedef {exp_t} exp_t;
    typedef {sum_t} sum_t;
    typedef {inv_t} inv_t;
    static const unsigned exp_entries = {exp_entries};
    static const unsigned index_bits = {index_bits};
    static const unsigned exp_one = {exp_one}u;
    static const unsigned long long inv_mult = {inv_mult}ULL;
    static const unsigned inv_mult_bits = {inv_mult_bits};
    static const unsigned inv_shift = {inv_shift};
    static const unsigned chunk_mult = {chunk_mult};
    static const unsigned chunk_shift = {chunk_shift};
    static const bool group_in_partition = {group_in_partition};
    static const int product_impl = {product_impl};
{constants}}};\n"""
# the kind's C++ function and its weights come from the registry; its inputs (Q, K, V: three Dense layers' outputs)
attention_function_template = "{function}<{input_t}, {output_t}, {config}>({inputs}, {output}{kind_weights});"
attention_include_list = ["nnet_utils/l1tag_attention.h"]


def group_in_partition(spec: AttentionSpec, parallel: int) -> bool:
    """A partitioned kind whose particle groups never straddle two partitions (c % P == 0): the projection
    sums each group with one tree per head and feature and routes it to the group's partition."""
    return spec.chunk > 0 and spec.chunk % parallel == 0


def attention_index_constants(spec: AttentionSpec, parallel: int) -> dict:
    """The kernel's index arithmetic without dividers: the exp table cut to its nonzero range, the
    reciprocal index's multiply-shift and a particle's partition as a multiply-shift (all exact on their
    whole ranges, l1tag/numerics/tables.py)."""
    m, size = spec.m, spec.table_size
    inv_mult, inv_shift = inv_index_division(m, size) if m > 1 else (0, 0)
    chunk = max(spec.chunk, 1)
    chunk_mult, chunk_shift = exact_division(spec.n - 1, 1, chunk)
    if (spec.n - 1) * chunk_mult >= 2**32:
        raise ConversionError(f"attention: no 32-bit multiply-shift for row / {chunk} over {spec.n} particles")
    return {"exp_entries": exp_table_entries(spec.score_t, size), "index_bits": size.bit_length() - 1,
            "exp_one": 2**EXP_T.frac, "inv_mult": inv_mult, "inv_mult_bits": max(1, int(inv_mult).bit_length()),
            "inv_shift": inv_shift, "chunk_mult": chunk_mult, "chunk_shift": chunk_shift,
            "group_in_partition": "true" if group_in_partition(spec, parallel) else "false"}


def attention_constants(node, spec: AttentionSpec, backend: str) -> str:
    """The config's compile-time constants: the exp table (cut to its kept entries) and the reciprocal
    table as ROMs, the score convolution's taps and biases as constants built from their bits."""
    entries = exp_table_entries(spec.score_t, spec.table_size)
    text = rom_function("exp_table", EXP_T.cpp(), spec.exp_table()[:entries], table_storage(entries, EXP_T.width),
                        backend)
    text += rom_function("inv_table", INV_T.cpp(), spec.inv_table(),
                         table_storage(spec.table_size, INV_T.width), backend)
    if kinds.get(spec.kind).score_conv:
        kh, kw = spec.conv
        taps = np.asarray(node.get_attr("convk_data"), dtype=np.float64).reshape(kh, kw, spec.heads)
        text += constant_function("conv_tap", spec.conv_w_t, taps.ravel())  # index (a kw + b) H + h
        text += constant_function("conv_bias", spec.conv_b_t, node.get_attr("convb_data"))
    return text


class AttentionConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(L1tagAttention)
        self.template = attention_config_template

    def format(self, node):
        spec = attention_layer_spec(node)
        parallel = particles_per_iteration(node)
        kh, kw = spec.conv if spec.conv else (1, 1)
        weight_t = node.get_weights("kproj").type.name if "kproj" in node.weights else spec.w_t.cpp()
        types = {"weight_t": weight_t, "qkv_t": spec.qkv_t.cpp(),
                 "score_t": spec.score_t.cpp(), "softmax_t": spec.softmax_t.cpp(),
                 "acc_score_t": spec.acc_score_t.cpp(),
                 "acc_mix_t": spec.acc_mix_t.cpp(), "diff_t": spec.diff_t.cpp(), "sum_t": spec.sum_t.cpp()}
        types["acc_proj_t"] = spec.acc_proj_t.cpp() if spec.projection_terms else spec.qkv_t.cpp()
        types["exp_t"], types["inv_t"] = EXP_T.cpp(), INV_T.cpp()
        bias_t = score_bias_type(node)  # U' (the reduced score bias): unused by the kernels without one
        types["acc_bias_t"] = (spec.acc_bias_t(bias_t) if bias_t else spec.score_t).cpp()
        if kinds.get(spec.kind).score_conv:
            types.update(conv_weight_t=spec.conv_w_t.cpp(), conv_bias_t=spec.conv_b_t.cpp(),
                         acc_conv_t=spec.acc_conv_t.cpp())
        else:  # unused by kernels without a score convolution
            types.update(conv_weight_t=types["weight_t"], conv_bias_t=types["weight_t"],
                         acc_conv_t=spec.score_t.cpp())
        return self.template.format(
            index=node.index, n=spec.n, d=spec.d, heads=spec.heads, head_dim=spec.head_dim, m=spec.m,
            chunk=max(spec.chunk, 1), conv_kh=kh, conv_kw=kw, shift=spec.shift, table_size=spec.table_size,
            exp_frac=EXP_T.frac, parallel=parallel, n_groups=spec.n // parallel,
            **attention_index_constants(spec, parallel),
            product_impl=product_impl(backend_name(node), node.get_attr("variable_products")),
            constants=attention_constants(node, spec, backend_name(node)), **types)


class AttentionFunctionTemplate(FunctionCallTemplate):
    def __init__(self):
        super().__init__(L1tagAttention, include_header=attention_include_list)

    def format(self, node):
        params = self._default_function_params(node)
        kind = kinds.get(node.get_attr("kind"))
        params["inputs"] = ", ".join(node.get_input_variable(i).name for i in node.inputs)
        params["function"] = kind.cpp_function
        params["kind_weights"] = "".join(f", {node.get_weights(v).name}" for v in kind_weight_args(kind))
        if len(node.inputs) > 3:  # [Q, K, V, U]: the score bias (the pair bias), full attention only
            if kind.pair_bias == kinds.NO_PAIR_BIAS:
                raise ConversionError(f"layer '{node.name}': a score bias on {kind.name} attention has no kernel")
            params["function"] += "_bias"
            params["input_t"] += f", {node.get_input_variable(node.inputs[3]).type.name}"
        return attention_function_template.format(**params)


HANDLER = (KERAS_LAYER, parse_attention, L1tagAttention)
TEMPLATES = (AttentionConfigTemplate, AttentionFunctionTemplate)
