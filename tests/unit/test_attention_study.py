"""The attention study (l1tag/report/attention_study.py): its row statistics by hand, the ablation hook of
every attention kind, the collapse flag and report.md's words."""

from __future__ import annotations

import math

import numpy as np
import pytest

from l1tag import kinds
from l1tag.report import attention_study as study
from l1tag.report.markdown import render_report_md
from tests.unit.taggers import kind_inputs, perturbed_tagger


def test_row_statistics_by_hand():
    one_hot = np.eye(4)[[0, 2, 1, 3]]  # (4 rows, 4 keys)
    uniform = np.full((4, 4), 0.25)
    halves = np.tile([0.6, 0.4, 0.0, 0.0], (4, 1))
    # jet 0: head 0 one-hot, head 1 uniform; jet 1: head 0 "halves" on its 2 real rows, uniform padding rows
    a = np.stack([np.stack([one_hot, uniform]), np.stack([np.concatenate([halves[:2], uniform[:2]]), uniform])])
    rows = study.row_statistics(a, multiplicity=np.array([10, 2]))  # 10 > n: all 4 rows real
    h0, h1 = rows
    # head 0: 4 one-hot rows and 2 rows of max 0.6 (the padding rows of jet 1 are left out)
    assert h0["rows_max_over_0.5"] == pytest.approx(1.0)
    assert h0["rows_max_over_0.9"] == pytest.approx(4 / 6)
    assert h0["mean_max"] == pytest.approx((4 * 1.0 + 2 * 0.6) / 6)
    h_halves = -(0.6 * math.log(0.6) + 0.4 * math.log(0.4))
    assert h0["entropy_over_uniform"] == pytest.approx(2 * h_halves / 6 / math.log(4))
    # head 1: uniform everywhere
    assert h1["rows_max_over_0.5"] == 0.0 and h1["rows_max_over_0.9"] == 0.0
    assert h1["entropy_over_uniform"] == pytest.approx(1.0)
    # one key: no entropy to speak of
    assert study.row_statistics(np.ones((1, 1, 3, 1)), np.array([3]))[0]["entropy_over_uniform"] is None


ATTENTION_KINDS = [k.name for k in kinds.attention_kinds()]  # part: full attention with the pair bias


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_fixed_attention_replaces_the_softmax(kind):
    """One jet's own attention as the fixed weights gives its own output; uniform weights change it."""
    model, _, rng = perturbed_tagger(kind)
    scale = 0.3 if kinds.get(kind).momentum else 1.0  # scaled rest-frame momenta: larger ones saturate the stream
    x = rng.normal(0, scale, (3, 8, kind_inputs(kind)[0])).astype("float32")
    (layer,) = study.attention_layers(model)
    before = np.asarray(model(x, training=False))
    import tensorflow as tf

    upstream = tf.keras.Model(model.input, layer.input)
    own = layer.attention_maps(upstream(x[:1], training=False))["softmax"][0]
    layer.fixed_attention = own
    try:
        np.testing.assert_array_equal(np.asarray(model(x[:1], training=False)), before[:1])
        layer.fixed_attention = np.full_like(own, 1.0 / own.shape[-1])
        assert not np.array_equal(np.asarray(model(x[:1], training=False)), before[:1])
    finally:
        layer.fixed_attention = None
    np.testing.assert_array_equal(np.asarray(model(x, training=False)), before)  # and it is undone


def test_study_of_one_jet_is_collapsed_and_of_many_is_measured():
    model, _, rng = perturbed_tagger("salt", seed=5)  # a tagger whose answers vary from jet to jet
    x = rng.normal(0, 1, (200, 8, 3)).astype("float32")
    y = np.asarray(model(x, training=False)).argmax(axis=1)  # labels the model gets right: accuracy 1
    assert len(set(y)) >= 3
    one = study.attention_study(model, x, y, np.full(200, 8), jets=1)
    assert one["jets"] == 1 and one["accuracy"] == 1.0
    (layer,) = one["layers"]
    # the average over one jet is that jet's attention: nothing changes, the flag says so
    assert layer["ablation_drop_points"] == 0.0 and layer["collapsed"]
    many = study.attention_study(model, x, y, np.full(200, 8))
    (layer,) = many["layers"]
    assert many["jets"] == 200 and layer["kind"] == "salt" and layer["keys"] == 2 and len(layer["heads"]) == 2
    assert layer["accuracy_uniform_ablation"] < 1.0  # the perturbed tagger's attention does matter
    assert layer["ablation_drop_points"] == pytest.approx(100 * (1.0 - layer["accuracy_uniform_ablation"]))
    assert layer["collapsed"] == (layer["ablation_drop_points"] < study.COLLAPSE_POINTS)


def _study(collapsed: bool, drop: float) -> dict:
    heads = [{"rows_max_over_0.5": 0.25, "rows_max_over_0.9": 0.05, "mean_max": 0.41, "entropy_over_uniform": 0.8}]
    return {"jets": 3000, "accuracy": 0.65, "collapse_points": 0.5,
            "layers": [{"layer": "att0", "kind": "salt", "keys": 4, "heads": heads, "collapsed": collapsed,
                        "accuracy_uniform_ablation": 0.65 - drop / 100, "ablation_drop_points": drop}]}


def test_report_md_flags_a_collapsed_attention_in_words(tmp_path):
    (tmp_path / "plots").mkdir()
    path = tmp_path / "plots" / "attention_study.json"
    import json

    path.write_text(json.dumps(_study(True, 0.2)))
    text = render_report_md(tmp_path, {})
    assert "## Attention: sparsity and ablation" in text
    assert "| 0 | 25.0 % | 5.0 % | 0.41 | 0.80 |" in text
    assert "accuracy 64.80 % (-0.20 points)" in text
    assert "**Collapsed attention:**" in text
    path.write_text(json.dumps(_study(False, 3.0)))
    text = render_report_md(tmp_path, {})
    assert "accuracy 62.00 % (-3.00 points)" in text and "Collapsed" not in text
    path.unlink()
    assert "Attention: sparsity" not in render_report_md(tmp_path, {})


@pytest.mark.parametrize("kind", ["salt", "linformer", "transformer"])
def test_the_projection_matrix_carries_the_attention_to_the_particles(kind):
    """A K' = (A P) K: the softmax weights times the projection are the weights on the key particles."""
    import tensorflow as tf

    model, _, rng = perturbed_tagger(kind)
    (layer,) = study.attention_layers(model)
    p = study.projection_matrix(layer)
    assert p.shape == (2, layer.attention_shape().m, 8)
    if kind == "transformer":
        np.testing.assert_array_equal(p, np.broadcast_to(np.eye(8), p.shape))
    k = rng.normal(0, 1, (1, 2, 8, layer.head_dim)).astype(np.float32)
    kp, _ = layer._project(tf.constant(k), tf.constant(k))
    np.testing.assert_allclose(np.asarray(kp)[0], np.einsum("hjl,hld->hjd", p, k[0]), atol=1e-5)
    a = rng.dirichlet(np.ones(p.shape[1]), size=(3, 2, 8))  # (jets, heads, n, m)
    np.testing.assert_allclose(np.einsum("bhij,hjd->bhid", a, np.asarray(kp)[0]),
                               np.einsum("bhil,hld->bhid", study.effective_weights(a, p), k[0]), atol=1e-5)


def test_partner_statistics_by_hand():
    from l1tag.data.features import FEATURE_INDEX, PARTICLE_FEATURES

    raw = np.zeros((1, 3, len(PARTICLE_FEATURES)))
    raw[0, :, FEATURE_INDEX["etarel"]] = [0.0, 0.3, 0.0]
    raw[0, :, FEATURE_INDEX["phirel"]] = [0.0, 0.0, 0.4]
    raw[0, :, FEATURE_INDEX["pt"]] = [100.0, 20.0, 50.0]
    w = np.zeros((1, 1, 3, 3))
    w[0, 0, 0] = [0.2, 0.6, 0.2]  # particle 2 is padding (multiplicity 2): 0.2 on itself, 0.6 on particle 1
    w[0, 0, 1] = [0.0, 1.0, 0.0]  # all on itself
    out = study.partner_statistics(w, raw, np.array([2]), np.array([3]))
    (cls,) = out["classes"]
    r = out["classes"][cls]
    assert cls == "z" and r["queries"] == 2
    # query 0: weights 0.25 / 0.75 after the padding is dropped; partner dR 0.75 x 0.3; query 1: dR 0
    assert r["mean_partner_dr"] == pytest.approx((0.75 * 0.3 + 0.0) / 2)
    assert r["self_share"] == pytest.approx((0.25 + 1.0) / 2)
    assert r["uniform_partner_dr"] == pytest.approx(0.3 / 2)  # each real particle: (0 + 0.3) / 2
    # ln kT over the partners other than itself: query 0's only one is particle 1, kT = 20 x 0.3; query 1 has
    # none and is left out of that mean
    assert r["mean_partner_log_kt"] == pytest.approx(np.log(20 * 0.3))
    np.testing.assert_allclose(out["per_query"]["z"], [0.225, 0.0])


def test_favourite_partners_skip_the_particle_itself_and_the_padding():
    w = np.zeros((2, 4, 4))
    w[0, 0] = [0.9, 0.05, 0.05, 0.0]  # itself most: its partner is the next largest, particle 1 (0.05 + 0.3)
    w[1, 0] = [0.0, 0.3, 0.0, 0.7]  # particle 3 is padding (multiplicity 3)
    w[0, 1] = [0.1, 0.0, 0.2, 0.7]
    w[1, 2] = [-0.8, 0.1, 0.0, 0.0]  # magnitudes: a negative weight (through a projection) counts too
    assert study.favourite_partners(w, 3) == [(0, 1), (1, 2), (2, 0)]
    assert study.favourite_partners(w, 3, leading=1) == [(0, 1)]
    assert study.favourite_partners(w, 1) == []  # one particle has no partner


def test_the_partner_maps_draw_one_jet_per_class(tmp_path):
    from l1tag.data.features import FEATURE_INDEX, PARTICLE_FEATURES

    rng = np.random.default_rng(0)
    raw = np.zeros((5, 6, len(PARTICLE_FEATURES)))
    for f in ("etarel", "phirel"):
        raw[..., FEATURE_INDEX[f]] = rng.uniform(-0.5, 0.5, (5, 6))
    raw[..., FEATURE_INDEX["pt"]] = rng.uniform(1, 100, (5, 6))
    out = study.partner_maps(rng.dirichlet(np.ones(6), size=(5, 2, 6)), raw, np.full(5, 6), np.arange(5), "att0",
                             tmp_path / "maps.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
