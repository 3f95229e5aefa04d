"""Fused particle loops: consecutive per-particle layers run as one pipelined loop over the particles.

hls4ml's io_parallel top with particle-parallel layers (n_partitions = n / P > 1) is a DATAFLOW
region whose processes are the layers, joined by fully partitioned ping-pong arrays: a layer starts
only when its predecessor has finished all n / P particle groups, and registers its outputs on its
own.  A chain of L per-particle layers (embedding, Q/K/V, residual adds, DynamicTanh, FFN) then
waits L x (n / P - 1) cycles and pays L pipeline fills.

Between two reductions over the particles (the attention's K'/V' projection, the pooling) nothing needs
the whole jet, so l1tag runs such a chain as **one** process: a loop over the n / P particle groups
pipelined at II = 1 with ``rewind`` (so that successive jets' calls overlap), whose body holds P unrolled
copies of the chain for one particle -- what hls4ml's TimeDistributed does for one time step per
iteration, and its conv ``PartitionLoop`` does for one layer. The layers stay hls4ml's (each conv's own
``dense_da`` adder graph or ``dense_latency`` kernel with its weights and config; DynamicTanh is l1tag's
element function); only the loop moves from each layer to the chain. The HLS tools schedule the loop body
as one pipeline, so the chain's operations chain into clock cycles together, and the interval stays n / P.
The mechanism is a pipelined loop, which Vivado and Vitis HLS honour; nothing relies on ALLOCATION or on
channel types.

``plan`` decides the loops from the hls4ml graph (the estimator uses the same plan); ``fuse`` rewrites
the members' ``function_cpp`` and appends the loop's C++ to the last member's ``config_cpp``, so that
hls4ml's writer emits it in parameters.h (after every config and weight it uses) and calls it from the
top function.  Under the Resource strategy (the conv loops are not pipelined, R > 1) and with P = n
(the top is one PIPELINE: everything unrolled) nothing is fused.
"""

from __future__ import annotations

from dataclasses import dataclass

from l1tag.config import DA, particles_per_clock


@dataclass
class ParticleLoop:
    """One fused loop: ``members`` (hls4ml nodes, in graph order) over ``n`` particles, ``parallel`` per
    iteration; ``inputs`` are the variables it reads from other processes, ``outputs`` those it writes."""

    members: list
    n: int
    parallel: int
    inputs: list
    outputs: list

    @property
    def iterations(self) -> int:
        return self.n // self.parallel

    @property
    def name(self) -> str:
        return f"particle_loop{self.members[0].index}"

    @property
    def member_names(self) -> list[str]:
        return [m.name for m in self.members]


def layer_strategy(node) -> str:
    """The layer's hls4ml strategy, lower case (the model's for layers that keep none)."""
    s = node.get_attr("strategy")
    if s is None:
        cfg = getattr(getattr(node, "model", None), "config", None)
        s = cfg.get_strategy(node) if cfg is not None else "latency"
    return str(s).lower()


def pipeline_style(hls_model) -> str:
    """'dataflow' or 'pipeline': the top function's pragma, as hls4ml's SetPipelineStyle chose it."""
    cfg = hls_model.config
    style = str(getattr(cfg, "pipeline_style", None) or "auto").lower()
    if style in ("pipeline", "dataflow"):
        return style
    if cfg.get_config_value("IOType") == "io_stream":
        return "dataflow"
    for node in hls_model.get_layers():  # hls4ml's 'auto' rule, for a model whose pass has not run
        if type(node).__name__.endswith(("Conv1D", "Conv2D")) and int(node.get_attr("n_partitions", 1) or 1) != 1:
            return "dataflow"
        if layer_strategy(node) == "resource":
            return "dataflow"
    return "pipeline"


def member_role(node) -> str | None:
    """What a node does per particle, or None when it cannot join a particle loop."""
    cls = node.class_name
    if cls in ("Conv1D", "PointwiseConv1D") and int(node.get_attr("filt_width", 1) or 1) == 1:
        if int(node.get_attr("reuse_factor", 1) or 1) != 1:
            return None
        strategy = layer_strategy(node)
        if strategy == DA and node.get_attr("da_kernel_cost") is not None:
            return "dense_da"
        return "dense_latency" if strategy == "latency" else None
    if cls == "Activation" and str(node.get_attr("activation")).lower() == "relu":
        return "relu"
    if cls == "Merge" and str(node.get_attr("op")).lower() == "add":
        return "add"
    if cls == "L1tagDynamicTanh":
        return "dynamic_tanh"
    if cls == "L1tagProduct":
        return "product"
    return None


def _parallel(node, n: int) -> int | None:
    """P of a node that loops over the particles itself (its own partitions), None for elementwise ones."""
    if node.class_name in ("Conv1D", "PointwiseConv1D"):
        return n // int(node.get_attr("n_partitions", 1) or 1)
    if node.class_name in ("L1tagDynamicTanh", "L1tagProduct"):
        return particles_per_clock(n, node.get_attr("parallelization_factor"), f"layer '{node.name}': "
                                   f"hls.parallelization_factor")
    return None


def plan(hls_model) -> list[ParticleLoop]:
    """The fused loops of a model: maximal runs (in graph order) of two or more per-particle layers on the
    same n particles with the same P < n, in an io_parallel DATAFLOW top."""
    cfg = hls_model.config
    if cfg.get_config_value("IOType") == "io_stream":
        return []
    nodes = list(hls_model.get_layers())
    consumers: dict[str, list] = {}
    for node in nodes:
        for name in node.inputs:
            consumers.setdefault(name, []).append(node)
    model_outputs = set(hls_model.outputs)
    loops, run, key = [], [], None

    def close():
        if len(run) >= 2 and key is not None and key[1] is not None and key[1] < key[0]:
            loops.append(_loop(list(run), key[0], key[1], consumers, model_outputs))

    for node in nodes:
        out = node.get_output_variable()
        shape = list(out.shape) if out is not None else []
        role = member_role(node) if len(shape) == 2 else None
        if role is None:
            close()
            run, key = [], None
            continue
        n, p = int(shape[0]), _parallel(node, int(shape[0]))
        if run and (n != key[0] or (p is not None and key[1] is not None and p != key[1])):
            close()
            run, key = [], None
        if not run or (key[1] is None and p is not None):  # the run's P: its first looping member's
            key = (n, p)
        run.append(node)
    close()
    return loops if loops and pipeline_style(hls_model) == "dataflow" else []


def _loop(members: list, n: int, p: int, consumers: dict, model_outputs: set) -> ParticleLoop:
    inside = {m.outputs[0] for m in members}
    inputs = []
    for m in members:
        for name in m.inputs:
            if name not in inside and name not in inputs:
                inputs.append(name)
    outputs = [m.outputs[0] for m in members
               if m.outputs[0] in model_outputs or any(c not in members for c in consumers.get(m.outputs[0], []))]
    return ParticleLoop(members, n, p, inputs, outputs)


# ------------------------------------------------------------------------------------------
# C++
# ------------------------------------------------------------------------------------------


def loop_cpp(loop: ParticleLoop, hls_model) -> tuple[str, str]:
    """(the loop's C++ struct, the call line of the top function)."""
    by_output = {}
    for node in hls_model.get_layers():
        for name in node.outputs:
            by_output[name] = node
    variables = {}  # hls4ml output name -> its Variable
    for name in loop.inputs:
        variables[name] = by_output[name].get_output_variable()
    for m in loop.members:
        variables[m.outputs[0]] = m.get_output_variable()

    def width(name: str) -> int:
        return int(variables[name].shape[-1])

    def local(name: str) -> str:
        return f"x_{variables[name].name}"

    label = loop.name.upper()
    args = [f"const {variables[i].type.name} {variables[i].name}[{loop.n * width(i)}]" for i in loop.inputs]
    args += [f"{variables[o].type.name} {variables[o].name}[{loop.n * width(o)}]" for o in loop.outputs]
    body = []

    def declare(name: str):
        body.append(f"{variables[name].type.name} {local(name)}[{width(name)}];")
        body.append(f"#pragma HLS ARRAY_PARTITION variable={local(name)} complete")

    def elementwise(name: str, expr: str):
        body.append(f"for (unsigned i = 0; i < {width(name)}; i++) {{")
        body.append("    #pragma HLS UNROLL")
        body.append(f"    {local(name)}[i] = {expr};")
        body.append("}")

    for name in loop.inputs:  # this particle's row of each array another process wrote
        declare(name)
        elementwise(name, f"{variables[name].name}[row * {width(name)} + i]")
    for m in loop.members:
        role, out = member_role(m), m.outputs[0]
        ins = [local(i) for i in m.inputs]
        out_t = variables[out].type.name
        body.append(f"// {m.name}")
        declare(out)
        if role == "dense_da":  # hls4ml's da4ml adder graph of this layer, for one particle
            body.append(f"config{m.index}::dense_da({ins[0]}, {local(out)});")
        elif role == "dense_latency":  # hls4ml's kernel of this layer's PartitionLoop, for one particle
            in_t = variables[m.inputs[0]].type.name
            body.append(f"nnet::dense_latency<{in_t}, {out_t}, typename config{m.index}::mult_config>({ins[0]}, "
                        f"{local(out)}, {m.get_weights('weight').name}, {m.get_weights('bias').name});")
        elif role == "relu":  # nnet::relu, elementwise
            elementwise(out, f"{ins[0]}[i] > 0 ? {out_t}({ins[0]}[i]) : {out_t}(0)")
        elif role == "add":  # nnet::add: the exact sum, cast to the result type
            elementwise(out, f"{out_t}({ins[0]}[i] + {ins[1]}[i])")
        elif role == "dynamic_tanh":
            in_t = variables[m.inputs[0]].type.name
            elementwise(out, f"l1tag::dynamic_tanh_element<{in_t}, {out_t}, config{m.index}>({ins[0]}[i])")
        elif role == "product":  # l1tag::product_element: the binding of the layer's config
            a_t, b_t = (variables[i].type.name for i in m.inputs[:2])
            elementwise(out, f"l1tag::product_element<{a_t}, {b_t}, {out_t}, config{m.index}>({ins[0]}[i], "
                             f"{ins[1]}[i])")
    for name in loop.outputs:
        body.append(f"for (unsigned i = 0; i < {width(name)}; i++) {{")
        body.append("    #pragma HLS UNROLL")
        body.append(f"    {variables[name].name}[row * {width(name)} + i] = {local(name)}[i];")
        body.append("}")
    indent = " " * 16
    lines = [
        f"// l1tag particle loop: {' -> '.join(loop.member_names)}",
        f"// {loop.parallel} particles per iteration, {loop.iterations} iterations pipelined at II = 1, rewound "
        f"(l1tag/hls/particle_loops.py)",
        f"struct {loop.name} {{",
        f"    static void run({', '.join(args)}) {{",
        "        #pragma HLS INLINE off",
        f"    {label}_GROUPS:",
        f"        for (unsigned g = 0; g < {loop.iterations}; g++) {{",
        "            #pragma HLS PIPELINE II=1 rewind",
        f"        {label}_PARTICLE:",
        f"            for (unsigned p = 0; p < {loop.parallel}; p++) {{",
        "                #pragma HLS UNROLL",
        f"                const unsigned row = g * {loop.parallel} + p;",
        *[indent + line for line in body],
        "            }",
        "        }",
        "    }",
        "};",
        "",
    ]
    call = f"{loop.name}::run({', '.join(variables[i].name for i in loop.inputs + loop.outputs)});"
    return "\n".join(lines), call


CONFIG_KEY = "L1tagParticleLoops"  # in the project's hls4ml_config.yml: its C++ has l1tag's fused loops


def is_fused(hls_model) -> bool:
    """Whether the model's C++ has (or will have) l1tag's fused particle loops: l1tag's projects say so in
    their hls4ml_config.yml; any other hls4ml project has one process per layer."""
    return bool(hls_model.config.config.get(CONFIG_KEY, False))


def fuse(hls_model) -> list[ParticleLoop]:
    """Rewrite the planned loops into the model's C++ (before ``write``, which records ``CONFIG_KEY`` in
    hls4ml_config.yml for the estimator); returns the plan."""
    loops = plan(hls_model)
    hls_model.config.config[CONFIG_KEY] = bool(loops)
    for loop in loops:
        code, call = loop_cpp(loop, hls_model)
        first, last = loop.members[0], loop.members[-1]
        for m in loop.members:
            m.set_attr("particle_loop", loop.name)
            m.set_attr("function_cpp", [])  # hls4ml's writer skips an empty call list
        first.set_attr("function_cpp", call)
        last.set_attr("config_cpp", str(last.get_attr("config_cpp") or "") + "\n\n" + code)
    return loops
