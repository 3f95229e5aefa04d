"""Training-time augmentation by the jet's approximate symmetries (``train.augment``).

A jet's constituents, seen in the (eta, phi) plane relative to the jet axis, are distributed (nearly) the
same whatever the plane's orientation: the decay products of a W, Z or top point in any direction about
the axis, and a QCD jet has no preferred direction at all.  So each training epoch can show every jet
turned by a random angle about its axis (``rotation``) and mirrored (``reflect_eta``: eta -> -eta,
``reflect_phi``: phi -> -phi).  They break only what the detector and colour flow break (the beam axis
singles out eta, the magnetic field phi; neither is in l1tag's default detector).

What each feature does under them (``SYMMETRIES``, ``TURNED``, ``INVARIANT`` in features.py, beside the
feature names, so that the config schema can check them):

* ``etarel``, ``phirel``: turned / mirrored (the only features that change);
* ``pt``, ``ptrel``, ``e``, ``erel``, ``deltaR``, ``costhetarel``: unchanged (``deltaR`` is the distance to
  the axis; so the kT = pT * deltaR of every constituent, and the kT order of ``data.sort_by``, is unchanged:
  the order need not be redone after the transformation);
* anything else (absolute ``eta``, ``phi``, the momenta, ``etarot`` / ``phirot``): not defined under them,
  so a config asking for augmentation with such a feature is refused at load.

Features arrive normalised (``(x - center) / scale``, padding rows 0); the transformation is applied in
physical units and normalised again, padding rows staying 0.  NumPy only.
"""

from __future__ import annotations

import numpy as np

from l1tag.data.features import TURNED


def transform(x: np.ndarray, features, center, scale, symmetries, rng: np.random.Generator) -> np.ndarray:
    """(N, n, F) normalised jets -> the same jets, each turned by its own random angle and / or mirrored
    with probability 1/2 per reflection (``symmetries`` a subset of ``SYMMETRIES``)."""
    features = list(features)
    if not symmetries or not any(f in features for f in TURNED):
        return x
    center, scale = np.asarray(center, np.float64), np.asarray(scale, np.float64)
    real = np.any(x != 0, axis=-1)
    phys = np.asarray(x, np.float64) * scale + center
    n_jets = len(x)
    eta = phys[..., features.index("etarel")] if "etarel" in features else np.zeros(x.shape[:2])
    phi = phys[..., features.index("phirel")] if "phirel" in features else np.zeros(x.shape[:2])
    if "rotation" in symmetries:
        theta = rng.uniform(0.0, 2 * np.pi, n_jets)[:, None]
        c, s = np.cos(theta), np.sin(theta)
        eta, phi = c * eta - s * phi, s * eta + c * phi
    if "reflect_eta" in symmetries:
        eta = eta * rng.choice([-1.0, 1.0], n_jets)[:, None]
    if "reflect_phi" in symmetries:
        phi = phi * rng.choice([-1.0, 1.0], n_jets)[:, None]
    for name, values in (("etarel", eta), ("phirel", phi)):
        if name in features:
            phys[..., features.index(name)] = values
    out = (phys - center) / scale
    return np.where(real[..., None], out, 0.0).astype(np.float32)
