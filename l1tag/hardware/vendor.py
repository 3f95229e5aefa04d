"""Read Vivado HLS / Vitis HLS synthesis reports of an hls4ml project (docs/design.md, "Hardware numbers").

:func:`parse_project` finds the C-synthesis report of a project directory written by hls4ml (ours or
anyone's), prefers the csynth XML and falls back to the ``.rpt`` text, and returns report.json's
``hardware`` section with ``source`` set to the tool. Both report generations are understood:
Vivado HLS 2019.x-2020.1 (``<DSP48E>``) and Vitis HLS 2020.2+ (``<DSP>``, extra "Available SLR" rows).
:func:`parse_vivado_synth` reads the post-synthesis utilization table that hls4ml's ``vivado_synth.tcl``
(or ``report_utilization``) writes; when that side report cannot be read, the csynth numbers still stand
and the problem is listed under ``warnings``.

hls4ml's own ``parse_vivado_report`` is not used: it needs ``project.tcl`` and ``vivado_hls.app``,
which copied or archived projects often lack.
"""

from __future__ import annotations

import logging
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from l1tag.errors import DataError
from l1tag.devices import RESOURCES

log = logging.getLogger("l1tag")

VIVADO_HLS = "vivado_hls"
VITIS_HLS = "vitis_hls"

# XML resource tags -> our names (Vivado HLS says DSP48E, Vitis HLS says DSP).
_XML_RESOURCE = {"LUT": "LUT", "FF": "FF", "DSP": "DSP", "DSP48E": "DSP", "DSP48": "DSP",
                 "BRAM_18K": "BRAM_18K", "URAM": "URAM"}
_RPT_HEADER = re.compile(r"==\s*(Vivado|Vitis) HLS Report for '([^']+)'")
_UNKNOWN = ("?", "undef", "-", "")
_TIME_UNIT = {"ns": 1.0, "us": 1e3, "ms": 1e6}
# Files that may hold Vivado's post-synthesis utilization, best first (see _find_vivado_synth).
_SYNTH_NAMES = ("vivado_synth.rpt", "post_synth_util.rpt")


class NotSynthesized(DataError):
    """The project holds no C-synthesis report at all: not synthesized yet, so a build uses the estimate.

    A report that is there but cannot be read is a plain :class:`DataError` instead, never hidden.
    """


# --------------------------------------------------------------------------------------------------
# Project directory -> report files


def parse_project(project_dir, top: str | None = None) -> dict:
    """The vendor-report numbers of an hls4ml project directory (report.json's ``hardware`` section).

    Args:
        project_dir: The hls4ml output directory, or any directory above or inside it; reports are
            searched at any depth and the shallowest report folder wins
            (ties: the first by path).
        top: The top function; by default it is read from ``build_prj.tcl``/``project.tcl``
            (``set_top``), else from the ``<name>_prj`` folder hls4ml creates, else from the reports.
            A VivadoAccelerator build script names the AXI wrapper (``myproject_axi``), so pass
            ``top="myproject"`` for the network alone.

    Returns:
        ``source`` ("vivado_hls" | "vitis_hls"), ``tool_version``, ``top``, ``part``, ``clock_ns``
        (target), ``estimated_clock_ns``, ``clock_uncertainty_ns``, ``timing_met`` (estimated <=
        target), ``latency_cycles`` (worst), ``latency_best_cycles``, ``latency_ns`` (worst cycles x
        target clock), ``ii_cycles`` (worst interval), ``ii_best_cycles``, ``resources`` and
        ``available`` (``LUT FF DSP BRAM_18K URAM`` ints), ``utilization`` (fractions of the report's
        Available, None where that is 0 or absent), ``vivado_synth`` (:func:`parse_vivado_synth` of
        the project's post-synthesis report, or None), ``report_file`` and ``warnings`` (one line per
        report that was there but could not be used: a broken XML next to a good .rpt, a broken
        Vivado utilization report; each is also logged). Latencies the tool could not bound ("?")
        are None.

    Raises:
        NotSynthesized: the directory holds no C-synthesis report at all.
        DataError: no such directory, an unknown ``top``, or a report there that cannot be read.
    """
    root = Path(project_dir)
    if not root.is_dir():
        raise DataError(f"no HLS project directory at {root}")
    report_dir = _report_dir(root)
    if report_dir is None:
        raise NotSynthesized(f"no Vivado/Vitis HLS synthesis report (*_csynth.xml or *_csynth.rpt) under {root}: "
                             f"run C synthesis first")
    top = top or _top_from_tcl(root, report_dir) or _top_from_reports(root, report_dir)
    if top is None:
        raise DataError(f"cannot tell the top function of the HLS reports in {report_dir} (tops there: "
                        f"{', '.join(_tops_in(report_dir)) or 'none readable'}); pass the top function")
    xml_path, rpt_path = _top_reports(report_dir, top)
    if xml_path is None and rpt_path is None:
        raise DataError(f"no HLS synthesis report for top function '{top}' in {report_dir} (tops there: "
                        f"{', '.join(_tops_in(report_dir)) or 'none readable'})")

    errors, warnings = [], []
    data = None
    if xml_path is not None:
        try:
            data = parse_csynth_xml(xml_path)
            data["source"] = _rpt_tool(rpt_path) or data["source"]
        except DataError as exc:
            errors.append(str(exc))
    if data is None and rpt_path is not None:
        try:
            data = parse_csynth_rpt(rpt_path)
        except DataError as exc:
            errors.append(str(exc))
        else:
            warnings += [f"{e}; read the numbers from {rpt_path.name} instead" for e in errors]
    if data is None:
        raise DataError(f"unreadable HLS report in {root}: " + "; ".join(errors) +
                        "; rerun C synthesis, or delete the broken report to fall back to the estimate")

    data["vivado_synth"] = None
    synth = _find_vivado_synth(root, report_dir)
    if synth is not None:
        try:
            data["vivado_synth"] = parse_vivado_synth(synth)
        except DataError as exc:  # a side report: the csynth numbers still stand
            warnings.append(f"{exc}; post-synthesis numbers left out")
    for line in warnings:
        log.warning("%s", line)
    data["warnings"] = warnings
    return data


def _is_csynth(path: Path) -> bool:
    """A C-synthesis report file name (``csynth.xml``, ``<top>_csynth.rpt`` ...), not csynth_design_size."""
    return path.is_file() and (path.name in ("csynth.xml", "csynth.rpt") or
                               path.name.endswith(("_csynth.xml", "_csynth.rpt")))


def _report_dir(root: Path) -> Path | None:
    """The shallowest folder under ``root`` (itself included) holding a C-synthesis report."""
    dirs = {p.parent for p in root.rglob("*csynth.*") if _is_csynth(p)}
    if not dirs:
        return None
    return min(dirs, key=lambda d: (len(d.relative_to(root).parts), str(d)))


def _project_root(root: Path, report_dir: Path) -> Path:
    """The hls4ml output folder: the parent of the ``<name>_prj`` folder above ``report_dir``, if any."""
    for parent in [report_dir, *report_dir.parents]:
        if parent.name.endswith("_prj") and parent != root:
            return parent.parent
        if parent == root:
            break
    return report_dir


def _top_from_tcl(root: Path, report_dir: Path) -> str | None:
    """``set_top`` of build_prj.tcl, with ``${project_name}`` taken from project.tcl."""
    for folder in dict.fromkeys([_project_root(root, report_dir), root]):
        build = folder / "build_prj.tcl"
        if not build.is_file():
            continue
        text = build.read_text(errors="replace")
        match = re.search(r"^\s*set_top\s+(\S+)", text, re.MULTILINE)
        if not match:
            continue
        top = match.group(1)
        if "$" in top:
            defs = text
            if (folder / "project.tcl").is_file():
                defs = (folder / "project.tcl").read_text(errors="replace") + "\n" + text
            for name, value in re.findall(r'^\s*set\s+(\w+)\s+"?([\w.-]+)"?', defs, re.MULTILINE):
                top = top.replace("${%s}" % name, value).replace("$" + name, value)
        if "$" not in top:
            return top
    return None


def _top_from_reports(root: Path, report_dir: Path) -> str | None:
    """Guess the top function from the folder and file names and the reports' own top names."""
    names = {p.name[: -len("_csynth.xml")] for p in report_dir.glob("*_csynth.xml")}
    names |= {p.name[: -len("_csynth.rpt")] for p in report_dir.glob("*_csynth.rpt")}
    # hls4ml opens the HLS project as "<ProjectName>_prj" and names the top function <ProjectName>.
    for parent in [report_dir, *report_dir.parents]:
        if parent.name.endswith("_prj"):
            if parent.name[: -len("_prj")] in names:
                return parent.name[: -len("_prj")]
            break
        if parent == root:
            break
    # Otherwise the tool's own top: csynth.xml / csynth.rpt describe it.
    guess = _xml_top(report_dir / "csynth.xml") or _rpt_top(report_dir / "csynth.rpt")
    if guess:
        return guess
    return next(iter(names)) if len(names) == 1 else None


def _tops_in(report_dir: Path) -> list[str]:
    """Every top function that ``report_dir`` holds a report for, to name in an error."""
    names = {p.name.rsplit("_csynth.", 1)[0] for p in report_dir.glob("*_csynth.*") if _is_csynth(p)}
    names |= {_xml_top(report_dir / "csynth.xml"), _rpt_top(report_dir / "csynth.rpt")}
    return sorted(n for n in names if n)


def _top_reports(report_dir: Path, top: str) -> tuple[Path | None, Path | None]:
    """The XML and .rpt reports of ``top`` in ``report_dir`` (either may be None)."""
    xml = report_dir / f"{top}_csynth.xml"
    if not xml.is_file():
        xml = report_dir / "csynth.xml"
        # csynth.xml describes the tool's top; a truncated one still goes to the parser to fail there.
        if not xml.is_file() or _xml_top(xml) not in (top, None):
            xml = None
    rpt = report_dir / f"{top}_csynth.rpt"
    if not rpt.is_file():
        rpt = report_dir / "csynth.rpt"
        if not rpt.is_file() or _rpt_top(rpt) != top:
            rpt = None
    return xml, rpt


def _xml_top(path: Path) -> str | None:
    """``<TopModelName>`` of a csynth XML, read incrementally (None if absent or unreadable)."""
    if not path.is_file():
        return None
    try:
        for _, elem in ET.iterparse(path, events=("end",)):
            if elem.tag == "TopModelName":
                return (elem.text or "").strip() or None
            if elem.tag == "UserAssignments":
                return None
    except ET.ParseError:
        return None
    return None


def _rpt_head(path: Path | None) -> re.Match | None:
    """The "== Vivado/Vitis HLS Report for 'top'" header of a .rpt (None if it has none)."""
    if path is None or not path.is_file():
        return None
    with open(path, errors="replace") as f:
        head = f.read(2000)
    return _RPT_HEADER.search(head)


def _rpt_top(path: Path | None) -> str | None:
    match = _rpt_head(path)
    return match.group(2) if match else None


def _rpt_tool(path: Path | None) -> str | None:
    match = _rpt_head(path)
    return (VIVADO_HLS if match.group(1) == "Vivado" else VITIS_HLS) if match else None


def _find_vivado_synth(root: Path, report_dir: Path) -> Path | None:
    """The post-synthesis utilization report next to the hls4ml project, if any."""
    folders = list(dict.fromkeys([_project_root(root, report_dir), root, report_dir]))
    for folder in folders:
        for name in _SYNTH_NAMES:
            if (folder / name).is_file():
                return folder / name
    for folder in folders:
        for path in sorted(folder.glob("*util*.rpt")):
            if "Utilization Design Information" in path.read_text(errors="replace")[:3000]:
                return path
    return None


# --------------------------------------------------------------------------------------------------
# Report files -> numbers


def _int(text: str | None, what: str, path: Path) -> int | None:
    """An integer field; None for the tools' "unknown" marks; DataError for anything else."""
    value = (text or "").strip()
    if value in _UNKNOWN:
        return None
    try:
        return int(value)
    except ValueError:
        raise DataError(f"malformed HLS report {path}: {what} is '{value}', not an integer") from None


def _float(text: str | None, what: str, path: Path) -> float:
    value = (text or "").strip().removesuffix("ns").strip()
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise DataError(f"malformed HLS report {path}: {what} is '{value}', not a number")
    return number


def _fractions(resources: dict, available: dict) -> dict:
    """Used / Available per resource, of the report's own Available row (None where that is 0 or absent)."""
    return {res: None if resources.get(res) is None or not available.get(res) else resources[res] / available[res]
            for res in RESOURCES}


def _finish(raw: dict, path: Path) -> dict:
    """Add the derived keys (latency_ns, timing_met, utilization) in the contract's order."""
    resources = {res: raw["resources"].get(res, 0) for res in RESOURCES}
    available = {res: raw["available"].get(res) for res in RESOURCES}
    worst = raw["latency_cycles"]
    return {
        "source": raw["source"],
        "tool_version": raw["tool_version"],
        "top": raw["top"],
        "part": raw["part"],
        "clock_ns": raw["clock_ns"],
        "estimated_clock_ns": raw["estimated_clock_ns"],
        "clock_uncertainty_ns": raw.get("clock_uncertainty_ns"),
        "timing_met": raw["estimated_clock_ns"] <= raw["clock_ns"],
        "latency_cycles": worst,
        "latency_best_cycles": raw["latency_best_cycles"],
        "latency_ns": None if worst is None else round(worst * raw["clock_ns"], 6),
        "ii_cycles": raw["ii_cycles"],
        "ii_best_cycles": raw["ii_best_cycles"],
        "resources": resources,
        "available": available,
        "utilization": _fractions(resources, available),
        "vivado_synth": None,
        "report_file": str(path),
    }


def parse_csynth_xml(path) -> dict:
    """Numbers of one ``*_csynth.xml`` (or ``csynth.xml``); see :func:`parse_project` for the keys.

    ``source`` is guessed from the XML alone (``FlowTarget`` or ``<DSP>`` mean Vitis HLS, ``<DSP48E>``
    Vivado HLS); :func:`parse_project` corrects it from the .rpt header when there is one.
    ``vivado_synth`` is always None here.

    Raises:
        DataError: unreadable XML or a missing field.
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise DataError(f"malformed HLS report {path}: {exc}") from None

    def text(xpath: str) -> str:
        node = root.find(xpath)
        if node is None or node.text is None:
            raise DataError(f"malformed HLS report {path}: no <{xpath.rsplit('/', 1)[-1]}>")
        return node.text.strip()

    def optional(xpath: str) -> str | None:
        node = root.find(xpath)
        return None if node is None or node.text is None else node.text.strip()

    lat = "PerformanceEstimates/SummaryOfOverallLatency/"
    raw = {
        "tool_version": text("ReportVersion/Version"),
        "top": text("UserAssignments/TopModelName"),
        "part": text("UserAssignments/Part"),
        "clock_ns": _float(text("UserAssignments/TargetClockPeriod"), "TargetClockPeriod", path),
        "estimated_clock_ns": _float(text("PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod"),
                                     "EstimatedClockPeriod", path),
        "latency_best_cycles": _int(text(lat + "Best-caseLatency"), "Best-caseLatency", path),
        "latency_cycles": _int(text(lat + "Worst-caseLatency"), "Worst-caseLatency", path),
        "ii_best_cycles": _int(text(lat + "Interval-min"), "Interval-min", path),
        "ii_cycles": _int(text(lat + "Interval-max"), "Interval-max", path),
    }
    unc = optional("UserAssignments/ClockUncertainty")
    raw["clock_uncertainty_ns"] = None if unc is None else _float(unc, "ClockUncertainty", path)

    dsp_tag = None
    for key in ("resources", "available"):
        node = root.find("AreaEstimates/" + ("Resources" if key == "resources" else "AvailableResources"))
        if node is None:
            raise DataError(f"malformed HLS report {path}: no <AreaEstimates> {key}")
        values = {}
        for child in node:
            if child.tag in _XML_RESOURCE:
                values[_XML_RESOURCE[child.tag]] = _int(child.text, child.tag, path)
                dsp_tag = child.tag if _XML_RESOURCE[child.tag] == "DSP" else dsp_tag
        missing = {"LUT", "FF", "DSP", "BRAM_18K"} - set(values)
        if missing:
            raise DataError(f"malformed HLS report {path}: no {', '.join(sorted(missing))} in {node.tag}")
        raw[key] = values

    if root.find("UserAssignments/FlowTarget") is not None or dsp_tag == "DSP":
        raw["source"] = VITIS_HLS  # FlowTarget and the plain <DSP> tag exist only in Vitis HLS
    else:
        raw["source"] = VIVADO_HLS
    return _finish(raw, path)


def _cells(line: str) -> list[str]:
    """The cells of one ``|a |b |`` table row."""
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse_csynth_rpt(path) -> dict:
    """Numbers of one ``<top>_csynth.rpt`` (the "Vivado/Vitis HLS Report for" text).

    The text rounds a slow estimated clock to the unit it prints (``0.137 us``), and Vivado HLS 2019.2
    may print an interval one below the XML's for non-pipelined tops (myproject_axi: 45 vs 46), so
    :func:`parse_project` reads the XML whenever it can.

    Raises:
        DataError: not such a report, or a section missing.
    """
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise DataError(f"cannot read HLS report {path}: {exc}") from None
    head = _RPT_HEADER.search(text)
    if head is None:
        raise DataError(f"malformed HLS report {path}: no 'Vivado/Vitis HLS Report for' header")

    def field(label: str) -> str:
        match = re.search(r"^\*\s*%s:\s*(\S+)" % re.escape(label), text, re.MULTILINE)
        if match is None:
            raise DataError(f"malformed HLS report {path}: no '* {label}:' line")
        return match.group(1)

    # Clock summary row "|ap_clk | 5.00 ns | 4.049 ns | 0.62 ns |"; a slow estimate may read "0.137 us".
    num = r"\s*([\d.]+)\s*(ns|us|ms)\s*\|"
    timing = re.search(r"^\s*\|\s*[\w.]+\s*\|" + num * 3, text, re.MULTILINE)
    if timing is None:
        raise DataError(f"malformed HLS report {path}: no clock summary (Target/Estimated/Uncertainty)")
    target, estimated, uncertainty = (float(timing.group(i)) * _TIME_UNIT[timing.group(i + 1)] for i in (1, 3, 5))
    raw = {
        "source": VIVADO_HLS if head.group(1) == "Vivado" else VITIS_HLS,
        "tool_version": field("Version"),
        "top": head.group(2),
        "part": field("Target device"),
        "clock_ns": round(target, 6),
        "estimated_clock_ns": round(estimated, 6),
        "clock_uncertainty_ns": round(uncertainty, 6),
    }

    # Latency summary: first row of min/max cycles, absolute min/max, interval min/max, pipeline type.
    lat_at = text.find("+ Latency:")
    for line in text[lat_at:].splitlines() if lat_at >= 0 else []:
        cells = _cells(line) if line.lstrip().startswith("|") else []
        if len(cells) >= 6 and all(re.fullmatch(r"\d+|\?|undef", c) for c in cells[:2] + cells[4:6]):
            raw["latency_best_cycles"] = _int(cells[0], "latency min", path)
            raw["latency_cycles"] = _int(cells[1], "latency max", path)
            raw["ii_best_cycles"] = _int(cells[4], "interval min", path)
            raw["ii_cycles"] = _int(cells[5], "interval max", path)
            break
    else:
        raise DataError(f"malformed HLS report {path}: no latency summary")

    # Utilization summary: header "Name | BRAM_18K | DSP48E/DSP | FF | LUT | URAM", rows Total, Available.
    util_at = text.find("== Utilization Estimates")
    columns = None
    for line in text[util_at:].splitlines() if util_at >= 0 else []:
        if not line.lstrip().startswith("|"):
            continue
        cells = _cells(line)
        if columns is None and cells[0] == "Name":
            columns = [_XML_RESOURCE.get(c) for c in cells[1:]]
        elif columns is not None and cells[0] in ("Total", "Available"):
            key = "resources" if cells[0] == "Total" else "available"
            raw[key] = {res: _int(v, f"{cells[0]} {res}", path)
                        for res, v in zip(columns, cells[1:]) if res is not None}
            if "available" in raw:
                break
    if "resources" not in raw or "available" not in raw:
        raise DataError(f"malformed HLS report {path}: no utilization Total/Available rows")
    return _finish(raw, path)


# Vivado utilization rows (first occurrence in the file) -> our names.
_SYNTH_ROWS = {"Slice LUTs": "LUT", "CLB LUTs": "LUT", "Slice Registers": "FF", "CLB Registers": "FF",
               "DSPs": "DSP", "Block RAM Tile": "BRAM", "URAM": "URAM"}


def parse_vivado_synth(path) -> dict:
    """Post-synthesis (or post-route) utilization from a Vivado ``report_utilization`` text file.

    Args:
        path: e.g. hls4ml's ``vivado_synth.rpt``; 7-series ("Slice LUTs") and UltraScale ("CLB LUTs",
            extra "Prohibited" column) layouts are both read.

    Returns:
        ``LUT``, ``FF``, ``DSP`` and ``URAM`` (None when the device has no URAM row) ints, ``BRAM``
        (36 Kb block-RAM tiles, a float: halves are RAMB18s) and ``BRAM_18K`` (2 x tiles), plus
        ``available`` (same keys), ``device``, ``design_state``, ``tool_version`` and ``report_file``.

    Raises:
        DataError: the file is missing or lacks the LUT/register/DSP/block-RAM rows.
    """
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise DataError(f"cannot read Vivado utilization report {path}: {exc}") from None
    used, avail = {}, {}
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = _cells(line)
        key = _SYNTH_ROWS.get(cells[0].rstrip("*").strip())
        if key is None or key in used or len(cells) < 4:
            continue
        try:
            used[key], avail[key] = float(cells[1]), float(cells[-2])
        except ValueError:
            continue  # a row of another table that happens to share the name
        if not all(math.isfinite(v) and v >= 0 for v in (used[key], avail[key])):
            raise DataError(f"malformed Vivado utilization report {path}: row '{cells[0]}' has Used '{cells[1]}' "
                            f"and Available '{cells[-2]}', not counts")
    missing = {"LUT", "FF", "DSP", "BRAM"} - set(used)
    if missing:
        raise DataError(f"malformed Vivado utilization report {path}: no {', '.join(sorted(missing))} row")

    def header(label: str) -> str | None:
        match = re.search(r"^\|\s*%s\s*:\s*(.+?)\s*$" % re.escape(label), text, re.MULTILINE)
        return match.group(1) if match else None

    def shape(values: dict) -> dict:
        out = {k: (values[k] if k == "BRAM" else int(values[k])) if k in values else None
               for k in ("LUT", "FF", "DSP", "BRAM", "URAM")}
        out["BRAM_18K"] = int(round(2 * values["BRAM"]))
        return out

    version = header("Tool Version")
    version_match = re.search(r"v\.?(\d{4}\.\d+)", version or "")
    return {
        **shape(used),
        "available": shape(avail),
        "device": header("Device"),
        "design_state": header("Design State"),
        "tool_version": version_match.group(1) if version_match else version,
        "report_file": str(path),
    }
