"""How the FLOPs and the ESTIMATED firmware cost grow with the number of particles n, per attention kind.

Usage: python bench/scaling.py [--config configs/salt_l1.yaml] [--n 8 16 32 64 128 150] [--out bench/results]

For SAL-T, Linformer and the full Transformer at the config's width, bits and strategy (by default
configs/salt_l1.yaml: d = 16, H = 4, p = 4, 8-bit QAT, io_parallel) and fully parallel (P = n, II = 1),
each model is built with its initial weights (seeded), counted (``l1tag.models.cost``: FLOPs), converted
with l1tag's hls4ml extension and estimated (``l1tag.hardware.estimate``: an estimate, not a synthesis
result).  Writes the numbers (scaling.json) and a log-log plot (scaling.png), and prints the table and
the fitted exponents b of cost ~ n^b, which docs/hardware.md quotes.

This is the one place that converts and estimates models across n: a build's report draws only what
the build made (docs/design.md "Imports").
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf

from l1tag import kinds
from l1tag.config import load_config
from l1tag.hardware.estimate import estimate_model
from l1tag.hls.convert import convert_model
from l1tag.models.builders import build_model
from l1tag.models.cost import model_cost

REPO = Path(__file__).resolve().parents[1]
# part adds the pair bias to the Transformer's scores; its pair tables stop at 64 particles (config.py)
TYPES = tuple(k.name for k in kinds.attention_kinds() if k.pair_bias != kinds.PAIR_BIAS_ALWAYS)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(REPO / "configs" / "salt_l1.yaml"))
    ap.add_argument("--n", type=int, nargs="+", default=[8, 16, 32, 64, 128, 150])
    ap.add_argument("--out", default=str(REPO / "bench" / "results"))
    args = ap.parse_args()
    base = load_config(args.config)
    n_features = len(base.data.features)
    results = {t: {"FLOPs": [], "LUT": [], "DSP": [], "latency_cycles": []} for t in TYPES}
    for kind in TYPES:
        for n in args.n:
            cfg = dataclasses.replace(base, model=dataclasses.replace(base.model, type=kind),
                                      hls=dataclasses.replace(base.hls, reuse_factor=1, parallelization_factor=None))
            tf.keras.utils.set_random_seed(base.seed)  # the same initial weights on every run
            model = build_model(cfg.model, n, n_features, cfg.quantization, table_size=cfg.hls.table_size)
            results[kind]["FLOPs"].append(int(model_cost(model)["flops"]))
            with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
                est = estimate_model(convert_model(model, cfg.hls, Path(tmp) / "hls").hls_model)
            for q in ("LUT", "DSP"):
                results[kind][q].append(int(est["resources"][q]))
            results[kind]["latency_cycles"].append(int(est["latency_cycles"]))
    ns = np.array(args.n, dtype=float)
    m = base.model
    print(f"ESTIMATES (l1tag analytic model), {base.name}: d = {m.d_model}, H = {m.heads}, p = {m.partitions}, "
          f"{base.quantization.weights.bits}-bit, fully parallel (P = n, II = 1), strategy {base.hls.strategy}\n")
    print("| model | quantity | " + " | ".join(f"n={n}" for n in args.n) + " | exponent b (cost ~ n^b) |")
    print("|---|---|" + "---|" * len(args.n) + "---|")
    fits = {}
    for kind in TYPES:
        for q, vals in results[kind].items():
            v = np.array(vals, dtype=float)
            ok = v > 0
            b = float(np.polyfit(np.log(ns[ok]), np.log(v[ok]), 1)[0]) if ok.sum() >= 2 else float("nan")
            fits[(kind, q)] = b
            print(f"| {kind} | {q} | " + " | ".join(f"{int(x):,}" for x in vals) + f" | {b:.2f} |")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = Path(args.config).resolve()
    record = {"config": str(config.relative_to(REPO)) if config.is_relative_to(REPO) else str(config),
              "name": base.name, "n": list(args.n), "source": "estimate", "strategy": base.hls.strategy,
              "parallelization": "fully parallel (P = n, II = 1)", "results": results,
              "exponents": {kind: {q: None if np.isnan(fits[(kind, q)]) else round(fits[(kind, q)], 4)
                                   for q in results[kind]} for kind in TYPES}}
    (out / "scaling.json").write_text(json.dumps(record, indent=1, allow_nan=False) + "\n")
    print(f"\nnumbers: {out / 'scaling.json'}")

    fig, axes = plt.subplots(1, 4, figsize=(17, 4), dpi=100)
    for ax, q in zip(axes, ("FLOPs", "LUT", "DSP", "latency_cycles")):
        for kind in TYPES:
            v = np.array(results[kind][q], dtype=float)
            ok = v > 0
            ax.loglog(ns[ok], v[ok], "o-", label=f"{kind} (b = {fits[(kind, q)]:.2f})")
        ax.set_xlabel("particles n")
        ax.set_ylabel(q if q == "FLOPs" else f"{q} (estimate)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle("l1tag estimate vs number of particles (not a synthesis result)")
    fig.tight_layout()
    fig.savefig(out / "scaling.png")
    print(f"\nplot: {out / 'scaling.png'}")


if __name__ == "__main__":
    main()
