"""One bench point = one small build of l1tag's own stages: a config derived from a base config's raw YAML,
built in build/<bench>/<name> (each stage skipped when current, so a rerun resumes), its trained model's
metrics and firmware numbers read back.  Shared by the benches that compare taggers on equal terms
(efficient_vs_part.py, order_and_projection.py, economical.py): their common options, and the results file
that each rewrites after every point."""

from __future__ import annotations

import argparse
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


def bench_arguments(ap: argparse.ArgumentParser, out: str, epochs: int | None = None,
                    qat_epochs: int | None = None) -> None:
    """The options every comparison bench takes; ``epochs``, ``qat_epochs``: the bench's training budget (None: the
    config's), the one its published table was measured with."""
    ap.add_argument("--config", default=str(REPO / "configs" / "salt_l1.yaml"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    default = epochs if epochs is not None else "the config's"
    ap.add_argument("--epochs", type=int, default=epochs, help=f"float epochs for every point (default: {default})")
    ap.add_argument("--qat-epochs", type=int, default=qat_epochs)
    ap.add_argument("--out", default=out, help="bench/results/<out>.json, and the docs markers <out>")
    ap.add_argument("--no-docs", action="store_true", help="only print the table")


def seeds_words(args) -> str:
    """The table headers' words for the training budget and the seeds."""
    return (f"epochs {args.epochs or 'as configured'}; accuracy on the test split ± sd over seeds "
            f"{', '.join(map(str, args.seeds))}")


def publish(args, text: str) -> None:
    """Print the bench's table and, unless --no-docs, write it between its markers in docs/."""
    from readme_table import write_between_markers

    print(text)
    if not args.no_docs:
        write_between_markers(args.out, text)


def accuracy_panels(ylabel: str, xlabels: tuple[str, ...], log_x: bool = True, figsize=(10, 4.2)):
    """A figure of accuracy (shared y axis) against one quantity per panel: (figure, axes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(xlabels), figsize=figsize, sharey=True, squeeze=False)
    axes = list(axes[0])
    axes[0].set_ylabel(ylabel)
    for ax, xlabel in zip(axes, xlabels):
        ax.set_xlabel(xlabel)
        if log_x:
            ax.set_xscale("log")
        ax.grid(alpha=0.3)
    return fig, axes


def save_figure(fig, axes, path: Path, legend_size=None) -> None:
    """The legend on the last panel, then ``path`` (the benches' plots: docs/<out>.png)."""
    axes[-1].legend(fontsize=legend_size)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


class Points:
    """bench/results/<out>.json: the finished points (``keys`` of each identify it: a rerun skips them) and
    their summary, rewritten after every point so that an interrupted bench keeps what it finished.  The file
    records the training budget (``args.epochs``, ``args.qat_epochs``) of its points: a run with another budget
    stops with one line instead of mixing its points with them under its own header."""

    def __init__(self, out: str, keys: tuple[str, ...], summarize, args=None):
        self.path = REPO / "bench" / "results" / f"{out}.json"
        stored = json.loads(self.path.read_text()) if self.path.exists() else {"points": []}
        self.points = stored["points"]
        self.keys, self.summarize = keys, summarize
        self.budget = {"epochs": getattr(args, "epochs", None), "qat_epochs": getattr(args, "qat_epochs", None)}
        if "budget" in stored and stored["budget"] != self.budget:
            raise SystemExit(f"{self.path.relative_to(REPO)} holds points trained with {stored['budget']}, not "
                             f"{self.budget}: pass --epochs {stored['budget']['epochs']} --qat-epochs "
                             f"{stored['budget']['qat_epochs']}, or --out another name")

    def done(self, *key) -> bool:
        return self.get(*key) is not None

    def get(self, *key) -> dict | None:
        return next((p for p in self.points if tuple(p[k] for k in self.keys) == key), None)

    def add(self, point: dict) -> None:
        """Append ``point``, or put it in the place of the finished point of the same key."""
        old = self.get(*(point[k] for k in self.keys))
        if old is None:
            self.points.append(point)
        else:
            self.points[self.points.index(old)] = point
        self.path.parent.mkdir(exist_ok=True)
        self.path.write_text(json.dumps({"budget": self.budget, "points": self.points,
                                         "summary": self.summarize(self.points)}, indent=1))


def build_point(cfg, bench: str, firmware: bool = False, yosys: bool = False) -> dict:
    """Train ``cfg`` (data, train stages); with ``firmware`` also convert, C-simulate and report (with ``yosys``
    the rtl stage too).  Returns ``trained`` and, with ``firmware``, its ESTIMATE and C-sim under "firmware"."""
    stages = ("data", "train") + (("firmware",) + (("rtl",) if yosys else ()) + ("report",) if firmware else ())
    build_dir = build(cfg, bench, stages)
    out = trained(build_dir)
    if firmware:
        report = json.loads((build_dir / "report.json").read_text())
        hw, csim = report["hardware"], report["csim"]
        out["firmware"] = {"LUT": hw["resources"]["LUT"], "DSP": hw["resources"]["DSP"],
                           "latency_ns": hw["latency_ns"], "ii_cycles": hw["ii_cycles"], "source": hw["source"],
                           "csim_jets": csim["jets"], "bit_exact": csim["bit_exact_fraction"]}
        synth = report.get("open_synthesis") or {}
        if "blocks" in synth:
            out["firmware"]["yosys_LUT"] = synth["total"]["LUT"]
            out["firmware"]["verilator_bit_exact"] = synth["bit_exact_fraction"]
    return out


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
