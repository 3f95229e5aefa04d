"""Model layers and taggers: shapes, hand-computed examples, the partition collapse, costs, save/load."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from l1tag import kinds
from l1tag.config import config_from_dict
from l1tag.models.builders import build_model, load_model
from l1tag.models.cost import closed_form_parameters, model_cost
from l1tag.models.layers import (
    QAttentionScoreConv,
    QDynamicTanh,
    QLinformerAttention,
    QMultiHeadAttention,
    QPartitionedAttention,
)
from l1tag.models.layers.attention import score_shift
from taggers import kind_config, kind_inputs

RNG = np.random.default_rng(7)


def _x(b=3, n=10, d=8):
    return RNG.normal(size=(b, n, d)).astype("float32")


@pytest.mark.parametrize("layer", [
    QPartitionedAttention(heads=2, partitions=3, conv_kernel=(3, 3)),
    QPartitionedAttention(heads=2, partitions=3, conv_kernel=None),
    QLinformerAttention(heads=2, projected=4),
    QMultiHeadAttention(heads=2),
])
def test_attention_output_shape(layer):
    x = _x()
    assert layer(x).shape == x.shape


def test_partition_collapse_equals_an_explicit_loop():
    n, d, heads, p = 10, 8, 2, 3
    layer = QPartitionedAttention(heads=heads, partitions=p, conv_kernel=None)
    x = _x(2, n, d)
    layer(x)
    c = math.ceil(n / p)
    assert layer.chunk == c == 4
    k = layer._heads(tf.matmul(x, layer.wk)).numpy()  # (B, H, n, dh)
    w = layer.kpart.numpy()
    expected = np.zeros((2, heads, p, d // heads))
    for b in range(2):
        for h in range(heads):
            for j in range(p):
                for l_ in range(c):
                    row = j * c + l_
                    if row < n:  # rows past n are the zero padding
                        expected[b, h, j] += w[h, j, l_] * k[b, h, row]
    got = layer._collapse(tf.constant(k), layer.kpart).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_partitions_are_contiguous_in_particle_order():
    """Partition j holds rows j*c .. j*c+c-1: kT-sorted particles stay together, in order."""
    n, p = 10, 3
    layer = QPartitionedAttention(heads=1, partitions=p, conv_kernel=None)
    layer.build((None, n, 2))
    c = layer.chunk
    marker = np.zeros((1, 1, n, 2), np.float32)
    marker[0, 0, :, 0] = np.arange(1, n + 1)  # particle index + 1
    layer.kpart.assign(np.ones_like(layer.kpart.numpy()))
    out = layer._collapse(tf.constant(marker), layer.kpart).numpy()[0, 0, :, 0]
    expected = [sum(range(j * c + 1, min((j + 1) * c, n) + 1)) for j in range(p)]
    np.testing.assert_allclose(out, expected)


def test_full_attention_hand_computed():
    """n=2, d=2, one head, identity projections: S = X X^T / 2^s, A = softmax, O = A X."""
    layer = QMultiHeadAttention(heads=1)
    x = np.array([[[1.0, 0.0], [0.0, 2.0]]], np.float32)
    layer.build(x.shape)
    for w in (layer.wq, layer.wk, layer.wv):
        w.assign(np.eye(2))
    assert score_shift(2) == 0  # 1/sqrt(2) -> 2^-round(0.5) = 1
    s = np.array([[1.0, 0.0], [0.0, 4.0]])
    a = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(layer(x).numpy()[0], a @ x[0], rtol=1e-5)


def test_linformer_projection_hand_computed():
    layer = QLinformerAttention(heads=1, projected=1)
    x = np.array([[[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]], np.float32)
    layer.build(x.shape)
    for w in (layer.wq, layer.wk, layer.wv):
        w.assign(np.eye(2))
    layer.eproj.assign(np.full((1, 1, 3), 1.0))  # K' = sum of rows
    layer.fproj.assign(np.full((1, 1, 3), 0.5))
    # one projected row: softmax over a single column is 1, so O = V' = 0.5 * sum of rows, for every particle
    np.testing.assert_allclose(layer(x).numpy()[0], np.tile([[1.0, 1.5]], (3, 1)), rtol=1e-6)


def test_score_conv_starts_as_identity_and_is_depthwise():
    conv = QAttentionScoreConv((3, 3))
    s = RNG.normal(size=(2, 6, 4, 3)).astype("float32")
    np.testing.assert_allclose(conv(s).numpy(), s, atol=1e-6)
    k = np.zeros((3, 3, 3, 1), np.float32)
    k[1, 0, 1, 0] = 2.0  # head 1 only: output(i, j) = 2 * input(i, j - 1)
    conv.convk.assign(k)
    out = conv(s).numpy()
    np.testing.assert_allclose(out[..., 1][:, :, 1:], 2 * s[..., 1][:, :, :-1], rtol=1e-6)
    np.testing.assert_allclose(out[..., 1][:, :, 0], 0.0, atol=1e-6)  # 'same' zero padding
    np.testing.assert_allclose(out[..., 0], 0.0, atol=1e-6)


def test_dynamic_tanh_hand_computed():
    layer = QDynamicTanh()
    x = np.array([[0.5, -1.0]], np.float32)
    layer.build(x.shape)
    layer.alpha.assign(2.0)
    layer.beta.assign(0.25)
    np.testing.assert_allclose(layer(x).numpy(), np.tanh(2 * x + 0.25), rtol=1e-6)


def test_quantizers_round_intermediates():
    q = "quantized_bits(4,1,alpha=1)"  # step 0.25 in [-2, 1.75]
    layer = QMultiHeadAttention(heads=2, kernel_quantizer=q, qkv_quantizer=q, score_quantizer=q,
                                softmax_quantizer="quantized_bits(4,0,keep_negative=0,alpha=1)", output_quantizer=q)
    out = layer(_x(2, 5, 4)).numpy()
    np.testing.assert_allclose(out * 4, np.round(out * 4), atol=1e-5)
    assert out.min() >= -2 and out.max() <= 1.75


@pytest.mark.parametrize("kind", kinds.NAMES)
def test_taggers_build_and_round_trip(kind, tmp_path):
    cfg = config_from_dict({"name": "t", **kind_config(kind)})
    features, norm = kind_inputs(kind)
    model = build_model(cfg.model, 8, features, cfg.quantization, normalisation=norm)  # part's pair bias reads it
    x = RNG.normal(size=(5, 8, features)).astype("float32")
    y = model(x).numpy()
    assert y.shape == (5, 5)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
    model.save(tmp_path / "m.h5")
    np.testing.assert_array_equal(load_model(tmp_path / "m.h5")(x).numpy(), y)
    # the float twin has the same weights in the same order, so QAT can start from it
    twin = build_model(cfg.model, 8, features, None, normalisation=norm)
    assert [w.shape for w in twin.get_weights()] == [w.shape for w in model.get_weights()]


def test_weight_names_do_not_contain_one_another():
    """hls4ml's weight reader matches substrings: no weight name may contain another of its layer."""
    cfg = config_from_dict({"name": "t"})
    model = build_model(cfg.model, 32, 3, cfg.quantization)
    for layer in model.layers:
        names = [w.name.split("/")[-1].split(":")[0] for w in layer.weights]
        for a in names:
            assert not [b for b in names if b != a and a in b], (layer.name, names)


def test_paper_configuration_parameter_count():
    """d=16, H=4, p=4, n=150, F=3, one block, no pooled MLP: Keras' count equals the closed form."""
    cfg = config_from_dict({"name": "p", "data": {"constituents": 150}, "model": {"head_dims": []}})
    model = build_model(cfg.model, 150, 3, None)
    expected = closed_form_parameters("salt", n=150, f=3, d=16, heads=4, p=4, d_ff=16, blocks=1,
                                      conv_kernel=(3, 3), head_dims=(), classes=5)
    assert model.count_params() == expected == 2721


def test_cost_counts_scale_as_expected():
    def flops(kind, n):
        cfg = config_from_dict({"name": "c", "data": {"constituents": n}, "model": {"type": kind}})
        return model_cost(build_model(cfg.model, n, 3, cfg.quantization))["flops"]

    # full attention grows faster than linearly in n; SAL-T and Linformer stay close to linear
    assert flops("transformer", 128) / flops("transformer", 32) > 4.5
    assert flops("salt", 128) / flops("salt", 32) < 4.5
    cfg = config_from_dict({"name": "c", "model": {"type": "deepsets", "phi_dims": [4], "head_dims": []}})
    m = build_model(cfg.model, 2, 3, None)
    rows = {r["layer"]: r for r in model_cost(m)["layers"]}
    assert rows["phi0"]["macs"] == 2 * 3 * 4 and rows["phi0"]["flops"] == 2 * 24 + 2 * 4
    assert rows["logits"]["macs"] == 4 * 5
    assert rows["phi0"]["bops"] == 24 * 32 * 32  # float: 32 x 32 bits per MAC


def test_attention_maps_per_head():
    from l1tag.models.builders import attention_maps

    cfg = config_from_dict({"name": "a", "model": {"d_model": 8, "heads": 2, "partitions": 4}})
    model = build_model(cfg.model, 12, 3, None)
    maps = attention_maps(model, RNG.normal(size=(2, 12, 3)).astype("float32"))
    m = maps["att0"]
    assert set(m) == {"scores", "scores_conv", "softmax"}
    assert m["softmax"].shape == (2, 2, 12, 4)
    np.testing.assert_allclose(m["softmax"].sum(axis=-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(m["scores_conv"], m["scores"], atol=1e-6)  # the conv starts as the identity


def test_projection_weights_start_different():
    layer = QPartitionedAttention(heads=2, partitions=2)
    layer.build((None, 6, 4))
    assert not np.array_equal(layer.wq.numpy(), layer.wk.numpy())
    assert not np.array_equal(layer.kpart.numpy(), layer.vpart.numpy())


def test_energy_per_jet_prices_each_operation_from_horowitz_table():
    """A 16 -> 16 Dense on 32 particles: 8,192 MACs and 512 bias adds.  Float: 8,192 x (3.7 + 0.9) pJ +
    512 x 0.9 pJ; 8-bit: a MAC is an 8 x 8 product (3.1 x 64 / 1024 pJ) and a 16-bit addition (0.1 x 16 / 32),
    a bias add an 8-bit addition (0.025 pJ)."""
    import tensorflow as tf
    from qkeras import QActivation, QDense

    from l1tag.models.cost import ENERGY_PJ, int_add_pj, int_mult_pj

    assert (int_mult_pj(8, 8), int_add_pj(8)) == (pytest.approx(0.19375), pytest.approx(0.025))  # Horowitz: 0.2, 0.03
    x = tf.keras.Input((32, 16))
    float_model = tf.keras.Model(x, tf.keras.layers.Dense(16, name="fc")(x))
    q = QActivation("quantized_bits(8,0,alpha=1)", name="q_in")(x)
    q = QDense(16, kernel_quantizer="quantized_bits(8,0,alpha=1)", bias_quantizer="quantized_bits(8,0,alpha=1)",
               name="fc")(q)
    quantized = tf.keras.Model(x, q)
    f_rows = {r["layer"]: r for r in model_cost(float_model)["layers"]}
    q_rows = {r["layer"]: r for r in model_cost(quantized)["layers"]}
    fp = ENERGY_PJ["fp32_mult"] + ENERGY_PJ["fp32_add"]
    assert f_rows["fc"]["energy_pj"] == pytest.approx(8192 * fp + 512 * 0.9, rel=1e-6)
    assert q_rows["fc"]["energy_pj"] == pytest.approx(8192 * (0.19375 + 0.05) + 512 * 0.025, rel=1e-6)
    assert model_cost(float_model)["energy_pj"] / model_cost(quantized)["energy_pj"] > 15  # 8-bit: ~19x less


def test_energy_of_the_default_tagger_float_and_quantized():
    cfg = config_from_dict({"name": "e"})
    q = model_cost(build_model(cfg.model, 32, 3, cfg.quantization))
    f = model_cost(build_model(cfg.model, 32, 3, None))
    assert 0 < q["energy_pj"] < f["energy_pj"] / 5
    assert q["energy_pj"] == pytest.approx(sum(r["energy_pj"] for r in q["layers"]), abs=0.5)


def test_float_energy_with_another_table_reprices_the_same_counts():
    """``float_energy_pj``: with Horowitz's 45 nm table it is the float model's energy; with the 7 nm table
    of "Economical Jet Taggers" each MAC costs 1.31 + 0.38 pJ and every other FLOP 0.38 pJ."""
    from l1tag.models.cost import ENERGY_7NM_PJ, float_energy_pj

    cfg = config_from_dict({"name": "e", "model": {"type": "transformer"}})
    f = model_cost(build_model(cfg.model, 32, 3, None))
    assert float_energy_pj(f["layers"]) == pytest.approx(f["energy_pj"], abs=0.5)
    macs = sum(r["macs"] for r in f["layers"])
    others = f["flops"] - 2 * macs
    assert float_energy_pj(f["layers"], ENERGY_7NM_PJ) == pytest.approx(macs * 1.69 + others * 0.38)
    assert float_energy_pj(f["layers"], ENERGY_7NM_PJ) < f["energy_pj"] / 2.5  # 1.69 against 4.6 pJ a MAC


def _toy_prepared(seed: int, jets: int, shuffle_labels: bool = False):
    """``jets`` toy jets of 8 constituents around the axis, the classes in turn (shuffled: nothing to learn),
    prepared as a build does (split 0.6 / 0.2 / 0.2)."""
    from l1tag.data.features import constituent_features
    from l1tag.data.preprocess import prepare
    from l1tag.data.readers import JetSample

    rng = np.random.default_rng(seed)
    p4 = np.zeros((jets, 8, 4))
    for i in range(jets):
        pt = np.sort(rng.exponential(40.0, 8) + 1.0)[::-1]
        eta, phi = rng.normal(0, 0.3, 8), rng.normal(0, 0.3, 8)
        p4[i] = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)], -1)
    labels = rng.permutation(np.arange(jets) % 5) if shuffle_labels else np.arange(jets) % 5
    return prepare(JetSample(constituent_features(p4).astype(np.float32), labels), 8,
                   ("pt", "etarel", "phirel"), "kt", 0.0, "robust", (0.6, 0.2, 0.2), seed=1)


def test_a_cosine_schedule_runs_to_its_end_where_a_constant_one_stops_early():
    """Early stopping cut cosine runs before their learning rate annealed (docs/models.md, "the epoch schedule"):
    a cosine schedule now runs all train.epochs even when the validation loss has stalled for longer than the
    patience; a constant schedule still stops there."""
    from l1tag.train.trainer import train_models

    data = _toy_prepared(3, 200, shuffle_labels=True)  # nothing to learn: the validation loss stalls, then rises

    def history(schedule):
        cfg = config_from_dict({"name": "sched", "seed": 5, "data": {"constituents": 8},
                                "model": {"type": "deepsets", "phi_dims": [16], "head_dims": [16]},
                                "train": {"epochs": 12, "qat_epochs": 0, "batch_size": 16, "learning_rate": 0.02,
                                          "lr_schedule": schedule, "patience": 2}})
        return train_models(cfg, data)[2]["float"]

    def stalled(val_loss, patience=2):  # the epoch at which early stopping (patience 2) would end the run
        best, wait = np.inf, 0
        for epoch, v in enumerate(val_loss):
            best, wait = (v, 0) if v < best else (best, wait + 1)
            if wait >= patience:
                return epoch
        return None

    constant, cosine = history("constant"), history("cosine")
    assert len(constant["loss"]) < 12 and stalled(constant["val_loss"]) == len(constant["loss"]) - 1
    assert len(cosine["loss"]) == 12
    assert stalled(cosine["val_loss"]) is not None and stalled(cosine["val_loss"]) < 11


def test_augmented_training_is_reproducible_and_differs_from_plain_training():
    """train.augment feeds transformed training jets (a new draw each epoch from the seed): the same config
    gives the same weights, and the weights differ from training on the jets as they are."""
    from l1tag.train.trainer import train_models

    data = _toy_prepared(2, 150)

    def weights(augment):
        cfg = config_from_dict({"name": "aug", "seed": 5, "data": {"constituents": 8},
                                "model": {"type": "deepsets", "phi_dims": [8], "head_dims": [8]},
                                "train": {"epochs": 2, "qat_epochs": 1, "batch_size": 32, "augment": augment}})
        model, qat, history = train_models(cfg, data)
        assert len(history["float"]["loss"]) == 2 and len(history["qat"]["loss"]) == 1
        return model.get_weights() + qat.get_weights()

    first, again, plain = weights(["rotation", "reflect_eta"]), weights(["rotation", "reflect_eta"]), weights([])
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, plain))

    # each epoch is a new draw: other angles (the same jets' distances to the axis) and another order
    from l1tag.train.trainer import _augmented

    cfg = config_from_dict({"name": "aug", "data": {"constituents": 8}, "train": {"augment": ["rotation"]}})
    seq = _augmented(tf, data, cfg.train, seed=5)
    x0 = np.concatenate([seq[i][0] for i in range(len(seq))])
    y0, order0 = np.concatenate([seq[i][1] for i in range(len(seq))]), seq.order.copy()
    seq.on_epoch_end()
    x1, order1 = np.concatenate([seq[i][0] for i in range(len(seq))]), seq.order
    assert not np.array_equal(order0, order1)
    np.testing.assert_array_equal(y0, data.y["train"][order0])
    back0, back1 = np.empty_like(x0), np.empty_like(x1)
    back0[order0], back1[order1] = x0, x1  # jet by jet in the split's order
    assert not np.allclose(back0, back1, atol=1e-3)
    np.testing.assert_allclose(back0[..., 0], back1[..., 0], atol=1e-6)  # pT is not touched
