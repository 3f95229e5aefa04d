"""``l1tag data inspect``: what is in a jet file, and whether its physics is sane.

Printed and returned as a dict: jets per class, constituent multiplicity, (soft-drop) jet mass per
class, feature ranges, and the consistency checks also asserted in the tests:
pt == hypot(px, py) and deltaR == hypot(etarel, phirel) per constituent; W, Z, top mass windows;
gluon jets have more constituents than quark jets.
"""

from __future__ import annotations

import numpy as np

from l1tag.data.features import CLASSES, FEATURE_INDEX, PARTICLE_FEATURES, jet_kinematics
from l1tag.data.readers import JetSample, read_hls4ml

# Median ungroomed jet-mass windows (GeV) at pT ~ 1 TeV; measured here with all visible particles:
# W ~97, Z ~106, top ~190 (../shared/reference/datasets.md).
MASS_WINDOWS = {"w": (70.0, 110.0), "z": (80.0, 120.0), "t": (150.0, 210.0)}


def _four_momenta(c: np.ndarray) -> np.ndarray:
    return c[..., [FEATURE_INDEX[k] for k in ("px", "py", "pz", "e")]].astype(np.float64)


def summarize(sample: JetSample) -> dict:
    """Per-class counts, multiplicity and mass, feature ranges and physics checks of a sample."""
    c = sample.constituents
    real = c[..., FEATURE_INDEX["pt"]] > 0
    mult = sample.jet_features.get("j_multiplicity", real.sum(axis=1).astype(float))
    mass = sample.jet_features.get("j_mass")
    if mass is None:
        mass = jet_kinematics(_four_momenta(c))["j_mass"]
    mass_sd = sample.jet_features.get("j_mass_sd")
    per_class = {}
    for k, name in enumerate(CLASSES):
        sel = sample.labels == k
        entry = {"jets": int(sel.sum())}
        if sel.any():
            entry.update(multiplicity_mean=float(mult[sel].mean()), mass_median_gev=float(np.median(mass[sel])))
            if mass_sd is not None:
                entry["mass_sd_median_gev"] = float(np.median(mass_sd[sel]))
        per_class[name] = entry
    pt, px, py = (c[..., FEATURE_INDEX[k]].astype(np.float64) for k in ("pt", "px", "py"))
    dr, er, pr = (c[..., FEATURE_INDEX[k]].astype(np.float64) for k in ("deltaR", "etarel", "phirel"))
    checks = {
        "max_abs_pt_minus_hypot_px_py_gev": float(np.abs(pt - np.hypot(px, py))[real].max(initial=0.0)),
        "max_abs_deltaR_minus_hypot_etarel_phirel": float(np.abs(dr - np.hypot(er, pr))[real].max(initial=0.0)),
    }
    verdicts = {}
    for cls, (lo, hi) in MASS_WINDOWS.items():
        m = per_class[cls].get("mass_median_gev")
        if m is not None:
            verdicts[f"{cls}_mass_median_in_{lo:.0f}_{hi:.0f}_gev"] = bool(lo <= m <= hi)
    if per_class["g"]["jets"] and per_class["q"]["jets"]:
        verdicts["gluon_jets_have_more_constituents_than_quark_jets"] = bool(
            per_class["g"]["multiplicity_mean"] > per_class["q"]["multiplicity_mean"])
    ranges = {}
    for i, name in enumerate(PARTICLE_FEATURES):
        col = c[..., i][real]
        ranges[name] = [float(col.min()), float(col.max())] if col.size else [0.0, 0.0]
    return {
        "source": sample.source, "jets": len(sample), "constituents_stored": int(c.shape[1]),
        "multiplicity_mean": float(mult.mean()), "per_class": per_class, "feature_ranges": ranges,
        "consistency": checks, "physics_checks": verdicts,
    }


def inspect_file(path: str) -> dict:
    """Read a file in the hls4ml layout (raises DataError if malformed) and summarise it."""
    return summarize(read_hls4ml(path))


def format_summary(s: dict) -> str:
    lines = [f"{s['source']}: {s['jets']} jets, {s['constituents_stored']} constituents stored per jet, "
             f"mean multiplicity {s['multiplicity_mean']:.1f}", "",
             f"{'class':<6}{'jets':>8}{'mult. mean':>12}{'mass median':>13}{'SD mass median':>16}"]
    for name, e in s["per_class"].items():
        if e["jets"]:
            sd = f"{e['mass_sd_median_gev']:.1f}" if "mass_sd_median_gev" in e else "-"
            lines.append(f"{name:<6}{e['jets']:>8}{e['multiplicity_mean']:>12.1f}{e['mass_median_gev']:>13.1f}{sd:>16}")
        else:
            lines.append(f"{name:<6}{0:>8}")
    lines += ["", "feature ranges (real constituents):"]
    lines += [f"  {k:<12} [{lo:.4g}, {hi:.4g}]" for k, (lo, hi) in s["feature_ranges"].items()]
    lines += ["", "consistency:"] + [f"  {k}: {v:.3g}" for k, v in s["consistency"].items()]
    lines += ["", "physics checks:"] + [f"  {k}: {'ok' if v else 'FAILED'}" for k, v in s["physics_checks"].items()]
    return "\n".join(lines)
