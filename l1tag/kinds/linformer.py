"""Linformer: K' = E K and V' = F V with dense learned projections E, F of shape (heads, k, n).

With ``model.projection: bins`` E and F are fixed instead: row j averages the j-th of k contiguous blocks of
ceil(n / k) particles in the data's order (``bin_projection``), physics-motivated when that order is kT or dR.

Every particle contributes to every projected row (no sorting needed); scores are (n x k) per head,
softmax over k.  Keras: ``QLinformerAttention``; C++: ``l1tag::linformer_attention``.
"""

from __future__ import annotations

import numpy as np

from l1tag.kinds import AttentionShape, Kind


class LinformerKind(Kind):
    name = "linformer"
    summary = "K' = E K, V' = F V with dense learned E, F (p x n); softmax over p"
    uses_partitions = True
    keras_layer = "QLinformerAttention"
    cpp_function = "l1tag::linformer_attention"
    projection_weights = (("eproj", "kproj"), ("fproj", "vproj"))

    def layer_arguments(self, model_cfg, weight_q, bias_q) -> dict:
        return {"projected": model_cfg.partitions, "fixed": getattr(model_cfg, "projection", "learned") == "bins"}

    def projected_length(self, n, layer_config) -> int:
        return int(layer_config["projected"])

    def projection_terms(self, shape: AttentionShape) -> int:
        return shape.n

    def extra_parameters(self, n, heads, partitions, conv_kernel) -> int:
        return 2 * heads * partitions * n

    def project(self, k, v, w, shape, einsum=np.einsum):
        return einsum("hjn,hnd->hjd", w["kproj"], k), einsum("hjn,hnd->hjd", w["vproj"], v)


def bin_projection(heads: int, k: int, n: int) -> np.ndarray:
    """(heads, k, n): row j averages particles j c .. (j + 1) c - 1 (c = ceil(n / k); the last block may be
    shorter, an empty one is all zero)."""
    c = -(-n // k)
    e = np.zeros((heads, k, n), dtype=np.float32)
    for j in range(k):
        block = range(j * c, min((j + 1) * c, n))
        if len(block):
            e[:, j, block.start:block.stop] = 1.0 / len(block)
    return e


KIND = LinformerKind()
