"""The whole tagger as one RTL design at II 1 (P = n), outside the build: designs too large for it.

Usage: python bench/rtl_top.py [--config configs/salt_l1.yaml] [--build build/salt_l1] [--jets 6000]
                               [--synth] [--out bench/results]

Takes a finished build's trained model (``<build>/model/qat.h5``) and test jets, lowers it at P = n, and
runs ``l1tag.rtl.top.build_top``: da4ml's pipelined Verilog/VHDL of the whole tagger, its latency (da4ml's
register placement), Verilator on ``--jets`` test jets (every logit against the fixed-point reference)
and, with ``--synth``, Yosys on the whole top.  Beside it: the block totals of the same model at P = n
(the build's per-block Yosys counts x their copies at P = n, from ``<build>/rtl/rtl.json``) and the HLS
ESTIMATE at P = n.  Writes ``<out>/rtl_top_<name>.json`` and prints a table; the RTL lands in
``<out>/rtl_top_<name>/`` (not committed).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=REPO / "configs" / "salt_l1.yaml")
    ap.add_argument("--build", type=Path, default=None, help="the finished build (default build/<name>)")
    ap.add_argument("--jets", type=int, default=None, help="test jets through Verilator (default csim.jets)")
    ap.add_argument("--synth", action="store_true",
                    help="Yosys on the whole top, stage by stage (over an hour for the default tagger on 2 cores)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    ap.add_argument("--logic-only", action="store_true",
                    help="with --synth: the stages' logic only, not the registers (the top's register view)")
    ap.add_argument("--reuse", action="store_true",
                    help="take the RTL already in <out>/rtl_top_<name>/ (its top.json: trace and Verilator numbers of "
                         "that run) and the modules Yosys already finished there")
    args = ap.parse_args()

    from l1tag.config import load_config
    from l1tag.data.preprocess import load_prepared
    from l1tag.hardware.estimate import estimate_model
    from l1tag.hls.convert import convert_model
    from l1tag.hls.lower import lower
    from l1tag.models.builders import load_model
    from l1tag.numerics.fixed_point import quantize
    from l1tag.ops import run_reference
    from l1tag.rtl.blocks import inside_values, split_blocks
    from l1tag.rtl.compare import compare
    from l1tag.rtl.synth import COUNTS, synthesize_by_stage
    from l1tag.rtl.top import CORE, build_top

    cfg = load_config(args.config)
    build = args.build or REPO / "build" / cfg.name
    n, h = cfg.data.constituents, cfg.hls
    ii1 = dataclasses.replace(h, parallelization_factor=n)
    model = load_model(build / "model" / "qat.h5")
    lowered = lower(model, h.reuse_factor, h.strategy, h.table_size, n, h.variable_products)
    data = load_prepared(build / "data" / "prepared.npz")
    jets = args.jets or cfg.csim.jets or len(data.y["test"])
    x = quantize(data.x["test"][:jets], lowered.input_t)
    reference = run_reference(lowered.ops, x)
    rtl = dataclasses.replace(cfg.rtl, top_synth_max_cost=0, workers=2)
    t0 = time.perf_counter()
    where = args.out / f"rtl_top_{cfg.name}"
    reused = args.reuse and (where / "top.json").is_file()
    if reused:  # its seconds are those of the run that built it
        top = json.loads((where / "top.json").read_text())
    else:
        top = build_top(lowered, x, reference, n, x.shape[-1], rtl, where, h.clock_period_ns, h.part)
        top["seconds"]["wall"] = round(time.perf_counter() - t0, 1)
    if args.synth:  # too large for one Yosys process (4 GB): the stages' logic and the top's registers apart
        counts = synthesize_by_stage(where / "verilog", CORE, where / "yosys", workers=2, progress=True,
                                     registers=not args.logic_only)
        top["yosys"] = {k: counts[k] for k in COUNTS}
        if counts["FF"] is not None:
            top["yosys"]["FF"] += top["latency_cycles"]  # the top's valid pipeline
        top["yosys"]["method"] = counts["method"]
        top["yosys"]["modules"] = counts["modules"]
        top["seconds"]["yosys_cpu"] = counts["seconds"]  # the wall time only when no module was reused
        top["seconds"]["yosys_wall"] = None if counts["reused_modules"] else counts["wall_seconds"]
        top["memory_peak_mb"] = {"yosys": counts["memory_peak_mb"]}
    top["memory_peak_mb_bench_process"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    # the block totals at P = n: the build's per-block Yosys counts x each block's copies at P = n
    block_total = {}
    if (build / "rtl" / "rtl.json").is_file():  # the build's open-synth stage ran
        blocks = json.loads((build / "rtl" / "rtl.json").read_text())["blocks"]
        _, values = run_reference(lowered.ops, x[:2], trace=True)
        values = inside_values(lowered.ops, values)
        shapes = {k: v.shape[1:] for k, v in values.items()}
        copies = {b.name: b.instances for b in split_blocks(lowered, n, n, shapes)}
        block_total = {k: sum(b[k] * copies[b["name"]] for b in blocks) for k in ("LUT", "FF", "SRL", "DSP", "CARRY")}
    estimate = estimate_model(convert_model(model, ii1, args.out / f"hls_{cfg.name}_ii1").hls_model)
    groups = []  # the ESTIMATE beside the block counts at P = n, layer group by layer group
    if block_total:
        groups = compare({"blocks": [{**b, "instances": copies[b["name"]]} for b in blocks]}, estimate["layers"])
    result = {"config": str(args.config), "particles": n, "parallelization_factor": n, "top": top,
              "block_total_at_ii1": block_total, "estimate_vs_blocks_by_group_at_ii1": groups,
              "estimate_at_ii1": {k: estimate[k] for k in ("latency_cycles", "latency_ns", "ii_cycles", "resources")}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"rtl_top_{cfg.name}.json").write_text(json.dumps(result, indent=1))
    yosys = top.get("yosys", {})
    print(f"{cfg.name} at P = n = {n}: da4ml cost {top['da4ml_cost']:,.0f}; latency {top['latency_cycles']} cycles = "
          f"{top['latency_ns']:g} ns (da4ml's register placement, not timed) vs ESTIMATE {estimate['latency_cycles']} "
          f"cycles; Verilator bit-exact {top['bit_exact_fraction']:.4f} on {top['jets']} jets, "
          f"{top['jets_per_second']} jets/s; seconds {top['seconds']}")
    print("resource  whole (Yosys)  blocks x copies (Yosys)  ESTIMATE")
    for k in ("LUT", "FF", "DSP"):
        print(f"{k:8s}  {yosys.get(k, '-')!s:>13}  {block_total.get(k, '-')!s:>23}  {estimate['resources'].get(k, 0):>8,}")
    if "skipped" in yosys:
        print(f"whole-design Yosys: {yosys['skipped']}")
    else:
        print(f"whole-design Yosys: {yosys['method']}; {top['seconds']['yosys_cpu']:.0f} s CPU, wall "
              f"{top['seconds']['yosys_wall']} s, memory peak {top['memory_peak_mb']['yosys']} MB per process")
    for g in groups:
        print(f"  {g['group']:28s} LUT ESTIMATE {g['l1tag_LUT'] or 0:>9,} blocks (Yosys) {g['yosys_LUT']:>9,}  "
              f"FF {g['l1tag_FF'] or 0:>8,} / {g['yosys_FF']:>8,}  DSP {g['l1tag_DSP'] or 0:>5} / {g['yosys_DSP']:>5}")


if __name__ == "__main__":
    main()
