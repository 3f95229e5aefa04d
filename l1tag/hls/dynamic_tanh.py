"""hls4ml glue of DynamicTanh: the Keras-v2 handler of ``QDynamicTanh``, the IR layer ``L1tagDynamicTanh``
with its typed attributes, its config and function templates, and its header
``firmware_templates/l1tag_dynamic_tanh.h``.  alpha, beta and the tanh table (the reference's,
``l1tag/ops/dynamic_tanh.py``) are compile-time constants of the config struct."""

from __future__ import annotations

import numpy as np
from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
from hls4ml.model.attributes import Attribute, ConfigurableAttribute
from hls4ml.model.layers import Layer

from l1tag.errors import ConversionError
from l1tag.hls.binding import table_storage
from l1tag.hls.common import (apply_defaults, backend_name, bits_literal, from_hls, particles,
                              particles_per_iteration, rom_function, to_hls)
from l1tag.numerics.fixed_point import quantize
from l1tag.numerics.tables import DEFAULT_TABLE_SIZE
from l1tag.ops.base import quantizer_type
from l1tag.ops.dynamic_tanh import DynamicTanhSpec

KERAS_LAYER = "QDynamicTanh"
HEADER = "l1tag_dynamic_tanh.h"


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


class L1tagDynamicTanh(Layer):
    """tanh(alpha x + beta) through a table; alpha, beta in the QKeras parameter type."""

    _expected_attributes = [
        Attribute("types", value_type=dict, description="FixedType of param (alpha, beta) and out"),
        Attribute("alpha_data", value_type=None, description="alpha as trained"),
        Attribute("beta_data", value_type=None, description="beta as trained"),
        ConfigurableAttribute("table_size", default=DEFAULT_TABLE_SIZE, description="tanh table entries"),
        ConfigurableAttribute("parallelization_factor", description="P, particles per clock (l1tag/hls/lower.py "
                                                                    "sets it: hls.parallelization_factor or n)"),
    ]

    def initialize(self):
        apply_defaults(self)
        spec = dynamic_tanh_layer_spec(self)
        particles_per_iteration(self)
        self.add_output_variable(shape=list(self.get_input_variable().shape), precision=to_hls(spec.out_t))
        # alpha, beta and the table are compile-time constants of the config (DynamicTanhConfigTemplate)
        for var in ("alpha", "beta"):
            self.set_attr(var, float(quantize(np.reshape(self.get_attr(f"{var}_data"), (1,)), spec.param_t)[0]))


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


def dynamic_tanh_constants(node, spec: DynamicTanhSpec, backend: str) -> str:
    """alpha and beta as constants built from their bits (bits_literal), the tanh table as a ROM."""
    text = "".join(f"    static param_t {v}() {{ return {bits_literal(spec.param_t, node.get_attr(v))}; }}\n"
                   for v in ("alpha", "beta"))
    return text + rom_function("table", spec.out_t.cpp(), spec.table(), table_storage(spec.table_size,
                                                                                       spec.out_t.width), backend)


class DynamicTanhConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(L1tagDynamicTanh)
        self.template = dynamic_tanh_config_template

    def format(self, node):
        spec = dynamic_tanh_layer_spec(node)
        if spec.arg_t.frac < spec.index_shift:
            raise ConversionError(f"layer '{node.name}': too few fractional bits for a {spec.table_size}-entry table")
        n_in = int(np.prod(node.get_input_variable().shape))
        n_groups = particles(node) // particles_per_iteration(node)
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
        return dynamic_tanh_function_template.format(**self._default_function_params(node))


HANDLER = (KERAS_LAYER, parse_dynamic_tanh, L1tagDynamicTanh)
TEMPLATES = (DynamicTanhConfigTemplate, DynamicTanhFunctionTemplate)
