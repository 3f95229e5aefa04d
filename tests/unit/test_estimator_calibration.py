"""The estimator's calibration: per-tool rules, the measured error band it carries, every real project."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from l1tag.hardware.error_band import band_words, error_band, hardware_words
from l1tag.hardware.estimate import TOOL_RULES, estimate_model, tool_of
from l1tag.report.markdown import hardware_table

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "hls_reports"
TARGETS = {"latency_cycles": 25, "LUT": 25, "FF": 25, "DSP": 10, "BRAM_18K": 50}  # issue #15, leave-one-out


def test_the_shipped_error_band_is_leave_one_out_and_meets_the_targets():
    bands = error_band()
    for q, target in TARGETS.items():
        assert bands[q]["n"] >= 7 and bands[q]["median_abs_pct"] <= target, q
        assert bands[q]["p80_abs_pct"] >= bands[q]["median_abs_pct"], q


def test_the_two_tools_differ_where_their_documentation_says():
    vivado, vitis = TOOL_RULES["vivado_hls"], TOOL_RULES["vitis_hls"]
    assert (vivado.clock_uncertainty, vitis.clock_uncertainty) == (0.125, 0.27)  # hls4ml's backend defaults
    assert (vivado.fifo_srl_max_bits, vitis.fifo_srl_max_bits) == (512, 1024)
    assert vivado.fifo_per_element and not vitis.fifo_per_element


def test_every_number_of_an_estimate_carries_its_band():
    hw = {"source": "estimate", "latency_cycles": 40, "latency_ns": 200.0, "ii_cycles": 4,
          "resources": {"LUT": 250137, "FF": 115410, "DSP": 192, "BRAM_18K": 320}, "error_band": error_band()}
    lut = error_band()["LUT"]
    words = f"ESTIMATE, typically within ±{lut['median_abs_pct']:.0f} %, n = {lut['n']} real designs"
    assert band_words("LUT") == words and band_words("utilization_LUT") == words
    line = hardware_words(hw)
    assert f"LUT 250137 (±{lut['median_abs_pct']:.0f} %)" in line and "real designs" in line
    md = hardware_table({**hw, "part": "xcvu13p-flga2577-2-e", "clock_ns": 5.0})
    assert f"cycles = 200 ns ({band_words('latency_cycles')})" in md
    assert f"| ±{lut['median_abs_pct']:.0f} % | ±{lut['p80_abs_pct']:.0f} % |" in md
    assert "(±" not in hardware_words({**hw, "source": "vitis_hls"})  # a vendor report is not banded


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/hls_reports is not next to the checkout")
def test_every_shared_project_with_a_model_is_estimated_without_an_error():
    from l1tag.hardware.project import load_project

    tools = set()
    projects = [c.parent for c in sorted(SHARED.rglob("hls4ml_config.yml"))]
    assert len(projects) >= 9
    for prj in projects:
        with contextlib.redirect_stdout(io.StringIO()):
            model = load_project(prj)
            est = estimate_model(model)
        assert est["resources"]["LUT"] > 0 and est["latency_cycles"] > 0, prj
        assert est["tool"] == tool_of(model) and est["error_band"] == error_band()
        tools.add(est["tool"])
    assert tools == {"vivado_hls", "vitis_hls"}


def test_the_budget_table_shows_each_estimated_value_with_its_band():
    from l1tag.report.markdown import budget_table

    lut = error_band()["LUT"]["median_abs_pct"]
    md = budget_table({"name": "b", "pass": True, "checks": [
        {"name": "utilization_LUT", "limit": 0.5, "value": 0.15, "pass": True, "margin": 0.7, "source": "estimate"},
        {"name": "part", "limit": "vu13p", "value": "vu13p", "pass": True, "margin": None, "source": "estimate"}]})
    assert f"| `utilization_LUT` | 0.5 | 0.15 | ±{lut:.0f} % | +70.0 % | PASS |" in md
    assert "| `part` | vu13p | vu13p | — |" in md


def test_a_global_max_pooling_is_a_tree_of_compare_and_selects():
    """n - 1 compare-and-selects per feature (the open synthesis counted 7,936 LUT for 32 x 16 at 8 bits;
    the rule gives 31 x 16 x (10 + 8) = 8,928), log2 n levels deep."""
    from types import SimpleNamespace as NS

    from l1tag.hardware.estimate import Target
    from l1tag.hardware.estimate.stock import global_pooling

    var = NS(shape=[32, 16], type=NS(precision=NS(width=8, integer=3, signed=False)))
    node = NS(get_input_variable=lambda: var, get_attr=lambda key, default=None: "max")
    row = global_pooling(node, Target(clock_ns=5.0))
    assert row["LUT"] == 31 * 16 * (7 + 3 + 8) == 8928 and row["FF"] == 16 * 8
    assert row["latency"] >= 1 and row["delay_ns"] == pytest.approx(5 * 0.65)


def test_every_tool_rule_is_data_with_its_source(tmp_path):
    """tools/<tool>.yaml: every ToolRules field once, each with a value of its type and a source."""
    import yaml

    from l1tag.errors import L1tagError
    from l1tag.hardware.estimate.tools import TOOLS_DIR, load_rules

    assert {p.stem for p in TOOLS_DIR.glob("*.yaml")} == set(TOOL_RULES)
    good = yaml.safe_load((TOOLS_DIR / "vitis_hls.yaml").read_text())
    assert load_rules(TOOLS_DIR / "vitis_hls.yaml") == TOOL_RULES["vitis_hls"]
    broken = {"missing": {k: v for k, v in good.items() if k != "zeropad_lut"},
              "no_source": {**good, "stream_conv_ii": {"value": 3, "source": ""}},
              "wrong_type": {**good, "fifo_per_element": {"value": 1, "source": "x"}}}
    for name, data in broken.items():
        (tmp_path / "vitis_hls.yaml").write_text(yaml.safe_dump(data))
        with pytest.raises(L1tagError):
            load_rules(tmp_path / "vitis_hls.yaml")
