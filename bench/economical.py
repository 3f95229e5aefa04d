"""Economical taggers: which of uniform 8-bit, ternary (PARQ or straight-through) and learned low-rank weights
gives the most accuracy for its LUTs and its energy, at three model sizes?

Usage: python bench/economical.py [--config configs/salt_l1.yaml] [--kinds salt linformer transformer]
                                  [--widths 8 16 32] [--variants uniform ternary_parq ternary_ste low_rank]
                                  [--seeds 42 43 44] [--epochs E] [--qat-epochs Q] [--yosys] [--out NAME]
                                  [--no-docs]

Each point is the config's tagger with ``model.type`` = kind and width d (``model.d_model``, ``ffn_dim`` and the
head's width; 2 heads at d = 8, else the config's), trained per seed by l1tag's own stages in
build/bench_economical/<name> (``--epochs`` / ``--qat-epochs`` override the config's), in one of the variants:
``uniform`` (the config's quantization), ``ternary_parq`` and ``ternary_ste`` (``quantization.mode: ternary``
with each ``ternary_training``) and ``low_rank`` (``train.low_rank.strength`` 0.5: learned ranks, each Dense
layer of rank r built as two).  Reported per point: the deployed model's test accuracy mean ± sd over seeds,
parameters, energy per jet (l1tag.models.cost, Horowitz 45 nm: float32 and as quantized) and, for the first
seed, the firmware at the config's P: l1tag's ESTIMATE (LUT, latency, II; no vendor tool) and with ``--yosys``
the Yosys count of its da4ml RTL.  Writes ``bench/results/<out>.json`` after every build (a rerun resumes), the
table into docs/models.md between the ``<out>`` markers and ``docs/<out>.png``: accuracy against LUT and
against energy.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import yaml
from readme_table import write_between_markers
from stage_points import build, derived_config, mean_sd, trained

REPO = Path(__file__).resolve().parents[1]
KINDS = ("salt", "linformer", "transformer")
VARIANTS = {"uniform": {},
            "ternary_parq": {"quantization": {"mode": "ternary", "ternary_training": "parq"}},
            "ternary_ste": {"quantization": {"mode": "ternary", "ternary_training": "ste"}},
            "low_rank": {"train": {"low_rank": {"strength": 0.5}}}}


def point_config(raw: dict, kind: str, width: int, variant: str, seed: int, epochs, qat_epochs, yosys: bool):
    heads = 2 if width < 16 else raw.get("model", {}).get("heads", 4)
    overrides = {"model": {"type": kind, "d_model": width, "ffn_dim": width, "head_dims": [width], "heads": heads},
                 "rtl": {"enabled": yosys, "jets": 200}}
    for section, values in VARIANTS[variant].items():
        if section == "quantization":  # ternary mode sets the weights: the config's weight width is not read
            q = dict(raw.get("quantization", {}), **values)
            q.pop("weights", None)
            overrides["quantization"] = q
        else:
            overrides.setdefault(section, {}).update(values)
    return derived_config(raw, f"eco_{kind}_d{width}_{variant}_s{seed}", seed, overrides, epochs, qat_epochs)


def run_point(cfg, variant: str, firmware: bool, yosys: bool) -> dict:
    stages = ("data", "train") + (("firmware",) + (("rtl",) if yosys else ()) + ("report",) if firmware else ())
    build_dir = build(cfg, "bench_economical", stages)
    out = {"kind": cfg.model.type, "width": cfg.model.d_model, "variant": variant, "seed": cfg.seed,
           **trained(build_dir)}
    if firmware:
        report = json.loads((build_dir / "report.json").read_text())
        hw = report["hardware"]
        out["firmware"] = {"LUT": hw["resources"]["LUT"], "DSP": hw["resources"]["DSP"],
                           "latency_ns": hw["latency_ns"], "ii_cycles": hw["ii_cycles"],
                           "bit_exact": report["csim"]["bit_exact_fraction"]}
        synth = report.get("open_synthesis") or {}
        if "blocks" in synth:
            out["firmware"]["yosys_LUT"] = synth["total"]["LUT"]
    return out


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
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
    axes[0].set_xlabel("LUT (ESTIMATE)")
    axes[1].set_xlabel("energy per jet, nJ (as quantized, Horowitz 45 nm)")
    axes[0].set_ylabel("test accuracy %")
    for ax in axes:
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(REPO / "configs" / "salt_l1.yaml"))
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    ap.add_argument("--widths", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--qat-epochs", type=int, default=None)
    ap.add_argument("--yosys", action="store_true")
    ap.add_argument("--out", default="economical")
    ap.add_argument("--no-docs", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    raw = yaml.safe_load(Path(args.config).read_text())
    path = REPO / "bench" / "results" / f"{args.out}.json"
    points = json.loads(path.read_text())["points"] if path.exists() else []
    done = {(p["kind"], p["width"], p["variant"], p["seed"]) for p in points}
    for seed in args.seeds:
        for kind in args.kinds:
            for width in args.widths:
                for variant in args.variants:
                    if (kind, width, variant, seed) in done:
                        continue
                    cfg = point_config(raw, kind, width, variant, seed, args.epochs, args.qat_epochs, args.yosys)
                    p = run_point(cfg, variant, firmware=seed == args.seeds[0], yosys=args.yosys)
                    points.append(p)
                    logging.info("%s: %.2f %%", cfg.name, 100 * p["accuracy"])
                    path.parent.mkdir(exist_ok=True)
                    path.write_text(json.dumps({"points": points, "summary": summarize(points)}, indent=1))
    rows = summarize(points)
    header = (f"{Path(args.config).name}'s jets, training and firmware settings, per kind, width d and weight "
              f"variant; epochs {args.epochs or 'as configured'}; accuracy on the test split ± sd over seeds "
              f"{', '.join(map(str, args.seeds))}; firmware of the first seed (`python bench/economical.py`).")
    text = table(rows, header)
    print(text)
    if not args.no_docs:
        plot(rows, REPO / "docs" / f"{args.out}.png")
        write_between_markers(args.out, text)


if __name__ == "__main__":
    main()
