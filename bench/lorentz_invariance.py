"""How invariant is a trained Lorentz-equivariant tagger (lgatr_slim), float and as quantized?

Usage: python bench/lorentz_invariance.py --build build/lgatr_slim_l1 [--jets 2000] [--out NAME]

The build's test jets are taken as the data stage stored them (lab four-momenta of the n kept constituents),
transformed by a boost along each jet's own axis, a rotation about it, or both, then brought into the jet's rest
frame and scaled exactly as the data stage does (l1tag/data/features.py ``rest_frame``, the build's
normalisation).  Reported per transformation, for the float model and the deployed quantized (QAT) model: the
largest and the mean change of the class probabilities over the jets, and the fraction of jets whose predicted
class changes.

The float tagger is invariant by construction (tests/unit/test_lgatr_slim.py); a boost along the jet axis
leaves the rest-frame inputs unchanged up to float rounding, a rotation about it turns them, and the quantized
tagger rounds each turned component on its own grid.  Writes ``bench/results/<out>.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from l1tag.kinds.lgatr_slim import boost, rotation

REPO = Path(__file__).resolve().parents[1]


TRANSFORMS = {
    "none": lambda axis: np.eye(4),
    "boost 0.6 along the jet axis": lambda axis: boost(0.6, axis),
    "boost -0.6 along the jet axis": lambda axis: boost(-0.6, axis),
    "rotation 1.0 rad about the jet axis": lambda axis: rotation(1.0, axis),
    "rotation 2.5 rad about the jet axis": lambda axis: rotation(2.5, axis),
    "boost 0.6 and rotation 1.0 rad": lambda axis: rotation(1.0, axis) @ boost(0.6, axis),
}


def model_inputs(lab: np.ndarray, data) -> np.ndarray:
    """Lab (px, py, pz, e) constituents (N, n, 4) -> the tagger's inputs: the rest frame, the build's scale."""
    from l1tag.data.features import REST_FRAME, rest_frame
    from l1tag.data.preprocess import normalise

    rest = rest_frame(lab, lab.sum(axis=1))
    x = np.stack([rest[..., REST_FRAME.index(f)] for f in data.features], axis=-1)
    return normalise(x, data.center, data.scale)


def measure(build: Path, jets: int) -> dict:
    from l1tag.data.features import FEATURE_INDEX, REST_FRAME
    from l1tag.data.preprocess import load_prepared
    from l1tag.models.builders import load_model

    data = load_prepared(build / "data" / "prepared.npz")
    if not set(data.features) <= set(REST_FRAME):
        raise SystemExit(f"{build}: data.features {list(data.features)} are not the rest-frame four-momentum "
                         f"({', '.join(REST_FRAME)}): this bench measures lgatr_slim builds")
    raw = data.raw_test[:jets]
    lab = raw[..., [FEATURE_INDEX[c] for c in ("px", "py", "pz", "e")]].astype(np.float64)
    axes = lab.sum(axis=1)[:, :3]
    models = {"float": load_model(build / "model" / "float.h5"), "quantized": load_model(build / "model" / "qat.h5")}
    x0 = model_inputs(lab, data)
    before = {k: m.predict(x0, batch_size=1024, verbose=0) for k, m in models.items()}
    rows = []
    for name, make in TRANSFORMS.items():
        moved = np.empty_like(lab)
        for j in range(len(lab)):  # (E, px, py, pz) <- (px, py, pz, e), transformed, back
            lam = make(axes[j])
            moved[j] = (lab[j][:, [3, 0, 1, 2]] @ lam.T)[:, [1, 2, 3, 0]]
        moved[lab.sum(axis=-1) == 0] = 0.0  # padding stays padding
        x = model_inputs(moved, data)
        row = {"transform": name, "input_change_max": float(np.abs(x - x0).max())}
        for k, m in models.items():
            after = m.predict(x, batch_size=1024, verbose=0)
            d = np.abs(after - before[k])
            row[k] = {"max_prob_change": float(d.max()), "mean_prob_change": float(d.mean()),
                      "class_flips": float(np.mean(after.argmax(1) != before[k].argmax(1)))}
        rows.append(row)
        print(f"{name:38s} inputs {row['input_change_max']:.2e}  float: max {row['float']['max_prob_change']:.2e} "
              f"flips {row['float']['class_flips']:.4f}  quantized: max {row['quantized']['max_prob_change']:.3f} "
              f"mean {row['quantized']['mean_prob_change']:.4f} flips {row['quantized']['class_flips']:.4f}",
              flush=True)
    return {"build": str(build), "jets": int(len(lab)), "rows": rows}


def table(result: dict) -> str:
    lines = ["| transformation | float: largest change of a probability | float: class flips | quantized: largest "
             "change | quantized: mean change | quantized: class flips |", "|---|---|---|---|---|---|"]
    for r in result["rows"][1:]:
        f, q = r["float"], r["quantized"]
        lines.append(f"| {r['transform']} | {f['max_prob_change']:.1e} | {100 * f['class_flips']:.2f} % | "
                     f"{q['max_prob_change']:.3f} | {q['mean_prob_change']:.4f} | {100 * q['class_flips']:.2f} % |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", required=True, type=Path, help="a finished lgatr_slim build folder")
    p.add_argument("--jets", type=int, default=2000, help="test jets (the first of the split)")
    p.add_argument("--out", default="lorentz_invariance")
    a = p.parse_args()
    result = measure(a.build, a.jets)
    out = REPO / "bench" / "results" / f"{a.out}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
