"""Minimal Vivado HLS / Vitis HLS report files that tests write into tmp_path.

Only the structure of the real reports in ../shared/hls_reports is copied (tags, table layouts, the
rows and quirks the parser relies on or must skip); every number is made up. So the parser is tested
on every tool generation without ../shared, which stays the accuracy check on real syntheses.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

REPORT = "solution1/syn/report"
RESOURCE_ORDER = ("BRAM_18K", "DSP", "FF", "LUT", "URAM")  # the reports' column order


@dataclass(frozen=True)
class Csynth:
    """What one C-synthesis report says; None latencies are the tools' "unknown" ('?' / 'undef')."""

    tool: str = "vivado_hls"
    version: str = "2020.1"
    top: str = "myproject"
    part: str = "xc7z020-clg400-1"
    family: str = "zynq"
    clock: float = 5.0
    estimated: float = 4.125
    uncertainty: float = 0.62
    best: int | None = 7
    worst: int | None = 9
    ii_best: int | None = 1
    ii_worst: int | None = 2
    resources: dict = field(default_factory=lambda: {"BRAM_18K": 2, "DSP": 11, "FF": 1234, "LUT": 2345, "URAM": 0})
    available: dict = field(default_factory=lambda: {"BRAM_18K": 280, "DSP": 220, "FF": 106400, "LUT": 53200,
                                                     "URAM": 0})

    @property
    def vitis(self) -> bool:
        return self.tool == "vitis_hls"

    @property
    def dsp_tag(self) -> str:
        return "DSP" if self.vitis else "DSP48E"


# One per tool generation of ../shared/hls_reports/INDEX.md (same layouts, other numbers).
VIVADO_2019 = Csynth(version="2019.2", part="xczu9eg-ffvb1156-2-e", family="zynquplus", estimated=3.5,
                     best=30, worst=300, ii_best=28, ii_worst=290,
                     resources={"BRAM_18K": 4, "DSP": 8, "FF": 4000, "LUT": 8000, "URAM": 0},
                     available={"BRAM_18K": 1824, "DSP": 2520, "FF": 548160, "LUT": 274080, "URAM": 0})
VIVADO_2020 = Csynth()
VITIS_2022 = Csynth(tool="vitis_hls", version="2022.2", part="xcu250-figd2104-2L-e", family="virtexuplus",
                    estimated=3.25, uncertainty=1.35, best=12, worst=12, ii_best=1, ii_worst=1,
                    resources={"BRAM_18K": 8, "DSP": 321, "FF": 4321, "LUT": 54321, "URAM": 0},
                    available={"BRAM_18K": 5376, "DSP": 12288, "FF": 3456000, "LUT": 1728000, "URAM": 1280})
VITIS_2023 = replace(VITIS_2022, version="2023.1", part="xczu49dr-ffvf1760-2-e", family="zynquplusRFSOC",
                     best=70, worst=70, ii_best=60, ii_worst=60,
                     available={"BRAM_18K": 2160, "DSP": 4272, "FF": 850560, "LUT": 425280, "URAM": 80})
VITIS_2024 = replace(VITIS_2022, version="2024.1", best=40, worst=40, ii_best=39, ii_worst=39)
GENERATIONS = {"vivado2019.2": VIVADO_2019, "vivado2020.1": VIVADO_2020, "vitis2022.2": VITIS_2022,
               "vitis2023.1": VITIS_2023, "vitis2024.1": VITIS_2024}


def _xml_int(value: int | None) -> str:
    return "undef" if value is None else str(value)


def csynth_xml(r: Csynth) -> str:
    """``<top>_csynth.xml``: Vivado HLS writes <DSP48E>, Vitis HLS <DSP> and <FlowTarget>."""
    flow = "<TargetInitiationInterval>4294967295</TargetInitiationInterval>\n<FlowTarget>vivado</FlowTarget>\n"

    def area(values: dict) -> str:
        return "".join(f"<{r.dsp_tag if k == 'DSP' else k}>{values[k]}</{r.dsp_tag if k == 'DSP' else k}>\n"
                       for k in RESOURCE_ORDER)

    return f"""<profile>

<ReportVersion>
<Version>{r.version}</Version>
</ReportVersion>

<UserAssignments>
<unit>ns</unit>
<ProductFamily>{r.family}</ProductFamily>
<Part>{r.part}</Part>
<TopModelName>{r.top}</TopModelName>
<TargetClockPeriod>{r.clock:.2f}</TargetClockPeriod>
<ClockUncertainty>{r.uncertainty:.2f}</ClockUncertainty>
{flow if r.vitis else ""}</UserAssignments>

<PerformanceEstimates>
<PipelineType>dataflow</PipelineType>
<SummaryOfTimingAnalysis>
<unit>ns</unit>
<EstimatedClockPeriod>{r.estimated:.3f}</EstimatedClockPeriod>
</SummaryOfTimingAnalysis>
<SummaryOfOverallLatency>
<unit>clock cycles</unit>
<Best-caseLatency>{_xml_int(r.best)}</Best-caseLatency>
<Average-caseLatency>{_xml_int(r.worst)}</Average-caseLatency>
<Worst-caseLatency>{_xml_int(r.worst)}</Worst-caseLatency>
<Interval-min>{_xml_int(r.ii_best)}</Interval-min>
<Interval-max>{_xml_int(r.ii_worst)}</Interval-max>
</SummaryOfOverallLatency>
</PerformanceEstimates>

<AreaEstimates>
<Resources>
{area(r.resources)}</Resources>
<AvailableResources>
{area(r.available)}</AvailableResources>
</AreaEstimates>

<InterfaceSummary>
<RtlPorts>
<name>ap_clk</name>
<Object>{r.top}</Object>
<Type>return value</Type>
</RtlPorts>
</InterfaceSummary>
</profile>
"""


def _ns(value: float) -> str:
    """A time as the .rpt prints it: ns, or rounded to us from 100 ns up ("0.137 us")."""
    return f"{value / 1000:.3f} us" if value >= 100 else f"{value:.3f} ns"


def _row(cells: list, widths: list[int]) -> str:
    return "|" + "|".join(str(c).rjust(w) for c, w in zip(cells, widths)) + "|"


def csynth_rpt(r: Csynth) -> str:
    """``<top>_csynth.rpt``: header, clock/latency summaries with a detail table, utilization summary."""
    tool = "Vitis" if r.vitis else "Vivado"
    lat = ["?" if v is None else v for v in (r.best, r.worst)]
    ii = ["?" if v is None else v for v in (r.ii_best, r.ii_worst)]
    absolute = ["?" if v is None else _ns(v * r.clock) for v in (r.best, r.worst)]
    widths = [21, 9, 7, 9, 9, 6]
    util = [_row(["Name", "BRAM_18K", r.dsp_tag, "FF", "LUT", "URAM"], widths),
            _row(["DSP", "-", "-", "-", "-", "-"], widths),
            _row(["Instance", 1, 3, 99, 98, "-"], widths),
            _row(["Total", *(r.resources[k] for k in RESOURCE_ORDER)], widths)]
    if r.vitis:  # Vitis HLS prints the per-SLR share first
        util.append(_row(["Available SLR", *(r.available[k] // 4 for k in RESOURCE_ORDER)], widths))
    util += [_row(["Available", *(r.available[k] for k in RESOURCE_ORDER)], widths),
             _row(["Utilization (%)", "~0", 1, "~0", 2, 0], widths)]
    return f"""

================================================================
== {tool} HLS Report for '{r.top}'
================================================================
* Date:           Wed Jan  1 00:00:00 2025

* Version:        {r.version} (Build 1234567 on Jan 1 2025)
* Project:        {r.top}_prj
* Solution:       solution1{" (Vivado IP Flow Target)" if r.vitis else ""}
* Product family: {r.family}
* Target device:  {r.part}


================================================================
== Performance Estimates
================================================================
+ Timing:
    * Summary:
    +--------+---------+----------+------------+
    |  Clock |  Target | Estimated| Uncertainty|
    +--------+---------+----------+------------+
    |ap_clk  | {r.clock:.2f} ns | {_ns(r.estimated)} |   {r.uncertainty:.2f} ns  |
    +--------+---------+----------+------------+

+ Latency:
    * Summary:
    +---------+---------+----------+-----------+-----+-----+----------+
    |  Latency (cycles) |  Latency (absolute)  |  Interval | Pipeline |
    |   min   |   max   |    min   |    max    | min | max |   Type   |
    +---------+---------+----------+-----------+-----+-----+----------+
    |{lat[0]:>9}|{lat[1]:>9}|{absolute[0]:>10}|{absolute[1]:>11}|{ii[0]:>5}|{ii[1]:>5}| dataflow |
    +---------+---------+----------+-----------+-----+-----+----------+

    + Detail:
        * Instance:
        +-------------+-------------+---------+---------+----------+----------+-----+-----+---------+
        |   Instance  |    Module   |   min   |   max   |    min   |    max   | min | max |   Type  |
        +-------------+-------------+---------+---------+----------+----------+-----+-----+---------+
        |dense_U0     |dense_s      |        3|        3| 15.000 ns| 15.000 ns|    1|    1|   none  |
        +-------------+-------------+---------+---------+----------+----------+-----+-----+---------+


================================================================
== Utilization Estimates
================================================================
* Summary:
{chr(10).join(util)}

+ Detail:
    * Instance:
    {_row(["Instance", "BRAM_18K", r.dsp_tag, "FF", "LUT", "URAM"], widths)}
    {_row(["dense_U0", 1, 3, 99, 98, 0], widths)}
    {_row(["Total", 1, 3, 99, 98, 0], widths)}
"""


def vivado_synth_rpt(lut: int, ff: int, dsp: int, bram: float, uram: int | None = None, *,
                     available: tuple = (53200, 106400, 220, 140, 0), device: str = "7z020clg400-1",
                     state: str = "Synthesized", version: str = "2020.1") -> str:
    """Vivado ``report_utilization``: 7-series layout ("Slice LUTs") when ``uram`` is None, else the
    UltraScale+ one ("CLB LUTs", a Prohibited column, a URAM row, a later SLR table repeating row names)."""
    a_lut, a_ff, a_dsp, a_bram, a_uram = available
    ultra = uram is not None
    lut_name, ff_name = ("CLB LUTs", "CLB Registers") if ultra else ("Slice LUTs*", "Slice Registers")

    def row(name: str, used, avail) -> str:
        mid = "|     0 |          0 |" if ultra else "|     0 |"
        return f"| {name:<16} | {used:>5} {mid} {avail:>9} |  0.10 |"

    slr = ("""
14. SLR CLB Logic and Dedicated Block Utilization
-------------------------------------------------

+----------------+------+------+------+------+--------+
|    Site Type   | SLR3 | SLR2 | SLR1 | SLR0 | SLR3 % |
+----------------+------+------+------+------+--------+
| Block RAM Tile |    0 |    0 |    0 |   99 |   0.00 |
| DSPs           |    0 |    0 |    0 |  999 |   0.00 |
+----------------+------+------+------+------+--------+
""" if ultra else "")
    return f"""Copyright 1986-2022 Xilinx, Inc. All Rights Reserved.
------------------------------------------------------------------------------------
| Tool Version : Vivado v.{version} (lin64) Build 1234567 Wed Jan  1 00:00:00 MDT 2025
| Date         : Wed Jan  1 00:00:00 2025
| Command      : report_utilization -file vivado_synth.rpt
| Design       : myproject
| Device       : {device}
| Design State : {state}
------------------------------------------------------------------------------------

Utilization Design Information

1. Slice Logic
--------------

+------------------+-------+-------+-----------+-------+
|     Site Type    |  Used | Fixed | Available | Util% |
+------------------+-------+-------+-----------+-------+
{row(lut_name, lut, a_lut)}
{row("  LUT as Logic", lut, a_lut)}
{row(ff_name, ff, a_ff)}
+------------------+-------+-------+-----------+-------+

2. Memory
---------

{row("Block RAM Tile", bram, a_bram)}
{row("  RAMB18", 0, 2 * a_bram)}
{row("URAM", uram, a_uram) if ultra else ""}

3. DSP
------

{row("DSPs", dsp, a_dsp)}
{slr}"""


def write_reports(folder: Path, *reports: Csynth, xml: bool = True, rpt: bool = True) -> Path:
    """``<top>_csynth.xml`` / ``.rpt`` of each report into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for r in reports:
        if xml:
            (folder / f"{r.top}_csynth.xml").write_text(csynth_xml(r))
        if rpt:
            (folder / f"{r.top}_csynth.rpt").write_text(csynth_rpt(r))
    return folder


def hls_project(root: Path, *reports: Csynth, name: str | None = None, xml: bool = True, rpt: bool = True,
                synth: str | None = None) -> Path:
    """An hls4ml output folder ``root`` as HLS leaves it: ``<name>_prj/solution1/syn/report/`` holding the reports,
    ``synth`` (a vivado_synth.rpt text) next to it; ``name`` defaults to the first report's top."""
    reports = reports or (VIVADO_2020,)
    write_reports(report_dir(root, name or reports[0].top), *reports, xml=xml, rpt=rpt)
    if synth is not None:
        (root / "vivado_synth.rpt").write_text(synth)
    return root


def report_dir(root: Path, name: str = "myproject") -> Path:
    return root / f"{name}_prj" / REPORT
