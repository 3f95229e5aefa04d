"""One bench point = one small build of l1tag's own stages: a config derived from a base config's raw YAML,
built in build/<bench>/<name> (each stage skipped when current, so a rerun resumes), its trained model's
metrics read back.  Shared by the benches that compare taggers on equal terms (efficient_vs_part.py,
order_and_projection.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from l1tag.build import StageContext, run_stage
from l1tag.config import config_from_dict

REPO = Path(__file__).resolve().parents[1]


def derived_config(raw: dict, name: str, seed: int, overrides: dict, epochs=None, qat_epochs=None):
    """The base config's raw mapping with ``overrides`` ({section: {key: value}}) merged in, validated."""
    cfg = json.loads(json.dumps(raw))  # a deep copy
    cfg["name"], cfg["seed"] = name, seed
    for section, values in overrides.items():
        cfg.setdefault(section, {}).update(values)
    train = cfg.setdefault("train", {})
    if epochs is not None:
        train["epochs"] = epochs
    if qat_epochs is not None:
        train["qat_epochs"] = qat_epochs
    return config_from_dict(cfg, origin=name)


def build(cfg, bench: str, stages=("data", "train")) -> Path:
    """Run ``stages`` of ``cfg`` in build/<bench>/<name>; returns that folder."""
    ctx = StageContext(cfg, REPO / "build" / bench / cfg.name, verbose=-1)
    ctx.build_dir.mkdir(parents=True, exist_ok=True)
    for stage in stages:
        run_stage(ctx, stage)
    return ctx.build_dir


def trained(build_dir: Path) -> dict:
    """The deployed (QAT, else float) model's test accuracy and AUC, the float one's, and the model's cost."""
    m = json.loads((Path(build_dir) / "model" / "metrics.json").read_text())
    deployed = m.get("quantized") or m["float"]
    return {"accuracy": deployed["accuracy"], "auc": deployed["auc_macro"], "accuracy_float": m["float"]["accuracy"],
            "parameters": m["model"]["parameters"], "flops": m["model"]["flops"],
            "energy_pj": m["model"]["energy_pj_per_jet"], "train_seconds": m["train_seconds"]}


def mean_sd(values) -> tuple[float, float | None]:
    """Mean and sample sd (None for one value) of accuracies given as fractions, in percent."""
    v = 100 * np.asarray(values, dtype=float)
    return float(v.mean()), (float(v.std(ddof=1)) if len(v) > 1 else None)
