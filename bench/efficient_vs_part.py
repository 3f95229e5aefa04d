"""ParT against the efficient taggers: how close do the Linformer and SAL-T come to full attention with ParT's
pair bias, at what fraction of its cost?

Usage: python bench/efficient_vs_part.py [--config configs/salt_l1.yaml] [--n 16 32]
                                         [--kinds part transformer linformer salt salt+pair_bias]
                                         [--seeds 42 43 44]
                                         [--epochs 30] [--qat-epochs 10] [--yosys] [--out NAME] [--no-docs]

Every tagger is the config's (d, H, p, FFN, head, quantization, training; ``model.type`` replaced; ``part``: the
Transformer with ParT's pair bias; ``salt+pair_bias``: SAL-T with it, ``model.pair_bias``) on the config's jets cut
to the n leading constituents (SAL-T in kT order as shipped, the others in pT order), fully parallel (P = n, II 1).
Each (n, kind, seed) is a build of l1tag's own stages in build/bench_evp/<n>-<kind>-s<seed>: data (the jet cache),
train (float then QAT, the same epochs for every kind: 30 + 10 by default, ``--epochs`` / ``--qat-epochs``) and,
for the first seed, the firmware (conversion and C-simulation of 1,000 test jets, bit-exact) and the report stage's
hardware numbers: l1tag's ESTIMATE (LUT, DSP, latency, II), never a synthesis result; ``--yosys`` adds the rtl
stage (da4ml Verilog of every block, Verilator on 200 jets, Yosys counts). Reported per (n, kind): the deployed
(QAT) model's test accuracy and macro AUC, mean ± sd over seeds, the float accuracy, parameters, FLOPs and energy
per jet (l1tag.models.cost: Horowitz 45 nm), then the first seed's firmware, and for each kind its accuracy gap to
part and its cost as a fraction of part's (LUT by the ESTIMATE, FLOPs).

Writes ``bench/results/<out>.json`` after every build (a rerun resumes: finished builds are read back), the
table into docs/models.md between the ``<out>`` markers and ``docs/<out>.png``: accuracy (± sd) against LUT (the
ESTIMATE) and against FLOPs, one marker per kind and one colour per n.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import yaml

from stage_points import (REPO, Points, accuracy_panels, bench_arguments, build_point, derived_config, mean_sd,
                          publish, save_figure, seeds_words)

from l1tag import kinds

KINDS = ("part", "transformer", "linformer", "salt", "salt+pair_bias")  # +pair_bias: that kind with model.pair_bias
CSIM_JETS = 1000


def point_config(raw: dict, label: str, n: int, seed: int, epochs, qat_epochs, yosys: bool):
    """One build's config: the kind (``label``: a kind, or kind+pair_bias), n, its order (kT for SAL-T as shipped,
    else pT), P = n, seed and epochs."""
    kind, _, option = label.partition("+")
    order = "kt" if kinds.get(kind).contiguous_partitions else "pt"
    return derived_config(raw, f"evp_n{n}_{label.replace('+', '_')}_s{seed}", seed,
                          {"data": {"constituents": n, "sort_by": order},
                           "model": {"type": kind, "pair_bias": option == "pair_bias"},
                           "hls": {"parallelization_factor": n}, "csim": {"jets": CSIM_JETS},
                           "rtl": {"enabled": yosys, "jets": 200}}, epochs, qat_epochs)


def run_point(cfg, label: str, firmware: bool, yosys: bool) -> dict:
    t0 = time.perf_counter()
    out = {"kind": label, "n": cfg.data.constituents, "seed": cfg.seed,
           **build_point(cfg, "bench_evp", firmware, yosys)}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def summarize(points: list[dict]) -> list[dict]:
    rows = []
    for n in sorted({p["n"] for p in points}):
        for kind in KINDS:
            ps = [p for p in points if p["n"] == n and p["kind"] == kind]
            if not ps:
                continue
            mean, sd = mean_sd([p["accuracy"] for p in ps])
            first = min(ps, key=lambda p: p["seed"])
            rows.append({"n": n, "kind": kind, "seeds": len(ps), "accuracy": mean, "sd": sd,
                         "auc": float(np.mean([p["auc"] for p in ps])),
                         "accuracy_float": float(np.mean([100 * p["accuracy_float"] for p in ps])),
                         **{k: first[k] for k in ("parameters", "flops", "energy_pj")},
                         "firmware": first.get("firmware")})
    for row in rows:
        ref = next((r for r in rows if r["n"] == row["n"] and r["kind"] == "part"), None)
        row["gap_to_part"] = None if ref is None else row["accuracy"] - ref["accuracy"]
        row["flops_vs_part"] = None if ref is None else row["flops"] / ref["flops"]
        fw, ref_fw = row["firmware"], ref and ref["firmware"]
        row["lut_vs_part"] = fw["LUT"] / ref_fw["LUT"] if fw and ref_fw else None
    return rows


def _pm(r: dict) -> str:
    return f"{r['accuracy']:.2f}" + (f" ± {r['sd']:.2f}" if r["sd"] is not None else "")


def table(rows: list[dict], header: str) -> str:
    lines = [header, "", "| n | tagger | seeds | accuracy % QAT (± sd) | AUC | float % | params | FLOPs "
             "| energy nJ float / 8-bit | LUT (ESTIMATE) | DSP (ESTIMATE) | latency ns (ESTIMATE) | II | Yosys LUT "
             "| C-sim bit-exact "
             "| gap to part (points) | LUT / part's | FLOPs / part's |", "|" + "---|" * 18]
    for r in rows:
        fw = r["firmware"] or {}

        def ratio(v):
            return "—" if v is None else f"{v:.2f}"

        gap = "—" if r["gap_to_part"] is None or r["kind"] == "part" else f"{r['gap_to_part']:+.2f}"
        lines.append(
            f"| {r['n']} | {r['kind']} | {r['seeds']} | {_pm(r)} | {r['auc']:.4f} | {r['accuracy_float']:.2f} | "
            f"{r['parameters']:,} | {r['flops']:,} | {r['energy_pj']['float32'] / 1000:,.1f} / "
            f"{r['energy_pj']['quantized'] / 1000:,.1f} | "
            f"{fw.get('LUT', 0):,} | {fw.get('DSP', 0):,} | {fw.get('latency_ns', 0):.0f} | "
            f"{fw.get('ii_cycles', '—')} | "
            f"{format(fw['yosys_LUT'], ',') if 'yosys_LUT' in fw else '—'} | "
            f"{format(fw['bit_exact'], '.4f') if 'bit_exact' in fw else '—'} | {gap} | {ratio(r['lut_vs_part'])} | "
            f"{ratio(r['flops_vs_part'])} |")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    fig, axes = accuracy_panels("test accuracy % (8-bit QAT, ± sd over seeds)",
                                ("LUT (ESTIMATE, first seed, P = n)", "FLOPs per jet"))
    markers = dict(zip(KINDS, "o^sDv"))
    for i, n in enumerate(sorted({r["n"] for r in rows})):
        for r in (r for r in rows if r["n"] == n):
            xs = (r["firmware"]["LUT"] if r["firmware"] else None, r["flops"])
            for ax, x in zip(axes, xs):
                if x is not None:
                    ax.errorbar(x, r["accuracy"], yerr=r["sd"] or 0, fmt=markers[r["kind"]], color=f"C{i}",
                                label=f"{r['kind']}, n = {n}", capsize=2)
    save_figure(fig, axes, path, legend_size=7)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench_arguments(ap, "efficient_vs_part", epochs=30, qat_epochs=10)  # the published tables' budget
    ap.add_argument("--n", type=int, nargs="+", default=[16, 32])
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    ap.add_argument("--yosys", action="store_true", help="the rtl stage too (da4ml, Verilator, Yosys)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    raw = yaml.safe_load(Path(args.config).read_text())
    results = Points(args.out, ("n", "kind", "seed"), summarize, args)
    for n in args.n:
        for seed in args.seeds:
            for kind in args.kinds:
                if results.done(n, kind, seed):
                    continue
                cfg = point_config(raw, kind, n, seed, args.epochs, args.qat_epochs, args.yosys)
                p = run_point(cfg, kind, firmware=seed == args.seeds[0], yosys=args.yosys)
                results.add(p)
                logging.info("n = %d %s seed %d: %.2f %% (%.0f s)", n, kind, seed, 100 * p["accuracy"], p["seconds"])
    points = results.points
    rows = summarize(points)
    header = (f"The config's tagger ({Path(args.config).name}: d = {raw['model']['d_model']}, H = "
              f"{raw['model']['heads']}) per kind on its jets cut to n, fully parallel (P = n, II 1), 8-bit QAT; "
              f"{seeds_words(args)}; firmware of the first seed: l1tag's ESTIMATE (no vendor "
              f"tool), C-simulated on {CSIM_JETS:,} test jets (`python bench/efficient_vs_part.py`).")
    if not args.no_docs:
        plot(rows, REPO / "docs" / f"{args.out}.png")
    publish(args, table(rows, header))


if __name__ == "__main__":
    main()
