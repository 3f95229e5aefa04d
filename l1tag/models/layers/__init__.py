"""QKeras custom layers of l1tag; importing this package registers them with Keras (package 'l1tag').

The attention layers are named by the registry of kinds (``l1tag.kinds``: ``Kind.keras_layer``);
:func:`attention_layer` turns a kind into its class.  They are importable from here too.
"""

from l1tag.kinds import Kind
from l1tag.models.layers import attention
from l1tag.models.layers.attention import (AttentionCore, QLinformerAttention, QLorentzAttention,
                                          QMultiHeadAttention, QParTAttention, QPartitionedAttention)
from l1tag.models.layers.dynamic_tanh import QDynamicTanh
from l1tag.models.layers.firmware_cores import ProductCore
from l1tag.models.layers.hetero import HQDense
from l1tag.models.layers.lorentz import TiedWeights
from l1tag.models.layers.pair_bias import PairBiasCore, QPairBias
from l1tag.models.layers.score_conv import QAttentionScoreConv

__all__ = ["AttentionCore", "HQDense", "PairBiasCore", "ProductCore", "QAttentionScoreConv", "QDynamicTanh",
           "QLinformerAttention",
           "QLorentzAttention", "QMultiHeadAttention", "QPairBias", "QParTAttention", "QPartitionedAttention",
           "TiedWeights", "attention_layer"]


def attention_layer(kind: Kind) -> type:
    """The QKeras layer class of an attention kind (``kind.keras_layer``, in ``attention.py``)."""
    return getattr(attention, kind.keras_layer)
