"""The hardware section of a build: the vendor report when the project was synthesized, else the estimate."""

from __future__ import annotations

from pathlib import Path

from l1tag.errors import DataError, StageMissingError


def hardware_section(hls_dir: Path) -> dict:
    """Parsed Vivado/Vitis HLS numbers if ``hls_dir`` holds a synthesis report, else the labelled estimate."""
    from l1tag.hardware.project import estimate_project
    from l1tag.hardware.vendor import parse_project

    hls_dir = Path(hls_dir)
    if not hls_dir.is_dir():
        raise StageMissingError(f"{hls_dir} not found: run `l1tag convert` (or `l1tag csim`) first")
    try:
        return parse_project(hls_dir)
    except DataError:
        return estimate_project(hls_dir)
