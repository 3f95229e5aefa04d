"""What l1tag's own kernels (the attention of every kind, DynamicTanh) compute per loop iteration, from the
operators their generated C++ asks for (firmware_templates/, l1tag/hls/binding.py, dataflow.py); their
prices are in ``l1tag_ops.py`` (the "l1tag attention" part of the model in ``__init__.py``).

Each rule says which C++ construct it prices:

* **Processes and loops.**  The attention is a DATAFLOW region of two processes (INLINE off), the
  projection (or gather) and the core, each one loop of n / P iterations ``PIPELINE II=1 rewind``:
  interval n / P, latency = both loops' (n / P - 1 + depth) + one DATAFLOW handshake
  (``ToolRules.dataflow_handshake``) between them.  DynamicTanh alone is one rewound loop; inside a fused
  particle loop it is a member (its delay and table read chain into the loop's depth).
* **Products** (each op's ``products``: ``l1tag/ops/attention.py``, ``l1tag/ops/dynamic_tanh.py``): every
  product the C++ forms per loop iteration -- the same census that ``l1tag/hls/census.py`` reads from g++'s GIMPLE of the generated
  kernels (a test holds them equal).  Products of two variables are built as their BIND_OP asks
  (``hls.variable_products``): fabric a x b / 2 + a + b LUTs (partial products two bits a LUT, and the
  final adder) or DSP48 (one when the operands fit its 27 x 18 ports).  Constant products (convolution
  taps, DynamicTanh's alpha, the reciprocal index's multiplier) are priced by their canonical-signed-digit
  form like hls4ml's constant weights (``prices.multiplier_cost``).
* **Tables** (``rom``): ``static const`` ROMs read at run-time indices, ``BIND_STORAGE type=rom_np``: one
  dual-port copy per two reads (ceil(reads / 2)); block RAM when larger than 4 kbit (binding.py), each copy
  in the fewest RAMB18 of a dual-port shape (Vitis stores no parity bits: 16 x 1K; Vivado HLS 18 x 1K),
  else LUT ROMs (a LUT6 per 64 entries per bit per read); a read takes ``ToolRules.rom_read_cycles``.
* **Casts** of rounding or saturating types on the datapath (qkv, score, convolution, softmax, output):
  ``prices.cast_lut`` each, and ``prices.T_CAST_NS`` on the path.
* **Adders**: the trees the loops unroll (score sums, convolution, softmax sums, A V', the projection's
  per-iteration tree and its one accumulator add), one HLS adder each (``prices.hls_add_lut``).
"""

from __future__ import annotations

import math

from l1tag.hls.binding import table_storage
from l1tag.ops.base import Product

DEFAULT_VARIABLE_PRODUCTS = "lut"  # hls.variable_products when a project does not say


def partitioned(spec) -> bool:
    """SAL-T's contiguous partitions (each particle weighted into one K'/V' row)."""
    return spec.chunk > 0


def census_by_width(products: list[Product]) -> dict[tuple[int, int], int]:
    """Products by (narrower, wider) operand width: the form l1tag/hls/census.py reports."""
    out: dict[tuple[int, int], int] = {}
    for pr in products:
        key = tuple(sorted((pr.a.width, pr.b.width)))
        out[key] = out.get(key, 0) + pr.count
    return out


def variable_product_cost(count: int, a_bits: int, b_bits: int, binding: str) -> tuple[int, int]:
    """(DSP, LUT) of ``count`` products of two variables bound as BIND_OP asks."""
    if binding == "dsp":
        fits = max(a_bits, b_bits) <= 27 and min(a_bits, b_bits) <= 18
        return count * (1 if fits else 2), 0
    return 0, count * (a_bits * b_bits // 2 + a_bits + b_bits)


def rom(entries: int, bits: int, reads: int, parity: bool) -> dict:
    """BRAM_18K and LUT of a ROM read ``reads`` times per cycle (one dual-port copy per two reads)."""
    if reads <= 0:
        return {"BRAM_18K": 0, "LUT": 0, "copies": 0}
    copies = math.ceil(reads / 2)
    if table_storage(entries, bits) == "bram":
        shapes = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024)) if parity else \
            ((1, 16384), (2, 8192), (4, 4096), (8, 2048), (16, 1024))
        per_copy = min(math.ceil(bits / w) * math.ceil(entries / d) for w, d in shapes)
        return {"BRAM_18K": copies * per_copy, "LUT": 0, "copies": copies}
    return {"BRAM_18K": 0, "LUT": reads * math.ceil(entries / 64) * bits, "copies": copies}
