"""Deep Sets: per-particle Dense layers, pooling over particles, then an MLP; no attention.

The baseline without particle-particle interactions: every part of it is a stock hls4ml layer.
"""

from __future__ import annotations

from l1tag.kinds import Kind


class DeepSetsKind(Kind):
    name = "deepsets"
    summary = "no attention: per-particle Dense layers, pooling, MLP"
    attention = False


KIND = DeepSetsKind()
