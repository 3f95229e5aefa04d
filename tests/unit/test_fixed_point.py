"""ap_fixed semantics of the NumPy reference, and the QKeras -> ap_fixed mapping the converter relies on."""

from __future__ import annotations

import numpy as np
import pytest

from l1tag.numerics.fixed_point import FixedType, accumulator, from_qkeras, parse_cpp_type, quantize


@pytest.mark.parametrize("t, x, expected", [
    (FixedType(4, 2), [0.3, -0.3, 1.9, 2.0, -2.1], [0.25, -0.5, 1.75, -2.0, 1.75]),  # TRN, WRAP
    (FixedType(4, 2, rounding="AP_RND", overflow="AP_SAT"), [0.125, -0.125, 5.0, -5.0], [0.25, 0.0, 1.75, -2.0]),
    (FixedType(4, 2, rounding="AP_RND_CONV", overflow="AP_SAT"), [0.125, 0.375, -0.125], [0.0, 0.5, 0.0]),
    (FixedType(4, 2, rounding="AP_RND_ZERO", overflow="AP_SAT"), [0.125, -0.125, 0.375], [0.0, 0.0, 0.25]),
    (FixedType(4, 2, rounding="AP_RND_INF", overflow="AP_SAT"), [0.125, -0.125], [0.25, -0.25]),
    (FixedType(4, 2, rounding="AP_TRN_ZERO", overflow="AP_SAT"), [-0.3, 0.3], [-0.25, 0.25]),
    (FixedType(4, 1, signed=False, rounding="AP_RND", overflow="AP_SAT"), [-1.0, 0.07, 3.0], [0.0, 0.125, 1.875]),
    (FixedType(4, 2, overflow="AP_SAT_SYM"), [-5.0], [-1.75]),
])
def test_quantize_hand_computed(t, x, expected):
    np.testing.assert_array_equal(quantize(x, t), expected)


def test_cpp_round_trip():
    for text in ("ap_fixed<10,5,AP_RND_CONV,AP_SAT>", "ap_ufixed<8,0,AP_RND_CONV,AP_SAT>", "ap_fixed<16,6>"):
        assert parse_cpp_type(text).cpp() == text
    with pytest.raises(ValueError):
        parse_cpp_type("float")


@pytest.mark.parametrize("q", ["quantized_bits(4,1,alpha=1)", "quantized_bits(8,3,alpha=1)",
                               "quantized_bits(8,0,keep_negative=0,alpha=1)", "quantized_relu(8,3)",
                               "quantized_bits(10,4,alpha=1)"])
def test_qkeras_quantizers_equal_their_ap_fixed_type(q):
    from qkeras.quantizers import get_quantizer

    rng = np.random.default_rng(0)
    grid = np.arange(-2000, 2000) / 256.0 + 1 / 1024  # includes exact half-lsb ties
    x = np.concatenate([grid, np.arange(-64, 64) / 16.0, rng.normal(0, 4, 5000)]).astype(np.float32)
    np.testing.assert_array_equal(get_quantizer(q)(x).numpy().astype(np.float64), quantize(x, from_qkeras(q, "t")))


@pytest.mark.parametrize("q, message", [
    (None, "no quantizer"),
    ("quantized_po2(4)", "not supported"),
    ("quantized_bits(8,0)", "needs alpha=1"),
    ("quantized_bits(8,0,symmetric=1,alpha=1)", "symmetric"),
])
def test_unmappable_quantizers_name_the_tensor(q, message):
    with pytest.raises(ValueError, match=f"layer_x.kernel: .*{message}"):
        from_qkeras(q, "layer_x.kernel")


def test_accumulator_is_exact_for_worst_case_sums():
    a, b = FixedType(8, 4, rounding="AP_RND_CONV", overflow="AP_SAT"), FixedType(8, 1)
    acc = accumulator(a, b, terms=16, extra=FixedType(8, 3))
    worst = 16 * a.min * b.min + 4.0
    assert acc.frac == a.frac + b.frac and quantize(worst, acc) == worst
    assert quantize(-worst, acc) == -worst
