"""l1tag's hardware estimate against Yosys' count of the same arithmetic, per layer group and in total.

Usage: python bench/estimate_vs_yosys.py [--configs salt_l1 linformer_l1 deepsets_l1]

For each config the build's own stages run in build/<name> (data, train, firmware, rtl, each skipped
when current; the report stage always, so that the estimate is the current estimator's): its estimate (hardware_layers.json, per layer) and the rtl
stage's Yosys counts (report.json open_synthesis, per block x copies) are grouped by layers
(l1tag/rtl/compare.py) and compared.  The error is the estimate's, relative to Yosys: negative = the
estimate counts fewer.  Yosys counts are of da4ml's RTL of the same arithmetic, not of the HLS project
(see report.md "Open synthesis" for what they are not).  Prints the tables of docs/hardware.md (and writes them
between its markers when every default config ran).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from readme_table import write_between_markers  # noqa: E402

from l1tag.build import StageContext, run_stage  # noqa: E402
from l1tag.config import load_config  # noqa: E402
from l1tag.rtl.compare import compare  # noqa: E402

CONFIGS = ("salt_l1", "linformer_l1", "deepsets_l1")


def measure(name: str) -> dict:
    cfg = load_config(REPO / "configs" / f"{name}.yaml")
    ctx = StageContext(cfg, REPO / "build" / cfg.name, verbose=-1)
    ctx.build_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for stage in ("data", "train", "firmware", "rtl"):
        run_stage(ctx, stage)
    run_stage(ctx, "report", force=True)  # the estimate of the estimator as it is now
    report = json.loads((ctx.build_dir / "report.json").read_text())
    synth = report["open_synthesis"]
    if "skipped" in synth:
        raise SystemExit(f"{name}: open synthesis skipped: {synth['skipped']}")
    rows = compare(synth, json.loads((ctx.build_dir / "hardware_layers.json").read_text()))
    return {"config": name, "P": synth["parallelization_factor"], "rows": rows, "stage_seconds": synth["seconds"],
            "memory_peak_mb": synth["memory_peak_mb"], "bit_exact": synth["bit_exact_fraction"],
            "jets": synth["jets"], "blocks": len(synth["blocks"]), "seconds": round(time.perf_counter() - t0, 1)}


def _err(e: float | None) -> str:
    return "—" if e is None else f"{100 * e:+.0f} %"


def _row(label: str, r: dict) -> str:
    return (f"| {label} | {r['l1tag_LUT']:,} | {r['yosys_LUT']:,} | {_err(r['error_LUT'])} | {r['CARRY']:,} | "
            f"{r['l1tag_FF']:,} | {r['yosys_FF']:,} | {_err(r['error_FF'])} | {r['l1tag_DSP']:,} | {r['yosys_DSP']:,} |")


HEAD = ("| {what} | LUT (ESTIMATE) | LUT (Yosys) | error | CARRY4 (Yosys) | FF (ESTIMATE) | FF + SRL (Yosys) | error | "
        "DSP (ESTIMATE) | DSP (Yosys) |\n|" + "---|" * 10)


def tables(results: list[dict]) -> str:
    totals = [HEAD.format(what="config (P)")]
    totals += [_row(f"{r['config']} ({r['P']})", r["rows"][-1]) for r in results]
    out = ["Totals (every block x its copies):", "", "\n".join(totals)]
    for r in results:
        groups = [HEAD.format(what="layers")] + [_row(g["group"], g) for g in r["rows"][:-1]]
        out += ["", f"{r['config']}, by layer group (Verilator bit-exact {r['bit_exact']:.4f} on {r['blocks']} blocks, "
                f"{r['jets']:,} jets; stage {r['stage_seconds']['wall']:.0f} s, Yosys peak "
                f"{r['memory_peak_mb']['yosys']} MB):", "", "\n".join(groups)]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS))
    args = ap.parse_args()
    results = []
    for name in args.configs:
        results.append(measure(name))
        print(json.dumps({k: v for k, v in results[-1].items() if k != "rows"}), flush=True)
    text = tables(results)
    print(text)
    if set(args.configs) == set(CONFIGS):
        write_between_markers("estimate_vs_yosys", text)


if __name__ == "__main__":
    main()
