"""What every firmware op is: a lowered :class:`Op` (the data) and its :class:`OpRule` (the behaviour).

A rule holds, in one place, everything the flow does with its op: the lowering of the Keras layers it
stands for (``lowers`` / ``lower``), the NumPy fixed-point reference (``reference``), the da4ml trace
(``trace``) and, for ops that read every particle, how the RTL cuts them into blocks (``blocks``).
The stages loop over the registry (``l1tag/ops/__init__.py``), never over op names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from l1tag.errors import ConversionError
from l1tag.numerics.fixed_point import FixedType, from_qkeras


@dataclass
class Op:
    """One firmware operation: what the reference computes and which type its result has."""

    operation: str  # the name of its OpRule: input | dense | relu | add | maxpool | attention | dynamic_tanh
    name: str
    inputs: list[str]
    result_t: FixedType | None = None
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    spec: object = None  # AttentionSpec / DynamicTanhSpec of l1tag's own layers


@dataclass
class Port:
    """One input of an RTL block: a value of the model (or of an op's inside), per copy ``shape``."""

    name: str
    shape: tuple
    type: FixedType


@dataclass
class Part:
    """A block that computes part of one op (an attention's scores, say): ``role`` names it to the op's
    rule, which traces it and cuts its vectors; ``instances``: its copies in the firmware."""

    suffix: str
    role: str
    instances: int
    inputs: list[Port]


@dataclass(frozen=True)
class Product:
    """``count`` products per loop iteration of operands ``a`` x ``b`` (FixedTypes); ``constant``: b is a
    compile-time constant (``weights`` lists each instance's value, for the CSD price)."""

    name: str
    count: int
    a: FixedType
    b: FixedType
    constant: bool = False
    weights: tuple = ()


def uint(bits: int) -> FixedType:
    return FixedType(bits, bits, signed=False)


class OpRule:
    """The behaviour of one op; subclasses set the class attributes and override what applies."""

    name: str = ""
    keras_classes: tuple[str, ...] = ()  # the Keras layer classes it lowers (``lowers`` may widen that)
    per_particle: bool = False  # acts on each particle alone: fused into particle loops, P copies in RTL
    reduction: bool = False  # reads every particle of the jet: ends a per-particle chain
    pooling: bool = False  # reduces the particle axis away: what follows runs once per jet (the head)

    # -- lowering (Keras -> ops + the plain Keras model hls4ml converts) ---------------------------------
    def lowers(self, layer) -> bool:
        return type(layer).__name__ in self.keras_classes

    def lower(self, layer, lowering) -> None:
        raise NotImplementedError(f"op '{self.name}' has no lowering rule")

    # -- arithmetic ---------------------------------------------------------------------------------
    def reference(self, op: Op, ins: list[np.ndarray]) -> np.ndarray:
        """The op on a batch of jets, with ap_fixed semantics (``ins``: its inputs, jets first)."""
        raise NotImplementedError(f"op '{self.name}' has no reference")

    def trace(self, op: Op, ins: list):
        """The op traced with da4ml (``ins``: FixedVariableArrays of one jet's rows, or one particle's)."""
        raise NotImplementedError(f"op '{self.name}' cannot be traced")

    # -- RTL blocks of a reduction ----------------------------------------------------------------------
    def parts(self, op: Op, parallel: int) -> list[Part]:
        """The blocks of a reduction op that is not one op block (the attention); [] for the others."""
        return []

    def inside_values(self, op: Op, values: dict) -> dict:
        """Values inside the op that its parts read (``<op>.<name>``), from the reference's ``values``."""
        return {}

    def trace_part(self, op: Op, role: str, ins: list) -> list:
        raise NotImplementedError(f"op '{self.name}' has no part '{role}'")

    def part_vectors(self, op: Op, role: str, values: dict) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError(f"op '{self.name}' has no part '{role}'")


def quantizer_type(layer_name: str, config: dict, key: str) -> FixedType:
    """The firmware type of a QKeras quantizer in a layer's config (the one place the mapping is applied)."""
    try:
        return from_qkeras(config.get(key), f"layer '{layer_name}' {key}")
    except ValueError as exc:
        raise ConversionError(f"{exc}; convert the QAT model (quantization.enabled: true), not the float one, "
                              f"which cannot be converted bit-exactly") from None
