"""The 16 per-particle features of the hls4ml LHC jet dataset, computed from four-momenta.

Definitions (hls4ml dataset, ``../shared/reference/datasets.md``), per constituent of a jet with
four-momentum (Px, Py, Pz, E):

* ``px, py, pz, e``; ``pt = hypot(px, py)``; ``eta`` the pseudorapidity; ``phi`` in (-pi, pi]
* ``erel = e / E``, ``ptrel = pt / pT_jet``
* ``etarel = eta - eta_jet``, ``phirel = phi - phi_jet`` wrapped into (-pi, pi]
* ``etarot, phirot``: (etarel, phirel) rotated so that the pT-weighted principal axis of the jet's
  constituents lies along etarot
* ``deltaR = hypot(etarel, phirel)``
* ``costheta = pz / |p|``; ``costhetarel`` the cosine of the angle between the particle's and the jet's
  three-momenta

Padding rows (``pt == 0``) are all zero, as in the hls4ml files.  NumPy only.
"""

from __future__ import annotations

import numpy as np

PARTICLE_FEATURES = (
    "px", "py", "pz", "e", "erel", "pt", "ptrel", "eta", "etarel", "etarot",
    "phi", "phirel", "phirot", "deltaR", "costheta", "costhetarel",
)
# The names as stored in hls4ml files (17: the 16 columns plus j1_pdgid, which has no column).
HLS4ML_PARTICLE_NAMES = tuple(f"j1_{n}" for n in PARTICLE_FEATURES) + ("j1_pdgid",)
FEATURE_INDEX = {name: i for i, name in enumerate(PARTICLE_FEATURES)}

# train.augment (l1tag/data/augment.py): the jet's approximate symmetries, the features they turn, and the
# features they leave unchanged; any other feature is not defined under them
SYMMETRIES = ("rotation", "reflect_eta", "reflect_phi")
TURNED = ("etarel", "phirel")
INVARIANT = ("pt", "ptrel", "e", "erel", "deltaR", "costhetarel")


def unsupported_features(features) -> list[str]:
    """The features of ``features`` that the symmetries of ``SYMMETRIES`` do not act on in a known way."""
    return [f for f in features if f not in TURNED + INVARIANT]


CLASSES = ("g", "q", "w", "z", "t")
# hls4ml's label columns: the last six columns of `jets`.
LABEL_NAMES = ("j_g", "j_q", "j_w", "j_z", "j_t", "j_undef")


# Derived features (not hls4ml columns; the data stage computes them from px, py, pz, e): each constituent's
# four-momentum in the jet's rest frame, boosted along the jet's momentum.  Lorentz invariants keep their
# values and the components shrink from the jet's energy (~1 TeV) to its mass (~100 GeV), so the pair
# invariants p_i . p_j stop cancelling in a fixed-point type (lgatr_slim, l1tag/kinds/lgatr_slim.py).  Like
# etarel and phirel they need the jet's four-momentum, which the trigger's jet stage supplies.
REST_FRAME = ("erest", "pxrest", "pyrest", "pzrest")
FEATURES = PARTICLE_FEATURES + REST_FRAME  # every name data.features may hold
# the four-momentum as (E, px, py, pz), in the rest frame or the lab: what a Lorentz-equivariant kind reads
MOMENTUM_SETS = (REST_FRAME, ("e", "px", "py", "pz"))


def momentum_columns(features) -> list[int] | None:
    """Columns of ``features`` holding a whole four-momentum (E, px, py, pz) of MOMENTUM_SETS (the rest frame's
    first), or None."""
    features = list(features)
    for names in MOMENTUM_SETS:
        if all(f in features for f in names):
            return [features.index(f) for f in names]
    return None


def rest_frame(p4: np.ndarray, jet_p4: np.ndarray) -> np.ndarray:
    """(N, C, 4) four-momenta (px, py, pz, e), zero-padded, boosted into the rest frame of their jet ``jet_p4``
    (N, 4) -> (N, C, 4) as (E, px, py, pz); padding rows stay zero.  A pure boost along the jet's momentum."""
    p4 = np.asarray(p4, dtype=np.float64)
    jet = np.asarray(jet_p4, dtype=np.float64)
    pj, ej = jet[:, None, :3], jet[:, None, 3:4]
    mass = np.sqrt(np.maximum(ej**2 - np.sum(pj**2, axis=-1, keepdims=True), 1e-12))
    beta = pj / np.maximum(ej, 1e-12)  # (N, 1, 3)
    gamma = ej / mass
    b2 = np.sum(beta**2, axis=-1, keepdims=True)
    p, e = p4[..., :3], p4[..., 3:4]
    bp = np.sum(beta * p, axis=-1, keepdims=True)
    e_rest = gamma * (e - bp)
    p_rest = p + np.where(b2 > 0, (gamma - 1) * bp / np.maximum(b2, 1e-30), 0.0) * beta - gamma * e * beta
    out = np.concatenate([e_rest, p_rest], axis=-1)
    out[~np.any(p4 != 0, axis=-1)] = 0.0
    return out


def wrap_phi(dphi: np.ndarray) -> np.ndarray:
    """Wrap an angle difference into (-pi, pi]."""
    return np.pi - np.mod(np.pi - dphi, 2 * np.pi)


def pseudorapidity(px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> np.ndarray:
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pt > 0, np.arcsinh(np.divide(pz, pt, out=np.zeros_like(pz), where=pt > 0)), 0.0)


def constituent_features(p4: np.ndarray, jet_p4: np.ndarray | None = None) -> np.ndarray:
    """(N, C, 4) four-momenta (px, py, pz, e), zero-padded -> (N, C, 16) features in hls4ml order.

    ``jet_p4`` (N, 4) is the jet four-momentum; by default the sum of the given constituents (which
    is the jet itself unless its constituent list was truncated).
    """
    p4 = np.asarray(p4, dtype=np.float64)
    if p4.ndim != 3 or p4.shape[-1] != 4:
        raise ValueError(f"expected four-momenta of shape (jets, constituents, 4), got {p4.shape}")
    px, py, pz, e = (p4[..., k] for k in range(4))
    pt = np.hypot(px, py)
    mask = pt > 0
    jet = p4.sum(axis=1) if jet_p4 is None else np.asarray(jet_p4, dtype=np.float64)  # (N, 4)
    jpx, jpy, jpz, je = (jet[:, k : k + 1] for k in range(4))
    jpt = np.hypot(jpx, jpy)
    jeta = pseudorapidity(jpx, jpy, jpz)
    jphi = np.arctan2(jpy, jpx)

    eta = pseudorapidity(px, py, pz)
    phi = np.arctan2(py, px)
    etarel = np.where(mask, eta - jeta, 0.0)
    phirel = np.where(mask, wrap_phi(phi - jphi), 0.0)

    # principal axis of the pT-weighted (etarel, phirel) cloud
    w = np.where(mask, pt, 0.0)
    sw = np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    cee = (w * etarel * etarel).sum(axis=1, keepdims=True) / sw
    cpp = (w * phirel * phirel).sum(axis=1, keepdims=True) / sw
    cep = (w * etarel * phirel).sum(axis=1, keepdims=True) / sw
    angle = 0.5 * np.arctan2(2 * cep, cee - cpp)
    etarot = np.cos(angle) * etarel + np.sin(angle) * phirel
    phirot = -np.sin(angle) * etarel + np.cos(angle) * phirel

    pmod = np.sqrt(px**2 + py**2 + pz**2)
    jmod = np.sqrt(jpx**2 + jpy**2 + jpz**2)
    safe = np.where(pmod > 0, pmod, 1.0)
    costheta = np.where(mask, pz / safe, 0.0)
    costhetarel = np.where(mask, (px * jpx + py * jpy + pz * jpz) / (safe * np.maximum(jmod, 1e-12)), 0.0)

    cols = {
        "px": px, "py": py, "pz": pz, "e": e,
        "erel": e / np.maximum(je, 1e-12), "pt": pt, "ptrel": pt / np.maximum(jpt, 1e-12),
        "eta": np.where(mask, eta, 0.0), "etarel": etarel, "etarot": np.where(mask, etarot, 0.0),
        "phi": np.where(mask, phi, 0.0), "phirel": phirel, "phirot": np.where(mask, phirot, 0.0),
        "deltaR": np.hypot(etarel, phirel), "costheta": costheta, "costhetarel": costhetarel,
    }
    out = np.stack([cols[n] for n in PARTICLE_FEATURES], axis=-1)
    out[~mask] = 0.0
    return out


def jet_kinematics(p4: np.ndarray) -> dict[str, np.ndarray]:
    """Jet-level pt, eta, phi, mass, energy and multiplicity from (N, C, 4) zero-padded constituents."""
    jet = np.asarray(p4, dtype=np.float64).sum(axis=1)
    px, py, pz, e = jet.T
    m2 = e**2 - px**2 - py**2 - pz**2
    return {
        "j_pt": np.hypot(px, py),
        "j_eta": pseudorapidity(px, py, pz),
        "j_phi": np.arctan2(py, px),
        "j_mass": np.sqrt(np.maximum(m2, 0.0)),
        "j_energy": e,
        "j_multiplicity": (np.hypot(p4[..., 0], p4[..., 1]) > 0).sum(axis=1).astype(np.float64),
    }
