"""What a layer's price depends on besides the layer itself: the tool, the clock, the device's DSP port, the
IO type and the top's pragma.  One ``Target`` per estimate, handed to every layer rule."""

from __future__ import annotations

import dataclasses

from l1tag.hardware.estimate.prices import CLOCK_UNCERTAINTY, DSP_A_BITS, T_ADD_NS, T_MULT_DSP_NS, stage_cycles
from l1tag.hardware.estimate.tools import TOOL_RULES, VITIS_HLS, ToolRules


@dataclasses.dataclass(frozen=True, kw_only=True)
class Target:
    """``rules``: the tool's (tools.py); ``clock_ns``: the period; ``uncertainty``: the clock uncertainty as a fraction
    of the period; ``dsp_a_bits``: the device's DSP A port; ``mult_ns`` / ``add_ns``: the device's DSP multiply
    and adder-level delays (prices.device_delays; the defaults are UltraScale+'s); ``io_stream``: hls4ml's
    IOType is io_stream; ``unroll``: the top function is one PIPELINE, which unrolls every loop of every layer."""

    clock_ns: float
    rules: ToolRules = TOOL_RULES[VITIS_HLS]
    uncertainty: float = CLOCK_UNCERTAINTY
    dsp_a_bits: int = DSP_A_BITS
    mult_ns: float = T_MULT_DSP_NS
    add_ns: float = T_ADD_NS
    io_stream: bool = False
    unroll: bool = False

    @property
    def usable_ns(self) -> float:
        """The part of a period that logic may use: the period less the clock uncertainty."""
        return self.clock_ns * (1 - self.uncertainty)

    def stage_cycles(self, mult_ns: float, adder_levels: float = 0) -> int:
        """Cycles of a datapath of a multiplier stage and ``adder_levels`` adder levels (prices.stage_cycles)."""
        return stage_cycles(mult_ns, adder_levels, self.clock_ns, self.uncertainty, self.add_ns)
