"""hls4ml glue of the ``multiply`` op: the Keras-v2 handler of ``ProductCore``, the IR layer ``L1tagProduct``
with its typed attributes, its config and function templates, and its header
``firmware_templates/l1tag_product.h``.  The result type is the lowering's (l1tag/ops/multiply.py)."""

from __future__ import annotations

import numpy as np
from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
from hls4ml.model.attributes import ChoiceAttribute, ConfigurableAttribute
from hls4ml.model.layers import Layer

from l1tag.hls.binding import VARIABLE_PRODUCTS, product_impl
from l1tag.hls.common import apply_defaults, backend_name, particles, particles_per_iteration

KERAS_LAYER = "ProductCore"
HEADER = "l1tag_product.h"


def parse_product(keras_layer, input_names, input_shapes, data_reader):
    """Keras-v2 handler for ProductCore: inputs [a, b] of one shape."""
    from hls4ml.converters.keras_v2_to_hls import parse_default_keras_layer

    layer = parse_default_keras_layer(keras_layer, input_names)
    return layer, list(input_shapes[0])


class L1tagProduct(Layer):
    """a (.) b, each product bound as ``variable_products`` asks; the result type is the layer's configured
    result precision (the lowering's)."""

    _expected_attributes = [
        ConfigurableAttribute("parallelization_factor", description="P, particles per clock (l1tag/hls/lower.py "
                                                                    "sets it: hls.parallelization_factor or n)"),
        ChoiceAttribute("variable_products", VARIABLE_PRODUCTS, default="lut",
                        description="how each product is built: lut (fabric) or dsp (hls.variable_products)"),
    ]

    def initialize(self):
        apply_defaults(self)
        particles_per_iteration(self)
        self.add_output_variable(shape=list(self.get_input_variable(self.inputs[0]).shape))


product_config_template = """struct config{index} : l1tag::product_config {{
    static const unsigned n_in = {n_in};
    static const unsigned n_groups = {n_groups};
    static const unsigned group_size = {group_size};
    static const int product_impl = {product_impl};
}};\n"""
product_function_template = "l1tag::elementwise_product<{a_t}, {b_t}, {output_t}, {config}>({a}, {b}, {output});"
product_include_list = ["nnet_utils/l1tag_product.h"]


class ProductConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(L1tagProduct)
        self.template = product_config_template

    def format(self, node):
        n_in = int(np.prod(node.get_input_variable(node.inputs[0]).shape))
        n_groups = particles(node) // particles_per_iteration(node)
        return self.template.format(index=node.index, n_in=n_in, n_groups=n_groups, group_size=n_in // n_groups,
                                    product_impl=product_impl(backend_name(node), node.get_attr("variable_products")))


class ProductFunctionTemplate(FunctionCallTemplate):
    def __init__(self):
        super().__init__(L1tagProduct, include_header=product_include_list)

    def format(self, node):
        a, b = (node.get_input_variable(i) for i in node.inputs[:2])
        out = node.get_output_variable()
        return product_function_template.format(a_t=a.type.name, b_t=b.type.name, output_t=out.type.name,
                                                config=f"config{node.index}", a=a.name, b=b.name, output=out.name)


HANDLER = (KERAS_LAYER, parse_product, L1tagProduct)
TEMPLATES = (ProductConfigTemplate, ProductFunctionTemplate)
