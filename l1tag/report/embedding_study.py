"""What the pooled jet embedding holds: its principal components, coloured by class, and how they follow the
jet substructure observables a physicist would compute from the same constituents.

On up to ``JETS`` jets of the test split, the deployed model's pooled embedding (the output of its ``pool``
layer, one vector per jet, before the head) is projected on its ``COMPONENTS`` leading principal components
(scikit-learn's PCA).  For each component: the share of the embedding's variance it carries and its Pearson
correlation over the jets with the jet mass, soft-drop mass, constituent multiplicity and the N-subjettiness
ratios tau21 and tau32 (l1tag.data.observables, from the constituents the tagger reads; jets where an
observable is undefined are left out of its correlation).  ``plots/embedding_pca.png`` draws the jets in the
plane of the first two components; ``plots/embedding_study.json`` holds the numbers and report.md shows them.
"""

from __future__ import annotations

import numpy as np

JETS = 3000
COMPONENTS = 3
POOL_LAYER = "pool"  # l1tag.models.builders names the pooling over particles so, for every kind


def correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson's r of the finite pairs of ``a`` and ``b`` (None with fewer than 3 or no spread)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return None
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def embedding_study(model, x: np.ndarray, y: np.ndarray, multiplicity: np.ndarray, raw: np.ndarray,
                    jets: int = JETS, png=None) -> dict:
    """The study of ``model``'s pooled embedding on the first ``jets`` test jets (``raw``: their constituents
    in physical units, as the data stage keeps them); with ``png`` the PCA plane drawn there."""
    import tensorflow as tf
    from sklearn.decomposition import PCA

    from l1tag.data.observables import substructure

    x, y = x[:jets], np.asarray(y[:jets])
    pooled = tf.keras.Model(model.input, model.get_layer(POOL_LAYER).output)
    emb = np.asarray(pooled.predict(x, batch_size=500, verbose=0), dtype=np.float64)
    components = min(COMPONENTS, emb.shape[1], len(emb))
    pca = PCA(n_components=components, random_state=0)
    z = pca.fit_transform(emb)
    observables = {**substructure(raw[:jets]), "multiplicity": np.asarray(multiplicity[:jets], dtype=np.float64)}
    study = {"jets": int(len(x)), "width": int(emb.shape[1]),
             "explained_variance": [float(v) for v in pca.explained_variance_ratio_],
             "correlations": {name: [correlation(z[:, k], values) for k in range(components)]
                              for name, values in observables.items()}}
    if png is not None:
        _plane(z, y, study, png)
    return study


def _plane(z: np.ndarray, y: np.ndarray, study: dict, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from l1tag.data.features import CLASSES
    from l1tag.files import atomic_path

    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    second = z[:, 1] if z.shape[1] > 1 else np.zeros(len(z))
    for c, name in enumerate(CLASSES):
        sel = y == c
        if sel.any():
            ax.scatter(z[sel, 0], second[sel], s=3, alpha=0.5, label=name)
    ev = study["explained_variance"]
    ax.set_xlabel(f"PC 1 ({100 * ev[0]:.0f} % of the variance)")
    ax.set_ylabel(f"PC 2 ({100 * ev[1]:.0f} %)" if len(ev) > 1 else "—")
    ax.set_title(f"pooled jet embedding (width {study['width']}), {study['jets']:,} test jets")
    ax.legend(title="class", markerscale=4)
    fig.tight_layout()
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return out


LABELS = {"mass": "jet mass", "mass_sd": "soft-drop mass", "multiplicity": "multiplicity", "tau21": "τ21",
          "tau32": "τ32"}


def markdown(study: dict) -> str:
    """report.md's embedding section: the variance per component and the correlation table."""
    ev = study["explained_variance"]
    head = " | ".join(f"PC {k + 1} ({100 * v:.0f} %)" for k, v in enumerate(ev))
    rows = []
    for name in ("mass", "mass_sd", "multiplicity", "tau21", "tau32"):
        values = study["correlations"].get(name)
        if values is not None:
            cells = " | ".join("—" if r is None else f"{r:+.2f}" for r in values)
            rows.append(f"| {LABELS[name]} | {cells} |")
    best = max(((abs(r), name, k) for name, values in study["correlations"].items()
                for k, r in enumerate(values) if r is not None), default=None)
    words = (f"The pooled embedding (width {study['width']}) of {study['jets']:,} test jets on its leading principal "
             f"components (share of its variance in brackets), and each component's Pearson correlation with "
             f"observables of the constituents the tagger reads:")
    table = f"| observable | {head} |\n|---|" + "---|" * len(ev) + "\n" + "\n".join(rows)
    tail = (f"The strongest: PC {best[2] + 1} with {LABELS.get(best[1], best[1])} (|r| = {best[0]:.2f})."
            if best else "")
    return "\n\n".join(p for p in (words, table, tail) if p)
