"""Ternary weights (``quantization.mode: ternary``): each constant weight is -s, 0 or +s.

s is one power of two per layer, chosen from the trained float weights W as in ternary weight networks
(Li, Zhang & Liu, arXiv:1605.04711): the threshold Δ = 0.7 mean|W|, α = the mean of |w| above Δ, and
s = 2^round(log2 α), so that a nonzero weight is a shift in firmware.  QKeras'
``ternary(alpha=s, threshold=s/2)`` rounds each weight to the nearest of -s, 0, +s;
``l1tag.numerics.fixed_point.from_qkeras`` gives its firmware type.

Two ways to train them (``quantization.ternary_training``):

* ``ste`` (default): QKeras' ternary quantizer in the forward pass from the first quantization-aware step,
  with the straight-through gradient;
* ``parq`` (after PARQ, Jin et al., "Piecewise-Affine Regularized Quantization"): each weight
  keeps a latent value z that the optimizer's steps accumulate in, and the network runs at
  w = ``prox(z, s, gamma)``: flat at -s, 0 and +s over a half-width (1 - gamma) s / 2 and affine in between,
  continuous.  gamma goes from 1 (the identity) to 0 (rounding to the grid) along a cosine over the first
  ``PARQ_ANNEAL`` of the quantization-aware steps, so the weights are pulled to the grid softly and end on
  it; the QAT model's ternary quantizer is then the identity on them.

On the default SAL-T (2,033 parameters, 18,000 training jets, one seed) ste reaches 54.85 % and parq
49.88 %, against 64.18 % with 8-bit weights (docs/models.md, "Ternary weights").

The layers: every Dense (QDense) kernel, the attention's Wq, Wk, Wv (one s for the three) and its kind's
projection weights (SAL-T's partition weights, the Linformer's E and F, through the same quantizer), and the
pair bias' embedding.  The SAL-T score convolution's taps keep ``quantization.weights``.
"""

from __future__ import annotations

import numpy as np

PARQ_ANNEAL = 0.75  # the fraction of the quantization-aware steps over which gamma falls from 1 to 0
DEFAULT_SCALE = 0.25  # a layer without a float twin to measure (a model built untrained): s = 2^-2
THRESHOLD = 0.7  # Δ = THRESHOLD x mean|W| (ternary weight networks)


def ternary_quantizer(scale: float) -> str:
    """The QKeras quantizer string of a ternary layer with scale ``scale`` (a power of two)."""
    return f"ternary(alpha={scale!r},threshold={scale / 2!r})"


def ternary_scale(weights: np.ndarray) -> float:
    """The power of two nearest (in log) to the mean magnitude of the weights above 0.7 mean|W|."""
    w = np.abs(np.asarray(weights, dtype=np.float64)).ravel()
    if not w.size or not w.any():
        return DEFAULT_SCALE
    big = w[w > THRESHOLD * w.mean()]
    return float(2.0 ** np.round(np.log2(big.mean())))


def _kernels(layer) -> list[np.ndarray]:
    """The weights that set ``layer``'s scale: its ternary variables, of an attention layer only Wq, Wk, Wv
    (its projections share their scale)."""
    variables = ternary_variables(layer)
    return [v.numpy() for v in (variables[:3] if hasattr(layer, "attention_maps") else variables)]


def ternary_scales(float_model) -> dict[str, float]:
    """Layer name -> s for every ternary layer of the trained float model."""
    scales = {}
    for layer in float_model.layers:
        kernels = _kernels(layer)
        if kernels:
            scales[layer.name] = ternary_scale(np.concatenate([k.ravel() for k in kernels]))
    return scales


def prox(w: np.ndarray, scale: float, gamma: float) -> np.ndarray:
    """PARQ's proximal map onto {-s, 0, +s} at slope parameter ``gamma`` (1: identity, 0: rounding to the
    nearest grid point, ties to 0): flat over (1 - gamma) s / 2 on each side of 0 and below s, affine (slope
    1 / gamma) in between, slope gamma beyond s; odd in w and continuous."""
    a = (1.0 - gamma) * scale / 2.0
    m = np.abs(w)
    inner = np.where(m <= a, 0.0, np.where(m < scale - a, (m - a) * scale / max(scale - 2 * a, 1e-30), scale))
    return np.sign(w) * np.where(m > scale, scale + gamma * (m - scale), inner)


def gamma_at(step: int, steps: int) -> float:
    """The slope parameter after ``step`` of ``steps`` optimizer steps: cosine from 1 to 0 over PARQ_ANNEAL."""
    progress = min(1.0, step / max(1.0, PARQ_ANNEAL * steps))
    return float(0.5 * (1.0 + np.cos(np.pi * progress)))


def ternary_variables(layer) -> list:
    """The variables of ``layer`` that its kernel quantizer rounds (those PARQ's proximal map moves)."""
    cls = type(layer).__name__
    if cls in ("QDense", "Dense"):
        return [layer.kernel]
    if hasattr(layer, "attention_maps"):
        from l1tag import kinds

        return [layer.wq, layer.wk, layer.wv] + [getattr(layer, k) for k, _ in kinds.get(layer.kind).projection_weights]
    if cls == "QPairBias":
        return [w for w in (layer.pw1, getattr(layer, "pw2", None)) if w is not None]
    return []


def parq_callback(model, scales: dict[str, float], steps: int):
    """A Keras callback running PARQ on every ternary variable of ``model``: each keeps a latent copy z that
    the optimizer's updates accumulate in, and each batch runs at w = ``prox(z, s, gamma)`` (so a weight
    held at a grid point still moves its z, and leaves the point once z has crossed the flat zone); at the
    end the variables are ``prox(z, s, 0)``, on the grid."""
    import tensorflow as tf

    targets = [(v, scales.get(layer.name, DEFAULT_SCALE)) for layer in model.layers
               for v in ternary_variables(layer) if layer.name in scales]

    class Parq(tf.keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.step = 0
            self.latent = [v.numpy().astype(np.float64) for v, _ in targets]
            self.shown: list = []

        def _show(self, gamma: float) -> None:
            self.shown = [prox(z, s, gamma) for z, (_, s) in zip(self.latent, targets)]
            for (var, _), w in zip(targets, self.shown):
                var.assign(w.astype(var.dtype.as_numpy_dtype))

        def on_train_batch_begin(self, batch, logs=None):
            self._show(gamma_at(self.step, steps))

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            for i, (var, _) in enumerate(targets):  # the optimizer's step, kept in the latent copy
                self.latent[i] += var.numpy().astype(np.float64) - self.shown[i]

        def on_train_end(self, logs=None):
            self._show(0.0)

    return Parq()
