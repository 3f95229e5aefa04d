"""The hardware section of a build: the vendor report when the project was synthesized, else the estimate."""

from __future__ import annotations

from pathlib import Path

from l1tag.errors import StageMissingError


def hardware_section(hls_dir, hls_model=None, top: str | None = None) -> dict:
    """Parsed Vivado/Vitis HLS numbers if ``hls_dir`` holds a synthesis report, else the labelled estimate.

    Args:
        hls_dir: The hls4ml project directory of the build.
        hls_model: The build's converted hls4ml ModelGraph, if it is in memory: the estimate then uses it
            instead of rebuilding the model from the files on disk.
        top: The HLS top function (see :func:`~l1tag.hardware.vendor.parse_project`).

    Raises:
        StageMissingError: ``hls_dir`` does not exist (nothing converted yet).
        DataError: a synthesis report is there but cannot be read; the estimate would hide it.
    """
    from l1tag.hardware.vendor import NotSynthesized, parse_project

    hls_dir = Path(hls_dir)
    if not hls_dir.is_dir():
        raise StageMissingError(f"{hls_dir} not found: run `l1tag convert` (or `l1tag csim`) first")
    try:
        return parse_project(hls_dir, top=top)
    except NotSynthesized:
        pass
    if hls_model is not None:
        from l1tag.hardware.estimate import estimate_model

        return estimate_model(hls_model)
    from l1tag.hardware.project import estimate_project

    return estimate_project(hls_dir, top=top)
