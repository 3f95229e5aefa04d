"""l1tag's hls4ml extension: the one place where l1tag's kernels are wired into hls4ml.

Each kernel is one module of ``l1tag/hls/`` (``attention.py``, ``dynamic_tanh.py``) exposing ``HANDLER``
(Keras layer name, Keras-v2 handler, IR layer), ``TEMPLATES`` (config and function templates) and
``HEADER`` (its C++ in ``firmware_templates/``); ``KERNELS`` lists them.  ``register_all()`` registers
every one on the Vivado and Vitis backends, once.  Importing this module imports no hls4ml.
"""

from __future__ import annotations

import importlib

from l1tag.hls.common import FIRMWARE_TEMPLATES

KERNELS = ("l1tag.hls.attention", "l1tag.hls.dynamic_tanh")  # one line per kernel
COMMON_HEADER = "l1tag_common.h"
BACKENDS = ("Vivado", "Vitis")

_registered: set[str] = set()


def register_all() -> None:
    """Register every kernel of ``KERNELS`` (idempotent)."""
    for name in KERNELS:
        register_kernel(importlib.import_module(name))


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
