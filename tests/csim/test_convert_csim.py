"""Each tagger type, tiny and briefly trained on generated jets: convert with l1tag's hls4ml extension,
compile with g++, C-simulate, and check bit for bit against the NumPy fixed-point reference.

Fidelity (the csim.* checks of l1tag.build, on the test jets):
* vs the quantized (QKeras) model: identical logits -- its forward pass runs the firmware's tables and
  casts (l1tag/models/layers/firmware_ops.py), so agreement is 1.0 and the largest difference 0;
* vs the float model >= 0.70 and an accuracy drop <= 15 points: loose, for models trained for seconds.
The maximum |difference| of the logits is recorded as a test property and printed with -s.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import threading

import numpy as np
import pytest

from l1tag import kinds
from l1tag.config import config_from_dict
from l1tag.data.generate import generate
from l1tag.data.preprocess import prepare
from l1tag.data.readers import read_hls4ml
from l1tag.build import check_fidelity, fidelity_checks
from l1tag.errors import FidelityError
from l1tag.hls.convert import add_qualities, convert_model, csim_predict, run_csim
from l1tag.train.trainer import train_models
from tests.unit.taggers import MOMENTUM_NORMALISATION, kind_config

TYPES = kinds.NAMES  # every registered kind


@pytest.fixture(scope="module")
def jets_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("jets") / "jets.h5"
    generate(out, 500, seed=8, jobs=2, constituents=32, detector="none", progress=False)
    return str(out)


@pytest.fixture(scope="module")
def data(jets_file):
    return prepare(read_hls4ml(jets_file), 8, ("pt", "etarel", "phirel"), "kt", 0.0, "robust", (0.6, 0.2, 0.2), 8)


@pytest.fixture(scope="module")
def lorentz_data(jets_file):
    """The same jets as the Lorentz-equivariant kinds read them: the rest-frame four-momentum."""
    features = tuple(MOMENTUM_NORMALISATION[0])
    return prepare(read_hls4ml(jets_file), 8, features, "kt", 0.0, "momentum", (0.6, 0.2, 0.2), 8)


def data_of(kind: str, data, lorentz_data):
    return lorentz_data if kinds.get(kind).momentum else data


def tiny_config(kind: str, backend: str = "Vitis", strategy: str = "distributed_arithmetic",
                parallel: int | None = None):
    """A model trained for seconds: the fidelity checks run with the default thresholds for the firmware
    against the reference and the QKeras model, and loose ones against the float model.  ``parallel``: 2
    particles per clock, or all 8 where the kind's pair bias computes every pair at once (part).  The float
    twin of a pair-bias kind takes exact logarithms of unrounded inputs where the firmware's tables see pairs
    closer than their resolution: its agreement with the firmware is checked looser still, and so is the
    Lorentz-equivariant tagger's, whose outputs after seconds of training are nearly uniform over the classes
    (its argmax flips with the rounding of each component)."""
    pairs, lorentz = kinds.get(kind).pair_bias == kinds.PAIR_BIAS_ALWAYS, kinds.get(kind).momentum
    if parallel is None:
        parallel = 8 if pairs else 2
    settings = kind_config(kind)
    return config_from_dict({
        "name": f"tiny_{kind}", "seed": 8, "data": {"constituents": 8, **settings.get("data", {})},
        "model": settings["model"],
        "train": {"epochs": 6, "qat_epochs": 3, "batch_size": 64, "patience": 3},
        "hls": {"backend": backend, "strategy": strategy, "parallelization_factor": parallel},
        "csim": {"jets": 100, "min_argmax_agreement_float": 0.60 if pairs else 0.45 if lorentz else 0.70,
                 "max_accuracy_drop_float": 15.0},
    })


@pytest.fixture(scope="module")
def trained(data, lorentz_data):
    models = {}
    for kind in TYPES:
        cfg = tiny_config(kind)
        float_model, qat_model, _ = train_models(cfg, data_of(kind, data, lorentz_data))
        models[kind] = (cfg, float_model, qat_model)
    return models


@pytest.mark.parametrize("kind", TYPES)
def test_csim_is_bit_exact_and_agrees_with_the_models(kind, trained, data, lorentz_data, tmp_path, record_property):
    cfg, float_model, qat_model = trained[kind]
    data = data_of(kind, data, lorentz_data)
    converted = convert_model(qat_model, cfg.hls, tmp_path / "hls")
    x = data.x["test"][:100]
    s = run_csim(converted, x, qat_model, float_model)
    outputs = s.pop("_outputs")
    np.testing.assert_array_equal(outputs, s.pop("_reference"))
    # the jets split over threads give the outputs of one thread, in order
    xq = s.pop("_inputs")
    for workers in (1, 3):
        np.testing.assert_array_equal(csim_predict(converted.hls_model, xq, workers=workers), outputs)
    # hls4ml's predict re-sets the top function's ctypes argtypes on every call: never called from the threads
    callers, predict = [], converted.hls_model.predict
    converted.hls_model.predict = lambda v: (callers.append(threading.get_ident()), predict(v))[1]
    np.testing.assert_array_equal(csim_predict(converted.hls_model, xq, workers=4), outputs)
    assert callers == [threading.get_ident()]  # the first jet, which loads the tables, in this thread only
    add_qualities(s, outputs, data.y["test"][:100])
    for key in ("max_abs_diff_vs_quantized", "max_abs_diff_vs_float", "argmax_agreement_vs_quantized",
                "argmax_agreement_vs_float"):
        record_property(key, s[key])
    print(kind, {k: s[k] for k in s if not k.endswith("seconds")})
    assert s["jets"] == 100
    assert s["bit_exact_fraction"] == 1.0, s.get("first_mismatch")
    assert np.std(outputs) > 0, "trivial firmware output"
    # the QKeras model runs the firmware's tables and casts: the same logits, bit for bit
    assert s["max_abs_diff_vs_quantized"] == 0.0 and s["argmax_agreement_vs_quantized"] == 1.0
    assert s["accuracy_quantized"] == s["accuracy_firmware"]
    assert [c["threshold"] for c in fidelity_checks(cfg, s)] == [
        "csim.min_bit_exact_fraction", "csim.min_argmax_agreement_quantized", "csim.min_argmax_agreement_float",
        "csim.max_accuracy_drop_float"]
    check_fidelity(cfg, s)  # every threshold met, float agreement and accuracy drop included
    cpp = (tmp_path / "hls" / "firmware" / "myproject.cpp").read_text()
    if kind != "deepsets":
        params = (tmp_path / "hls" / "firmware" / "parameters.h").read_text()
        assert "l1tag::" in cpp  # the attention
        if cfg.hls.parallelization_factor < 8:  # P < n: DynamicTanh (or the products) inside a fused particle loop
            element = "product_element" if kinds.get(kind).momentum else "dynamic_tanh_element"
            assert f"l1tag::{element}<" in params and "particle_loop" in cpp
        else:  # P = n: every particle at once, no particle loop
            assert "particle_loop" not in cpp and "l1tag::full_attention_bias<" in cpp
        assert (tmp_path / "hls" / "firmware" / "nnet_utils" / "l1tag_attention.h").exists()
        # constants are built from their bits, never converted from a double at run time
        assert ("static param_t alpha() { return l1tag::from_bits<" in params) != kinds.get(kind).momentum
        assert not re.search(r"return ap_u?fixed<[^;]*>\(-?[0-9.]+\);", params)
    stubs = (tmp_path / "hls" / "firmware" / "nnet_utils" / "nnet_function_stubs.h").read_text()
    assert stubs.count("r.V = x.V;") == 4 and "r.range() = x.range();" not in stubs


@pytest.mark.parametrize("kind", TYPES)
def test_vivado_backend_writes_the_project(kind, trained, tmp_path):
    cfg, _, qat_model = trained[kind]
    cfg = dataclasses.replace(cfg, hls=dataclasses.replace(cfg.hls, backend="Vivado"))
    converted = convert_model(qat_model, cfg.hls, tmp_path / "hls")
    assert (tmp_path / "hls" / "build_prj.tcl").exists()
    assert (tmp_path / "hls" / "firmware" / "myproject.cpp").exists()
    assert converted.hls_model.config.backend.name == "Vivado"


@pytest.mark.slow  # suite time: the Vivado project is written in the default suite, compiled here
def test_vivado_csim_is_bit_exact(trained, data, tmp_path):
    cfg, _, qat_model = trained["salt"]
    cfg = dataclasses.replace(cfg, hls=dataclasses.replace(cfg.hls, backend="Vivado"))
    s = run_csim(convert_model(qat_model, cfg.hls, tmp_path / "hls"), data.x["test"][:50], qat_model)
    assert s["bit_exact_fraction"] == 1.0, s.get("first_mismatch")


@pytest.mark.parametrize("strategy, parallel", [("Latency", 1), ("Latency", 8), ("distributed_arithmetic", 4)])
def test_every_strategy_and_parallelization_is_bit_exact(strategy, parallel, trained, data, tmp_path):
    """SAL-T with particle loops of 8, 1 and 2 iterations, with multipliers and with adder graphs."""
    cfg, _, qat_model = trained["salt"]
    cfg = dataclasses.replace(cfg, hls=dataclasses.replace(cfg.hls, strategy=strategy, parallelization_factor=parallel))
    s = run_csim(convert_model(qat_model, cfg.hls, tmp_path / "hls"), data.x["test"][:60], qat_model)
    assert s["bit_exact_fraction"] == 1.0, s.get("first_mismatch")


@pytest.mark.parametrize("training", ["parq", pytest.param("ste", marks=pytest.mark.slow)])  # suite time
def test_a_ternary_salt_trains_with_per_layer_scales_and_is_bit_exact(training, data, tmp_path):
    """quantization.mode ternary end to end on the tiny SAL-T: the trainer picks each layer's power-of-two
    scale from the float weights, every Dense kernel of the QAT model is -s, 0 or +s (with PARQ the weights
    themselves end on the grid), and the C++ is bit-exact."""
    from l1tag.numerics.fixed_point import from_qkeras

    base = tiny_config("salt")
    cfg = dataclasses.replace(base, quantization=dataclasses.replace(base.quantization, mode="ternary",
                                                                     ternary_training=training))
    assert cfg.quantization.ternary_training == training
    float_model, qat_model, _ = train_models(cfg, data)
    scales = {}
    for layer in qat_model.layers:
        if type(layer).__name__ == "QDense":
            s = from_qkeras(layer.get_config()["kernel_quantizer"], layer.name).lsb
            w = layer.kernel_quantizer_internal(layer.kernel).numpy()
            assert set(np.unique(w)) <= {-s, 0.0, s} and (w == 0).any() and (w != 0).any(), layer.name
            if training == "parq":  # annealed onto the grid: the quantizer has nothing left to round
                np.testing.assert_array_equal(layer.kernel.numpy(), w)
            scales[layer.name] = s
    assert len(set(scales.values())) > 1, scales  # one scale per layer, from its own weights
    s = run_csim(convert_model(qat_model, cfg.hls, tmp_path / "hls"), data.x["test"][:60], qat_model, float_model)
    assert s["bit_exact_fraction"] == 1.0, s.get("first_mismatch")
    assert s["argmax_agreement_vs_quantized"] == 1.0


def test_a_low_rank_salt_learns_its_ranks_and_is_bit_exact(data, tmp_path):
    """train.low_rank end to end on the tiny SAL-T: the proximal step (its cap of 3 singular values, over a
    training too short for the soft threshold alone) leaves the 8 x 8 layers at rank 3 or less, which
    factorizing saves constants on; the QAT model has their two layers, and the C++ is bit-exact."""
    base = tiny_config("salt")
    low = dataclasses.replace(base.train.low_rank, strength=20.0, max_rank=3)
    cfg = dataclasses.replace(base, train=dataclasses.replace(base.train, low_rank=low))
    float_model, qat_model, history = train_models(cfg, data)
    ranks = history["low_rank"]
    assert {"ffn0_up", "ffn0_down", "head0"} <= set(ranks) and max(ranks.values()) <= 3, ranks
    names = {layer.name for layer in qat_model.layers}
    for name, rank in ranks.items():
        assert f"{name}_a" in names and qat_model.get_layer(f"{name}_a").kernel.shape[1] == rank
    s = run_csim(convert_model(qat_model, cfg.hls, tmp_path / "hls"), data.x["test"][:60], qat_model, float_model)
    assert s["bit_exact_fraction"] == 1.0, s.get("first_mismatch")


@pytest.mark.parametrize("parallel", [1, 2, 8])
def test_particle_loops_have_n_over_p_iterations(parallel, trained, tmp_path):
    """The shared hardware is a pipelined particle loop: every per-particle layer's trip count is n / P."""
    cfg, _, qat_model = trained["salt"]
    cfg = dataclasses.replace(cfg, hls=dataclasses.replace(cfg.hls, strategy="Latency", parallelization_factor=parallel))
    convert_model(qat_model, cfg.hls, tmp_path / "hls")
    params = (tmp_path / "hls" / "firmware" / "parameters.h").read_text()
    trips = [int(t) for t in re.findall(r"static const unsigned (?:n_partitions|n_groups) = (\d+);", params)]
    # hls4ml's Dense layers on (n, d): embedding, Q, K, V, FFN up and down; l1tag's attention and 2 DynamicTanh
    assert len(trips) == 6 + 1 + 2 and set(trips) == {8 // parallel}
    assert f"static const unsigned parallel = {parallel};" in params
    kernel = (tmp_path / "hls" / "firmware" / "nnet_utils" / "l1tag_attention.h").read_text()
    for loop in ("ATTENTION_PROJECT_GROUPS", "ATTENTION_CORE_GROUPS"):
        body = kernel[kernel.index(f"{loop}:"):]
        assert body.split("\n")[1].strip().startswith("for (unsigned g = 0; g < CONFIG_T::n_groups; g++)")
        assert body.split("\n")[2].strip() == "#pragma HLS PIPELINE II=1 rewind"
    assert "#pragma HLS ALLOCATION" not in kernel  # no sharing that relies on the tool honouring a limit
    # the per-particle layers between the attention and the pooling run as l1tag's fused loops
    # (l1tag/hls/particle_loops.py): n / P iterations at II = 1, P particles unrolled; with P = n the top
    # is one PIPELINE and every layer keeps its own call
    top = (tmp_path / "hls" / "firmware" / "myproject.cpp").read_text()
    loops = re.findall(r"struct (particle_loop\d+) \{.*?for \(unsigned g = 0; g < (\d+); g\+\+\) \{\s*"
                       r"#pragma HLS PIPELINE II=1 rewind.*?for \(unsigned p = 0; p < (\d+); p\+\+\)", params, re.S)
    if parallel == 8:
        assert loops == [] and "particle_loop" not in top
    else:  # embedding -> Q, K, V; residual add -> DynamicTanh -> FFN -> add -> DynamicTanh
        assert [(int(g), int(q)) for _, g, q in loops] == [(8 // parallel, parallel)] * 2
        assert all(f"{name}::run(" in top for name, _, _ in loops)
        assert "nnet::pointwise_conv_1d" not in top and "nnet::relu<" in top  # only the head's ReLU is a call


def _mutate_exp_table(firmware):
    """exp(0) = 1 is read by every softmax row (its largest score): make it 0.5 in the copy (the table is a
    ROM in the attention's config, parameters.h)."""
    params = firmware / "parameters.h"
    text = params.read_text()
    at = text.index("rom[", text.index("exp_table(unsigned i)"))
    at = text.index("1.0", at)
    params.write_text(text[:at] + "0.5" + text[at + 3:])


def _mutate_rounding(firmware):
    """The embedding ReLU's output type (the second typedef) truncates instead of rounding to nearest."""
    defines = firmware / "defines.h"
    text = defines.read_text()
    at = text.index("AP_RND_CONV", text.index("AP_RND_CONV") + 1)
    defines.write_text(text[:at] + "AP_TRN" + text[at + len("AP_RND_CONV"):])


@pytest.mark.parametrize("mutate", [_mutate_exp_table, pytest.param(_mutate_rounding, marks=pytest.mark.slow)],
                         ids=["table_entry", "rounding_mode"])  # suite time: the rounding mutation in make test-slow
def test_a_single_changed_table_entry_or_rounding_mode_fails_the_fidelity_check(mutate, trained, data, tmp_path):
    """The checks can fail: the same project, with one table entry or one rounding mode changed in a copy,
    is no longer bit-exact with the reference and the build's check exits 4."""
    cfg, float_model, qat_model = trained["salt"]
    converted = convert_model(qat_model, cfg.hls, tmp_path / "hls")
    x = data.x["test"][:100]
    assert run_csim(converted, x, qat_model)["bit_exact_fraction"] == 1.0
    copy = tmp_path / "mutated"
    shutil.copytree(converted.project_dir, copy)
    mutate(copy / "firmware")
    converted.hls_model.config.config["OutputDir"] = str(copy)
    s = run_csim(converted, x, qat_model, float_model, rewrite=False)
    assert s["bit_exact_fraction"] < 1.0
    with pytest.raises(FidelityError, match=r"below csim\.min_bit_exact_fraction = 1\.0") as exc:
        check_fidelity(cfg, s)
    assert exc.value.exit_code == 4
