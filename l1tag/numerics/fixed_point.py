"""ap_fixed semantics in NumPy: the one ``quantize`` that every fixed-point reference is built on.

A :class:`FixedType` is ``ap_fixed<W, I, Q, O>`` (or ``ap_ufixed``): W bits in all, I of them integer
(the sign included for signed types), F = W - I fractional bits, quantization mode Q (``AP_TRN``: floor;
``AP_RND``: half towards +inf; ``AP_RND_CONV``: half to even; ``AP_RND_ZERO``, ``AP_TRN_ZERO``) and
overflow mode O (``AP_WRAP``: two's-complement wrap; ``AP_SAT``: clip to [min, max]).

Values are carried as float64, which is exact as long as every value is a multiple of 2^-F with
|value| < 2^53 * 2^-F: the references keep W <= 48, so sums and products of our operands are exact, as
they are in the C++ with wide-enough accumulators.

QKeras mapping (the contract the converter relies on, as hls4ml's):
``quantized_bits(b, i, keep_negative=1, alpha=1)`` rounds with ``tf.round`` (half to even) and clips to
[-2^i, 2^i - 2^-(b-1-i)]: it equals ``ap_fixed<b, i+1, AP_RND_CONV, AP_SAT>``;
``quantized_bits(b, i, keep_negative=0, alpha=1)`` equals ``ap_ufixed<b, i, AP_RND_CONV, AP_SAT>``;
``quantized_relu(b, i)`` equals ``ap_ufixed<b, i, AP_RND_CONV, AP_SAT>`` after a ReLU.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

ROUNDING = ("AP_TRN", "AP_TRN_ZERO", "AP_RND", "AP_RND_ZERO", "AP_RND_INF", "AP_RND_MIN_INF", "AP_RND_CONV")
OVERFLOW = ("AP_WRAP", "AP_SAT", "AP_SAT_SYM")


@dataclass(frozen=True)
class FixedType:
    width: int
    integer: int
    signed: bool = True
    rounding: str = "AP_TRN"
    overflow: str = "AP_WRAP"

    def __post_init__(self):
        if self.width < 1 or self.width > 48:
            raise ValueError(f"fixed-point width {self.width} outside 1..48")
        if self.rounding not in ROUNDING or self.overflow not in OVERFLOW:
            raise ValueError(f"unknown mode {self.rounding}/{self.overflow}")

    @property
    def frac(self) -> int:
        return self.width - self.integer

    @property
    def lsb(self) -> float:
        return 2.0 ** -self.frac

    @property
    def min(self) -> float:
        if not self.signed:
            return 0.0
        if self.overflow == "AP_SAT_SYM":
            return -(2.0 ** (self.integer - 1)) + self.lsb
        return -(2.0 ** (self.integer - 1))

    @property
    def max(self) -> float:
        return 2.0 ** (self.integer - (1 if self.signed else 0)) - self.lsb

    def cpp(self) -> str:
        """The C++ type, e.g. ``ap_fixed<10,5,AP_RND_CONV,AP_SAT>`` (defaults left out)."""
        base = f"ap_{'' if self.signed else 'u'}fixed<{self.width},{self.integer}"
        if (self.rounding, self.overflow) != ("AP_TRN", "AP_WRAP"):
            base += f",{self.rounding},{self.overflow}"
        return base + ">"

    def quantize(self, x) -> np.ndarray:
        return quantize(x, self)


_CPP_RE = re.compile(r"^ap_(u?)fixed<\s*(\d+)\s*,\s*(-?\d+)\s*(?:,\s*(\w+)\s*)?(?:,\s*(\w+)\s*)?(?:,\s*\d+\s*)?>$")


def parse_cpp_type(text: str) -> FixedType:
    """'ap_fixed<8,3,AP_RND,AP_SAT>' -> FixedType; raises ValueError on anything else."""
    m = _CPP_RE.match(text.replace(" ", ""))
    if not m:
        raise ValueError(f"not an ap_fixed/ap_ufixed type: {text!r}")
    u, w, i, q, o = m.groups()
    return FixedType(int(w), int(i), signed=not u, rounding=q or "AP_TRN", overflow=o or "AP_WRAP")


def quantize(x, t: FixedType) -> np.ndarray:
    """Cast ``x`` to ``t`` exactly as an ap_fixed assignment does (quantization, then overflow)."""
    v = np.asarray(x, dtype=np.float64) * 2.0**t.frac  # in units of the lsb
    r = t.rounding
    if r == "AP_TRN":
        q = np.floor(v)
    elif r == "AP_TRN_ZERO":
        q = np.trunc(v)
    elif r == "AP_RND":
        q = np.floor(v + 0.5)
    elif r == "AP_RND_ZERO":
        q = np.where(v >= 0, np.ceil(v - 0.5), np.floor(v + 0.5))
    elif r == "AP_RND_INF":
        q = np.where(v >= 0, np.floor(v + 0.5), np.ceil(v - 0.5))
    elif r == "AP_RND_MIN_INF":
        q = np.ceil(v - 0.5)
    else:  # AP_RND_CONV: half to even
        q = np.round(v)
    lo, hi = t.min * 2.0**t.frac, t.max * 2.0**t.frac
    if t.overflow == "AP_WRAP":
        span = 2.0**t.width
        q = np.mod(q - lo, span) + lo
    else:
        q = np.clip(q, lo, hi)
    return q * 2.0**-t.frac


def from_qkeras(quantizer, what: str) -> FixedType:
    """The FixedType equal to a QKeras quantizer (string or serialised dict); else a ValueError naming ``what``."""
    if not quantizer:
        raise ValueError(f"{what}: no quantizer (a float tensor cannot be mapped to firmware exactly)")
    if isinstance(quantizer, dict):  # QDense & co. serialise quantizer objects
        quantizer_class = quantizer.get("class_name", "")
        kwargs = {k: str(v) for k, v in quantizer.get("config", {}).items()}
        args: list[str] = []
        shown = f"{quantizer_class}({', '.join(f'{k}={v}' for k, v in kwargs.items())})"
    else:
        m = re.match(r"^\s*(\w+)\((.*)\)\s*$", str(quantizer))
        if not m:
            raise ValueError(f"{what}: quantizer {quantizer!r} is not supported (use quantized_bits or quantized_relu)")
        quantizer_class, argtext = m.groups()
        args, kwargs = [], {}
        for part in filter(None, (p.strip() for p in argtext.split(","))):
            if "=" in part:
                k, v = part.split("=", 1)
                kwargs[k.strip()] = v.strip()
            else:
                args.append(part)
        shown = str(quantizer)
    if quantizer_class == "ternary":
        return _ternary_type(kwargs, what, shown)
    if quantizer_class not in ("quantized_bits", "quantized_relu"):
        raise ValueError(f"{what}: quantizer {shown!r} is not supported (use quantized_bits, quantized_relu or "
                         f"ternary)")
    try:
        bits = int(args[0] if args else kwargs.get("bits", 8))
        integer = int(args[1] if len(args) > 1 else kwargs.get("integer", 0))
    except ValueError:
        raise ValueError(f"{what}: cannot read bits/integer from {shown!r}") from None
    if quantizer_class == "quantized_relu":
        if kwargs.get("negative_slope", "0") not in ("0", "0.0") or kwargs.get("use_sigmoid", "0") not in ("0", "False"):
            raise ValueError(f"{what}: {shown!r}: only the plain quantized_relu(bits, integer) is supported")
        return FixedType(bits, integer, signed=False, rounding="AP_RND_CONV", overflow="AP_SAT")
    if kwargs.get("alpha", "None") not in ("1", "1.0"):
        raise ValueError(f"{what}: {shown!r} needs alpha=1 (a learned scale has no fixed-point equivalent)")
    if kwargs.get("symmetric", "0") not in ("0", "False"):
        raise ValueError(f"{what}: symmetric quantized_bits is not supported ({shown!r})")
    if kwargs.get("use_stochastic_rounding", "False") not in ("0", "False"):
        raise ValueError(f"{what}: stochastic rounding has no firmware equivalent ({shown!r})")
    if kwargs.get("keep_negative", "1") in ("0", "False"):
        return FixedType(bits, integer, signed=False, rounding="AP_RND_CONV", overflow="AP_SAT")
    return FixedType(bits, integer + 1, signed=True, rounding="AP_RND_CONV", overflow="AP_SAT")


def _ternary_type(kwargs: dict, what: str, shown: str) -> FixedType:
    """QKeras' ``ternary(alpha=s, threshold=s/2)`` with s = 2^k: each weight rounded to the nearest of -s, 0, +s
    (a tie away from zero: ``|w| >= s/2`` gives +-s), which is the cast to ap_fixed<2, k+2, AP_RND_INF,
    AP_SAT_SYM> (lsb s, saturating at +-s).  Another scale or threshold has no such type."""
    try:
        alpha, threshold = float(kwargs.get("alpha", "None")), float(kwargs.get("threshold", "None"))
    except ValueError:
        alpha = threshold = float("nan")
    k = float(np.log2(alpha)) if alpha > 0 else float("nan")
    if not (math.isfinite(k) and k == round(k) and threshold == alpha / 2):
        raise ValueError(f"{what}: {shown!r} needs alpha a power of two and threshold alpha / 2 (another scale "
                         f"or threshold has no fixed-point equivalent)")
    if kwargs.get("use_stochastic_rounding", "False") not in ("0", "False"):
        raise ValueError(f"{what}: stochastic rounding has no firmware equivalent ({shown!r})")
    return FixedType(2, int(round(k)) + 2, signed=True, rounding="AP_RND_INF", overflow="AP_SAT_SYM")


def fitting_type(values) -> FixedType:
    """The narrowest signed type holding every one of ``values`` (dyadic constants) exactly."""
    v = np.abs(np.asarray(values, dtype=np.float64)).ravel()
    v = v[v > 0]
    if v.size == 0:
        return FixedType(1, 1, signed=True)
    frac = 0
    while np.any(v * 2.0**frac != np.round(v * 2.0**frac)):
        frac += 1
        if frac > 47:
            raise ValueError("values are not fixed-point constants of at most 48 bits")
    top = np.asarray(values, dtype=np.float64)
    integer = 1  # the sign
    while top.max() > 2.0 ** (integer - 1) - 2.0**-frac or top.min() < -(2.0 ** (integer - 1)):
        integer += 1
    return FixedType(integer + frac, integer, signed=True)


def constant_accumulator(a: FixedType, weights: np.ndarray, bias: np.ndarray, bias_t: FixedType) -> FixedType:
    """A type holding ``x @ weights + bias`` exactly for every x of type ``a``: bounded by the weights'
    values (sum of |w| per output), not by a type wide enough for the largest, as ``accumulator`` is."""
    w_t = fitting_type(weights)
    frac = max(a.frac + w_t.frac, bias_t.frac)
    x = max(abs(a.min), abs(a.max))
    mag = float(np.max(np.abs(weights).sum(axis=0) * x + np.abs(bias))) if weights.size else 0.0
    integer = max(1, math.ceil(math.log2(mag + 2.0**-frac)) + 1) if mag > 0 else 1
    if integer + frac > 48:
        raise ValueError(f"accumulator would need {integer + frac} bits (> 48): reduce the operand widths")
    return FixedType(integer + frac, integer, signed=True)


def accumulator(a: FixedType, b: FixedType | None, terms: int, extra: FixedType | None = None) -> FixedType:
    """A type holding any sum of ``terms`` products a*b (plus ``extra``, e.g. a bias) exactly."""
    frac = a.frac + (b.frac if b else 0)
    mag = max(abs(a.min), abs(a.max)) * (max(abs(b.min), abs(b.max)) if b else 1.0) * terms
    if extra is not None:
        frac = max(frac, extra.frac)
        mag += max(abs(extra.min), abs(extra.max))
    integer = max(1, math.ceil(math.log2(mag + 2.0**-frac)) + 1) if mag > 0 else 1
    width = integer + frac
    if width > 48:
        raise ValueError(f"accumulator would need {width} bits (> 48): reduce the operand widths")
    return FixedType(width, integer, signed=True)
