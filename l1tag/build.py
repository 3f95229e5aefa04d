"""``l1tag build``: data -> train (QAT) -> convert + C-sim -> hardware report + budget -> bundle.

Each stage has a key: the sha256 of the config sections it reads and of the upstream files it
consumes.  A stage whose key matches the one recorded in ``build/<name>/.stages/<stage>.json`` (and
whose outputs exist) is skipped, so a second build with nothing changed takes seconds, changing only
``hls.reuse_factor`` reruns the firmware stages, and an interrupted build resumes at the first stage
without a valid record.  Every stage writes its outputs atomically (temporary name, then rename) and
records its key only after success.  A broken budget still produces every output; the exit code
(3) comes last.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from l1tag.errors import BudgetViolation, L1tagError
from l1tag.files import write_json
from l1tag.package.bundle import path_digest

log = logging.getLogger("l1tag")

STAGES = ("data", "train", "firmware", "report", "bundle")
SECTIONS = {
    "data": ("seed", "data"),
    "train": ("seed", "data", "model", "quantization", "train"),
    "firmware": ("hls", "csim"),
    "report": ("hls", "budget"),
    "bundle": ("name", "hls"),
}
UPSTREAM = {  # files (or folders) whose contents feed each stage
    "data": (),
    "train": ("data/prepared.npz",),
    "firmware": ("model/weights_qat.h5", "model/weights_float.h5", "data/prepared.npz"),
    "report": ("hls/firmware", "model/weights_qat.h5", "csim.json"),
    "bundle": ("hls/firmware", "hls/tb_data", "report.json"),
}


@dataclass
class BuildResult:
    build_dir: Path
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def stage_key(cfg, stage: str, build_dir: Path) -> str:
    d = cfg.to_dict()
    payload = {"sections": {s: d[s] for s in SECTIONS[stage]},
               "upstream": {u: path_digest(build_dir / u) for u in UPSTREAM[stage]}}
    if stage == "report":
        payload["budget_file"] = path_digest(Path(cfg.budget.file))
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _record(build_dir: Path, stage: str) -> Path:
    return build_dir / ".stages" / f"{stage}.json"


def _is_current(build_dir: Path, stage: str, key: str) -> bool:
    rec = _record(build_dir, stage)
    return rec.exists() and json.loads(rec.read_text()).get("key") == key


def _mark(build_dir: Path, stage: str, key: str, seconds: float) -> None:
    write_json(_record(build_dir, stage), {"key": key, "seconds": round(seconds, 2), "finished": time.time()},
               indent=None)


def run_build(cfg, build_dir: Path, force: bool = False, synth: bool = False, verbose: int = 0) -> BuildResult:
    """Run the stages that are out of date; raises BudgetViolation (exit 3) after writing everything."""
    from l1tag.data.preprocess import load_prepared, run_data_stage
    from l1tag.report.report_json import CSIM_KEYS, quality_summary, update_report

    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    result = BuildResult(build_dir)
    data = None
    budget_section = None
    for stage in STAGES:
        key = stage_key(cfg, stage, build_dir)
        if not force and _is_current(build_dir, stage, key):
            result.skipped.append(stage)
            log.info("[%s] up to date, skipped", stage)
            continue
        t0 = time.perf_counter()
        log.info("[%s] running", stage)
        if stage == "data":
            data = run_data_stage(cfg, build_dir, progress=verbose >= 0)
        elif stage == "train":
            from l1tag.train.trainer import run_train_stage

            data = data or load_prepared(build_dir / "data" / "prepared.npz")
            metrics = run_train_stage(cfg, build_dir, data, verbose=2 if verbose >= 1 else 0)
            m = metrics["model"]
            update_report(build_dir, cfg, model={k: m[k] for k in ("type", "parameters", "flops", "bops")},
                          quality={k: quality_summary(metrics[k]) for k in ("float", "quantized") if k in metrics})
        elif stage == "firmware":
            from l1tag.hls.convert import run_hls_stage

            data = data or load_prepared(build_dir / "data" / "prepared.npz")
            section = run_hls_stage(cfg, build_dir, data, verbose >= 2)
            update_report(build_dir, cfg, csim={k: section[k] for k in CSIM_KEYS},
                          quality={"firmware": quality_summary(section["quality_firmware"])})
            if section["bit_exact_fraction"] < 1.0:
                raise L1tagError(f"C-simulation differs from the fixed-point reference (first mismatch "
                                 f"{section['first_mismatch']}); this is a bug in l1tag, please report it")
        elif stage == "report":
            data = data or load_prepared(build_dir / "data" / "prepared.npz")
            budget_section = _report_stage(cfg, build_dir, synth, data)
        elif stage == "bundle":
            from l1tag.package.bundle import write_bundle

            interface = json.loads((build_dir / "interface.json").read_text())
            write_bundle(cfg, build_dir, interface)
        _mark(build_dir, stage, key, time.perf_counter() - t0)
        result.ran.append(stage)
    report = json.loads((build_dir / "report.json").read_text())
    result.summary = report
    budget_section = budget_section or report.get("budget")
    if budget_section and not budget_section["pass"]:
        from l1tag.hardware.budget import enforce

        try:
            enforce(budget_section)
        except BudgetViolation as exc:
            exc.result = result
            raise
    return result


def _report_stage(cfg, build_dir: Path, synth: bool, data) -> dict:
    from l1tag.config import load_budget
    from l1tag.hardware.budget import check_budget
    from l1tag.report.markdown import write_report_md
    from l1tag.report.report_json import update_report

    if synth:
        run_vendor_synthesis(cfg, build_dir / "hls")
    from l1tag.hardware.section import hardware_section

    hardware = hardware_section(build_dir / "hls")
    (build_dir / "hardware_layers.json").write_text(json.dumps(hardware.pop("layers", []), indent=1))
    section = check_budget(hardware, load_budget(cfg.budget.file))
    report = update_report(build_dir, cfg, hardware=hardware, budget=section)
    from l1tag.report.plots import make_plots

    make_plots(cfg, build_dir, data)
    write_report_md(build_dir, report)
    return section


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


def format_summary(result: BuildResult, cfg) -> str:
    r = result.summary
    q, c, hw, b = r.get("quality", {}), r.get("csim", {}), r.get("hardware", {}), r.get("budget", {})
    src = hw.get("source", "?")
    label = "ESTIMATE" if src == "estimate" else src
    lines = [
        f"l1tag build {cfg.name}: ran {', '.join(result.ran) or 'nothing'}"
        + (f"; up to date: {', '.join(result.skipped)}" if result.skipped else ""),
        f"  model      {r.get('model', {}).get('type', '?')}: {r.get('model', {}).get('parameters', '?')} parameters",
        "  accuracy   " + ", ".join(f"{k} {v['accuracy']:.4f}" for k, v in q.items()),
        f"  C-sim      {c.get('jets', '?')} jets, bit-exact {c.get('bit_exact_fraction', float('nan')):.4f}, "
        f"agreement with QKeras {c.get('argmax_agreement_vs_quantized', float('nan')):.4f}",
        f"  hardware   ({label}) latency {hw.get('latency_cycles', '?')} cycles = {hw.get('latency_ns', 0):.0f} ns, "
        f"II {hw.get('ii_cycles', '?')}, LUT {hw.get('resources', {}).get('LUT', '?')}, "
        f"DSP {hw.get('resources', {}).get('DSP', '?')}, FF {hw.get('resources', {}).get('FF', '?')}",
        f"  budget     {b.get('name', '?')}: {'PASS' if b.get('pass') else 'FAIL'}",
        f"  bundle     {result.build_dir / (cfg.name + '-firmware.tar.gz')}",
    ]
    return "\n".join(lines)
