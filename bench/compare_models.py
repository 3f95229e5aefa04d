"""Train the four tagger types, float and 8-bit QAT, side by side on the same generated jets.

Usage: python bench/compare_models.py [--jets 50000] [--config configs/salt_l1.yaml] [--no-readme]

Every model sees the same data (the base config's data section with ``--jets`` jets: Pythia 8 +
FastJet, n = 32 kT-sorted constituents, features pt, etarel, phirel) and the same training settings;
only ``model.type`` changes.  The table (test split: accuracy, macro AUC, background rejection at
TPR 0.5 averaged over classes, parameters, FLOPs, BOPs, energy per jet, training time) is printed and written into
docs/models.md between the compare_models markers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from pathlib import Path

import numpy as np
from readme_table import write_between_markers

from l1tag import kinds
from l1tag.config import load_config
from l1tag.data.preprocess import run_data_stage
from l1tag.models.cost import model_cost
from l1tag.train.metrics import evaluate
from l1tag.train.trainer import epochs_words, predict, train_models

REPO = Path(__file__).resolve().parents[1]
TYPES = kinds.NAMES


def _mean_rejection(m: dict) -> float:
    vals = [v for v in m["rejection_at_tpr_0p5"].values() if v is not None]
    return float(np.mean(vals)) if vals else float("inf")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jets", type=int, default=50000)
    ap.add_argument("--config", default=str(REPO / "configs" / "salt_l1.yaml"))
    ap.add_argument("--no-readme", action="store_true", help="only print the table")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    base = load_config(args.config)
    base = dataclasses.replace(base, name="bench_compare", data=dataclasses.replace(base.data, jets=args.jets))
    build = REPO / "build" / "bench_compare"
    data = run_data_stage(base, build, progress=True)

    rows, results = [], {}
    for kind in TYPES:
        cfg = dataclasses.replace(base, model=dataclasses.replace(base.model, type=kind))
        t0 = time.perf_counter()
        float_model, qat_model, history = train_models(cfg, data)
        seconds = time.perf_counter() - t0
        y = data.y["test"]
        for label, model in (("float", float_model), ("QAT 8-bit", qat_model)):
            m = evaluate(y, predict(model, data.x["test"]))
            cost = model_cost(model)
            results[f"{kind} {label}"] = {k: m[k] for k in ("accuracy", "auc_macro", "rejection_at_tpr_0p5",
                                                             "rejection_at_tpr_0p8")} | {
                "parameters": cost["parameters"], "flops": cost["flops"], "bops": cost["bops"],
                "energy_pj": cost["energy_pj"]}
            phase = "float_seconds" if label == "float" else "qat_seconds"
            rows.append(f"| {kind} | {label} | {100 * m['accuracy']:.2f} | {m['auc_macro']:.4f} | "
                        f"{_mean_rejection(m):.1f} | {cost['parameters']:,} | {cost['flops']:,} | {cost['bops']:,} | "
                        f"{cost['energy_pj'] / 1000:,.1f} | {history.get(phase, 0.0):.0f} |")
        logging.info("%s done in %.0f s", kind, seconds)

    n_train, n_test = len(data.y["train"]), len(data.y["test"])
    header = (f"{args.jets:,} generated jets ({n_train:,} train / {n_test:,} test), n = {data.n_constituents}, "
              f"features {', '.join(data.features)}, sorted by {base.data.sort_by}; seed {base.seed}; "
              f"{epochs_words(base.train)}, {base.train.qat_epochs} QAT epochs; "
              f"2-core CPU.\n\n"
              "| model | precision | accuracy % | AUC (macro) | rejection @ TPR 0.5 (class mean) | params | FLOPs "
              "| BOPs | energy/jet nJ (Horowitz 45 nm) | train s |\n|---|---|---|---|---|---|---|---|---|---|")
    table = header + "\n" + "\n".join(rows)
    print(table)
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "compare_models.json").write_text(json.dumps(results, indent=1))
    if not args.no_readme:
        write_between_markers("compare_models", table)


if __name__ == "__main__":
    main()
