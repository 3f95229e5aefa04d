"""Heterogeneous quantization through the whole flow on tiny taggers of every kind: trained with the EBOPs
controller, converted, C-simulated bit for bit against the fixed-point reference and the Keras model; and
the controller reaching its target."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from l1tag import kinds
from l1tag.hls.convert import convert_model, run_csim
from l1tag.train.trainer import train_models

pytest.importorskip("HGQ")
from test_convert_csim import data, jets_file, tiny_config  # noqa: E402, F401  (the module's jets fixtures)


def hetero_config(kind: str, target: int, batch_size: int = 64, qat_epochs: int = 3, resource: str = "ebops"):
    cfg = tiny_config(kind)
    quantization = dataclasses.replace(cfg.quantization, mode="heterogeneous",
                                       target=dataclasses.replace(cfg.quantization.target, **{resource: target}))
    return dataclasses.replace(cfg, quantization=quantization,
                               train=dataclasses.replace(cfg.train, batch_size=batch_size, qat_epochs=qat_epochs))


@pytest.mark.parametrize("kind", [k for k in kinds.NAMES if not kinds.get(k).momentum])  # per-weight bits would
def test_heterogeneous_firmware_is_bit_exact_with_its_own_weight_grids(kind, data, tmp_path):  # untie L-GATr's
    """Weights on many grids (and some pruned to zero) in the firmware; C-sim == reference == Keras model."""
    from l1tag.models.layers import HQDense
    from l1tag.models.layers.hetero import exact_bits, model_ebops

    cfg = hetero_config(kind, target=4000, batch_size=16)
    float_model, qat_model, history = train_models(cfg, data)
    layers = [layer for layer in qat_model.layers if isinstance(layer, HQDense)]
    assert layers and history["heterogeneous"]["start_ebops"] > model_ebops(qat_model)
    kernels = np.concatenate([layer.firmware_kernel().ravel() for layer in layers])
    assert (kernels == 0).any() and len(np.unique(exact_bits(kernels[kernels != 0]))) > 2
    converted = convert_model(qat_model, cfg.hls, tmp_path / "hls")
    s = run_csim(converted, data.x["test"][:100], qat_model, float_model)
    np.testing.assert_array_equal(s.pop("_outputs"), s.pop("_reference"))
    assert s["bit_exact_fraction"] == 1.0, s.get("first_mismatch")
    assert s["max_abs_diff_vs_quantized"] == 0.0 and s["argmax_agreement_vs_quantized"] == 1.0


def test_the_controller_brings_the_ebops_to_the_target(data):
    """From ~32k EBOPs (uniform 6 fractional bits) to a 16k target: the kept epoch within 10 %."""
    from l1tag.models.layers.hetero import model_ebops

    cfg = hetero_config("deepsets", target=16000, batch_size=16, qat_epochs=8)
    _, qat_model, history = train_models(cfg, data)
    h = history["heterogeneous"]
    assert h["start_ebops"] > 1.8 * 16000
    assert h["kept"]["within_tolerance"] and abs(model_ebops(qat_model) / 16000 - 1) <= 0.10
    assert h["kept"]["ebops"] == model_ebops(qat_model)


@pytest.mark.slow  # two trainings and nine conversions (~2 minutes): the default suite keeps the EBOPs controller test
def test_a_lut_target_is_reached_by_the_estimate_and_one_below_the_floor_is_refused(data):
    """quantization.target.lut: the EBOPs target from the estimate's floor and start, corrected during QAT;
    the kept model's ESTIMATE within 10 % of the target.  A target at the floor: ConfigError (exit 2)."""
    from l1tag.errors import ConfigError
    from l1tag.hardware.lut_target import LutTarget

    probe = LutTarget(hetero_config("deepsets", target=1, resource="lut"))
    _, model, _ = train_models(hetero_config("deepsets", target=16000, qat_epochs=1), data)
    floor, start = probe.floor(model), probe.estimate(model)
    assert 0 < floor < start
    target = int(floor + 0.5 * (start - floor))
    cfg = hetero_config("deepsets", target=target, batch_size=16, qat_epochs=8, resource="lut")
    lut_target = LutTarget(cfg)
    _, qat_model, history = train_models(cfg, data, lut_target=lut_target)
    record = history["heterogeneous"]["lut"]
    assert record["floor_lut"] == floor and len(record["corrections"]) == 3
    assert abs(lut_target.estimate(qat_model) / target - 1) <= 0.10
    with pytest.raises(ConfigError, match=f"quantization.target.lut {floor:,} is not above {floor:,}, the ESTIMATE"):
        train_models(hetero_config("deepsets", target=floor, resource="lut"), data, lut_target=LutTarget(
            hetero_config("deepsets", target=floor, resource="lut")))


def test_a_lut_target_at_or_below_the_floor_is_refused_before_training():
    """The floor is the estimate with every heterogeneous weight removed: a target there cannot be reached."""
    import tensorflow as tf

    from l1tag.errors import ConfigError
    from l1tag.hardware.lut_target import LutTarget
    from l1tag.models.builders import build_model

    cfg = hetero_config("deepsets", target=1, resource="lut")
    tf.keras.utils.set_random_seed(8)
    model = build_model(cfg.model, 8, 3, cfg.quantization, table_size=cfg.hls.table_size)
    lut_target = LutTarget(cfg)
    floor = lut_target.floor(model)
    assert 0 < floor < lut_target.estimate(model)  # the weights cost LUTs, and removing them is restored after
    with pytest.raises(ConfigError, match=f"quantization.target.lut 1 is not above {floor:,}, the ESTIMATE of this "
                                          f"model with every heterogeneous weight removed"):
        lut_target.start(model)
