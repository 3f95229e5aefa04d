"""Models the converter cannot handle: one clear message naming the layer, exit 2 from the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import yaml
from qkeras import QActivation, QDense

from l1tag.cli import main
from l1tag.config import config_from_dict
from l1tag.errors import ConversionError
from l1tag.hls.convert import convert_model
from l1tag.models.builders import build_model

Q8 = "quantized_bits(8,1,alpha=1)"


def _tiny(layer_between):
    inp = tf.keras.Input((4, 3), name="constituents")
    x = QActivation("quantized_bits(12,4,alpha=1)", name="input_q")(inp)
    x = QDense(4, kernel_quantizer=Q8, bias_quantizer=Q8, name="embed")(x)
    x = QActivation("quantized_relu(8,3)", name="embed_act")(x)
    x = layer_between(x)
    x = tf.keras.layers.GlobalMaxPooling1D(name="pool")(x)
    x = QDense(5, kernel_quantizer=Q8, bias_quantizer=Q8, name="logits")(x)
    return tf.keras.Model(inp, tf.keras.layers.Activation("softmax", name="softmax")(x))


HLS = config_from_dict({"name": "e"}).hls


def test_unsupported_layer_is_named(tmp_path):
    model = _tiny(tf.keras.layers.Conv1D(4, 3, padding="same", name="odd_conv"))
    with pytest.raises(ConversionError, match=r"layer 'odd_conv' \(Conv1D\) is not supported"):
        convert_model(model, HLS, tmp_path / "hls")


def test_unsupported_quantizer_is_named(tmp_path):
    inp = tf.keras.Input((4, 3), name="constituents")
    x = QActivation("quantized_bits(12,4,alpha=1)", name="input_q")(inp)
    x = QDense(4, kernel_quantizer="quantized_po2(4)", bias_quantizer=Q8, name="po2_dense")(x)
    x = tf.keras.layers.GlobalMaxPooling1D(name="pool")(x)
    x = QDense(5, kernel_quantizer=Q8, bias_quantizer=Q8, name="logits")(x)
    with pytest.raises(ConversionError, match="layer 'po2_dense' kernel_quantizer: .*quantized_po2.* not supported"):
        convert_model(tf.keras.Model(inp, x), HLS, tmp_path / "hls")


def test_float_model_is_refused(tmp_path):
    cfg = config_from_dict({"name": "f", "model": {"d_model": 8, "heads": 2, "partitions": 2}})
    with pytest.raises(ConversionError, match="not the float one"):
        convert_model(build_model(cfg.model, 8, 3, None), HLS, tmp_path / "hls")


def test_mean_pooling_is_refused_with_the_fix(tmp_path):
    model = _tiny(lambda x: x)
    inp = model.input
    x = model.get_layer("embed_act").output
    x = tf.keras.layers.GlobalAveragePooling1D(name="mean_pool")(x)
    x = QDense(5, kernel_quantizer=Q8, bias_quantizer=Q8, name="logits")(x)
    with pytest.raises(ConversionError, match="mean_pool.*use model.pooling: max"):
        convert_model(tf.keras.Model(inp, x), HLS, tmp_path / "hls")


def test_cli_convert_exits_2_naming_the_layer(tmp_path, capsys):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(yaml.safe_dump({"name": "bad"}))
    build = tmp_path / "build"
    (build / "model").mkdir(parents=True)
    model = _tiny(tf.keras.layers.Conv1D(4, 3, padding="same", name="odd_conv"))
    model(np.zeros((1, 4, 3), np.float32))
    model.save(build / "model" / "qat.h5")
    (build / ".l1tag-build").write_text("")  # a build folder l1tag made (only such a folder is written to)
    capsys.readouterr()
    assert main(["convert", "-c", str(cfg_file), "-o", str(build)]) == 2
    err = capsys.readouterr().err
    assert "odd_conv" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_convert_without_a_trained_model_says_so(tmp_path, capsys):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(yaml.safe_dump({"name": "none"}))
    assert main(["convert", "-c", str(cfg_file), "-o", str(tmp_path / "b")]) == 1
    assert "run `l1tag train" in capsys.readouterr().err
