"""Does the input order matter, and do fixed physics-motivated projections help the Linformer?

Usage: python bench/order_and_projection.py [--config configs/salt_l1.yaml] [--orders pt kt dr eta]
                                            [--seeds 42 43 44] [--epochs 30] [--qat-epochs 10] [--out NAME]
                                            [--no-docs]

On the config's jets, tagger and training (30 + 10 epochs by default, ``--epochs`` / ``--qat-epochs``), each of:
SAL-T and the Linformer with the constituents in each order of ``--orders`` (``data.sort_by``, each descending:
pT, kT = pT ΔR, ΔR to the jet axis, η relative to the jet), and the Linformer with fixed projections
(``model.projection: bins``: E = F = averages over p contiguous blocks of the ordered particles, not trained)
in the kT and ΔR orders, where a block is a ring of similar kT or ΔR.  Each point is a build of l1tag's data and
train stages in build/bench_order/<name> (a rerun resumes); reported: the deployed (QAT) model's test accuracy
mean ± sd over seeds and the float model's.  Writes ``bench/results/<out>.json``, the table into
docs/models.md between the ``<out>`` markers and ``docs/<out>.png`` (accuracy ± sd per order, one series per
tagger and projection).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import yaml
from stage_points import (REPO, Points, accuracy_panels, bench_arguments, build_point, derived_config, mean_sd,
                          publish, save_figure, seeds_words)

ORDERS = ("pt", "kt", "dr", "eta")
ORDER_WORDS = {"pt": "pT", "kt": "kT", "dr": "ΔR", "eta": "η"}
FIXED_ORDERS = ("kt", "dr")  # the orders in which a contiguous block is a physics-motivated bin


def variants(orders) -> list[tuple[str, str, str]]:
    """(kind, order, projection) of every point, in table order."""
    out = [(kind, order, "learned") for kind in ("salt", "linformer") for order in orders]
    return out + [("linformer", order, "bins") for order in orders if order in FIXED_ORDERS]


def summarize(points: list[dict]) -> list[dict]:
    rows = []
    for kind, order, projection in dict.fromkeys((p["kind"], p["order"], p["projection"]) for p in points):
        ps = [p for p in points if (p["kind"], p["order"], p["projection"]) == (kind, order, projection)]
        mean, sd = mean_sd([p["accuracy"] for p in ps])
        mean_f, sd_f = mean_sd([p["accuracy_float"] for p in ps])
        rows.append({"kind": kind, "order": order, "projection": projection, "seeds": len(ps), "accuracy": mean,
                     "sd": sd, "accuracy_float": mean_f, "sd_float": sd_f, "parameters": ps[0]["parameters"]})
    return rows


def _pm(mean: float, sd: float | None) -> str:
    return f"{mean:.2f}" + (f" ± {sd:.2f}" if sd is not None else "")


def table(rows: list[dict], header: str) -> str:
    lines = [header, "", "| tagger | order | projection | seeds | accuracy % QAT (± sd) | float % (± sd) "
             "| weights (fixed ones included) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['kind']} | {r['order']} | {r['projection']} | {r['seeds']} | "
                     f"{_pm(r['accuracy'], r['sd'])} | {_pm(r['accuracy_float'], r['sd_float'])} | "
                     f"{r['parameters']:,} |")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    fig, (ax,) = accuracy_panels("test accuracy % (QAT, ± sd over seeds)", ("constituent order (descending)",),
                                 log_x=False, figsize=(7, 4.2))
    orders = list(dict.fromkeys(r["order"] for r in rows))
    series = list(dict.fromkeys((r["kind"], r["projection"]) for r in rows))
    for i, (kind, projection) in enumerate(series):
        rs = [r for r in rows if (r["kind"], r["projection"]) == (kind, projection)]
        xs = [orders.index(r["order"]) + (i - (len(series) - 1) / 2) * 0.15 for r in rs]
        ax.errorbar(xs, [r["accuracy"] for r in rs], yerr=[r["sd"] or 0 for r in rs], fmt="osD^"[i % 4],
                    color=f"C{i}", capsize=3, label=f"{kind}, {projection} projection" if kind == "linformer"
                    else kind)
    ax.set_xticks(range(len(orders)), [ORDER_WORDS.get(o, o) for o in orders])
    save_figure(fig, [ax], path, legend_size=8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench_arguments(ap, "order_and_projection", epochs=30, qat_epochs=10)  # the published tables' budget
    ap.add_argument("--orders", nargs="+", default=list(ORDERS), choices=ORDERS)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    raw = yaml.safe_load(Path(args.config).read_text())
    results = Points(args.out, ("kind", "order", "projection", "seed"), summarize, args)
    for seed in args.seeds:
        for kind, order, projection in variants(args.orders):
            if results.done(kind, order, projection, seed):
                continue
            name = f"order_{kind}_{order}_{projection}_s{seed}"
            cfg = derived_config(raw, name, seed, {"data": {"sort_by": order},
                                                   "model": {"type": kind, "projection": projection}},
                                 args.epochs, args.qat_epochs)
            p = {"kind": kind, "order": order, "projection": projection, "seed": seed,
                 **build_point(cfg, "bench_order")}
            results.add(p)
            logging.info("%s: %.2f %%", name, 100 * p["accuracy"])
    points = results.points
    rows = summarize(points)
    header = (f"{Path(args.config).name}'s tagger and jets (n = {raw['data']['constituents']}), each order "
              f"descending; {seeds_words(args)} (`python bench/order_and_projection.py`).")
    if not args.no_docs:
        plot(rows, REPO / "docs" / f"{args.out}.png")
    publish(args, table(rows, header))


if __name__ == "__main__":
    main()
