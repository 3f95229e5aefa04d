"""Learned low rank (``train.low_rank``): each Dense layer finds its own rank during the float training and
becomes two layers of that rank for the quantization-aware training and the firmware.

* **Training**: after every optimizer step of the float training, the proximal step of the nuclear norm
  λ ||W||_* soft-thresholds each Dense kernel's singular values, σ <- max(σ - λ η, 0) with η the learning
  rate of that step (``prox_nuclear``); ``train.low_rank.max_rank`` also keeps at most that many.  Singular
  values that reach zero stay there unless the gradient pushes them back above the threshold, so each
  layer's rank emerges (Alvarez & Salzmann, "Compression-aware training of deep networks", NeurIPS 2017).
* **Rank**: after training, r = the singular values above ``RANK_TOL`` of the largest.  A layer is
  factorized only where that saves constants, r (d_in + d_out) < d_in d_out (``learned_ranks``).
* **Lowering**: the quantization-aware model builds such a layer as ``<name>_a`` (d_in -> r, its own bias,
  the activation quantizer on its r outputs) followed by ``<name>`` (r -> d_out), starting from
  A = U_r sqrt(Σ_r) and B = sqrt(Σ_r) V_r^T (``factor``).  Both are ordinary Dense ops from there on: the
  firmware, the estimate and the Yosys counts see r (d_in + d_out) constants instead of d_in d_out.

The Dense layers are the embedding, the feed-forward and head layers, the logits and Deep Sets' φ; the
attention's Wq, Wk, Wv stay whole.
"""

from __future__ import annotations

import numpy as np

RANK_TOL = 1e-4  # a singular value below this fraction of the largest is a zero of the learned rank


def prox_nuclear(w: np.ndarray, threshold: float, max_rank: int | None = None) -> np.ndarray:
    """W with its singular values soft-thresholded by ``threshold`` (and at most ``max_rank`` kept)."""
    u, s, vt = np.linalg.svd(np.asarray(w, dtype=np.float64), full_matrices=False)
    s = np.maximum(s - threshold, 0.0)
    if max_rank is not None:
        s[max_rank:] = 0.0
    return (u * s) @ vt


def rank_of(w: np.ndarray) -> int:
    s = np.linalg.svd(np.asarray(w, dtype=np.float64), compute_uv=False)
    return int(np.sum(s > RANK_TOL * s.max())) if s.size and s.max() > 0 else 0


def factor(w: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """(A, B), d_in x r and r x d_out, with A B the best rank-r approximation of W (exact at W's rank)."""
    u, s, vt = np.linalg.svd(np.asarray(w, dtype=np.float64), full_matrices=False)
    root = np.sqrt(s[:rank])
    return u[:, :rank] * root, root[:, None] * vt[:rank]


def saves(rank: int, d_in: int, d_out: int) -> bool:
    """Whether two layers of this rank hold fewer constants than the one: r (d_in + d_out) < d_in d_out."""
    return 0 < rank and rank * (d_in + d_out) < d_in * d_out


def dense_layers(model) -> list:
    """The model's Dense layers (QDense), the ones low rank applies to."""
    return [layer for layer in model.layers if type(layer).__name__ in ("QDense", "Dense")]


def learned_ranks(float_model) -> dict[str, int]:
    """Layer name -> rank for every Dense layer of the trained float model whose factorization saves
    constants."""
    ranks = {}
    for layer in dense_layers(float_model):
        w = layer.kernel.numpy()
        r = rank_of(w)
        if saves(r, *w.shape):
            ranks[layer.name] = r
    return ranks


def transfer(float_model, qat_model, ranks: dict[str, int]) -> None:
    """The float weights into the quantization-aware model, layer by layer; a factorized layer's kernel as
    its two factors (the first factor's bias zero)."""
    qat = {layer.name: layer for layer in qat_model.layers}
    for layer in float_model.layers:
        weights = layer.get_weights()
        if layer.name in ranks:
            a, b = factor(weights[0], ranks[layer.name])
            qat[f"{layer.name}_a"].set_weights([a.astype(np.float32), np.zeros(a.shape[1], np.float32)])
            qat[layer.name].set_weights([b.astype(np.float32), weights[1]])
        elif weights:
            qat[layer.name].set_weights(weights)


def nuclear_callback(model, strength: float, max_rank: int | None):
    """A Keras callback applying ``prox_nuclear`` (threshold strength x the step's learning rate) to every
    Dense kernel of ``model`` after each training batch."""
    import tensorflow as tf

    kernels = [layer.kernel for layer in dense_layers(model)]

    class Nuclear(tf.keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            opt = self.model.optimizer
            lr = opt.learning_rate
            eta = float(lr(opt.iterations) if callable(lr) else tf.keras.backend.get_value(lr))
            for k in kernels:
                k.assign(prox_nuclear(k.numpy(), strength * eta, max_rank).astype(np.float32))

    return Nuclear()
