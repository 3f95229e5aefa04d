"""Bit-exact NumPy model of ``firmware_templates/l1tag_attention.h`` (every attention kind).

This *is* the specification of the firmware arithmetic; the C++ must equal it bit for bit::

    Q, K, V  = cast<qkv_t>(X W)                         three hls4ml Dense layers (exact accumulation in
                                                        acc_qkv_t); the l1tag kernel starts here:
    K', V'   = cast<qkv_t>(project(K, V))               the kind's projection (l1tag/kinds/<kind>.py):
                                                        salt: rows j*c .. j*c+c-1 (zero past n);
                                                        linformer: all n rows; transformer: K' = K, V' = V
    S        = cast<score_t>((Q . K') * 2^-shift)       (heads, n, m)
    S        = cast<score_t>(conv(S) + b)               kinds with a score convolution: depthwise, 'same'
    e        = exp_table[min(-(S - max_j S) / lsb, T-1)]     exact index: the score's raw integer
    A        = cast<softmax_t>(e * inv_table[idx(sum e)])    sum e in [1, m]; idx linear over [1, m]
    O        = cast<out_t>(A . V')                      heads concatenated -> (n, d)

The exp and reciprocal tables are produced here and written into the firmware as weights by the
converter, so that reference and C++ use the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from l1tag import kinds
from l1tag.kinds import AttentionShape, score_shift
from l1tag.numerics import tables
from l1tag.numerics.fixed_point import FixedType, accumulator, quantize


@dataclass(frozen=True)
class AttentionSpec(AttentionShape):
    """The shape (from the registry of kinds) and every fixed-point type of one attention layer."""

    shift: int  # score scale 2^-shift
    x_t: FixedType
    w_t: FixedType
    qkv_t: FixedType
    score_t: FixedType
    softmax_t: FixedType
    out_t: FixedType
    conv_w_t: FixedType | None
    conv_b_t: FixedType | None
    table_size: int

    # exact accumulators, derived so that no intermediate sum is ever rounded
    @property
    def acc_qkv_t(self) -> FixedType:
        return accumulator(self.x_t, self.w_t, self.d)

    @property
    def acc_proj_t(self) -> FixedType:
        return accumulator(self.qkv_t, self.w_t, self.projection_terms or self.n)

    @property
    def acc_score_t(self) -> FixedType:
        return accumulator(self.qkv_t, self.qkv_t, self.head_dim)

    @property
    def acc_conv_t(self) -> FixedType:
        kh, kw = self.conv
        return accumulator(self.score_t, self.conv_w_t, kh * kw, extra=self.conv_b_t)

    @property
    def acc_mix_t(self) -> FixedType:
        return accumulator(self.softmax_t, self.qkv_t, self.m)

    @property
    def diff_t(self) -> FixedType:
        """S - max S (<= 0) exactly: one more integer bit than the score."""
        return FixedType(self.score_t.width + 1, self.score_t.integer + 1, signed=True)

    @property
    def sum_t(self) -> FixedType:
        return tables.sum_type(self.m)

    def exp_table(self) -> np.ndarray:
        """exp(-k * lsb(score)) for k = 0 .. T-1, in EXP_T (l1tag/numerics/tables.py)."""
        return tables.exp_table(self.score_t, self.table_size)

    def inv_table(self) -> np.ndarray:
        """1 / s at the centre of each of T bins spanning s in [1, m], in INV_T."""
        return tables.inv_table(self.m, self.table_size)


def attention_spec(kind: str, n: int, d: int, heads: int, m: int, conv, x_t: FixedType, types: dict[str, FixedType],
                   table_size: int) -> AttentionSpec:
    """Build the spec; ``types`` maps weight, qkv, score, softmax, out (and conv_w, conv_b) to FixedTypes."""
    k = kinds.get(kind)
    return AttentionSpec(
        kind=kind, n=n, d=d, heads=heads, m=m, chunk=k.chunk(n, m),
        shift=score_shift(d // heads), conv=tuple(conv) if conv else None, x_t=x_t, w_t=types["weight"],
        qkv_t=types["qkv"], score_t=types["score"], softmax_t=types["softmax"], out_t=types["out"],
        conv_w_t=types.get("conv_w") if conv else None, conv_b_t=types.get("conv_b") if conv else None,
        table_size=table_size,
    )


def _conv(s: np.ndarray, kernel: np.ndarray, bias: np.ndarray, spec: AttentionSpec) -> np.ndarray:
    """Depthwise 'same' convolution of (heads, n, m) scores; kernel (kh, kw, heads, 1) as in Keras."""
    kh, kw = spec.conv
    top, left = (kh - 1) // 2, (kw - 1) // 2
    h, n, m = s.shape
    pad = np.zeros((h, n + kh - 1, m + kw - 1))
    pad[:, top : top + n, left : left + m] = s
    acc = np.zeros_like(s)
    for a in range(kh):
        for b in range(kw):
            acc += kernel[a, b, :, 0][:, None, None] * pad[:, a : a + n, b : b + m]
    return quantize(acc + bias[:, None, None], spec.score_t)


def qkv_reference(x: np.ndarray, w: dict[str, np.ndarray], spec: AttentionSpec) -> tuple[np.ndarray, ...]:
    """Q, K, V of one jet (or a batch): cast<qkv_t>(x W) for W = wq, wk, wv (the three Dense layers)."""
    return tuple(quantize(x @ w[name], spec.qkv_t) for name in ("wq", "wk", "wv"))


def _split(t: np.ndarray, spec: AttentionSpec) -> np.ndarray:
    """(n, d) -> (heads, n, dh)."""
    return t.reshape(spec.n, spec.heads, spec.head_dim).transpose(1, 0, 2)


def project_reference(k: np.ndarray, v: np.ndarray, w: dict[str, np.ndarray], spec: AttentionSpec):
    """K', V' (heads, m, dh) in qkv_t of one jet's k, v (n, d): the kind's reduction over the particles."""
    return tuple(quantize(t, spec.qkv_t) for t in kinds.get(spec.kind).project(_split(k, spec), _split(v, spec), w,
                                                                               spec))


def scores_reference(q: np.ndarray, kp: np.ndarray, spec: AttentionSpec) -> np.ndarray:
    """The raw scores (heads, n, m) in score_t: cast<score_t>((Q . K') 2^-shift), before any convolution."""
    return quantize(np.einsum("hid,hjd->hij", _split(q, spec), kp) * 2.0**-spec.shift, spec.score_t)


def mix_reference(s: np.ndarray, vp: np.ndarray, w: dict[str, np.ndarray], spec: AttentionSpec) -> np.ndarray:
    """From the raw scores (heads, n, m) and V': the score convolution, the table softmax, A V' -> (n, d)."""
    if spec.conv:
        s = _conv(s, w["convk"], w["convb"], spec)
    a = tables.table_softmax(s, spec.score_t, spec.softmax_t, spec.table_size)
    o = quantize(np.einsum("hij,hjd->hid", a, vp), spec.out_t)
    return o.transpose(1, 0, 2).reshape(spec.n, spec.d)


def attention_reference(q: np.ndarray, k: np.ndarray, v: np.ndarray, w: dict[str, np.ndarray],
                        spec: AttentionSpec) -> np.ndarray:
    """The kernel, one jet: q, k, v (n, d) in qkv_t -> (n, d) in out_t.  ``w``: [kproj, vproj], [convk, convb]."""
    kp, vp = project_reference(k, v, w, spec)
    return mix_reference(scores_reference(q, kp, spec), vp, w, spec)
