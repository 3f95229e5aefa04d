"""Budget checks against the shipped and hand-written budget files, and report.md rendering."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest

from l1tag.config import load_budget
from l1tag.errors import BudgetViolation
from l1tag.hardware.budget import check_budget, enforce
from l1tag.report.markdown import budget_table, hardware_table, write_report_md

BUDGETS = Path(__file__).resolve().parents[2] / "configs" / "budgets"


@pytest.fixture
def ii1():
    return load_budget(BUDGETS / "l1t_360mhz_ii1.yaml")


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
    tm18 = load_budget(BUDGETS / "l1t_200mhz_tm18.yaml")
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
    assert "xcku115" in by_name(section)["part"]["note"]
    # Speed grade and case differences do not matter.
    assert check_budget(hardware(part="XCVU9P-flgb2104-1-i"), ii1)["pass"]


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
