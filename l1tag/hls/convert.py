"""hls4ml conversion and C-simulation of a trained l1tag tagger.

``convert_model`` lowers the QAT model (``lower.py``), converts it with hls4ml and l1tag's extension,
checks that every layer got a kernel call and exactly the precision l1tag decided, fuses the particle
loops and completes the DATAFLOW top (``particle_loops.py``, ``dataflow.py``), and writes the project.
``run_csim`` compiles it with hls4ml's g++ flow, runs the test jets through it, and compares with the
NumPy fixed-point reference (bit for bit), the QKeras model and the float model.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from l1tag.errors import ConversionError
from l1tag.files import atomic_path, write_json, write_text
from l1tag.hls.dataflow import finalize as dataflow_top
from l1tag.hls.common import from_hls
from l1tag.hls.register import register_all
from l1tag.hls.lower import Lowered, float32_inexact, lower
from l1tag.hls.particle_loops import fuse as fuse_particle_loops
from l1tag.ops import run_reference
from l1tag.numerics.fixed_point import quantize

log = logging.getLogger("l1tag")


@dataclass
class Converted:
    hls_model: object
    lowered: Lowered
    project_dir: Path
    backend: str


@contextlib.contextmanager
def _quiet(verbose: bool):
    """hls4ml prints its layer-by-layer log with print(); keep it for -vv only."""
    if verbose:
        yield
        return
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def convert_model(model, hls_cfg, project_dir: Path, verbose: bool = False) -> Converted:
    """QKeras model + HLSConfig -> written hls4ml project (not compiled)."""
    import hls4ml

    register_all()
    lowered = lower(model, hls_cfg.reuse_factor, hls_cfg.strategy, hls_cfg.table_size,
                    hls_cfg.parallelization_factor, hls_cfg.variable_products)
    project_dir = Path(project_dir)
    with atomic_path(project_dir) as tmp:  # written beside the old project, swapped in when complete
        try:
            with _quiet(verbose):
                hls_model = hls4ml.converters.convert_from_keras_model(
                    lowered.model, hls_config=lowered.hls_config, output_dir=str(tmp),
                    project_name=hls_cfg.project_name, backend=hls_cfg.backend, io_type=hls_cfg.io_type,
                    part=hls_cfg.part, clock_period=hls_cfg.clock_period_ns)
        except ConversionError:
            raise
        except Exception as exc:
            raise ConversionError(f"hls4ml could not convert the model: {type(exc).__name__}: {exc}") from None
        _verify(hls_model, lowered)
        fuse_particle_loops(hls_model)
        dataflow_top(hls_model)
        with _quiet(verbose):
            hls_model.write()
    converted = Converted(hls_model, lowered, tmp, hls_cfg.backend)
    relocate(converted, project_dir)
    return converted


def relocate(converted: Converted, new_dir: Path) -> None:
    """Point the hls4ml model (its OutputDir, the paths hls4ml_config.yml records) at ``new_dir``, where the
    project now lies."""
    old = str(converted.hls_model.config.get_output_dir())
    new = str(new_dir)
    converted.hls_model.config.config["OutputDir"] = new
    converted.project_dir = Path(new_dir)
    yml = Path(new_dir) / "hls4ml_config.yml"
    if old != new and yml.is_file():
        write_text(yml, yml.read_text().replace(old, new))


def _verify(hls_model, lowered: Lowered) -> None:
    """Every layer has a kernel call and the result precision l1tag decided (no silent fallback)."""
    from hls4ml.model.layers import Input

    for node in hls_model.get_layers():
        cls = type(node).__name__
        if not isinstance(node, Input) and not node.get_attr("function_cpp"):
            raise ConversionError(f"layer '{node.name}' ({cls}) has no function call in the generated C++: "
                                  f"its template is not registered for this backend")
        want = lowered.expected_types.get(node.name)
        if want is None:
            raise ConversionError(f"hls4ml inserted layer '{node.name}' ({cls}) that l1tag did not plan a "
                                  f"precision for; refusing a default precision")
        got = from_hls(node.get_output_variable().type.precision)
        if got != want:
            raise ConversionError(f"layer '{node.name}': hls4ml set its result to {got.cpp()} instead of "
                                  f"{want.cpp()}")


def logits_model(model):
    """The Keras model up to the logits (the firmware's output)."""
    import tensorflow as tf

    return tf.keras.Model(model.input, model.get_layer("logits").output)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def run_csim(converted: Converted, x: np.ndarray, qat_model, float_model=None, verbose: bool = False,
             rewrite: bool = True) -> dict:
    """Compile, run ``x`` (normalised test inputs) through the C++, and compare; returns the csim section
    (plus ``_outputs``, ``_reference``, ``_inputs``, ``_quantized`` and ``_float`` arrays for the caller to
    pop).  ``rewrite=False`` compiles the project as it is on disk (hls4ml's ``_compile``: a hand-edited
    copy, e.g.) instead of writing it again first."""
    lowered = converted.lowered
    xq = quantize(x, lowered.input_t)  # the firmware's input type; exact in float64
    t0 = time.perf_counter()
    try:
        with _quiet(verbose):
            converted.hls_model.compile() if rewrite else converted.hls_model._compile()
    except Exception as exc:
        raise ConversionError(f"g++ failed to compile the generated project in {converted.project_dir}: {exc}") from None
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with _quiet(verbose):
        y_fw = csim_predict(converted.hls_model, xq)
    csim_s = time.perf_counter() - t0
    y_ref = run_reference(lowered.ops, xq)
    exact = np.all(y_fw == y_ref, axis=1)
    y_q = np.asarray(logits_model(qat_model).predict(xq.astype(np.float32), batch_size=2048, verbose=0), np.float64)
    section = {
        "jets": int(len(xq)),
        "bit_exact_fraction": float(exact.mean()),
        "max_abs_diff_vs_reference": float(np.abs(y_fw - y_ref).max()),
        "max_abs_diff_vs_quantized": float(np.abs(y_fw - y_q).max()),
        "argmax_agreement_vs_quantized": float(np.mean(y_fw.argmax(1) == y_q.argmax(1))),
        "compile_seconds": compile_s,
        "csim_seconds": csim_s,
        "jets_per_second": float(len(xq) / csim_s) if csim_s > 0 else None,
        "backend": converted.backend,
        # sums the QKeras model computes in float32 that may round (none: its forward pass is exact)
        "float32_inexact_sums": float32_inexact(lowered),
    }
    if float_model is not None:
        y_f = np.asarray(logits_model(float_model).predict(x.astype(np.float32), batch_size=2048, verbose=0))
        section["argmax_agreement_vs_float"] = float(np.mean(y_fw.argmax(1) == y_f.argmax(1)))
        section["max_abs_diff_vs_float"] = float(np.abs(y_fw - y_f).max())
    if not exact.all():
        bad = int(np.argmin(exact))
        section["first_mismatch"] = {"jet": bad, "csim": y_fw[bad].tolist(), "reference": y_ref[bad].tolist()}
    section["_outputs"], section["_reference"], section["_inputs"] = y_fw, y_ref, xq
    section["_quantized"] = y_q
    if float_model is not None:
        section["_float"] = y_f
    return section


def csim_workers() -> int:
    """Threads for the C-simulation: the cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def csim_predict(hls_model, x: np.ndarray, workers: int | None = None) -> np.ndarray:
    """The compiled project's outputs for ``x`` (jets x features), one row per jet.

    With io_parallel the firmware keeps no state between calls once its tables and weights are loaded (the
    first call loads them), so after one call on its own the jets are split over ``workers`` threads; ctypes
    releases the GIL during each call.  The threads call the compiled top function directly: hls4ml's
    ``predict`` sets the function's ctypes ``argtypes`` anew on every call (hls4ml 1.3
    ``ModelGraph._get_top_function``), which races with another thread's call in progress ("argument 2:
    TypeError"), so they are set once, here, before the threads start.  The product checks every output bit
    against the NumPy reference either way."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    workers = csim_workers() if workers is None else workers
    stream = str(hls_model.config.get_config_value("IOType")).lower() == "io_stream"  # static line buffers
    ports = len(hls_model.get_input_variables()), len(hls_model.get_output_variables())
    if workers <= 1 or stream or len(x) < 2 * workers or ports != (1, 1):
        return np.asarray(hls_model.predict(x), dtype=np.float64).reshape(len(x), -1)
    first = np.asarray(hls_model.predict(x[:1]), dtype=np.float64).reshape(1, -1)
    top, _ = hls_model._get_top_function(x)  # the double-precision entry point, argtypes set in this thread
    width = first.shape[1]

    def run(chunk: np.ndarray) -> np.ndarray:
        out = np.zeros((len(chunk), width), dtype=np.float64)
        for jet, row in zip(chunk, out):
            top(jet, row)
        return out

    with ThreadPoolExecutor(workers) as pool:
        rest = list(pool.map(run, np.array_split(x[1:], workers)))
    return np.concatenate([first, *rest])


def add_qualities(section: dict, outputs: np.ndarray, y: np.ndarray) -> dict:
    """Every model's quality on the same (C-simulated) jets, for the fidelity checks, the summary and the
    fidelity bench: ``quality_float`` / ``_quantized`` / ``_firmware`` (``evaluate`` of their softmax;
    ``y`` integer labels), ``accuracy_*`` and ``accuracy_drop_float_points``."""
    from l1tag.train.metrics import evaluate

    for name, logits in (("float", section.pop("_float", None)), ("quantized", section.pop("_quantized")),
                         ("firmware", outputs)):
        if logits is not None:
            section[f"quality_{name}"] = evaluate(y, softmax(logits))
            section[f"accuracy_{name}"] = section[f"quality_{name}"]["accuracy"]
    if "accuracy_float" in section:
        section["accuracy_drop_float_points"] = 100.0 * (section["accuracy_float"] - section["accuracy_firmware"])
    return section


def interface(converted: Converted) -> dict:
    """The top function's ports: names, shapes and C++ types (for the hand-off manifest)."""
    hm = converted.hls_model

    def port(var):
        return {"name": var.name, "shape": [int(s) for s in var.shape], "type": from_hls(var.type.precision).cpp()}

    return {"inputs": [port(v) for v in hm.get_input_variables()],
            "outputs": [port(v) for v in hm.get_output_variables()]}


def write_test_vectors(project_dir: Path, xq: np.ndarray, y_expected: np.ndarray) -> None:
    """tb_data/ in hls4ml's format: one jet per line, space-separated (inputs, expected outputs)."""
    tb = Path(project_dir) / "tb_data"
    tb.mkdir(parents=True, exist_ok=True)
    for name, arr in (("tb_input_features.dat", xq), ("tb_output_predictions.dat", y_expected)):
        with atomic_path(tb / name) as tmp:
            np.savetxt(tmp, arr.reshape(len(arr), -1), fmt="%.17g")


def run_hls_stage(cfg, build_dir: Path, data, verbose: bool = False) -> tuple[dict, Converted]:
    """The convert + C-sim stage of a build: project in build/<name>/hls; returns the csim section (also
    saved as csim.json) and the converted model (for the estimator)."""
    from l1tag.models.builders import load_model

    model_dir = Path(build_dir) / "model"
    qat_file = model_dir / "qat.h5"
    if not qat_file.exists():
        raise ConversionError(f"{qat_file} not found: run `l1tag train` first, with quantization.enabled: true")
    qat_model, float_model = load_model(qat_file), load_model(model_dir / "float.h5")
    n = min(cfg.csim.jets or len(data.y["test"]), len(data.y["test"]))  # null: the whole test split
    x, y = data.x["test"][:n], data.y["test"][:n]
    final = Path(build_dir) / "hls"
    # the project, compiled and with its test vectors, is built beside the old one and swapped in whole:
    # an interrupted or failed stage leaves the previous project as it was
    with atomic_path(final) as staging:
        converted = convert_model(qat_model, cfg.hls, staging, verbose)
        section = run_csim(converted, x, qat_model, float_model, verbose)
        outputs, reference, inputs = (section.pop(k) for k in ("_outputs", "_reference", "_inputs"))
        write_test_vectors(converted.project_dir, inputs, reference)
    relocate(converted, final)
    add_qualities(section, outputs, y)
    if section["float32_inexact_sums"]:
        log.warning("the QKeras model computes these sums in float32, which may round them (its logits can then "
                    "differ from the firmware's): %s", ", ".join(section["float32_inexact_sums"]))
    write_json(Path(build_dir) / "csim.json", section)
    with atomic_path(Path(build_dir) / "csim_outputs.npy") as tmp, open(tmp, "wb") as f:
        np.save(f, outputs)  # firmware logits of the first csim.jets test jets (the report's plots reuse them)
    write_json(Path(build_dir) / "interface.json", interface(converted))
    log.info("C-sim (%s): %d jets, bit-exact %.4f, argmax agreement with QKeras %.4f, with float %.4f; "
             "%.0f jets/s after %.1f s compile", converted.backend, n, section["bit_exact_fraction"],
             section["argmax_agreement_vs_quantized"], section.get("argmax_agreement_vs_float", float("nan")),
             section["jets_per_second"] or 0, section["compile_seconds"])
    return section, converted
