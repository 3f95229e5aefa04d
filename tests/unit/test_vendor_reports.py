"""Vendor HLS report parsing against the real reports in ../shared/hls_reports (numbers from its INDEX.md).

The shared reports are read where they are (never copied into the project); tests that need them are
skipped when the folder is absent. Broken or synthetic projects are built in tmp_path.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from l1tag.errors import DataError
from l1tag.hardware.parts import RESOURCES, part_totals, reference_part, utilization
from l1tag.hardware.vendor import parse_csynth_rpt, parse_csynth_xml, parse_project, parse_vivado_synth

SHARED = Path(__file__).resolve().parents[3] / "shared" / "hls_reports"
REPORT = "myproject_prj/solution1/syn/report"


@pytest.fixture
def shared() -> Path:
    """The shared report folder, or skip."""
    if not (SHARED / "INDEX.md").is_file():
        pytest.skip(f"shared HLS reports not found at {SHARED}")
    return SHARED


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


@pytest.mark.parametrize("row", INDEX, ids=[r[0] for r in INDEX])
def test_index_numbers(shared, row):
    """Tool, top, part, clocks, latency, II and every resource equal the INDEX.md row."""
    (_, folder, top_arg, tool, version, top, part, clock, est, best, worst, ii_best, ii_worst, res, vsyn) = row
    hw = parse_project(shared / folder, top=top_arg)
    assert (hw["source"], hw["tool_version"], hw["top"], hw["part"]) == (tool, version, top, part)
    assert hw["clock_ns"] == clock and hw["estimated_clock_ns"] == pytest.approx(est)
    assert (hw["latency_best_cycles"], hw["latency_cycles"]) == (best, worst)
    assert (hw["ii_best_cycles"], hw["ii_cycles"]) == (ii_best, ii_worst)
    assert hw["latency_ns"] == pytest.approx(worst * clock)
    assert [hw["resources"][k] for k in ("BRAM_18K", "DSP", "FF", "LUT", "URAM")] == list(res)
    assert Path(hw["report_file"]).name == f"{top}_csynth.xml"  # the XML is preferred
    if vsyn is None:
        assert hw["vivado_synth"] is None
    else:
        synth = hw["vivado_synth"]
        assert (synth["LUT"], synth["FF"], synth["DSP"], synth["BRAM"]) == vsyn
        assert synth["BRAM_18K"] == round(2 * vsyn[3])


@pytest.mark.parametrize("row", INDEX, ids=[r[0] for r in INDEX])
def test_available_totals_match_parts_table(shared, row):
    """The report's Available row equals our part table, and so do the two utilization computations."""
    hw = parse_project(shared / row[1], top=row[2])
    assert part_totals(hw["part"]) == hw["available"]
    assert utilization(hw["resources"], hw["part"]) == hw["utilization"]


def test_dsp48e_vs_dsp_tag(shared):
    """Vivado HLS 2019/2020 XML says <DSP48E>, Vitis HLS 2022+ says <DSP>; both end up as "DSP"."""
    vivado = shared / "hls4ml/test/pytest/test_report/Vivado/myproject_csynth.xml"
    vitis = shared / f"6nrp-hls4ml/model_1/hls4ml_prj/{REPORT}/myproject_csynth.xml"
    assert "<DSP48E>" in vivado.read_text() and "<DSP48E>" not in vitis.read_text()
    a, b = parse_csynth_xml(vivado), parse_csynth_xml(vitis)
    assert (a["source"], a["resources"]["DSP"], a["available"]["DSP"]) == ("vivado_hls", 73, 220)
    assert (b["source"], b["resources"]["DSP"], b["available"]["DSP"]) == ("vitis_hls", 2557, 12288)


def test_top_not_named_myproject(shared):
    """ML-fpga's top function is Encoder (Encoder_prj/.../Encoder_csynth.xml)."""
    hw = parse_project(shared / "ML-fpga/model_2/hls4ml_prj")
    assert hw["top"] == "Encoder"
    assert "Encoder_prj" in hw["report_file"]


@pytest.mark.parametrize("folder, target, estimated", [
    ("DNNonSilicon/Folder_2_HLS4ML_Vivado_HLS/models/hls4ml_prj", 2.5, 18.982),
    ("ML-fpga/model_2/hls4ml_prj", 5.0, 58.496),
    ("ML-fpga/model_3/hls4ml_prj", 10.0, 136.896),
])
def test_estimated_clock_above_target(shared, folder, target, estimated):
    """A design that fails timing reports its estimate as such, and latency_ns stays on the target clock."""
    hw = parse_project(shared / folder)
    assert (hw["clock_ns"], hw["estimated_clock_ns"], hw["timing_met"]) == (target, estimated, False)
    assert hw["latency_ns"] == pytest.approx(hw["latency_cycles"] * target)


def test_timing_met(shared):
    assert parse_project(shared / "6nrp-hls4ml/model_1/hls4ml_prj")["timing_met"] is True


def test_over_utilization(shared):
    """Designs beyond the device: fractions above 1 (DNNonSilicon on a Z-7020, ML-fpga model_3's DSPs)."""
    dnn = parse_project(shared / "DNNonSilicon/Folder_2_HLS4ML_Vivado_HLS/models/hls4ml_prj")
    assert dnn["utilization"]["LUT"] == pytest.approx(415081 / 53200)
    assert all(dnn["utilization"][k] > 1 for k in ("LUT", "FF", "DSP", "BRAM_18K"))
    assert dnn["utilization"]["URAM"] is None  # the Z-7020 has no URAM
    artix = parse_project(shared / "ML-fpga/model_3/hls4ml_prj")
    assert artix["utilization"]["DSP"] == pytest.approx(800 / 740)
    assert artix["utilization"]["LUT"] > 1 and artix["utilization"]["FF"] < 1
    assert artix["vivado_synth"]["DSP"] == artix["vivado_synth"]["available"]["DSP"] == 740


@pytest.mark.parametrize("folder", ["conv2d_test", "ML-fpga/model_2/hls4ml_prj", "ML-fpga/model_3/hls4ml_prj"])
def test_variable_latency(shared, folder):
    """Best != worst latency (and interval); the contract's latency/II are the worst cases."""
    hw = parse_project(shared / folder)
    assert hw["latency_best_cycles"] < hw["latency_cycles"]
    assert hw["ii_best_cycles"] < hw["ii_cycles"]


def test_unpaired_report_without_config(shared):
    """HG-DREAM has a report but no hls4ml_config.yml, build scripts or model next to it."""
    folder = shared / "HG-DREAM-Pulse-Detection-Project"
    assert not list(folder.rglob("hls4ml_config.yml")) and not list(folder.rglob("*.tcl"))
    hw = parse_project(folder)
    assert (hw["source"], hw["part"], hw["latency_cycles"]) == ("vitis_hls", "xczu49dr-ffvf1760-2-e", 695)


def test_shallowest_project_wins(shared):
    """Row 13's folder also holds row 14's project deeper down: the outer one is read."""
    hw = parse_project(shared / BAMBU)
    assert hw["part"].startswith("xc7vx690t")
    assert Path(hw["vivado_synth"]["report_file"]).parent == shared / BAMBU


def test_rpt_agrees_with_xml(shared):
    """The .rpt fallback reads the same numbers as the XML (up to the rpt's own rounding)."""
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


def test_vivado_synth_layouts(shared):
    """7-series ("Slice LUTs") and UltraScale+ 2024.1 ("CLB LUTs", extra Prohibited column) tables."""
    seven = parse_vivado_synth(shared / "hls4ml/test/pytest/test_report/Vivado/vivado_synth.rpt")
    assert (seven["LUT"], seven["FF"], seven["DSP"], seven["BRAM"], seven["URAM"]) == (1526, 2428, 66, 0, None)
    assert seven["available"]["LUT"] == 53200 and seven["device"] == "7z020clg400-1"
    ultra = parse_vivado_synth(shared / "ECE226_CoDesign/model_1/hls4ml_prj/vivado_utilization.rpt")
    assert (ultra["LUT"], ultra["FF"], ultra["DSP"], ultra["BRAM"], ultra["URAM"]) == (7722, 4864, 467, 12, 0)
    assert ultra["available"]["DSP"] == 12288 and ultra["design_state"] == "Routed"
    assert ultra["tool_version"] == "2024.1"


# ---- broken and synthetic projects (tmp_path) ------------------------------------------------------


def test_missing_directory(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError, match="nowhere"):
        parse_project(missing)


def test_directory_without_reports(tmp_path):
    (tmp_path / "firmware").mkdir()
    (tmp_path / "hls4ml_config.yml").write_text("ProjectName: myproject\n")
    with pytest.raises(DataError) as exc:
        parse_project(tmp_path)
    assert str(tmp_path) in str(exc.value) and "\n" not in str(exc.value)


def _project(tmp_path: Path, xml_text: str | None, rpt_text: str | None) -> Path:
    report = tmp_path / "prj" / REPORT
    report.mkdir(parents=True)
    if xml_text is not None:
        (report / "myproject_csynth.xml").write_text(xml_text)
    if rpt_text is not None:
        (report / "myproject_csynth.rpt").write_text(rpt_text)
    return tmp_path / "prj"


def test_truncated_xml_falls_back_to_rpt(shared, tmp_path):
    src = shared / f"ECE226_CoDesign/model_1/hls4ml_prj/{REPORT}/myproject_csynth"
    xml = src.with_suffix(".xml").read_text()
    prj = _project(tmp_path, xml[: len(xml) // 3], src.with_suffix(".rpt").read_text())
    hw = parse_project(prj)
    assert hw["report_file"].endswith("myproject_csynth.rpt")
    assert (hw["source"], hw["latency_cycles"], hw["ii_cycles"]) == ("vitis_hls", 395, 390)
    assert hw["resources"] == {"LUT": 17966, "FF": 7123, "DSP": 467, "BRAM_18K": 29, "URAM": 0}


def test_truncated_xml_without_rpt_raises(shared, tmp_path):
    xml = (shared / "hls4ml/test/pytest/test_report/Vivado/myproject_csynth.xml").read_text()
    prj = _project(tmp_path, xml[:900], None)
    with pytest.raises(DataError) as exc:
        parse_project(prj)
    assert str(prj) in str(exc.value) and "myproject_csynth.xml" in str(exc.value)


def test_xml_missing_field_raises(tmp_path):
    """Well-formed XML that lacks the latency summary is malformed for us; a broken rpt does not help."""
    xml = ("<profile><ReportVersion><Version>2020.1</Version></ReportVersion><UserAssignments>"
           "<Part>xc7z020-clg400-1</Part><TopModelName>myproject</TopModelName>"
           "<TargetClockPeriod>5.00</TargetClockPeriod></UserAssignments></profile>")
    prj = _project(tmp_path, xml, "not a report\n")
    with pytest.raises(DataError, match="EstimatedClockPeriod"):
        parse_project(prj)


def test_top_from_build_script(shared, tmp_path):
    """set_top in build_prj.tcl (VivadoAccelerator's "${project_name}_axi") picks the wrapper's report."""
    src = shared / f"{BAMBU}/model_single_dense/hls4ml_prj/{REPORT}"
    prj = _project(tmp_path, None, None)
    for name in ("myproject_csynth.xml", "myproject_axi_csynth.xml"):
        shutil.copy(src / name, prj / REPORT / name)
    (prj / "project.tcl").write_text('variable project_name\nset project_name "myproject"\n')
    (prj / "build_prj.tcl").write_text("open_project -reset ${project_name}_prj\nset_top ${project_name}_axi\n")
    hw = parse_project(prj)
    assert (hw["top"], hw["latency_cycles"], hw["ii_cycles"]) == ("myproject_axi", 45, 46)


def test_unknown_top_raises(shared, tmp_path):
    prj = _project(tmp_path, (shared / "hls4ml/test/pytest/test_report/Vivado/myproject_csynth.xml").read_text(), None)
    with pytest.raises(DataError, match="'other'"):
        parse_project(prj, top="other")


def test_vivado_synth_malformed(tmp_path):
    bad = tmp_path / "vivado_synth.rpt"
    bad.write_text("| Slice LUTs* | 10 | 0 | 100 | 10.0 |\n")
    with pytest.raises(DataError, match="vivado_synth.rpt"):
        parse_vivado_synth(bad)
    with pytest.raises(DataError):
        parse_vivado_synth(tmp_path / "absent.rpt")


# ---- part table ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, key", [
    ("xcvu9p-flga2104-2L-e", "xcvu9p-flga2104-2L-e"), ("xcvu9p", "xcvu9p-flga2104-2L-e"),
    ("VU9P", "xcvu9p-flga2104-2L-e"), ("xcvu9p-flgb2104-1-i", "xcvu9p-flga2104-2L-e"),
    ("XCU250-FIGD2104-2L-E", "xcu250-figd2104-2L-e"), ("xcvu13p-flga2577-2-e", "xcvu13p-flga2577-2-e"),
    ("7z020clg400-1", "xc7z020-clg400-1"), ("xc7a200tlffg1156-2L", "xc7a200tl-ffg1156-2L"),
])
def test_part_names(name, key):
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
