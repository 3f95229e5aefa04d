"""The top function's DATAFLOW region in the form the HLS tools honour (UG1399 "canonical form", UG1448).

When hls4ml makes the io_parallel top a DATAFLOW region (l1tag's particle loops: P < n), its processes
are the layers' calls (a fused particle loop is one), joined by fully partitioned ping-pong arrays.
Two things hls4ml leaves out, which decide whether successive jets overlap at all:

* **Block-level control**: with the default ``ap_ctrl_hs`` a DATAFLOW top does not start the next call
  before the current one has finished (UG1448 message 200-786): II = latency.  ``ap_ctrl_chain`` lets
  successive calls overlap, at the slowest process's interval.
* **Bypass channels**: an array written by one process and read by one that is not its direct successor
  (a residual connection around the attention) is a "bypass" (UG1448 200-989).  A 2-deep ping-pong
  buffer stalls the producer: while the jets in between are in flight it has no free buffer.  Such a
  channel gets ``STREAM type=pipo depth=k + 2``, k the processes on the longest path it bypasses: one
  buffer per jet in flight between its two ends.

``processes`` is the process graph in call order, which the estimator reads too (bypass buffers are
registers it prices); ``finalize`` writes the pragmas into the top function, ahead of the first call.
"""

from __future__ import annotations

from dataclasses import dataclass

from l1tag.hls.particle_loops import pipeline_style

CTRL_CHAIN = "#pragma HLS INTERFACE ap_ctrl_chain port=return"


@dataclass(frozen=True)
class Process:
    """One process of the top DATAFLOW region: its name, the variables it reads and writes."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class Bypass:
    """A channel that skips processes: ``variable`` from ``producer`` to ``consumer``, ``depth`` buffers."""

    variable: str
    producer: str
    consumer: str
    skipped: int

    @property
    def depth(self) -> int:
        return self.skipped + 2


def processes(hls_model) -> list[Process]:
    """The top function's calls in order, a fused particle loop as one process (its loop's inputs and
    outputs); the input layer is the port, not a process."""
    from l1tag.hls import particle_loops

    loops = {m.name: loop for loop in particle_loops.plan(hls_model) for m in loop.members} \
        if particle_loops.is_fused(hls_model) else {}
    out, seen = [], set()
    for node in hls_model.get_layers():
        if type(node).__name__.endswith("Input") or node.class_name == "Input":
            continue
        loop = loops.get(node.name)
        if loop is None:
            out.append(Process(node.name, tuple(node.inputs), tuple(node.outputs)))
        elif loop.name not in seen:
            seen.add(loop.name)
            out.append(Process(loop.name, tuple(loop.inputs), tuple(loop.outputs)))
    return out


def bypasses(procs: list[Process]) -> list[Bypass]:
    """Channels whose consumer is also reached from their producer through other processes (the calls are
    in topological order, so one pass gives the longest path)."""
    producer = {v: i for i, p in enumerate(procs) for v in p.outputs}
    succ = [{j for j, p in enumerate(procs) if any(producer.get(v) == i for v in p.inputs)} for i in range(len(procs))]
    out = []
    for j, consumer in enumerate(procs):
        for v in consumer.inputs:
            i = producer.get(v)
            if i is None:
                continue
            edges = {i: 0}  # process -> edges on the longest path from i
            for a in range(i, j):
                if a in edges:
                    for b in succ[a]:
                        edges[b] = max(edges.get(b, 0), edges[a] + 1)
            if edges.get(j, 1) > 1:
                out.append(Bypass(v, procs[i].name, consumer.name, edges[j] - 1))
    return out


def top_pragmas(hls_model) -> list[str]:
    """The pragmas the top function needs beyond hls4ml's: none for a PIPELINE top."""
    if pipeline_style(hls_model) != "dataflow" or hls_model.config.get_config_value("IOType") != "io_parallel":
        return []
    lines = [CTRL_CHAIN]
    vitis = "vitis" in str(getattr(hls_model.config.backend, "name", "Vitis")).lower()
    for b in bypasses(processes(hls_model)):
        var = hls_model.output_vars[b.variable].name  # the C++ array of that output
        if vitis:
            lines.append(f"#pragma HLS STREAM variable={var} type=pipo depth={b.depth}")
        else:  # Vivado HLS has no type=pipo; its ping-pong depth is the project's config_dataflow
            lines.append(f"// l1tag: {var} bypasses {b.skipped} process(es); Vivado HLS keeps 2 buffers")
    return lines


PROCESS_TEMPLATE = """// l1tag process: {layer} as a DATAFLOW process of its own (hls4ml's kernel is INLINE;
// l1tag/hls/dataflow.py)
struct process{index} {{
    static void run({in_t} in[{n_in}], {out_t} out[{n_out}]) {{
        #pragma HLS INLINE off
        // a function pipeline, not a loop: it takes a new call every cycle as it is (rewind is a loop option)
        #pragma HLS PIPELINE II=1
        {call}
    }}
}};
"""


# hls4ml's kernels of a Dense on a vector (the head) that are INLINE functions: nnet::dense (Latency, Resource
# dispatch, nnet_dense.h) and the distributed-arithmetic nnet::dense_da_<index> (nnet_code_gen.h)
INLINE_KERNELS = ("nnet::dense<", "nnet::dense_da_")


def wrap_inline_calls(hls_model) -> list[str]:
    """hls4ml's Dense on a vector (the head) is an INLINE function (``INLINE_KERNELS``): under a DATAFLOW
    pragma its statements would be loose code in the region (HLS 214-114).  Each becomes a process of its
    own: a function with INLINE off, pipelined at II = 1, that calls the kernel.  Returns the layers wrapped."""
    import numpy as np

    wrapped = []
    for node in hls_model.get_layers():
        call = node.get_attr("function_cpp")
        if not isinstance(call, str) or not call.startswith(INLINE_KERNELS):
            continue
        src, dst = node.get_input_variable(), node.get_output_variable()
        body = call.replace(f"({src.name}, {dst.name}", "(in, out", 1)  # weights, if any, stay globals
        if body == call:
            continue
        code = PROCESS_TEMPLATE.format(layer=node.name, index=node.index, in_t=src.type.name,
                                       n_in=int(np.prod(src.shape)), out_t=dst.type.name,
                                       n_out=int(np.prod(dst.shape)), call=body)
        node.set_attr("config_cpp", str(node.get_attr("config_cpp") or "") + "\n\n" + code)
        node.set_attr("function_cpp", f"process{node.index}::run({src.name}, {dst.name});")
        wrapped.append(node.name)
    return wrapped


def finalize(hls_model) -> list[str]:
    """Write ``top_pragmas`` ahead of the top function's first call (hls4ml emits a layer's call list as
    lines of the top function's body); returns them."""
    lines = top_pragmas(hls_model)
    if not lines:
        return lines
    wrap_inline_calls(hls_model)
    for node in hls_model.get_layers():
        call = node.get_attr("function_cpp")
        if call:
            calls = list(call) if isinstance(call, (list, tuple)) else [call]
            node.set_attr("function_cpp", ["// l1tag: the DATAFLOW top's control and channels "
                                           "(l1tag/hls/dataflow.py)", *lines, *calls])
            break
    return lines
