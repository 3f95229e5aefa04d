"""A LUT target for heterogeneous quantization (``quantization.target.lut``): LUTs -> the EBOPs target.

The β controller (``l1tag/train/hetero.py``) steers EBOPs, which the training can differentiate; a trigger
engineer budgets LUTs.  This turns one into the other with l1tag's ESTIMATE of the firmware at the config's P,
on the model being trained:

1. after the float training, the estimate of the quantized twin with every heterogeneous weight removed --
   the floor F that no weight width can go below (the attention core, tables, activations, registers) --
   and at its starting widths, L0 with E0 EBOPs.  A target N <= F is refused (``ConfigError``, exit 2);
2. the first EBOPs target is the line through the floor: E = E0 (N - F) / (L0 - F);
3. at RETARGET_FRACTIONS of the quantization-aware epochs the model as it is then (L, with E' EBOPs) is
   estimated again and the target corrected by the secant through the last two estimates (the line
   through the floor while there is one): LUTs per EBOP rise as the widths shrink (an adder costs its
   width whatever its weight's bits), so a line through the floor overestimates what fewer EBOPs save.
   The epoch kept is one steered to the last correction.

Every estimate converts the model (``l1tag.hls.convert``) into a temporary project: tens of seconds each at
P = n, five per training.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from l1tag.errors import ConfigError

log = logging.getLogger("l1tag")

RETARGET_FRACTIONS = (0.25, 0.45, 0.65)  # of train.qat_epochs: when the target is corrected from the estimate


class LutTarget:
    """``start(model)`` -> the first EBOPs target; ``retarget(model, ebops)`` -> the corrected one;
    ``epochs(qat_epochs)`` -> when to correct; ``record``: what was estimated, for the train history."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.lut = int(cfg.quantization.target.lut)
        self.record: dict = {"lut_target": self.lut, "corrections": []}

    def estimate(self, model) -> int:
        """LUTs of the model's firmware at the config's P (l1tag's ESTIMATE)."""
        from l1tag.hardware.project import estimate_keras

        return int(estimate_keras(model, self.cfg.hls)["resources"]["LUT"])

    def floor(self, model) -> int:
        """The estimate with every heterogeneous weight zero (restored after)."""
        from l1tag.models.layers.hetero import hetero_layers

        saved = [(w, w.numpy()) for layer in hetero_layers(model) for w, _, _ in layer._hetero.values()]
        try:
            for w, v in saved:
                w.assign(np.zeros_like(v))
            return self.estimate(model)
        finally:
            for w, v in saved:
                w.assign(v)

    def start(self, model) -> float:
        from l1tag.models.layers.hetero import model_ebops

        self.floor_lut = self.floor(model)
        if self.lut <= self.floor_lut:
            raise ConfigError(
                f"quantization.target.lut {self.lut:,} is not above {self.floor_lut:,}, the ESTIMATE of this model "
                f"with every heterogeneous weight removed (attention core, tables, activations): raise the target, or "
                f"make the model smaller (model.heads, quantization.activations.bits)")
        start_lut, start_ebops = self.estimate(model), model_ebops(model)
        self._points = [(start_ebops, start_lut)]
        target = self._secant(start_ebops, start_lut)
        self.record.update(floor_lut=self.floor_lut, start_lut=start_lut, start_ebops=start_ebops,
                           first_target_ebops=target)
        log.info("heterogeneous quantization: LUT target %s (ESTIMATE): floor %s with every heterogeneous weight "
                 "removed, %s at the start (%s EBOPs) -> EBOPs target %s", f"{self.lut:,}", f"{self.floor_lut:,}",
                 f"{start_lut:,}", f"{start_ebops:,.0f}", f"{target:,.0f}")
        return target

    def retarget(self, model, ebops: float) -> float:
        lut = self.estimate(model)
        (e0, l0), target = self._points[-1], None
        if abs(ebops - e0) > 0.02 * max(e0, 1.0) and (lut - l0) * (ebops - e0) > 0:  # two distinct points, rising
            target = max(1.0, ebops + (self.lut - lut) * (ebops - e0) / (lut - l0))
        self._points.append((ebops, lut))
        target = target if target is not None else self._secant(ebops, lut)
        self.record["corrections"].append({"ebops": ebops, "lut": lut, "target_ebops": target})
        log.info("heterogeneous quantization: %s LUT (ESTIMATE) at %s EBOPs -> EBOPs target %s", f"{lut:,}",
                 f"{ebops:,.0f}", f"{target:,.0f}")
        return target

    def _secant(self, ebops: float, lut: int) -> float:
        if lut <= self.floor_lut or ebops <= 0:  # nothing left above the floor: grow the widths back
            return max(2.0 * ebops, 1.0)
        return max(1.0, ebops * (self.lut - self.floor_lut) / (lut - self.floor_lut))

    @staticmethod
    def epochs(qat_epochs: int) -> tuple[int, ...]:
        """The 1-based QAT epochs after which the target is corrected (never the last: an epoch must follow)."""
        return tuple(sorted({e for f in RETARGET_FRACTIONS if 1 <= (e := math.ceil(f * qat_epochs)) < qat_epochs}))
