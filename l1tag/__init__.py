"""l1tag: quantize-then-synthesize compiler for transformer jet taggers on Level-1 trigger FPGAs.

The flow, one sub-package per stage: ``data`` -> ``models`` -> ``train`` -> ``hls`` -> ``reports`` -> ``package``;
``cli`` wires them into the ``l1tag`` command and ``config`` validates the YAML that drives them.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
