"""L-GATr-slim (l1tag/kinds/lgatr_slim.py): the Lorentz tie of each layer, the rest frame, the model's
invariance, and its config refusals."""

from __future__ import annotations

import numpy as np
import pytest
from taggers import MOMENTUM_NORMALISATION, kind_config

from l1tag.config import config_from_dict
from l1tag.errors import ConfigError
from l1tag.kinds.lgatr_slim import (CONTRACT, GATE, LINEAR, METRIC, METRIC_KEY, Layout, bias_tying, boost,
                                    free_parameters, kernel_tying, minkowski, rotation, tie)

RNG = np.random.default_rng(7)


LAMBDA = rotation(0.7, [0.3, 0.1, 1.0]) @ boost(0.6, [0.3, 0.1, 1.0])


def transform(x: np.ndarray, layout: Layout, lam: np.ndarray) -> np.ndarray:
    """Apply ``lam`` to every vector of rows laid out as ``layout``."""
    out = np.array(x, dtype=np.float64)
    for cols in layout.columns()[1]:
        out[..., cols] = x[..., cols] @ lam.T
    return out


def test_the_matrices_are_lorentz_transformations():
    for lam in (boost(0.6, [1, 2, 3]), rotation(1.1, [0, 1, 1]), LAMBDA):
        np.testing.assert_allclose(lam.T @ np.diag(METRIC) @ lam, np.diag(METRIC), atol=1e-12)


def test_the_layout_puts_whole_vectors_in_each_head():
    scal, vec = Layout(4, 2, heads=2).columns()
    assert scal.tolist() == [0, 1, 6, 7] and vec.tolist() == [[2, 3, 4, 5], [8, 9, 10, 11]]
    with pytest.raises(ValueError, match="do not split into 2 heads"):
        Layout(3, 2, heads=2)


def test_a_linear_tie_commutes_with_lorentz_transformations():
    into, out = Layout(3, 2), Layout(4, 3, heads=1)
    w = tie(RNG.normal(size=(into.width, out.width)), *kernel_tying(into, out, LINEAR))
    b = tie(RNG.normal(size=out.width), *bias_tying(out, LINEAR, into))
    x = RNG.normal(size=(5, into.width))
    np.testing.assert_allclose(transform(x, into, LAMBDA) @ w + b, transform(x @ w + b, out, LAMBDA), atol=1e-10)
    assert free_parameters(kernel_tying(into, out, LINEAR)[0]) == 3 * 4 + 2 * 3


def test_the_metric_tie_makes_dot_products_minkowski_products():
    layout = Layout(2, 2, heads=2)
    wq = tie(RNG.normal(size=(layout.width,) * 2), *kernel_tying(layout, layout, LINEAR))
    wk = tie(RNG.normal(size=(layout.width,) * 2), *kernel_tying(layout, layout, METRIC_KEY))
    x, y = RNG.normal(size=(6, layout.width)), RNG.normal(size=(6, layout.width))
    scores = (x @ wq) @ (y @ wk).T
    moved = (transform(x, layout, LAMBDA) @ wq) @ (transform(y, layout, LAMBDA) @ wk).T
    np.testing.assert_allclose(moved, scores, atol=1e-9)
    wk_plain = tie(RNG.normal(size=(layout.width,) * 2), *kernel_tying(layout, layout, LINEAR))
    plain = (transform(x, layout, LAMBDA) @ wq) @ (transform(y, layout, LAMBDA) @ wk_plain).T
    assert np.abs(plain - (x @ wq) @ (y @ wk_plain).T).max() > 0.1  # without the metric: Euclidean, not invariant


def test_gates_and_contractions_are_invariant():
    stream, vec, scal = Layout(3, 2), Layout(0, 2), Layout(5, 0)
    gate = tie(RNG.normal(size=(stream.width, vec.width)), *kernel_tying(stream, vec, GATE))
    norm = tie(RNG.normal(size=(vec.width, scal.width)), *kernel_tying(vec, scal, CONTRACT))
    x = RNG.normal(size=(4, stream.width))
    moved = transform(x, stream, LAMBDA)
    np.testing.assert_allclose(moved @ gate, x @ gate, atol=1e-10)  # a gate reads scalars only
    g = x @ gate
    assert np.all(g[:, 0:4] == g[:, :1])  # one gate per channel, on its four components
    v = x[:, stream.columns()[1].ravel()]
    v_moved = moved[:, stream.columns()[1].ravel()]
    np.testing.assert_allclose((v_moved * v_moved) @ norm, (v * v) @ norm, atol=1e-9)


def test_the_time_reference_reads_the_energy_only():
    into, out = Layout(0, 1), Layout(2, 1)
    group, _ = kernel_tying(into, out, LINEAR, time_reference=True)
    scal = out.columns()[0]
    assert (group[0, scal] >= 0).all() and (group[1:, scal] < 0).all()
    assert (bias_tying(out, LINEAR, into, time_reference=True)[0][scal] >= 0).all()
    assert (bias_tying(out, LINEAR, into)[0][scal] < 0).all()  # no input reaches them: no constant either


def test_the_keras_constraint_is_the_numpy_tie():
    import tensorflow as tf

    from l1tag.models.layers.lorentz import TiedWeights

    into, out = Layout(2, 2, heads=2), Layout(2, 2, heads=2)
    group, sign = kernel_tying(into, out, METRIC_KEY)
    w = RNG.normal(size=group.shape)
    c = TiedWeights(group, sign)
    got = c(tf.constant(w, tf.float32)).numpy()
    np.testing.assert_allclose(got, tie(w, group, sign), atol=1e-6)
    np.testing.assert_allclose(c(tf.constant(got)).numpy(), got, atol=1e-6)  # a projection
    assert TiedWeights(**c.get_config()).free_parameters() == c.free_parameters() == free_parameters(group)


def test_the_rest_frame_holds_the_jet_at_rest_and_keeps_invariants():
    from l1tag.data.features import rest_frame

    mom = np.array([0.3, 0.2, 1.0]) + RNG.normal(0, 0.05, (3, 10, 3))
    mom *= RNG.uniform(1, 100, (3, 10, 1))
    p4 = np.concatenate([mom, np.linalg.norm(mom, axis=-1, keepdims=True)], -1)  # (px, py, pz, e), massless
    p4[:, -2:] = 0.0  # padding
    jet = p4.sum(axis=1)
    rest = rest_frame(p4, jet)
    mass = np.sqrt(jet[:, 3] ** 2 - np.sum(jet[:, :3] ** 2, axis=-1))
    np.testing.assert_allclose(rest.sum(axis=1), np.stack([mass, 0 * mass, 0 * mass, 0 * mass], -1), atol=1e-9)
    lab = p4[..., [3, 0, 1, 2]]
    np.testing.assert_allclose(minkowski(rest[:, :, None], rest[:, None]), minkowski(lab[:, :, None], lab[:, None]),
                               rtol=1e-9, atol=1e-9)
    assert not rest[:, -2:].any()


def _model(quantized: bool):
    from l1tag.models.builders import build_model

    cfg = config_from_dict({"name": "l", **kind_config("lgatr_slim", 4)})
    model = build_model(cfg.model, 8, 4, cfg.quantization if quantized else None,
                        normalisation=MOMENTUM_NORMALISATION)
    return cfg, model


AXIS = np.array([0.3, 0.1, 1.0])  # the jets' axis


def _lab_jets(rng) -> np.ndarray:
    """Massless constituents (px, py, pz, e) about AXIS: 64 jets of 6 particles and 2 padding rows."""
    mom = AXIS / np.linalg.norm(AXIS) + rng.normal(0, 0.1, (64, 6, 3))
    mom *= rng.uniform(5, 200, (64, 6, 1))
    p = np.concatenate([mom, np.linalg.norm(mom, axis=-1, keepdims=True)], -1)
    return np.concatenate([p, np.zeros((64, 2, 4))], axis=1)


def _inputs(lab: np.ndarray, lam: np.ndarray | None = None) -> np.ndarray:
    """The tagger's inputs: the (transformed) lab momenta in their jet's rest frame, scaled as the data stage."""
    from l1tag.data.features import rest_frame

    if lam is not None:  # lam acts on (E, px, py, pz); the lab layout is (px, py, pz, e)
        order, back = [3, 0, 1, 2], [1, 2, 3, 0]
        lab = (lab[..., order] @ lam.T)[..., back]
    return (rest_frame(lab, lab.sum(axis=1)) / MOMENTUM_NORMALISATION[2][0]).astype(np.float32)


def test_the_tagger_is_invariant_under_a_boost_along_the_jet_axis_and_a_rotation_about_it():
    """Lab momenta -> rest frame -> tagger: a boost along the jet axis and a rotation about it (the data stage's
    frame follows the jet) leave the float tagger's output unchanged up to float32.  The tagger itself is
    invariant under any rotation of its inputs; a boost of the rest-frame inputs alone changes it (the time
    reference, the jet's four-velocity, breaks that symmetry on purpose).  The quantized tagger rounds each
    component on its own grid: its change is bounded and reported."""
    import tensorflow as tf

    from l1tag.models.layers.lorentz import tie_all

    tf.keras.utils.set_random_seed(4)
    rng = np.random.default_rng(4)  # its own draws: the tagger does not depend on the tests run before
    _, model = _model(quantized=False)
    model.set_weights([w + rng.normal(0, 0.3, w.shape) for w in model.get_weights()])
    tie_all(model)  # perturbed, then tied again
    lab = _lab_jets(rng)
    x = _inputs(lab)
    a = model.predict(x, verbose=0)
    assert a.std(axis=0).max() > 1e-3  # the answer varies from jet to jet
    for j in range(4):  # each jet about its own axis
        jet_axis = lab[j].sum(axis=0)[:3]
        for lam in (boost(0.6, jet_axis), rotation(0.9, jet_axis), rotation(0.9, jet_axis) @ boost(-0.4, jet_axis)):
            np.testing.assert_allclose(model.predict(_inputs(lab[j:j + 1], lam), verbose=0), a[j:j + 1], atol=2e-5)
    # the tagger alone: any rotation of its inputs, but not a boost
    stream = Layout(0, 1)
    turned = transform(x, stream, rotation(1.3, [1.0, -2.0, 0.5])).astype(np.float32)
    np.testing.assert_allclose(model.predict(turned, verbose=0), a, atol=2e-5)
    boosted = transform(x, stream, boost(0.5, [1.0, 0.0, 0.0])).astype(np.float32)
    assert np.abs(model.predict(boosted, verbose=0) - a).max() > 1e-3

    _, qat = _model(quantized=True)
    qat.set_weights(model.get_weights())
    b = qat.predict(x, verbose=0)
    change = np.abs(qat.predict(turned, verbose=0) - b).max()
    assert 0 < change < 0.5  # rounding breaks exact invariance, but not the tagger


def test_tied_layers_count_their_free_parameters():
    from l1tag.models.cost import closed_form_parameters, model_cost

    cfg, model = _model(quantized=False)
    m = cfg.model
    closed = closed_form_parameters("lgatr_slim", 8, 4, m.d_model, m.heads, m.partitions, m.ffn_dim, m.blocks,
                                    None, m.head_dims, m.classes, vectors=m.vectors)
    assert closed == model_cost(model)["parameters"] < model.count_params()


BASE = {"name": "l", "model": {"type": "lgatr_slim", "d_model": 16, "vectors": 2, "heads": 2},
        "data": {"features": ["erest", "pxrest", "pyrest", "pzrest"], "normalization": "momentum"}}


@pytest.mark.parametrize("change, message", [
    ({"data": {"features": ["pt", "etarel", "phirel"], "normalization": "momentum"}},
     "holds no whole one: set data.features: \\[erest, pxrest, pyrest, pzrest\\]"),
    ({"data": {"features": ["erest", "pxrest", "pyrest", "pzrest"], "normalization": "robust"}},
     "breaks Lorentz equivariance; set data.normalization: momentum"),
    ({"model": {"type": "lgatr_slim", "d_model": 16, "vectors": 4, "heads": 2}}, "leaves 0 scalars"),
    ({"model": {"type": "lgatr_slim", "d_model": 16, "vectors": 3, "heads": 2}}, "must each divide into"),
    ({"train": {"low_rank": {"strength": 0.1}}}, "would lose its Lorentz tie"),
    ({"model": {"type": "salt"}}, "data.normalization momentum is for the Lorentz-equivariant kinds"),
])
def test_bad_lorentz_settings_are_refused_at_load(change, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict({**BASE, **change})
    config_from_dict(BASE)  # the base itself loads
