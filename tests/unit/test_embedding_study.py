"""The embedding study (l1tag/report/embedding_study.py) and the substructure observables it correlates with
(l1tag/data/observables.py): observables of hand-built jets, correlations by hand, a model whose embedding is
the multiplicity, and report.md's section."""

from __future__ import annotations

import json

import numpy as np
import pytest

from l1tag.data.features import FEATURE_INDEX, PARTICLE_FEATURES
from l1tag.data.observables import _tau, substructure
from l1tag.report import embedding_study as es
from l1tag.report.markdown import render_report_md


def _jets(*jets, n: int = 8) -> np.ndarray:
    """Jets of massless particles given as (pT, eta, phi), in the data stage's raw layout."""
    raw = np.zeros((len(jets), n, len(PARTICLE_FEATURES)))
    for j, parts in enumerate(jets):
        for i, (pt, eta, phi) in enumerate(parts):
            px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
            for c, v in zip(("px", "py", "pz", "e", "pt", "etarel", "phirel"),
                            (px, py, pz, np.sqrt(px * px + py * py + pz * pz), pt, eta, phi)):
                raw[j, i, FEATURE_INDEX[c]] = v
    return raw


def test_observables_of_hand_built_jets():
    two = [(500.0, 0.0, 0.2), (500.0, 0.0, -0.2)]
    three = [(400.0, 0.0, 0.2), (400.0, 0.0, -0.2), (200.0, 0.3, 0.0)]
    groomed = [(500.0, 0.0, 0.0), (20.0, 0.0, 0.5)]  # z = 0.038 < 0.1: soft drop removes the wide soft one
    o = substructure(_jets(two, three, groomed, [(500.0, 0.0, 0.0)], []))
    assert o["mass"][0] == pytest.approx(2 * 500 * np.sin(0.2))  # two massless particles at 0.4 apart in phi
    assert o["mass_sd"][0] == pytest.approx(o["mass"][0])  # z = 0.5: nothing groomed
    assert o["tau21"][0] == 0.0 and np.isnan(o["tau32"][0])  # two axes on two particles: tau2 = 0
    assert 0.0 < o["tau21"][1] < 1.0 and o["tau32"][1] == 0.0
    assert o["mass"][2] > 10.0 and o["mass_sd"][2] == pytest.approx(0.0, abs=1e-6)
    assert o["mass"][3] == pytest.approx(0.0, abs=1e-6) and np.isnan(o["tau21"][3])  # one particle: tau1 = 0
    assert all(np.isnan(o[k][4]) for k in o)  # an empty row: nothing defined


def test_tau1_of_a_symmetric_pair_by_hand():
    import fastjet as fj

    a, b = fj.PseudoJet(500.0, 0.0, 0.0, 500.0), fj.PseudoJet(0.0, 500.0, 0.0, 500.0)  # phi 0 and pi / 2
    axis = a + b  # phi pi / 4: each particle pi / 4 from it
    assert _tau([a, b], [axis], 0.8) == pytest.approx((np.pi / 4) / 0.8)


def test_correlation_by_hand():
    assert es.correlation([1, 2, 3, 4], [2, 4, 6, 8]) == pytest.approx(1.0)
    assert es.correlation([1, 2, 3, 4], [8, 6, 4, 2]) == pytest.approx(-1.0)
    assert es.correlation([1, 2, 3, np.nan, 5], [1, 2, 3, 100, 5]) == pytest.approx(1.0)  # NaN pairs dropped
    assert es.correlation([1, 1, 1], [1, 2, 3]) is None and es.correlation([1, 2], [1, 2]) is None


def test_an_embedding_that_is_the_multiplicity_is_found(tmp_path):
    """A model whose pooled embedding counts the real particles: its first component follows the
    multiplicity exactly (|r| = 1) and carries all the variance."""
    import tensorflow as tf

    n = 8
    inp = tf.keras.Input((n, 3))
    real = tf.keras.layers.Lambda(lambda t: tf.cast(t[..., :1] > 0, tf.float32))(inp)
    pooled = tf.keras.layers.GlobalAveragePooling1D(name="pool")(tf.keras.layers.Concatenate()([real, real]))
    model = tf.keras.Model(inp, tf.keras.layers.Dense(5, activation="softmax")(pooled))
    rng = np.random.default_rng(1)
    mult = rng.integers(2, n + 1, 60)
    parts = [[(rng.uniform(10, 300), rng.uniform(-0.4, 0.4), rng.uniform(-0.4, 0.4)) for _ in range(m)] for m in mult]
    raw = _jets(*parts, n=n)
    x = raw[..., [FEATURE_INDEX["pt"], FEATURE_INDEX["etarel"], FEATURE_INDEX["phirel"]]].astype(np.float32)
    y = np.arange(60) % 5
    s = es.embedding_study(model, x, y, mult, raw, png=tmp_path / "pca.png")
    assert s["jets"] == 60 and s["width"] == 2
    assert s["explained_variance"][0] == pytest.approx(1.0)
    assert abs(s["correlations"]["multiplicity"][0]) == pytest.approx(1.0)
    assert abs(s["correlations"]["mass"][0]) < 1.0
    assert (tmp_path / "pca.png").read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "embedding_study.json").write_text(json.dumps(s))
    text = render_report_md(tmp_path, {})
    assert "## Jet embedding" in text and "| multiplicity | " in text
    assert "The strongest: PC 1 with multiplicity (|r| = 1.00)." in text
