"""SAL-T: linear partitioned attention with a depthwise convolution on the attention scores.

The n kT-sorted particles are cut into p contiguous partitions of c = ceil(n / p) rows (zero padded to
p c); each partition is collapsed by learned per-head weights, K'[h, j] = sum_{l<c} wK[h, j, l]
K[h, j c + l] (V' likewise), so the scores are (n x p) per head, and a (kh x kw) depthwise 'same'
convolution over (n, p) with the heads as channels lets a particle's scores see its kT neighbours'.
With ``model.pair_bias``, ParT's pair bias U (heads, n, n) is reduced over each partition by the key weights,
U'[h, i, j] = sum_l wK[h, j, l] U[h, i, j c + l] (``project_bias``), so that Q K'^T + U' is the partition
collapse of the full biased scores.
Keras: ``QPartitionedAttention``; C++: ``l1tag::partitioned_attention`` (``_bias`` with the pair bias).
"""

from __future__ import annotations

import math

import numpy as np

from l1tag.kinds import PAIR_BIAS_OPTION, AttentionShape, Kind


class SaltKind(Kind):
    name = "salt"
    summary = ("kT-sorted particles cut into p contiguous partitions, each collapsed by learned weights; "
               "scores (n x p), a depthwise convolution on them, softmax over p")
    uses_partitions = True
    contiguous_partitions = True
    keras_layer = "QPartitionedAttention"
    cpp_function = "l1tag::partitioned_attention"
    projection_weights = (("kpart", "kproj"), ("vpart", "vproj"))
    score_conv = True
    pair_bias = PAIR_BIAS_OPTION  # model.pair_bias: U collapsed over each partition by its key weights

    def layer_arguments(self, model_cfg, weight_q, bias_q) -> dict:
        return {"partitions": model_cfg.partitions, "conv_kernel": model_cfg.conv_kernel,
                "conv_quantizer": weight_q, "conv_bias_quantizer": bias_q}

    def projected_length(self, n, layer_config) -> int:
        return int(layer_config["partitions"])

    def chunk(self, n, m) -> int:
        return math.ceil(n / m)

    def conv_kernel(self, layer_config):
        k = layer_config.get("conv_kernel")
        return tuple(int(v) for v in k) if k else None

    def projection_terms(self, shape: AttentionShape) -> int:
        return shape.chunk

    def extra_parameters(self, n, heads, partitions, conv_kernel) -> int:
        conv = heads * (conv_kernel[0] * conv_kernel[1] + 1) if conv_kernel else 0
        return 2 * heads * partitions * math.ceil(n / partitions) + conv

    def firmware_weights(self, layer_config, weights, types, quantize):
        out = super().firmware_weights(layer_config, weights, types, quantize)
        if layer_config.get("conv_kernel"):
            out["convk"] = quantize(weights["convk"], types["conv_w"])
            out["convb"] = quantize(weights["convb"], types["conv_b"])
        else:  # the kernel always convolves: without a learned one, an identity 1x1 (x * 1 + 0 is exact)
            heads = int(layer_config["heads"])
            out["convk"], out["convb"] = np.ones((1, 1, heads, 1)), np.zeros(heads)
        return out

    def project(self, k, v, w, shape, einsum=np.einsum):
        return _collapse(k, w["kproj"], shape, einsum), _collapse(v, w["vproj"], shape, einsum)

    def project_bias(self, u, w, shape, einsum=np.einsum):
        """U'[h, i, j] = sum_l wK[h, j, l] U[h, i, j c + l]: the pair bias over partition j, weighted as K' is
        (the keys' collapse, on U's key axis)."""
        return _collapse(u.transpose(0, 2, 1), w["kproj"], shape, einsum).transpose(0, 2, 1)


def _collapse(t, pw, shape, einsum):
    """(heads, n, x), partition weights (heads, p, c) -> (heads, p, x): partition j is the weighted sum of rows
    j c .. j c + c - 1 (rows past n are zero)."""
    heads, n, x = t.shape
    c, p = shape.chunk, shape.m
    padded = np.zeros((heads, p * c, x), dtype=t.dtype)
    padded[:, :n] = t
    return einsum("hjld,hjl->hjd", padded.reshape(heads, p, c, x), pw)

KIND = SaltKind()
