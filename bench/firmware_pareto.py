"""Firmware cost of the trained default SAL-T and Linformer for every particle parallelization P and strategy.

Usage: python bench/firmware_pareto.py [--p 1 2 4 8 16 32] [--csim JETS] [--out bench/results]

Each model is the one `l1tag build` trains for its shipped config (configs/salt_l1.yaml,
configs/linformer_l1.yaml; the data and train stages run if their build directory lacks them, and are
skipped when current).  For each P (particles per clock in every per-particle layer) and each
strategy of the constant-weight layers (Latency: multipliers; distributed_arithmetic: da4ml adder
graphs) the model is converted with l1tag's hls4ml extension and ESTIMATED (l1tag.hardware.estimate:
never a synthesis result).  With --csim N the first N test jets are also C-simulated and must be
bit-exact with the NumPy reference.  Prints the table of docs/hardware.md (and writes it between its markers) and
draws LUT vs latency, one point per setting, with the budget's limits (firmware_pareto.png).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from readme_table import write_between_markers  # noqa: E402

from l1tag.build import StageContext, run_stage  # noqa: E402
from l1tag.config import DA, load_budget, load_config  # noqa: E402
from l1tag.devices import part_totals  # noqa: E402
from l1tag.hardware.estimate import estimate_model  # noqa: E402
from l1tag.hls.convert import convert_model, run_csim  # noqa: E402
from l1tag.models.builders import load_model  # noqa: E402

CONFIGS = ("salt_l1", "linformer_l1")
STRATEGIES = ("Latency", DA)


def trained(name: str):
    """The config and its QAT model, trained by the build's own stages in build/<name>."""
    cfg = load_config(REPO / "configs" / f"{name}.yaml")
    ctx = StageContext(cfg, REPO / "build" / cfg.name, verbose=-1)
    ctx.build_dir.mkdir(parents=True, exist_ok=True)
    for stage in ("data", "train"):
        run_stage(ctx, stage)
    return cfg, load_model(ctx.build_dir / "model" / "qat.h5"), ctx.prepared()


def measure(cfg, model, data, strategy: str, parallel: int, csim_jets: int) -> dict:
    hls = dataclasses.replace(cfg.hls, strategy=strategy, parallelization_factor=parallel, reuse_factor=1)
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        t0 = time.perf_counter()
        converted = convert_model(model, hls, Path(tmp) / "hls")
        hw = estimate_model(converted.hls_model)
        row = {"model": cfg.model.type, "strategy": strategy, "P": parallel, **hw["resources"],
               "ii_cycles": hw["ii_cycles"], "latency_cycles": hw["latency_cycles"], "latency_ns": hw["latency_ns"],
               "utilization": hw["utilization"], "convert_s": time.perf_counter() - t0}
        if csim_jets:
            s = run_csim(converted, data.x["test"][:csim_jets], model)
            row["bit_exact"] = s["bit_exact_fraction"]
    return row


def table(rows: list[dict], budget) -> str:
    limits = budget.limits
    lines = [f"ESTIMATES (l1tag.hardware.estimate, not synthesis) on {rows[0]['part']}, clock {rows[0]['clock']} ns; "
             f"budget {budget.name}: latency <= {limits.latency_ns:g} ns, II <= {limits.ii_cycles}, "
             f"LUT <= {limits.utilization.LUT:.0%}, DSP <= {limits.utilization.DSP:.0%}.", "",
             "| model | strategy | P | II | latency cycles / ns | LUT (% of part) | FF | DSP (% of part) |"
             + (" bit-exact |" if "bit_exact" in rows[0] else ""),
             "|---|---|---|---|---|---|---|---|" + ("---|" if "bit_exact" in rows[0] else "")]
    for r in rows:
        u = r["utilization"]
        lines.append(f"| {r['model']} | {r['strategy']} | {r['P']} | {r['ii_cycles']} | {r['latency_cycles']} / "
                     f"{r['latency_ns']:.0f} | {r['LUT']:,} ({u['LUT']:.1%}) | {r['FF']:,} | {r['DSP']:,} ({u['DSP']:.1%}) |"
                     + (f" {r['bit_exact']:.4f} |" if "bit_exact" in r else ""))
    return "\n".join(lines)


def plot(rows: list[dict], budget, totals: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.8))
    markers = {"Latency": "o", DA: "s"}
    for model in dict.fromkeys(r["model"] for r in rows):
        for strategy, marker in markers.items():
            pts = [r for r in rows if r["model"] == model and r["strategy"] == strategy]
            ax.plot([r["latency_ns"] for r in pts], [r["LUT"] for r in pts], marker=marker, label=f"{model}, {strategy}")
            for r in pts:
                ax.annotate(f"P={r['P']}", (r["latency_ns"], r["LUT"]), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
    ax.axvline(budget.limits.latency_ns, color="red", ls="--", lw=1, label=f"{budget.name} latency")
    ax.axhline(budget.limits.utilization.LUT * totals["LUT"], color="red", ls=":", lw=1, label=f"{budget.name} LUT")
    ax.set_xlabel("latency (ns, ESTIMATE)")
    ax.set_ylabel("LUT (ESTIMATE)")
    ax.set_yscale("log")
    ax.set_title("default taggers: one point per particle parallelization P and strategy", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--p", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    ap.add_argument("--csim", type=int, default=0, help="C-simulate this many test jets per setting")
    ap.add_argument("--out", default=str(REPO / "bench" / "results"))
    args = ap.parse_args()
    rows = []
    for name in CONFIGS:
        cfg, model, data = trained(name)
        for strategy in STRATEGIES:
            for p in args.p:
                row = measure(cfg, model, data, strategy, p, args.csim)
                row.update(part=cfg.hls.part, clock=cfg.hls.clock_period_ns)
                rows.append(row)
                print({k: v for k, v in row.items() if k != "utilization"}, flush=True)
    budget = load_budget(load_config(REPO / "configs" / "salt_l1.yaml").budget.file)
    text = table(rows, budget)
    print(text)
    plot(rows, budget, part_totals(rows[0]["part"]), Path(args.out) / "firmware_pareto.png")
    write_between_markers("firmware_pareto", text)


if __name__ == "__main__":
    main()
