"""The estimate's measured error, carried next to every number it prints.

``error_band.json`` (beside this file) is written by ``bench/estimator_accuracy.py`` from real Vivado/Vitis
HLS syntheses of hls4ml designs from many public repositories, **leave-one-repository-out**: each design is
estimated with constants measured on the other repositories' designs only, and the band a design would be
shown is made of the other repositories' errors only.  For each quantity (and, where a tool has enough
designs, for each tool):

* ``low_pct`` / ``high_pct``: the 80 % band of the real value around the estimate, as
  ``(real + 1) / (estimate + 1) - 1`` in percent (the + 1 keeps a count that is 0 in the estimate, a DSP or a
  BRAM, comparable; it is nothing at the scale of LUTs): a distribution-free prediction interval (the k-th
  smallest and k-th largest of the n measured ratios, k = floor(0.1 (n + 1)), which holds a new design with
  probability (n + 1 - 2k) / (n + 1) >= 80 % when designs are independent), widened by
  ``calibrated_interval`` for designs of a new repository (``widening``).  None where n is too small for one
  (fewer than 9 designs): then no band is printed, only the words that say so.
* ``median_abs_pct`` / ``p80_abs_pct``: the median and 80th percentile of |estimate - real| / real.
* ``coverage``: the fraction of designs whose real value fell inside the band built without their repository.
  Below ``MIN_COVERAGE`` (and where the median error is above ``ROUGH_PCT``) the words beside the number say so.
* ``n``, ``repositories``: the designs and repositories behind it; ``scope``: a tool's name or 'all tools'.

``budget.require_margin: error_band`` asks every estimated budget quantity to fit at the band's high end.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

BAND_FILE = Path(__file__).with_name("error_band.json")
# a budget check or a hardware key -> the quantity whose band applies
QUANTITY = {"latency_ns": "latency_cycles", "latency_cycles": "latency_cycles", "ii_cycles": "ii_cycles",
            **{f"utilization_{r}": r for r in ("LUT", "FF", "DSP", "BRAM_18K", "URAM")}}
ROUGH_PCT = 25.0  # a median error above this on unseen designs is said in words next to the number
MIN_COVERAGE = 0.75  # a band that held for fewer unseen designs says so in words next to the number


@cache
def _file() -> dict:
    if not BAND_FILE.is_file():
        return {}
    return json.loads(BAND_FILE.read_text())


def error_band(tool: str | None = None) -> dict:
    """quantity -> band (see the module doc): ``tool``'s own where it has one, else the pooled one.
    Empty when the file is missing."""
    data = _file()
    pooled = dict(data.get("quantities", {}))
    own = data.get("tools", {}).get(tool, {}) if tool else {}
    return {q: own.get(q) or band for q, band in pooled.items()}


def band_of(quantity: str, bands: dict | None = None) -> dict | None:
    """The band of a hardware quantity, a resource or a budget check name (None where none was measured)."""
    bands = error_band() if bands is None else bands
    return bands.get(QUANTITY.get(quantity, quantity))


def _has_range(band: dict | None) -> bool:
    return bool(band) and band.get("low_pct") is not None and band.get("high_pct") is not None


def band_range(quantity: str, value: float, bands: dict | None = None) -> tuple[float, float] | None:
    """The 80 % band of the real value for an estimated ``value`` (None where there is none)."""
    band = band_of(quantity, bands)
    if not _has_range(band) or value is None:
        return None
    return tuple(max(0.0, (value + 1) * (1 + band[end] / 100) - 1) for end in ("low_pct", "high_pct"))


def ratio(estimate: float, real: float) -> float:
    """(real + 1) / (estimate + 1) - 1: where the real value lies relative to the estimate (see the module doc)."""
    return (real + 1) / (estimate + 1) - 1


def _pct(x: float) -> str:
    return f"{x:+.0f} %"


def _range_text(band: dict) -> str:
    return f"{_pct(band['low_pct'])}…{_pct(band['high_pct'])}" if _has_range(band) else "no band"


def _rough(band: dict) -> bool:
    return band.get("median_abs_pct", 0) > ROUGH_PCT


def _held_poorly(band: dict) -> bool:
    return band.get("coverage") is not None and band["coverage"] < MIN_COVERAGE


def band_short(quantity: str, bands: dict | None = None) -> str:
    """'-21 %…+48 %' (the 80 % band relative to the estimate), 'no band' where there is none; with
    ', rough' where the median error on unseen designs is above ``ROUGH_PCT`` or the band held for fewer
    than ``MIN_COVERAGE`` of them."""
    band = band_of(quantity, bands)
    if not band:
        return "no band"
    return _range_text(band) + (", rough" if _rough(band) or _held_poorly(band) else "")


def band_words(quantity: str, bands: dict | None = None) -> str:
    """'ESTIMATE; 80 % band -21 %…+48 %, median error 9 % on 31 unseen designs of 12 repositories' (plus, in
    words, 'rough: ...' when that median is large and how often the band held when that is rare), or just
    'ESTIMATE' without a band."""
    band = band_of(quantity, bands)
    if not band:
        return "ESTIMATE"
    where = f"{band['n']} unseen designs of {band.get('repositories', '?')} repositories"
    if not _has_range(band):
        head = f"ESTIMATE; no 80 % band (too few designs), {where}"
    else:
        head = f"ESTIMATE; 80 % band {_range_text(band)}, median error {band['median_abs_pct']:.0f} % on {where}"
    if _rough(band):
        head += f"; rough: typically {band['median_abs_pct']:.0f} % off"
    if _held_poorly(band):
        head += f"; the band held for only {100 * band['coverage']:.0f} % of unseen designs"
    return head


def upper_end(quantity: str, value: float, bands: dict | None = None, count: float | None = None) -> float | None:
    """The band's high end for ``value`` (a budget's ``require_margin: error_band``); inf without a band; None
    where the quantity was never measured.  ``count``: the number the band was measured on when ``value`` is
    derived from it (a utilization from its resource count, a latency in ns from its cycles): the value then
    scales as the count does."""
    if not band_of(quantity, bands):
        return None
    count = value if count is None else count
    r = band_range(quantity, count, bands)
    if r is None:
        return math.inf
    return value * max(r) / count if count else value


def hardware_words(hardware: dict) -> str:
    """One line of a hardware section for the terminal, each estimated number with its 80 % band."""
    estimate = hardware.get("source") == "estimate"
    bands = hardware.get("error_band") if estimate else None

    def pm(q):
        return f" ({band_short(q, bands)})" if bands and band_of(q, bands) else ""

    res = hardware.get("resources", {})
    n = max((b["n"] for b in (bands or {}).values() if b), default=0)
    label = ("ESTIMATE" + (f"; (…) = 80 % band of the real value, leave-one-repository-out on {n} real designs"
                           if n else "")) if estimate else hardware.get("source", "?")
    return (f"({label}) latency {hardware.get('latency_cycles', '?')} cycles = {hardware.get('latency_ns', 0):.0f} ns"
            f"{pm('latency_cycles')}, II {hardware.get('ii_cycles', '?')}{pm('ii_cycles')}, "
            + ", ".join(f"{r} {res[r]}{pm(r)}" for r in ("LUT", "DSP", "FF", "BRAM_18K") if r in res))


MIN_DESIGNS = 9  # the fewest designs that give an 80 % prediction interval (k = floor(0.1 (n + 1)) >= 1)
MIN_TOOL_REPOSITORIES = 10  # a tool gets its own band from this many repositories (else the pooled one)


def prediction_interval(ratios, coverage: float = 0.8) -> tuple[float, float] | None:
    """The distribution-free prediction interval of a new value from ``ratios`` (n exchangeable values): the
    k-th smallest and k-th largest, k = floor((1 - coverage) / 2 (n + 1)), which holds a new value with
    probability (n + 1 - 2k) / (n + 1) >= ``coverage``.  None below ``MIN_DESIGNS`` values (k = 0: no finite
    interval) or when an end is infinite."""
    values = sorted(float(v) for v in ratios)
    k = math.floor((1 - coverage) / 2 * (len(values) + 1) + 1e-9)
    if k < 1:
        return None
    low, high = values[k - 1], values[len(values) - k]
    return (low, high) if math.isfinite(low) and math.isfinite(high) else None


WIDENINGS = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0)  # wider than 3x in log space says nothing: the coverage says so


def _widened(values: list[float], s: float) -> tuple[float, float] | None:
    base = prediction_interval(values)
    if base is None:
        return None
    centre = float(sorted(math.log1p(v) for v in values)[len(values) // 2])
    lo, hi = math.log1p(base[0]), math.log1p(base[1])
    return math.expm1(centre + s * (lo - centre)), math.expm1(centre + s * (hi - centre))


def calibrated_interval(ratios: dict, group: dict, coverage: float = 0.8) -> tuple[float, float, float] | None:
    """An 80 % band of ratios (``ratio``) that holds for a design of a *new repository*: designs of one
    repository share their errors, so the plain ``prediction_interval`` of all designs is too narrow for the
    next repository.  It is widened about the median in log space by the smallest factor s of
    ``WIDENINGS`` for which, leaving each repository (``group``: name -> repository) out in turn, the band
    of the others holds >= ``coverage`` of the left-out designs (where none does, the one that held most
    often: the measured coverage then says how often).  Returns (low, high, s); None below ``MIN_DESIGNS`` designs."""
    names = list(ratios)
    if len(names) < MIN_DESIGNS:
        return None
    groups = sorted(set(group[n] for n in names))
    held = {}
    for s in WIDENINGS:
        hits = total = 0
        for g in groups:
            band = _widened([ratios[n] for n in names if group[n] != g], s)
            for n in (n for n in names if group[n] == g):
                total += 1
                hits += band is not None and band[0] <= ratios[n] <= band[1]
        held[s] = hits / total if total else 0.0
        if held[s] >= coverage:
            break
    else:  # no widening reaches it: the one that held most often (the narrowest of those)
        s = max(WIDENINGS, key=lambda w: (held[w], -w))
    band = _widened([ratios[n] for n in names], s)
    return None if band is None else (band[0], band[1], s)
