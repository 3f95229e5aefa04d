"""The pair-bias op: ParT's four pair features (l1tag/numerics/pair_features.py) embedded to one score bias
per head, added to the attention's scores before their cast (l1tag/ops/attention.py)::

    f = the features of every pair, in feat_t                     (jets, n, n, 4)
    U = cast<score_t>(f W + b)                                     or, with a hidden layer,
        cast<score_t>(cast<hidden_t>(relu(f W1 + b1)) W2 + b2)     -> (jets, heads, n, n)
"""

from __future__ import annotations

import numpy as np

from l1tag.numerics.fixed_point import FixedType, quantize
from l1tag.numerics.pair_features import PairBiasSpec, pair_features
from l1tag.numerics.tables import LOG2_T, log2_table
from l1tag.ops.base import OpRule, Part, Port, Product
from l1tag.ops.trace import wrap


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


def trace_log2(v, t: FixedType, mantissa_bits: int, like):
    """The shift-and-add log2 of one traced value v >= 0 in ``t`` (``table_log2`` before its output cast):
    k = max(raw, 1); ge_i = [k >= 2^i] (a saturating floor of k 2^-i); e = sum of ge_i; the leading one's K
    following bits (each position's, masked by its one-hot flag ge_i - ge_(i+1), summed); the mantissa table
    read by them.
    ``like``: a traced array whose solver options the table read takes."""
    from l1tag.ops.trace import kif

    k = v * 2.0**t.frac  # the raw integer: wiring
    k = k + 1 - k.quantize(0, 1, 0, "SAT", "TRN")  # max(k, 1)
    ge = [None] + [(k * 2.0**-i).quantize(0, 1, 0, "SAT", "TRN") for i in range(1, t.width)]
    e = sum(ge[1:])
    terms = []
    for i in range(t.width):
        top = (1 if i == 0 else ge[i]) - (ge[i + 1] if i + 1 < t.width else 0)  # the leading one is at i: 0 or 1
        if not isinstance(top, int):
            top = top.quantize(0, 1, 0, "WRAP", "TRN")  # its true range (a no-op on the value), for da4ml
        bits = (k * 2.0 ** (mantissa_bits - i)).quantize(0, mantissa_bits, 0, "WRAP", "TRN")
        terms.append(top * bits)
    j = wrap([sum(terms).quantize(0, mantissa_bits, 0, "WRAP", "TRN")], like)  # one term is nonzero: j < 2^K
    table = log2_table(mantissa_bits)
    entry = j.apply(lambda x: table[np.rint(np.asarray(x, dtype=np.float64)).astype(np.int64)]) \
        .quantize(*kif(LOG2_T), "SAT", "TRN")._vars[0]
    return e - t.frac + entry


def trace_pair(x, op):
    """One pair's bias (heads,) from its two rows ``x`` (2, F), traced (reference: pair_bias_reference)."""
    from l1tag.ops.trace import cast

    spec, c = op.spec, op.spec.constants()
    col_pt, col_eta, col_phi = spec.columns
    rows = x._vars
    p = [cast(wrap([rows[r, col_pt] + c["pt_offset"]], x), spec.pt_t)._vars[0] for r in (0, 1)]
    lp = [trace_log2(p[r], spec.pt_t, spec.mantissa_bits, x) + c["log2_pt_scale"] for r in (0, 1)]
    d_eta = cast(wrap([rows[0, col_eta] - rows[1, col_eta]], x), spec.diff_t)._vars[0]
    d_phi = cast(wrap([rows[0, col_phi] - rows[1, col_phi]], x), spec.diff_t)._vars[0]
    r2 = (d_eta * d_eta) * c["coef_eta"] + (d_phi * d_phi) * c["coef_phi"]
    lr2 = trace_log2(r2, spec.r2_t, spec.mantissa_bits, x)
    ls = trace_log2(p[0] + p[1], spec.ptsum_t, spec.mantissa_bits, x) + c["log2_pt_scale"]
    low = np.min(wrap(lp, x))
    half = lr2 * 0.5
    f = cast(wrap([half, low + half, low - ls, lp[0] + lp[1] + lr2], x), spec.feat_t)
    w = op.weights
    h = f @ w["pw1"] + w["pb1"]
    if spec.hidden:
        h = cast(h.relu(), spec.hidden_t) @ w["pw2"] + w["pb2"]
    return cast(h, spec.score_t)


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
        """The whole jet's U (heads, n, n), traced: each pair once (``trace_pair``), written twice."""
        x = ins[0]
        n, heads = op.spec.n, op.spec.heads
        out = np.empty((heads, n, n), dtype=object)
        for a in range(n):
            for b in range(a, n):
                u = trace_pair(wrap(np.stack([x._vars[a], x._vars[b]]), x), op)._vars
                out[:, a, b] = out[:, b, a] = u
        return wrap(out, x)

    # -- RTL: one block per pair (n (n + 1) / 2 copies), the rows of its two particles in, one bias per head out
    def parts(self, op, parallel):
        spec = op.spec
        return [Part("pair", "pair", spec.n * (spec.n + 1) // 2,
                     [Port(op.inputs[0], (2, spec.n_feat), spec.x_t)])]

    def trace_part(self, op, role, ins):
        return [trace_pair(ins[0], op)]

    def part_vectors(self, op, role, values):
        x, u = values[op.inputs[0]], values[op.name]  # (jets, n, F), (jets, heads, n, n)
        a, b = np.triu_indices(op.spec.n)
        xs = np.concatenate([x[:, a], x[:, b]], axis=2).reshape(len(x) * len(a), -1)  # row a, then row b
        return xs, u[:, :, a, b].transpose(0, 2, 1).reshape(len(x) * len(a), -1)


RULE = PairBias()
