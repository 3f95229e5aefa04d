"""The pair-bias op: ParT's four pair features (l1tag/numerics/pair_features.py) embedded to one score bias
per head, added to the attention's scores before their cast (l1tag/ops/attention.py)::

    f = the features of every pair, in feat_t                     (jets, n, n, 4)
    U = cast<score_t>(f W + b)                                     or, with a hidden layer,
        cast<score_t>(cast<hidden_t>(relu(f W1 + b1)) W2 + b2)     -> (jets, heads, n, n)
"""

from __future__ import annotations

import numpy as np

from l1tag.errors import ConversionError
from l1tag.numerics.fixed_point import FixedType, quantize
from l1tag.numerics.pair_features import PairBiasSpec, pair_features
from l1tag.ops.base import OpRule, Product


def embed(f: np.ndarray, w: dict[str, np.ndarray], spec: PairBiasSpec) -> np.ndarray:
    """(jets, n, n, 4) features -> the bias (jets, heads, n, n) in score_t (``w``: weights on their grids)."""
    if spec.hidden:
        h = quantize(np.maximum(f @ w["pw1"] + w["pb1"], 0.0), spec.hidden_t)
        u = quantize(h @ w["pw2"] + w["pb2"], spec.score_t)
    else:
        u = quantize(f @ w["pw1"] + w["pb1"], spec.score_t)
    return u.transpose(0, 3, 1, 2)


def pair_bias_reference(x: np.ndarray, w: dict[str, np.ndarray], spec: PairBiasSpec) -> np.ndarray:
    """The score bias U (jets, heads, n, n) of jets ``x`` (jets, n, F) in x_t."""
    return embed(pair_features(x, spec), w, spec)


def pair_bias_products(spec: PairBiasSpec, weights: dict[str, np.ndarray], coefficients: tuple[float, float]) -> list:
    """Every product of the kernel (firmware_templates/l1tag_pair_bias.h), each pair once: the squares of
    d eta, d phi (variables), their coefficients and the embedding's weights (constants, for the CSD price)."""
    pairs = spec.n * (spec.n + 1) // 2
    square_t = FixedType(2 * spec.diff_t.width, 2 * spec.diff_t.integer, signed=False)
    out = [Product("square", 2 * pairs, spec.diff_t, spec.diff_t),
           Product("coefficient", 2 * pairs, square_t, spec.coef_t, True, tuple(coefficients) * pairs),
           Product("embed", pairs * 4 * spec.width1, spec.feat_t, spec.w_t, True,
                   tuple(np.tile(np.asarray(weights["pw1"], dtype=np.float64).ravel(), pairs)))]
    if spec.hidden:
        out.append(Product("embed2", pairs * spec.hidden * spec.heads, spec.hidden_t, spec.w_t, True,
                           tuple(np.tile(np.asarray(weights["pw2"], dtype=np.float64).ravel(), pairs))))
    return out


class PairBias(OpRule):
    """``QPairBias`` -> l1tag's pair-bias kernel (``PairBiasCore``, l1tag/hls/pair_bias.py) on the quantized
    input; its output U feeds the attention of every block (a fourth input of the attention op)."""

    name = "pair_bias"
    keras_classes = ("QPairBias",)
    reduction = True  # every pair of particles

    def lower(self, layer, lowering):
        from l1tag.models.layers import PairBiasCore

        spec = layer.spec()
        weights = layer.weights_on_grid()
        cfg = layer.get_config()
        lowering.emit(self.name, layer.name, lowering.sources(layer), spec.score_t,
                      lambda inputs: PairBiasCore(cfg, {k: v.shape for k, v in weights.items()},
                                                  name=layer.name)(inputs[0]),
                      weights=weights, spec=spec, keras_weights=list(weights.values()), result_precision=False,
                      kernel_config={"variable_products": lowering.variable_products})

    def reference(self, op, ins):
        return pair_bias_reference(ins[0], op.weights, op.spec)

    def trace(self, op, ins):
        raise ConversionError(f"layer '{op.name}': the pair bias has no RTL (da4ml trace) yet; set rtl.enabled: "
                              f"false to build its HLS project and C-simulation")


RULE = PairBias()
