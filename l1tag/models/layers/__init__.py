"""QKeras custom layers of l1tag; importing this package registers them with Keras (package 'l1tag').

The attention layers are listed by the registry of kinds (``l1tag.kinds``); they are importable from
here too for convenience.
"""

from l1tag.models.layers.attention import (AttentionCore, QLinformerAttention, QMultiHeadAttention,
                                          QPartitionedAttention)
from l1tag.models.layers.dynamic_tanh import QDynamicTanh
from l1tag.models.layers.score_conv import QAttentionScoreConv

__all__ = ["AttentionCore", "QAttentionScoreConv", "QDynamicTanh", "QLinformerAttention", "QMultiHeadAttention", "QPartitionedAttention"]
