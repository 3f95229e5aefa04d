"""What l1tag's hls4ml kernels share: fixed-point types across the hls4ml boundary and the C++ literals and
ROMs their config structs hold (``l1tag/hls/attention.py``, ``l1tag/hls/dynamic_tanh.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from l1tag.config import particles_per_clock
from l1tag.errors import ConversionError
from l1tag.numerics.fixed_point import FixedType

FIRMWARE_TEMPLATES = Path(__file__).resolve().parents[2] / "firmware_templates"


def to_hls(t: FixedType):
    """FixedType -> hls4ml FixedPrecisionType with the same modes."""
    from hls4ml.model.types import FixedPrecisionType, RoundingMode, SaturationMode

    return FixedPrecisionType(width=t.width, integer=t.integer, signed=t.signed,
                              rounding_mode=RoundingMode.from_string(t.rounding),
                              saturation_mode=SaturationMode.from_string(t.overflow))


def from_hls(p) -> FixedType:
    """hls4ml FixedPrecisionType -> FixedType; anything else (floats, 'auto') is a ConversionError."""
    from hls4ml.model.types import FixedPrecisionType

    if not isinstance(p, FixedPrecisionType):
        raise ConversionError(f"expected a fixed-point type, got {p}: every tensor needs a QKeras quantizer")
    rnd = f"AP_{p.rounding_mode.name}" if p.rounding_mode is not None else "AP_TRN"
    sat = f"AP_{p.saturation_mode.name}" if p.saturation_mode is not None else "AP_WRAP"
    return FixedType(p.width, p.integer, p.signed, rnd, sat)


def cpp_literal(value: float) -> str:
    """A C++ literal of a value that is exact in its fixed-point type (float64 repr round-trips exactly)."""
    v = float(value)
    return repr(v) if v != int(v) else f"{int(v)}.0"


def rom_function(name: str, type_name: str, values, storage: str, backend: str) -> str:
    """A config's table: a static const ROM read at run-time indices, bound as ``binding.table_storage``."""
    from l1tag.hls.binding import storage_pragma

    values = list(np.asarray(values, dtype=np.float64).ravel())
    rows = [", ".join(cpp_literal(v) for v in values[i:i + 8]) for i in range(0, len(values), 8)]
    body = ",\n            ".join(rows)
    return (f"    static {type_name} {name}(unsigned i) {{\n"
            f"        static const {type_name} rom[{len(values)}] = {{\n            {body}}};\n"
            f"        {storage_pragma('rom', storage, backend)}\n"
            f"        return rom[i];\n    }}\n")


def bits_literal(t: FixedType, value: float) -> str:
    """A C++ constant of fixed-point type ``t`` built from its bits (``l1tag::from_bits``, l1tag_common.h):
    no double-to-fixed conversion at run time in the C-simulation.  ``value`` must be exact in ``t``."""
    k = float(value) * 2.0**t.frac
    if k != int(k) or not t.min <= float(value) <= t.max:
        raise ConversionError(f"constant {value!r} is not a value of {t.cpp()}")
    return f"l1tag::from_bits<{t.cpp()}>({int(k)})"


def constant_function(name: str, t: FixedType, values) -> str:
    """A config's compile-time constants of type ``t``, one per index (a switch the unrolled loops fold)."""
    values = list(np.asarray(values, dtype=np.float64).ravel())
    cases = "".join(f"        case {i}: return {bits_literal(t, v)};\n" for i, v in enumerate(values))
    return (f"    static {t.cpp()} {name}(unsigned i) {{\n        switch (i) {{\n{cases}"
            f"        default: return {bits_literal(t, 0.0)};\n        }}\n    }}\n")


def backend_name(node) -> str:
    backend = getattr(node.model.config, "backend", None)
    return str(getattr(backend, "name", None) or node.model.config.get_config_value("Backend") or "Vitis")


def apply_defaults(node) -> None:
    """Set the declared defaults of a layer's expected attributes that are still unset (hls4ml applies them
    only after ``initialize``, which already needs them)."""
    for attr in type(node).__dict__.get("_expected_attributes", []):
        if attr.default is not None and node.get_attr(attr.name) is None:
            node.set_attr(attr.name, attr.default)


def particles(node) -> int:
    """n, the particles of the node's (n, d) input, its first (1 for a vector): the particle-group loops of
    l1tag's elementwise kernels (DynamicTanh, the products)."""
    shape = node.get_input_variable().shape
    return int(shape[0]) if len(shape) > 1 else 1


def particles_per_iteration(node) -> int:
    """P of the node: its ``parallelization_factor``, checked (``l1tag.config.particles_per_clock``)."""
    return particles_per_clock(particles(node), node.get_attr("parallelization_factor"),
                              f"layer '{node.name}': hls.parallelization_factor")
