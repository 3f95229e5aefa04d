"""l1tag's hls4ml extension: custom layers for every attention kind and DynamicTanh, in one place.

The recipe of hls4ml's ``test/pytest/test_extensions.py``, per op: a Keras-v2 layer handler (Keras
JSON + weights -> layer dict), an IR layer (``initialize`` adds the output and weight variables with
their exact precisions), a config template (the C++ ``struct config{index}``) and a function template
(the call line), and the C++ headers of ``firmware_templates/``.  ``register_all()`` registers all of
them on the Vivado and Vitis backends, once.

Precision comes from the QKeras quantizers in the Keras layer's config (``fixed_point.from_qkeras``);
intermediate accumulators are derived to be exact (``ops/attention.py``), and the softmax and
tanh tables are computed by the reference and written into the firmware as weights, so the C++ and
the NumPy reference agree bit for bit.  A quantizer that cannot be mapped raises ``ConversionError``
naming the layer: there is no silent fallback to a default precision.  What differs between attention
kinds (projection weights, shape, the C++ function) comes from the registry, ``l1tag.kinds``: one IR
layer, one handler and one pair of templates serve them all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from l1tag import kinds
from l1tag.config import DEFAULT_TABLE_SIZE
from l1tag.errors import ConversionError
from l1tag.numerics.fixed_point import FixedType, quantize
from l1tag.ops import parallel_particles
from l1tag.ops.attention import (AttentionSpec, attention_dims, attention_spec, attention_types, kernel_weight_names,
                                 kind_weight_args)
from l1tag.ops.base import quantizer_type
from l1tag.ops.dynamic_tanh import DynamicTanhSpec
from l1tag.hls.binding import product_impl
from l1tag.numerics.tables import EXP_T, INV_T, exact_division, exp_table_entries, inv_index_division

FIRMWARE_TEMPLATES = Path(__file__).resolve().parents[2] / "firmware_templates"
HEADERS = ("l1tag_common.h", "l1tag_attention.h", "l1tag_dynamic_tanh.h")
BACKENDS = ("Vivado", "Vitis")

_registered = False


# ------------------------------------------------------------------------------------------
# type helpers
# ------------------------------------------------------------------------------------------


def to_hls(t: FixedType):
    """FixedType -> hls4ml FixedPrecisionType with the same modes."""
    from hls4ml.model.types import FixedPrecisionType, RoundingMode, SaturationMode

    return FixedPrecisionType(width=t.width, integer=t.integer, signed=t.signed,
                              rounding_mode=RoundingMode.from_string(t.rounding),
                              saturation_mode=SaturationMode.from_string(t.overflow))


def from_hls(p) -> FixedType:
    """hls4ml FixedPrecisionType -> FixedType; anything else (floats, 'auto') is a ConversionError."""
    from hls4ml.model.types import FixedPrecisionType

    if not isinstance(p, FixedPrecisionType):
        raise ConversionError(f"expected a fixed-point type, got {p}: every tensor needs a QKeras quantizer")
    rnd = f"AP_{p.rounding_mode.name}" if p.rounding_mode is not None else "AP_TRN"
    sat = f"AP_{p.saturation_mode.name}" if p.saturation_mode is not None else "AP_WRAP"
    return FixedType(p.width, p.integer, p.signed, rnd, sat)


# ------------------------------------------------------------------------------------------
# Attention
# ------------------------------------------------------------------------------------------


def parse_attention(keras_layer, input_names, input_shapes, data_reader):
    """Keras-v2 handler for ``AttentionCore`` (the lowered attention of every kind): inputs Q, K, V."""
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


def attention_layer_spec(node) -> AttentionSpec:
    """The AttentionSpec of an IR node (also used by the model-level reference)."""
    x_t = from_hls(node.get_input_variable().type.precision)
    return attention_spec(node.get_attr("kind"), node.get_attr("n"), node.get_attr("d"), node.get_attr("heads"),
                          node.get_attr("m"), node.get_attr("conv"), x_t, node.get_attr("types"),
                          node.get_attr("table_size"))


def particles_per_iteration(node, n: int) -> int:
    """P of an l1tag layer over n particles: its ``parallelization_factor`` attribute (``l1tag.ops.parallel_particles``)."""
    return parallel_particles(n, node.get_attr("parallelization_factor"), f"layer '{node.name}': hls.parallelization_factor")


def _ir_classes():
    """IR layer classes, built on first use so that importing l1tag does not import hls4ml."""
    from hls4ml.model.layers import Layer

    class L1tagAttention(Layer):
        """Attention of any registered kind; weights quantized to the QKeras weight type."""

        def initialize(self):
            if self.get_attr("table_size") is None:
                self.set_attr("table_size", DEFAULT_TABLE_SIZE)
            spec = attention_layer_spec(self)
            if spec.table_size & (spec.table_size - 1):
                raise ConversionError(f"layer '{self.name}': hls.table_size {spec.table_size} must be a power of two")
            particles_per_iteration(self, spec.n)
            self.add_output_variable(shape=[spec.n, spec.d], precision=to_hls(spec.out_t))
            # the projections are ROMs read at run time (P < n); the score convolution's taps and the softmax
            # tables are compile-time constants of the layer's config (attention_config_template), kept as
            # attributes (convk_data, convb_data) for the estimator
            for var in ("kproj", "vproj"):
                if self.get_attr(f"{var}_data") is not None:  # already quantized by the handler
                    self._add(var, self.get_attr(f"{var}_data"), spec.w_t)

        def _add(self, var, data, t: FixedType):
            self.add_weights_variable(name=var, var_name=f"{var}{{index}}", precision=to_hls(t),
                                      data=np.asarray(data, dtype=np.float64))

    class L1tagDynamicTanh(Layer):
        """tanh(alpha x + beta) through a table; alpha, beta in the QKeras parameter type."""

        def initialize(self):
            if self.get_attr("table_size") is None:
                self.set_attr("table_size", DEFAULT_TABLE_SIZE)
            spec = dynamic_tanh_layer_spec(self)
            shape = self.get_input_variable().shape
            particles_per_iteration(self, shape[0] if len(shape) > 1 else 1)
            self.add_output_variable(shape=list(shape), precision=to_hls(spec.out_t))
            # alpha, beta and the table are compile-time constants of the config (dynamic_tanh_config_template)
            for var in ("alpha", "beta"):
                self.set_attr(var, float(quantize(np.reshape(self.get_attr(f"{var}_data"), (1,)), spec.param_t)[0]))

    return L1tagAttention, L1tagDynamicTanh


# ------------------------------------------------------------------------------------------
# DynamicTanh
# ------------------------------------------------------------------------------------------


def parse_dynamic_tanh(keras_layer, input_names, input_shapes, data_reader):
    """Keras-v2 handler for QDynamicTanh."""
    from hls4ml.converters.keras_v2_to_hls import parse_default_keras_layer

    layer = parse_default_keras_layer(keras_layer, input_names)
    cfg = keras_layer["config"]
    layer["types"] = {"param": quantizer_type(layer["name"], cfg, "param_quantizer"),
                      "out": quantizer_type(layer["name"], cfg, "output_quantizer")}
    for w in ("alpha", "beta"):
        layer[f"{w}_data"] = data_reader.get_weights_data(layer["name"], w)
    return layer, list(input_shapes[0])


def dynamic_tanh_layer_spec(node) -> DynamicTanhSpec:
    types = node.get_attr("types")
    return DynamicTanhSpec(from_hls(node.get_input_variable().type.precision), types["param"], types["out"],
                           node.get_attr("table_size"))


# ------------------------------------------------------------------------------------------
# Templates
# ------------------------------------------------------------------------------------------

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
# the kind's C++ function and its weights come from the registry; Q, K, V are the outputs of three Dense layers
attention_function_template = "{function}<{input_t}, {output_t}, {config}>({q}, {k}, {v}, {output}{kind_weights});"
attention_include_list = ["nnet_utils/l1tag_attention.h"]

dynamic_tanh_config_template = """struct config{index} : l1tag::dynamic_tanh_config {{
    static const unsigned n_in = {n_in};
    static const unsigned table_size = {table_size};
    static const unsigned index_bits = {index_bits};
    static const int index_shift = {index_shift};
    static const int arg_frac = {arg_frac};
    static const unsigned n_groups = {n_groups};
    static const unsigned group_size = {group_size};
    typedef {param_t} param_t;
    typedef {arg_t} arg_t;
    typedef {table_t} table_t;
{constants}}};\n"""
dynamic_tanh_function_template = "l1tag::dynamic_tanh<{input_t}, {output_t}, {config}>({input}, {output});"
dynamic_tanh_include_list = ["nnet_utils/l1tag_dynamic_tanh.h"]


def cpp_literal(value: float) -> str:
    """A C++ literal of a value that is exact in its fixed-point type (float64 repr round-trips exactly)."""
    v = float(value)
    return repr(v) if v != int(v) else f"{int(v)}.0"


def rom_function(name: str, type_name: str, values, storage: str, backend: str) -> str:
    """A config's table: a static const ROM read at run-time indices, bound as ``binding.table_storage``."""
    from l1tag.hls.binding import storage_pragma

    values = list(np.asarray(values, dtype=np.float64).ravel())
    rows = [", ".join(cpp_literal(v) for v in values[i:i + 8]) for i in range(0, len(values), 8)]
    body = ",\n            ".join(rows)
    return (f"    static {type_name} {name}(unsigned i) {{\n"
            f"        static const {type_name} rom[{len(values)}] = {{\n            {body}}};\n"
            f"        {storage_pragma('rom', storage, backend)}\n"
            f"        return rom[i];\n    }}\n")


def constant_function(name: str, type_name: str, values) -> str:
    """A config's compile-time constants, one literal per index (a switch the unrolled loops fold)."""
    values = list(np.asarray(values, dtype=np.float64).ravel())
    cases = "".join(f"        case {i}: return {type_name}({cpp_literal(v)});\n" for i, v in enumerate(values))
    return (f"    static {type_name} {name}(unsigned i) {{\n        switch (i) {{\n{cases}"
            f"        default: return {type_name}(0);\n        }}\n    }}\n")


def backend_name(node) -> str:
    backend = getattr(node.model.config, "backend", None)
    return str(getattr(backend, "name", None) or node.model.config.get_config_value("Backend") or "Vitis")


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
    table as ROMs, the score convolution's taps and biases as literals."""
    from l1tag.hls.binding import table_storage

    entries = exp_table_entries(spec.score_t, spec.table_size)
    text = rom_function("exp_table", EXP_T.cpp(), spec.exp_table()[:entries], table_storage(entries, EXP_T.width),
                        backend)
    text += rom_function("inv_table", INV_T.cpp(), spec.inv_table(),
                         table_storage(spec.table_size, INV_T.width), backend)
    if kinds.get(spec.kind).score_conv:
        kh, kw = spec.conv
        taps = np.asarray(node.get_attr("convk_data"), dtype=np.float64).reshape(kh, kw, spec.heads)
        text += constant_function("conv_tap", spec.conv_w_t.cpp(), taps.ravel())  # index (a kw + b) H + h
        text += constant_function("conv_bias", spec.conv_b_t.cpp(), node.get_attr("convb_data"))
    return text


def dynamic_tanh_constants(node, spec: DynamicTanhSpec, backend: str) -> str:
    """alpha and beta as literals, the tanh table as a ROM."""
    from l1tag.hls.binding import table_storage

    text = "".join(f"    static param_t {v}() {{ return param_t({cpp_literal(node.get_attr(v))}); }}\n"
                   for v in ("alpha", "beta"))
    return text + rom_function("table", spec.out_t.cpp(), spec.table(), table_storage(spec.table_size,
                                                                                       spec.out_t.width), backend)


def _template_classes(L1tagAttention, L1tagDynamicTanh):
    from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate

    class AttentionConfigTemplate(LayerConfigTemplate):
        def __init__(self):
            super().__init__(L1tagAttention)
            self.template = attention_config_template

        def format(self, node):
            spec = attention_layer_spec(node)
            parallel = particles_per_iteration(node, spec.n)
            kh, kw = spec.conv if spec.conv else (1, 1)
            weight_t = node.get_weights("kproj").type.name if "kproj" in node.weights else spec.w_t.cpp()
            types = {"weight_t": weight_t, "qkv_t": spec.qkv_t.cpp(),
                     "score_t": spec.score_t.cpp(), "softmax_t": spec.softmax_t.cpp(),
                     "acc_score_t": spec.acc_score_t.cpp(),
                     "acc_mix_t": spec.acc_mix_t.cpp(), "diff_t": spec.diff_t.cpp(), "sum_t": spec.sum_t.cpp()}
            types["acc_proj_t"] = spec.acc_proj_t.cpp() if spec.projection_terms else spec.qkv_t.cpp()
            types["exp_t"], types["inv_t"] = EXP_T.cpp(), INV_T.cpp()
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
                **attention_index_constants(spec, parallel), product_impl=product_impl(backend_name(node),
                                                                           node.get_attr("variable_products") or "lut"),
                constants=attention_constants(node, spec, backend_name(node)), **types)

    class AttentionFunctionTemplate(FunctionCallTemplate):
        def __init__(self):
            super().__init__(L1tagAttention, include_header=attention_include_list)

        def format(self, node):
            params = self._default_function_params(node)
            kind = kinds.get(node.get_attr("kind"))
            params["q"], params["k"], params["v"] = (node.get_input_variable(i).name for i in node.inputs)
            params["function"] = kind.cpp_function
            params["kind_weights"] = "".join(f", {node.get_weights(v).name}" for v in kind_weight_args(kind))
            return attention_function_template.format(**params)

    class DynamicTanhConfigTemplate(LayerConfigTemplate):
        def __init__(self):
            super().__init__(L1tagDynamicTanh)
            self.template = dynamic_tanh_config_template

        def format(self, node):
            spec = dynamic_tanh_layer_spec(node)
            if spec.arg_t.frac < spec.index_shift:
                raise ConversionError(f"layer '{node.name}': too few fractional bits for a {spec.table_size}-entry table")
            shape = node.get_input_variable().shape
            n_in = int(np.prod(shape))
            n = int(shape[0]) if len(shape) > 1 else 1
            n_groups = n // particles_per_iteration(node, n)
            return self.template.format(
                index=node.index, n_in=n_in, table_size=spec.table_size,
                index_bits=spec.table_size.bit_length() - 1, index_shift=spec.index_shift,
                arg_frac=spec.arg_t.frac, n_groups=n_groups, group_size=n_in // n_groups,
                param_t=spec.param_t.cpp(), arg_t=spec.arg_t.cpp(), table_t=spec.out_t.cpp(),
                constants=dynamic_tanh_constants(node, spec, backend_name(node)))

    class DynamicTanhFunctionTemplate(FunctionCallTemplate):
        def __init__(self):
            super().__init__(L1tagDynamicTanh, include_header=dynamic_tanh_include_list)

        def format(self, node):
            params = self._default_function_params(node)
            return dynamic_tanh_function_template.format(**params)

    return AttentionConfigTemplate, AttentionFunctionTemplate, DynamicTanhConfigTemplate, DynamicTanhFunctionTemplate


# ------------------------------------------------------------------------------------------
# Registration: the one place where everything is wired into hls4ml
# ------------------------------------------------------------------------------------------


def register_all() -> None:
    """Register handlers, IR layers, templates and headers on the Vivado and Vitis backends (idempotent)."""
    global _registered
    if _registered:
        return
    import hls4ml
    from hls4ml.converters.keras_v2_to_hls import get_supported_keras_layers, register_keras_v2_layer_handler
    from hls4ml.model.layers import register_layer

    attention_cls, tanh_cls = _ir_classes()
    templates = _template_classes(attention_cls, tanh_cls)
    handlers = {"AttentionCore": (parse_attention, attention_cls), "QDynamicTanh": (parse_dynamic_tanh, tanh_cls)}
    for keras_name, (handler, ir_cls) in handlers.items():
        if keras_name not in get_supported_keras_layers():
            register_keras_v2_layer_handler(keras_name, handler)
        register_layer(keras_name, ir_cls)
    for backend_name in BACKENDS:
        backend = hls4ml.backends.get_backend(backend_name)
        for template in templates:
            try:
                backend.register_template(template)
            except Exception as exc:  # hls4ml refuses a second registration of the same template
                if "already registered" not in str(exc):
                    raise
        for header in HEADERS:
            backend.register_source(FIRMWARE_TEMPLATES / header)
    _registered = True
