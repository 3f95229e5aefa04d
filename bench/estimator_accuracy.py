"""How far is l1tag's hardware ESTIMATE from real Vivado/Vitis HLS syntheses?  In sample and leave-one-out.

Usage: python bench/estimator_accuracy.py [--reports ../shared/hls_reports] [--no-readme] [--no-band]

For every project under the reports folder that ships its Keras model and hls4ml_config.yml, the
model is rebuilt with hls4ml 1.3 from those files, estimated (``l1tag.hardware.estimate``, with the
ToolRules of the project's tool) and compared with the numbers parsed from its synthesis report
(``l1tag.hardware.vendor``).  Projects that cannot be rebuilt here are listed with the reason.

Three constants of the ToolRules are measured on the reports (LUTs per product per accumulator bit of
an AP_RND/AP_SAT accumulator, the cycles per pixel of a Resource io_stream conv beyond its R, the LUTs of
an io_stream zero padding).  **Leave-one-out**: each report is estimated with those constants measured
on the *other* reports only (the median of theirs), so no report is scored by a rule tuned on it;
**leave-one-family-out** does the same holding out every report of its source repository.  The
leave-one-out per-quantity median and 80th-percentile absolute errors are written to
``l1tag/hardware/error_band.json``, which the estimate carries next to every number it prints.
The tables go into README.md between the estimator_accuracy markers.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import re
from pathlib import Path

import numpy as np
from readme_table import write_between_markers

from l1tag.config import VIVADO_HLS
from l1tag.hardware.estimate import TOOL_RULES, estimate_model, tool_of
from l1tag.hardware.project import load_project
from l1tag.hardware.vendor import parse_project

REPO = Path(__file__).resolve().parents[1]
BAND_FILE = REPO / "l1tag" / "hardware" / "error_band.json"
QUANTITIES = ("latency_cycles", "ii_cycles", "DSP", "LUT", "FF", "BRAM_18K")
TARGETS = {"latency_cycles": 25, "LUT": 25, "FF": 25, "DSP": 10, "BRAM_18K": 50}  # issue #15, leave-one-out
MEASURED = ("sat_lut_per_bit", "resource_pixel_overhead", "zeropad_lut")


def _value(d: dict, q: str):
    return d[q] if q in ("latency_cycles", "ii_cycles") else d["resources"][q]


def _pct(est: float, real: float) -> float | None:
    if real == 0:
        return None if est == 0 else float("inf")
    return 100.0 * (est - real) / real


# ---- the per-instance tables of a csynth.rpt: what the measured constants are read from -------------------
def _table_after(text: str, marker: str) -> list[list[str]]:
    at = text.find(marker)
    rows, started = [], False
    for line in text[at:].splitlines()[1:] if at >= 0 else []:
        s = line.strip()
        if not s or not s.startswith(("|", "+")):
            if started:
                break
            continue
        if s.startswith("+"):
            started = True
            continue
        cells = [c.strip() for c in s.strip("|").split("|")]
        if cells[0] not in ("Total", "", "Instance"):
            rows.append(cells)
    return rows


def instance_rows(prj: Path) -> tuple[dict, dict]:
    """hls4ml layer index -> (latency cells, interval cells) and -> resource cells (BRAM, DSP, FF, LUT), from
    the top csynth.rpt's instance tables (hls4ml names each layer's config 'configN')."""
    reports = [p for p in prj.rglob("*_csynth.rpt") if "axi" not in p.name]
    if not reports:
        return {}, {}
    text = min(reports, key=lambda p: len(p.parts)).read_text(errors="replace")
    lat_at, util_at = text.find("+ Latency:"), text.find("== Utilization Estimates")
    lat, res = {}, {}
    for r in _table_after(text[lat_at:util_at], "* Instance:"):
        if (m := re.search(r"config(\d+)", r[1])):
            lat[int(m.group(1))] = (r[2:4], r[6:8])
    for r in _table_after(text[util_at:], "* Instance:"):
        if (m := re.search(r"config(\d+)", r[1])):
            res[int(m.group(1))] = r[2:6]
    return lat, res


def _estimate(model, real: dict, rules) -> dict:
    with contextlib.redirect_stdout(io.StringIO()):
        return estimate_model(model, part=real.get("part"), rules=rules)


def measure(model, real: dict, prj: Path) -> dict:
    """The constants this one report alone would give (None / [] where it has no such layer)."""
    base = TOOL_RULES[tool_of(model)]
    lut0 = _estimate(model, real, dataclasses.replace(base, sat_lut_per_bit=0.0))["resources"]["LUT"]
    lut1 = _estimate(model, real, dataclasses.replace(base, sat_lut_per_bit=1.0))["resources"]["LUT"]
    sat = (real["resources"]["LUT"] - lut0) / (lut1 - lut0) if lut1 > lut0 else None
    lat, res = instance_rows(prj)
    overhead, zeropad = [], []
    stream = model.config.get_config_value("IOType") == "io_stream"
    for node in model.get_layers():
        cls = type(node).__name__
        if stream and "Conv" in cls and str(node.get_attr("strategy")).lower().startswith("resource") \
                and node.index in lat:
            pixels = int(np.prod(list(node.get_input_variable().shape)[:-1]))
            overhead.append(int(lat[node.index][0][1]) / pixels - int(node.get_attr("reuse_factor")))
        if "ZeroPadding" in cls and node.index in res:
            zeropad.append(int(res[node.index][3]))
    return {"sat_lut_per_bit": sat, "resource_pixel_overhead": overhead, "zeropad_lut": zeropad}


def constants(measured: dict, held_out: set[str]) -> dict:
    """The measured constants as medians over the reports not in ``held_out``.  Where none of them has such a
    layer, nothing measured is used: the saturating accumulator is priced with HLS's operator costs
    (sat_lut_per_bit None), a Resource conv pixel takes its R cycles and nothing more, and the zero padding
    costs what the shipped default says (measured on several families, so never fully held out)."""
    rest = [m for name, m in measured.items() if name not in held_out]
    sat = [m["sat_lut_per_bit"] for m in rest if m["sat_lut_per_bit"] is not None]
    over = [x for m in rest for x in m["resource_pixel_overhead"] if x >= 0]  # < 0: a mismatched report row
    pad = [x for m in rest for x in m["zeropad_lut"]]
    return {"sat_lut_per_bit": float(np.median(sat)) if sat else None,
            "resource_pixel_overhead": int(round(float(np.median(over)))) if over else 0,
            "zeropad_lut": int(round(float(np.median(pad)))) if pad else TOOL_RULES[VIVADO_HLS].zeropad_lut}


def family(name: str) -> str:
    return name.split("/")[0]


def score(projects: dict, held_out_for) -> tuple[list[list[str]], dict]:
    """Rows of 'est / real (error)' cells and the absolute errors per quantity, each project estimated with
    the constants measured on the reports ``held_out_for(name)`` leaves in."""
    measured = {name: p["measured"] for name, p in projects.items()}
    rows, errors = [], {q: [] for q in QUANTITIES}
    for name, p in projects.items():
        rules = dataclasses.replace(TOOL_RULES[p["tool"]], **constants(measured, held_out_for(name)))
        est = _estimate(p["model"], p["real"], rules)
        cells = []
        for q in QUANTITIES:
            e, r = _value(est, q), _value(p["real"], q)
            pct = _pct(e, r)
            if pct is not None and np.isfinite(pct):
                errors[q].append(abs(pct))
            cells.append(f"{e:,} / {r:,} ({'n/a' if pct is None else f'{pct:+.0f} %'})")
        rows.append([name, p["real"]["source"], *cells])
    return rows, errors


def medians(errors: dict, targets: bool) -> list[str]:
    out = []
    for q in QUANTITIES:
        if errors[q]:
            med, target = float(np.median(errors[q])), TARGETS.get(q) if targets else None
            verdict = "" if target is None else f" (target <= {target} %: {'met' if med <= target else '**missed**'})"
            out.append(f"- {q}: median |error| {med:.0f} %, 80th percentile {np.percentile(errors[q], 80):.0f} % over "
                       f"{len(errors[q])} projects{verdict}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reports", default=str(REPO.parent / "shared" / "hls_reports"))
    ap.add_argument("--no-readme", action="store_true")
    ap.add_argument("--no-band", action="store_true", help="do not rewrite l1tag/hardware/error_band.json")
    args = ap.parse_args()
    root = Path(args.reports)
    projects, skipped = {}, []
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
                model = load_project(prj)
            projects[name] = {"model": model, "real": real, "tool": tool_of(model),
                              "measured": measure(model, real, prj)}
        except Exception as exc:
            skipped.append((name, f"{type(exc).__name__}: {str(exc)[:120]}"))
    header = ("| project | tool | " + " | ".join(f"{q} est / real" for q in QUANTITIES) + " |\n|---|---|"
              + "---|" * len(QUANTITIES))
    loo_rows, loo = score(projects, lambda name: {name})
    _, inside = score(projects, lambda name: set())
    _, lofo = score(projects, lambda name: {n for n in projects if family(n) == family(name)})
    per_tool = {}
    for tool in sorted({p["tool"] for p in projects.values()}):
        subset = {n: p for n, p in projects.items() if p["tool"] == tool}
        _, err = score(subset, lambda name, s=subset: {name})
        per_tool[tool] = ", ".join(f"{q} {np.median(err[q]):.0f} %" for q in ("latency_cycles", "LUT", "FF", "DSP",
                                                                               "BRAM_18K") if err[q])
    text = "\n".join([
        "Leave-one-out (each report estimated with the measured constants of the other reports):", "",
        header, *("| " + " | ".join(r) + " |" for r in loo_rows), "",
        "Median and 80th-percentile absolute error, leave-one-out:", *medians(loo, True), "",
        "The same, in sample (constants measured on every report):", *medians(inside, False), "",
        "Leave-one-family-out (every report of the same repository held out together):", *medians(lofo, False), "",
        "Per tool, leave-one-out medians: " + "; ".join(f"{t}: {v}" for t, v in per_tool.items()) + ".",
    ])
    if skipped:
        text += "\n\nNot compared:\n" + "\n".join(f"- {n}: {why}" for n, why in skipped)
    print(text)
    if not args.no_band:
        band = {q: {"median_abs_pct": round(float(np.median(loo[q])), 1),
                    "p80_abs_pct": round(float(np.percentile(loo[q], 80)), 1), "n": len(loo[q])}
                for q in QUANTITIES if loo[q]}
        BAND_FILE.write_text(json.dumps({
            "method": "leave-one-out over real hls4ml syntheses (bench/estimator_accuracy.py)",
            "reports": sorted(projects), "quantities": band}, indent=1) + "\n")
    if not args.no_readme:
        write_between_markers("estimator_accuracy", text)


if __name__ == "__main__":
    main()
