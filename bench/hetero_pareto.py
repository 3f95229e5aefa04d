"""Accuracy against firmware cost: uniform QKeras widths against heterogeneous quantization at EBOPs targets.

Usage: python bench/hetero_pareto.py [--config configs/salt_l1.yaml] [--bits 4 6 8] [--fractions 0.5 0.3 0.2]
                                     [--seeds 42] [--p 32] [--out bench/results]

On the config's own jets (its build's data stage: build/<name>/data), for each seed: the uniform model at
each weight width (``quantization.weights.bits``, integer bits kept), and the heterogeneous model
(``quantization.mode: heterogeneous``) at each target, a fraction of the EBOPs it starts with (uniform
widths, weights.bits - integer - 1 fractional bits).  Every model is trained by l1tag's trainer (float, then
quantization-aware), scored on the whole test split (the quantized model's accuracy: the firmware's, which
the build checks bit for bit), converted at P particles per clock (default n: II 1) and ESTIMATED
(l1tag.hardware.estimate: never a synthesis result).  Writes <out>/hetero_pareto_<name>_s<seeds>.json and prints
one row per model.  Hours for the full grid on 2 cores; one seed and three targets take about 40 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=REPO / "configs" / "salt_l1.yaml")
    ap.add_argument("--bits", type=int, nargs="*", default=[4, 6, 8], help="uniform weight widths")
    ap.add_argument("--fractions", type=float, nargs="*", default=[0.5, 0.3, 0.2],
                    help="heterogeneous EBOPs targets, as fractions of the starting EBOPs")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42])
    ap.add_argument("--p", type=int, default=None, help="particles per clock for the estimate (default n: II 1)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = ap.parse_args()

    from l1tag.build import StageContext, run_stage
    from l1tag.config import HETEROGENEOUS, load_config
    from l1tag.hardware.estimate import estimate_model
    from l1tag.hls.convert import convert_model
    from l1tag.models.builders import build_model
    from l1tag.models.layers.hetero import model_ebops
    from l1tag.train.hetero import transfer_weights
    from l1tag.train.metrics import evaluate
    from l1tag.train.trainer import predict, train_models

    base = load_config(args.config)
    ctx = StageContext(base, REPO / "build" / base.name, verbose=-1)
    ctx.build_dir.mkdir(parents=True, exist_ok=True)
    run_stage(ctx, "data")
    data = ctx.prepared()
    n = base.data.constituents
    hls = dataclasses.replace(base.hls, parallelization_factor=args.p or n)
    q = base.quantization

    def run(cfg, label: str) -> dict:
        t0 = time.perf_counter()
        float_model, model, history = train_models(cfg, data)
        floats[cfg.seed] = float_model  # the float phase does not depend on the quantization: the same each run
        accuracy = evaluate(data.y["test"], predict(model, data.x["test"]))["accuracy"]
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
            hw = estimate_model(convert_model(model, hls, Path(tmp) / "hls").hls_model)
        hetero = history.get("heterogeneous")
        row = {"model": cfg.model.type, "quantization": label, "seed": cfg.seed, "accuracy": accuracy,
               "ebops": model_ebops(model) if hetero else None,
               "target_ebops": hetero["target_ebops"] if hetero else None,
               "start_ebops": hetero["start_ebops"] if hetero else None,
               "kept": hetero["kept"] if hetero else None,
               "P": hls.parallelization_factor, "ii_cycles": hw["ii_cycles"], "latency_ns": hw["latency_ns"],
               **{f"{k}_estimate": v for k, v in hw["resources"].items()}, "seconds": time.perf_counter() - t0}
        print(f"{label:28s} seed {cfg.seed}: accuracy {accuracy:.4f}, LUT (ESTIMATE) {hw['resources']['LUT']:>9,}, "
              f"DSP {hw['resources']['DSP']:>5}, latency {hw['latency_ns']:g} ns"
              + (f", EBOPs {row['ebops']:,.0f} (target {row['target_ebops']:,.0f})" if hetero else ""), flush=True)
        return row

    rows, floats = [], {}
    for seed in args.seeds:
        for bits in args.bits:
            weights = dataclasses.replace(q.weights, bits=bits)
            cfg = dataclasses.replace(base, seed=seed, quantization=dataclasses.replace(q, weights=weights))
            rows.append(run(cfg, f"uniform {bits}-bit weights"))
        start = None
        for fraction in args.fractions:
            if start is None:  # the EBOPs the heterogeneous model starts from: its twin with the float weights
                probe_q = dataclasses.replace(q, mode=HETEROGENEOUS, target=dataclasses.replace(q.target, ebops=1))
                probe = build_model(base.model, n, data.x["train"].shape[-1], probe_q, table_size=base.hls.table_size)
                if seed not in floats:
                    floats[seed] = train_models(dataclasses.replace(
                        base, seed=seed, train=dataclasses.replace(base.train, qat_epochs=0)), data)[0]
                transfer_weights(floats[seed], probe)
                start = model_ebops(probe)
            target = max(1, round(fraction * start))
            hq = dataclasses.replace(q, mode=HETEROGENEOUS, target=dataclasses.replace(q.target, ebops=target))
            rows.append(run(dataclasses.replace(base, seed=seed, quantization=hq),
                            f"heterogeneous {fraction:g} x EBOPs"))
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"hetero_pareto_{base.name}_s{'-'.join(map(str, args.seeds))}.json"
    out.write_text(json.dumps({"config": str(args.config), "rows": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
