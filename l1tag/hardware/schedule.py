"""What the II and latency of an l1tag project rest on, and which of it l1tag checks without a vendor tool.

The estimate assumes a schedule; the generated C++ must ask for exactly that schedule.  ``schedule_section``
reads the written project twice -- as text (``l1tag/hls/structure.py``: rewind, canonical DATAFLOW,
ap_ctrl_chain, bypass buffers, BIND pragmas) and as g++ compiles it (``l1tag/hls/census.py``: no divider,
the products by operand width) -- and holds the census's products equal to the estimator's own list
(``estimate.model_products``), so the priced operators are the computed ones.  What no tool here can
check is listed with it (``UNCHECKED``); report.md prints both next to II and latency.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from l1tag.errors import ConversionError

log = logging.getLogger("l1tag")

# the pragmas the estimate's II and latency rest on (each checked by l1tag/hls/structure.py)
PRAGMAS = [
    "PIPELINE II=1 rewind on every particle loop (fused loops, attention projection and core, DynamicTanh): "
    "a process's interval is its trip count n / P",
    "DATAFLOW in canonical form: every process a non-inlined function holding its loop; the attention's "
    "projection and core are two such processes joined by ping-pong buffers (Q passed through)",
    "INTERFACE ap_ctrl_chain on a DATAFLOW top: successive jets overlap",
    "STREAM type=pipo depth=k + 2 on a channel that bypasses k processes (the residual around the attention)",
    "BIND_OP impl=fabric|dsp on every product of two variables (hls.variable_products), BIND_STORAGE "
    "type=rom_np on every table",
    "no divider: table and partition indices by multiply-and-shift on exact widths (GIMPLE census)",
]
# what the numbers also assume and nothing here can check
UNCHECKED = [
    "that Vitis/Vivado HLS schedules each loop body at II = 1 (the estimate packs its delays into cycles)",
    "the operator delays and LUT prices (HLS's own, per the calibration reports; the error band)",
    "the DATAFLOW handshake of one cycle per process, and that the tool keeps the processes overlapped",
    "post-route timing at the clock period, and the tool's run time and memory on the unrolled loops",
]


def comparable(hls_model) -> bool:
    """The estimator lists only l1tag's kernels' products; hls4ml's constant-weight layers have none under
    distributed arithmetic (da4ml adder graphs), so the lists compare for DA projects."""
    from l1tag.config import DA
    from l1tag.hls.particle_loops import layer_strategy

    return all(layer_strategy(n) == DA for n in hls_model.get_layers()
               if n.class_name in ("Dense", "Conv1D", "PointwiseConv1D") and "weight" in n.weights)


def _width_keys(counts: dict) -> dict[str, int]:
    return {f"{a}x{b}": int(n) for (a, b), n in sorted(counts.items())}


def schedule_section(project_dir: Path, hls_model, top: str | None = None) -> dict:
    """The ``schedule`` section of report.json; raises ConversionError (a bug in l1tag) when the C++ breaks
    a structure rule or computes a division."""
    from l1tag.hardware.estimate import model_products
    from l1tag.hls.census import census, check_no_dividers
    from l1tag.hls.structure import check_project

    top = top or str(hls_model.config.get_project_name() if hasattr(hls_model.config, "get_project_name")
                     else hls_model.config.get_config_value("ProjectName") or "myproject")
    t0 = time.perf_counter()
    problems = check_project(project_dir, top)
    if problems:
        raise ConversionError(f"the generated C++ does not ask for the schedule the estimate assumes "
                              f"({len(problems)} problem(s)); first: {problems[0]}")
    c = census(project_dir, top)
    check_no_dividers(c)
    estimated = _width_keys(model_products(hls_model))
    computed = _width_keys(c.by_width())
    same = estimated == computed if comparable(hls_model) else None
    if same is False:
        log.warning("the estimator's product census differs from the GIMPLE census of the C++: estimate %s, "
                    "C++ %s", estimated, computed)
    return {"structure": {"pass": True, "checked_by": "l1tag/hls/structure.py"},
            "census": {"source": "g++ GIMPLE (-O2 -fno-inline)", "dividers": len(c.divisions),
                       "products_by_width": computed, "products": c.product_count(),
                       "native_multiplications": c.native_multiplications},
            "estimate_products_by_width": estimated, "products_match": same,
            "pragmas": PRAGMAS, "unchecked": UNCHECKED, "seconds": round(time.perf_counter() - t0, 1)}
