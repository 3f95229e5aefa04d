"""hls4ml project directories on disk: `l1tag estimate` on each config style, and hardware_section's choice.

A tiny QKeras model (Conv1D + QDense, a few units) is saved in tmp_path with an hls4ml_config.yml that
names it the way hls4ml 1.x does (KerasModel) or the older way (KerasJson + KerasH5, or KerasH5 alone).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
import tensorflow as tf
import yaml
from hls_report_fixtures import VIVADO_2020, hls_project, report_dir

from l1tag.cli import main
from l1tag.errors import DataError, StageMissingError
from l1tag.hardware.section import hardware_section

HLS_CONFIG = {"Model": {"Precision": "ap_fixed<16,6>", "ReuseFactor": 1, "Strategy": "Latency"}}


def _model(units: int = 3) -> tf.keras.Model:
    from qkeras import QDense, quantized_bits

    tf.keras.utils.set_random_seed(1)
    inp = tf.keras.Input((8, 2), name="x")
    x = tf.keras.layers.Conv1D(2, 3, name="conv")(inp)
    x = tf.keras.layers.Flatten(name="flat")(x)
    out = QDense(units, kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=quantized_bits(8, 0, alpha=1),
                 name="fc")(x)
    return tf.keras.Model(inp, out)


def _project(run_dir: Path, style: str, name: str = "myproject", units: int = 3, hls_config: dict | None = None,
             out: str = "prj") -> Path:
    """hls4ml_config.yml in ``run_dir/out`` naming the model in ``style``; model files where hls4ml puts them."""
    prj = run_dir / out
    prj.mkdir(parents=True)
    model = _model(units)
    cfg = {"Backend": "Vitis", "ClockPeriod": 5, "HLSConfig": hls_config or HLS_CONFIG, "IOType": "io_parallel",
           "OutputDir": out, "Part": "xcvu13p-flga2577-2-e", "ProjectName": name}
    tag = ""
    if style == "KerasModel":  # hls4ml 1.x: the model saved next to the config, a tagged path to it
        model.save(prj / "keras_model.h5")
        tag = f"KerasModel: !keras_model '{out}/keras_model.h5'\n"
    elif style == "KerasJson":  # older: architecture and weights next to where hls4ml ran
        (run_dir / "model.json").write_text(model.to_json())
        model.save_weights(run_dir / "model_weights.h5")
        cfg.update(KerasJson="model.json", KerasH5="model_weights.h5")
    elif style == "KerasH5":  # older: one whole-model file, copied next to the config
        model.save(prj / "model.h5")
        cfg["KerasH5"] = "/somewhere/else/model.h5"
    (prj / "hls4ml_config.yml").write_text(tag + yaml.safe_dump(cfg))
    return prj


def _estimate(capsys, *args) -> tuple[int, dict | None, str]:
    code = main(["-q", "estimate", *map(str, args)])
    out, err = capsys.readouterr()
    return code, json.loads(out) if code == 0 else None, err


def test_estimate_reads_every_config_style(tmp_path, capsys):
    """KerasModel, KerasJson + KerasH5 and KerasH5 alone rebuild the same model, so the same estimate."""
    results = {}
    for style in ("KerasModel", "KerasJson", "KerasH5"):
        code, est, err = _estimate(capsys, _project(tmp_path / style, style))
        assert code == 0, err
        assert est["source"] == "estimate" and est["part"] == "xcvu13p-flga2577-2-e"
        assert set(est["resources"]) == {"LUT", "FF", "DSP", "BRAM_18K", "URAM"} and est["latency_cycles"] > 0
        results[style] = est
    assert results["KerasJson"] == results["KerasModel"] == results["KerasH5"]


def test_estimate_unsupported_attribute_value_exits_2(tmp_path, capsys):
    """hls4ml 1.3 refuses ConvImplementation: Pointwise; the one line names the layer, value and choices."""
    cfg = {**HLS_CONFIG, "LayerName": {"conv": {"ConvImplementation": "Pointwise"}}}
    prj = _project(tmp_path, "KerasJson", hls_config=cfg)
    code, _, err = _estimate(capsys, prj)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    for part in (str(prj / "hls4ml_config.yml"), "layer 'conv'", "ConvImplementation 'Pointwise'",
                 "LineBuffer, Encoded"):
        assert part in err, (part, err)


def test_estimate_unsupported_layer_exits_2(tmp_path, capsys):
    """Any other refusal of hls4ml's is one DataError line with hls4ml's reason, not an internal error."""
    inp = tf.keras.Input((4,))
    model = tf.keras.Model(inp, tf.keras.layers.Lambda(lambda x: 2 * x, name="double")(inp))
    model.save(tmp_path / "keras_model.h5")
    (tmp_path / "hls4ml_config.yml").write_text(yaml.safe_dump({"HLSConfig": HLS_CONFIG, "ProjectName": "lam"}))
    code, _, err = _estimate(capsys, tmp_path)
    assert code == 2 and "Unsupported layer type: Lambda" in err and err.count("\n") == 1, err


def test_estimate_missing_or_broken_model_files_exit_2(tmp_path, capsys):
    prj = _project(tmp_path / "a", "KerasJson")
    (tmp_path / "a" / "model_weights.h5").unlink()
    code, _, err = _estimate(capsys, prj)
    assert code == 2 and "KerasH5" in err and "model_weights.h5" in err and "internal error" not in err
    prj = _project(tmp_path / "b", "KerasJson")
    (tmp_path / "b" / "model.json").write_text("{not json")
    code, _, err = _estimate(capsys, prj)
    assert code == 2 and "model.json" in err and err.count("\n") == 1
    prj = _project(tmp_path / "c", "none")
    code, _, err = _estimate(capsys, prj)
    assert code == 2 and "keras_model" in err


def test_estimate_top_picks_the_project(tmp_path, capsys):
    """A folder with several hls4ml projects: --top names one by ProjectName; an unknown one lists them."""
    _project(tmp_path, "KerasModel", name="small", units=2, out="a")
    _project(tmp_path, "KerasModel", name="large", units=12, out="b")
    _, small, _ = _estimate(capsys, tmp_path, "--top", "small")
    _, large, _ = _estimate(capsys, tmp_path, "--top", "large")
    _, default, _ = _estimate(capsys, tmp_path)
    assert small["resources"]["LUT"] < large["resources"]["LUT"] and default == small  # the first by path
    code, _, err = _estimate(capsys, tmp_path, "--top", "medium")
    assert code == 2 and "'medium'" in err and "small (a/hls4ml_config.yml)" in err and "large" in err


def _hls_model(tmp_path: Path):
    import hls4ml

    with contextlib.redirect_stdout(io.StringIO()):
        return hls4ml.converters.convert_from_keras_model(_model(), hls_config=HLS_CONFIG, backend="Vitis",
                                                          output_dir=str(tmp_path / "conv"),
                                                          part="xcvu13p-flga2577-2-e")


def test_hardware_section_vendor_report_when_synthesized(tmp_path):
    prj = hls_project(_project(tmp_path, "KerasModel"), VIVADO_2020)
    hw = hardware_section(prj, top="myproject")
    assert (hw["source"], hw["resources"]["DSP"]) == ("vivado_hls", VIVADO_2020.resources["DSP"])


def test_hardware_section_estimate_of_the_model_in_memory(tmp_path, monkeypatch):
    """Not synthesized: the build's model in memory is estimated; nothing is rebuilt from disk."""
    from l1tag.hardware import project

    def no_disk(*args, **kwargs):
        raise AssertionError("estimate_project must not run when the model is in memory")

    hls_model = _hls_model(tmp_path)
    monkeypatch.setattr(project, "estimate_project", no_disk)
    empty = tmp_path / "hls"
    empty.mkdir()
    hw = hardware_section(empty, hls_model=hls_model)
    assert hw["source"] == "estimate" and hw["part"] == "xcvu13p-flga2577-2-e"


def test_hardware_section_estimate_from_disk(tmp_path):
    """Not synthesized and no model in memory: the project on disk is rebuilt and estimated (the same numbers)."""
    hls_model = _hls_model(tmp_path)
    prj = _project(tmp_path, "KerasModel")
    from_disk = hardware_section(prj)
    assert from_disk["source"] == "estimate"
    assert from_disk["resources"] == hardware_section(prj, hls_model=hls_model)["resources"]


def test_hardware_section_malformed_report_is_an_error(tmp_path):
    """A report that is there but broken is an error, not silently replaced by the estimate."""
    prj = hls_project(tmp_path / "prj", VIVADO_2020, rpt=False)
    xml = report_dir(prj) / "myproject_csynth.xml"
    xml.write_text(xml.read_text()[:400])
    with pytest.raises(DataError, match="myproject_csynth.xml"):
        hardware_section(prj, hls_model=object())
    with pytest.raises(StageMissingError, match="l1tag convert"):
        hardware_section(tmp_path / "absent")
