"""What the generated C++ decides instead of leaving it to the HLS tool: where tables live and how the
products of two variables are built.  One rule each, read by the converter (which writes the pragmas) and
by the estimator (which prices what the pragmas ask for), so the two cannot drift.

* **Tables** (the softmax's exp and reciprocal tables, DynamicTanh's tanh table) are ``static const``
  ROMs in the layer's config, read at run-time indices by several unrolled lanes per cycle: a multi-port
  ROM, which the tools build as one dual-port copy per two reads (UG1399 ``BIND_STORAGE type=rom_np``).
  A table of more than ``TABLE_LUTRAM_MAX_BITS`` bits is bound to block RAM, a smaller one to LUTRAM.
* **Variable products** (attention scores, softmax normalisation, A V', projection weights read from a
  ROM) go through ``l1tag::product<impl>`` (firmware_templates/l1tag_common.h): ``BIND_OP ... impl=fabric``
  or ``impl=dsp`` on Vitis HLS, ``RESOURCE core=Mul_LUT`` or ``core=DSP48`` on Vivado HLS, as the config's
  ``hls.variable_products`` (lut | dsp) says.
"""

from __future__ import annotations

TABLE_LUTRAM_MAX_BITS = 4096  # larger tables: block RAM
VARIABLE_PRODUCTS = ("lut", "dsp")


def table_storage(entries: int, bits: int) -> str:
    """'bram' or 'lutram' for a table of ``entries`` words of ``bits``."""
    return "bram" if entries * bits > TABLE_LUTRAM_MAX_BITS else "lutram"


def storage_pragma(variable: str, storage: str, backend: str) -> str:
    """The pragma that binds a ROM: BIND_STORAGE (Vitis HLS) or RESOURCE (Vivado HLS)."""
    if str(backend).lower().startswith("vivado"):
        core = "ROM_nP_BRAM" if storage == "bram" else "ROM_nP_LUTRAM"
        return f"#pragma HLS RESOURCE variable={variable} core={core}"
    return f"#pragma HLS BIND_STORAGE variable={variable} type=rom_np impl={storage}"


def product_impl(backend: str, variable_products: str) -> int:
    """The ``l1tag::product<impl>`` specialisation: 0/1 Vitis fabric/DSP, 2/3 Vivado fabric/DSP."""
    if variable_products not in VARIABLE_PRODUCTS:
        raise ValueError(f"variable_products must be one of {VARIABLE_PRODUCTS}, not {variable_products!r}")
    return (2 if str(backend).lower().startswith("vivado") else 0) + (1 if variable_products == "dsp" else 0)
