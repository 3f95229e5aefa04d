"""Fidelity of the shipped taggers: float, quantized (QKeras) and firmware (C-simulation) on the same jets.

Usage: python bench/fidelity.py [--configs salt_l1 linformer_l1 transformer_ref deepsets_l1]

For each config the build's own stages run in build/<name> (data, train, firmware; each skipped when
current), with the whole test split C-simulated (csim.jets: null).  From its csim.json: accuracy and
macro AUC of the float model, the QKeras model and the firmware on those jets, the firmware's argmax
agreement with both models, the largest logit differences, and the fidelity checks of csim.*.
Prints the table of docs/firmware.md (and writes it between its markers).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from readme_table import write_between_markers  # noqa: E402

from l1tag.build import StageContext, fidelity_checks, run_stage  # noqa: E402
from l1tag.config import load_config  # noqa: E402

CONFIGS = ("salt_l1", "linformer_l1", "transformer_ref", "deepsets_l1")


def measure(name: str) -> dict:
    cfg = load_config(REPO / "configs" / f"{name}.yaml")
    cfg = dataclasses.replace(cfg, csim=dataclasses.replace(cfg.csim, jets=None))  # the whole test split
    ctx = StageContext(cfg, REPO / "build" / cfg.name, verbose=-1)
    ctx.build_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for stage in ("data", "train", "firmware"):
        run_stage(ctx, stage)
    c = json.loads((ctx.build_dir / "csim.json").read_text())
    failed = [x["threshold"] for x in fidelity_checks(cfg, c) if not x["pass"]]
    return {"config": name, "model": cfg.model.type, "jets": c["jets"], "bit_exact": c["bit_exact_fraction"],
            **{f"{k}_{m}": c[f"quality_{m}"][q] for m in ("float", "quantized", "firmware")
               for k, q in (("acc", "accuracy"), ("auc", "auc_macro"))},
            "agree_q": c["argmax_agreement_vs_quantized"], "agree_f": c["argmax_agreement_vs_float"],
            "diff_q": c["max_abs_diff_vs_quantized"], "diff_f": c["max_abs_diff_vs_float"],
            "drop": c["accuracy_drop_float_points"], "inexact": c.get("float32_inexact_sums", []),
            "checks": "PASS" if not failed else "FAIL: " + ", ".join(failed), "seconds": time.perf_counter() - t0}


def table(rows: list[dict]) -> str:
    head = ("| config | jets | accuracy float / QKeras / firmware | AUC float / QKeras / firmware | agreement with "
            "QKeras / float | max logit diff vs QKeras / float | drop (points) | bit-exact | csim.* checks |")
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        lines.append(f"| {r['config']} | {r['jets']:,} | {r['acc_float']:.4f} / {r['acc_quantized']:.4f} / "
                     f"{r['acc_firmware']:.4f} | {r['auc_float']:.4f} / {r['auc_quantized']:.4f} / "
                     f"{r['auc_firmware']:.4f} | {r['agree_q']:.4f} / {r['agree_f']:.4f} | {r['diff_q']:.3g} / "
                     f"{r['diff_f']:.3g} | {r['drop']:.2f} | {r['bit_exact']:.4f} | {r['checks']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS))
    args = ap.parse_args()
    rows = []
    for name in args.configs:
        rows.append(measure(name))
        print(json.dumps(rows[-1]), flush=True)
    text = table(rows)
    print(text)
    if set(args.configs) == set(CONFIGS):
        write_between_markers("fidelity", text)


if __name__ == "__main__":
    main()
