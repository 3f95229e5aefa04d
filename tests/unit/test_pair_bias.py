"""ParT's pair bias: the shift-and-add log2, the pair features against ParT's definitions, the QKeras layer
against the fixed-point reference, and full attention with the bias against its reference."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from l1tag import kinds
from l1tag.models.layers import QMultiHeadAttention, QPartitionedAttention
from l1tag.models.layers.firmware_ops import table_log2 as tf_table_log2
from l1tag.models.layers.pair_bias import QPairBias
from l1tag.numerics.fixed_point import FixedType, quantize
from l1tag.numerics.tables import LOG2_T, log2_parts, log2_table, table_log2
from l1tag.ops.attention import attention_dims, attention_reference, attention_spec, qkv_reference
from l1tag.numerics.pair_features import PAIR_FEATURES, exact_pair_features, pair_features
from l1tag.ops.pair_bias import pair_bias_reference

RNG = np.random.default_rng(11)
X_T = FixedType(14, 6, rounding="AP_RND_CONV", overflow="AP_SAT")  # quantized_bits(14,5)
QUANTIZERS = {"input_quantizer": "quantized_bits(14,5,alpha=1)", "feature_quantizer": "quantized_bits(12,5,alpha=1)",
              "kernel_quantizer": "quantized_bits(8,1,alpha=1)", "bias_quantizer": "quantized_bits(12,2,alpha=1)",
              "hidden_quantizer": "quantized_relu(8,3)", "score_quantizer": "quantized_bits(10,4,alpha=1)"}


@pytest.mark.parametrize("mantissa_bits", [3, 5, 7])
def test_log2_is_within_its_stated_bound_on_every_value(mantissa_bits):
    x_t, out_t = FixedType(12, 4, signed=False), FixedType(20, 8, rounding="AP_RND_CONV", overflow="AP_SAT")
    x = np.arange(1, 2**12) * x_t.lsb
    err = np.abs(table_log2(x, x_t, mantissa_bits, out_t) - np.log2(x))
    bound = np.log2(1 + 2.0 ** -(mantissa_bits + 1)) + LOG2_T.lsb / 2 + out_t.lsb / 2
    assert err.max() <= bound
    assert err.max() > 0.5 * bound  # the bound is what the table costs, not a loose ceiling
    e, j = log2_parts(x, x_t, mantissa_bits)  # the parts: x = 2^e (1 + f), j = floor(f 2^K)
    f = x / 2.0**e - 1
    assert np.all((0 <= f) & (f < 1)) and np.array_equal(j, np.floor(f * 2**mantissa_bits).astype(int))
    assert table_log2(np.zeros(1), x_t, mantissa_bits, out_t)[0] == table_log2(np.array([x_t.lsb]), x_t,
                                                                                mantissa_bits, out_t)[0]


def test_log2_in_tensorflow_equals_numpy_on_every_value_of_a_wide_type():
    x_t = FixedType(20, 12, signed=False)
    x = np.arange(0, 2**20, 7, dtype=np.float64) * x_t.lsb
    x = np.concatenate([x, 2.0 ** np.arange(-8, 12)])  # powers of two: where a float log can round
    ours = tf_table_log2(tf.constant(x, tf.float64), x_t, 5).numpy()
    e, j = log2_parts(x, x_t, 5)
    np.testing.assert_array_equal(ours, e + log2_table(5)[j])


def _jets(jets=200, n=16):
    """Physical toy jets: pT falling (GeV), etarel / phirel around the axis, the last rows padding."""
    pt = np.sort(RNG.exponential(30.0, (jets, n)) + 0.5, axis=1)[:, ::-1]
    eta, phi = RNG.normal(0, 0.2, (jets, n)), RNG.normal(0, 0.2, (jets, n))
    real = np.arange(n)[None, :] < RNG.integers(n // 2, n + 1, (jets, 1))
    x = np.where(real[..., None], np.stack([pt, eta, phi], axis=-1), 0.0)
    center, scale = np.array([20.0, 0.0, 0.0]), np.array([150.0, 0.3, 0.31])
    xn = np.where(real[..., None], (x - center) / scale, 0.0)
    return x, quantize(xn, X_T), real, center, scale


def _layer(heads, center, scale, hidden=0, quantized=True, pair_bits=12):
    q = QUANTIZERS if quantized else {}
    return QPairBias(heads, (0, 1, 2), center, scale, hidden=hidden, pair_bits=pair_bits, **q)


def test_pair_features_follow_part_definitions_on_resolved_pairs():
    """The fixed-point features against ParT's (exact m^2) in log2 units, for the pairs the types resolve: dR at
    least 8 lsb of d eta', d phi' and both pT at least 8 lsb of the input.  The budget: the inputs' and the
    differences' rounding (<= 1/16 of dR relative, 0.13 in log2), the log's mantissa (0.023), the casts; twice
    for m^2 (dR^2), plus its small-angle form (<= 0.28)."""
    x, xq, real, center, scale = _jets()
    layer = _layer(4, center, scale)
    layer(tf.constant(xq[:1], tf.float32))
    spec = layer.spec()
    fixed = pair_features(xq, spec)
    exact = exact_pair_features(x[..., 0], x[..., 1], x[..., 2])
    dr = np.hypot(x[:, :, None, 1] - x[:, None, :, 1], x[:, :, None, 2] - x[:, None, :, 2])
    low = np.minimum(x[:, :, None, 0], x[:, None, :, 0])
    resolved = (dr >= 8 * spec.diff_t.lsb * scale[1:].min()) & (low >= 8 * X_T.lsb * scale[0])
    resolved &= real[:, :, None] & real[:, None, :]
    assert resolved.mean() > 0.3  # most real pairs
    err = np.abs(fixed - exact)[resolved]
    bounds = {"log2_dR": 0.2, "log2_kT": 0.3, "log2_z": 0.2, "log2_m2": 0.7}
    for i, name in enumerate(PAIR_FEATURES):
        assert err[:, i].max() <= bounds[name], name
        assert np.median(err[:, i]) < 0.1, name
    assert np.isfinite(fixed).all()  # padding and collinear pairs floor, never -inf
    np.testing.assert_array_equal(fixed, fixed.transpose(0, 2, 1, 3))  # symmetric in a, b


@pytest.mark.parametrize("hidden", [0, 6])
def test_quantized_layer_equals_the_fixed_point_reference(hidden):
    _, xq, _, center, scale = _jets(60)
    layer = _layer(3, center, scale, hidden=hidden)
    layer(tf.constant(xq[:1], tf.float32))
    layer.set_weights([RNG.normal(0, 0.3, w.shape) for w in layer.get_weights()])  # beyond the near-0 start
    u = layer(tf.constant(xq, tf.float32)).numpy()
    ref = pair_bias_reference(xq, layer.weights_on_grid(), layer.spec())
    assert u.shape == (60, 3, 16, 16)
    np.testing.assert_array_equal(u, ref)
    assert len(np.unique(ref)) > 20  # a bias that varies, not a constant
    again = QPairBias.from_config(layer.get_config())
    again(tf.constant(xq[:1], tf.float32))
    again.set_weights(layer.get_weights())
    np.testing.assert_array_equal(again(tf.constant(xq, tf.float32)).numpy(), u)


def test_float_layer_tracks_the_quantized_features_on_resolved_pairs():
    x, xq, real, center, scale = _jets(60)
    fixed, flt = _layer(2, center, scale), _layer(2, center, scale, quantized=False)
    for layer in (fixed, flt):
        layer(tf.constant(xq[:1], tf.float32))  # built
    a = fixed.features(tf.constant(xq, tf.float32)).numpy()
    b = flt.features(tf.constant(xq, tf.float32)).numpy()
    dr = np.hypot(x[:, :, None, 1] - x[:, None, :, 1], x[:, :, None, 2] - x[:, None, :, 2])
    low = np.minimum(x[:, :, None, 0], x[:, None, :, 0])
    pairs = (dr > 0.05) & (low >= 8 * X_T.lsb * scale[0]) & real[:, :, None] & real[:, None, :]
    assert np.abs(a - b)[pairs].max() < 0.1  # the logs' tables and pT's last bits


@pytest.mark.parametrize("kind", ["transformer", "salt"])
def test_attention_with_the_bias_equals_its_reference(kind):
    """Scores + U' (U itself, or for SAL-T U summed over each partition by the key weights), the score
    convolution, the table softmax and A V': the QKeras layer and the NumPy reference bit for bit."""
    n, d, heads = 16, 8, 2
    _, xq, _, center, scale = _jets(20, n)
    bias = _layer(heads, center, scale)
    bias(tf.constant(xq[:1], tf.float32))
    bias.set_weights([RNG.normal(0, 0.4, w.shape) for w in bias.get_weights()])
    u = bias(tf.constant(xq, tf.float32)).numpy()
    act, score = "quantized_bits(8,3,alpha=1)", QUANTIZERS["score_quantizer"]
    soft = "quantized_bits(8,0,keep_negative=0,alpha=1)"
    quantizers = dict(kernel_quantizer=QUANTIZERS["kernel_quantizer"], qkv_quantizer=act, score_quantizer=score,
                      softmax_quantizer=soft, output_quantizer=act)
    if kind == "salt":  # 16 particles in 3 partitions of 6: the last one padded
        att = QPartitionedAttention(heads, 3, conv_kernel=(3, 3), conv_quantizer=QUANTIZERS["kernel_quantizer"],
                                    conv_bias_quantizer=QUANTIZERS["kernel_quantizer"], **quantizers)
    else:
        att = QMultiHeadAttention(heads, **quantizers)
    x = quantize(RNG.normal(0, 1.5, (20, n, d)), FixedType(8, 4, rounding="AP_RND_CONV", overflow="AP_SAT"))
    y = att([tf.constant(x, tf.float32), tf.constant(u, tf.float32)]).numpy()
    y_plain = att(tf.constant(x, tf.float32)).numpy()
    types = {"weight": FixedType(8, 2, rounding="AP_RND_CONV", overflow="AP_SAT"),
             "qkv": FixedType(8, 4, rounding="AP_RND_CONV", overflow="AP_SAT"),
             "score": FixedType(10, 5, rounding="AP_RND_CONV", overflow="AP_SAT"),
             "softmax": FixedType(8, 0, signed=False, rounding="AP_RND_CONV", overflow="AP_SAT"),
             "out": FixedType(8, 4, rounding="AP_RND_CONV", overflow="AP_SAT")}
    if kind == "salt":
        att.set_weights([RNG.normal(0, 0.5, w.shape) for w in att.get_weights()])
        y = att([tf.constant(x, tf.float32), tf.constant(u, tf.float32)]).numpy()
        y_plain = att(tf.constant(x, tf.float32)).numpy()
        types.update(conv_w=types["weight"], conv_b=types["weight"])
    dims = attention_dims(kinds.get(kind), att.get_config(), n)
    spec = attention_spec(kind, n, d, heads, dims["m"], dims["conv"], types["qkv"], types, att.table_size)
    w = {k: att.kernel(getattr(att, k)).numpy().astype(np.float64) for k in ("wq", "wk", "wv")}
    if kind == "salt":
        short = {v.name.split("/")[-1].split(":")[0]: v for v in att.weights}
        w.update({fw: att.kernel(short[k]).numpy().astype(np.float64)
                  for k, fw in (("kpart", "kproj"), ("vpart", "vproj"), ("convk", "convk"), ("convb", "convb"))})
    ref = np.stack([attention_reference(*qkv_reference(xj, w, spec), w, spec, bias=uj) for xj, uj in zip(x, u)])
    np.testing.assert_array_equal(y, ref)
    assert not np.array_equal(y, y_plain)  # the bias moves the output


def test_a_transformer_with_pair_bias_builds_trains_and_counts_its_cost(tmp_path):
    from l1tag.config import config_from_dict
    from l1tag.models.builders import build_model, load_model
    from l1tag.models.cost import layer_costs

    cfg = config_from_dict({"name": "t", "model": {"type": "transformer", "d_model": 8, "heads": 2, "ffn_dim": 8,
                                                   "pair_bias": True, "pair_hidden": 4}})
    _, xq, _, center, scale = _jets(40, 8)
    norm = (("pt", "etarel", "phirel"), center, scale)
    with pytest.raises(ValueError, match="normalisation"):
        build_model(cfg.model, 8, 3, cfg.quantization)
    qat = build_model(cfg.model, 8, 3, cfg.quantization, normalisation=norm)
    flt = build_model(cfg.model, 8, 3, None, normalisation=norm)
    assert [w.shape for w in flt.weights] == [w.shape for w in qat.weights]  # QAT starts from the float weights
    att = qat.get_layer("att0")
    assert isinstance(att.input, list) and att.input[1].shape[1:] == (2, 8, 8)  # [x, U]
    qat.compile("adam", "sparse_categorical_crossentropy")
    before = qat.get_layer("pair_bias").get_weights()[0].copy()
    qat.fit(xq, np.arange(40) % 5, epochs=1, batch_size=8, verbose=0)
    assert not np.array_equal(before, qat.get_layer("pair_bias").get_weights()[0])  # the embedding trains
    qat.save(tmp_path / "m.keras")
    np.testing.assert_array_equal(load_model(tmp_path / "m.keras").predict(xq, verbose=0), qat.predict(xq, verbose=0))
    row = next(r for r in layer_costs(qat) if r["class"] == "QPairBias")
    assert row["macs"] == 8 * 8 * (4 * 4 + 4 * 2) and row["params"] == 4 * 4 + 4 + 4 * 2 + 2


def _pair_bias_tagger(hidden: int, n: int = 8, kind: str = "transformer"):
    """A tagger of ``kind`` with the pair bias (SAL-T: 2 partitions and its 3 x 3 score convolution)."""
    from l1tag.config import config_from_dict
    from l1tag.models.builders import build_model

    cfg = config_from_dict({"name": "t", "data": {"constituents": n}, "rtl": {"enabled": False},
                            "hls": {"parallelization_factor": n},
                            "model": {"type": kind, "d_model": 8, "heads": 2, "ffn_dim": 8, "head_dims": [8],
                                      "partitions": 2, "pair_bias": True, "pair_hidden": hidden}})
    _, xq, _, center, scale = _jets(120, n)
    tf.keras.utils.set_random_seed(3)
    model = build_model(cfg.model, n, 3, cfg.quantization, normalisation=(("pt", "etarel", "phirel"), center, scale))
    rng = np.random.default_rng(3)
    model.set_weights([w + rng.normal(0, 0.3, w.shape) for w in model.get_weights()])
    return cfg, model, xq


@pytest.mark.parametrize("kind", ["transformer", "salt"])
def test_a_pair_bias_tagger_trains_on_batches_of_unknown_shape(kind):
    """train.augment feeds the jets as a Keras Sequence, whose batches reach the layers with every axis unknown
    (n included): SAL-T's collapse of U on its key axis must still train (it failed at the first step)."""
    cfg, model, xq = _pair_bias_tagger(4, kind=kind)
    y = np.arange(len(xq)) % 5

    class Batches(tf.keras.utils.Sequence):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return xq[30 * i:30 * (i + 1)], y[30 * i:30 * (i + 1)]

    model.compile("adam", "sparse_categorical_crossentropy")
    before = model.get_layer("pair_bias").get_weights()[0].copy()
    history = model.fit(Batches(), epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])
    assert not np.array_equal(before, model.get_layer("pair_bias").get_weights()[0])  # the bias trains too


@pytest.mark.parametrize("kind, hidden", [("transformer", 0), ("transformer", 4), ("salt", 4)])
def test_the_lowered_reference_is_the_qkeras_model_and_the_project_calls_the_kernels(kind, hidden, tmp_path):
    """The firmware's NumPy reference (pair bias op, attention with a fourth input) equals the QKeras model's
    logits bit for bit; the written project calls the pair-bias kernel and the biased attention."""
    from l1tag.hls.convert import convert_model, logits_model
    from l1tag.ops import run_reference

    cfg, model, xq = _pair_bias_tagger(hidden, kind=kind)
    converted = convert_model(model, cfg.hls, tmp_path / "hls")
    ops = {op.name: op for op in converted.lowered.ops}
    assert ops["pair_bias"].operation == "pair_bias" and ops["att0"].inputs[-1] == "pair_bias"
    ref = run_reference(converted.lowered.ops, xq)
    np.testing.assert_array_equal(ref, logits_model(model).predict(xq.astype(np.float32), verbose=0))
    source = (tmp_path / "hls" / "firmware" / "myproject.cpp").read_text()
    params = (tmp_path / "hls" / "firmware" / "parameters.h").read_text()
    function = {"transformer": "full_attention_bias", "salt": "partitioned_attention_bias"}[kind]
    assert "l1tag::pair_bias<" in source and f"l1tag::{function}<" in source
    assert "static ap_ufixed<12,0> log2_table(unsigned i)" in params and f"hidden = {hidden};" in params
    # the estimator prices the kernel from its products: 2 squares, 2 coefficients and the embedding per pair
    from l1tag.hardware.estimate import estimate_model

    row = next(r for r in estimate_model(converted.hls_model)["layers"] if r["layer"] == "pair_bias")
    pairs = 8 * 9 // 2
    assert row["multiplications"] == pairs * (4 + 4 * (hidden or 2) + hidden * 2)
    assert row["LUT"] > pairs * 500 and row["latency"] >= 2 and row["interval"] == 1
    if kind == "salt":  # U reduced by the partition weights: each row's 8 entries of U times wK, per head
        from l1tag.hardware.estimate import model_products
        from l1tag.hls.census import census

        priced = model_products(converted.hls_model)
        assert census(converted.project_dir).by_width() == priced  # the C++ computes what the estimate prices
        w_t, u_t = ops["att0"].spec.w_t, ops["pair_bias"].result_t
        assert priced[tuple(sorted((w_t.width, u_t.width)))] >= 8 * 2 * 8


@pytest.mark.parametrize("kind", [pytest.param("transformer", marks=pytest.mark.slow), "salt"])
def test_the_c_simulation_of_a_pair_bias_tagger_is_bit_exact(kind, tmp_path):
    """part's kernel is C-simulated in the csim suite; SAL-T's here in the default suite (suite time)."""
    from l1tag.hls.convert import convert_model, run_csim

    cfg, model, xq = _pair_bias_tagger(4, kind=kind)
    section = run_csim(convert_model(model, cfg.hls, tmp_path / "hls"), xq, model)
    assert section["bit_exact_fraction"] == 1.0 and section["max_abs_diff_vs_quantized"] == 0.0


def test_log2_traced_with_da4ml_equals_the_reference_on_every_value():
    from l1tag.numerics.pair_features import LOG_T
    from l1tag.ops.pair_bias import trace_log2
    from l1tag.ops.trace import input_array, wrap
    from l1tag.rtl.trace import comb_solution

    t = FixedType(12, 4, signed=False)
    x = input_array((1,), t)
    solution = comb_solution(x, wrap([trace_log2(x._vars[0], t, 5, x)], x))
    grid = np.arange(2**12) * t.lsb  # zero included: it reads as one lsb
    np.testing.assert_array_equal(solution.predict(grid[:, None])[:, 0], table_log2(grid, t, 5, LOG_T))


@pytest.mark.parametrize("kind, hidden", [("transformer", 0), ("transformer", 3), ("salt", 3)])
def test_the_rtl_of_a_pair_bias_tagger_equals_its_reference(kind, hidden):
    """The whole tagger traced by da4ml (pair bias, attention with the bias) and each RTL block (a pair: its two
    rows in, one bias per head out, n (n + 1) / 2 copies; a query row's scores with its row of U) on real-like
    jets, bit for bit."""
    from l1tag.hls.lower import lower
    from l1tag.ops import run_reference
    from l1tag.ops.trace import input_array
    from l1tag.rtl.blocks import inside_values, split_blocks
    from l1tag.rtl.trace import comb_solution, trace_ops

    _, model, xq = _pair_bias_tagger(hidden, n=4, kind=kind)
    lowered = lower(model, parallelization_factor=4)
    x = input_array((4, 3), lowered.input_t)
    whole = comb_solution(x, trace_ops(lowered.ops, {lowered.ops[0].name: x})[lowered.output_name])
    out, values = run_reference(lowered.ops, xq, trace=True)
    np.testing.assert_array_equal(whole.predict(xq.reshape(len(xq), -1)), out)
    values = inside_values(lowered.ops, values)
    all_blocks = split_blocks(lowered, 4, 4, {k: v.shape[1:] for k, v in values.items()})
    for block in all_blocks:  # every block reads what it should: U only where the scores are formed
        rows, expected = block.vectors(values)
        assert len(rows) == len(expected) and ("pair_bias" in [p.name for p in block.inputs]) == \
            (block.role == "scores")
    blocks = {b.role: b for b in all_blocks}
    assert blocks["pair"].instances == 10 and [p.shape for p in blocks["pair"].inputs] == [(2, 3)]
    assert blocks["scores"].inputs[-1].name == "pair_bias"
    for role in blocks:  # SAL-T: its projection (K, V in; never U) and mix too
        ins, outs = blocks[role].trace()
        rows, expected = blocks[role].vectors(values)
        np.testing.assert_array_equal(comb_solution(ins, outs).predict(rows), expected)


@pytest.mark.parametrize("kind", ["transformer", "salt"])
def test_the_cost_model_counts_the_bias_on_the_scores(kind):
    """+ U' on every score (heads x n x m additions); SAL-T first reduces U by its key weights (heads x n x n
    products)."""
    from l1tag.config import config_from_dict
    from l1tag.models.builders import build_model
    from l1tag.models.cost import layer_costs

    n, heads, parts = 8, 2, 2
    rows = {}
    for bias in (False, True):
        cfg = config_from_dict({"name": "t", "data": {"constituents": n}, "hls": {"parallelization_factor": n},
                                "model": {"type": kind, "d_model": 8, "heads": heads, "ffn_dim": 8,
                                          "partitions": parts, "pair_bias": bias}})
        model = build_model(cfg.model, n, 3, cfg.quantization,
                            normalisation=(("pt", "etarel", "phirel"), (30.0, 0.0, 0.0), (150.0, 0.3, 0.3)))
        rows[bias] = next(r for r in layer_costs(model) if r["layer"] == "att0")
    m = parts if kind == "salt" else n
    products = heads * n * n if kind == "salt" else 0
    assert rows[True]["macs"] - rows[False]["macs"] == products
    assert rows[True]["flops"] - rows[False]["flops"] == 2 * products + heads * n * m
    assert rows[True]["energy_pj"] > rows[False]["energy_pj"]
