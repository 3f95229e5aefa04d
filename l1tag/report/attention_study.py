"""What a trained tagger's attention does: how sparse each head is, and whether it matters at all.

For every attention layer of the deployed model, on up to ``JETS`` jets of the test split:

* **per head**, over the rows of real particles (row i < the jet's multiplicity; padding rows left out):
  the fraction of rows whose largest weight exceeds 0.5 and 0.9, and the mean row entropy as a fraction
  of the uniform row's, ln m (0: every particle attends to one key, ParT's nearly binary attention;
  1: uniform attention over the m keys, partitions or projected rows);
* **the uniform-attention ablation**: the accuracy when the layer's weights are replaced, for every jet,
  by their average over the same jets (a fixed mixing that no longer depends on the jet).  When that
  costs less than ``COLLAPSE_POINTS`` accuracy points the attention is reported as **collapsed**: what it
  computes jet by jet does not reach the result.  The model and its ablation run on the same jets, so
  the difference is paired; its binomial scale is ~1/sqrt(jets) at most;
* **where the attended partners sit**, with the jets' constituents in physical units: a query's weight on
  each key *particle* (for SAL-T and the Linformer, the softmax weights on the m keys times the projection
  that made those keys from the particles: ``effective_weights``), its magnitudes normalised over the real
  particles, gives the attention-weighted ΔR and ln kT = ln(min(pT_i, pT_j) ΔR) of each query's partners
  and the weight a particle puts on itself; their means per class are in report.md, their
  distributions in ``plots/attention_partners.png``, and one jet per class in the η–φ plane with an arrow
  from each of its leading particles to the partner it weighs most in ``plots/attention_partner_maps.png``.

The report stage writes the result to ``plots/attention_study.json`` and report.md shows it.
"""

from __future__ import annotations

import math

import numpy as np

JETS = 3000  # test jets the study runs on (the attention maps of 3,000 jets at n = 32: ~50 MB per layer)
COLLAPSE_POINTS = 0.5  # an ablation that loses less than this (accuracy points) marks a collapsed attention
THRESHOLDS = (0.5, 0.9)  # the largest weight of a row above which it counts as (nearly) one-hot
BATCH = 500
MAP_QUERIES = 8  # the leading particles whose favourite partner the η–φ maps draw


def row_statistics(a: np.ndarray, multiplicity: np.ndarray) -> list[dict]:
    """Per head, over the rows of real particles: the fraction of rows whose largest weight exceeds each
    of ``THRESHOLDS``, the mean largest weight, and the mean row entropy over ln m (None when m = 1).

    ``a``: attention weights (jets, heads, n, m), rows summing to 1; ``multiplicity``: each jet's
    constituents before the cut to n."""
    a = np.asarray(a, dtype=np.float64)
    jets, heads, n, m = a.shape
    real = np.arange(n)[None, :] < np.minimum(np.asarray(multiplicity), n)[:, None]  # (jets, n)
    top = a.max(axis=-1)  # (jets, heads, n)
    ent = -np.sum(np.where(a > 0, a * np.log(np.where(a > 0, a, 1.0)), 0.0), axis=-1)
    out = []
    for h in range(heads):
        t, e = top[:, h][real], ent[:, h][real]
        row = {f"rows_max_over_{thr}": float(np.mean(t > thr)) for thr in THRESHOLDS}
        row["mean_max"] = float(t.mean())
        row["entropy_over_uniform"] = float(e.mean() / math.log(m)) if m > 1 else None
        out.append(row)
    return out


def projection_matrix(layer) -> np.ndarray:
    """P (heads, m, n) with K' = P K for the layer's (quantized) projection: the layer's own ``_project``
    applied to the columns of the identity, head_dim at a time (full attention: P = I)."""
    n, dh, heads = layer.n, layer.head_dim, layer.heads
    cols = []
    for start in range(0, n, dh):
        block = np.zeros((1, heads, n, dh), dtype=np.float32)
        width = min(dh, n - start)
        block[0, :, np.arange(start, start + width), np.arange(width)] = 1.0
        kp, _ = layer._project(block, block)
        cols.append(np.asarray(kp)[0, :, :, :width])
    return np.concatenate(cols, axis=-1)


def effective_weights(a: np.ndarray, projection: np.ndarray) -> np.ndarray:
    """A query's weight on each key particle: softmax weights (jets, heads, n, m) through P (heads, m, n)."""
    return np.einsum("bhij,hjl->bhil", a, projection)


def partner_statistics(weights: np.ndarray, raw: np.ndarray, multiplicity: np.ndarray, y: np.ndarray) -> dict:
    """Per class: the mean attention-weighted ΔR and ln kT of each real query's real partners, and the share
    of its weight on itself (``weights``: (jets, heads, n, n) on particles; ``raw``: (jets, n, features) in
    physical units, l1tag.data.features order); with each query's values for the histograms."""
    from l1tag.data.features import CLASSES, FEATURE_INDEX

    n = weights.shape[-1]
    eta, phi, pt = (raw[:, :n, FEATURE_INDEX[f]].astype(np.float64) for f in ("etarel", "phirel", "pt"))
    dr = np.hypot(eta[:, :, None] - eta[:, None, :], phi[:, :, None] - phi[:, None, :])  # (jets, n, n)
    kt = np.minimum(pt[:, :, None], pt[:, None, :]) * dr
    real = np.arange(n)[None, :] < np.minimum(multiplicity, n)[:, None]
    pair = real[:, :, None] & real[:, None, :]
    w = np.abs(weights) * pair[:, None]
    total = w.sum(axis=-1)
    ok = (total > 0) & real[:, None, :]  # (jets, heads, n): real queries with some weight on real keys
    w = w / np.where(total > 0, total, 1.0)[..., None]
    mean_dr = np.sum(w * dr[:, None], axis=-1)
    off = pair & ~np.eye(n, dtype=bool)[None]
    log_kt = np.log(np.where(off & (kt > 0), kt, 1.0))
    partner_weight = np.sum(w * off[:, None], axis=-1)
    mean_log_kt = np.sum(w * np.where(off, log_kt, 0.0)[:, None], axis=-1) / np.maximum(partner_weight, 1e-12)
    self_share = np.einsum("bhii->bhi", w)
    # the same mean ΔR with every real key weighted alike: the jet's own geometry, to compare the attention with
    uniform_dr = np.sum(dr * pair, axis=-1) / np.maximum(pair.sum(axis=-1), 1)  # (jets, n)
    out = {"classes": {}, "per_query": {}}
    for c, name in enumerate(CLASSES):
        sel = ok & (y == c)[:, None, None]
        if sel.any():
            rows = real & (y == c)[:, None]
            out["classes"][name] = {"queries": int(sel.sum()), "mean_partner_dr": float(mean_dr[sel].mean()),
                                    "uniform_partner_dr": float(uniform_dr[rows].mean()),
                                    # over the queries with a partner other than themselves (None: none has)
                                    "mean_partner_log_kt": _mean_or_none(mean_log_kt[sel & (partner_weight > 0)]),
                                    "self_share": float(self_share[sel].mean())}
            out["per_query"][name] = mean_dr[sel]
    return out


def _mean_or_none(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None


def attention_layers(model) -> list:
    """The model's attention layers (those with an ``attention_maps`` method), in order."""
    return [layer for layer in model.layers if hasattr(layer, "attention_maps")]


def _accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    hits = 0
    for i in range(0, len(x), BATCH):
        p = np.asarray(model(x[i:i + BATCH], training=False))
        hits += int(np.sum(p.argmax(axis=1) == y[i:i + BATCH]))
    return hits / len(x)


def attention_study(model, x: np.ndarray, y: np.ndarray, multiplicity: np.ndarray, jets: int = JETS,
                    raw: np.ndarray | None = None, partners_png=None, maps_png=None) -> dict:
    """The study of every attention layer of ``model`` on the first ``jets`` of (x, y, multiplicity); with
    ``raw`` (the jets' constituents in physical units) also where the attended partners sit, with
    ``partners_png`` their ΔR distributions drawn there and with ``maps_png`` one jet per class with its
    particles' favourite partners (the first attention layer)."""
    import tensorflow as tf

    x, y, multiplicity = x[:jets], np.asarray(y[:jets]), np.asarray(multiplicity[:jets])
    accuracy = _accuracy(model, x, y)
    layers = []
    for layer in attention_layers(model):
        upstream = tf.keras.Model(model.input, layer.input)
        maps = [layer.attention_maps(upstream(x[i:i + BATCH], training=False))["softmax"]
                for i in range(0, len(x), BATCH)]
        a = np.concatenate(maps)
        mean = a.mean(axis=0).astype(np.float32)  # (heads, n, m)
        layer.fixed_attention = mean
        try:
            ablated = _accuracy(model, x, y)
        finally:
            layer.fixed_attention = None
        drop = 100.0 * (accuracy - ablated)
        entry = {"layer": layer.name, "kind": layer.kind, "keys": int(a.shape[-1]),
                 "heads": row_statistics(a, multiplicity), "accuracy_uniform_ablation": ablated,
                 "ablation_drop_points": drop, "collapsed": bool(drop < COLLAPSE_POINTS)}
        if raw is not None:
            weights = effective_weights(a, projection_matrix(layer))
            partners = partner_statistics(weights, raw[:jets], multiplicity, y)
            entry["partners"] = partners["classes"]
            if partners_png is not None and not layers:
                partner_histograms(partners["per_query"], layer.name, partners_png)
            if maps_png is not None and not layers:
                partner_maps(weights, raw[:jets], multiplicity, y, layer.name, maps_png)
        layers.append(entry)
    return {"jets": int(len(x)), "accuracy": accuracy, "collapse_points": COLLAPSE_POINTS, "layers": layers}


def partner_histograms(per_query: dict[str, np.ndarray], layer: str, out):
    """Per class, the distribution of each query's attention-weighted partner ΔR."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from l1tag.files import atomic_path

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    bins = np.linspace(0.0, 0.8, 41)
    for name, values in per_query.items():
        ax.hist(values, bins=bins, histtype="step", density=True, label=name)
    ax.set_xlabel("attention-weighted ΔR of a particle's partners")
    ax.set_ylabel("density")
    ax.set_title(f"{layer}: where the attended partners sit (all heads, real particles)")
    ax.legend(title="class")
    fig.tight_layout()
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return out


def one_jet_per_class(y: np.ndarray) -> list[int]:
    """The index of the first jet of each class present in ``y`` (the report's pictures of one jet per class)."""
    from l1tag.data.features import CLASSES

    return [int(np.flatnonzero(y == c)[0]) for c in range(len(CLASSES)) if np.any(y == c)]


def favourite_partners(weights: np.ndarray, multiplicity: int, leading: int = MAP_QUERIES) -> list[tuple[int, int]]:
    """(query, partner) for the first ``leading`` real particles of one jet: the other real particle on which
    the query's weight, in magnitude and summed over heads, is largest (``weights``: (heads, n, n))."""
    real = min(int(multiplicity), weights.shape[-1])
    w = np.abs(np.asarray(weights, dtype=np.float64)).sum(axis=0)[:real, :real]
    np.fill_diagonal(w, -np.inf)
    return [(i, int(np.argmax(w[i]))) for i in range(min(leading, real)) if real > 1]


def partner_maps(weights: np.ndarray, raw: np.ndarray, multiplicity: np.ndarray, y: np.ndarray, layer: str, out):
    """One jet per class in the (Δη, Δφ) plane, marker area by pT, an arrow from each of its leading
    particles (in the model's order) to its favourite partner (``favourite_partners``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from l1tag.data.features import CLASSES, FEATURE_INDEX
    from l1tag.files import atomic_path

    jets = one_jet_per_class(y)
    fig, axes = plt.subplots(1, len(jets), figsize=(3.2 * len(jets), 3.6), squeeze=False)
    n = weights.shape[-1]
    for ax, j in zip(axes[0], jets):
        real = min(int(multiplicity[j]), n)
        eta, phi, pt = (raw[j, :real, FEATURE_INDEX[f]] for f in ("etarel", "phirel", "pt"))
        ax.scatter(eta, phi, s=4 + 200 * pt / max(pt.max(), 1e-9), c="0.6", edgecolors="k", linewidths=0.3)
        for q, k in favourite_partners(weights[j], multiplicity[j]):
            ax.annotate("", xy=(eta[k], phi[k]), xytext=(eta[q], phi[q]),
                        arrowprops={"arrowstyle": "->", "color": "C3", "lw": 0.8})
        ax.set_title(f"{CLASSES[int(y[j])]} ({real} particles)")
        ax.set_xlabel("Δη")
        ax.set_xlim(-0.8, 0.8)
        ax.set_ylim(-0.8, 0.8)
        ax.set_aspect("equal")
    axes[0][0].set_ylabel("Δφ")
    fig.suptitle(f"{layer}: each of the {MAP_QUERIES} leading particles → the particle it weighs most")
    fig.tight_layout()
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return out


def markdown(study: dict) -> str:
    """report.md's attention section: one table row per head, the ablation in words under each layer."""
    if not study.get("layers"):
        return "The tagger has no attention layer."
    parts = [f"On {study['jets']:,} test jets (deployed model, accuracy {100 * study['accuracy']:.2f} %). "
             f"Rows are the real particles of each jet; a row's entropy is given as a fraction of the uniform "
             f"row's (ln m: 0 one-hot, 1 uniform)."]
    for layer in study["layers"]:
        rows = [f"| {h} | {100 * r['rows_max_over_0.5']:.1f} % | {100 * r['rows_max_over_0.9']:.1f} % | "
                f"{r['mean_max']:.2f} | "
                f"{'—' if r['entropy_over_uniform'] is None else format(r['entropy_over_uniform'], '.2f')} |"
                for h, r in enumerate(layer["heads"])]
        parts.append(f"**{layer['layer']}** ({layer['kind']}, m = {layer['keys']} keys per query)\n\n"
                     "| head | rows with max weight > 0.5 | > 0.9 | mean max weight | entropy / uniform |\n"
                     "|---|---|---|---|---|\n" + "\n".join(rows))
        words = (f"Uniform-attention ablation (this layer's weights replaced by their average over the jets): "
                 f"accuracy {100 * layer['accuracy_uniform_ablation']:.2f} % "
                 f"({-layer['ablation_drop_points']:+.2f} points).")
        if layer["collapsed"]:
            words += (f" **Collapsed attention:** the average does within {study['collapse_points']} point of "
                      f"the jet-by-jet attention, so what this layer computes per jet does not reach the result.")
        parts.append(words)
        if layer.get("partners"):
            rows = [f"| {c} | {r['mean_partner_dr']:.3f} | {r['uniform_partner_dr']:.3f} | "
                    f"{'—' if r['mean_partner_log_kt'] is None else format(r['mean_partner_log_kt'], '.2f')} | "
                    f"{100 * r['self_share']:.1f} % |" for c, r in layer["partners"].items()]
            parts.append("Where the attended partners sit (weights on the particles themselves, through the "
                         "projection for SAL-T and the Linformer; means over real particles and heads):\n\n"
                         "| class | partner ΔR | ΔR if uniform | partner ln kT (GeV) | weight on itself |\n"
                         "|---|---|---|---|---|\n"
                         + "\n".join(rows))
    return "\n\n".join(parts)
