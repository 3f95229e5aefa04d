"""Accuracy against firmware cost: uniform QKeras widths against heterogeneous quantization at EBOPs targets.

Usage: python bench/hetero_pareto.py [--config configs/salt_l1.yaml] [--bits 4 6 8]
                                     [--fractions 0.6 0.4 0.25 0.15 0.1] [--luts 1100000] [--seeds 42 43] [--p 32]
                                     [--out bench/results]
       python bench/hetero_pareto.py --yosys bench/results/hetero_pareto_<name>_s<seeds>.json [--seeds 42]
                                     [--match '8-bit' '0.25 x']
       python bench/hetero_pareto.py --reestimate bench/results/hetero_pareto_<name>_s<seeds>.json
       python bench/hetero_pareto.py --markdown bench/results/hetero_pareto_*.json
       python bench/hetero_pareto.py --plot bench/results/hetero_pareto_*.json [--out bench/results]

On the config's own jets (its build's data stage: build/<name>/data), for each seed: one float model, then
from its weights the uniform model at each weight width (``quantization.weights.bits``, integer bits kept)
and the heterogeneous model (``quantization.mode: heterogeneous``) at each target, a fraction of the EBOPs
it starts with (uniform widths, weights.bits - integer - 1 fractional bits), and at each LUT target
(``quantization.target.lut``, steered by the ESTIMATE at P; a run of LUT targets alone writes
..._lut.json).  Every model is trained by l1tag's trainer (quantization-aware from the seed's float model),
scored on the whole test split (the quantized model's accuracy: the firmware's, which the build checks bit
for bit), converted at P particles per clock (default n: II 1) and ESTIMATED (l1tag.hardware.estimate:
never a synthesis result).  Writes <out>/hetero_pareto_<name>_s<seeds>.json after every row (an
interrupted run keeps what it finished; each quantized model beside it, in ..._models/) with a summary:
mean and sd over seeds, the heterogeneous front against each uniform point, and how well EBOPs tracks the
constant-weight layers' estimated LUT.  ``--plot`` draws accuracy against LUT (ESTIMATE) of
one or more such files, with the published anchors (other dataset) for scale.  ``--yosys`` adds the Yosys
count to the rows of a finished file (of ``--seeds``, default all): each saved model lowered at the
config's P, its RTL blocks built by da4ml, checked by Verilator on 200 test jets and synthesized alone by
Yosys (l1tag.rtl.open_synth, as the build's open-synth stage), times each block's copies at P = n: the
blocks' Yosys counts summed, not one synthesis of the whole design (bench/rtl_top.py does that for one
model; on the default build the two agreed within 0.4 % in LUT).  About 4 minutes per model on 2 cores.
About 25 minutes per model and seed on 2 cores (one float model, eight quantized ones).
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

# published II-1 designs at n = 32 (docs: ../shared/reference/anchors.md): accuracy on the hls4ml jet dataset,
# not on l1tag's jets -- drawn for their cost only, labelled "other dataset"
ANCHORS = [  # name, LUT, accuracy, label offset (points)
    ("Linformer, arXiv:2510.24784", 267_000, 0.784, (6, 2)),
    ("Transformer, arXiv:2510.24784", 180_000, 0.770, (6, -20)),
    ("JEDI-linear, arXiv:2508.15468", 45_300, 0.780, (6, -20)),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=REPO / "configs" / "salt_l1.yaml")
    ap.add_argument("--bits", type=int, nargs="*", default=[4, 6, 8], help="uniform weight widths")
    ap.add_argument("--fractions", type=float, nargs="*", default=[0.6, 0.4, 0.25, 0.15, 0.1],
                    help="heterogeneous EBOPs targets, as fractions of the starting EBOPs")
    ap.add_argument("--luts", type=int, nargs="*", default=[],
                    help="heterogeneous LUT targets (quantization.target.lut, ESTIMATE at the bench's P)")
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="default 42 (--yosys: every seed in the file)")
    ap.add_argument("--p", type=int, default=None, help="particles per clock for the estimate (default n: II 1)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    ap.add_argument("--plot", type=Path, nargs="+", help="draw these result files instead of running")
    ap.add_argument("--markdown", type=Path, nargs="+", help="print these result files as markdown tables")
    ap.add_argument("--yosys", type=Path, help="add the Yosys block totals to this result file's rows")
    ap.add_argument("--reestimate", type=Path, help="recompute the estimate columns of this result file's rows")
    ap.add_argument("--match", nargs="+", default=None,
                    help="with --yosys: only the rows whose quantization contains one of these (e.g. '0.25 x')")
    args = ap.parse_args()
    if args.markdown:
        for path in args.markdown:
            print(markdown(json.loads(path.read_text()), path.name) + "\n")
        return
    if args.plot:
        print(f"wrote {plot([json.loads(p.read_text()) for p in args.plot], args.out / 'hetero_pareto.png')}")
        return
    if args.reestimate:
        reestimate(args.reestimate)
        return
    if args.yosys:
        yosys_counts(args.yosys, set(args.seeds) if args.seeds else None, args.match)
        return

    from l1tag.build import StageContext, run_stage
    from l1tag.config import HETEROGENEOUS, load_config
    from l1tag.hardware.lut_target import LutTarget
    from l1tag.hardware.project import estimate_keras
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
    args.seeds = args.seeds or [42]
    rows, floats, float_accuracy = [], {}, {}
    args.out.mkdir(parents=True, exist_ok=True)
    only_luts = args.luts and not args.bits and not args.fractions  # a LUT-target run: its own file
    out = args.out / f"hetero_pareto_{base.name}_s{'-'.join(map(str, args.seeds))}{'_lut' if only_luts else ''}.json"

    def float_of(seed: int):
        """The seed's float model, trained once: every quantization of a seed starts from the same weights."""
        if seed not in floats:
            cfg = dataclasses.replace(base, seed=seed, quantization=dataclasses.replace(q, enabled=False))
            floats[seed] = train_models(cfg, data)[0]
            float_accuracy[seed] = evaluate(data.y["test"], predict(floats[seed], data.x["test"]))["accuracy"]
            print(f"{'float model':28s} seed {seed}: accuracy {float_accuracy[seed]:.4f}", flush=True)
        return floats[seed]

    def run(cfg, label: str) -> dict:
        t0 = time.perf_counter()
        lut_target = LutTarget(cfg) if cfg.quantization.target.lut else None
        _, model, history = train_models(cfg, data, float_model=float_of(cfg.seed), lut_target=lut_target)
        accuracy = evaluate(data.y["test"], predict(model, data.x["test"]))["accuracy"]
        hw = estimate_keras(model, hls)
        hetero = history.get("heterogeneous")
        row = {"model": cfg.model.type, "quantization": label, "seed": cfg.seed, "accuracy": accuracy,
               "float_accuracy": float_accuracy[cfg.seed],
               "ebops": model_ebops(model) if hetero else None,
               "target_ebops": hetero["target_ebops"] if hetero else None,
               "start_ebops": hetero["start_ebops"] if hetero else None,
               "kept": hetero["kept"] if hetero else None,
               "target_lut": cfg.quantization.target.lut, "lut_steering": hetero.get("lut") if hetero else None,
               "P": hls.parallelization_factor, **estimate_columns(hw), "seconds": time.perf_counter() - t0}
        print(f"{label:28s} seed {cfg.seed}: accuracy {accuracy:.4f}, LUT (ESTIMATE) {hw['resources']['LUT']:>9,}, "
              f"DSP {hw['resources']['DSP']:>5}, latency {hw['latency_ns']:g} ns"
              + (f", EBOPs {row['ebops']:,.0f} (target {row['target_ebops']:,.0f})" if hetero else ""), flush=True)
        row["model_file"] = f"{out.stem}_models/{label.replace(' ', '_')}_s{cfg.seed}.h5"
        (args.out / row["model_file"]).parent.mkdir(exist_ok=True)
        model.save(args.out / row["model_file"])  # for --yosys and --reestimate on the same firmware later
        rows.append(row)
        tmp = out.with_suffix(".json.tmp")  # after every row: an interrupted run keeps what it finished
        tmp.write_text(json.dumps({"config": str(args.config), "rows": rows, "summary": summarize(rows)}, indent=1))
        tmp.replace(out)
        return row

    for seed in args.seeds:
        for bits in args.bits:
            weights = dataclasses.replace(q.weights, bits=bits)
            run(dataclasses.replace(base, seed=seed, quantization=dataclasses.replace(q, weights=weights)),
                f"uniform {bits}-bit weights")
        # the EBOPs the heterogeneous model starts from: its twin with the float weights at uniform widths
        probe_q = dataclasses.replace(q, mode=HETEROGENEOUS, target=dataclasses.replace(q.target, ebops=1))
        probe = build_model(base.model, n, data.x["train"].shape[-1], probe_q, table_size=base.hls.table_size)
        transfer_weights(float_of(seed), probe)
        start = model_ebops(probe)
        for fraction in args.fractions:
            target = max(1, round(fraction * start))
            hq = dataclasses.replace(q, mode=HETEROGENEOUS, target=dataclasses.replace(q.target, ebops=target))
            run(dataclasses.replace(base, seed=seed, quantization=hq), f"heterogeneous {fraction:g} x EBOPs")
        for lut in args.luts:  # a LUT target: steered by the estimate at the bench's P (l1tag/hardware/lut_target.py)
            hq = dataclasses.replace(q, mode=HETEROGENEOUS, target=dataclasses.replace(q.target, lut=lut))
            run(dataclasses.replace(base, seed=seed, quantization=hq, hls=hls), f"heterogeneous LUT {lut}")
    print(json.dumps(summarize(rows), indent=1))
    print(f"wrote {out}")


def estimate_columns(hw: dict) -> dict:
    return {"ii_cycles": hw["ii_cycles"], "latency_ns": hw["latency_ns"],
            **{f"{k}_estimate": v for k, v in hw["resources"].items()},
            # the constant-weight layers alone (per-particle Dense = hls4ml Conv1D, and the head's Dense): what
            # EBOPs counts
            "dense_LUT_estimate": sum(r["LUT"] for r in hw["layers"] if r["class"].endswith(("Dense", "Conv1D")))}


def reestimate(path: Path) -> None:
    """The estimate columns of every row again, from its saved model (after a change to the estimator)."""
    from l1tag.config import load_config
    from l1tag.hardware.project import estimate_keras
    from l1tag.models.builders import load_model

    result = json.loads(path.read_text())
    cfg = load_config(result["config"])
    hls = dataclasses.replace(cfg.hls, parallelization_factor=result["rows"][0]["P"])
    for row in result["rows"]:
        row.update(estimate_columns(estimate_keras(load_model(path.parent / row["model_file"]), hls)))
        print(f"{row['quantization']:28s} seed {row['seed']}: LUT (ESTIMATE) {row['LUT_estimate']:>9,}, "
              f"of which constant-weight layers {row['dense_LUT_estimate']:>9,}", flush=True)
    _save(path, result)


def _save(path: Path, result: dict) -> None:
    result["summary"] = summarize(result["rows"])
    tmp_path = path.with_suffix(".json.tmp")
    tmp_path.write_text(json.dumps(result, indent=1))
    tmp_path.replace(path)


def yosys_counts(path: Path, seeds: set | None, match: list[str] | None = None) -> None:
    """Each row's model through the open-synth stage's blocks (Yosys), its totals at P = n into the row."""
    from l1tag.build import StageContext
    from l1tag.config import load_config, particles_per_clock
    from l1tag.hls.lower import lower
    from l1tag.models.builders import load_model
    from l1tag.rtl.blocks import split_blocks
    from l1tag.rtl.open_synth import block_values, open_synth
    from l1tag.rtl.synth import COUNTS

    result = json.loads(path.read_text())
    cfg = load_config(result["config"])
    data = StageContext(cfg, REPO / "build" / cfg.name, verbose=-1).prepared()
    n, h = cfg.data.constituents, cfg.hls
    parallel = particles_per_clock(n, h.parallelization_factor)
    rtl_cfg = dataclasses.replace(cfg.rtl, top=False, jets=200)
    x = data.x["test"][:rtl_cfg.jets]
    for row in result["rows"]:
        if (seeds and row["seed"] not in seeds) or "LUT_yosys" in row or \
                (match and not any(m in row["quantization"] for m in match)):
            continue
        t0 = time.perf_counter()
        lowered = lower(load_model(path.parent / row["model_file"]), h.reuse_factor, h.strategy, h.table_size,
                        h.parallelization_factor, h.variable_products)
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
            section = open_synth(lowered, x, n, parallel, rtl_cfg, Path(tmp) / "rtl", progress=False)
        values = block_values(lowered, x[:2])
        copies = {b.name: b.instances for b in split_blocks(lowered, n, n, {k: v.shape[1:] for k, v in values.items()})}
        for k in COUNTS:
            row[f"{k}_yosys"] = int(sum(b[k] * copies[b["name"]] for b in section["blocks"]))
        row["yosys_bit_exact_fraction"] = section["bit_exact_fraction"]
        row["yosys_seconds"] = round(time.perf_counter() - t0, 1)
        print(f"{row['quantization']:28s} seed {row['seed']}: LUT (Yosys, blocks x copies at P = {n}) "
              f"{row['LUT_yosys']:>9,}, DSP {row['DSP_yosys']:>5}, ESTIMATE {row['LUT_estimate']:>9,}; "
              f"Verilator bit-exact {row['yosys_bit_exact_fraction']:.3f}", flush=True)
        _save(path, result)


def summarize(rows: list[dict]) -> dict:
    """Mean and sd over seeds of each quantization; against each uniform point, the most accurate
    heterogeneous point that costs no more LUT (ESTIMATE, means) and the cheapest that is at least as
    accurate (no interpolation: the front has a cliff where accuracy collapses); how well EBOPs tracks the
    estimated LUT (Pearson r over the heterogeneous rows), of the constant-weight layers and of the whole
    design."""
    import numpy as np

    points = []
    for label in dict.fromkeys(r["quantization"] for r in rows):
        group = [r for r in rows if r["quantization"] == label]
        acc = np.array([r["accuracy"] for r in group])
        points.append({"quantization": label, "seeds": len(group), "accuracy_mean": float(acc.mean()),
                       "accuracy_sd": float(acc.std(ddof=1)) if len(group) > 1 else None,
                       **{f"{k}_mean": float(np.mean([r[k] for r in group]))
                          for k in ("LUT_estimate", "dense_LUT_estimate", "DSP_estimate", "latency_ns")},
                       "ebops_mean": float(np.mean([r["ebops"] for r in group])) if group[0]["ebops"] else None,
                       **({f"{k}_yosys_mean": float(np.mean([r[f"{k}_yosys"] for r in group if f"{k}_yosys" in r]))
                           for k in ("LUT", "DSP")} if any("LUT_yosys" in r for r in group) else {})})
    hetero = [p for p in points if p["quantization"].startswith("heterogeneous")]
    comparisons = []
    for u in (p for p in points if p["quantization"].startswith("uniform")):
        row = {"uniform": u["quantization"]}
        cheaper = [p for p in hetero if p["LUT_estimate_mean"] <= u["LUT_estimate_mean"]]
        if cheaper:  # the most accurate heterogeneous point that costs no more
            best = max(cheaper, key=lambda p: p["accuracy_mean"])
            row["best_hetero_at_no_more_LUT"] = best["quantization"]
            row["accuracy_gain"] = best["accuracy_mean"] - u["accuracy_mean"]
        better = [p for p in hetero if p["accuracy_mean"] >= u["accuracy_mean"]]
        if better:  # the cheapest heterogeneous point that is at least as accurate
            least = min(better, key=lambda p: p["LUT_estimate_mean"])
            row["least_LUT_hetero_at_no_less_accuracy"] = least["quantization"]
            row["LUT_ratio"] = least["LUT_estimate_mean"] / u["LUT_estimate_mean"]
        comparisons.append(row)
    hrows = [r for r in rows if r["ebops"] is not None]
    track = None
    if len(hrows) >= 3:
        e = np.array([r["ebops"] for r in hrows], dtype=float)
        track = {f"pearson_r_ebops_vs_{k}": float(np.corrcoef(e, [r[k] for r in hrows])[0, 1])
                 for k in ("dense_LUT_estimate", "LUT_estimate")}
    return {"points": points, "hetero_vs_uniform": comparisons, "ebops_tracking": track}


def markdown(result: dict, name: str) -> str:
    """One table row per quantization: means over seeds (accuracy ± sd), ESTIMATE and (where measured) Yosys."""
    rows, points = result["rows"], result["summary"]["points"]
    seeds = sorted({r["seed"] for r in rows})
    floats = {r["seed"]: r["float_accuracy"] for r in rows}
    yosys_seeds = sorted({r["seed"] for r in rows if "LUT_yosys" in r})
    seed_list = ", ".join(map(str, seeds))
    float_list = ", ".join(f"{100 * floats[s]:.2f} %" for s in seeds)
    yosys_note = f", seed {', '.join(map(str, yosys_seeds))}" if yosys_seeds else ""
    out = [f"`{name}` ({rows[0]['model']}, n = 32, P = {rows[0]['P']}; seeds {seed_list}; float model {float_list})",
           "",
           "| quantization | accuracy (mean ± sd) | EBOPs | LUT, whole design (ESTIMATE) | LUT, constant-weight layers "
           f"(ESTIMATE) | DSP (ESTIMATE) | latency (ESTIMATE) | LUT / DSP (Yosys, blocks x copies{yosys_note}) |",
           "|---|---|---|---|---|---|---|---|"]
    for p in points:
        sd = f" ± {100 * p['accuracy_sd']:.2f}" if p["accuracy_sd"] is not None else ""
        ys = [r for r in rows if r["quantization"] == p["quantization"] and "LUT_yosys" in r]
        yosys = " / ".join(f"{r['LUT_yosys']:,} / {r['DSP_yosys']:,}" for r in ys) or "—"
        ebops = f"{p['ebops_mean']:,.0f}" if p["ebops_mean"] else "—"
        out.append(f"| {p['quantization']} | {100 * p['accuracy_mean']:.2f} %{sd} | {ebops} | "
                   f"{p['LUT_estimate_mean']:,.0f} | {p['dense_LUT_estimate_mean']:,.0f} | "
                   f"{p['DSP_estimate_mean']:,.0f} | "
                   f"{p['latency_ns_mean']:.0f} ns | {yosys} |")
    return "\n".join(out)


def plot(results: list[dict], path: Path) -> Path:
    """Accuracy (mean ± sd over seeds) against LUT (ESTIMATE) per model and quantization: the whole design
    with the published anchors drawn in (left), and the constant-weight layers alone (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    for res in results:
        model = res["rows"][0]["model"]
        for kind, marker in (("uniform", "s"), ("heterogeneous", "o")):
            pts = sorted((p for p in res["summary"]["points"] if p["quantization"].startswith(kind)),
                         key=lambda p: p["LUT_estimate_mean"])
            for ax, key in zip(axes, ("LUT_estimate_mean", "dense_LUT_estimate_mean")):
                if pts:
                    ax.errorbar([p[key] / 1e3 for p in pts], [100 * p["accuracy_mean"] for p in pts],
                                yerr=[100 * (p["accuracy_sd"] or 0) for p in pts], marker=marker, capsize=3,
                                label=f"{model}, {kind} (l1tag jets)")
    for name, lut, acc, offset in ANCHORS:
        axes[0].scatter([lut / 1e3], [100 * acc], marker="*", s=120, color="grey")
        axes[0].annotate(f"{name}\n(other dataset)", (lut / 1e3, 100 * acc), fontsize=7, xytext=offset,
                         textcoords="offset points")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("LUT of the whole design at II 1, n = 32 (thousands)\nl1tag: ESTIMATE; anchors: Vivado reports")
    axes[1].set_xlabel("LUT of the constant-weight layers alone (thousands, ESTIMATE)\n"
                       "what heterogeneous weights act on")
    for ax in axes:
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()
