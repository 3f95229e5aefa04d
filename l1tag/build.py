"""``l1tag build``: data -> train (QAT) -> convert + C-sim -> open synthesis (da4ml RTL, Verilator, Yosys)
-> hardware report + budget -> bundle.

Each stage has a key: the sha256 of the config sections it reads, of the upstream files it consumes
and of l1tag's own code it runs (``CODE``: a new kernel or estimator rule reruns the stages it changes).
A stage whose key matches the one recorded in ``build/<name>/.stages/<stage>.json`` (and whose outputs
exist) is skipped, so a second build with nothing changed takes seconds, changing only
``hls.reuse_factor`` reruns the firmware stages, and an interrupted build resumes at the first stage
without a valid record.  Every stage writes its outputs atomically (temporary name, then rename) and
records its key only after success.  A broken budget still produces every output; the exit code
(3) comes last, and so does a missed C-simulation fidelity threshold (4).

Each stage is one function (``STAGE_FUNCTIONS``); ``l1tag build`` runs them in order through
:func:`run_stage`, and the single-stage commands (``l1tag train``, ``csim``, ``report``, ``package``)
call the same :func:`run_stage`, so they record their stage and a build right after them skips it.
Within one process the stages hand each other what they made (:class:`StageContext`): the prepared
data, and the converted hls4ml model, which the estimator reads directly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from l1tag.errors import BuildDirError, FidelityError, L1tagError, StageMissingError
from l1tag.files import path_digest, write_json

log = logging.getLogger("l1tag")

STAGES = ("data", "train", "firmware", "rtl", "report", "bundle")
SECTIONS = {
    "data": ("seed", "data"),
    "train": ("seed", "data", "model", "quantization", "train", "hls.table_size"),  # the QAT model runs the tables
    "firmware": ("hls", "csim.jets"),
    "rtl": ("hls", "rtl"),  # P (hls.parallelization_factor) sets the instance counts
    "report": ("hls", "budget", "csim"),  # report.md shows the fidelity checks of csim.*
    "bundle": ("name", "hls"),
}
PACKAGE = Path(__file__).resolve().parent
CODE = {  # l1tag's own code each stage runs (package folders, and the C++ kernels): part of its key, so that
    # another l1tag (a new kernel, a new estimator rule) reruns the stages it changes instead of keeping stale output
    "data": ("data",),
    "train": ("models", "train", "numerics", "kinds"),
    "firmware": ("hls", "ops", "numerics", "kinds", "../firmware_templates"),
    "rtl": ("rtl", "ops", "numerics"),
    "report": ("hardware", "report"),
    "bundle": ("package",),
}
UPSTREAM = {  # files (or folders) whose contents feed each stage
    "data": (),
    "train": ("data/prepared.npz", "data/train.h5"),  # train.h5: a streamed training split (absent otherwise)
    "firmware": ("model/weights_qat.h5", "model/weights_float.h5", "data/prepared.npz"),
    "rtl": ("model/weights_qat.h5", "data/prepared.npz"),
    "report": ("hls/firmware", "model/weights_qat.h5", "csim.json", "rtl/rtl.json"),
    "bundle": ("hls/firmware", "hls/tb_data", "report.json", "rtl"),
}


MARKER = ".l1tag-build"  # in every build folder l1tag made: only such a folder (or an empty one) is written to
LOCK = ".l1tag-build.lock"  # the pid of the l1tag process building in the folder


@contextlib.contextmanager
def build_folder(build_dir: Path):
    """Claim ``build_dir`` for this process: it must be absent, empty, or l1tag's own (its marker file, or
    ``.stages/`` of a build made before the marker existed), and not be in use by another live l1tag
    process (a lock file with its pid; a dead owner's lock is taken over).  BuildDirError (exit 2) otherwise."""
    build_dir = Path(build_dir)
    try:
        _claim(build_dir)
        lock = _lock(build_dir)
    except OSError as exc:
        raise BuildDirError(f"build folder {build_dir}: cannot write to it ({exc.strerror or exc}); give --out a "
                            f"writable folder") from None
    try:
        yield build_dir
    finally:
        with contextlib.suppress(OSError):
            if lock.read_text().strip() == str(os.getpid()):
                lock.unlink()


def _claim(build_dir: Path) -> None:
    if build_dir.exists() and not build_dir.is_dir():
        raise BuildDirError(f"build folder {build_dir} is a file; give --out a folder")
    ours = (build_dir / MARKER).is_file() or (build_dir / ".stages").is_dir()
    if build_dir.is_dir() and not ours and any(build_dir.iterdir()):
        raise BuildDirError(f"build folder {build_dir.resolve()} is not empty and not an l1tag build folder (no "
                            f"{MARKER}); l1tag replaces what it finds there (hls/, rtl/, report.md ...): give --out a "
                            f"new or empty folder")
    build_dir.mkdir(parents=True, exist_ok=True)
    if not (build_dir / MARKER).is_file():
        (build_dir / MARKER).write_text("a build folder of l1tag: its stages rewrite what is in it\n")


def _lock(build_dir: Path) -> Path:
    lock = build_dir / LOCK
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _lock_owner(lock)
            if owner is not None and owner != os.getpid() and _alive(owner):
                raise BuildDirError(f"build folder {build_dir} is in use by l1tag process {owner} ({lock}); wait "
                                    f"for it to finish, or stop it") from None
            if owner == os.getpid():
                return lock
            log.warning("build folder %s: taking over the lock of l1tag process %s, which is gone", build_dir, owner)
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return lock
    raise BuildDirError(f"build folder {build_dir}: could not take its lock {lock}; retry")


def _lock_owner(lock: Path) -> int | None:
    try:
        return int(lock.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


@dataclass
class BuildResult:
    build_dir: Path
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


@dataclass
class StageContext:
    """What one process hands from stage to stage, so that nothing is read back or recomputed."""

    cfg: object
    build_dir: Path
    verbose: int = 0
    synth: bool = False
    data: object = None  # PreparedData
    converted: object = None  # l1tag.hls.convert.Converted: the in-memory hls4ml model
    budget: dict | None = None  # the budget section of this run's report stage

    def prepared(self):
        """The prepared data of this build (read from data/prepared.npz unless a stage made it here)."""
        from l1tag.data.preprocess import load_prepared

        if self.data is None:
            file = self.build_dir / "data" / "prepared.npz"
            if not file.exists():
                raise StageMissingError(f"{file} not found: run `l1tag data prepare` (or `l1tag build`) first")
            self.data = load_prepared(file)
        return self.data


@functools.cache
def code_digest(stage: str) -> dict[str, str]:
    """sha256 of each folder of l1tag's code that ``stage`` runs (``CODE``; compiled files left out)."""
    return {folder: path_digest(PACKAGE / folder) for folder in CODE[stage]}


def stage_key(cfg, stage: str, build_dir: Path) -> str:
    return hashlib.sha256(json.dumps(_key_payload(cfg, stage, build_dir), sort_keys=True).encode()).hexdigest()


def _key_payload(cfg, stage: str, build_dir: Path) -> dict:
    """What a stage's key is the sha256 of: the config sections it reads, the upstream files it consumes, l1tag's
    code it runs, and for the data stage the content fingerprint of every input file (replacing the data file
    reruns it)."""
    d = cfg.to_dict()
    def value(key: str):  # a section, or one key of a section ("hls.table_size")
        section, _, item = key.partition(".")
        return d[section][item] if item else d[section]

    payload = {"sections": {s: value(s) for s in SECTIONS[stage]},
               "upstream": {u: path_digest(build_dir / u) for u in UPSTREAM[stage]},
               "code": code_digest(stage)}
    if stage == "report":
        payload["budget_file"] = path_digest(Path(cfg.budget.file))
    if stage == "rtl":  # installing the tools (or another version of them) reruns it
        from l1tag.rtl.open_synth import missing_tools, tool_versions

        payload["tools"] = {"versions": tool_versions(), "missing": missing_tools()}
    if stage == "data":
        from l1tag.data.preprocess import input_fingerprints

        payload["files"] = input_fingerprints(cfg)
    return payload


def _record(build_dir: Path, stage: str) -> Path:
    return build_dir / ".stages" / f"{stage}.json"


def _is_current(build_dir: Path, stage: str, key: str) -> bool:
    rec = _record(build_dir, stage)
    return rec.exists() and json.loads(rec.read_text()).get("key") == key


def _mark(build_dir: Path, stage: str, key: str, seconds: float, files: dict | None = None) -> None:
    record = {"key": key, "seconds": round(seconds, 2), "finished": time.time()}
    if files:
        record["files"] = files  # the data stage: the fingerprints its key covers
    write_json(_record(build_dir, stage), record, indent=None)


def invalidate(build_dir: Path, stage: str) -> None:
    """Forget a stage's record before anything it produced is rewritten: an interrupted or failed rewrite
    (Ctrl-C in `l1tag csim`, `l1tag convert`) then reruns the stage instead of trusting a half-written output."""
    _record(Path(build_dir), stage).unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------------
# The stages: each is one function, run by `l1tag build` and by its single-stage command alike.
# ------------------------------------------------------------------------------------------------


def data_stage(ctx: StageContext) -> None:
    from l1tag.data.preprocess import run_data_stage

    ctx.data = run_data_stage(ctx.cfg, ctx.build_dir, progress=ctx.verbose >= 0)


def train_stage(ctx: StageContext) -> None:
    from l1tag.report.report_json import quality_summary, update_report
    from l1tag.train.trainer import run_train_stage

    lut_target = None
    if ctx.cfg.quantization.target.lut is not None:  # steered by the firmware's estimate (l1tag/hardware/)
        from l1tag.hardware.lut_target import LutTarget

        lut_target = LutTarget(ctx.cfg)
    metrics = run_train_stage(ctx.cfg, ctx.build_dir, ctx.prepared(), verbose=2 if ctx.verbose >= 1 else 0,
                              lut_target=lut_target)
    m = metrics["model"]
    update_report(ctx.build_dir, ctx.cfg, model={k: m[k] for k in ("type", "parameters", "flops", "bops",
                                                                   "energy_pj_per_jet", "heterogeneous") if k in m},
                  quality={k: quality_summary(metrics[k]) for k in ("float", "quantized") if k in metrics})


def firmware_stage(ctx: StageContext) -> None:
    """Convert + C-simulate; a C-sim that differs from the reference is a bug (exit 1), a fidelity
    threshold missed is reported after everything is written (exit 4)."""
    from l1tag.hardware.schedule import schedule_section
    from l1tag.hls.convert import run_hls_stage
    from l1tag.report.report_json import CSIM_KEYS, quality_summary, update_report

    section, ctx.converted = run_hls_stage(ctx.cfg, ctx.build_dir, ctx.prepared(), ctx.verbose >= 2)
    # the C++ asks for the schedule the estimate assumes (structure, no divider, the priced products)
    schedule = schedule_section(ctx.converted.project_dir, ctx.converted.hls_model, ctx.cfg.hls.project_name)
    log.info("schedule: structure checked, %d dividers, %d products per iteration (GIMPLE census, %.0f s)%s",
             schedule["census"]["dividers"], schedule["census"]["products"], schedule["seconds"],
             "" if schedule["products_match"] is not False else "; the estimate prices other products")
    update_report(ctx.build_dir, ctx.cfg, csim={k: section.get(k) for k in CSIM_KEYS + ("first_mismatch",)},
                  quality={"firmware": quality_summary(section["quality_firmware"])}, schedule=schedule)


def rtl_stage(ctx: StageContext) -> None:
    """Open synthesis: each block as da4ml Verilog, Verilator-checked against the reference, Yosys-counted
    (``l1tag/rtl/open_synth.py``); skipped with a warning when a tool is missing, off with rtl.enabled."""
    from l1tag.report.report_json import update_report
    from l1tag.rtl.open_synth import missing_tools, run_open_synth_stage

    cfg, build_dir = ctx.cfg, ctx.build_dir
    update_report(build_dir, cfg, open_synthesis=None)  # replaced whole, never merged with a previous run's
    why = "rtl.enabled is false" if not cfg.rtl.enabled else missing_tools()
    if why:
        shutil.rmtree(build_dir / "rtl", ignore_errors=True)  # no stale RTL in the bundle
        (log.info if not cfg.rtl.enabled else log.warning)("[rtl] open synthesis skipped: %s", why)
        update_report(build_dir, cfg, open_synthesis={"skipped": why})
        return
    lowered = ctx.converted.lowered if ctx.converted is not None else None
    section = run_open_synth_stage(cfg, build_dir, ctx.prepared(), lowered, progress=ctx.verbose >= 0)
    update_report(build_dir, cfg, open_synthesis=section)
    t = section["total"]
    log.info("open synthesis (Yosys %s): LUT %d, FF %d (+%d SRL), DSP %d, CARRY4 %d; Verilator bit-exact %.4f on "
             "%d jets' block inputs; %.0f s, Yosys memory peak %s MB", section["yosys_version"].split()[1], t["LUT"],
             t["FF"], t["SRL"], t["DSP"], t["CARRY"], section["bit_exact_fraction"], section["jets"],
             section["seconds"]["wall"], section["memory_peak_mb"]["yosys"])


def report_stage(ctx: StageContext) -> None:
    """Hardware numbers (vendor report, else the estimate of the in-memory model), budget, plots, report.md."""
    from l1tag.config import load_budget
    from l1tag.hardware.budget import check_budget
    from l1tag.devices import fractions
    from l1tag.hardware.section import hardware_section
    from l1tag.report.markdown import write_report_md
    from l1tag.report.plots import make_plots
    from l1tag.report.report_json import update_report

    cfg, build_dir = ctx.cfg, ctx.build_dir
    if ctx.synth:
        run_vendor_synthesis(cfg, build_dir / "hls")
    hls_model = ctx.converted.hls_model if ctx.converted else None
    hardware = hardware_section(build_dir / "hls", hls_model=hls_model)
    if hardware["source"] != "estimate":  # a vendor report: the estimate too, for report.md's side by side
        hardware["estimate"] = estimate_beside(build_dir / "hls", hls_model)
    write_json(build_dir / "hardware_layers.json",
               hardware.pop("layers", None) or (hardware.get("estimate") or {}).pop("layers", []))
    budget = load_budget(cfg.budget.file)
    if budget.totals is not None:  # a part outside the parts table: the budget file gives its totals
        hardware["utilization"] = fractions(hardware["resources"], dataclasses.asdict(budget.totals))
    ctx.budget = check_budget(hardware, budget, cfg.budget.require_margin)
    report_file = build_dir / "report.json"  # the firmware stage's csim section (it may have run earlier)
    previous = json.loads(report_file.read_text()) if report_file.exists() else {}
    csim = previous.get("csim")
    fidelity = {"checks": fidelity_checks(cfg, csim, previous.get("open_synthesis"))} if csim else None
    if fidelity:
        fidelity["pass"] = all(c["pass"] for c in fidelity["checks"])
    report = update_report(build_dir, cfg, hardware=hardware, budget=ctx.budget, fidelity=fidelity)
    if (build_dir / "model").is_dir() and (build_dir / "data" / "prepared.npz").exists():
        make_plots(cfg, build_dir, ctx.prepared())
    write_report_md(build_dir, report)


def estimate_beside(hls_dir: Path, hls_model=None) -> dict | None:
    """l1tag's estimate of a project that also has a vendor report (None, with a warning, if it fails)."""
    from l1tag.hardware.estimate import estimate_model
    from l1tag.hardware.project import estimate_project

    try:
        est = estimate_model(hls_model) if hls_model is not None else estimate_project(hls_dir)
    except L1tagError as exc:
        log.warning("the estimate beside the vendor report failed: %s", exc)
        return None
    return {k: est[k] for k in ("latency_cycles", "latency_ns", "ii_cycles", "resources", "layers") if k in est}


def bundle_stage(ctx: StageContext) -> None:
    from l1tag.package.bundle import write_bundle

    iface = ctx.build_dir / "interface.json"
    if not iface.exists():
        raise StageMissingError(f"{iface} not found: run `l1tag csim` (or `l1tag build`) first")
    hls = ctx.build_dir / "hls"
    needed = [hls / "firmware" / f"{ctx.cfg.hls.project_name}.cpp", hls / "tb_data" / "tb_input_features.dat",
              hls / "tb_data" / "tb_output_predictions.dat"]
    missing = [str(p.relative_to(ctx.build_dir)) for p in needed if not p.is_file()]
    if missing:  # e.g. `l1tag convert` rewrote hls/ without C-simulating it: no test vectors to hand off
        invalidate(ctx.build_dir, "firmware")
        raise StageMissingError(f"{ctx.build_dir}: the HLS project is incomplete ({', '.join(missing)} missing); "
                                f"refusing to pack it: run `l1tag csim --config ...` (or `l1tag build`) to write it whole")
    write_bundle(ctx.cfg, ctx.build_dir, json.loads(iface.read_text()))


STAGE_FUNCTIONS = {"data": data_stage, "train": train_stage, "firmware": firmware_stage, "rtl": rtl_stage,
                   "report": report_stage, "bundle": bundle_stage}


def run_stage(ctx: StageContext, stage: str, force: bool = False) -> bool:
    """Run ``stage`` unless its key is recorded (or ``force``); record the key on success.  True if it ran."""
    key = stage_key(ctx.cfg, stage, ctx.build_dir)
    if not force and _is_current(ctx.build_dir, stage, key):
        log.info("[%s] up to date, skipped", stage)
        return False
    log.info("[%s] running", stage)
    invalidate(ctx.build_dir, stage)
    t0 = time.perf_counter()
    STAGE_FUNCTIONS[stage](ctx)
    files = None
    if stage == "data":  # the stage may have generated its input file: record the key of what it read
        payload = _key_payload(ctx.cfg, stage, ctx.build_dir)
        key, files = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest(), payload["files"]
    _mark(ctx.build_dir, stage, key, time.perf_counter() - t0, files)
    return True


def run_build(cfg, build_dir: Path, force: bool = False, synth: bool = False, verbose: int = 0) -> BuildResult:
    """Run the stages that are out of date; raises BudgetViolation (exit 3) or FidelityError (exit 4)
    after writing everything."""
    build_dir = Path(build_dir)
    ctx = StageContext(cfg, build_dir, verbose, synth)
    result = BuildResult(build_dir)
    with build_folder(build_dir):
        for stage in STAGES:
            (result.ran if run_stage(ctx, stage, force) else result.skipped).append(stage)
    result.summary = json.loads((build_dir / "report.json").read_text())
    try:
        enforce_checks(cfg, result.summary)
    except L1tagError as exc:
        exc.result = result
        raise
    return result


def enforce_checks(cfg, report: dict) -> None:
    """The verdicts that end a run with a non-zero exit once every output is written: the L1T budget
    (exit 3) and the C-simulation fidelity thresholds of ``csim.*`` (exit 4)."""
    from l1tag.hardware.budget import enforce

    if report.get("budget"):
        enforce(report["budget"])
    check_fidelity(cfg, report.get("csim", {}), report.get("open_synthesis"))


# (csim key, config threshold, "min" or "max", how the value is shown)
FIDELITY = (("bit_exact_fraction", "min_bit_exact_fraction", "min", "{:.4f}"),
            ("rtl_bit_exact_fraction", "min_bit_exact_fraction", "min", "{:.4f}"),  # Verilator, every RTL block
            ("rtl_top_bit_exact_fraction", "min_bit_exact_fraction", "min", "{:.4f}"),  # Verilator, whole design
            ("argmax_agreement_vs_quantized", "min_argmax_agreement_quantized", "min", "{:.4f}"),
            ("argmax_agreement_vs_float", "min_argmax_agreement_float", "min", "{:.4f}"),
            ("accuracy_drop_float_points", "max_accuracy_drop_float", "max", "{:.2f} points"))


def fidelity_checks(cfg, csim: dict, open_synthesis: dict | None = None) -> list[dict]:
    """The C-simulation fidelity checks of ``csim.*``: one row per threshold whose value was measured, and
    the RTL simulation's bit-exactness (held to ``csim.min_bit_exact_fraction`` too) when it ran."""
    checks = []
    rtl = (open_synthesis or {}).get("bit_exact_fraction")
    csim = dict(csim, rtl_bit_exact_fraction=rtl) if rtl is not None else csim
    top = ((open_synthesis or {}).get("top") or {}).get("bit_exact_fraction")
    csim = dict(csim, rtl_top_bit_exact_fraction=top) if top is not None else csim
    for key, threshold, how, fmt in FIDELITY:
        value, limit = csim.get(key), getattr(cfg.csim, threshold)
        if value is None:
            continue
        ok = value >= limit if how == "min" else value <= limit
        checks.append({"name": key, "threshold": f"csim.{threshold}", "limit": limit, "value": value, "pass": ok,
                       "shown": fmt.format(value), "missed_if": "below" if how == "min" else "above"})
    return checks


def check_fidelity(cfg, csim: dict, open_synthesis: dict | None = None) -> None:
    """Exit 4 (FidelityError) naming every ``csim.*`` threshold the C-simulation (or the RTL) misses."""
    failed = [c for c in fidelity_checks(cfg, csim or {}, open_synthesis) if not c["pass"]]
    if not failed:
        return
    lines = [f"{c['name']} = {c['shown']}, {c['missed_if']} {c['threshold']} = {c['limit']}" for c in failed]
    hint = "retrain, widen the quantizers, or change the threshold"
    if any(c["name"] == "bit_exact_fraction" for c in failed):
        hint = (f"the C++ differs from l1tag's fixed-point reference (first mismatch: {csim.get('first_mismatch')}): "
                f"this is a bug in l1tag, please report it")
    if any(c["name"] == "rtl_bit_exact_fraction" for c in failed):
        bad = next(b for b in open_synthesis["blocks"] if b["bit_exact_fraction"] < 1.0)
        hint = (f"the Verilator simulation of RTL block {bad['name']} differs from l1tag's fixed-point reference "
                f"(first mismatch: {bad['first_mismatch']}): this is a bug in l1tag's RTL tracing, please report it")
    if any(c["name"] == "rtl_top_bit_exact_fraction" for c in failed):
        first = open_synthesis["top"]["first_mismatch"]
        hint = (f"the Verilator simulation of the whole RTL design (rtl/top) differs from l1tag's fixed-point "
                f"reference, first at jet {first['jet']} logit {first['logit']} (rtl {first['rtl']}, expected "
                f"{first['expected']}, hex): this is a bug in l1tag's RTL tracing, please report it")
    raise FidelityError(f"C-simulation fidelity check failed: {'; '.join(lines)}; every output was written (see "
                        f"report.md): {hint}")


def run_vendor_synthesis(cfg, hls_dir: Path) -> None:
    """--synth: C synthesis with the vendor tool when it is on PATH; otherwise say so and go on."""
    tool = {"Vitis": "vitis-run", "Vivado": "vivado_hls"}[cfg.hls.backend]
    if shutil.which(tool) is None:
        log.warning("--synth: %s is not on PATH, so the hardware numbers stay an ESTIMATE (install %s HLS or use "
                    "the docker image with it mounted, see docker/README.md)", tool, cfg.hls.backend)
        return
    cmd = ([tool, "--mode", "hls", "--tcl", "build_prj.tcl"] if tool == "vitis-run" else
           [tool, "-f", "build_prj.tcl", "reset=1 synth=1 csim=0 cosim=0 validation=0 export=0 vsynth=0"])
    log.info("--synth: running %s in %s (this takes a while)", " ".join(cmd), hls_dir)
    res = subprocess.run(cmd, cwd=hls_dir, capture_output=True, text=True)
    (hls_dir / "synthesis.log").write_text(res.stdout + res.stderr)
    if res.returncode != 0:
        raise L1tagError(f"{tool} failed (exit {res.returncode}); see {hls_dir / 'synthesis.log'}")


def _open_synth_line(section: dict | None) -> str:
    if not section:
        return "  open synth not run"
    if "skipped" in section:
        return f"  open synth skipped: {section['skipped']}"
    t = section["total"]
    line = (f"  open synth (Yosys, of da4ml RTL; not timed) LUT {t['LUT']}, FF {t['FF']} (+{t['SRL']} SRL), DSP {t['DSP']}, "
            f"CARRY4 {t['CARRY']}; Verilator bit-exact {section['bit_exact_fraction']:.4f} on {len(section['blocks'])} "
            f"blocks, {section['jets']} jets")
    top = section.get("top") or {}
    if "latency_cycles" in top:
        yosys = top.get("yosys", {})
        count = f"; Yosys LUT {yosys['LUT']}, FF {yosys['FF']}" if "LUT" in yosys else ""
        line += (f"\n  RTL top    {top['module']}: latency {top['latency_cycles']} cycles = {top['latency_ns']:g} ns "
                 f"(da4ml's register placement, not timed), II 1; Verilator bit-exact {top['bit_exact_fraction']:.4f} "
                 f"on {top['jets']} jets{count}")
    elif top:
        line += f"\n  RTL top    not built: {top['skipped']}"
    return line


def format_summary(result: BuildResult, cfg) -> str:
    r = result.summary
    q, c, hw, b = r.get("quality", {}), r.get("csim", {}), r.get("hardware", {}), r.get("budget", {})
    from l1tag.hardware.error_band import hardware_words

    lines = [
        f"l1tag build {cfg.name}: ran {', '.join(result.ran) or 'nothing'}"
        + (f"; up to date: {', '.join(result.skipped)}" if result.skipped else ""),
        f"  model      {r.get('model', {}).get('type', '?')}: {r.get('model', {}).get('parameters', '?')} parameters",
        # on the C-simulated jets when there are any: every number of the line on the same jets
        "  accuracy   " + ", ".join(f"{k} {c.get(f'accuracy_{k}', v['accuracy']):.4f}" for k, v in q.items())
        + (f" (on the {c['jets']} C-simulated jets)" if c.get("accuracy_firmware") is not None else ""),
        f"  C-sim      {c.get('jets', '?')} jets, bit-exact {c.get('bit_exact_fraction', float('nan')):.4f}, "
        f"agreement with QKeras {c.get('argmax_agreement_vs_quantized', float('nan')):.4f}, "
        f"with float {c.get('argmax_agreement_vs_float', float('nan')):.4f}",
        f"  fidelity   {'PASS' if (r.get('fidelity') or {}).get('pass') else 'FAIL'} "
        f"({len((r.get('fidelity') or {}).get('checks', []))} csim.* checks)",
        f"  hardware   {hardware_words(hw)}",
        _open_synth_line(r.get("open_synthesis")),
        f"  budget     {b.get('name', '?')}: {'PASS' if b.get('pass') else 'FAIL'}",
        f"  bundle     {result.build_dir / (cfg.name + '-firmware.tar.gz')}",
    ]
    return "\n".join(lines)
