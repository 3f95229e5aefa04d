"""The parts table moved to :mod:`l1tag.devices` (a foundation: the config reads it at load).

This re-export keeps ``l1tag.hardware.parts`` importable for the modules still naming it
(``hardware/estimate.py``, ``hardware/vendor.py``, ``hardware/budget.py``); new code imports
``l1tag.devices``.  Patch ``l1tag.devices`` (``PARTS_DIR``, ``_table``), not this module.
"""

from l1tag.devices import (RESOURCES, Device, closest_parts, device, device_key, devices, fractions,
                           normalise_part, part_totals, reference_part, utilization)

__all__ = ["RESOURCES", "Device", "closest_parts", "device", "device_key", "devices", "fractions", "normalise_part",
           "part_totals", "reference_part", "utilization"]
