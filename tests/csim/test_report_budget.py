"""`l1tag report`: hardware estimate of a converted project, budget check, report.md; exit 3 on violation."""

from __future__ import annotations

import json

import yaml

from l1tag.cli import main
from l1tag.config import load_config
from l1tag.hls.convert import convert_model
from l1tag.models.builders import build_model

TINY = {"d_model": 8, "heads": 2, "partitions": 2, "ffn_dim": 8, "head_dims": [8]}


def _build(tmp_path, limits: dict):
    (tmp_path / "budget.yaml").write_text(yaml.safe_dump({
        "name": "tiny_budget", "part": "xcvu13p-flga2577-2-e", "clock_ns": 5.0, "limits": limits}))
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(yaml.safe_dump({"name": "tiny", "data": {"constituents": 8}, "model": TINY,
                                        "budget": {"file": "budget.yaml"}}))
    cfg = load_config(cfg_file)
    build = tmp_path / "build"
    convert_model(build_model(cfg.model, 8, 3, cfg.quantization), cfg.hls, build / "hls")
    (build / ".l1tag-build").write_text("")  # a build folder l1tag made (only such a folder is written to)
    return cfg_file, build


def test_within_budget_exits_0_and_labels_the_estimate(tmp_path, capsys):
    cfg_file, build = _build(tmp_path, {"latency_ns": 10000, "ii_cycles": 1, "utilization": {"LUT": 0.9}})
    assert main(["report", "-c", str(cfg_file), "-o", str(build)]) == 0
    report = json.loads((build / "report.json").read_text())
    assert report["hardware"]["source"] == "estimate"
    assert report["budget"]["pass"] is True and report["budget"]["name"] == "tiny_budget"
    md = (build / "report.md").read_text()
    assert "Estimate" in md and "PASS" in md
    layers = json.loads((build / "hardware_layers.json").read_text())
    assert any(r["class"].endswith("L1tagAttention") and r["multiplications"] > 0 for r in layers)


def test_budget_violation_exits_3_names_the_check_and_writes_everything(tmp_path, capsys):
    cfg_file, build = _build(tmp_path, {"latency_ns": 5.0, "ii_cycles": 1})
    capsys.readouterr()
    assert main(["report", "-c", str(cfg_file), "-o", str(build)]) == 3
    err = capsys.readouterr().err
    assert "latency_ns" in err and "tiny_budget" in err and "Traceback" not in err
    report = json.loads((build / "report.json").read_text())
    assert report["budget"]["pass"] is False
    failed = [c["name"] for c in report["budget"]["checks"] if not c["pass"]]
    assert failed == ["latency_ns"]
    assert "FAIL" in (build / "report.md").read_text()


def test_report_html_is_self_contained(tmp_path, capsys):
    cfg_file, build = _build(tmp_path, {"latency_ns": 10000})
    (build / "plots").mkdir()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(2, 2))
    fig.savefig(build / "plots" / "roc.png")
    plt.close(fig)
    assert main(["report", "-c", str(cfg_file), "-o", str(build), "--html"]) == 0
    page = (build / "report.html").read_text()
    assert "data:image/png;base64," in page and 'src="plots/' not in page
    assert "<table>" in page and "Estimate" in page


def test_synth_without_the_vendor_tool_says_so_and_keeps_the_estimate(tmp_path, caplog, monkeypatch):
    import logging

    from l1tag.build import run_vendor_synthesis

    monkeypatch.setenv("PATH", str(tmp_path))  # no vitis-run / vivado_hls anywhere
    monkeypatch.setattr(logging.getLogger("l1tag"), "propagate", True)  # the CLI detaches it from the root
    cfg_file, build = _build(tmp_path, {"latency_ns": 10000})
    with caplog.at_level(logging.WARNING, logger="l1tag"):
        run_vendor_synthesis(load_config(cfg_file), build / "hls")
    assert "vitis-run is not on PATH" in caplog.text and "ESTIMATE" in caplog.text
