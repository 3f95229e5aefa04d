"""Adding an op touches only its own files (docs/design.md, "Adding an op"): shown end to end.

This file *is* a new op, |x| per particle, written as the recipe says and nothing else: its Keras layer
(``AbsoluteValue``), its op rule (``Magnitude``: lowering, reference, trace), its hls4ml glue
(``HANDLER``, ``TEMPLATES``, ``HEADER``: this module is the kernel module), its C++ header
(``HEADER_CPP``) and one registry line (``OPS`` + the rule).  The tagger that uses it converts, compiles
and C-simulates bit for bit against the NumPy reference and the Keras model, its da4ml trace equals the
reference, and the RTL cut puts it in the per-particle chain -- with no edit to l1tag.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import tensorflow as tf
from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
from hls4ml.model.attributes import ConfigurableAttribute
from hls4ml.model.layers import Layer

from l1tag import ops
from l1tag.config import config_from_dict
from l1tag.hls.common import apply_defaults, from_hls, to_hls
from l1tag.numerics.fixed_point import FixedType, quantize
from l1tag.ops.base import OpRule

# ---------------------------------------------------------------------------------------- the Keras layer


class AbsoluteValue(tf.keras.layers.Layer):
    """|x|: exact in the unsigned type of the input's width (the firmware's result type)."""

    def call(self, x):
        return tf.abs(x)


def magnitude_type(x_t: FixedType) -> FixedType:
    """|x| exactly: an ap_fixed<W, I> magnitude is at most 2^(I-1), an ap_ufixed<W, I>."""
    return FixedType(x_t.width, x_t.integer, signed=False) if x_t.signed else x_t


# ---------------------------------------------------------------------------------------- the op (l1tag/ops/)


class Magnitude(OpRule):
    name = "magnitude"
    keras_classes = ("AbsoluteValue",)
    per_particle = True

    def lower(self, layer, lowering):
        source = lowering.sources(layer)
        lowering.emit(self.name, layer.name, source, magnitude_type(lowering.types[source[0]]),
                      lambda inputs: AbsoluteValue(name=layer.name)(inputs[0]), result_precision=False,
                      kernel_config={"parallelization_factor": lowering.parallel})

    def reference(self, op, ins):
        return quantize(np.abs(ins[0]), op.result_t)

    def trace(self, op, ins):
        from l1tag.ops.trace import cast

        return cast(ins[0].relu() + (-ins[0]).relu(), op.result_t)


RULE = Magnitude()

# ---------------------------------------------------------------------------------------- its hls4ml glue (l1tag/hls/)

HEADER_CPP = """#ifndef L1TAG_TEST_MAGNITUDE_H_
#define L1TAG_TEST_MAGNITUDE_H_
#include "l1tag_common.h"
namespace l1tag_test {
template <class data_T, class res_T, typename CONFIG_T>
void magnitude(const data_T x[CONFIG_T::n_in], res_T y[CONFIG_T::n_in]) {
MAGNITUDE_GROUPS:
    for (unsigned g = 0; g < CONFIG_T::n_groups; g++) {
        #pragma HLS PIPELINE II=1 rewind
        for (unsigned u = 0; u < CONFIG_T::group_size; u++) {
            #pragma HLS UNROLL
            const unsigned i = g * CONFIG_T::group_size + u;
            y[i] = x[i] < 0 ? res_T(-x[i]) : res_T(x[i]);
        }
    }
}
}
#endif
"""
HEADER = None  # the header file's absolute path, written by the fixture


def parse_magnitude(keras_layer, input_names, input_shapes, data_reader):
    from hls4ml.converters.keras_v2_to_hls import parse_default_keras_layer

    return parse_default_keras_layer(keras_layer, input_names), list(input_shapes[0])


class TestMagnitudeLayer(Layer):
    __test__ = False  # an hls4ml IR layer, not a pytest class
    _expected_attributes = [ConfigurableAttribute("parallelization_factor", description="P, particles per clock")]

    def initialize(self):
        apply_defaults(self)
        x = self.get_input_variable()
        self.add_output_variable(shape=list(x.shape), precision=to_hls(magnitude_type(from_hls(x.type.precision))))


class MagnitudeConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(TestMagnitudeLayer)

    def format(self, node):
        shape = node.get_input_variable().shape
        n_in, groups = int(np.prod(shape)), int(shape[0]) // int(node.get_attr("parallelization_factor"))
        return (f"struct config{node.index} {{\n    static const unsigned n_in = {n_in};\n"
                f"    static const unsigned n_groups = {groups};\n"
                f"    static const unsigned group_size = {n_in // groups};\n}};\n")


class MagnitudeFunctionTemplate(FunctionCallTemplate):
    def __init__(self):
        super().__init__(TestMagnitudeLayer, include_header=["nnet_utils/l1tag_test_magnitude.h"])

    def format(self, node):
        return "l1tag_test::magnitude<{input_t}, {output_t}, {config}>({input}, {output});".format(
            **self._default_function_params(node))


HANDLER = ("AbsoluteValue", parse_magnitude, TestMagnitudeLayer)
TEMPLATES = (MagnitudeConfigTemplate, MagnitudeFunctionTemplate)

# ---------------------------------------------------------------------------------------- the end-to-end check


@pytest.fixture
def registered(tmp_path, monkeypatch):
    """The header written, the kernel registered with hls4ml, and the one registry line; undone after."""
    import hls4ml

    from l1tag.hls import register

    header = tmp_path / "l1tag_test_magnitude.h"
    header.write_text(HEADER_CPP)
    module = sys.modules[__name__]
    monkeypatch.setattr(module, "HEADER", header)
    monkeypatch.setattr(ops, "OPS", ops.OPS + (RULE,))  # the one registry line
    register.register_all()
    register.register_kernel(module)
    yield
    for backend in ("Vivado", "Vitis"):  # later projects in this process must not carry the test header
        hls4ml.backends.get_backend(backend).custom_source.pop(f"nnet_utils/{header.name}", None)
    register._registered.discard(module.__name__)


def _tagger():
    from qkeras import QActivation, QDense

    bits = "quantized_bits(8,0,alpha=1)"
    inp = tf.keras.Input((8, 3), name="particles")
    x = QActivation("quantized_bits(8,3,alpha=1)", name="particles_q")(inp)
    x = QDense(8, kernel_quantizer=bits, bias_quantizer=bits, name="embed")(x)
    x = QActivation("quantized_bits(10,4,alpha=1)", name="embed_q")(x)
    x = AbsoluteValue(name="magnitude")(x)
    x = tf.keras.layers.GlobalMaxPooling1D(name="pool")(x)
    x = QDense(5, kernel_quantizer=bits, bias_quantizer=bits, name="logits")(x)
    model = tf.keras.Model(inp, x)
    rng = np.random.default_rng(4)
    model.set_weights([rng.normal(0, 0.5, w.shape) for w in model.get_weights()])
    return model


def test_a_new_op_converts_compiles_and_is_bit_exact_end_to_end(registered, tmp_path):
    from l1tag.hls.convert import convert_model, run_csim
    from l1tag.ops.trace import input_array
    from l1tag.rtl.blocks import split_blocks
    from l1tag.rtl.trace import comb_solution

    cfg = config_from_dict({"name": "t", "data": {"constituents": 8}, "hls": {"parallelization_factor": 2}})
    model = _tagger()
    converted = convert_model(model, cfg.hls, tmp_path / "hls")
    assert [op.operation for op in converted.lowered.ops] == ["input", "dense", "magnitude", "maxpool", "dense"]
    call = (tmp_path / "hls" / "firmware" / "myproject.cpp").read_text()
    assert "l1tag_test::magnitude<" in call
    x = np.random.default_rng(5).normal(0, 2, (200, 8, 3))
    section = run_csim(converted, x, model)
    assert section["bit_exact_fraction"] == 1.0  # C-simulation == NumPy reference
    assert section["max_abs_diff_vs_quantized"] == 0.0  # == the Keras model
    _, values = ops.run_reference(converted.lowered.ops, section["_inputs"], trace=True)
    assert np.unique(values["magnitude"]).size > 10 and values["magnitude"].min() >= 0
    # its da4ml trace equals its reference
    op = next(o for o in converted.lowered.ops if o.operation == "magnitude")
    arrays = [input_array((8, 8), converted.lowered.expected_types["embed"])]
    solution = comb_solution(arrays, RULE.trace(op, arrays))
    np.testing.assert_array_equal(solution.predict(values["embed"].reshape(200, -1)[:20]),
                                  values["magnitude"].reshape(200, -1)[:20])
    # the RTL cut: a per-particle op joins the chain before the pooling
    blocks = split_blocks(converted.lowered, 8, 2, {k: v.shape[1:] for k, v in values.items()})
    chain = next(b for b in blocks if b.role == "per_particle")
    assert chain.layers == ["embed", "magnitude"] and chain.instances == 2
