"""ParT-style attention: the full (n x n) scores plus the Particle Transformer's pair bias, always.

softmax(Q K^T / sqrt(dh) + U) V, with U embedded from ln dR, ln kT, ln z, ln m^2 of every particle pair of the
quantized inputs (l1tag/ops/pair_bias.py; the Transformer takes the same U with ``model.pair_bias``).  The
pair features are computed for all n (n + 1) / 2 pairs in one pipelined function: the firmware needs
``hls.parallelization_factor`` = n.  ParT's class-attention blocks are not built: the pooled embedding goes
to the head as in every l1tag tagger.  Keras: ``QParTAttention``; C++: ``l1tag::full_attention_bias``.
"""

from __future__ import annotations

from l1tag.kinds import PAIR_BIAS_ALWAYS
from l1tag.kinds.transformer import TransformerKind


class PartKind(TransformerKind):
    name = "part"
    summary = "full (n x n) scores plus ParT's pairwise bias, softmax over n"
    keras_layer = "QParTAttention"
    pair_bias = PAIR_BIAS_ALWAYS


KIND = PartKind()
