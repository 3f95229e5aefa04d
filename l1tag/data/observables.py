"""Jet substructure observables of the constituents a tagger sees, for the report's embedding study.

From the test jets' constituents in physical units (the data stage's ``raw_test``: the n constituents kept,
hls4ml layout, padding rows zero), per jet:

* ``mass``: the invariant mass of the n constituents' four-momenta;
* ``mass_sd``: their soft-drop mass (beta = 0, z_cut = 0.1, C/A reclustering: the generator's
  ``softdrop_mass``, which the generated files store as ``j_mass_sd`` over every constituent);
* ``tau21``, ``tau32``: N-subjettiness ratios (Thaler, Van Tilburg, JHEP 03 (2011) 015) with beta = 1,
  R0 = the jet radius and exclusive-kT axes: tau_N = sum_k pT_k min_a dR(k, a) / (sum_k pT_k R0), the axes
  the N exclusive kT jets of the constituents (FastJet; dR in rapidity and azimuth).  Undefined (NaN) where
  tau_(N-1) is zero, i.e. jets of fewer than N constituents.

Computed from the n constituents the tagger reads (n = 32 by default), not from the whole jet: they describe
its input.  FastJet runs per jet: about 0.5 ms each.
"""

from __future__ import annotations

import numpy as np

from l1tag.data.features import FEATURE_INDEX
from l1tag.data.generate import GeneratorSettings, softdrop_mass

OBSERVABLES = ("mass", "mass_sd", "tau21", "tau32")
P4 = tuple(FEATURE_INDEX[c] for c in ("px", "py", "pz", "e"))
KT_AXES_RADIUS = 1000.0  # exclusive kT clustering: every constituent ends in one of the N axes


def _tau(particles, axes, radius: float) -> float:
    """tau_N of ``particles`` (PseudoJets) about ``axes`` (beta = 1, R0 = ``radius``)."""
    pt = np.array([p.pt() for p in particles])
    dr = np.array([[p.delta_R(a) for a in axes] for p in particles]).min(axis=1)
    return float(np.sum(pt * dr) / (np.sum(pt) * radius))


def substructure(raw: np.ndarray, settings: GeneratorSettings = GeneratorSettings()) -> dict[str, np.ndarray]:
    """``OBSERVABLES`` of each jet of ``raw`` (jets, n, features in the hls4ml layout), float64 arrays."""
    import fastjet as fj

    fj._swig.ClusterSequence.set_fastjet_banner_stream(None)  # cited in docs/data.md instead
    raw = np.asarray(raw, dtype=np.float64)
    out = {name: np.full(len(raw), np.nan) for name in OBSERVABLES}
    kt = fj.JetDefinition(fj.kt_algorithm, KT_AXES_RADIUS)
    for j, jet in enumerate(raw):
        p4 = jet[:, list(P4)]
        p4 = p4[p4[:, 3] > 0]
        if not len(p4):
            continue
        total = p4.sum(axis=0)
        out["mass"][j] = np.sqrt(max(total[3] ** 2 - np.sum(total[:3] ** 2), 0.0))
        particles = [fj.PseudoJet(*map(float, v)) for v in p4]
        out["mass_sd"][j] = softdrop_mass(particles, settings, fj)
        cs = fj.ClusterSequence(particles, kt)
        tau = [_tau(particles, cs.exclusive_jets(k), settings.jet_radius) if len(particles) >= k else 0.0
               for k in (1, 2, 3)]
        with np.errstate(divide="ignore", invalid="ignore"):
            out["tau21"][j] = tau[1] / tau[0] if tau[0] > 0 else np.nan
            out["tau32"][j] = tau[2] / tau[1] if tau[1] > 0 else np.nan
    return out
