"""The registry of tagger kinds: each kind is named once, here, and described by one module.

A kind is a value of ``model.type``.  Its module (``l1tag/kinds/<name>.py``) defines ``KIND``, a
:class:`Kind` that holds or points to everything about it:

* its QKeras layer (``keras_layer``: the name of a subclass of ``l1tag.models.layers.attention.QAttentionBase``;
  ``l1tag.models.layers.attention_layer(kind)`` resolves it, so that this registry imports nothing of the
  flow and validating a config needs no TensorFlow);
* its firmware: the C++ function of ``firmware_templates/l1tag_attention.h`` and its weight arguments;
* its fixed-point reference: the K/V projection in NumPy (``project``), which the C++ must equal;
* its shape (projected length m, partition size c) and, through :class:`AttentionShape`, its
  multiply-accumulate and multiplication counts.

Cost counters, the converter, the estimator, the plots and the config validation ask this registry;
nothing dispatches on class names.  It is a foundation (docs/design.md "Imports"): NumPy only, importable
by every stage.  How to add a kind: docs/design.md, "Adding an attention kind".
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from functools import cache

import numpy as np

# The kinds, in the order tables and plots show them; each name is also its module's name.
NAMES = ("salt", "linformer", "transformer", "part", "lgatr_slim", "deepsets")


NO_PAIR_BIAS, PAIR_BIAS_OPTION, PAIR_BIAS_ALWAYS = "no", "option", "always"


def score_shift(head_dim: int) -> int:
    """s such that the score scale 1/sqrt(head_dim) is rounded to 2^-s (a shift in firmware)."""
    return int(round(math.log2(head_dim) / 2))


@dataclass(frozen=True)
class AttentionShape:
    """The shape of one attention layer and what it costs in multiplications (per jet).

    n particles of width d, H heads of depth dh = d / H, m keys per query (p partitions, the Linformer
    length k, or n), partition size c (SAL-T) and an optional (kh, kw) depthwise score convolution.
    """

    kind: str
    n: int
    d: int
    heads: int
    m: int
    chunk: int
    conv: tuple[int, int] | None

    @property
    def head_dim(self) -> int:
        return self.d // self.heads

    @property
    def projection_terms(self) -> int:
        """Terms summed into each projected K'/V' row (0: no projection)."""
        return get(self.kind).projection_terms(self)

    def macs(self) -> dict[str, int]:
        """Multiply-accumulates by step: Q/K/V projections, K'/V' projection, scores, score
        convolution, and A V' (the mixing)."""
        h, n, m, dh = self.heads, self.n, self.m, self.head_dim
        return {
            "qkv": 3 * n * self.d * self.d,
            "projection": 2 * h * m * self.projection_terms * dh,
            "scores": h * n * m * dh,
            "conv": h * n * m * self.conv[0] * self.conv[1] if self.conv else 0,
            "mix": h * n * m * dh,
        }

    @property
    def softmax_elements(self) -> int:
        return self.heads * self.n * self.m

    def multiplications(self) -> int:
        """Every product the firmware forms: the MACs plus the softmax normalisation (e x 1/sum)."""
        return sum(self.macs().values()) + self.softmax_elements


class Kind:
    """What the flow needs to know about one tagger kind; attention kinds override the projection."""

    name: str = ""
    summary: str = ""
    attention: bool = True
    uses_partitions: bool = False  # model.partitions is its p (or k) and must not exceed n
    contiguous_partitions: bool = False  # kT-sorted particles cut into p contiguous blocks (plots)
    keras_layer: str | None = None  # class name in l1tag.models.layers.attention
    cpp_function: str | None = None  # in firmware_templates/l1tag_attention.h
    # Keras weight name -> firmware weight name, for the weights past Wq, Wk, Wv (in call order)
    projection_weights: tuple[tuple[str, str], ...] = ()
    score_conv: bool = False  # a depthwise convolution on the scores (always present in its firmware)
    # ParT's pair bias U on the (n x n) scores (l1tag/ops/pair_bias.py): NO_PAIR_BIAS, with model.pair_bias
    # (PAIR_BIAS_OPTION) or always (PAIR_BIAS_ALWAYS)
    pair_bias: str = "no"
    # reads the constituents' four-momenta as Lorentz vectors (data.features e, px, py, pz, scaled by one
    # common factor: data.normalization momentum)
    momentum: bool = False

    # -- Keras (the class itself: l1tag.models.layers.attention_layer(kind), which imports TensorFlow) --
    def layer_arguments(self, model_cfg, weight_q: str | None, bias_q: str | None) -> dict:
        """Kind-specific constructor arguments of the Keras layer, from the config's model section."""
        return {}

    # -- shape ------------------------------------------------------------------------------------
    def projected_length(self, n: int, layer_config: dict) -> int:
        """m, from the Keras layer's config."""
        return n

    def chunk(self, n: int, m: int) -> int:
        return 0

    def conv_kernel(self, layer_config: dict) -> tuple[int, int] | None:
        return None

    def projection_terms(self, shape: AttentionShape) -> int:
        return 0

    def shape(self, n: int, d: int, layer_config: dict) -> AttentionShape:
        m = int(self.projected_length(n, layer_config))
        return AttentionShape(self.name, n, d, int(layer_config["heads"]), m, self.chunk(n, m),
                              self.conv_kernel(layer_config))

    def extra_parameters(self, n: int, heads: int, partitions: int, conv_kernel) -> int:
        """Trainable parameters of a block beyond Wq, Wk, Wv, the FFN and the DynamicTanh scalars."""
        return 0

    # -- firmware ---------------------------------------------------------------------------------
    def firmware_weights(self, layer_config: dict, weights: dict[str, np.ndarray], types: dict, quantize):
        """The projection (and convolution) arrays of the kernel, quantized to their firmware types."""
        return {fw: quantize(weights[k], types["weight"]) for k, fw in self.projection_weights}

    def project(self, k: np.ndarray, v: np.ndarray, w: dict[str, np.ndarray], shape: AttentionShape,
                einsum=np.einsum):
        """K', V' of one jet before their cast to qkv_t: (heads, n, dh) -> (heads, m, dh).

        Written once for the reference and the da4ml trace: sums go through ``einsum`` (NumPy's for the
        reference; for the trace, l1tag.ops.trace.einsum, the same contraction as balanced adder trees on
        arrays of traced variables), new arrays take ``k``'s dtype."""
        return k, v

    def project_bias(self, u: np.ndarray, w: dict[str, np.ndarray], shape: AttentionShape, einsum=np.einsum):
        """A score bias over particle pairs (heads, rows, n) -> over the scored keys (heads, rows, m), exact:
        the same reduction over the key particles as K' (so that Q K'^T + U' is the reduction of the full
        biased scores).  Full attention: U itself."""
        return u


@cache
def get(name: str) -> Kind:
    """The kind registered as ``name`` (a value of model.type)."""
    if name not in NAMES:
        raise KeyError(f"unknown model kind {name!r}; known: {', '.join(NAMES)}")
    kind = importlib.import_module(f"l1tag.kinds.{name}").KIND
    assert kind.name == name, f"l1tag/kinds/{name}.py registers {kind.name!r}"
    return kind


def all_kinds() -> list[Kind]:
    return [get(n) for n in NAMES]


def attention_kinds() -> list[Kind]:
    """The kinds with an attention layer, in registry order."""
    return [k for k in all_kinds() if k.attention]


def pair_bias_kinds() -> list[Kind]:
    """The kinds whose scores can take ParT's pair bias, in registry order."""
    return [k for k in all_kinds() if k.pair_bias != NO_PAIR_BIAS]


def uses_pair_bias(model_cfg) -> bool:
    """Whether the tagger of a config's model section adds ParT's pair bias to its scores."""
    kind = get(model_cfg.type)
    return kind.pair_bias == PAIR_BIAS_ALWAYS or (bool(model_cfg.pair_bias) and kind.pair_bias != NO_PAIR_BIAS)


def by_keras_layer(class_name: str) -> Kind | None:
    """The attention kind whose QKeras layer is ``class_name``, or None."""
    return next((k for k in attention_kinds() if k.keras_layer == class_name), None)
