"""hls4ml glue of the pair bias: the Keras-v2 handler of ``PairBiasCore`` (the lowered ``QPairBias``), the IR
layer ``L1tagPairBias``, its config and function templates, and its header
``firmware_templates/l1tag_pair_bias.h``.  The spec (types, normalisation constants) is the layer's
(``l1tag.numerics.pair_features.pair_bias_spec``); the mantissa table, the constants and the embedding's
weights are compile-time constants of the config struct, built from their bits."""

from __future__ import annotations

import numpy as np
from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
from hls4ml.model.attributes import Attribute, ChoiceAttribute
from hls4ml.model.layers import Layer

from l1tag.config import MAX_PAIR_CONSTITUENTS
from l1tag.errors import ConversionError
from l1tag.hls.binding import VARIABLE_PRODUCTS, product_impl, table_storage
from l1tag.hls.common import apply_defaults, backend_name, bits_literal, constant_function, rom_function, to_hls
from l1tag.numerics.fixed_point import FixedType
from l1tag.numerics.pair_features import LOG_T, PairBiasSpec, pair_bias_spec
from l1tag.numerics.tables import LOG2_T, log2_table

KERAS_LAYER = "PairBiasCore"
HEADER = "l1tag_pair_bias.h"
WEIGHTS = ("pw1", "pb1", "pw2", "pb2")


def parse_pair_bias(keras_layer, input_names, input_shapes, data_reader):
    """Keras-v2 handler for ``PairBiasCore``: input the quantized constituents (n, F), output U (heads, n, n)."""
    from hls4ml.converters.keras_v2_to_hls import parse_default_keras_layer

    layer = parse_default_keras_layer(keras_layer, input_names)
    cfg = keras_layer["config"]["pair_config"]
    n, features = int(input_shapes[0][1]), int(input_shapes[0][2])
    layer.update(n=n, n_feat=features, pair_config=cfg)
    for w in keras_layer["config"]["weight_shapes"]:
        layer[f"{w}_data"] = data_reader.get_weights_data(layer["name"], w)
    return layer, [input_shapes[0][0], int(cfg["heads"]), n, n]


def pair_bias_layer_spec(node) -> PairBiasSpec:
    return pair_bias_spec(node.get_attr("pair_config"), node.get_attr("n"), node.get_attr("n_feat"))


class L1tagPairBias(Layer):
    """ParT's pair bias of every particle pair and head."""

    _expected_attributes = [
        Attribute("n", description="particles"),
        Attribute("n_feat", description="input features per particle"),
        Attribute("pair_config", value_type=dict, description="the QPairBias layer's Keras config"),
        ChoiceAttribute("variable_products", VARIABLE_PRODUCTS, default="lut",
                        description="binding of the squares of d eta, d phi (BIND_OP)"),
    ]

    def initialize(self):
        apply_defaults(self)
        spec = pair_bias_layer_spec(self)
        if spec.n > MAX_PAIR_CONSTITUENTS:  # the config refuses it at load; a hand-made model is refused here
            raise ConversionError(f"layer '{self.name}': {spec.n} particles are more than the pair bias's "
                                  f"{MAX_PAIR_CONSTITUENTS}")
        self.add_output_variable(shape=[spec.heads, spec.n, spec.n], precision=to_hls(spec.score_t))


pair_bias_config_template = """struct config{index} : l1tag::pair_bias_config {{
    static const unsigned n = {n};
    static const unsigned n_feat = {n_feat};
    static const unsigned heads = {heads};
    static const unsigned hidden = {hidden};
    static const unsigned width1 = {width1};
    static const unsigned col_pt = {col_pt}, col_eta = {col_eta}, col_phi = {col_phi};
    static const unsigned mantissa_bits = {mantissa_bits};
    static const int product_impl = {product_impl};
    typedef {x_t} x_t;
    typedef {pt_t} pt_t;
    typedef {ptsum_t} ptsum_t;
    typedef {diff_t} diff_t;
    typedef {coef_t} coef_t;
    typedef {r2_t} r2_t;
    typedef {log_t} log_t;
    typedef {log2m_t} log2m_t;
    typedef {feat_t} feat_t;
    typedef {weight_t} weight_t;
    typedef {bias_t} bias_t;
    typedef {acc1_t} acc1_t;
    typedef {hidden_t} hidden_t;
    typedef {acc2_t} acc2_t;
    typedef {score_t} score_t;
{constants}}};\n"""
pair_bias_function_template = "l1tag::pair_bias<{input_t}, {output_t}, {config}>({input}, {output});"
pair_bias_include_list = ["nnet_utils/l1tag_pair_bias.h"]


def _weights(node, spec: PairBiasSpec) -> dict[str, np.ndarray]:
    """The embedding's weights on their grids (the handler read them as the lowering wrote them)."""
    names = WEIGHTS if spec.hidden else WEIGHTS[:2]
    return {w: np.asarray(node.get_attr(f"{w}_data"), dtype=np.float64) for w in names}


def pair_bias_constants(node, spec: PairBiasSpec, backend: str) -> str:
    c = spec.constants()
    text = f"    static x_t pt_offset() {{ return {bits_literal(spec.x_t, c['pt_offset'])}; }}\n"
    text += f"    static log_t log2_pt_scale() {{ return {bits_literal(LOG_T, c['log2_pt_scale'])}; }}\n"
    text += "".join(f"    static coef_t {k}() {{ return {bits_literal(spec.coef_t, c[k])}; }}\n"
                    for k in ("coef_eta", "coef_phi"))
    size = 2**spec.mantissa_bits
    text += rom_function("log2_table", LOG2_T.cpp(), log2_table(spec.mantissa_bits),
                         table_storage(size, LOG2_T.width), backend)
    w = _weights(node, spec)
    text += constant_function("w1", spec.w_t, w["pw1"])  # (feature f, output k) at f * width1 + k
    text += constant_function("b1", spec.b_t, w["pb1"])
    if spec.hidden:
        text += constant_function("w2", spec.w_t, w["pw2"])  # (unit k, head h) at k * heads + h
        text += constant_function("b2", spec.b_t, w["pb2"])
    return text


class PairBiasConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(L1tagPairBias)
        self.template = pair_bias_config_template

    def format(self, node):
        spec = pair_bias_layer_spec(node)
        hidden_t = spec.hidden_t or FixedType(8, 3, signed=False)  # unused without a hidden layer
        acc2_t = spec.acc2_t if spec.hidden else spec.acc1_t
        col_pt, col_eta, col_phi = spec.columns
        return self.template.format(
            index=node.index, n=spec.n, n_feat=node.get_attr("n_feat"), heads=spec.heads, hidden=spec.hidden,
            width1=spec.width1, col_pt=col_pt, col_eta=col_eta, col_phi=col_phi, mantissa_bits=spec.mantissa_bits,
            x_t=spec.x_t.cpp(), pt_t=spec.pt_t.cpp(), ptsum_t=spec.ptsum_t.cpp(), diff_t=spec.diff_t.cpp(),
            coef_t=spec.coef_t.cpp(), r2_t=spec.r2_t.cpp(), log_t=LOG_T.cpp(), log2m_t=LOG2_T.cpp(),
            feat_t=spec.feat_t.cpp(), weight_t=spec.w_t.cpp(), bias_t=spec.b_t.cpp(), acc1_t=spec.acc1_t.cpp(),
            hidden_t=hidden_t.cpp(), acc2_t=acc2_t.cpp(), score_t=spec.score_t.cpp(),
            product_impl=product_impl(backend_name(node), node.get_attr("variable_products")),
            constants=pair_bias_constants(node, spec, backend_name(node)))


class PairBiasFunctionTemplate(FunctionCallTemplate):
    def __init__(self):
        super().__init__(L1tagPairBias, include_header=pair_bias_include_list)

    def format(self, node):
        return pair_bias_function_template.format(**self._default_function_params(node))


HANDLER = (KERAS_LAYER, parse_pair_bias, L1tagPairBias)
TEMPLATES = (PairBiasConfigTemplate, PairBiasFunctionTemplate)
