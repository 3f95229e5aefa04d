"""FPGA part totals (the "Available" resources of Vivado/Vitis HLS) and utilization fractions.

One table, one row per device, each with its source. A part name matches a row whatever its package,
speed grade or temperature suffix, with or without the ``xc`` prefix and in any case:
``xcvu9p-flga2104-2L-e``, ``XCVU9P`` and ``vu9p`` all give the VU9P row; Vivado's own spelling of the
device (``7z020clg400-1``) works too.
"""

from __future__ import annotations

RESOURCES = ("LUT", "FF", "DSP", "BRAM_18K", "URAM")

# device key (lowercase, no "xc" prefix) -> (reference part, totals in RESOURCES order)
_PARTS: dict[str, tuple[str, tuple[int, int, int, int, int]]] = {
    #                                          LUT        FF         DSP     BRAM_18K  URAM
    # Source: ../shared/reference/l1t.md, part totals table (VU9P row).
    "vu9p": ("xcvu9p-flga2104-2L-e", (1_182_240, 2_364_480, 6_840, 4_320, 960)),
    # Source: l1t.md (U250 row); the same numbers are printed in the "Available" rows of
    # 6nrp-hls4ml/model_1 and ECE226_CoDesign/model_1 myproject_csynth.xml (Vitis HLS 2022.2 / 2024.1).
    "u250": ("xcu250-figd2104-2L-e", (1_728_000, 3_456_000, 12_288, 5_376, 1_280)),
    # Source: l1t.md says the U250 column, "believed equal, not confirmed from a tool report".
    # Since then confirmed: ML-fpga/model_1 Encoder_csynth.xml (Vivado HLS 2020.1, this part) prints
    # exactly these Available totals.
    "vu13p": ("xcvu13p-flga2577-2-e", (1_728_000, 3_456_000, 12_288, 5_376, 1_280)),
    # Source: hls4ml/test/pytest/test_report/Vivado/myproject_csynth.xml (Vivado HLS 2020.1), Available row;
    # also DNNonSilicon and Hls-and-bambu (pynq-z2) reports.
    "7z020": ("xc7z020-clg400-1", (53_200, 106_400, 220, 280, 0)),
    # Source: conv2d_test/myproject_prj/solution1/syn/report/myproject_csynth.xml (Vivado HLS 2019.2).
    "zu9eg": ("xczu9eg-ffvb1156-2-e", (274_080, 548_160, 2_520, 1_824, 0)),
    # Source: ML-fpga/model_2/hls4ml_prj/Encoder_prj/solution1/syn/report/Encoder_csynth.xml (2020.1).
    "ku15p": ("xcku15p-ffve1517-1-i", (522_720, 1_045_440, 1_968, 1_968, 128)),
    # Source: ML-fpga/model_3/hls4ml_prj/Encoder_prj/solution1/syn/report/Encoder_csynth.xml (2020.1,
    # part xc7a200tl-ffg1156-2L; the low-power "l" variant has the same totals as xc7a200t).
    "7a200t": ("xc7a200tl-ffg1156-2L", (134_600, 269_200, 740, 730, 0)),
    # Source: Hls-and-bambu/vivadohls/model_single_dense/hls4ml_prj/myproject_prj/solution1/syn/report/
    # myproject_csynth.xml (Vivado HLS 2019.2).
    "7vx690t": ("xc7vx690t-ffg1930-3", (433_200, 866_400, 3_600, 2_940, 0)),
    # Source: HG-DREAM-Pulse-Detection-Project/HLS_models/myproject_prj/solution1/syn/report/
    # myproject_csynth.xml (Vitis HLS 2023.1).
    "zu49dr": ("xczu49dr-ffvf1760-2-e", (425_280, 850_560, 4_272, 2_160, 80)),
}


def _device_key(part: str) -> str | None:
    """The table key whose device name starts ``part`` (longest match), or None."""
    name = part.strip().lower()
    if name.startswith("xc"):
        name = name[2:]
    best = None
    for key in _PARTS:
        # The device name must end where the key ends: "u25" must not match "u250".
        if name.startswith(key) and not name[len(key):len(key) + 1].isdigit():
            if best is None or len(key) > len(best):
                best = key
    return best


def part_totals(part: str) -> dict | None:
    """Resource totals of an FPGA part.

    Args:
        part: A Xilinx/AMD part name, in any case, with or without ``xc``, package and speed grade.

    Returns:
        ``{"LUT", "FF", "DSP", "BRAM_18K", "URAM"}`` ints (a fresh dict), or None for an unknown part.
    """
    if not part:
        return None
    key = _device_key(part)
    if key is None:
        return None
    return dict(zip(RESOURCES, _PARTS[key][1]))


def reference_part(part: str) -> str | None:
    """The full part name of the table row that ``part`` matches (e.g. ``vu9p`` -> ``xcvu9p-flga2104-2L-e``)."""
    key = _device_key(part) if part else None
    return _PARTS[key][0] if key else None


def fractions(resources: dict, totals: dict | None) -> dict:
    """``resources[k] / totals[k]`` for each resource; None where a number is missing or the total is 0."""
    out = {}
    for res in RESOURCES:
        used = resources.get(res)
        total = (totals or {}).get(res)
        out[res] = None if used is None or not total else used / total
    return out


def utilization(resources: dict, part: str) -> dict:
    """Fractions of ``part``'s totals used by ``resources``.

    Args:
        resources: Used resources, keys among ``RESOURCES`` (missing keys give None).
        part: The part name (matched as in :func:`part_totals`).

    Returns:
        ``{resource: fraction or None}``; every value is None for an unknown part. Fractions above 1
        mean the design does not fit.
    """
    return fractions(resources, part_totals(part))

