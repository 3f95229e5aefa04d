"""The NumPy fixed-point references compute the same maths as the Keras layers.

With wide types and big tables the only differences left are the table approximations, so the
reference must track the float layer closely; with the real (narrow) types it must equal the
QKeras layer wherever no table is involved (the projections, the scores).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from l1tag import kinds
from l1tag.ops.attention import attention_dims
from l1tag.numerics.fixed_point import FixedType, quantize
from l1tag.ops.attention import attention_reference, attention_spec, qkv_reference
from l1tag.ops.dynamic_tanh import DynamicTanhSpec, dynamic_tanh_reference
from l1tag.models.layers import QDynamicTanh, attention_layer

WIDE = FixedType(40, 14, rounding="AP_RND_CONV", overflow="AP_SAT")
WIDE_U = FixedType(40, 4, signed=False, rounding="AP_RND_CONV", overflow="AP_SAT")
RNG = np.random.default_rng(3)


def _weights(layer, kind: kinds.Kind):
    w = {v.name.split("/")[-1].split(":")[0]: v.numpy() for v in layer.weights}
    out = {k: w[k] for k in ("wq", "wk", "wv")}
    out.update({fw: w[k] for k, fw in kind.projection_weights})
    if kind.score_conv:
        out.update(convk=w["convk"], convb=w["convb"])
    return out


class _ModelSection:  # the config's model section, as the registry's layer_arguments reads it
    partitions, conv_kernel, vectors = 3, (3, 3), 2


@pytest.mark.parametrize("kind", kinds.attention_kinds(), ids=lambda k: k.name)
def test_attention_reference_tracks_the_float_layer(kind):
    """Walks the registry: every attention kind's NumPy reference follows its Keras layer."""
    n, d = 10, 8
    layer = attention_layer(kind)(heads=2, **kind.layer_arguments(_ModelSection, None, None))
    x = quantize(RNG.normal(size=(4, n, d)), FixedType(16, 4))
    y_keras = layer(tf.constant(x, tf.float32)).numpy()
    if kind.score_conv:  # make the convolution do something
        layer.score_conv.convk.assign(RNG.normal(0.3, 0.3, size=layer.score_conv.convk.shape))
        y_keras = layer(tf.constant(x, tf.float32)).numpy()
    dims = attention_dims(kind, layer.get_config(), n)
    # a 12-fractional-bit score with a 2^17-entry exp table covers score differences up to 32
    score = FixedType(24, 12, rounding="AP_RND_CONV", overflow="AP_SAT")
    types = {"weight": WIDE, "qkv": WIDE, "score": score, "softmax": WIDE_U, "out": WIDE, "conv_w": WIDE,
             "conv_b": WIDE}
    spec = attention_spec(kind.name, n, d, 2, dims["m"], dims["conv"], FixedType(16, 4), types, table_size=1 << 17)
    w = _weights(layer, kind)
    y_ref = np.stack([attention_reference(*qkv_reference(j, w, spec), w, spec) for j in x])
    np.testing.assert_allclose(y_ref, y_keras, atol=2e-3)


def test_dynamic_tanh_reference_tracks_the_layer():
    layer = QDynamicTanh(param_quantizer="quantized_bits(8,2,alpha=1)", output_quantizer="quantized_bits(8,0,alpha=1)")
    x = quantize(RNG.normal(0, 2, size=(3, 16)), FixedType(10, 4, rounding="AP_RND_CONV", overflow="AP_SAT"))
    layer.build(x.shape)
    layer.alpha.assign(1.25)
    layer.beta.assign(-0.5)
    spec = DynamicTanhSpec(FixedType(10, 4), FixedType(8, 3, rounding="AP_RND_CONV", overflow="AP_SAT"),
                           FixedType(8, 1, rounding="AP_RND_CONV", overflow="AP_SAT"), 1024)
    y_ref = dynamic_tanh_reference(x, 1.25, -0.5, spec)
    y_keras = layer(tf.constant(x, tf.float32)).numpy()
    # the table holds tanh at bin centres (bins of 1/128): at most one output LSB (1/128) from QKeras
    assert np.abs(y_ref - y_keras).max() <= 1 / 128 + 1e-9
    assert np.mean(y_ref == y_keras) > 0.7


def test_softmax_tables_are_exact_where_they_must_be():
    spec = attention_spec("salt", 8, 8, 2, 4, (3, 3), FixedType(16, 4),
                          {k: FixedType(10, 5, rounding="AP_RND_CONV", overflow="AP_SAT") for k in
                           ("weight", "qkv", "score", "out", "conv_w", "conv_b")}
                          | {"softmax": FixedType(8, 0, signed=False, rounding="AP_RND_CONV", overflow="AP_SAT")},
                          table_size=1024)
    exp = spec.exp_table()
    assert exp[0] == 1.0 and np.all(np.diff(exp) <= 0)
    np.testing.assert_allclose(exp[:64], np.exp(-np.arange(64) * spec.score_t.lsb), atol=2**-16)
    inv = spec.inv_table()
    assert inv[0] <= 1.0 and inv[-1] >= 1 / 4 and np.all(np.diff(inv) <= 0)
