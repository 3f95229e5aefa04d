"""FPGA parts as data: totals (the "Available" resources of Vivado/Vitis HLS) and device properties.

A foundation (docs/design.md "Imports"): the config checks ``hls.part`` against it at load, and the
hardware, report, build and search stages read it; it imports nothing of the flow.

The table lives in ``l1tag/hardware/parts/<family>.yaml`` (shipped as the package data of
``l1tag.hardware``, pyproject.toml), one file per device family (as conifer keeps one file per board),
one row per device with its source in a comment: the device key, a reference part, the totals and the
DSP slice with its multiplier port widths.  It is read once, on first use.

A part name matches a row whatever its package, speed grade or temperature suffix, with or without the
``xc`` prefix and in any case: ``xcvu9p-flga2104-2L-e``, ``XCVU9P`` and ``vu9p`` all give the VU9P row;
Vivado's own spelling of the device (``7z020clg400-1``) works too.  :func:`normalise_part` is the one
normaliser of part names; budgets compare parts with it too.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

from l1tag.errors import L1tagError

RESOURCES = ("LUT", "FF", "DSP", "BRAM_18K", "URAM")
PARTS_DIR = Path(__file__).resolve().parent / "hardware" / "parts"
_ROW_KEYS = ("key", "reference_part", "totals", "dsp")
_DSP_KEYS = ("slice", "a_bits", "b_bits")


@dataclass(frozen=True)
class Device:
    """One row of the parts table: a device, whatever its package and speed grade.

    Attributes:
        key: the normalised device name (``vu9p``), see :func:`normalise_part`.
        family: the table file it comes from (``virtex_ultrascale_plus``).
        reference_part: a full part name of the device (``xcvu9p-flga2104-2L-e``).
        totals: ``{"LUT", "FF", "DSP", "BRAM_18K", "URAM"}`` ints.
        dsp: the DSP slice (``DSP48E2`` on UltraScale/UltraScale+, ``DSP48E1`` on 7-series).
        dsp_a_bits, dsp_b_bits: the widths of the slice's multiplier ports (27 x 18, 25 x 18).
    """

    key: str
    family: str
    reference_part: str
    totals: dict = dataclasses.field(hash=False)
    dsp: str
    dsp_a_bits: int
    dsp_b_bits: int


def _bad_table(file: Path, where: str, problem: str) -> L1tagError:
    return L1tagError(f"{file}: {where}: {problem} (the parts table ships with l1tag; this is a bug in it)")


def _row(file: Path, family: str, i: int, row: object) -> Device:
    where = f"parts[{i}]"
    if not isinstance(row, dict) or sorted(row) != sorted(_ROW_KEYS):
        raise _bad_table(file, where, f"expected the keys {', '.join(_ROW_KEYS)}, got {row!r}")
    where = f"parts[{i}] ({row['key']})"
    totals, dsp = row["totals"], row["dsp"]
    if not isinstance(totals, dict) or sorted(totals) != sorted(RESOURCES) or not all(
            isinstance(v, int) and v >= 0 for v in totals.values()):
        raise _bad_table(file, where, f"totals: expected non-negative ints for {', '.join(RESOURCES)}")
    if not isinstance(dsp, dict) or sorted(dsp) != sorted(_DSP_KEYS) or not all(
            isinstance(dsp[k], int) and dsp[k] > 0 for k in ("a_bits", "b_bits")):
        raise _bad_table(file, where, "dsp: expected {slice, a_bits, b_bits} with positive port widths")
    key, ref = str(row["key"]), normalise_part(row["reference_part"])
    if normalise_part(key) != key or not _starts_device(ref, key):
        # the row's own reference part must match it, so key and part name cannot drift apart
        raise _bad_table(file, where, f"key must be the device name that {row['reference_part']!r} starts with")
    return Device(key=key, family=family, reference_part=str(row["reference_part"]),
                  totals={r: totals[r] for r in RESOURCES}, dsp=str(dsp["slice"]),
                  dsp_a_bits=dsp["a_bits"], dsp_b_bits=dsp["b_bits"])


@functools.cache
def _table() -> dict[str, Device]:
    """Every row of ``parts/*.yaml`` by device key (read once)."""
    table: dict[str, Device] = {}
    for file in sorted(PARTS_DIR.glob("*.yaml")):
        raw = yaml.safe_load(file.read_text())
        if not isinstance(raw, dict) or raw.get("family") != file.stem or not isinstance(raw.get("parts"), list):
            raise _bad_table(file, "top level", f"expected 'family: {file.stem}' and a list 'parts'")
        for i, row in enumerate(raw["parts"]):
            dev = _row(file, file.stem, i, row)
            if dev.key in table:
                raise _bad_table(file, f"parts[{i}]", f"device '{dev.key}' is also in {table[dev.key].family}.yaml")
            table[dev.key] = dev
    if not table:
        raise L1tagError(f"no FPGA parts found in {PARTS_DIR} (is l1tag installed with its package data?)")
    return table


def normalise_part(part: str | None) -> str:
    """A part name as the table keys spell devices: ``'XCVU9P-flga2104-2L-e'`` -> ``'vu9p'``.

    Lower case, no ``xc`` prefix, no ``-package-speed-temperature`` suffix.  A package written without a
    hyphen (Vivado's ``7z020clg400``) stays; :func:`device_key` copes with it.
    """
    name = str(part or "").strip().lower()
    return name.removeprefix("xc").split("-")[0]


def _starts_device(name: str, key: str) -> bool:
    """``name`` is device ``key`` plus perhaps a non-digit suffix (``7a200tl``, ``7z020clg400``)."""
    return name.startswith(key) and not name[len(key):len(key) + 1].isdigit()


def device_key(part: str | None) -> str | None:
    """The key of the table row whose device name starts ``part`` (longest match), or None.

    The device name must end where the key ends, at a non-digit: ``u25`` must not match ``u250``, while
    ``7a200tl`` (the low-power variant) and ``7z020clg400`` match ``7a200t`` and ``7z020``.
    """
    name = normalise_part(part)
    best = None
    for key in _table():
        if _starts_device(name, key) and (best is None or len(key) > len(best)):
            best = key
    return best


def devices() -> list[Device]:
    """Every known device, by family then key."""
    return sorted(_table().values(), key=lambda d: (d.family, d.key))


def device(part: str | None) -> Device | None:
    """The table row of ``part`` (a fresh copy), or None for an unknown part."""
    key = device_key(part) if part else None
    if key is None:
        return None
    dev = _table()[key]
    return dataclasses.replace(dev, totals=dict(dev.totals))


def closest_parts(part: str | None, n: int = 3) -> list[str]:
    """Reference part names of the ``n`` devices whose keys look most like ``part`` (for error messages)."""
    table = _table()
    keys = difflib.get_close_matches(normalise_part(part), list(table), n=n, cutoff=0.0)
    return [table[k].reference_part for k in keys]


def part_totals(part: str | None) -> dict | None:
    """Resource totals of an FPGA part.

    Args:
        part: A Xilinx/AMD part name, in any case, with or without ``xc``, package and speed grade.

    Returns:
        ``{"LUT", "FF", "DSP", "BRAM_18K", "URAM"}`` ints (a fresh dict), or None for an unknown part.
    """
    dev = device(part)
    return dev.totals if dev else None


def reference_part(part: str | None) -> str | None:
    """The full part name of the table row that ``part`` matches (e.g. ``vu9p`` -> ``xcvu9p-flga2104-2L-e``)."""
    dev = device(part)
    return dev.reference_part if dev else None


def fractions(resources: dict, totals: dict | None) -> dict:
    """``resources[k] / totals[k]`` for each resource; None where a number is missing or the total is 0."""
    out = {}
    for res in RESOURCES:
        used = resources.get(res)
        total = (totals or {}).get(res)
        out[res] = None if used is None or not total else used / total
    return out


def utilization(resources: dict, part: str | None, totals: dict | None = None) -> dict:
    """Fractions of ``part``'s totals used by ``resources``.

    Args:
        resources: Used resources, keys among ``RESOURCES`` (missing keys give None).
        part: The part name (matched as in :func:`part_totals`).
        totals: Explicit totals (a budget file's ``totals:``); when given they are used instead of the
            table's, so a part missing from the table can still be checked.

    Returns:
        ``{resource: fraction or None}``; every value is None for an unknown part without ``totals``.
        Fractions above 1 mean the design does not fit.
    """
    return fractions(resources, totals if totals is not None else part_totals(part))
