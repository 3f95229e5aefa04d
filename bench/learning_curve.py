"""Accuracy against the number of training jets: where do l1tag's taggers level off on its own jets?

Usage: python bench/learning_curve.py [--config configs/salt_l1.yaml] [--data FILE.h5[,FILE2.h5]] [--jets N]
       [--split 0.6,0.2,0.2] [--features pt,etarel,phirel] [--kinds salt,linformer,transformer,deepsets]
       [--sizes 4500,9000,18000] [--seeds 42,43,44] [--big-seeds 1] [--modes float,qat] [--augment off,on]
       [--epochs E] [--out NAME]
       [--merge NAME[,NAME2]] [--tables-only] [--no-docs]

Every point trains the config's tagger (``model.type`` replaced by each kind) on a class-balanced subset of
the training split of one sample, with the same validation and test splits for every point (the sample:
``--data``, hls4ml-layout HDF5 files such as a build's ``data/jets-*.h5`` (comma-separated, read as one
sample), else the config's data section with ``--jets`` generated jets through the jet cache; ``--split``
replaces ``data.split``, ``--features`` ``data.features``).  ``float``: the float model's test accuracy; ``qat``: the
8-bit QAT twin's (``quantization``).  ``--augment on`` trains with ``train.augment: [rotation, reflect_eta,
reflect_phi]`` (l1tag/data/augment.py).  Seeds: all of ``--seeds`` below 50,000 training jets, the first
``--big-seeds`` above.  Reported per point: accuracy mean ± sd over seeds, macro AUC, seconds per float epoch,
epochs run; at the largest size the accuracy per bin of jet multiplicity (constituents before the cut to n).
The published accuracies of the anchors at n = 32 (../shared/reference/anchors.md) are drawn as reference
lines labelled "real hls4ml dataset": other jets (Pythia 6-era MadGraph samples with a different
selection), 620,000 training jets.

Writes ``bench/results/<out>.json`` (a rerun with the same ``--out`` resumes: finished points are kept; each
point records its input features, and points of other features are refused, not mixed into one table),
``docs/<out>.png`` and the table into the docs page holding the ``<out>`` markers (docs/models.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from pathlib import Path

import numpy as np
from readme_table import write_between_markers

from l1tag.config import load_config
from l1tag.data.features import CLASSES, SYMMETRIES
from l1tag.data.preprocess import PreparedData, run_data_stage
from l1tag.train.metrics import accuracy_by_multiplicity, evaluate
from l1tag.train.trainer import epochs_words, predict, train_models

REPO = Path(__file__).resolve().parents[1]
# the input features of points written before each point recorded its own: every one ran salt_l1's three
UNRECORDED_FEATURES = ["pt", "etarel", "phirel"]
ANCHORS_N32 = [("Linformer (hls4ml PR)", 78.4), ("MHA (hls4ml PR)", 77.0), ("Deep Sets HGQ", 77.4),
               ("JEDI-linear", 78.0)]  # accuracy %, hls4ml jet dataset, n = 32 (anchors.md)


def subset(data: PreparedData, size: int, seed: int) -> PreparedData:
    """``size`` training jets, the same number of each class (seeded), validation and test untouched."""
    rng = np.random.default_rng(seed)
    y = data.y["train"]
    per_class = size // len(CLASSES)
    picks = []
    for c in range(len(CLASSES)):
        idx = np.flatnonzero(y == c)
        if len(idx) < per_class:
            raise SystemExit(f"--sizes {size}: the training split has only {len(idx)} jets of class {CLASSES[c]} "
                             f"(need {per_class}); give a larger sample (--jets or --data)")
        picks.append(rng.choice(idx, per_class, replace=False))
    keep = np.sort(np.concatenate(picks))
    x = dict(data.x, train=data.x["train"][keep])
    yy = dict(data.y, train=y[keep])
    return dataclasses.replace(data, x=x, y=yy, index=dict(data.index, train=data.index["train"][keep]))


def run_point(base, data, kind: str, size: int, seed: int, augment: bool, modes) -> dict:
    cfg = dataclasses.replace(
        base, seed=seed, model=dataclasses.replace(base.model, type=kind),
        train=dataclasses.replace(base.train, augment=SYMMETRIES if augment else (),
                                  qat_epochs=base.train.qat_epochs if "qat" in modes else 0))
    part = subset(data, size, seed)
    float_model, qat_model, history = train_models(cfg, part)
    out = {"epochs": len(history["float"]["loss"]),
           "seconds_per_epoch": history["float_seconds"] / max(len(history["float"]["loss"]), 1)}
    for mode, model in (("float", float_model), ("qat", qat_model)):
        if mode in modes and model is not None:
            probs = predict(model, data.x["test"])
            m = evaluate(data.y["test"], probs)
            out[mode] = {"accuracy": m["accuracy"], "auc_macro": m["auc_macro"],
                         "by_multiplicity": accuracy_by_multiplicity(data.y["test"], probs, data.multiplicity_test)}
    return out


def same_features(path: Path, features: list[str]) -> list[dict]:
    """The points of the results file ``path`` (none if it does not exist), refused unless every one was trained
    on ``features``: one table holds one input set."""
    points = json.loads(path.read_text())["points"] if path.is_file() else []
    other = sorted({tuple(p.get("features", UNRECORDED_FEATURES)) for p in points} - {tuple(features)})
    if other:
        raise SystemExit(f"{path.name} holds points trained on features {' / '.join(', '.join(o) for o in other)}, not "
                         f"{', '.join(features)}: give another --out, or the same --features / --config")
    return points


def summarize(points: list[dict]) -> list[dict]:
    """Mean and sd over seeds per (kind, mode, augment, size)."""
    groups: dict[tuple, list] = {}
    for p in points:
        for mode in ("float", "qat"):
            if mode in p:
                groups.setdefault((p["kind"], mode, p["augment"], p["size"]), []).append(p)
    rows = []
    for (kind, mode, augment, size), ps in sorted(groups.items()):
        acc = np.array([100 * p[mode]["accuracy"] for p in ps])
        rows.append({"kind": kind, "mode": mode, "augment": augment, "size": size, "seeds": len(ps),
                     "accuracy": float(acc.mean()), "sd": float(acc.std(ddof=1)) if len(ps) > 1 else None,
                     "auc": float(np.mean([p[mode]["auc_macro"] for p in ps])),
                     "seconds_per_epoch": float(np.mean([p["seconds_per_epoch"] for p in ps])),
                     "epochs": float(np.mean([p["epochs"] for p in ps]))})
    return rows


def table(rows: list[dict], header: str) -> str:
    lines = [header, "", "| tagger | precision | augment | training jets | seeds | accuracy % (± sd) | AUC (macro) | "
             "s / float epoch | float epochs run |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        sd = f" ± {r['sd']:.2f}" if r["sd"] is not None else ""
        augment = "yes" if r["augment"] else "no"
        lines.append(f"| {r['kind']} | {r['mode']} | {augment} | {r['size']:,} | {r['seeds']} | "
                     f"{r['accuracy']:.2f}{sd} | {r['auc']:.4f} | {r['seconds_per_epoch']:.1f} | {r['epochs']:.0f} |")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    curves: dict[tuple, list] = {}
    for r in rows:
        curves.setdefault((r["kind"], r["mode"], r["augment"]), []).append(r)
    for (kind, mode, augment), rs in sorted(curves.items()):
        rs = sorted(rs, key=lambda r: r["size"])
        ax.errorbar([r["size"] for r in rs], [r["accuracy"] for r in rs], yerr=[r["sd"] or 0 for r in rs],
                    marker="o", capsize=3, ls="--" if augment else "-",
                    label=f"{kind} {mode}" + (" augmented" if augment else ""))
    for (name, acc), style in zip(ANCHORS_N32, (":", "-.", (0, (1, 3)), (0, (5, 5)))):
        ax.axhline(acc, color="grey", lw=0.9, ls=style, label=f"{name} {acc} % (real hls4ml dataset, 620k jets)")
    ax.set_xscale("log", base=2)
    sizes = sorted({r["size"] for r in rows})
    ax.set_xticks(sizes, [f"{s:,}" for s in sizes])
    ax.set_xlabel("training jets (l1tag's generated jets, n = 32)")
    ax.set_ylabel("test accuracy %")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, 0.9))
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(REPO / "configs" / "salt_l1.yaml"))
    ap.add_argument("--data", help="hls4ml-layout HDF5 files, comma-separated (default: the config's data with "
                                   "--jets)")
    ap.add_argument("--jets", type=int, default=60000)
    ap.add_argument("--split", help="train,validation,test fractions (default: the config's data.split)")
    ap.add_argument("--features", help="data.features, comma-separated (default: the config's)")
    ap.add_argument("--kinds", default="salt,linformer,transformer,deepsets")
    ap.add_argument("--sizes", default="4500,9000,18000,36000")
    ap.add_argument("--seeds", default="42,43,44")
    ap.add_argument("--big-seeds", type=int, default=1, help="seeds run at 50,000 training jets and above")
    ap.add_argument("--modes", default="float,qat")
    ap.add_argument("--augment", default="off", help="off, on, or off,on")
    ap.add_argument("--epochs", type=int, help="train.epochs (float epochs at most; default: the config's)")
    ap.add_argument("--out", default="learning_curve")
    ap.add_argument("--no-docs", action="store_true")
    ap.add_argument("--merge", help="results files (bench/results/<name>.json, comma-separated) whose points are "
                                    "added to --out's first, e.g. of runs split over processes")
    ap.add_argument("--tables-only", action="store_true", help="train nothing: the table and plot of the points "
                                                               "already in --out's results")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    base = load_config(args.config)
    if args.data:
        files = tuple(str(Path(f).resolve()) for f in args.data.split(","))
        data_cfg = dataclasses.replace(base.data, source="hls4ml", path=files if len(files) > 1 else files[0])
    else:
        data_cfg = dataclasses.replace(base.data, jets=args.jets)
    if args.split:
        data_cfg = dataclasses.replace(data_cfg, split=tuple(float(f) for f in args.split.split(",")))
    if args.features:
        data_cfg = dataclasses.replace(data_cfg, features=tuple(args.features.split(",")))
    base = dataclasses.replace(base, name=f"bench_{args.out}", data=data_cfg)
    if args.epochs:
        base = dataclasses.replace(base, train=dataclasses.replace(base.train, epochs=args.epochs))
    data = run_data_stage(base, REPO / "build" / f"bench_{args.out}", progress=True)
    kinds_, modes = args.kinds.split(","), args.modes.split(",")
    sizes, seeds = [int(s) for s in args.sizes.split(",")], [int(s) for s in args.seeds.split(",")]
    augments = [a == "on" for a in args.augment.split(",")]
    results_path = REPO / "bench" / "results" / f"{args.out}.json"
    features = list(data.features)
    points = same_features(results_path, features)
    done = {(p["kind"], p["size"], p["seed"], p["augment"]) for p in points}  # a rerun resumes
    for name in args.merge.split(",") if args.merge else []:
        for p in same_features(REPO / "bench" / "results" / f"{name}.json", features):
            if (p["kind"], p["size"], p["seed"], p["augment"]) not in done:
                points.append(p)
                done.add((p["kind"], p["size"], p["seed"], p["augment"]))
    for kind in [] if args.tables_only else kinds_:
        for size in sizes:
            for seed in (seeds if size < 50000 else seeds[:args.big_seeds]):
                for augment in augments:
                    if (kind, size, seed, augment) in done:
                        continue
                    t0 = time.perf_counter()
                    point = {"kind": kind, "size": size, "seed": seed, "augment": augment, "features": features,
                             **run_point(base, data, kind, size, seed, augment, modes)}
                    points.append(point)
                    results_path.write_text(json.dumps({"points": points}, indent=1))
                    logging.info("%s %d jets seed %d augment %s: %s (%.0f s)", kind, size, seed, augment,
                                 {m: round(100 * point[m]["accuracy"], 2) for m in modes if m in point},
                                 time.perf_counter() - t0)
    rows = summarize(points)
    largest = max(p["size"] for p in points)
    mult = {f"{p['kind']} {m}{' augmented' if p['augment'] else ''} seed {p['seed']}": p[m]["by_multiplicity"]
            for p in points if p["size"] == largest for m in ("float", "qat") if "by_multiplicity" in p.get(m, {})}
    results_path.write_text(json.dumps({"points": points, "summary": rows, "by_multiplicity_at_largest": mult},
                                       indent=1))
    source = ("file" + "s" * ("," in args.data) + " " + " + ".join(Path(f).name for f in args.data.split(","))
              if args.data else "generated")
    header = (f"Test split of {len(data.y['test']):,} jets ({source}, n = {data.n_constituents}, features "
              f"{', '.join(data.features)}); training subsets class-balanced from the {len(data.y['train']):,}-jet "
              f"training split; {epochs_words(base.train)}"
              + (f", {base.train.qat_epochs} QAT epochs" if "qat" in modes else "") + "; 2-core CPU.")
    text = table(rows, header)
    first = next(iter(mult.values()), [])
    if first:
        bins = " | ".join(f"{b['bin'][0]}–{b['bin'][1] - 1} ({b['jets']:,} jets)" for b in first)
        text += (f"\n\nAccuracy % by jet multiplicity at {largest:,} training jets (first seed; constituents "
                 f"before the cut to n = 32; quantile bins of the test split, "
                 f"`l1tag.train.metrics.accuracy_by_multiplicity`; binomial error ±"
                 f"{100 * max(b['error'] for b in first):.1f} at most):\n\n| run | {bins} |\n|---|"
                 + "---|" * len(first))
        for name, row in mult.items():
            if name.endswith(f"seed {points[0]['seed']}"):
                cells = " | ".join(f"{100 * b['accuracy']:.1f}" for b in row)
                text += f"\n| {name.rsplit(' seed', 1)[0]} | {cells} |"
    print(text)
    if not args.no_docs:
        plot(rows, REPO / "docs" / f"{args.out}.png")
        if not write_between_markers(args.out, text):
            logging.warning("no <!-- %s:begin/end --> markers in README.md or docs/*.md: the table is only printed",
                            args.out)


if __name__ == "__main__":
    main()
