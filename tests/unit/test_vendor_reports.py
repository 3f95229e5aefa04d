"""Vendor HLS report parsing.

Every parser behaviour is tested on minimal reports written into tmp_path (hls_report_fixtures: the
structure of each tool generation's files, made-up numbers), so a clone without ../shared tests it all.
The real reports in ../shared/hls_reports stay the accuracy check: three tests read them where they are
(never copied into the project) and compare with the numbers of its INDEX.md; they skip without it.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from hls_report_fixtures import (
    GENERATIONS,
    REPORT,
    VITIS_2022,
    VITIS_2024,
    VIVADO_2019,
    VIVADO_2020,
    Csynth,
    csynth_rpt,
    csynth_xml,
    hls_project,
    report_dir,
    vivado_synth_rpt,
    write_reports,
)

from l1tag.cli import main
from l1tag.errors import DataError
from l1tag.devices import RESOURCES, part_totals, utilization
from l1tag.hardware.vendor import NotSynthesized, parse_csynth_rpt, parse_csynth_xml, parse_project, parse_vivado_synth

SHARED = Path(__file__).resolve().parents[3] / "shared" / "hls_reports"


@pytest.fixture
def warnings_logged(caplog, monkeypatch):
    """caplog that sees the "l1tag" logger (the CLI detaches it from the root logger)."""
    monkeypatch.setattr(logging.getLogger("l1tag"), "propagate", True)
    with caplog.at_level(logging.WARNING, logger="l1tag"):
        yield caplog


# ---- every tool generation: XML, .rpt, and the project around them ----------------------------------


def _expected(r: Csynth) -> dict:
    """What parse_project must return for the report ``r`` (the derived keys worked out here)."""
    resources = {k: r.resources[k] for k in RESOURCES}
    return {
        "source": r.tool, "tool_version": r.version, "top": r.top, "part": r.part, "clock_ns": r.clock,
        "estimated_clock_ns": r.estimated, "clock_uncertainty_ns": r.uncertainty,
        "timing_met": r.estimated <= r.clock, "latency_cycles": r.worst, "latency_best_cycles": r.best,
        "latency_ns": r.worst * r.clock, "ii_cycles": r.ii_worst, "ii_best_cycles": r.ii_best,
        "resources": resources, "available": {k: r.available[k] for k in RESOURCES},
        "utilization": {k: resources[k] / r.available[k] if r.available[k] else None for k in RESOURCES},
    }


@pytest.mark.parametrize("gen", GENERATIONS)
def test_every_generation_from_the_xml(tmp_path, gen):
    """Tool, version, top, part, clocks, latency best/worst, II, every resource; the XML is preferred."""
    r = GENERATIONS[gen]
    hw = parse_project(hls_project(tmp_path, r))
    assert {k: hw[k] for k in _expected(r)} == _expected(r)
    assert hw["report_file"] == str(report_dir(tmp_path) / "myproject_csynth.xml")
    assert hw["vivado_synth"] is None and hw["warnings"] == []
    json.dumps(hw)  # the CLI prints it


@pytest.mark.parametrize("gen", GENERATIONS)
def test_every_generation_rpt_fallback(tmp_path, gen):
    """Without the XML the .rpt gives the same numbers (its clock rounded to what it prints)."""
    r = GENERATIONS[gen]
    hw = parse_project(hls_project(tmp_path, r, xml=False))
    assert hw["report_file"].endswith("myproject_csynth.rpt")
    assert {k: hw[k] for k in _expected(r)} == _expected(r)
    assert hw["warnings"] == []  # a missing XML is no problem, only a broken one


def test_rpt_agrees_with_xml(tmp_path):
    for gen, r in GENERATIONS.items():
        write_reports(tmp_path / gen, r)
        a = parse_csynth_rpt(tmp_path / gen / "myproject_csynth.rpt")
        b = parse_csynth_xml(tmp_path / gen / "myproject_csynth.xml")
        assert {k: v for k, v in a.items() if k != "report_file"} == {k: v for k, v in b.items()
                                                                       if k != "report_file"}, gen


def test_dsp48e_vs_dsp_tag(tmp_path):
    """Vivado HLS 2019/2020 XML says <DSP48E>, Vitis HLS 2022+ says <DSP>; both end up as "DSP"."""
    write_reports(tmp_path / "a", VIVADO_2019, rpt=False)
    write_reports(tmp_path / "b", VITIS_2022, rpt=False)
    vivado, vitis = tmp_path / "a/myproject_csynth.xml", tmp_path / "b/myproject_csynth.xml"
    assert "<DSP48E>" in vivado.read_text() and "<DSP48E>" not in vitis.read_text()
    a, b = parse_csynth_xml(vivado), parse_csynth_xml(vitis)
    assert (a["source"], a["resources"]["DSP"], a["available"]["DSP"]) == ("vivado_hls", 8, 2520)
    assert (b["source"], b["resources"]["DSP"], b["available"]["DSP"]) == ("vitis_hls", 321, 12288)


def test_tool_detection(tmp_path):
    """<FlowTarget> or <DSP> alone mean Vitis HLS; the .rpt header, when there, has the last word."""
    no_flow = csynth_xml(VITIS_2024).replace("<FlowTarget>vivado</FlowTarget>\n", "")
    (tmp_path / "a.xml").write_text(no_flow)
    assert parse_csynth_xml(tmp_path / "a.xml")["source"] == "vitis_hls"
    dsp48 = csynth_xml(VITIS_2024).replace("<DSP>", "<DSP48E>").replace("</DSP>", "</DSP48E>")
    (tmp_path / "b.xml").write_text(dsp48)
    assert parse_csynth_xml(tmp_path / "b.xml")["source"] == "vitis_hls"  # FlowTarget
    # an XML that looks like Vivado HLS next to a "Vitis HLS Report" .rpt: the header wins
    prj = hls_project(tmp_path / "prj", VITIS_2022, xml=False)
    (report_dir(prj) / "myproject_csynth.xml").write_text(csynth_xml(replace(VITIS_2022, tool="vivado_hls")))
    hw = parse_project(prj)
    assert hw["report_file"].endswith(".xml") and hw["source"] == "vitis_hls"


def test_rpt_clock_in_microseconds(tmp_path):
    """A slow estimate prints as "0.137 us" in the .rpt: read as 137 ns (the XML has 136.896)."""
    r = replace(VIVADO_2020, clock=10.0, estimated=136.896)
    write_reports(tmp_path, r)
    assert "| 0.137 us |" in (tmp_path / "myproject_csynth.rpt").read_text()
    assert parse_csynth_rpt(tmp_path / "myproject_csynth.rpt")["estimated_clock_ns"] == 137.0
    assert parse_csynth_xml(tmp_path / "myproject_csynth.xml")["estimated_clock_ns"] == 136.896


def test_estimated_clock_above_target(tmp_path):
    """A design that fails timing says so, and latency_ns stays on the target clock."""
    hw = parse_project(hls_project(tmp_path, replace(VIVADO_2020, clock=2.5, estimated=18.982, worst=100)))
    assert (hw["clock_ns"], hw["estimated_clock_ns"], hw["timing_met"]) == (2.5, 18.982, False)
    assert hw["latency_ns"] == 250.0


def test_timing_met(tmp_path):
    assert parse_project(hls_project(tmp_path, VITIS_2022))["timing_met"] is True


def test_variable_latency(tmp_path):
    """Best != worst latency (and interval); the contract's latency/II are the worst cases."""
    hw = parse_project(hls_project(tmp_path, VIVADO_2019))
    assert (hw["latency_best_cycles"], hw["latency_cycles"]) == (30, 300)
    assert (hw["ii_best_cycles"], hw["ii_cycles"]) == (28, 290)


@pytest.mark.parametrize("xml", [True, False])
def test_unbounded_latency_is_none(tmp_path, xml):
    """Latencies the tool could not bound ('undef' in the XML, '?' in the .rpt) are None, not a crash."""
    hw = parse_project(hls_project(tmp_path, replace(VIVADO_2020, best=None, worst=None, ii_best=None,
                                                     ii_worst=None), xml=xml, rpt=not xml))
    assert (hw["latency_cycles"], hw["latency_best_cycles"], hw["latency_ns"]) == (None, None, None)
    assert (hw["ii_cycles"], hw["ii_best_cycles"]) == (None, None)


def test_over_utilization(tmp_path):
    """A design beyond the device: fractions above 1; None where the device has none of a resource."""
    r = replace(VIVADO_2020, resources={"BRAM_18K": 300, "DSP": 440, "FF": 1, "LUT": 106400, "URAM": 0})
    hw = parse_project(hls_project(tmp_path, r))
    assert hw["utilization"]["LUT"] == 2.0 and hw["utilization"]["DSP"] == 2.0
    assert hw["utilization"]["BRAM_18K"] == pytest.approx(300 / 280) and hw["utilization"]["FF"] < 1
    assert hw["utilization"]["URAM"] is None  # the Z-7020 has no URAM


# ---- which report: top function, folders ------------------------------------------------------------


def test_top_not_named_myproject(tmp_path):
    """hls4ml's <ProjectName>_prj folder names the top (ML-fpga: Encoder_prj/.../Encoder_csynth.xml)."""
    hw = parse_project(hls_project(tmp_path, replace(VIVADO_2020, top="Encoder")))
    assert hw["top"] == "Encoder" and "Encoder_prj" in hw["report_file"]


def test_report_without_config_or_scripts(tmp_path):
    """A bare report folder (HG-DREAM: no hls4ml_config.yml, no build scripts) is read from its own files."""
    write_reports(tmp_path / "HLS_models" / "myproject_prj" / REPORT, VITIS_2024)
    hw = parse_project(tmp_path)
    assert (hw["source"], hw["latency_cycles"]) == ("vitis_hls", 40)


def test_reports_only_in_a_plain_folder(tmp_path):
    """The test_report layout of hls4ml: the reports loose in one folder, next to vivado_synth.rpt."""
    write_reports(tmp_path, VIVADO_2020)
    (tmp_path / "vivado_synth.rpt").write_text(vivado_synth_rpt(1526, 2428, 66, 0))
    hw = parse_project(tmp_path)
    assert hw["top"] == "myproject" and hw["vivado_synth"]["LUT"] == 1526


def test_shallowest_project_wins(tmp_path):
    """A project folder that also holds another project deeper down: the outer one is read."""
    hls_project(tmp_path, VIVADO_2019, synth=vivado_synth_rpt(1, 2, 3, 0))
    hls_project(tmp_path / "inner" / "hls4ml_prj", VIVADO_2020, synth=vivado_synth_rpt(9, 9, 9, 0))
    hw = parse_project(tmp_path)
    assert hw["part"] == VIVADO_2019.part
    assert Path(hw["vivado_synth"]["report_file"]).parent == tmp_path and hw["vivado_synth"]["LUT"] == 1


def _two_tops(tmp_path: Path) -> Path:
    """A VivadoAccelerator project: the network and its AXI wrapper, the wrapper being the tool's top."""
    axi = replace(VIVADO_2020, top="myproject_axi", best=45, worst=45, ii_best=46, ii_worst=46)
    prj = hls_project(tmp_path / "prj", VIVADO_2020, axi, name="myproject")
    (report_dir(prj) / "csynth.xml").write_text(csynth_xml(axi))
    return prj


def test_two_tops_default_and_choice(tmp_path):
    """The <name>_prj folder picks the network; top= picks either report."""
    prj = _two_tops(tmp_path)
    assert parse_project(prj)["top"] == "myproject"
    axi = parse_project(prj, top="myproject_axi")
    assert (axi["top"], axi["latency_cycles"], axi["ii_cycles"]) == ("myproject_axi", 45, 46)
    assert parse_project(prj, top="myproject")["latency_cycles"] == 9


def test_top_from_build_script(tmp_path):
    """set_top in build_prj.tcl (VivadoAccelerator's "${project_name}_axi") picks the wrapper's report."""
    prj = _two_tops(tmp_path)
    (prj / "project.tcl").write_text('variable project_name\nset project_name "myproject"\n')
    (prj / "build_prj.tcl").write_text("open_project -reset ${project_name}_prj\nset_top ${project_name}_axi\n")
    assert parse_project(prj)["top"] == "myproject_axi"
    assert parse_project(prj, top="myproject")["top"] == "myproject"  # the network, as --top asks


def test_top_from_the_tools_csynth_xml(tmp_path):
    """No <name>_prj folder and no scripts: csynth.xml (the tool's own top) decides; a lone report is its top."""
    axi = replace(VIVADO_2020, top="myproject_axi")
    write_reports(tmp_path / "a", VIVADO_2020, axi)
    (tmp_path / "a" / "csynth.xml").write_text(csynth_xml(axi))
    assert parse_project(tmp_path / "a")["top"] == "myproject_axi"
    write_reports(tmp_path / "b", replace(VIVADO_2020, top="Encoder"))
    assert parse_project(tmp_path / "b")["top"] == "Encoder"


def test_two_tops_and_nothing_to_choose_raises(tmp_path):
    write_reports(tmp_path, VIVADO_2020, replace(VIVADO_2020, top="other"))
    with pytest.raises(DataError, match="myproject, other") as exc:
        parse_project(tmp_path)
    assert "top function" in str(exc.value) and "\n" not in str(exc.value)


def test_unknown_top_raises_and_lists_the_tops(tmp_path):
    prj = _two_tops(tmp_path)
    with pytest.raises(DataError, match="'other'") as exc:
        parse_project(prj, top="other")
    assert "myproject, myproject_axi" in str(exc.value)


def test_csynth_xml_of_another_top_is_not_used(tmp_path):
    """csynth.xml describes the tool's top: a report for another top is not taken from it."""
    write_reports(tmp_path, replace(VIVADO_2020, top="myproject_axi"), rpt=False)
    (tmp_path / "csynth.xml").write_text(csynth_xml(replace(VIVADO_2020, top="myproject_axi")))
    with pytest.raises(DataError, match="'myproject'"):
        parse_project(tmp_path, top="myproject")
    (tmp_path / "csynth.xml").write_text(csynth_xml(VIVADO_2020))
    assert parse_project(tmp_path, top="myproject")["report_file"].endswith("/csynth.xml")


# ---- missing, broken and side reports ---------------------------------------------------------------


def test_missing_directory(tmp_path):
    with pytest.raises(DataError, match="nowhere") as exc:
        parse_project(tmp_path / "nowhere")
    assert not isinstance(exc.value, NotSynthesized)


def test_directory_without_reports_is_not_synthesized(tmp_path):
    (tmp_path / "firmware").mkdir()
    (tmp_path / "hls4ml_config.yml").write_text("ProjectName: myproject\n")
    (report_dir(tmp_path)).mkdir(parents=True)
    (report_dir(tmp_path) / "csynth_design_size.rpt").write_text("not a C-synthesis report\n")
    with pytest.raises(NotSynthesized) as exc:
        parse_project(tmp_path)
    assert str(tmp_path) in str(exc.value) and "\n" not in str(exc.value)


def test_truncated_xml_falls_back_to_rpt_with_a_warning(tmp_path, warnings_logged):
    prj = hls_project(tmp_path, VITIS_2024)
    xml = report_dir(prj) / "myproject_csynth.xml"
    xml.write_text(xml.read_text()[:600])
    hw = parse_project(prj)
    assert hw["report_file"].endswith("myproject_csynth.rpt")
    assert {k: hw[k] for k in _expected(VITIS_2024)} == _expected(VITIS_2024)
    assert len(hw["warnings"]) == 1 and str(xml) in hw["warnings"][0]
    assert str(xml) in warnings_logged.text


def test_truncated_xml_without_rpt_raises(tmp_path):
    prj = hls_project(tmp_path, VIVADO_2020, rpt=False)
    xml = report_dir(prj) / "myproject_csynth.xml"
    xml.write_text(xml.read_text()[:500])
    with pytest.raises(DataError) as exc:
        parse_project(prj)
    assert not isinstance(exc.value, NotSynthesized)
    assert str(prj) in str(exc.value) and "myproject_csynth.xml" in str(exc.value) and "\n" not in str(exc.value)


def test_lone_broken_csynth_xml_is_an_error_not_unsynthesized(tmp_path):
    (tmp_path / "csynth.xml").write_text("<profile><ReportVersion><Version>2020.1")
    with pytest.raises(DataError, match="none readable") as exc:
        parse_project(tmp_path)
    assert not isinstance(exc.value, NotSynthesized) and str(tmp_path) in str(exc.value)


def test_xml_missing_field_raises(tmp_path):
    """Well-formed XML that lacks the latency summary is malformed for us; a broken rpt does not help."""
    xml = ("<profile><ReportVersion><Version>2020.1</Version></ReportVersion><UserAssignments>"
           "<Part>xc7z020-clg400-1</Part><TopModelName>myproject</TopModelName>"
           "<TargetClockPeriod>5.00</TargetClockPeriod></UserAssignments></profile>")
    prj = tmp_path / "prj"
    (report_dir(prj)).mkdir(parents=True)
    (report_dir(prj) / "myproject_csynth.xml").write_text(xml)
    (report_dir(prj) / "myproject_csynth.rpt").write_text("not a report\n")
    with pytest.raises(DataError, match="EstimatedClockPeriod"):
        parse_project(prj)


@pytest.mark.parametrize("break_it, message", [
    (lambda t: t.replace("<LUT>2345</LUT>", "<LUT>lots</LUT>"), "LUT is 'lots', not an integer"),
    (lambda t: t.replace("<EstimatedClockPeriod>4.125", "<EstimatedClockPeriod>fast"), "EstimatedClockPeriod"),
    (lambda t: t.replace("<FF>1234</FF>", ""), "no FF in Resources"),
    (lambda t: t.replace("<AvailableResources>", "<Other>").replace("</AvailableResources>", "</Other>"),
     "no <AreaEstimates> available"),
])
def test_broken_xml_fields(tmp_path, break_it, message):
    (tmp_path / "r.xml").write_text(break_it(csynth_xml(VIVADO_2020)))
    with pytest.raises(DataError, match=message):
        parse_csynth_xml(tmp_path / "r.xml")


@pytest.mark.parametrize("break_it, message", [
    (lambda t: t.replace("Vivado HLS Report for", "Report for"), "header"),
    (lambda t: t.replace("* Target device:", "* Device:"), "Target device"),
    (lambda t: t.replace("|ap_clk  |", "|ap_clk  | ? |"), "clock summary"),
    (lambda t: t.replace("+ Latency:", "+ Something:"), "latency summary"),
    (lambda t: t.replace("|            Available|", "|                Avail|"), "Total/Available"),
])
def test_broken_rpt_sections(tmp_path, break_it, message):
    (tmp_path / "r.rpt").write_text(break_it(csynth_rpt(VIVADO_2020)))
    with pytest.raises(DataError, match=message):
        parse_csynth_rpt(tmp_path / "r.rpt")
    with pytest.raises(DataError, match="cannot read"):
        parse_csynth_rpt(tmp_path / "absent.rpt")


def test_vitis_available_slr_row_is_not_the_device(tmp_path):
    write_reports(tmp_path, VITIS_2022, xml=False)
    assert "Available SLR" in (tmp_path / "myproject_csynth.rpt").read_text()
    assert parse_csynth_rpt(tmp_path / "myproject_csynth.rpt")["available"]["DSP"] == 12288


def test_vivado_synth_layouts(tmp_path):
    """7-series ("Slice LUTs") and UltraScale+ ("CLB LUTs", extra Prohibited column, SLR table later) tables."""
    (tmp_path / "seven.rpt").write_text(vivado_synth_rpt(1526, 2428, 66, 0))
    seven = parse_vivado_synth(tmp_path / "seven.rpt")
    assert (seven["LUT"], seven["FF"], seven["DSP"], seven["BRAM"], seven["URAM"]) == (1526, 2428, 66, 0, None)
    assert seven["available"]["LUT"] == 53200 and seven["device"] == "7z020clg400-1"
    assert (seven["design_state"], seven["tool_version"]) == ("Synthesized", "2020.1")
    (tmp_path / "ultra.rpt").write_text(vivado_synth_rpt(
        7722, 4864, 467, 16.5, 0, available=(1728000, 3456000, 12288, 2688, 1280), device="xcu250-figd2104-2L-e",
        state="Routed", version="2024.1"))
    ultra = parse_vivado_synth(tmp_path / "ultra.rpt")
    assert (ultra["LUT"], ultra["FF"], ultra["DSP"], ultra["BRAM"], ultra["URAM"]) == (7722, 4864, 467, 16.5, 0)
    assert ultra["BRAM_18K"] == 33 and ultra["available"]["BRAM_18K"] == 5376  # two RAMB18 per 36 Kb tile
    assert ultra["available"]["DSP"] == 12288 and ultra["design_state"] == "Routed"
    assert ultra["tool_version"] == "2024.1"


@pytest.mark.parametrize("name", ["vivado_synth.rpt", "post_synth_util.rpt", "myproject_util_routed.rpt"])
def test_vivado_synth_found_next_to_the_project(tmp_path, name):
    prj = hls_project(tmp_path, VIVADO_2020)
    (prj / name).write_text(vivado_synth_rpt(10, 20, 3, 1.5))
    (prj / "other.rpt").write_text("| Slice LUTs | 1 | 0 | 2 | 3 |\n")  # not a utilization report: ignored
    synth = parse_project(prj)["vivado_synth"]
    assert (synth["LUT"], synth["BRAM"], synth["BRAM_18K"]) == (10, 1.5, 3)
    assert synth["report_file"] == str(prj / name)


def test_vivado_synth_malformed(tmp_path):
    bad = tmp_path / "vivado_synth.rpt"
    bad.write_text("| Slice LUTs* | 10 | 0 | 100 | 10.0 |\n")
    with pytest.raises(DataError, match="vivado_synth.rpt"):
        parse_vivado_synth(bad)
    with pytest.raises(DataError):
        parse_vivado_synth(tmp_path / "absent.rpt")


def test_broken_side_report_is_a_warning(tmp_path, warnings_logged):
    """A vivado_synth.rpt that cannot be read leaves the csynth numbers standing, with a warning."""
    prj = hls_project(tmp_path, VITIS_2022, synth="| CLB LUTs | 10 | 0 | 0 | 100 | 10.0 |\n")
    hw = parse_project(prj)
    assert hw["vivado_synth"] is None and hw["resources"]["DSP"] == 321
    assert len(hw["warnings"]) == 1 and "vivado_synth.rpt" in hw["warnings"][0]
    assert "vivado_synth.rpt" in warnings_logged.text


# ---- l1tag parse-report ------------------------------------------------------------------------------


def test_parse_report_cli(tmp_path, capsys):
    prj = _two_tops(tmp_path)
    (prj / "vivado_synth.rpt").write_text("garbage\n")
    assert main(["-q", "parse-report", str(prj)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["source"], out["top"], out["vivado_synth"]) == ("vivado_hls", "myproject", None)
    assert "vivado_synth.rpt" in out["warnings"][0]
    assert main(["-q", "parse-report", str(prj), "--top", "myproject_axi"]) == 0
    assert json.loads(capsys.readouterr().out)["ii_cycles"] == 46


def test_parse_report_cli_errors(tmp_path, capsys):
    prj = _two_tops(tmp_path)
    assert main(["parse-report", str(prj), "--top", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "'nope'" in err and "myproject_axi" in err and err.count("\n") == 1
    xml = report_dir(prj) / "myproject_csynth.xml"
    xml.write_text("<profile><ReportVersion>")
    (report_dir(prj) / "myproject_csynth.rpt").unlink()
    assert main(["parse-report", str(prj), "--top", "myproject"]) == 2
    err = capsys.readouterr().err
    assert str(xml) in err and "internal error" not in err and err.count("\n") == 1
    assert main(["parse-report", str(tmp_path / "empty_dir_absent")]) == 2


# ---- the real reports of ../shared/hls_reports (accuracy check) ------------------------------------


# INDEX.md rows: id, folder, top= argument, tool, version, top, part, clock, estimated clock,
# latency best/worst, II best/worst, (BRAM_18K, DSP, FF, LUT, URAM), Vivado synth (LUT, FF, DSP, BRAM tiles).
BAMBU = "Hls-and-bambu/vivadohls/model_single_dense/hls4ml_prj"
INDEX = [
    ("1", "hls4ml/test/pytest/test_report/Vivado", None, "vivado_hls", "2020.1", "myproject",
     "xc7z020-clg400-1", 5.0, 4.049, 10, 10, 8, 8, (0, 73, 7969, 2532, 0), (1526, 2428, 66, 0)),
    ("9", "6nrp-hls4ml/model_1/hls4ml_prj", None, "vitis_hls", "2022.2", "myproject",
     "xcu250-figd2104-2L-e", 5.0, 3.636, 15, 15, 1, 1, (8, 2557, 24233, 116694, 0), None),
    ("13", BAMBU, None, "vivado_hls", "2019.2", "myproject",
     "xc7vx690t-ffg1930-3", 5.0, 3.830, 3, 3, 1, 1, (0, 55, 1866, 1773, 0), (1219, 866, 55, 0)),
    ("14", f"{BAMBU}/model_single_dense/hls4ml_prj", None, "vivado_hls", "2019.2", "myproject",
     "xc7z020-clg400-1", 5.0, 4.196, 6, 6, 1, 1, (0, 50, 5748, 1444, 0), (970, 1295, 50, 0)),
    ("14-axi", f"{BAMBU}/model_single_dense/hls4ml_prj", "myproject_axi", "vivado_hls", "2019.2", "myproject_axi",
     "xc7z020-clg400-1", 5.0, 4.367, 45, 45, 46, 46, (0, 50, 8854, 8013, 0), (970, 1295, 50, 0)),
    ("15", "DNNonSilicon/Folder_2_HLS4ML_Vivado_HLS/models/hls4ml_prj", None, "vivado_hls", "2020.1", "myproject",
     "xc7z020-clg400-1", 2.5, 18.982, 14409, 14409, 14403, 14403, (293, 1170, 682850, 415081, 0),
     (358266, 308427, 220, 140)),
    ("16", "ECE226_CoDesign/model_1/hls4ml_prj", None, "vitis_hls", "2024.1", "myproject",
     "xcu250-figd2104-2L-e", 5.0, 3.530, 395, 395, 390, 390, (29, 467, 7123, 17966, 0), (8565, 4864, 467, 12)),
    ("17", "conv2d_test", None, "vivado_hls", "2019.2", "myproject",
     "xczu9eg-ffvb1156-2-e", 5.0, 3.770, 243, 2293, 227, 2277, (4, 8, 4187, 8722, 0), None),
    ("20", "ML-fpga/model_1/hls4ml_prj", None, "vivado_hls", "2020.1", "Encoder",
     "xcvu13p-flga2577-2-e", 10.0, 8.701, 160, 160, 135, 135, (81, 2742, 57505, 609548, 0),
     (299868, 49701, 24, 16.5)),
    ("21", "ML-fpga/model_2/hls4ml_prj", None, "vivado_hls", "2020.1", "Encoder",
     "xcku15p-ffve1517-1-i", 5.0, 58.496, 900, 910, 545, 885, (249, 813, 80229, 240302, 0),
     (58598, 35374, 811, 16.5)),
    ("22", "ML-fpga/model_3/hls4ml_prj", None, "vivado_hls", "2020.1", "Encoder",
     "xc7a200tl-ffg1156-2L", 10.0, 136.896, 903, 913, 545, 885, (249, 800, 67242, 235367, 0),
     (75367, 39644, 740, 16.5)),
    ("24", "HG-DREAM-Pulse-Detection-Project", None, "vitis_hls", "2023.1", "myproject",
     "xczu49dr-ffvf1760-2-e", 5.0, 3.649, 695, 695, 578, 578, (332, 29, 65881, 339116, 0), None),
]


@pytest.fixture
def shared() -> Path:
    """The shared report folder, or skip."""
    if not (SHARED / "INDEX.md").is_file():
        pytest.skip(f"shared HLS reports not found at {SHARED}")
    return SHARED


def test_shared_index_rows(shared):
    """Every INDEX.md row: tool, top, part, clocks, latency, II, every resource, Vivado synth, part totals."""
    for row in INDEX:
        (rid, folder, top_arg, tool, version, top, part, clock, est, best, worst, ii_best, ii_worst, res, vsyn) = row
        hw = parse_project(shared / folder, top=top_arg)
        assert (hw["source"], hw["tool_version"], hw["top"], hw["part"]) == (tool, version, top, part), rid
        assert hw["clock_ns"] == clock and hw["estimated_clock_ns"] == pytest.approx(est), rid
        assert hw["timing_met"] is (est <= clock), rid
        assert (hw["latency_best_cycles"], hw["latency_cycles"]) == (best, worst), rid
        assert (hw["ii_best_cycles"], hw["ii_cycles"]) == (ii_best, ii_worst), rid
        assert hw["latency_ns"] == pytest.approx(worst * clock), rid
        assert [hw["resources"][k] for k in ("BRAM_18K", "DSP", "FF", "LUT", "URAM")] == list(res), rid
        assert Path(hw["report_file"]).name == f"{top}_csynth.xml", rid  # the XML is preferred
        assert hw["warnings"] == [], rid
        if vsyn is None:
            assert hw["vivado_synth"] is None, rid
        else:
            synth = hw["vivado_synth"]
            assert (synth["LUT"], synth["FF"], synth["DSP"], synth["BRAM"]) == vsyn, rid
            assert synth["BRAM_18K"] == round(2 * vsyn[3]), rid
        # the report's Available row equals our part table, and so do the two utilization computations
        assert part_totals(hw["part"]) == hw["available"], rid
        assert utilization(hw["resources"], hw["part"]) == hw["utilization"], rid


def test_shared_report_quirks(shared):
    """The quirks INDEX.md lists, on the real files: tags, tops, failed timing, over-utilization, layouts."""
    vivado = shared / "hls4ml/test/pytest/test_report/Vivado/myproject_csynth.xml"
    vitis = shared / f"6nrp-hls4ml/model_1/hls4ml_prj/myproject_prj/{REPORT}/myproject_csynth.xml"
    assert "<DSP48E>" in vivado.read_text() and "<DSP48E>" not in vitis.read_text()
    assert "Encoder_prj" in parse_project(shared / "ML-fpga/model_2/hls4ml_prj")["report_file"]
    for folder in ("DNNonSilicon/Folder_2_HLS4ML_Vivado_HLS/models/hls4ml_prj", "ML-fpga/model_2/hls4ml_prj",
                   "ML-fpga/model_3/hls4ml_prj"):
        assert parse_project(shared / folder)["timing_met"] is False, folder
    dnn = parse_project(shared / "DNNonSilicon/Folder_2_HLS4ML_Vivado_HLS/models/hls4ml_prj")
    assert all(dnn["utilization"][k] > 1 for k in ("LUT", "FF", "DSP", "BRAM_18K"))
    assert dnn["utilization"]["URAM"] is None  # the Z-7020 has no URAM
    artix = parse_project(shared / "ML-fpga/model_3/hls4ml_prj")
    assert artix["utilization"]["DSP"] == pytest.approx(800 / 740)
    assert artix["vivado_synth"]["DSP"] == artix["vivado_synth"]["available"]["DSP"] == 740
    folder = shared / "HG-DREAM-Pulse-Detection-Project"  # a report with no config or scripts next to it
    assert not list(folder.rglob("hls4ml_config.yml")) and not list(folder.rglob("*.tcl"))
    bambu = parse_project(shared / BAMBU)  # row 13's folder also holds row 14's project deeper down
    assert bambu["part"].startswith("xc7vx690t") and Path(bambu["vivado_synth"]["report_file"]).parent == shared / BAMBU
    ultra = parse_vivado_synth(shared / "ECE226_CoDesign/model_1/hls4ml_prj/vivado_utilization.rpt")
    assert (ultra["LUT"], ultra["FF"], ultra["DSP"], ultra["BRAM"], ultra["URAM"]) == (7722, 4864, 467, 12, 0)
    assert (ultra["available"]["DSP"], ultra["design_state"], ultra["tool_version"]) == (12288, "Routed", "2024.1")
    seven = parse_vivado_synth(shared / "hls4ml/test/pytest/test_report/Vivado/vivado_synth.rpt")
    assert (seven["URAM"], seven["available"]["LUT"], seven["device"]) == (None, 53200, "7z020clg400-1")
    # the .rpt fallback reads the same numbers as the XML, up to the rpt's own rounding
    rpts = sorted(shared.rglob("*_csynth.rpt"))
    assert len(rpts) >= 10
    for rpt in rpts:
        a, b = parse_csynth_rpt(rpt), parse_csynth_xml(rpt.with_suffix(".xml"))
        for key in ("source", "tool_version", "top", "part", "clock_ns", "latency_cycles",
                    "latency_best_cycles", "resources", "available"):
            assert a[key] == b[key], (rpt, key)
        # "0.137 us" in the rpt vs 136.896 in the XML; myproject_axi's rpt interval is 45, its XML 46.
        assert a["estimated_clock_ns"] == pytest.approx(b["estimated_clock_ns"], abs=0.5)
        assert abs(a["ii_cycles"] - b["ii_cycles"]) <= 1


def test_shared_broken_and_rearranged_copies(shared, tmp_path):
    """Real files copied into tmp_path: a truncated XML, and a VivadoAccelerator build script picking the wrapper."""
    src = shared / f"ECE226_CoDesign/model_1/hls4ml_prj/myproject_prj/{REPORT}/myproject_csynth"
    prj = tmp_path / "truncated"
    report_dir(prj).mkdir(parents=True)
    xml = src.with_suffix(".xml").read_text()
    (report_dir(prj) / "myproject_csynth.xml").write_text(xml[: len(xml) // 3])
    shutil.copy(src.with_suffix(".rpt"), report_dir(prj))
    hw = parse_project(prj)
    assert hw["report_file"].endswith("myproject_csynth.rpt") and len(hw["warnings"]) == 1
    assert (hw["source"], hw["latency_cycles"], hw["ii_cycles"]) == ("vitis_hls", 395, 390)
    assert hw["resources"] == {"LUT": 17966, "FF": 7123, "DSP": 467, "BRAM_18K": 29, "URAM": 0}
    (report_dir(prj) / "myproject_csynth.rpt").unlink()
    with pytest.raises(DataError, match="myproject_csynth.xml"):
        parse_project(prj)

    src = shared / f"{BAMBU}/model_single_dense/hls4ml_prj/myproject_prj/{REPORT}"
    prj = tmp_path / "axi"
    report_dir(prj).mkdir(parents=True)
    for name in ("myproject_csynth.xml", "myproject_axi_csynth.xml"):
        shutil.copy(src / name, report_dir(prj) / name)
    (prj / "project.tcl").write_text('variable project_name\nset project_name "myproject"\n')
    (prj / "build_prj.tcl").write_text("open_project -reset ${project_name}_prj\nset_top ${project_name}_axi\n")
    hw = parse_project(prj)
    assert (hw["top"], hw["latency_cycles"], hw["ii_cycles"]) == ("myproject_axi", 45, 46)
    assert parse_project(prj, top="myproject")["latency_cycles"] == 6
    with pytest.raises(DataError, match="'other'"):
        parse_project(prj, top="other")


# ---- part table ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, key", [
    ("xcvu9p-flga2104-2L-e", "xcvu9p-flga2104-2L-e"), ("xcvu9p", "xcvu9p-flga2104-2L-e"),
    ("VU9P", "xcvu9p-flga2104-2L-e"), ("xcvu9p-flgb2104-1-i", "xcvu9p-flga2104-2L-e"),
    ("XCU250-FIGD2104-2L-E", "xcu250-figd2104-2L-e"), ("xcvu13p-flga2577-2-e", "xcvu13p-flga2577-2-e"),
    ("7z020clg400-1", "xc7z020-clg400-1"), ("xc7a200tlffg1156-2L", "xc7a200tl-ffg1156-2L"),
])
def test_part_names(name, key):
    from l1tag.devices import reference_part  # imported here: the parts table is being rewritten

    assert reference_part(name) == key


def test_part_totals():
    assert part_totals("xcvu9p") == {"LUT": 1182240, "FF": 2364480, "DSP": 6840, "BRAM_18K": 4320, "URAM": 960}
    assert part_totals("xcvu13p") == part_totals("xcu250-figd2104-2L-e")
    assert part_totals("xcu25") is None and part_totals("xc7k325t") is None and part_totals("") is None
    totals = part_totals("xcvu9p")
    totals["LUT"] = 0
    assert part_totals("xcvu9p")["LUT"] == 1182240  # a fresh dict each time


def test_utilization():
    used = {"LUT": 591120, "FF": 0, "DSP": 13680, "BRAM_18K": 10, "URAM": 0}
    frac = utilization(used, "xcvu9p-flga2104-2L-e")
    assert frac == {"LUT": 0.5, "FF": 0.0, "DSP": 2.0, "BRAM_18K": 10 / 4320, "URAM": 0.0}
    assert utilization({"LUT": 1}, "xcvu9p")["FF"] is None  # a resource not given
    assert utilization(used, "xc7z020")["URAM"] is None  # no URAM on the device
    assert utilization(used, "unknown-part") == dict.fromkeys(RESOURCES)


@pytest.mark.parametrize("bad", ["nan", "inf", "-3"])
def test_vivado_synth_nan_or_negative_count_is_a_data_error_naming_the_file(tmp_path, bad, warnings_logged):
    """int(float('nan')) was an internal error (exit 1)."""
    text = re.sub(r"(\| Slice LUTs\*\s*\|)\s*10 ", lambda m: f"{m.group(1)} {bad} ", vivado_synth_rpt(10, 20, 3, 1.5))
    assert f"| {bad} " in text
    (tmp_path / "vivado_synth.rpt").write_text(text)
    with pytest.raises(DataError, match=r"malformed Vivado utilization report .*vivado_synth.rpt: row 'Slice LUTs\*' has "
                                        f"Used '{bad}'"):
        parse_vivado_synth(tmp_path / "vivado_synth.rpt")
    prj = hls_project(tmp_path / "p", VIVADO_2020, synth=text)  # beside a project: the side report's warning
    hw = parse_project(prj)
    assert hw["vivado_synth"] is None and "not counts" in hw["warnings"][0]


def test_a_nan_clock_in_a_csynth_report_is_a_data_error(tmp_path):
    text = csynth_xml(VIVADO_2020)
    start = text.index("<TargetClockPeriod>") + len("<TargetClockPeriod>")
    (tmp_path / "r.xml").write_text(text[:start] + "nan" + text[text.index("</TargetClockPeriod>"):])
    with pytest.raises(DataError, match="r.xml: TargetClockPeriod is 'nan', not a number"):
        parse_csynth_xml(tmp_path / "r.xml")
