"""The attention op (every attention kind): spec, lowering, bit-exact reference, da4ml trace, RTL parts.

The reference is the specification of ``firmware_templates/l1tag_attention.h``; the C++ must equal it
bit for bit::

    Q, K, V  = cast<qkv_t>(X W)                         three hls4ml Dense layers (exact accumulation in
                                                        acc_qkv_t); the l1tag kernel starts here:
    K', V'   = cast<qkv_t>(project(K, V))               the kind's projection (l1tag/kinds/<kind>.py):
                                                        salt: rows j*c .. j*c+c-1 (zero past n);
                                                        linformer: all n rows; transformer: K' = K, V' = V
    S        = cast<score_t>((Q . K') * 2^-shift [+ U'])  (heads, n, m); U: a score bias (heads, n, n), ParT's
                                                        pair bias (l1tag/ops/pair_bias.py), where the layer
                                                        has one; U' = the kind's project_bias of U, exact
                                                        (full: U; salt: summed over each partition by wK)
    S        = cast<score_t>(conv(S) + b)               kinds with a score convolution: depthwise, 'same'
    e        = exp_table[min(-(S - max_j S) / lsb, T-1)]     exact index: the score's raw integer
    A        = cast<softmax_t>(e * inv_table[idx(sum e)])    sum e in [1, m]; idx linear over [1, m]
    O        = cast<out_t>(A . V')                      heads concatenated -> (n, d)

The exp and reciprocal tables are produced here and written into the firmware as weights by the
converter, so that reference and C++ use the same numbers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from l1tag import kinds
from l1tag.kinds import AttentionShape, score_shift
from l1tag.numerics import tables
from l1tag.numerics.fixed_point import FixedType, accumulator, constant_accumulator, fitting_type, quantize
from l1tag.numerics.tables import EXP_T, INV_T, inv_index_division
from l1tag.ops.base import OpRule, Part, Port, Product, quantizer_type, uint
from l1tag.ops.trace import cast, contract, einsum, kif, wrap


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

    def acc_bias_t(self, u_t: FixedType) -> FixedType:
        """A score bias of type ``u_t`` reduced over the keys (``Kind.project_bias``), exactly: U's own type for
        full attention; a sum of c products wK U for SAL-T's partitions."""
        return accumulator(u_t, self.w_t, self.chunk) if partitioned(self) else u_t

    def acc_biased_score_t(self, u_t: FixedType) -> FixedType:
        """(Q . K') 2^-shift + U', exactly (what the score cast reads when the layer has a bias)."""
        return accumulator(FixedType(self.acc_score_t.width, self.acc_score_t.integer - self.shift), None, 1,
                           extra=self.acc_bias_t(u_t))

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


def scores_reference(q: np.ndarray, kp: np.ndarray, spec: AttentionSpec, bias: np.ndarray | None = None,
                     w: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The raw scores (heads, n, m) in score_t: cast<score_t>((Q . K') 2^-shift + U'), before any convolution
    (``bias``: U (heads, n, n), or None; U' = its reduction over the keys, ``Kind.project_bias`` with the
    kernel's weights ``w``)."""
    s = np.einsum("hid,hjd->hij", _split(q, spec), kp) * 2.0**-spec.shift
    if bias is not None:
        s = s + kinds.get(spec.kind).project_bias(bias, w, spec)
    return quantize(s, spec.score_t)


def mix_reference(s: np.ndarray, vp: np.ndarray, w: dict[str, np.ndarray], spec: AttentionSpec) -> np.ndarray:
    """From the raw scores (heads, n, m) and V': the score convolution, the table softmax, A V' -> (n, d)."""
    if spec.conv:
        s = _conv(s, w["convk"], w["convb"], spec)
    a = tables.table_softmax(s, spec.score_t, spec.softmax_t, spec.table_size)
    o = quantize(np.einsum("hij,hjd->hid", a, vp), spec.out_t)
    return o.transpose(1, 0, 2).reshape(spec.n, spec.d)


def attention_reference(q: np.ndarray, k: np.ndarray, v: np.ndarray, w: dict[str, np.ndarray],
                        spec: AttentionSpec, bias: np.ndarray | None = None) -> np.ndarray:
    """The kernel, one jet: q, k, v (n, d) in qkv_t -> (n, d) in out_t.  ``w``: [kproj, vproj], [convk, convb];
    ``bias``: a score bias U (heads, n, n), or None."""
    kp, vp = project_reference(k, v, w, spec)
    return mix_reference(scores_reference(q, kp, spec, bias, w), vp, w, spec)


# ------------------------------------------------------------------------------------------
# Lowering: the Keras layer's quantizers, shape and weights in the firmware's terms
# ------------------------------------------------------------------------------------------


def attention_types(name: str, cfg: dict) -> dict[str, FixedType]:
    """The firmware types of an attention layer, from the quantizers in its Keras config."""
    types = {"weight": quantizer_type(name, cfg, "kernel_quantizer"), "qkv": quantizer_type(name, cfg, "qkv_quantizer"),
             "score": quantizer_type(name, cfg, "score_quantizer"),
             "softmax": quantizer_type(name, cfg, "softmax_quantizer"),
             "out": quantizer_type(name, cfg, "output_quantizer")}
    if cfg.get("conv_kernel"):
        types["conv_w"] = quantizer_type(name, cfg, "conv_quantizer")
        types["conv_b"] = quantizer_type(name, cfg, "conv_bias_quantizer")
    else:  # SAL-T without a convolution runs an identity 1x1 one (x * 1 + 0 is exact)
        types["conv_w"] = types["conv_b"] = types["weight"]
    return types


def attention_firmware_weights(kind: kinds.Kind, cfg: dict, weights: dict[str, np.ndarray],
                               types: dict[str, FixedType]) -> dict[str, np.ndarray]:
    """Keras weights (by short name) -> the kernel's arrays, quantized to their firmware types."""
    out = {k: quantize(weights[k], types["weight"]) for k in ("wq", "wk", "wv")}
    out.update(kind.firmware_weights(cfg, weights, types, quantize))
    return out


def kernel_weight_names(kind: kinds.Kind, cfg: dict) -> list[str]:
    """The Keras weights (short names) that l1tag's kernel keeps: projections and score convolution;
    Wq, Wk, Wv go to the three Dense layers."""
    conv = ["convk", "convb"] if kind.score_conv and cfg.get("conv_kernel") else []
    return [k for k, _ in kind.projection_weights] + conv


def kind_weight_args(kind: kinds.Kind) -> list[str]:
    """Firmware weight arguments of a kind's C++ function, in call order (the projections: ROMs read at
    run time); the score convolution's taps and the tables are the config's constants."""
    return [fw for _, fw in kind.projection_weights]


def kind_weight_names(kind: kinds.Kind) -> list[str]:
    """Every firmware weight of a kind's kernel: the projections and the score convolution."""
    return kind_weight_args(kind) + (["convk", "convb"] if kind.score_conv else [])


def attention_dims(kind: kinds.Kind, cfg: dict, n: int) -> dict:
    """Kind, heads, m and the firmware's score convolution (an identity 1x1 where the kind convolves
    but the layer learned none)."""
    conv = kind.conv_kernel(cfg) or ((1, 1) if kind.score_conv else None)
    return {"kind": kind.name, "heads": int(cfg["heads"]), "m": kind.projected_length(n, cfg), "conv": conv}


# ------------------------------------------------------------------------------------------
# da4ml trace of the kernel and its parts
# ------------------------------------------------------------------------------------------


def _softmax_row(row, spec):
    """The firmware's table softmax of one row of m scores (l1tag/numerics/tables.py), traced."""
    size, m = spec.table_size, row.shape[0]
    exp_table, inv_table = spec.exp_table(), spec.inv_table()
    index_bits = int(np.log2(size))
    diff = row - np.max(row)  # <= 0, exact
    k = (-diff * 2.0**spec.score_t.frac).quantize(0, index_bits, 0, "SAT", "TRN")  # an exact integer, clipped
    e = k.apply(lambda v: exp_table[np.rint(np.asarray(v, dtype=np.float64)).astype(np.int64)]) \
        .quantize(*kif(tables.EXP_T), "SAT", "RND_CONV")
    if m > 1:
        one = 2**tables.EXP_T.frac
        mult, shift = tables.inv_index_division(m, size)
        raw = (np.sum(e, keepdims=True) - 1.0) * float(one)  # the sum's integer, minus 1.0
        idx = (raw * float(mult) * 2.0**-shift).quantize(0, index_bits, 0, "SAT", "TRN")
        inv = idx.apply(lambda v: inv_table[np.rint(np.asarray(v, dtype=np.float64)).astype(np.int64)]) \
            .quantize(*kif(tables.INV_T), "SAT", "RND_CONV")
        products = wrap([v * inv._vars[0] for v in e._vars], e)
    else:
        products = e * float(inv_table[0])
    return cast(products, spec.softmax_t)


def _heads(t, spec):
    """(rows, d) object array -> (heads, rows, dh)."""
    return t.reshape(t.shape[0], spec.heads, spec.head_dim).transpose(1, 0, 2)


def trace_project(k, v, op):
    """K', V' (heads, m, dh object arrays, in qkv_t) of one jet's traced k, v (n, d): the kind's projection
    (``Kind.project``, the same code as ``project_reference``) with its sums as balanced adder trees, a
    constant-weight adder graph."""
    spec = op.spec
    traced_einsum = functools.partial(einsum, like=k)
    kp, vp = kinds.get(spec.kind).project(_heads(k._vars, spec), _heads(v._vars, spec), op.weights, spec,
                                          einsum=traced_einsum)
    return cast(wrap(kp, k), spec.qkv_t)._vars, cast(wrap(vp, k), spec.qkv_t)._vars


def trace_scores(q, kp, op, bias=None):
    """The raw scores (heads, rows, m) in score_t of traced query rows q (rows, d) against K': variable
    products summed as balanced trees, plus the rows' score bias U' where there is one (``bias``: the rows of
    U, (heads, rows, n), reduced over the keys by the kind's ``project_bias``, a constant-weight adder graph)
    (reference: scores_reference)."""
    spec = op.spec
    s = wrap(contract("hid,hjd->hijd", _heads(q._vars, spec), kp, q), q) * 2.0**-spec.shift
    if bias is not None:
        u = kinds.get(spec.kind).project_bias(bias, op.weights, spec, einsum=functools.partial(einsum, like=q))
        s = wrap(s._vars + u, q)
    return cast(s, spec.score_t)._vars


def trace_mix(raw, vp, op, like):
    """Rows of the attention output (rows, d) from raw scores (heads, rows + kh - 1, m when the kind has a
    score convolution: the rows and their halo, zero outside the jet) and V': the convolution, the table
    softmax, A V' (reference: mix_reference)."""
    spec, w = op.spec, op.weights
    heads = spec.heads
    s = wrap(raw, like)
    if spec.conv:
        kh_, kw_ = spec.conv
        left = (kw_ - 1) // 2
        rows, m = raw.shape[1] - (kh_ - 1), raw.shape[2]
        pad = np.zeros((heads, rows + kh_ - 1, m + kw_ - 1), dtype=object)
        pad[:, :, left:left + m] = raw
        taps = [w["convk"][a, b, :, 0][:, None, None] * pad[:, a:a + rows, b:b + m]
                for a in range(kh_) for b in range(kw_)]
        acc = np.sum(wrap(np.stack(taps, axis=-1), like), axis=-1)._vars
        s = cast(wrap(acc + w["convb"][:, None, None], like), spec.score_t)
    rows = s.shape[1]
    a = np.empty(s.shape, dtype=object)
    for h in range(heads):
        for i in range(rows):
            a[h, i] = _softmax_row(wrap(s._vars[h, i], like), spec)._vars
    o = cast(wrap(contract("hij,hjd->hidj", a, vp, like), like), spec.out_t)
    return wrap(o._vars.transpose(1, 0, 2).reshape(rows, spec.d), like)


def halo_rows(raw, spec):
    """(heads, n, m) raw scores -> (heads, n + kh - 1, m) with the convolution's zero rows above and below."""
    if not spec.conv:
        return raw
    kh_ = spec.conv[0]
    top = (kh_ - 1) // 2
    pad = np.zeros((raw.shape[0], raw.shape[1] + kh_ - 1, raw.shape[2]), dtype=raw.dtype)
    pad[:, top:top + raw.shape[1]] = raw
    return pad


# ------------------------------------------------------------------------------------------
# The C++ kernel's products per loop iteration
# ------------------------------------------------------------------------------------------


def partitioned(spec) -> bool:
    """SAL-T's contiguous partitions (each particle weighted into one K'/V' row)."""
    return spec.chunk > 0


def attention_products(spec, parallel: int, conv_taps: np.ndarray | None = None,
                       bias_t: FixedType | None = None) -> list[Product]:
    """Every product of one iteration of the attention's two loops (firmware_templates/l1tag_attention.h),
    by operand types: what the GIMPLE census reads from the C++ (a test holds them equal) and the estimate
    prices.  ``bias_t``: the type of the layer's score bias U, where it has one (SAL-T reduces it by wK)."""
    heads, m, dh, p = spec.heads, spec.m, spec.head_dim, parallel
    x_t, w_t = spec.x_t, spec.w_t
    out = []
    if partitioned(spec):  # each particle weighted once per head and feature, K and V
        out.append(Product("projection", 2 * p * heads * dh, w_t, x_t))
    elif spec.projection_terms:  # linformer: into all m rows
        out.append(Product("projection", 2 * p * heads * m * dh, w_t, x_t))
    if bias_t is not None and partitioned(spec):  # each particle row's U weighted into its partitions' U'
        out.append(Product("bias", p * heads * spec.n, w_t, bias_t))
    conv = spec.conv if kinds.get(spec.kind).score_conv else None
    # the group's rows and the convolution's halo; with one iteration (P = n) the halo rows lie outside the
    # jet at compile time ('same' padding: zero scores), so no product is formed for them
    rows = p if p == spec.n or not conv else p + conv[0] - 1
    out.append(Product("scores", rows * heads * m * dh, x_t, spec.qkv_t))
    if conv:
        kh, kw = conv
        left = (kw - 1) // 2
        taps = np.zeros((kh, kw, heads)) if conv_taps is None else np.asarray(conv_taps).reshape(kh, kw, heads)
        used = [taps[a, b, h] for _ in range(p) for h in range(heads) for j in range(m) for a in range(kh)
                for b in range(kw) if 0 <= j + b - left < m]
        out.append(Product("conv", len(used), spec.conv_w_t, spec.score_t, True, tuple(used)))
    if m > 1:
        mult, _ = inv_index_division(m, spec.table_size)
        out.append(Product("inv_index", heads * p, uint(spec.sum_t.width), uint(max(1, int(mult).bit_length())),
                           True, (float(mult),) * (heads * p)))
    out.append(Product("softmax", heads * p * m, EXP_T, INV_T))
    out.append(Product("mix", heads * p * m * dh, spec.softmax_t, spec.qkv_t))
    return out



# ------------------------------------------------------------------------------------------
# The op
# ------------------------------------------------------------------------------------------

PIECES = ("projection", "scores", "mix")


def _biased(op) -> bool:
    """[Q, K, V, U]: a score bias."""
    return len(op.inputs) > 3


class Attention(OpRule):
    """Q, K, V become three hls4ml Dense layers (constant weights: the strategy and the particle
    parallelization apply); l1tag's kernel (``AttentionCore``, l1tag/hls/attention.py) keeps the
    projections, scores, softmax and A V'.  Inputs: the list [Q, K, V]."""

    name = "attention"
    reduction = True

    def lowers(self, layer) -> bool:
        return kinds.by_keras_layer(type(layer).__name__) is not None

    def lower(self, layer, lowering):
        from l1tag.models.layers import AttentionCore

        kind, cfg = kinds.by_keras_layer(type(layer).__name__), layer.get_config()
        source = lowering.sources(layer)
        x_t = lowering.types[source[0]]
        lowering.trained_tables(layer)
        shape = layer.input_shape[0] if isinstance(layer.input_shape, list) else layer.input_shape  # [x, U]
        n, d = (int(v) for v in shape[1:])
        dims = attention_dims(kind, cfg, n)
        ftypes = attention_types(layer.name, cfg)
        spec = attention_spec(dims["kind"], n, d, dims["heads"], dims["m"], dims["conv"], x_t, ftypes,
                              lowering.table_size)
        short = {w.name.split("/")[-1].split(":")[0]: v for w, v in zip(layer.weights, layer.get_weights())}
        fw = attention_firmware_weights(kind, cfg, short, ftypes)
        qkv_names = []
        hetero = bool(getattr(layer, "hetero_names", None))  # Wq, Wk, Wv each weight on its own grid
        for part in ("q", "k", "v"):
            name, w_t, acc_t = f"{layer.name}_{part}", spec.w_t, spec.acc_qkv_t
            if hetero:
                fw[f"w{part}"] = layer.firmware_weight(f"w{part}")
                w_t = fitting_type(fw[f"w{part}"])
                acc_t = constant_accumulator(x_t, fw[f"w{part}"], np.zeros(d), w_t)
                lowering.float32_sums[name] = acc_t.width
            lowering.dense(name, source[:1], fw[f"w{part}"], np.zeros(d), w_t, w_t, acc_t, spec.qkv_t, use_bias=False)
            qkv_names.append(name)
        for part in ("qkv", "proj", "score", "mix") + (("conv",) if spec.conv else ()):
            lowering.float32_sums[f"{layer.name}.{part}"] = getattr(spec, f"acc_{part}_t").width  # e x 1/sum: float64
        if len(source) > 1:  # [x, U]: a score bias (ParT's pair bias), summed exactly with the scaled dot
            qkv_names.append(source[1])
            lowering.float32_sums[f"{layer.name}.score"] = spec.acc_biased_score_t(lowering.types[source[1]]).width
        kernel_weights = {k: short[k] for k in kernel_weight_names(kind, cfg)}
        lowering.emit(self.name, layer.name, qkv_names, spec.out_t,
                      lambda inputs: AttentionCore(kind.name, cfg, {k: v.shape for k, v in kernel_weights.items()},
                                                   name=layer.name)(inputs),
                      weights={k: fw[k] for k in kind_weight_names(kind)}, spec=spec,
                      keras_weights=list(kernel_weights.values()), result_precision=False,
                      kernel_config={"table_size": lowering.table_size, "parallelization_factor": lowering.parallel,
                                     "variable_products": lowering.variable_products})

    def reference(self, op, ins):
        """Inputs [Q, K, V] or [Q, K, V, U] (a score bias per jet)."""
        bias = ins[3] if len(ins) > 3 else [None] * len(ins[0])
        return np.stack([attention_reference(q, k, v, op.weights, op.spec, u) for q, k, v, u in zip(*ins[:3], bias)])

    def trace(self, op, ins):
        """The kernel of one jet, traced: the kind's projection, scores, score convolution, softmax, A V'."""
        q, k, v = ins[:3]
        kp, vp = trace_project(k, v, op)
        bias = ins[3]._vars if _biased(op) else None
        return trace_mix(halo_rows(trace_scores(q, kp, op, bias), op.spec), vp, op, q)

    # -- RTL parts: projection (one copy), scores (P + kh - 1 copies), mix (P copies) -------------------------
    def parts(self, op, parallel):
        spec = op.spec
        q, k, v = op.inputs[:3]
        heads, m, dh, kh = spec.heads, spec.m, spec.head_dim, spec.conv[0] if spec.conv else 1
        kp, vp = Port(f"{op.name}.kp", (heads, m, dh), spec.qkv_t), Port(f"{op.name}.vp", (heads, m, dh), spec.qkv_t)
        parts = []
        if spec.projection_terms:  # full attention: K' = K, V' = V is wiring
            parts.append(Part("projection", "projection", 1, [Port(k, (spec.n, spec.d), spec.qkv_t),
                                                                Port(v, (spec.n, spec.d), spec.qkv_t)]))
        bias = [Port(op.inputs[3], (heads, 1, spec.n), spec.score_t)] if _biased(op) else []  # the row's U
        parts.append(Part("scores", "scores", parallel + kh - 1, [Port(q, (1, spec.d), spec.qkv_t), kp] + bias))
        parts.append(Part("mix", "mix", parallel, [Port(f"{op.name}.raw", (heads, kh, m), spec.score_t), vp]))
        return parts

    def inside_values(self, op, values):
        """``<op>.kp``, ``<op>.vp`` (K', V') and ``<op>.raw`` (the scores before the convolution) of each jet."""
        q, k, v = (values[name] for name in op.inputs[:3])
        u = values[op.inputs[3]] if _biased(op) else [None] * len(q)
        kvp = [project_reference(kj, vj, op.weights, op.spec) for kj, vj in zip(k, v)]
        kp, vp = np.stack([t[0] for t in kvp]), np.stack([t[1] for t in kvp])
        raw = np.stack([scores_reference(qj, t[0], op.spec, uj, op.weights) for qj, t, uj in zip(q, kvp, u)])
        return {f"{op.name}.kp": kp, f"{op.name}.vp": vp, f"{op.name}.raw": raw}

    def trace_part(self, op, role, ins):
        like = ins[0]
        if role == "projection":
            kp, vp = trace_project(ins[0], ins[1], op)
            return [wrap(kp, like), wrap(vp, like)]
        if role == "scores":
            bias = ins[2]._vars if len(ins) > 2 else None
            return [wrap(trace_scores(ins[0], ins[1]._vars, op, bias), like)]
        return [trace_mix(ins[0]._vars, ins[1]._vars, op, like)]  # mix

    def part_vectors(self, op, role, values):
        a, spec = op.name, op.spec
        if role == "projection":
            x = [values[n].reshape(len(values[n]), -1) for n in op.inputs[1:3]]  # K, V
            y = [values[f"{a}.{t}"].reshape(len(values[a]), -1) for t in ("kp", "vp")]
            return np.concatenate(x, axis=1), np.concatenate(y, axis=1)
        jets, n = values[a].shape[:2]
        if role == "scores":  # every row of every jet against its jet's K'
            q = values[op.inputs[0]].reshape(jets * n, -1)
            kp = np.repeat(values[f"{a}.kp"].reshape(jets, -1), n, axis=0)
            raw = values[f"{a}.raw"].transpose(0, 2, 1, 3).reshape(jets * n, -1)  # (jets, n, heads, m)
            bias = [values[op.inputs[3]].transpose(0, 2, 1, 3).reshape(jets * n, -1)] if _biased(op) else []
            return np.concatenate([q, kp] + bias, axis=1), raw
        kh = spec.conv[0] if spec.conv else 1  # mix: each particle's raw-score rows (its halo) and V'
        halo = np.stack([halo_rows(r, spec) for r in values[f"{a}.raw"]])  # (jets, heads, n + kh - 1, m)
        windows = np.stack([halo[:, :, i:i + kh] for i in range(n)], axis=1).reshape(jets * n, -1)
        vp = np.repeat(values[f"{a}.vp"].reshape(jets, -1), n, axis=0)
        return np.concatenate([windows, vp], axis=1), values[a].reshape(jets * n, -1)


RULE = Attention()
