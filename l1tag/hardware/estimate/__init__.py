"""An analytic ESTIMATE of latency, II and resources of an hls4ml 1.x model (never a synthesis result).

The model of the hardware, per layer of the converted hls4ml graph, follows the C++ hls4ml writes:

* **Top function.**  hls4ml makes the top ``#pragma HLS DATAFLOW`` for io_stream, when any Conv has
  ``n_partitions != 1`` (a Dense on an (n, d) tensor is a pointwise Conv1D, ``n_partitions = n /
  ParallelizationFactor``) or under the Resource strategy; otherwise one ``PIPELINE``
  (``hls_model.config.pipeline_style``, hls4ml's ``SetPipelineStyle``).  A PIPELINE top unrolls every
  loop beneath it: each layer is then fully parallel (n_partitions = 1, l1tag's P = n).  Under
  DATAFLOW each layer is a process and the layers pass fully partitioned arrays (ping-pong buffers:
  2 x elements x bits FF per internal array; io_stream: FIFOs, below).  Either way the model's II is
  the slowest layer's interval, and a layer starts when its inputs are complete: the latency is the
  longest path through the layer graph (parallel branches such as Q, K and V overlap).
* **Particle loops** (io_parallel Conv, ``conv_1d_latency_cl`` / ``nnet_da_wrappers.h``): a
  ``PartitionLoop`` of n_partitions iterations pipelined at II = R (reuse factor; ``rewind``), each
  computing n_pixels = pixels / n_partitions pixels with unrolled copies of the kernel.  So the
  resources are n_pixels copies of one pixel's, interval = n_partitions x R, latency = (n_partitions
  - 1) x R + the depth of one iteration.  Under the Resource strategy that loop is not pipelined
  (``conv_1d_resource_cl``): latency = interval = n_partitions x depth.
* **Multiplications** by constant weights are counted from the quantized weights. A weight w in a type
  with F fractional bits is the integer k = w 2^F. k = 0 costs nothing; a power of two (one nonzero
  digit in its canonical signed-digit form) is a shift and costs nothing; two digits make one shifted
  add/subtract in LUTs; three or more digits make a real multiplier, bound to a DSP when the data is
  at least ``DSP_MIN_BITS`` wide, else built from (digits - 1) LUT adders as wide as the data.
  Products of two variables (attention scores, A V') use the data widths.
* **Reuse factor R.**  Under the Resource strategy hls4ml really shares each multiplier R ways:
  ceil(multipliers / R), LUTs and FFs / R.  Under the Latency strategy R is an ``ALLOCATION`` limit,
  which Vivado/Vitis HLS routinely do not honour in io_parallel (hls4ml issue #566): there resources
  are never divided and R only sets the II.  io_stream keeps the division: each layer is its own
  dataflow process, and the shared Vivado HLS report at R = 16 (DNNonSilicon) shows its Dense
  layers shared about R ways.  l1tag's own kernels are never divided (ALLOCATION, or no sharing).
* **Distributed arithmetic** (strategy ``distributed_arithmetic``, R = 1): hls4ml solves each kernel
  with da4ml and keeps da4ml's cost of one kernel instance (``da_kernel_cost``, LUTs of its adders).
  LUT = ceil(n_pixels x da_kernel_cost) (a Dense on a vector: one copy), DSP = 0; the adder depth is
  the largest ``// <latency>`` comment of the generated adder graph (``da_codegen``), in adder levels.
* **Adders**: each output sums its nonzero products with an adder tree of (terms - 1) adders as wide
  as the accumulator, one LUT per bit.
* **Depth** of one iteration: one multiplier stage and ceil(log2(terms)) adder levels (DA: its adder
  depth, no multiplier); the stage delays (``T_MULT_DSP_NS``, ``T_MULT_LUT_NS``, ``T_ADD_NS`` per
  level) are packed into clock cycles of the period less the clock uncertainty, plus one register
  stage, plus R - 1.  io_stream: a layer processes one pixel per R cycles, so its interval is pixels
  x R and its latency depth + pixels x R.
* **FF**: every pipeline stage registers the layer's outputs in flight at accumulator width (DA: at
  the output width), plus one register per LUT-built product.
* **l1tag attention** (``L1tagAttention``) and **DynamicTanh** (``L1tagDynamicTanh``): priced from the
  schedule and the operators their generated C++ asks for (``kernels.py``: two rewound
  loops of n / P iterations in a DATAFLOW region, their products by operand width and BIND_OP binding,
  ROM copies and reads, casts, adder trees); ``model_products`` lists their products in the form of the
  GIMPLE census (``l1tag/hls/census.py``), which the build holds equal.
* **l1tag's fused particle loops** (``l1tag/hls/particle_loops.py``; a project whose hls4ml_config.yml
  says ``L1tagParticleLoops: true``): a chain of per-particle layers is one process, a loop of n / P
  iterations at II = 1.  Its resources are its members' (elementwise members: P copies, not n); only
  the values it hands to other processes are ping-pong arrays; latency = n / P - 1 + the depth of one
  iteration, in which the members' combinational delays (``delay_ns``: adder levels, multiplier, a
  LUT level) chain along the longest path and are packed into clock cycles as for one layer, plus one
  cycle per BRAM table read on that path (a synchronous read).
* **Tables** (hls4ml's softmax tables): BRAM_18K when larger than ``TABLE_LUTRAM_MAX_BITS``, else LUTs
  (one per 64 bits, as LUTRAM); l1tag's tables: ``kernels.rom``.
* **Elementwise** hls4ml layers (activations, Add/Merge, pooling, batch normalisation) are fully
  unrolled.
* **io_stream FIFOs**: every layer output is a stream of (pixels) words of (channels x bits); up to
  two words it is registers, up to ``SRL_MAX_DEPTH`` a shift register in LUTs, deeper it takes the
  fewest BRAM_18K of any aspect ratio (36 x 512 ... 1 x 16384).

* **Per tool** (``ToolRules``, picked from the backend: ``vivado_hls`` for Vivado / VivadoAccelerator,
  ``vitis_hls`` for Vitis): clock uncertainty, io_stream conv II, FIFO binding, ROM words, softmax table
  copies and where constant products are registered differ; ``tools/<tool>.yaml`` gives each field's value
  and source.
  io_stream tops are DATAFLOW regions over FIFOs: latency = the slowest process's interval + each process's
  own depth along the longest path.  hls4ml's ``multiplier_limit`` (ALLOCATION on ``mul`` only) caps DSPs in
  io_stream Latency layers at R > 1; adders are never shared.  The Resource strategy (R > 1) has
  DIV_ROUNDUP(n_in n_out, R) variable x variable multipliers fed from a ROM (BRAM above 1024 bits).  LUTs are
  HLS's own operator prices (an adder w + 7, a compare, a select) per nonzero term; AP_RND / AP_SAT
  accumulators add ``ToolRules.sat_lut_per_bit`` LUTs per product per accumulator bit (measured).

Each layer row also gives ``copies`` (datapath copies in flight) and ``iterations`` (loop trips per
jet).  ``multiplications`` counts real (non-shift) products per jet (io_stream: per pixel).
Its error against real Vivado/Vitis HLS reports is measured by ``bench/estimator_accuracy.py`` and
published in docs/estimator.md.  The constants (``prices.py``, ``tools/*.yaml``) are properties of the tools and
devices, not fits to single reports.

Where each part lives in this package:

* ``prices.py``: HLS operator prices and delays (adders, compares, selects, casts, constant multipliers by
  their CSD digits, stage cycles, loops, da4ml adder depth, io_stream FIFOs, ``T_*_NS``, ``DIVIDER_CORE``);
* ``tools.py`` and ``tools/*.yaml``: the per-tool rules as data; ``target.py``: ``Target``, the tool, clock,
  DSP port, IO type and top pragma every layer rule is handed;
* ``stock_weighted.py``: hls4ml's Dense / Conv / depthwise / separable layers and distributed arithmetic;
  ``stock.py``: hls4ml's activations, softmax, batch normalisation, pooling, Add/Merge, zero padding;
* ``kernels.py``: what l1tag's kernels compute per loop iteration; ``l1tag_ops.py``: their prices;
* ``compose.py``: the layer dispatch (``estimate_layer``), channels, fused loops and the longest path
  (``estimate_model``, ``model_products``).
"""

from l1tag.hardware.estimate.compose import (
    critical_path,
    estimate_layer,
    estimate_model,
    loop_latency,
    model_products,
)
from l1tag.hardware.estimate.prices import (
    DIVIDER_CORE,
    T_LUT_NS,
    csd_digits,
    da_adder_depth,
    multiplier_cost,
)
from l1tag.hardware.estimate.target import Target
from l1tag.hardware.estimate.tools import TOOL_RULES, VITIS_HLS, VIVADO_HLS, ToolRules, tool_of

__all__ = [
    "DIVIDER_CORE",
    "T_LUT_NS",
    "TOOL_RULES",
    "VITIS_HLS",
    "VIVADO_HLS",
    "Target",
    "ToolRules",
    "critical_path",
    "csd_digits",
    "da_adder_depth",
    "estimate_layer",
    "estimate_model",
    "loop_latency",
    "model_products",
    "multiplier_cost",
    "tool_of",
]
