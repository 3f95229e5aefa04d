"""Budget checks against the shipped and hand-written budget files, the FPGA parts table they rely on,
and report.md rendering."""

from __future__ import annotations

import dataclasses
import json
import struct
import tomllib
import zlib
from pathlib import Path

import pytest

from l1tag.config import load_budget
from l1tag.errors import BudgetViolation, L1tagError
from l1tag.hardware import budget as budget_module
from l1tag import devices as parts
from l1tag.hardware.budget import check_budget, enforce, part_family
from l1tag.report.markdown import budget_table, hardware_table, write_report_md

REPO = Path(__file__).resolve().parents[2]
BUDGETS = REPO / "configs" / "budgets"


@pytest.fixture
def ii1():
    """The shipped II-1 budget's limits alone (its throughput, ``events``, has tests of its own below)."""
    return dataclasses.replace(load_budget(BUDGETS / "l1t_360mhz_ii1.yaml"), events=None)


def hardware(**over) -> dict:
    """A design like the CMS DeepSets tagger: within l1t_360mhz_ii1."""
    hw = {"source": "estimate", "part": "xcvu9p-flga2104-2L-e", "clock_ns": 2.78,
          "latency_cycles": 51, "latency_ns": 141.78, "ii_cycles": 1,
          "resources": {"LUT": 401499, "FF": 421894, "DSP": 953, "BRAM_18K": 10, "URAM": 0},
          "utilization": {"LUT": 0.34, "FF": 0.18, "DSP": 0.14, "BRAM_18K": 0.002, "URAM": 0.0}}
    util = over.pop("utilization", {})
    hw.update(over)
    hw["utilization"] = {**hw["utilization"], **util}
    return hw


def by_name(section: dict) -> dict:
    return {c["name"]: c for c in section["checks"]}


def failed(section: dict) -> set:
    return {c["name"] for c in section["checks"] if not c["pass"]}


def test_passing_design(ii1):
    section = check_budget(hardware(), ii1)
    assert section["name"] == "l1t_360mhz_ii1" and section["pass"]
    assert set(by_name(section)) == {"part", "clock_ns", "latency_ns", "ii_cycles", "utilization_LUT",
                                     "utilization_FF", "utilization_DSP", "utilization_BRAM_18K",
                                     "utilization_URAM"}
    lat = by_name(section)["latency_ns"]
    assert lat["limit"] == 200 and lat["value"] == 141.78 and lat["source"] == "estimate"
    assert lat["margin"] == pytest.approx((200 - 141.78) / 200)
    json.dumps(section, allow_nan=False)
    enforce(section)  # no exception


def test_shipped_tm18_budget_passes_other_part_family_fails():
    tm18 = dataclasses.replace(load_budget(BUDGETS / "l1t_200mhz_tm18.yaml"), events=None)
    hw = hardware(part="XCVU13P-FLGA2577-1-E", clock_ns=5.0, ii_cycles=40, latency_ns=600.0)
    assert check_budget(hw, tm18)["pass"]
    assert failed(check_budget(hardware(clock_ns=5.0), tm18)) == {"part"}


@pytest.mark.parametrize("over, bad", [
    ({"latency_ns": 412.0}, "latency_ns"),
    ({"ii_cycles": 4}, "ii_cycles"),
    ({"utilization": {"DSP": 0.31}}, "utilization_DSP"),
    ({"clock_ns": 3.0}, "clock_ns"),
])
def test_single_limit_broken(ii1, over, bad):
    section = check_budget(hardware(**over), ii1)
    assert not section["pass"] and failed(section) == {bad}
    assert by_name(section)[bad]["margin"] < 0


def test_clock_within_tolerance_passes(ii1):
    assert check_budget(hardware(clock_ns=2.78 + 1e-12), ii1)["pass"]
    assert check_budget(hardware(clock_ns=2.5), ii1)["pass"]


def test_unknown_part_total_fails_with_note(ii1):
    section = check_budget(hardware(utilization={"URAM": None}), ii1)
    check = by_name(section)["utilization_URAM"]
    assert not check["pass"] and check["value"] is None and "unknown" in check["note"]
    json.dumps(section, allow_nan=False)


def test_part_mismatch(ii1):
    section = check_budget(hardware(part="xcku115-flvb2104-2-e"), ii1)
    assert failed(section) == {"part"}
    note = by_name(section)["part"]["note"]
    assert "xcku115-flvb2104-2-e (device ku115)" in note and "xcvu9p-flga2104-2L-e (device vu9p)" in note
    # Speed grade, package, case and the xc prefix do not matter.
    assert check_budget(hardware(part="XCVU9P-flgb2104-1-i"), ii1)["pass"]
    assert check_budget(hardware(part="vu9p"), ii1)["pass"]


def test_part_family_uses_the_parts_normaliser():
    assert part_family("XCVU9P-flgb2104-1-i") == part_family("vu9p") == "vu9p"
    assert part_family("7z020clg400-1") == part_family("xc7z020-clg400-1") == "7z020"  # Vivado's spelling
    assert part_family("xc7a200tl-ffg1156-2L") == "7a200t"
    assert part_family("xcvu19p-fsva3824-2-e") == "vu19p"  # unknown: the normalised name
    assert part_family("xcvu19p-fsva3824-2-e") != part_family("xcvu13p-flga2577-2-e")
    assert budget_module.RESOURCES is parts.RESOURCES  # one list of resources


def _totals_budget(tmp_path, part: str, **limits) -> object:
    f = tmp_path / "own.yaml"
    f.write_text(json.dumps({"name": "own", "part": part, "clock_ns": 5.0,
                             "totals": {"LUT": 1_000_000, "FF": 2_000_000, "DSP": 1_000, "BRAM_18K": 100},
                             "limits": {"utilization": limits}}))
    return load_budget(f)


def test_budget_totals_give_the_utilization_of_an_unknown_part(tmp_path):
    budget = _totals_budget(tmp_path, "xcvu19p-fsva3824-2-e", LUT=0.5, DSP=0.5, URAM=0.5)
    hw = hardware(part="xcvu19p-fsva3824-2-e", clock_ns=5.0, utilization=dict.fromkeys(parts.RESOURCES),
                  resources={"LUT": 400_000, "FF": 1, "DSP": 600, "BRAM_18K": 1, "URAM": 0})
    section = check_budget(hw, budget)
    checks = by_name(section)
    assert checks["part"]["pass"] and checks["utilization_LUT"]["value"] == pytest.approx(0.4)
    assert checks["utilization_DSP"]["value"] == pytest.approx(0.6) and not checks["utilization_DSP"]["pass"]
    assert checks["utilization_URAM"]["value"] is None and "unknown" in checks["utilization_URAM"]["note"]
    assert failed(section) == {"utilization_DSP", "utilization_URAM"}


def test_budget_totals_replace_the_tables_for_a_known_part(tmp_path):
    budget = _totals_budget(tmp_path, "xcvu9p-flga2104-2L-e", LUT=0.35)
    section = check_budget(hardware(clock_ns=5.0), budget)  # 401,499 LUTs: 34 % of a VU9P, 40 % of 1 M
    assert by_name(section)["utilization_LUT"]["value"] == pytest.approx(0.401499)
    assert failed(section) == {"utilization_LUT"}


# ------------------------------------------------------------------ the parts table (l1tag/hardware/parts/)

def test_the_parts_table_rows_families_and_dsp_slices():
    rows = {d.key: d for d in parts.devices()}
    assert set(rows) == {"vu9p", "vu13p", "u250", "ku15p", "zu9eg", "zu49dr", "7z020", "7a200t", "7vx690t"}
    files = {p.stem for p in parts.PARTS_DIR.glob("*.yaml")}
    assert {d.family for d in rows.values()} == files
    for d in rows.values():
        assert set(d.totals) == set(parts.RESOURCES)
        assert (d.dsp, d.dsp_a_bits, d.dsp_b_bits) == (
            ("DSP48E1", 25, 18) if d.family == "7series" else ("DSP48E2", 27, 18)), d
        assert parts.device(d.reference_part) == d
    assert rows["vu9p"].totals == {"LUT": 1_182_240, "FF": 2_364_480, "DSP": 6_840, "BRAM_18K": 4_320, "URAM": 960}
    assert rows["vu13p"].totals == rows["u250"].totals
    assert rows["vu13p"].family == "virtex_ultrascale_plus" and rows["u250"].family == "alveo"


def test_every_row_keeps_its_source_comment():
    for file in parts.PARTS_DIR.glob("*.yaml"):
        lines = file.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.lstrip().startswith("- key:"):
                top = i
                while top > 0 and lines[top - 1].lstrip().startswith("#"):
                    top -= 1
                assert any("Source:" in c for c in lines[top:i]), (file.name, line)


@pytest.mark.parametrize("name, key", [
    ("xcvu9p-flga2104-2L-e", "vu9p"), ("XCVU9P", "vu9p"), ("vu9p", "vu9p"), ("  xcVU13P-FLGA2577-1-E ", "vu13p"),
    ("7z020clg400-1", "7z020"), ("xc7a200tl-ffg1156-2L", "7a200t"), ("xcu250-figd2104-2L-e", "u250"),
    ("xcu25", None), ("xcvu9", None), ("xcvu99p", None), ("", None), (None, None),
])
def test_part_names_match_rows(name, key):
    dev = parts.device(name)
    assert (dev.key if dev else None) == key == parts.device_key(name)
    assert parts.reference_part(name) == (dev.reference_part if dev else None)
    assert parts.part_totals(name) == (dev.totals if dev else None)


def test_device_is_frozen_and_copies_its_totals():
    dev = parts.device("vu9p")
    with pytest.raises(dataclasses.FrozenInstanceError):
        dev.dsp = "DSP58"
    dev.totals["LUT"] = 0
    parts.part_totals("vu9p")["FF"] = 0
    assert parts.device("vu9p").totals["LUT"] == 1_182_240 and parts.part_totals("vu9p")["FF"] == 2_364_480


def test_closest_parts():
    assert parts.closest_parts("xcvu99p-flga2104-2L-e")[0] == "xcvu9p-flga2104-2L-e"
    assert parts.closest_parts("xczu7ev", n=2) == ["xczu9eg-ffvb1156-2-e", "xczu49dr-ffvf1760-2-e"]
    assert len(parts.closest_parts("xc_nonexistent")) == 3


def test_utilization_with_explicit_totals():
    used = {"LUT": 500, "DSP": 10}
    assert parts.utilization(used, "unknown-part") == dict.fromkeys(parts.RESOURCES)
    frac = parts.utilization(used, "unknown-part", totals={"LUT": 1000, "DSP": 100, "URAM": 0})
    assert frac == {"LUT": 0.5, "FF": None, "DSP": 0.1, "BRAM_18K": None, "URAM": None}
    assert parts.utilization(used, "vu9p", totals={"LUT": 1000})["LUT"] == 0.5  # given totals win


def test_the_table_is_read_once_and_ships_with_the_package():
    parts._table()
    before = parts._table.cache_info()
    parts.device("vu9p"), parts.part_totals("xcvu13p"), parts.closest_parts("x")
    assert parts._table.cache_info().misses == before.misses
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = {p for pattern in data["l1tag.hardware"] for p in (REPO / "l1tag" / "hardware").glob(pattern)}
    assert shipped == set(parts.PARTS_DIR.glob("*.yaml")) | {REPO / "l1tag" / "hardware" / "error_band.json"}


def test_unset_limits_are_skipped(tmp_path):
    f = tmp_path / "loose.yaml"
    f.write_text("name: loose\npart: xcvu9p-flga2104-2L-e\nclock_ns: 5\n"
                 "limits:\n  latency_ns: 500\n  utilization:\n    DSP: 0.5\n")
    section = check_budget(hardware(ii_cycles=100, utilization={"LUT": None}), load_budget(f))
    assert set(by_name(section)) == {"part", "clock_ns", "latency_ns", "utilization_DSP"}
    assert section["pass"]


def test_enforce_names_every_failed_check(ii1):
    section = check_budget(hardware(latency_ns=412.0, utilization={"DSP": 0.31, "URAM": None}), ii1)
    with pytest.raises(BudgetViolation) as info:
        enforce(section)
    msg = str(info.value)
    assert info.value.exit_code == 3 and "\n" not in msg
    assert msg.startswith("budget l1t_360mhz_ii1 broken: ")
    assert "latency_ns 412.0 > 200.0" in msg and "utilization_DSP 0.31 > 0.15" in msg
    assert "utilization_URAM unknown" in msg and "ii_cycles" not in msg


def _png(path: Path) -> None:
    """A valid 1x1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


def _report(hw: dict, budget) -> dict:
    return {"l1tag_version": "0.1", "config": {"name": "salt_l1"},
            "model": {"type": "salt", "parameters": 3109, "flops": 51000, "bops": 2100000},
            "quality": {k: {"accuracy": 0.75, "auc_macro": 0.93, "rejection_at_tpr_0p5": {"g": 12.5}}
                        for k in ("float", "quantized", "firmware")},
            "csim": {"jets": 1000, "bit_exact_fraction": 1.0, "max_abs_diff_vs_quantized": 0.0039,
                     "argmax_agreement_vs_float": 0.97, "argmax_agreement_vs_quantized": 0.998},
            "hardware": hw, "budget": check_budget(hw, budget)}


def test_report_md_estimate(tmp_path, ii1):
    (tmp_path / "plots").mkdir()
    _png(tmp_path / "plots" / "roc_curves.png")
    path = write_report_md(tmp_path, _report(hardware(latency_ns=412.0), ii1))
    text = path.read_text()
    assert path == tmp_path / "report.md"
    assert text.startswith("# l1tag report: salt_l1")
    for title in ("## Model", "## Quality", "## C-simulation", "## Hardware", "## Budget", "## Plots"):
        assert title in text
    assert "**Estimate**" in text and "(estimate)" in text and "Vitis HLS" not in text
    assert "| PASS |" in text and "| **FAIL** |" in text and "breaks budget" in text
    assert "![roc_curves](plots/roc_curves.png)" in text and "*roc_curves*" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plots", "report.md"]


def test_report_md_vitis_and_partial_report(tmp_path, ii1):
    hw = hardware(source="vitis_hls")
    text = write_report_md(tmp_path, _report(hw, ii1)).read_text()
    assert "Parsed from Vitis HLS synthesis report" in text and "Estimate" not in text
    assert "**PASS**" in text
    # Written after an early stage: only what exists is shown; rewriting replaces the file.
    text = write_report_md(tmp_path, {"config": {"name": "salt_l1"}, "model": {"type": "salt"}}).read_text()
    assert "## Model" in text and "## Hardware" not in text and "## Budget" not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]


def test_tables_label_sources(ii1):
    assert hardware_table(hardware(source="vivado_hls")).startswith("Parsed from Vivado HLS")
    table = hardware_table(hardware(utilization={"URAM": None}))
    assert table.startswith("**Estimate**") and "n/a (part total unknown)" in table and "34.0 %" in table
    assert "**PASS**" in budget_table(check_budget(hardware(source="vitis_hls"), ii1))


@pytest.mark.parametrize("text, problem", [
    ("family: other\nparts: []\n", "expected 'family: fam' and a list 'parts'"),
    ("family: fam\nparts:\n  - {key: vu9p, reference_part: xcvu9p-flga2104-2L-e}\n", "expected the keys"),
    (("family: fam\nparts:\n  - {key: vu9p, reference_part: xcvu9p, dsp: {slice: D, a_bits: 27, b_bits: 18},\n"
      "     totals: {LUT: 1, FF: 1, DSP: 1, BRAM_18K: 1}}\n"), "totals: expected non-negative ints"),
    (("family: fam\nparts:\n  - {key: vu13p, reference_part: xcvu9p, dsp: {slice: D, a_bits: 27, b_bits: 18},\n"
      "     totals: {LUT: 1, FF: 1, DSP: 1, BRAM_18K: 1, URAM: 0}}\n"), "key must be the device name"),
])
def test_a_broken_parts_file_is_named(tmp_path, monkeypatch, text, problem):
    (tmp_path / "fam.yaml").write_text(text)
    monkeypatch.setattr(parts, "PARTS_DIR", tmp_path)
    parts._table.cache_clear()
    try:
        with pytest.raises(L1tagError) as err:
            parts.device("vu9p")
        assert "fam.yaml" in str(err.value) and problem in str(err.value)
    finally:
        monkeypatch.undo()
        parts._table.cache_clear()
    assert parts.device("vu9p").family == "virtex_ultrascale_plus"


def test_require_margin_error_band_fails_an_estimate_that_fits_only_without_its_band(ii1):
    """LUT at 34 % of a 35 % limit passes as it is, and fails at the high end of a -30 %…+15 % band (39.1 %);
    latency 143 ns of 200 passes either way (+7 %: 152 ns); FF, measured without a band, cannot pass."""
    band = {"median_abs_pct": 15.0, "p80_abs_pct": 40.0, "n": 25, "repositories": 10}
    hw = hardware(error_band={"LUT": {**band, "low_pct": -30.0, "high_pct": 15.0},
                              "latency_cycles": {**band, "low_pct": -50.0, "high_pct": 7.0}})
    assert check_budget(hw, ii1)["pass"]
    section = check_budget(hw, ii1, "error_band")
    checks = by_name(section)
    assert failed(section) == {"utilization_LUT"} and checks["utilization_LUT"]["value"] == 0.34
    assert checks["utilization_LUT"]["value_with_margin"] == pytest.approx(0.391)
    assert checks["latency_ns"]["value_with_margin"] == pytest.approx(141.78 * ((51 + 1) * 1.07 - 1) / 51)  # on cycles
    assert "-30 %…+15 %" in checks["utilization_LUT"]["note"] and checks["utilization_LUT"]["band"] == "-30 %…+15 %"
    with pytest.raises(BudgetViolation, match=r"utilization_LUT 0.34 at its error band's high end = 0.391 > 0.35"):
        enforce(section)
    no_band = {**hw, "error_band": {**hw["error_band"], "FF": {**band, "low_pct": None, "high_pct": None}}}
    assert not by_name(check_budget(no_band, ii1, "error_band"))["utilization_FF"]["pass"]
    # a vendor report carries no band: the margin applies to estimates only
    assert check_budget({**hw, "source": "vitis_hls"}, ii1, "error_band")["pass"]


def test_report_md_says_what_ii_and_latency_rest_on(tmp_path):
    """report.md puts the pragmas the estimate assumes, the census and what no tool checks next to II and
    latency; without a schedule section (a vendor report's project, say) it says nothing of them."""
    from l1tag.hardware.schedule import PRAGMAS, UNCHECKED
    from l1tag.report.markdown import render_report_md

    schedule = {"structure": {"pass": True}, "pragmas": PRAGMAS, "unchecked": UNCHECKED, "products_match": True,
                "census": {"source": "g++ GIMPLE (-O2 -fno-inline)", "dividers": 0, "products": 12,
                           "products_by_width": {"8x8": 12}}}
    text = render_report_md(tmp_path, {"hardware": hardware(), "schedule": schedule})
    assert "### What II and latency rest on" in text and 'see "What II and latency rest on" below' in text
    assert all(f"- {p}" in text for p in PRAGMAS + UNCHECKED)
    assert "0 dividers, 12 products per loop iteration" in text and "the estimate prices the same products" in text
    assert "rest on" not in render_report_md(tmp_path, {"hardware": hardware(source="vivado_hls")})


def test_a_budget_with_events_counts_the_instances_the_jets_need():
    """16 jets per event: the default design (II 4 at 5 ns, a jet every 20 ns) keeps up with a TM18 board's
    450 ns on one instance, its 16th jet out 15 intervals after the first (600 ns); fed at the seeded-cone
    jets' ~150 ns it needs 3 instances, whose LUTs together (70.7 %) break the 50 % limit: exit 3, and
    report.md says why."""
    tm18 = load_budget(BUDGETS / "l1t_200mhz_tm18.yaml")
    assert (tm18.events.jets_per_event, tm18.events.period_ns) == (16, 450)
    hw = {"source": "estimate", "part": "xcvu13p-flga2577-2-e", "clock_ns": 5.0, "latency_cycles": 60,
          "latency_ns": 300.0, "ii_cycles": 4, "resources": {"LUT": 407145, "FF": 193106, "DSP": 344},
          "utilization": {"LUT": 0.2356, "FF": 0.0559, "DSP": 0.028, "BRAM_18K": 0.05, "URAM": 0.0}}
    section = check_budget(hw, tm18)
    assert section["pass"] and section["throughput"]["instances"] == 1
    assert by_name(section)["latency_ns"]["value"] == 600.0 and by_name(section)["utilization_LUT"]["value"] == 0.2356
    fed_faster = dataclasses.replace(tm18, events=dataclasses.replace(tm18.events, period_ns=150.0))
    section = check_budget(hw, fed_faster)
    assert section["throughput"] == {"jets_per_event": 16, "period_ns": 150.0, "jet_interval_ns": 20.0,
                                     "instances": 3, "rounds": 6, "latency_ns": 400.0}
    assert failed(section) == {"utilization_LUT"}
    assert by_name(section)["utilization_LUT"]["value"] == pytest.approx(3 * 0.2356)
    with pytest.raises(BudgetViolation, match=r"utilization_LUT 0.7068 > 0.5"):
        enforce(section)
    assert "**3 instance(s)** are needed" in budget_table(section)
    assert check_budget(hw, dataclasses.replace(tm18, events=None))["checks"][2]["value"] == 300.0  # no events


def test_every_shipped_budget_states_its_throughput():
    """Both shipped budgets carry their events; the CMS DeepSets tagger's numbers (II 1 at 2.78 ns) keep up with
    16 jets at 6.7 MHz on one instance, its 16th jet out at 141.78 + 15 x 2.78 = 183.5 ns, within 200 ns."""
    for f in sorted(BUDGETS.glob("*.yaml")):
        events = load_budget(f).events
        assert events is not None and events.jets_per_event == 16 and events.period_ns > 0, f.name
    section = check_budget(hardware(), load_budget(BUDGETS / "l1t_360mhz_ii1.yaml"))
    assert section["pass"] and section["throughput"]["instances"] == 1
    assert by_name(section)["latency_ns"]["value"] == pytest.approx(141.78 + 15 * 2.78)
