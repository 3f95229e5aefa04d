"""An hls4ml project directory on disk -> its hls4ml model in memory, for ``l1tag estimate DIR``.

A build hands its converted model to the estimator directly; this path is for any hls4ml project (its
``hls4ml_config.yml`` and the Keras model it names) that l1tag did not build in this process. Both ways
hls4ml configs name the model are read: ``KerasModel`` (hls4ml 1.x, the model saved next to the config as
``keras_model.*``) and the older ``KerasJson`` + ``KerasH5`` (architecture JSON + weights) or ``KerasH5``
alone (a whole-model file).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from l1tag.errors import DataError
from l1tag.hardware.estimate import estimate_model
from l1tag.hls import particle_loops

# hls4ml's Layer._validate_attributes message for a config value it does not accept.
# the exception types (exactly these, not subclasses) hls4ml raises when it refuses a model or attribute
HLS4ML_REFUSALS = (Exception, ValueError, RuntimeError, NotImplementedError)
_BAD_ATTRIBUTE = re.compile(r'Unexpected value of attribute "(?P<attr>[^"]+)" of layer "(?P<layer>[^"]+)" '
                            r'\((?P<cls>[^)]+)\)\. Expected .*, got .* \((?P<value>.*)\)$')


def _read_config(path: Path) -> dict:
    """One hls4ml_config.yml, its '!keras_model' tag read as a plain path (hls4ml's own loader loads the model)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!keras_model", lambda loader, node: loader.construct_scalar(node))
    try:
        cfg = yaml.load(path.read_text(), Loader=Loader)
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read as text ({type(exc).__name__}); expected hls4ml's YAML "
                        f"config") from None
    if not isinstance(cfg, dict):
        raise DataError(f"{path}: not an hls4ml config (expected a mapping with ProjectName, HLSConfig ...)")
    _check_keys(cfg, path)
    cfg["_file"] = path
    cfg["_dir"] = path.parent
    return cfg


# the top-level keys l1tag reads, and what each must be (hls4ml fails with an internal error otherwise)
CONFIG_KEYS = {"ProjectName": (str,), "Backend": (str,), "IOType": (str,), "Part": (str,), "XilinxPart": (str,),
               "OutputDir": (str,), "KerasModel": (str,), "KerasJson": (str,), "KerasH5": (str,),
               "ClockPeriod": (int, float), "HLSConfig": (dict,)}


def _check_keys(cfg: dict, path: Path) -> None:
    """Each key l1tag reads has the type hls4ml expects (a finite positive clock period)."""
    for key, types in CONFIG_KEYS.items():
        value = cfg.get(key)
        if value is None:
            continue
        ok = isinstance(value, types) and not isinstance(value, bool)
        if ok and key == "ClockPeriod":
            ok = math.isfinite(value) and value > 0
        if not ok:
            want = {str: "a string", dict: "a mapping"}.get(types[0], "a positive number")
            raise DataError(f"{path}: {key} is {value!r}, expected {want} (an hls4ml config, as hls4ml writes it)")
    for key, value in (cfg.get("HLSConfig") or {}).items():
        if key in ("Model", "LayerName", "LayerType") and not isinstance(value, dict):
            raise DataError(f"{path}: HLSConfig.{key} is {value!r}, expected a mapping (an hls4ml config, as hls4ml "
                            f"writes it)")


def _project_config(project_dir: Path, top: str | None = None) -> dict:
    """The hls4ml_config.yml of a project: the shallowest one, or the one whose ProjectName is ``top``."""
    files = sorted(Path(project_dir).rglob("hls4ml_config.yml"), key=lambda p: (len(p.parts), str(p)))
    if not files:
        raise DataError(f"{project_dir}: no hls4ml_config.yml (expected an hls4ml project directory)")
    if top is None:
        return _read_config(files[0])
    configs = [_read_config(f) for f in files]
    for cfg in configs:
        if cfg.get("ProjectName", "myproject") == top:
            return cfg
    found = ", ".join(f"{c.get('ProjectName', 'myproject')} ({c['_file'].relative_to(project_dir)})" for c in configs)
    raise DataError(f"{project_dir}: no hls4ml project with ProjectName '{top}' (tops found: {found}); "
                    f"pass one of them to --top")


def _model_file(cfg: dict, key: str) -> Path:
    """The file that config key ``key`` names: as written (absolute, or relative to the folder hls4ml ran in or to
    the config), else by its name next to hls4ml_config.yml (projects are often copied without their origin)."""
    value = Path(str(cfg[key]))
    here = cfg["_dir"].resolve()  # absolute, so that the folder above it is there to look in
    bases = [here]
    out = Path(str(cfg.get("OutputDir") or "."))
    if not out.is_absolute() and len(out.parts) < len(here.parts) and here.parts[-len(out.parts):] == out.parts:
        bases.append(here.parents[len(out.parts) - 1])  # hls4ml ran in the folder that holds OutputDir
    candidates = [value] if value.is_absolute() else [base / value for base in bases]
    for path in [*candidates, here / value.name]:
        if path.is_file():
            return path
    looked = ", ".join(str(c.parent) for c in dict.fromkeys([*candidates, here / value.name]))
    raise DataError(f"{cfg['_file']}: {key} file '{value}' not found (looked in {looked}); "
                    f"copy it next to hls4ml_config.yml")


def _keras_model(cfg: dict):
    """The Keras model a config names, loaded with l1tag's and QKeras's custom objects (hls4ml's precedence:
    KerasModel, then KerasJson + KerasH5, then KerasH5 alone)."""
    import tensorflow as tf

    from l1tag.models.builders import custom_objects, load_model

    def load(path: Path, how):
        try:
            return how()
        except Exception as exc:
            raise DataError(f"{path}: cannot load the Keras model with TensorFlow {tf.__version__}: "
                            f"{' '.join(str(exc).split())[:200]}") from None

    if "KerasModel" in cfg or not ({"KerasJson", "KerasH5"} & set(cfg)):
        saved = sorted(cfg["_dir"].glob("keras_model.*"))  # hls4ml 1.x writes the model here
        if saved:
            path = saved[0]
        elif isinstance(cfg.get("KerasModel"), str):
            path = _model_file(cfg, "KerasModel")
        else:
            raise DataError(f"{cfg['_dir']}: no keras_model.h5/.keras next to hls4ml_config.yml and no "
                            f"KerasJson/KerasH5 in it; cannot rebuild the model")
        return load(path, lambda: load_model(path))
    if "KerasJson" in cfg:
        arch = _model_file(cfg, "KerasJson")
        if "KerasH5" not in cfg:
            raise DataError(f"{cfg['_file']}: KerasJson without KerasH5; add the weights file as KerasH5")
        weights = _model_file(cfg, "KerasH5")
        model = load(arch, lambda: tf.keras.models.model_from_json(arch.read_text(), custom_objects=custom_objects()))
        load(weights, lambda: model.load_weights(weights))
        return model
    path = _model_file(cfg, "KerasH5")
    return load(path, lambda: load_model(path))


def _conversion_error(exc: Exception, cfg: dict, backend: str) -> DataError:
    """hls4ml's refusal of a config value as one line naming the layer, the value and the accepted ones."""
    import hls4ml

    msg = " ".join(str(exc).split())
    match = _BAD_ATTRIBUTE.search(msg)
    if match is None:
        return DataError(f"{cfg['_file']}: hls4ml {hls4ml.__version__} cannot convert this model: {msg[:300]}; "
                         f"change the model or its config to what hls4ml supports")
    attr, layer, cls, value = match.group("attr", "layer", "cls", "value")
    key = "".join(word.capitalize() for word in attr.split("_"))  # conv_implementation -> ConvImplementation
    choices = None
    try:
        for layer_class, attrs in hls4ml.backends.get_backend(backend).attribute_map.items():
            if layer_class.__name__ == cls:
                choices = next((a.choices for a in attrs if a.name == attr and hasattr(a, "choices")), choices)
    except Exception:  # the choices only make the message better
        pass
    accepted = f"one of {', '.join(map(str, choices))}" if choices else "a value hls4ml accepts"
    return DataError(f"{cfg['_file']}: layer '{layer}' ({cls}): {key} '{value}' is not supported by hls4ml "
                     f"{hls4ml.__version__}; set {key} to {accepted} for this layer (or remove it)")


def load_project(project_dir, top: str | None = None) -> object:
    """Rebuild the hls4ml model of a project directory (its Keras model + hls4ml_config.yml), in memory.

    Args:
        project_dir: An hls4ml project directory or a folder above it.
        top: The ProjectName to pick when the folder holds several projects (default: the shallowest).

    Raises:
        DataError: no config, a model file missing or unreadable, or a config hls4ml does not accept.
    """
    import tempfile

    import hls4ml

    from l1tag.hls.register import register_all

    project_dir = Path(project_dir)
    if not project_dir.is_dir():
        raise DataError(f"{project_dir}: not a directory (expected an hls4ml project directory)")
    cfg = _project_config(project_dir, top)
    register_all()
    model = _keras_model(cfg)
    backend = {"VivadoAccelerator": "Vivado"}.get(cfg.get("Backend", "Vivado"), cfg.get("Backend", "Vivado"))
    with tempfile.TemporaryDirectory() as tmp:
        try:
            hls_model = hls4ml.converters.convert_from_keras_model(
                model, hls_config=cfg.get("HLSConfig", {}), output_dir=tmp, backend=backend,
                io_type=cfg.get("IOType", "io_parallel"), part=cfg.get("Part") or cfg.get("XilinxPart"),
                clock_period=cfg.get("ClockPeriod", 5))
        except Exception as exc:
            if type(exc) not in HLS4ML_REFUSALS:  # anything else is a bug and keeps its traceback
                raise
            raise _conversion_error(exc, cfg, backend) from None
    # an l1tag project's C++ runs its per-particle layers in fused loops (l1tag/hls/particle_loops.py)
    hls_model.config.config[particle_loops.CONFIG_KEY] = bool(cfg.get(particle_loops.CONFIG_KEY, False))
    return hls_model


def estimate_project(project_dir, top: str | None = None, census: bool = False) -> dict:
    """``l1tag estimate``: the estimate for any hls4ml project directory (``top`` as in :func:`load_project`).
    ``census``: compile the project's GIMPLE census first (g++) and price every divider it finds."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        hls_model = load_project(project_dir, top)
    if not census:
        return estimate_model(hls_model)
    from l1tag.hls.census import census as gimple_census

    c = gimple_census(Path(project_dir), top)
    out = estimate_model(hls_model, dividers=c.divider_count())
    out["census"] = {"dividers": c.divisions, "products_by_width": {f"{a}x{b}": n for (a, b), n in c.by_width().items()},
                     "seconds": round(c.seconds, 1)}
    return out


def estimate_keras(model, hls_cfg) -> dict:
    """The estimate of a quantized Keras model converted with ``hls_cfg`` (its P included) into a temporary
    project: for studies that price a model without building it (a LUT target, the benches)."""
    import contextlib
    import io
    import tempfile

    from l1tag.hls.convert import convert_model

    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        return estimate_model(convert_model(model, hls_cfg, Path(tmp) / "hls").hls_model)
