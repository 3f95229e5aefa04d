"""The four ParT pair features of every particle pair in fixed point, and the spec of the pair bias they feed
(the Particle Transformer's U in softmax(Q K^T / sqrt(dh) + U) V; the embedding: l1tag/ops/pair_bias.py).

A foundation (NumPy only) shared by the QKeras layer (l1tag/models/layers/pair_bias.py) and the op.

The four pair features of ParT, for constituents a, b of a jet (massless, pT in GeV, etarel / phirel)::

    ln dR = ln hypot(d eta, d phi)      ln kT = ln(min(pT_a, pT_b) dR)
    ln z  = ln(min(pT_a, pT_b) / (pT_a + pT_b))      ln m^2 = ln(2 pT_a pT_b (cosh d eta - cos d phi))

are computed here from the model's quantized, normalised inputs (x' = (x - center) / scale, the data
stage's normalisation) in log2 units (ln = log2 * ln 2, a constant the embedding absorbs), with three
shift-and-add logarithms (``l1tag.numerics.tables.table_log2``) and no divider::

    P      = cast<pt_t>(pt' + center_pt / scale_pt)          pT / scale_pt, >= 0 (exact but for the clip at 0)
    lP     = log2(P) + log2(scale_pt)                         per particle: log2 pT
    d_eta  = cast<diff_t>(eta'_a - eta'_b), d_phi likewise    per pair, rounded to diff_t
    r2     = scale_eta^2 d_eta^2 + scale_phi^2 d_phi^2         dR^2, exact (the squares of constants in coef_t)
    lR2    = log2(r2)                                         (dR below one lsb counts as one lsb)
    lS     = log2(P_a + P_b) + log2(scale_pt)                 log2(pT_a + pT_b)
    f      = cast<feat_t>([lR2 / 2, min(lP) + lR2 / 2, min(lP) - lS, lP_a + lP_b + lR2])

m^2 is taken at small angles, pT_a pT_b dR^2 (2 (cosh x - cos y) = x^2 + y^2 + (x^4 - y^4) / 12 + ...): at
most 21 % (0.28 in log2) from ParT's value for the widest pairs of an R = 0.8 jet (|d eta| = 1.6), and
nothing for close pairs.  Padding rows (all inputs 0) are not masked, as in every l1tag attention kind: they
read as particles at the normalisation's centre.  The features are symmetric in a and b, so U is too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from l1tag.numerics.fixed_point import FixedType, accumulator, from_qkeras, quantize
from l1tag.numerics.tables import LOG2_T, table_log2

PAIR_FEATURES = ("log2_dR", "log2_kT", "log2_z", "log2_m2")
MAX_PAIR_SEPARATION = 1.6  # |d eta|, |d phi| of two constituents of an R = 0.8 jet: 2 R (diff_t's range)
LOG_T = FixedType(LOG2_T.frac + 8, 8)  # every log2 before the features' cast: exact, |value| < 128


def _exact_sum(a: FixedType, b: FixedType) -> FixedType:
    frac, integer = max(a.frac, b.frac), max(a.integer, b.integer) + 1
    return FixedType(frac + integer, integer, signed=a.signed or b.signed)


@dataclass(frozen=True)
class PairBiasSpec:
    """Everything the pair bias computes with: where pT, etarel, phirel sit in the input, the data stage's
    normalisation of them, and every fixed-point type."""

    n: int
    heads: int
    columns: tuple[int, int, int]  # input columns of pt, etarel, phirel
    center: tuple[float, float, float]
    scale: tuple[float, float, float]
    x_t: FixedType  # the model's input
    diff_t: FixedType  # d eta', d phi' (normalised units)
    mantissa_bits: int  # K of the logarithms
    feat_t: FixedType
    w_t: FixedType
    b_t: FixedType
    hidden: int  # 0: U is linear in the features
    hidden_t: FixedType | None
    score_t: FixedType
    n_feat: int = 3  # input features per particle

    @property
    def coef_t(self) -> FixedType:
        """scale_eta^2 and scale_phi^2 (constants: 12 fractional bits, rounded)."""
        top = max(1, math.ceil(math.log2(max(self.scale[1], self.scale[2]) ** 2 + 1)))
        return FixedType(12 + top, top, signed=False, rounding="AP_RND_CONV", overflow="AP_SAT")

    @property
    def pt_t(self) -> FixedType:
        """pT / scale_pt: the input's fractional bits, one more integer bit, clipped at 0."""
        return FixedType(self.x_t.width + 1, self.x_t.integer + 1, signed=False, overflow="AP_SAT")

    @property
    def ptsum_t(self) -> FixedType:
        return FixedType(self.pt_t.width + 1, self.pt_t.integer + 1, signed=False)

    @property
    def r2_t(self) -> FixedType:
        """dR^2 exactly: two squares of diff_t times coef_t, summed."""
        sq = FixedType(2 * self.diff_t.width, 2 * self.diff_t.integer, signed=False)
        prod = FixedType(sq.width + self.coef_t.width, sq.integer + self.coef_t.integer, signed=False)
        return FixedType(prod.width + 1, prod.integer + 1, signed=False)

    @property
    def width1(self) -> int:
        """Outputs of the first embedding layer: the hidden units, or the heads."""
        return self.hidden or self.heads

    @property
    def acc1_t(self) -> FixedType:
        """f W1 + b1 exactly."""
        return accumulator(self.feat_t, self.w_t, len(PAIR_FEATURES), extra=self.b_t)

    @property
    def acc2_t(self) -> FixedType:
        """h W2 + b2 exactly (with a hidden layer)."""
        return accumulator(self.hidden_t, self.w_t, self.hidden, extra=self.b_t)

    def constants(self) -> dict[str, float]:
        """The constants the firmware adds or multiplies by, on their grids."""
        return {
            "pt_offset": float(quantize(self.center[0] / self.scale[0], self.x_t)),
            "log2_pt_scale": float(quantize(math.log2(self.scale[0]), LOG_T)),
            "coef_eta": float(quantize(self.scale[1] ** 2, self.coef_t)),
            "coef_phi": float(quantize(self.scale[2] ** 2, self.coef_t)),
        }


def pair_bias_spec(config: dict, n: int, n_feat: int = 3) -> PairBiasSpec:
    """The spec of a QPairBias layer from its Keras config (quantizer strings, normalisation, widths)."""
    def t(key: str) -> FixedType:
        return from_qkeras(config[key], f"{config.get('name', 'pair bias')}: {key}")

    hidden = int(config["hidden"])
    scale = tuple(float(v) for v in config["scale"])
    return PairBiasSpec(
        n=int(n), heads=int(config["heads"]), columns=tuple(int(c) for c in config["columns"]),
        center=tuple(float(v) for v in config["center"]), scale=scale, x_t=t("input_quantizer"),
        diff_t=diff_type(scale[1], scale[2], int(config["pair_bits"])), mantissa_bits=int(config["mantissa_bits"]),
        feat_t=t("feature_quantizer"), w_t=t("kernel_quantizer"), b_t=t("bias_quantizer"), hidden=hidden,
        hidden_t=t("hidden_quantizer") if hidden else None, score_t=t("score_quantizer"), n_feat=int(n_feat))


def diff_type(scale_eta: float, scale_phi: float, bits: int) -> FixedType:
    """diff_t: ``bits`` wide, integer bits for 2 R in normalised units (saturating beyond)."""
    reach = MAX_PAIR_SEPARATION / min(scale_eta, scale_phi)
    return FixedType(bits, max(1, math.ceil(math.log2(reach))) + 1, rounding="AP_RND_CONV", overflow="AP_SAT")


def pair_features(x: np.ndarray, spec: PairBiasSpec) -> np.ndarray:
    """The four log2 pair features in feat_t of jets ``x`` (jets, n, F) in x_t: (jets, n, n, 4)."""
    c = spec.constants()
    pt, eta, phi = (np.asarray(x[..., k], dtype=np.float64) for k in spec.columns)
    p = quantize(pt + c["pt_offset"], spec.pt_t)
    lp = table_log2(p, spec.pt_t, spec.mantissa_bits, LOG_T) + c["log2_pt_scale"]  # (jets, n)
    ls = table_log2(p[:, :, None] + p[:, None, :], spec.ptsum_t, spec.mantissa_bits, LOG_T) + c["log2_pt_scale"]
    d_eta = quantize(eta[:, :, None] - eta[:, None, :], spec.diff_t)
    d_phi = quantize(phi[:, :, None] - phi[:, None, :], spec.diff_t)
    r2 = c["coef_eta"] * d_eta**2 + c["coef_phi"] * d_phi**2  # exact in r2_t
    lr2 = table_log2(r2, spec.r2_t, spec.mantissa_bits, LOG_T)
    low = np.minimum(lp[:, :, None], lp[:, None, :])
    f = np.stack([lr2 / 2, low + lr2 / 2, low - ls, lp[:, :, None] + lp[:, None, :] + lr2], axis=-1)
    return quantize(f, spec.feat_t)


def exact_pair_features(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """ParT's four features in log2 units, in float64 from physical (jets, n) pT, etarel, phirel, with the
    exact massless m^2 = 2 pT_a pT_b (cosh d eta - cos d phi); -inf where a feature's argument is 0."""
    d_eta = eta[:, :, None] - eta[:, None, :]
    d_phi = phi[:, :, None] - phi[:, None, :]
    low = np.minimum(pt[:, :, None], pt[:, None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        dr = np.hypot(d_eta, d_phi)
        m2 = 2 * pt[:, :, None] * pt[:, None, :] * (np.cosh(d_eta) - np.cos(d_phi))
        return np.stack([np.log2(dr), np.log2(low * dr), np.log2(low / (pt[:, :, None] + pt[:, None, :])),
                         np.log2(m2)], axis=-1)
