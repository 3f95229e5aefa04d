"""Ternary weights (``quantization.mode: ternary``): each constant weight is -s, 0 or +s.

s is one power of two per layer, chosen from the trained float weights W as in ternary weight networks
(Li, Zhang & Liu, arXiv:1605.04711): the threshold Δ = 0.7 mean|W|, α = the mean of |w| above Δ, and
s = 2^round(log2 α), so that a nonzero weight is a shift in firmware.  During the quantization-aware epochs
QKeras' ``ternary(alpha=s, threshold=s/2)`` rounds each weight to the nearest of -s, 0, +s with the
straight-through gradient; ``l1tag.numerics.fixed_point.from_qkeras`` gives its firmware type.

The layers: every Dense (QDense) kernel, the attention's Wq, Wk, Wv (one s for the three) and its kind's
projection weights (SAL-T's partition weights, the Linformer's E and F, through the same quantizer), and the
pair bias' embedding.  The SAL-T score convolution's taps keep ``quantization.weights``.
"""

from __future__ import annotations

import numpy as np

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
    """The constant weights of ``layer`` that ternary mode makes ternary (none: not a ternary layer)."""
    cls = type(layer).__name__
    if cls in ("QDense", "Dense"):
        return [layer.kernel.numpy()]
    if hasattr(layer, "attention_maps"):  # an attention layer: Wq, Wk, Wv
        return [layer.wq.numpy(), layer.wk.numpy(), layer.wv.numpy()]
    if cls == "QPairBias":
        return [w.numpy() for w in (layer.pw1, getattr(layer, "pw2", None)) if w is not None]
    return []


def ternary_scales(float_model) -> dict[str, float]:
    """Layer name -> s for every ternary layer of the trained float model."""
    scales = {}
    for layer in float_model.layers:
        kernels = _kernels(layer)
        if kernels:
            scales[layer.name] = ternary_scale(np.concatenate([k.ravel() for k in kernels]))
    return scales
