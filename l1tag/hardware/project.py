"""An hls4ml project directory on disk -> its hls4ml model in memory, for ``l1tag estimate DIR``.

A build hands its converted model to the estimator directly; this path is for any hls4ml 1.x project
(its ``hls4ml_config.yml`` and the Keras model next to it) that l1tag did not build in this process.
"""

from __future__ import annotations

from pathlib import Path

from l1tag.hardware.estimate import estimate_model


def _project_config(project_dir: Path) -> dict:
    """hls4ml_config.yml of a project, its '!keras_model' tag read as a plain path."""
    import yaml

    from l1tag.errors import DataError

    files = sorted(Path(project_dir).rglob("hls4ml_config.yml"), key=lambda p: len(p.parts))
    if not files:
        raise DataError(f"{project_dir}: no hls4ml_config.yml (expected an hls4ml 1.x project directory)")

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!keras_model", lambda loader, node: loader.construct_scalar(node))
    try:
        cfg = yaml.load(files[0].read_text(), Loader=Loader)
    except yaml.YAMLError as exc:
        raise DataError(f"{files[0]}: not valid YAML: {exc}") from None
    cfg["_dir"] = files[0].parent
    return cfg


def load_project(project_dir) -> object:
    """Rebuild the hls4ml model of a project directory (its Keras model + hls4ml_config.yml), in memory."""
    import tempfile

    import hls4ml

    from l1tag.errors import DataError
    from l1tag.hls.extension import register_all
    from l1tag.models.builders import load_model

    project_dir = Path(project_dir)
    if not project_dir.is_dir():
        raise DataError(f"{project_dir}: not a directory (expected an hls4ml project directory)")
    cfg = _project_config(project_dir)
    models = sorted(cfg["_dir"].glob("keras_model.*"))
    if not models:
        raise DataError(f"{cfg['_dir']}: no keras_model.h5/.keras next to hls4ml_config.yml; cannot rebuild the model")
    register_all()
    try:
        model = load_model(models[0])
    except Exception as exc:
        raise DataError(f"{models[0]}: cannot load the Keras model with TensorFlow 2.14: {str(exc)[:200]}") from None
    backend = {"VivadoAccelerator": "Vivado"}.get(cfg.get("Backend", "Vivado"), cfg.get("Backend", "Vivado"))
    with tempfile.TemporaryDirectory() as tmp:
        return hls4ml.converters.convert_from_keras_model(
            model, hls_config=cfg.get("HLSConfig", {}), output_dir=tmp, backend=backend,
            io_type=cfg.get("IOType", "io_parallel"), part=cfg.get("Part") or cfg.get("XilinxPart"),
            clock_period=cfg.get("ClockPeriod", 5))


def estimate_project(project_dir) -> dict:
    """``l1tag estimate``: the estimate for any hls4ml 1.x project directory."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        hls_model = load_project(project_dir)
    return estimate_model(hls_model)
