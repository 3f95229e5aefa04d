"""Full multi-head self-attention: (n x n) scores per head, K' = K and V' = V; cost grows as n^2.

The reference against which the linear kinds are compared.  Keras: ``QMultiHeadAttention``;
C++: ``l1tag::full_attention``.
"""

from __future__ import annotations

from l1tag.kinds import PAIR_BIAS_OPTION, Kind


class TransformerKind(Kind):
    name = "transformer"
    summary = "full (n x n) scores, softmax over n"
    keras_layer = "QMultiHeadAttention"
    cpp_function = "l1tag::full_attention"
    pair_bias = PAIR_BIAS_OPTION  # model.pair_bias: ParT's bias on its scores


KIND = TransformerKind()
