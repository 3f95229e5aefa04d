"""What differs between Vivado HLS 2019-2020 and Vitis HLS 2022+ (the "Per tool" part of the model in
``l1tag/hardware/estimate/__init__.py``), as data: ``tools/<tool>.yaml``, one file per tool, each field with
its value and its source.  This module reads them into frozen ``ToolRules`` and picks a project's."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from l1tag.config import VITIS_HLS, VIVADO_HLS
from l1tag.errors import L1tagError

TOOLS_DIR = Path(__file__).resolve().parent / "tools"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ToolRules:
    """One tool's rules; each field's meaning and source are in ``tools/<tool>.yaml``."""

    tool: str
    clock_uncertainty: float  # fraction of the clock period when the project sets no ClockUncertainty
    stream_conv_ii: int  # cycles per input pixel of an io_stream Latency conv at R = 1
    fifo_per_element: bool  # one FIFO per element of an nnet::array stream (else one packed FIFO)
    fifo_srl_max_bits: int  # the largest FIFO (depth x width bits) built as a shift register
    rom_parity_bits: bool  # ROMs use the RAMB18's parity bits (18 x 1K, else 16 x 1K)
    softmax_parallel_lookups: bool  # softmax's exp reads unrolled onto a multi-port ROM
    registered_products: bool  # constant products bound with their output register
    dsp_min_data_bits: int  # the narrowest data a constant product of >= 3 CSD digits takes a DSP for
    rom_read_cycles: int  # a ROM read at a run-time index
    dataflow_handshake: int  # cycles between one DATAFLOW process's ap_done and the next one's ap_start
    sat_lut_per_bit: float | None  # LUTs per product instance per accumulator bit, AP_RND*/AP_SAT acc (measured)
    resource_pixel_overhead: int  # cycles per input pixel of a Resource io_stream conv beyond its R (measured)
    zeropad_lut: int  # LUTs of an io_stream zero-padding process (measured)
    parallel_allocation: bool  # a Latency Dense's ALLOCATION mul limit is honoured in io_parallel at R > 1


# the YAML types each field accepts (bool is not an int here, an int is a float)
_FIELD_TYPES = {"str": (str,), "float": (float, int), "int": (int,), "bool": (bool,), "float | None": (float, int)}


def _bad_rules(file: Path, problem: str) -> L1tagError:
    return L1tagError(f"{file}: {problem} (the tool rules ship with l1tag; this is a bug in them)")


def _field_value(file: Path, field: dataclasses.Field, entry: object):
    if not isinstance(entry, dict) or sorted(entry) != ["source", "value"]:
        raise _bad_rules(file, f"{field.name}: expected {{value, source}}, got {entry!r}")
    if not str(entry["source"] or "").strip():
        raise _bad_rules(file, f"{field.name}: its source is empty")
    value, kinds = entry["value"], _FIELD_TYPES[field.type]
    if value is None and field.type.endswith("| None"):
        return None
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise _bad_rules(file, f"{field.name}: {value!r} is not a {field.type}")
    return float(value) if float in kinds else value


def load_rules(file: Path) -> ToolRules:
    """One ``tools/<tool>.yaml``: every field of ToolRules present, with a value and a source, and no other."""
    data = yaml.safe_load(file.read_text())
    fields = {f.name: f for f in dataclasses.fields(ToolRules)}
    if not isinstance(data, dict) or sorted(data) != sorted(fields):
        missing, extra = sorted(set(fields) - set(data or {})), sorted(set(data or {}) - set(fields))
        raise _bad_rules(file, f"expected every ToolRules field once; missing {missing}, unknown {extra}")
    rules = ToolRules(**{name: _field_value(file, f, data[name]) for name, f in fields.items()})
    if rules.tool != file.stem:
        raise _bad_rules(file, f"tool {rules.tool!r} in the file of {file.stem!r}")
    return rules


TOOL_RULES = {tool: load_rules(TOOLS_DIR / f"{tool}.yaml") for tool in (VIVADO_HLS, VITIS_HLS)}


def tool_of(hls_model) -> str:
    """'vitis_hls' for hls4ml's Vitis backend, 'vivado_hls' for Vivado / VivadoAccelerator."""
    backend = getattr(hls_model.config, "backend", None)
    name = str(getattr(backend, "name", None) or hls_model.config.get_config_value("Backend") or "Vitis")
    return VITIS_HLS if "vitis" in name.lower() else VIVADO_HLS
