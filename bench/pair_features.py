"""How far are the firmware's pair features from ParT's definitions?  The error table of the pair bias.

Usage: python bench/pair_features.py [--data FILE.h5] [--jets 5000] [--n 16] [--bits 8,10,12] [--mantissa 3,5]
       [--no-docs]

For real constituents (an hls4ml-layout file; default the learning-curve sample, made by ``l1tag data generate
--out build/bench_data/jets-120000-seed7-c32.h5 --jets 120000 --seed 7 --constituents 32``), normalised as the
data stage does (robust) and quantized to the default input type, the four features in fixed point
(l1tag/numerics/pair_features.py) are compared with ParT's in float (exact massless m^2), in log2 units, over
every pair of real particles: the median, 99th percentile and largest |error|, on all pairs and on the pairs the
types resolve (dR at least 8 lsb of d eta', d phi' and both pT at least 8 lsb of the input). Rows per
``pair_bits`` (model.pair_bits) and mantissa bits K.
Writes the table into docs/models.md between the pair_features markers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from readme_table import write_between_markers

from l1tag.data.features import FEATURE_INDEX
from l1tag.data.preprocess import fit_normalisation, normalise, order_constituents
from l1tag.numerics.fixed_point import FixedType, quantize
from l1tag.numerics.pair_features import PAIR_FEATURES, PairBiasSpec, diff_type, exact_pair_features, pair_features

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "build" / "bench_data" / "jets-120000-seed7-c32.h5"
INPUT_T = FixedType(14, 6, rounding="AP_RND_CONV", overflow="AP_SAT")  # the default quantization.input
FEAT_T = FixedType(12, 6, rounding="AP_RND_CONV", overflow="AP_SAT")  # the default quantization.pair_features


def constituents(path: Path, jets: int, n: int) -> np.ndarray:
    """(jets, n, 3) pT, etarel, phirel of the kT-ordered leading constituents."""
    import h5py

    if not path.is_file():
        raise SystemExit(f"{path}: no such file; make it with `l1tag data generate --out {path} --jets 120000 "
                         f"--seed 7 --constituents 32` or give --data")
    with h5py.File(path) as f:
        raw = f["jetConstituentList"][:jets]
    ordered = order_constituents(raw, n, "kt")
    return ordered[..., [FEATURE_INDEX[k] for k in ("pt", "etarel", "phirel")]].astype(np.float64)


def errors(x: np.ndarray, bits: int, mantissa: int) -> dict:
    center, scale = fit_normalisation(x, "robust")
    xq = quantize(normalise(x, center, scale), INPUT_T)
    spec = PairBiasSpec(x.shape[1], 1, (0, 1, 2), tuple(center), tuple(scale), INPUT_T,
                        diff_type(scale[1], scale[2], bits), mantissa, FEAT_T, INPUT_T, INPUT_T, 0, None, INPUT_T)
    err = np.abs(pair_features(xq, spec) - exact_pair_features(x[..., 0], x[..., 1], x[..., 2]))
    real = x[..., 0] > 0
    pairs = real[:, :, None] & real[:, None, :] & ~np.eye(x.shape[1], dtype=bool)[None]
    dr = np.hypot(x[:, :, None, 1] - x[:, None, :, 1], x[:, :, None, 2] - x[:, None, :, 2])
    low = np.minimum(x[:, :, None, 0], x[:, None, :, 0])
    resolved = pairs & (dr >= 8 * spec.diff_t.lsb * scale[1:].min()) & (low >= 8 * INPUT_T.lsb * scale[0])
    out = {"resolved_fraction": float(resolved.sum() / pairs.sum()),
           "dR_resolution": float(spec.diff_t.lsb * scale[1:].min())}
    for name, sel in (("all", pairs), ("resolved", resolved)):
        e = err[sel]
        out[name] = {f: (float(np.median(e[:, i])), float(np.percentile(e[:, i], 99)), float(e[:, i].max()))
                     for i, f in enumerate(PAIR_FEATURES)}
    return out


def table(rows: list[tuple[int, int, dict]], jets: int, n: int, source: str) -> str:
    head = ("| pair_bits | K | dR lsb | resolved pairs | "
            + " | ".join(f"{f} median / p99 / max (resolved; all)" for f in PAIR_FEATURES) + " |")
    lines = [f"|pair features − ParT's| in log2 units over every pair of real particles of {jets:,} jets ({source}, "
             f"n = {n}, kT order, robust normalisation, input {INPUT_T.cpp()}); resolved: dR >= 8 lsb of d eta', "
             f"d phi' and both pT >= 8 lsb of the input (`python bench/pair_features.py`).", "", head,
             "|" + "---|" * (4 + len(PAIR_FEATURES))]
    for bits, k, r in rows:
        cells = []
        for f in PAIR_FEATURES:
            a, b = r["resolved"][f], r["all"][f]
            cells.append(f"{a[0]:.3f} / {a[1]:.2f} / {a[2]:.2f}; {b[0]:.3f} / {b[1]:.2f} / {b[2]:.1f}")
        lines.append(f"| {bits} | {k} | {r['dR_resolution']:.4f} | {100 * r['resolved_fraction']:.0f} % | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(SAMPLE))
    ap.add_argument("--jets", type=int, default=5000)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--bits", default="8,10,12")
    ap.add_argument("--mantissa", default="3,5")
    ap.add_argument("--no-docs", action="store_true")
    args = ap.parse_args()
    path = Path(args.data)
    x = constituents(path, args.jets, args.n)
    rows = [(b, k, errors(x, b, k)) for b in map(int, args.bits.split(",")) for k in map(int, args.mantissa.split(","))]
    source = path.name
    text = table(rows, len(x), args.n, source)
    print(text)
    if not args.no_docs and not write_between_markers("pair_features", text):
        print("(no pair_features markers in the docs: table printed only)")


if __name__ == "__main__":
    main()
