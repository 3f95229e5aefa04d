"""Economical taggers: which of uniform 8-bit, ternary (PARQ or straight-through) and learned low-rank weights
gives the most accuracy for its LUTs and its energy, at three model sizes?

Usage: python bench/economical.py [--config configs/salt_l1.yaml] [--kinds salt linformer transformer lgatr_slim]
                                  [--widths 8 16 32] [--variants uniform ternary_parq ternary_ste low_rank]
                                  [--seeds 42 43 44] [--epochs E] [--qat-epochs Q] [--yosys] [--out NAME]
                                  [--no-docs]

Each point is the config's tagger with ``model.type`` = kind and width d (``model.d_model``, ``ffn_dim`` and the
head's width; 2 heads at d = 8, else the config's; lgatr_slim: d scalars and two Lorentz vectors, d + 8 features,
2 heads, on the rest-frame four-momentum), trained per seed by l1tag's own stages in
build/bench_economical/<name> (``--epochs`` / ``--qat-epochs`` override the config's), in one of the variants:
``uniform`` (the config's quantization), ``ternary_parq`` and ``ternary_ste`` (``quantization.mode: ternary``
with each ``ternary_training``) and ``low_rank`` (``train.low_rank.strength`` 0.5: learned ranks, each Dense
layer of rank r built as two).  Reported per point: the deployed model's test accuracy mean ± sd over seeds,
parameters, energy per jet (l1tag.models.cost, Horowitz 45 nm: float32 and as quantized) and, for the first
seed, the firmware at the config's P: l1tag's ESTIMATE (LUT, latency, II; no vendor tool) and with ``--yosys``
the Yosys count of its da4ml RTL (``--yosys`` on a finished first-seed point without one rebuilds it, which must
reproduce its accuracy and ESTIMATE, and adds the count).  Writes ``bench/results/<out>.json`` after every
build (a rerun resumes), the table into docs/models.md between the ``<out>`` markers and ``docs/<out>.png``:
accuracy against LUT and against energy.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import yaml
from stage_points import (REPO, Points, accuracy_panels, bench_arguments, build_point, derived_config, mean_sd,
                          publish, save_figure, seeds_words)

KINDS = ("salt", "linformer", "transformer", "lgatr_slim")
UNBUILT = {("lgatr_slim", "low_rank")}  # the config refuses it: a factorised layer would lose its Lorentz tie
VARIANTS = {"uniform": {},
            "ternary_parq": {"quantization": {"mode": "ternary", "ternary_training": "parq"}},
            "ternary_ste": {"quantization": {"mode": "ternary", "ternary_training": "ste"}},
            "low_rank": {"train": {"low_rank": {"strength": 0.5}}}}


def point_config(raw: dict, kind: str, width: int, variant: str, seed: int, epochs, qat_epochs, yosys: bool):
    heads = 2 if width < 16 else raw.get("model", {}).get("heads", 4)
    overrides = {"model": {"type": kind, "d_model": width, "ffn_dim": width, "head_dims": [width], "heads": heads},
                 "rtl": {"enabled": yosys, "jets": 200}}
    if kind == "lgatr_slim":  # d scalars and two Lorentz vectors (configs/lgatr_slim_l1.yaml's inputs)
        overrides["model"].update(d_model=width + 8, vectors=2, heads=2)
        overrides["data"] = {"features": ["erest", "pxrest", "pyrest", "pzrest"], "normalization": "momentum"}
        overrides["train"] = {"augment": []}
        overrides["quantization"] = {"activations": {"bits": 10, "integer": 4}}  # lgatr_slim_l1's: 8 bits lose 2.3
    for section, values in VARIANTS[variant].items():
        if section == "quantization":  # ternary mode sets the weights: the config's weight width is not read
            q = dict(raw.get("quantization", {}), **overrides.get("quantization", {}), **values)
            q.pop("weights", None)
            overrides["quantization"] = q
        else:
            overrides.setdefault(section, {}).update(values)
    return derived_config(raw, f"eco_{kind}_d{width}_{variant}_s{seed}", seed, overrides, epochs, qat_epochs)


def run_point(cfg, variant: str, firmware: bool, yosys: bool) -> dict:
    return {"kind": cfg.model.type, "width": cfg.model.d_model, "variant": variant, "seed": cfg.seed,
            **build_point(cfg, "bench_economical", firmware, yosys)}


def summarize(points: list[dict]) -> list[dict]:
    rows = []
    for key in dict.fromkeys((p["kind"], p["width"], p["variant"]) for p in points):
        ps = [p for p in points if (p["kind"], p["width"], p["variant"]) == key]
        mean, sd = mean_sd([p["accuracy"] for p in ps])
        first = min(ps, key=lambda p: p["seed"])
        rows.append({"kind": key[0], "width": key[1], "variant": key[2], "seeds": len(ps), "accuracy": mean,
                     "sd": sd, "parameters": first["parameters"], "energy_pj": first["energy_pj"],
                     "firmware": first.get("firmware")})
    return rows


def table(rows: list[dict], header: str) -> str:
    lines = [header, "", "| tagger | d | variant | params | seeds | accuracy % (± sd) | energy nJ float / quantized "
             "| LUT (ESTIMATE) | latency ns (ESTIMATE) | II | Yosys LUT | C-sim bit-exact |", "|" + "---|" * 12]
    for r in rows:
        fw = r["firmware"] or {}
        sd = f" ± {r['sd']:.2f}" if r["sd"] is not None else ""
        lines.append(f"| {r['kind']} | {r['width']} | {r['variant']} | {r['parameters']:,} | {r['seeds']} | "
                     f"{r['accuracy']:.2f}{sd} | {r['energy_pj']['float32'] / 1000:,.1f} / "
                     f"{r['energy_pj']['quantized'] / 1000:,.1f} | {fw.get('LUT', 0):,} | "
                     f"{fw.get('latency_ns', 0):.0f} | {fw.get('ii_cycles', '—')} | "
                     f"{format(fw['yosys_LUT'], ',') if 'yosys_LUT' in fw else '—'} | "
                     f"{format(fw['bit_exact'], '.4f') if 'bit_exact' in fw else '—'} |")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    fig, axes = accuracy_panels("test accuracy %",
                                ("LUT (ESTIMATE)", "energy per jet, nJ (as quantized, Horowitz 45 nm)"))
    markers = dict(zip(VARIANTS, "osD^"))
    for i, variant in enumerate(VARIANTS):
        rs = [r for r in rows if r["variant"] == variant and r["firmware"]]
        if not rs:
            continue
        acc, err = [r["accuracy"] for r in rs], [r["sd"] or 0 for r in rs]
        axes[0].errorbar([r["firmware"]["LUT"] for r in rs], acc, yerr=err, fmt=markers[variant], color=f"C{i}",
                         label=variant, capsize=2)
        axes[1].errorbar([r["energy_pj"]["quantized"] / 1000 for r in rs], acc, yerr=err, fmt=markers[variant],
                         color=f"C{i}", label=variant, capsize=2)
        for r in rs:  # which tagger and width each point is
            for ax, x in ((axes[0], r["firmware"]["LUT"]), (axes[1], r["energy_pj"]["quantized"] / 1000)):
                ax.annotate(f"{r['kind']} d={r['width']}", (x, r["accuracy"]), textcoords="offset points",
                            xytext=(5, -3), fontsize=7, color=f"C{i}")
    save_figure(fig, axes, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench_arguments(ap, "economical")
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    ap.add_argument("--widths", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--yosys", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    raw = yaml.safe_load(Path(args.config).read_text())
    results = Points(args.out, ("kind", "width", "variant", "seed"), summarize, args)
    for seed in args.seeds:
        for kind in args.kinds:
            for width in args.widths:
                for variant in args.variants:
                    if (kind, variant) in UNBUILT:
                        continue
                    first = seed == args.seeds[0]
                    old = results.get(kind, width, variant, seed)  # rebuilt only to add a missing Yosys count
                    counted = old is not None and "yosys_LUT" in (old.get("firmware") or {})
                    if old is not None and (counted or not (args.yosys and first)):
                        continue
                    cfg = point_config(raw, kind, width, variant, seed, args.epochs, args.qat_epochs, args.yosys)
                    p = run_point(cfg, variant, firmware=first, yosys=args.yosys)
                    if old is not None and (p["accuracy"], p["firmware"]["LUT"]) != (old["accuracy"],
                                                                                     old["firmware"]["LUT"]):
                        raise SystemExit(f"{cfg.name} rebuilt for its Yosys count gives accuracy {p['accuracy']} and "
                                         f"{p['firmware']['LUT']} LUTs, not the recorded {old['accuracy']} and "
                                         f"{old['firmware']['LUT']}: its training is not reproduced (another l1tag?)")
                    results.add(p)
                    logging.info("%s: %.2f %%", cfg.name, 100 * p["accuracy"])
    points = results.points
    rows = summarize(points)
    header = (f"{Path(args.config).name}'s jets, training and firmware settings, per kind, width d and weight "
              f"variant; {seeds_words(args)}; firmware of the first seed (`python bench/economical.py`).")
    if not args.no_docs:
        plot(rows, REPO / "docs" / f"{args.out}.png")
    publish(args, table(rows, header))


if __name__ == "__main__":
    main()
