"""Pictures of a build, drawn from its trained model and its test split (nothing from made-up data).

* ``roc_curves``: one-vs-rest ROC per class (background rejection vs signal efficiency), float,
  quantized and firmware;
* ``partition_picture``: one jet per class in the (Δη, Δφ) plane, constituents coloured by their
  SAL-T partition (kT-sorted, contiguous blocks of c = ceil(n/p)), marker area by pT;
* ``attention_maps``: per head, for one jet per class, the scores before and after the convolution
  and the softmax weights, with the sparsity measure (mean over rows of the largest weight);
* ``accuracy_vs_multiplicity``: test accuracy in bins of constituent multiplicity.

Beside the pictures, ``make_plots`` writes the attention study of the deployed model
(``plots/attention_study.json``, l1tag/report/attention_study.py): per-head sparsity on the test split, the
accuracy with each layer's attention replaced by its average, and where the attended partners sit (with
``attention_partners.png`` and ``attention_partner_maps.png``); and for every kind the embedding study
(``plots/embedding_study.json``, l1tag/report/embedding_study.py: the pooled embedding's principal components
against jet mass, soft-drop mass, multiplicity, tau21 and tau32, with ``embedding_pca.png``).  report.md
shows both.

The report stage draws what the build made; it converts and estimates no other model.  How the cost
grows with the number of particles is a benchmark: ``bench/scaling.py`` (bench/results/scaling.json).

Sparsity: for an attention matrix A (rows sum to 1) the mean of max_j A[i, j] over rows i: 1 when
every particle attends to exactly one other ("binary" attention, as found in ParT), 1/m when uniform.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from l1tag import kinds
from l1tag.data.features import CLASSES, FEATURE_INDEX
from l1tag.errors import StageMissingError
from l1tag.files import atomic_path, write_json
from l1tag.report.attention_study import attention_study, one_jet_per_class
from l1tag.report.embedding_study import embedding_study
from l1tag.train.metrics import accuracy_by_multiplicity

FIG_DPI = 100


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def sparsity(attention: np.ndarray) -> float:
    """Mean over rows of the largest attention weight (attention: (..., rows, cols), rows sum to 1)."""
    a = np.asarray(attention, dtype=np.float64)
    return float(a.max(axis=-1).mean())


def _save(fig, out: Path) -> Path:
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=FIG_DPI)
    _plt().close(fig)
    return Path(out)


def roc_curves(y: np.ndarray, probs: dict[str, np.ndarray], out: Path) -> Path:
    """ROC per class for each model in ``probs`` (name -> (N, classes) probabilities)."""
    from sklearn.metrics import roc_curve

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    styles = ["-", "--", ":", "-."]
    for s, (label, p) in enumerate(probs.items()):
        for c, name in enumerate(CLASSES[: p.shape[1]]):
            fpr, tpr, _ = roc_curve(y == c, p[:, c])
            ok = fpr > 0
            ax.plot(tpr[ok], 1 / fpr[ok], styles[s % 4], color=f"C{c}", lw=1.2, label=f"{name} ({label})")
    ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.set_xlabel("signal efficiency (TPR)")
    ax.set_ylabel("background rejection 1/FPR")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=6, ncol=3)
    ax.set_title("one-vs-rest ROC, test split")
    fig.tight_layout()
    return _save(fig, out)


def partition_picture(raw: np.ndarray, y: np.ndarray, partitions: int, out: Path) -> Path:
    """raw: (N, n, 16) test constituents in physical units, in the model's (kT) order."""
    plt = _plt()
    jets = one_jet_per_class(y)
    fig, axes = plt.subplots(1, len(jets), figsize=(3.2 * len(jets), 3.4), squeeze=False)
    n = raw.shape[1]
    chunk = math.ceil(n / partitions)
    part = np.arange(n) // chunk
    for ax, j in zip(axes[0], jets):
        c = raw[j]
        real = c[:, FEATURE_INDEX["pt"]] > 0
        pt = c[real, FEATURE_INDEX["pt"]]
        sc = ax.scatter(c[real, FEATURE_INDEX["etarel"]], c[real, FEATURE_INDEX["phirel"]],
                        s=300 * pt / pt.max() + 4, c=part[real], cmap="viridis", vmin=0,
                        vmax=max(partitions - 1, 1), alpha=0.8, edgecolors="k", linewidths=0.3)
        ax.set_title(f"{CLASSES[y[j]]} jet ({real.sum()} constituents)", fontsize=9)
        ax.set_xlabel("Δη")
        ax.set_ylabel("Δφ")
        ax.set_xlim(-0.9, 0.9)
        ax.set_ylim(-0.9, 0.9)
        ax.set_aspect("equal")
    fig.colorbar(sc, ax=axes[0].tolist(), label="partition (kT order)", shrink=0.8)
    fig.suptitle(f"SAL-T partitions: {partitions} contiguous blocks of {chunk} kT-sorted constituents", fontsize=10)
    return _save(fig, out)


def attention_maps(maps: dict[str, np.ndarray], y: np.ndarray, jets: list[int], out: Path) -> tuple[Path, dict]:
    """maps: 'scores', 'scores_conv', 'softmax', each (jets, heads, n, m). One row per (jet, map)."""
    plt = _plt()
    heads = maps["softmax"].shape[1]
    map_names = [k for k in ("scores", "scores_conv", "softmax") if k in maps]
    rows = len(jets) * len(map_names)
    fig, axes = plt.subplots(rows, heads, figsize=(2.2 * heads + 1, 1.6 * rows), squeeze=False)
    stats = {}
    for r_jet, j in enumerate(jets):
        for r_map, map_name in enumerate(map_names):
            row = r_jet * len(map_names) + r_map
            for h in range(heads):
                ax = axes[row, h]
                cmap = "magma" if map_name == "softmax" else "coolwarm"
                ax.imshow(maps[map_name][r_jet, h], aspect="auto", cmap=cmap, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                if row == 0:
                    ax.set_title(f"head {h}", fontsize=8)
                if h == 0:
                    ax.set_ylabel(f"{CLASSES[y[r_jet]]}\n{map_name}", fontsize=7)
            if map_name == "softmax":
                stats[CLASSES[y[r_jet]]] = sparsity(maps["softmax"][r_jet])
    fig.suptitle("attention per head (rows: particles in kT order; columns: partitions / keys); "
                 "sparsity " + ", ".join(f"{k} {v:.2f}" for k, v in stats.items()), fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.98))  # keep the title clear of the head labels
    return _save(fig, out), stats


def accuracy_vs_multiplicity(y: np.ndarray, probs: np.ndarray, multiplicity: np.ndarray, out: Path) -> Path:
    plt = _plt()
    rows = accuracy_by_multiplicity(y, probs, multiplicity)
    centres = [0.5 * sum(r["bin"]) for r in rows]
    acc, err = [r["accuracy"] for r in rows], [r["error"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.errorbar(centres, acc, yerr=err, fmt="o-")
    ax.set_xlabel("constituents in the jet")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.set_title("accuracy versus constituent multiplicity")
    fig.tight_layout()
    return _save(fig, out)


def make_plots(cfg, build_dir: Path, data) -> dict[str, Path]:
    """Every picture of a build into build_dir/plots; returns name -> file.

    The curves reuse the test-split predictions that training (model/predictions.npz) and the
    C-simulation (csim_outputs.npy) saved; only the attention maps run the model again, on 5 jets.
    """
    from l1tag.models.builders import attention_maps as extract_maps
    from l1tag.models.builders import load_model

    build_dir = Path(build_dir)
    out = build_dir / "plots"
    y, x = data.y["test"], data.x["test"]
    pred_file = build_dir / "model" / "predictions.npz"
    if not pred_file.exists():
        raise StageMissingError(f"{pred_file} not found: rerun the train stage (`l1tag train -c CONFIG`)")
    with np.load(pred_file) as z:
        probs = {k: z[k] for k in z.files}
    fw_file = build_dir / "csim_outputs.npy"
    if fw_file.exists():
        logits = np.load(fw_file)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs["firmware"] = e / e.sum(axis=1, keepdims=True)
    # the firmware curve needs C-simulation outputs of the whole test split (csim.jets >= test jets)
    files = {"roc": roc_curves(y, {k: v for k, v in probs.items() if len(v) == len(y)}, out / "roc.png")}
    deployed_name = "quantized" if "quantized" in probs else "float"
    files["accuracy_vs_multiplicity"] = accuracy_vs_multiplicity(
        y, probs[deployed_name], data.multiplicity_test, out / "accuracy_vs_multiplicity.png")
    sparsity_stats = {}
    kind = kinds.get(cfg.model.type)
    deployed = load_model(build_dir / "model" / ("qat.h5" if deployed_name == "quantized" else "float.h5"))
    if kind.attention:
        jets = one_jet_per_class(y)
        maps = extract_maps(deployed, x[jets])
        first = next(iter(maps.values()))
        files["attention"], sparsity_stats = attention_maps(first, y[jets], jets, out / "attention_maps.png")
        if kind.contiguous_partitions:
            files["partitions"] = partition_picture(data.raw_test, y, cfg.model.partitions, out / "partitions.png")
        study = attention_study(deployed, x, y, data.multiplicity_test, raw=data.raw_test,
                                partners_png=out / "attention_partners.png",
                                maps_png=out / "attention_partner_maps.png")
        files["attention_partners"] = out / "attention_partners.png"
        files["attention_partner_maps"] = out / "attention_partner_maps.png"
        write_json(out / "attention_study.json", study)
    else:  # a kind without attention: no study left from an earlier model in this folder
        for name in ("attention_study.json", "attention_partners.png", "attention_partner_maps.png"):
            (out / name).unlink(missing_ok=True)
    write_json(out / "embedding_study.json", embedding_study(deployed, x, y, data.multiplicity_test, data.raw_test,
                                                             png=out / "embedding_pca.png"))
    files["embedding_pca"] = out / "embedding_pca.png"
    write_json(out / "attention_sparsity.json", sparsity_stats)
    return files
