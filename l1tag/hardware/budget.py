"""L1T budget check: report.json's ``hardware`` section against a budget file (docs/design.md "Budgets").

:func:`check_budget` builds the contract's ``budget`` section; :func:`enforce` turns a failed section
into :class:`~l1tag.errors.BudgetViolation` (exit 3) after all outputs have been written.
"""

from __future__ import annotations

import math
from typing import Any

from l1tag.config import Budget
from l1tag.errors import BudgetViolation
from l1tag.hardware.error_band import band_of, band_short, upper_end
from l1tag.devices import RESOURCES, device_key, normalise_part, utilization

CLOCK_TOLERANCE_NS = 1e-9


def part_family(part: str | None) -> str:
    """The device a part name names, by the parts table's normaliser: ``'xcvu9p-flga2104-2L-e'`` -> ``'vu9p'``.

    Two spellings of one device (package, speed grade, case, ``xc`` prefix) give the same answer; a part
    missing from the table gives its normalised name.
    """
    return device_key(part) or normalise_part(part)


def _margin(limit: float, value: float) -> float | None:
    """(limit - value) / limit; None where that is undefined (zero limit, non-zero value)."""
    if limit:
        return (limit - value) / limit
    return 0.0 if value == 0 else None


def _check(name: str, limit: Any, value: Any, ok: bool, margin: float | None, source: str | None,
           note: str | None = None) -> dict:
    check = {"name": name, "limit": limit, "value": value, "pass": bool(ok), "margin": margin, "source": source}
    if note:
        check["note"] = note
    return check


def _upper_limit(name: str, limit: float, value: Any, source: str | None, missing: str,
                 tolerance: float = 0.0, bands: dict | None = None, count: float | None = None) -> dict:
    """A ``value <= limit`` check; a missing value fails with ``missing`` as its note.  With ``bands`` (the
    estimate's error bands, budget.require_margin: error_band) the value must fit at its 80 % band's high end
    (l1tag/hardware/error_band.py); a quantity measured without a band (too few designs) cannot."""
    if value is None:
        return _check(name, limit, None, False, None, source, missing)
    padded = upper_end(name, value, bands, count) if bands else None
    if padded is not None:
        check = _check(name, limit, value, padded <= limit + tolerance,
                       _margin(limit, padded) if padded != float("inf") else None, source,
                       f"at the high end of its 80 % band ({band_short(name, bands)}): {_fmt(padded)} "
                       f"(budget.require_margin: error_band)")
        check["value_with_margin"] = padded
        return check
    return _check(name, limit, value, value <= limit + tolerance, _margin(limit, value), source)


def check_budget(hardware: dict, budget: Budget, require_margin: str | None = None) -> dict:
    """The contract's ``budget`` section: every limit set in ``budget`` checked against ``hardware``.

    Checks, in order: ``part`` (same device family), ``clock_ns`` (period no longer than the
    budget's), ``latency_ns``, ``ii_cycles`` and ``utilization_<RES>``; limits left unset (null) in
    the budget file are skipped.  When the budget file gives the part's ``totals``, the utilization is
    recomputed from ``hardware["resources"]`` and those totals (the limits are fractions of them);
    otherwise ``hardware["utilization"]`` is used.  A utilization of None (part total unknown) fails with
    a ``note``.  ``require_margin='error_band'``: an estimated latency, II or utilization must fit with its
    measured 80 % band's high end (l1tag/hardware/error_band.py).
    """
    source = hardware.get("source")
    bands = hardware.get("error_band") if require_margin == "error_band" and source == "estimate" else None

    part = hardware.get("part")
    checks = []
    rate = throughput(hardware, budget)
    copies = rate["instances"] if rate else 1

    same = bool(part) and part_family(part) == part_family(budget.part)
    note = None if same else (
        "hardware report names no part" if not part else
        f"design targets {part} (device {part_family(part)}), the budget is for {budget.part} "
        f"(device {part_family(budget.part)})")
    checks.append(_check("part", budget.part, part, same, None, source, note))

    checks.append(_upper_limit("clock_ns", budget.clock_ns, hardware.get("clock_ns"), source,
                               "hardware report has no clock period", CLOCK_TOLERANCE_NS))

    limits = budget.limits
    if limits.latency_ns is not None:
        latency = rate["latency_ns"] if rate else hardware.get("latency_ns")
        check = _upper_limit("latency_ns", limits.latency_ns, latency, source, "hardware report has no latency",
                             bands=bands, count=hardware.get("latency_cycles"))
        if rate and rate["rounds"] > 1:
            check["note"] = (f"the last of {budget.events.jets_per_event} jets: {rate['rounds'] - 1} intervals after "
                             f"the first on each of {rate['instances']} instance(s)"
                             + (f"; {check['note']}" if check.get("note") else ""))
        checks.append(check)
    if limits.ii_cycles is not None:
        checks.append(_upper_limit("ii_cycles", limits.ii_cycles, hardware.get("ii_cycles"), source,
                                   "hardware report has no initiation interval", bands=bands))

    if budget.totals is not None:
        used = utilization(hardware.get("resources") or {}, part, totals=budget.totals.as_dict())
    else:
        used = hardware.get("utilization") or {}
    if copies > 1:  # every instance's resources count against the limits
        used = {k: (v * copies if v is not None else None) for k, v in used.items()}
    for res in RESOURCES:
        limit = getattr(limits.utilization, res)
        if limit is None:
            continue
        check = _upper_limit(
            f"utilization_{res}", limit, used.get(res), source,
            f"{res} total of part {part or '?'} is unknown, so its utilization cannot be checked",
            bands=bands, count=(hardware.get("resources") or {}).get(res))
        if copies > 1 and check.get("value") is not None:
            check["note"] = f"{copies} instances" + (f"; {check['note']}" if check.get("note") else "")
        checks.append(check)

    shown = hardware.get("error_band") if source == "estimate" else None
    for c in checks:  # the estimate's own band beside each value it gave (report.md)
        if shown and band_of(c["name"], shown):
            c["band"] = band_short(c["name"], shown)
    section = {"name": budget.name, "pass": all(c["pass"] for c in checks), "checks": checks}
    if rate:
        section["throughput"] = rate
    return section


def throughput(hardware: dict, budget: Budget) -> dict | None:
    """The instances a budget with ``events`` needs: one jet every II x clock per instance, so
    ceil(jets x II x clock / period) instances tag an event's jets within its period; the last jet leaves
    (ceil(jets / instances) - 1) intervals after the first.  None without ``events`` or without II and clock."""
    events, ii, clock = budget.events, hardware.get("ii_cycles"), hardware.get("clock_ns")
    if events is None or not ii or not clock:
        return None
    jet_ns = ii * clock
    instances = max(1, math.ceil(events.jets_per_event * jet_ns / events.period_ns - 1e-9))
    rounds = math.ceil(events.jets_per_event / instances)
    latency = hardware.get("latency_ns")
    return {"jets_per_event": events.jets_per_event, "period_ns": events.period_ns, "jet_interval_ns": jet_ns,
            "instances": instances, "rounds": rounds,
            "latency_ns": None if latency is None else latency + (rounds - 1) * jet_ns}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return str(round(value, 4))
    return str(value)


def _describe(check: dict) -> str:
    """One failed check as ``name value > limit`` (or its note when there is no value to compare)."""
    name, value, limit = check["name"], check.get("value"), check.get("limit")
    if name == "part":
        return f"part {value} is not {limit}"
    if value is None:
        return f"{name} unknown ({check.get('note', 'no value')})"
    if "value_with_margin" in check:
        return f"{name} {_fmt(value)} at its error band's high end = {_fmt(check['value_with_margin'])} > {_fmt(limit)}"
    return f"{name} {_fmt(value)} > {_fmt(limit)}"


def enforce(section: dict) -> None:
    """Raise :class:`BudgetViolation` naming every failed check if the budget section did not pass."""
    failed = [c for c in section.get("checks", []) if not c.get("pass")]
    if section.get("pass", not failed) and not failed:
        return
    detail = "; ".join(_describe(c) for c in failed) or "section marked as failing"
    raise BudgetViolation(f"budget {section.get('name', '?')} broken: {detail}")
