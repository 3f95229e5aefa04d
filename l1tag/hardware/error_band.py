"""The estimate's measured error, carried next to every number it prints.

``error_band.json`` (beside this file) is written by ``bench/estimator_accuracy.py``: for each quantity,
the median and 80th-percentile absolute error of the estimate against real Vivado/Vitis HLS syntheses,
leave-one-out (each report estimated with constants measured on the other reports only), and how
many designs that is.  The median is the band shown ("typically within ±x %"); the 80th percentile is
in report.md beside it.  ``budget.require_margin: error_band`` asks every estimated budget quantity to
fit with its band added.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

BAND_FILE = Path(__file__).with_name("error_band.json")
# a budget check or a hardware key -> the quantity whose band applies
QUANTITY = {"latency_ns": "latency_cycles", "latency_cycles": "latency_cycles", "ii_cycles": "ii_cycles",
            **{f"utilization_{r}": r for r in ("LUT", "FF", "DSP", "BRAM_18K", "URAM")}}


@cache
def error_band() -> dict:
    """quantity -> {'median_abs_pct', 'p80_abs_pct', 'n'} (empty when the file is missing)."""
    if not BAND_FILE.is_file():
        return {}
    return json.loads(BAND_FILE.read_text())["quantities"]


def band_of(quantity: str, bands: dict | None = None) -> dict | None:
    """The band of a hardware quantity, a resource or a budget check name (None where none was measured)."""
    bands = error_band() if bands is None else bands
    return bands.get(QUANTITY.get(quantity, quantity))


def band_words(quantity: str, bands: dict | None = None) -> str:
    """'ESTIMATE, typically within ±9 %, n = 9 real designs' (or just 'ESTIMATE' without a band)."""
    band = band_of(quantity, bands)
    if not band:
        return "ESTIMATE"
    return f"ESTIMATE, typically within ±{band['median_abs_pct']:.0f} %, n = {band['n']} real designs"


def hardware_words(hardware: dict) -> str:
    """One line of a hardware section for the terminal, each estimated number with its typical error."""
    estimate = hardware.get("source") == "estimate"
    bands = hardware.get("error_band") if estimate else None

    def pm(q):
        band = band_of(q, bands) if bands else None
        return f" (±{band['median_abs_pct']:.0f} %)" if band else ""

    res = hardware.get("resources", {})
    n = max((b["n"] for b in (bands or {}).values()), default=0)
    label = ("ESTIMATE" + (f"; ± = its typical error on {n} real designs" if n else "")) if estimate else \
        hardware.get("source", "?")
    return (f"({label}) latency {hardware.get('latency_cycles', '?')} cycles = {hardware.get('latency_ns', 0):.0f} ns"
            f"{pm('latency_cycles')}, II {hardware.get('ii_cycles', '?')}{pm('ii_cycles')}, "
            + ", ".join(f"{r} {res[r]}{pm(r)}" for r in ("LUT", "DSP", "FF", "BRAM_18K") if r in res))
