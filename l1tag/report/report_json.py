"""report.json (docs/design.md contract): each stage merges its sections in, atomically."""

from __future__ import annotations

import json
from pathlib import Path

from l1tag import __version__
from l1tag.files import write_json

QUALITY_KEYS = ("accuracy", "auc_macro", "rejection_at_tpr_0p5")
CSIM_KEYS = ("jets", "bit_exact_fraction", "max_abs_diff_vs_quantized", "max_abs_diff_vs_float",
             "argmax_agreement_vs_float", "argmax_agreement_vs_quantized", "accuracy_float", "accuracy_quantized",
             "accuracy_firmware", "accuracy_drop_float_points", "float32_inexact_sums")


def quality_summary(metrics: dict) -> dict:
    """The contract's quality block from an ``evaluate`` result."""
    return {k: metrics[k] for k in QUALITY_KEYS}


def update_report(build_dir: Path, cfg, **sections) -> dict:
    """Merge ``sections`` into build_dir/report.json (created if missing) and return the whole report."""
    path = Path(build_dir) / "report.json"
    report = json.loads(path.read_text()) if path.exists() else {}
    report["l1tag_version"] = __version__
    report["config"] = cfg.to_dict()
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(report.get(key), dict):
            report[key].update(value)
        else:
            report[key] = value
    write_json(path, report)
    return report
