"""l1tag's hls4ml extension: the one place where l1tag's kernels are wired into hls4ml.

Each kernel is one module of ``l1tag/hls/`` (``attention.py``, ``dynamic_tanh.py``, ``pair_bias.py``,
``product.py``) exposing
``HANDLER`` (Keras layer name, Keras-v2 handler, IR layer), ``TEMPLATES`` (config and function templates) and
``HEADER`` (its C++ in ``firmware_templates/``); ``KERNELS`` lists them. ``register_all()`` registers every
one on the Vivado and Vitis backends, once.  Importing this module imports no hls4ml.

It also replaces one line of hls4ml's ``nnet_function_stubs.h`` (``fast_function_stubs``): the
``bit_shift`` of its distributed-arithmetic code copies the bits with ``r.V = x.V`` instead of
``r.range() = x.range()`` -- the same bits of the same width for HLS, and ap_fixed's generic bit-range
copy, the C-simulation's largest cost, disappears (docs/firmware.md, "C-simulation speed").
"""

from __future__ import annotations

import hashlib
import importlib
import os
import tempfile
from pathlib import Path

from l1tag.errors import ConversionError
from l1tag.files import write_text
from l1tag.hls.common import FIRMWARE_TEMPLATES

KERNELS = ("l1tag.hls.attention", "l1tag.hls.dynamic_tanh", "l1tag.hls.pair_bias",  # one line per kernel
           "l1tag.hls.product")  # one line per kernel
COMMON_HEADER = "l1tag_common.h"
BACKENDS = ("Vivado", "Vitis")

STUBS = "nnet_function_stubs.h"
RANGE_COPY = "r.range() = x.range();"  # hls4ml 1.3's bit_shift, four overloads
BITS_COPY = "r.V = x.V;"  # the same copy of the same width, on the value's bits directly

_registered: set[str] = set()


def register_all() -> None:
    """Register every kernel of ``KERNELS`` and the fast function stubs (idempotent)."""
    for name in KERNELS:
        register_kernel(importlib.import_module(name))
    if "stubs" not in _registered:
        import hls4ml

        path = fast_function_stubs()
        for backend_name in BACKENDS:
            hls4ml.backends.get_backend(backend_name).register_source(path)
        _registered.add("stubs")


def fast_function_stubs(cache: Path | None = None) -> Path:
    """hls4ml's ``nnet_function_stubs.h`` with its ``bit_shift`` copying bits by ``.V`` (the only change),
    written once per hls4ml file under ``cache`` (default: the user's cache folder); registered as a custom
    source, it replaces hls4ml's copy in every project written."""
    import hls4ml

    src = Path(hls4ml.__file__).parent / "templates" / "vivado" / "nnet_utils" / STUBS
    text = src.read_text()
    if text.count(RANGE_COPY) != 4 or BITS_COPY in text:
        raise ConversionError(f"{src} is not the hls4ml 1.3 file l1tag patches (4 bit_shift overloads with "
                              f"'{RANGE_COPY}'): reinstall the pinned hls4ml (make install)")
    patched = text.replace(RANGE_COPY, BITS_COPY)
    digest = hashlib.sha256(patched.encode()).hexdigest()[:12]
    roots = [cache] if cache else [Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "l1tag" / "hls4ml",
                                   Path(tempfile.gettempdir()) / "l1tag-hls4ml"]  # a read-only home: /tmp
    for root in roots:
        out = root / digest / STUBS
        try:
            if not out.is_file() or out.read_text() != patched:
                out.parent.mkdir(parents=True, exist_ok=True)
                write_text(out, patched)
            return out
        except OSError:
            continue
    raise ConversionError(f"cannot write l1tag's copy of {STUBS} under {' or '.join(map(str, roots))}: make one "
                          f"of them writable (or set XDG_CACHE_HOME)")


def register_kernel(kernel) -> None:
    """Register one kernel module (its handler, IR layer, templates and header, with the common header) on
    the Vivado and Vitis backends, once."""
    if kernel.__name__ in _registered:
        return
    import hls4ml
    from hls4ml.converters.keras_v2_to_hls import get_supported_keras_layers, register_keras_v2_layer_handler
    from hls4ml.model.layers import register_layer

    keras_name, handler, ir_class = kernel.HANDLER
    if keras_name not in get_supported_keras_layers():
        register_keras_v2_layer_handler(keras_name, handler)
    register_layer(keras_name, ir_class)
    for backend_name in BACKENDS:
        backend = hls4ml.backends.get_backend(backend_name)
        for template in kernel.TEMPLATES:
            try:
                backend.register_template(template)
            except Exception as exc:  # hls4ml refuses a second registration of the same template
                if "already registered" not in str(exc):
                    raise
        for header in (COMMON_HEADER, kernel.HEADER):
            backend.register_source(FIRMWARE_TEMPLATES / header if isinstance(header, str) else header)
    _registered.add(kernel.__name__)
