"""How far is l1tag's hardware ESTIMATE from real Vivado/Vitis HLS syntheses?

Usage: python bench/estimator_accuracy.py [--reports ../shared/hls_reports] [--no-readme]

For every project under the reports folder that ships its Keras model and hls4ml_config.yml, the
model is rebuilt with hls4ml 1.3 from those files, estimated (``l1tag.hardware.estimate``), and
compared with the numbers parsed from its synthesis report (``l1tag.hardware.vendor``).  Projects
that cannot be rebuilt here are listed with the reason.  The table and the median absolute
percentage error per quantity go into README.md between the estimator_accuracy markers.
"""

from __future__ import annotations

import argparse
import contextlib
import io
from pathlib import Path

import numpy as np
from readme_table import write_between_markers

from l1tag.hardware.estimate import estimate_model
from l1tag.hardware.project import load_project
from l1tag.hardware.vendor import parse_project

REPO = Path(__file__).resolve().parents[1]
QUANTITIES = ("latency_cycles", "ii_cycles", "DSP", "LUT", "FF", "BRAM_18K")
TARGETS = {"DSP": 25, "latency_cycles": 25, "LUT": 40, "FF": 40}


def _value(d: dict, q: str):
    return d[q] if q in ("latency_cycles", "ii_cycles") else d["resources"][q]


def _pct(est: float, real: float) -> float | None:
    if real == 0:
        return None if est == 0 else float("inf")
    return 100.0 * (est - real) / real


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reports", default=str(REPO.parent / "shared" / "hls_reports"))
    ap.add_argument("--no-readme", action="store_true")
    args = ap.parse_args()
    root = Path(args.reports)
    rows, skipped, errors = [], [], {q: [] for q in QUANTITIES}
    for cfg_file in sorted(root.rglob("hls4ml_config.yml")):
        prj = cfg_file.parent
        name = str(prj.relative_to(root))
        try:
            real = parse_project(prj)
        except Exception as exc:
            skipped.append((name, f"no synthesis report parsed: {exc}"))
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                est = estimate_model(load_project(prj), part=real.get("part"))
        except Exception as exc:
            skipped.append((name, f"{type(exc).__name__}: {str(exc)[:120]}"))
            continue
        cells = []
        for q in QUANTITIES:
            e, r = _value(est, q), _value(real, q)
            p = _pct(e, r)
            if p is not None and np.isfinite(p):
                errors[q].append(abs(p))
            cells.append(f"{e:,} / {r:,} ({'n/a' if p is None else f'{p:+.0f} %'})")
        rows.append(f"| {name} | {real['source']} | " + " | ".join(cells) + " |")
    header = ("| project | tool | " + " | ".join(f"{q} est / real" for q in QUANTITIES) + " |\n|---|---|"
              + "---|" * len(QUANTITIES))
    medians = []
    for q in QUANTITIES:
        if errors[q]:
            med = float(np.median(errors[q]))
            target = TARGETS.get(q)
            verdict = "" if target is None else (" (target <= %d %%: %s)" % (target, "met" if med <= target else
                                                                              "**missed**"))
            medians.append(f"- {q}: median |error| {med:.0f} % over {len(errors[q])} projects{verdict}")
    text = "\n".join([header, *rows, "", "Median absolute percentage error (estimate vs report):", *medians])
    if skipped:
        text += "\n\nNot compared:\n" + "\n".join(f"- {n}: {why}" for n, why in skipped)
    print(text)
    if not args.no_readme:
        write_between_markers("estimator_accuracy", text)


if __name__ == "__main__":
    main()
