"""Are a refactor's outputs byte for byte those of before?  Record, then compare.

Usage:
  python bench/same_outputs.py record  [--build build/salt_l1] [--file bench/results/outputs.json]
  python bench/same_outputs.py compare [--build build/salt_l1] [--file bench/results/outputs.json]

Two pieces of evidence, both recorded as digests:

* every shipped config (``configs/*.yaml``), its model built with its seeded initial weights (no training):
  the lowered ops' NumPy reference on 64 random jets, the written HLS project's ``firmware/`` (the
  firmware sha256 of the bundle covers the same files) and the estimate of the in-memory model;
* a finished build (``--build``, by default the default config's): its firmware stages are rerun from
  the trained model (``l1tag build`` after forgetting the firmware, rtl, report and bundle records), then
  the bundle's firmware sha256, every RTL Verilog file, and report.json's hardware, csim and
  open-synthesis numbers (run times left out) are recorded.

``compare`` exits 1 and names every difference.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RERUN = ("firmware", "rtl", "report", "bundle")
TIMES = ("seconds", "compile_seconds", "csim_seconds", "jets_per_second", "memory_peak_mb", "wall", "yosys_version",
         "tools", "yosys_seconds", "verilator_seconds", "yosys_memory_peak_mb")  # run times and versions: left out


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tree(root: Path) -> str:
    from l1tag.files import path_digest

    return path_digest(root)


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in TIMES}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def untrained(config: Path) -> dict:
    """The firmware of a shipped config's seeded, untrained model."""
    import tensorflow as tf

    from l1tag.config import load_config
    from l1tag.hardware.estimate import estimate_model
    from l1tag.hls.convert import convert_model
    from l1tag.ops import run_reference
    from l1tag.models.builders import build_model
    from l1tag.numerics.fixed_point import quantize

    cfg = load_config(config)
    tf.keras.utils.set_random_seed(cfg.seed)
    n, f = cfg.data.constituents, len(cfg.data.features)
    model = build_model(cfg.model, n, f, cfg.quantization, table_size=cfg.hls.table_size)
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        converted = convert_model(model, cfg.hls, Path(tmp) / "hls")
        firmware = _tree(Path(tmp) / "hls" / "firmware")
        estimate = estimate_model(converted.hls_model)
    x = quantize(np.random.default_rng(cfg.seed).normal(0, 1.5, (64, n, f)), converted.lowered.input_t)
    y = run_reference(converted.lowered.ops, x)
    return {"reference": _digest(np.ascontiguousarray(y, np.float64).tobytes()), "firmware": firmware,
            "estimate": _digest(json.dumps(_strip(estimate), sort_keys=True).encode())}


def built(build: Path, config: Path) -> dict:
    """Rerun a finished build's firmware stages from its trained model and digest what they wrote."""
    for stage in RERUN:
        (build / ".stages" / f"{stage}.json").unlink(missing_ok=True)
    r = subprocess.run([sys.executable, "-m", "l1tag.cli", "-q", "build", "-c", str(config), "-o", str(build)])
    if r.returncode not in (0, 3):  # 3: over its budget, everything written
        sys.exit(f"l1tag build exited {r.returncode}")
    report = json.loads((build / "report.json").read_text())
    bundle = next(build.glob("*-firmware.tar.gz"))
    from l1tag.package.bundle import verify_bundle

    return {"firmware_sha256": verify_bundle(bundle, rtl=False)["firmware_sha256"],
            "rtl": {str(p.relative_to(build)): _digest(p.read_bytes()) for p in sorted((build / "rtl").rglob("*.v"))},
            **{k: _strip(report.get(k)) for k in ("hardware", "csim", "open_synthesis", "schedule")}}


def _diff(a, b, path="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _diff(a.get(k), b.get(k), f"{path}.{k}" if path else k)]
    return [] if a == b else [f"{path}: {json.dumps(a)[:120]} -> {json.dumps(b)[:120]}"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("record", "compare"))
    ap.add_argument("--build", type=Path, default=REPO / "build" / "salt_l1")
    ap.add_argument("--config", type=Path, default=REPO / "configs" / "salt_l1.yaml")
    ap.add_argument("--file", type=Path, default=REPO / "bench" / "results" / "outputs.json")
    ap.add_argument("--no-build", action="store_true", help="only the shipped configs' untrained models")
    args = ap.parse_args()
    now = {"configs": {p.name: untrained(p) for p in sorted((REPO / "configs").glob("*.yaml"))}}
    if not args.no_build:
        now["build"] = built(args.build, args.config)
    if args.mode == "record":
        args.file.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
        print(f"recorded {args.file}")
        return
    before = json.loads(args.file.read_text())
    if args.no_build:
        before.pop("build", None)
    diffs = _diff(before, now)
    for d in diffs:
        print("DIFFERS", d)
    print(f"{len(diffs)} differences from {args.file}")
    sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()
