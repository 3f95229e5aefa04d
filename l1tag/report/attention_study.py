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
  the difference is paired; its binomial scale is ~1/sqrt(jets) at most.

The report stage writes the result to ``plots/attention_study.json`` and report.md shows it.
"""

from __future__ import annotations

import math

import numpy as np

JETS = 3000  # test jets the study runs on (the attention maps of 3,000 jets at n = 32: ~50 MB per layer)
COLLAPSE_POINTS = 0.5  # an ablation that loses less than this (accuracy points) marks a collapsed attention
THRESHOLDS = (0.5, 0.9)  # the largest weight of a row above which it counts as (nearly) one-hot
BATCH = 500


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


def attention_layers(model) -> list:
    """The model's attention layers (those with an ``attention_maps`` method), in order."""
    return [layer for layer in model.layers if hasattr(layer, "attention_maps")]


def _accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    hits = 0
    for i in range(0, len(x), BATCH):
        p = np.asarray(model(x[i:i + BATCH], training=False))
        hits += int(np.sum(p.argmax(axis=1) == y[i:i + BATCH]))
    return hits / len(x)


def attention_study(model, x: np.ndarray, y: np.ndarray, multiplicity: np.ndarray, jets: int = JETS) -> dict:
    """The study of every attention layer of ``model`` on the first ``jets`` of (x, y, multiplicity)."""
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
        layers.append({"layer": layer.name, "kind": layer.kind, "keys": int(a.shape[-1]),
                       "heads": row_statistics(a, multiplicity), "accuracy_uniform_ablation": ablated,
                       "ablation_drop_points": drop, "collapsed": bool(drop < COLLAPSE_POINTS)})
    return {"jets": int(len(x)), "accuracy": accuracy, "collapse_points": COLLAPSE_POINTS, "layers": layers}


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
    return "\n\n".join(parts)
