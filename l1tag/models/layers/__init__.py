"""QKeras custom layers of l1tag; importing this package registers them with Keras (package 'l1tag')."""

from l1tag.models.layers.attention import QLinformerAttention, QMultiHeadAttention, QPartitionedAttention
from l1tag.models.layers.dynamic_tanh import QDynamicTanh
from l1tag.models.layers.score_conv import QAttentionScoreConv

__all__ = ["QAttentionScoreConv", "QDynamicTanh", "QLinformerAttention", "QMultiHeadAttention", "QPartitionedAttention"]
