"""Lower a trained QKeras tagger into what hls4ml converts: plain layers with exact, explicit precisions.

hls4ml 1.3 loses or widens precisions in two measured cases (../shared/reference/hls4ml-notes.md):
a QDense on an (n, d) tensor becomes a PointwiseConv1D without its quantizers, and a linear
QActivation after an 'auto' result is removed together with its precision.  Rather than patch those
passes, l1tag hands hls4ml a model without QKeras stock layers, and states every precision itself:

* ``QActivation(quantized_bits)`` on the input  -> the input's type (test vectors are pre-quantized);
* ``QDense`` + ``QActivation(quantized_relu)``   -> Dense (weights pre-quantized, result = its exact
  accumulator) + ReLU (result = the ReLU quantizer's type);
* ``QDense`` + ``QActivation(quantized_bits)``   -> Dense whose result is the activation's type;
* ``QDense`` alone (the logits)                  -> Dense with its exact accumulator as result;
* ``Add``                                        -> Add with the exact sum type;
* ``GlobalMaxPooling1D``                         -> the same, result = input type;
* l1tag's attention layer (any kind)             -> three bias-free Dense layers Q, K, V (result qkv_t) and
  an ``AttentionCore`` on [Q, K, V] that l1tag's own handler converts (projections, scores, softmax, A V');
* DynamicTanh                                    -> unchanged: l1tag's own handler reads its quantizers;
* the final softmax                              -> dropped: the firmware outputs the logits (argmax and
  ordering are the same; quality numbers apply the softmax in software).

The lowering returns the plain Keras model, hls4ml's ``hls_config`` and a list of ops that the NumPy
reference (``reference/model.py``) executes, all from one walk over the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from l1tag import kinds
from l1tag.config import DEFAULT_TABLE_SIZE
from l1tag.errors import ConversionError
from l1tag.hls.extension import (attention_dims, attention_firmware_weights, attention_types, kernel_weight_names,
                                 kind_weight_names, quantizer_type)
from l1tag.hls.reference.attention import attention_spec
from l1tag.hls.reference.dynamic_tanh import DynamicTanhSpec
from l1tag.numerics.fixed_point import FixedType, accumulator, quantize


DA = "distributed_arithmetic"  # hls4ml 1.3's strategy built on da4ml: constant multiplications as adder graphs


@dataclass
class Op:
    """One firmware operation: what the reference computes and which type its result has."""

    kind: str  # input | dense | relu | add | maxpool | attention | dynamic_tanh
    name: str
    inputs: list[str]
    result_t: FixedType | None = None
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    spec: object = None  # AttentionSpec / DynamicTanhSpec of l1tag's own layers


@dataclass
class Lowered:
    model: object  # tf.keras.Model handed to hls4ml
    hls_config: dict
    ops: list[Op]
    input_t: FixedType
    output_name: str
    expected_types: dict[str, FixedType]  # every hls4ml node -> its planned result type
    # the exact sums the QKeras model computes in float32, by name -> bits: float32 holds any sum of at
    # most FLOAT32_EXACT_BITS bits exactly, so the model's forward pass equals the firmware's when all fit
    float32_sums: dict[str, int] = field(default_factory=dict)


FLOAT32_EXACT_BITS = 25  # a 24-bit significand and the sign: every k * 2^-F with |k| <= 2^24


def float32_inexact(lowered: Lowered) -> list[str]:
    """The sums of the QKeras model that float32 may round (wider than FLOAT32_EXACT_BITS), as 'name (bits)'."""
    return [f"{name} ({bits} bits)" for name, bits in lowered.float32_sums.items() if bits > FLOAT32_EXACT_BITS]


def _qtype(layer, key: str) -> FixedType:
    return quantizer_type(layer.name, layer.get_config(), key)


def _sum_type(a: FixedType, b: FixedType) -> FixedType:
    frac = max(a.frac, b.frac)
    integer = max(a.integer, b.integer) + 1
    return FixedType(integer + frac, integer, signed=True)


def _consumers(model) -> dict[str, list]:
    out: dict[str, list] = {}
    for layer in model.layers:
        for node in layer._inbound_nodes:
            for inbound in node.inbound_layers if isinstance(node.inbound_layers, list) else [node.inbound_layers]:
                out.setdefault(inbound.name, []).append(layer)
    return out


def lower(model, reuse_factor: int = 1, strategy: str = "Latency", table_size: int = DEFAULT_TABLE_SIZE,
          parallelization_factor: int | None = None, variable_products: str = "lut") -> Lowered:
    """Walk the QKeras model once; see the module docstring for the rules.

    ``strategy`` applies to the Dense layers (hls4ml's distributed arithmetic exists for them only);
    ``parallelization_factor`` P, the particles per clock, to every per-particle layer: hls4ml's
    ``ParallelizationFactor`` of the Dense layers on (n, d) and the attention / DynamicTanh kernels'
    (None: all n particles at once, as ``hls.parallelization_factor: null``)."""
    import tensorflow as tf

    from l1tag.models.layers import AttentionCore, QDynamicTanh

    consumers = _consumers(model)
    tensors: dict[str, object] = {}  # Keras layer name -> lowered Keras tensor
    types: dict[str, FixedType] = {}  # Keras layer name -> firmware type of its output
    alias: dict[str, str] = {}  # folded layer -> the layer whose output it is
    ops: list[Op] = []
    expected: dict[str, FixedType] = {}  # hls4ml node name -> the result type it must get
    layer_cfg: dict[str, dict] = {}
    dense_layers: list[str] = []  # constant-weight layers: the strategy and the particle parallelization apply
    new_weights: dict[str, list] = {}
    float32_sums: dict[str, int] = {}

    def src(layer) -> list[str]:
        inbound = layer._inbound_nodes[0].inbound_layers
        names = [inbound.name] if not isinstance(inbound, list) else [x.name for x in inbound]
        return [alias.get(n, n) for n in names]

    def trained_tables(layer) -> None:
        """The model computes through tables of its own size: the firmware's must be the same."""
        trained = layer.get_config().get("table_size", table_size)
        if int(trained) != int(table_size):
            raise ConversionError(f"layer '{layer.name}' was trained with lookup tables of {trained} entries but "
                                  f"hls.table_size is {table_size}: set hls.table_size: {trained}, or retrain")

    def precision(name, **kinds):
        layer_cfg.setdefault(name, {}).setdefault("Precision", {}).update({k: t.cpp() for k, t in kinds.items()})

    input_layer = model.layers[0]
    follow = consumers.get(input_layer.name, [])
    if len(follow) != 1 or type(follow[0]).__name__ != "QActivation":
        raise ConversionError("the model input is not followed by a QActivation(quantized_bits) input quantizer: "
                              "convert the QAT model (quantization.enabled: true), not the float one")
    input_t = _qtype(follow[0], "activation")
    shape = input_layer.input_shape[0][1:] if isinstance(input_layer.input_shape, list) else input_layer.input_shape[1:]
    parallel = parallelization_factor or (int(shape[0]) if len(shape) > 1 else 1)  # P, particles per clock
    inp = tf.keras.Input(shape, name=input_layer.name)
    tensors[input_layer.name], types[input_layer.name] = inp, input_t
    alias[follow[0].name] = input_layer.name
    precision(input_layer.name, result=input_t)
    ops.append(Op("input", input_layer.name, [], input_t))
    output_name = None

    for layer in model.layers[1:]:
        cls = type(layer).__name__
        if layer.name in alias:
            continue
        ins = src(layer)
        after = consumers.get(layer.name, [])
        if cls == "QDense":
            w_t, b_t = _qtype(layer, "kernel_quantizer"), _qtype(layer, "bias_quantizer")
            kernel, bias = (quantize(v, t) for v, t in zip(layer.get_weights(), (w_t, b_t)))
            x_t = types[ins[0]]
            acc_t = accumulator(x_t, w_t, kernel.shape[0], extra=b_t)
            float32_sums[layer.name] = acc_t.width
            act = after[0] if len(after) == 1 and type(after[0]).__name__ == "QActivation" else None
            act_q = act.get_config()["activation"] if act else None
            relu = act is not None and str(act_q).startswith("quantized_relu")
            result_t = _qtype(act, "activation") if act is not None and not relu else acc_t
            tensors[layer.name] = tf.keras.layers.Dense(kernel.shape[1], name=layer.name)(tensors[ins[0]])
            new_weights[layer.name] = [kernel, bias]
            types[layer.name] = result_t
            precision(layer.name, weight=w_t, bias=b_t, accum=acc_t, result=result_t)
            dense_layers.append(layer.name)
            # hls4ml adds '<name>_linear' for Keras' implicit linear activation: an identity cast here
            precision(f"{layer.name}_linear", result=result_t)
            expected[f"{layer.name}_linear"] = result_t
            ops.append(Op("dense", layer.name, ins, result_t, {"kernel": kernel, "bias": bias}))
            if act is not None and not relu:
                alias[act.name] = layer.name
            if act is None:
                output_name = layer.name
        elif cls == "QActivation":
            if not str(layer.get_config()["activation"]).startswith("quantized_relu"):
                raise ConversionError(f"layer '{layer.name}': a linear QActivation must follow a QDense")
            relu_t = _qtype(layer, "activation")
            tensors[layer.name] = tf.keras.layers.Activation("relu", name=layer.name)(tensors[ins[0]])
            types[layer.name] = relu_t
            precision(layer.name, result=relu_t)
            ops.append(Op("relu", layer.name, ins, relu_t))
        elif cls == "Add":
            t = _sum_type(types[ins[0]], types[ins[1]])
            tensors[layer.name] = tf.keras.layers.Add(name=layer.name)([tensors[i] for i in ins])
            types[layer.name] = t
            precision(layer.name, result=t)
            ops.append(Op("add", layer.name, ins, t))
        elif cls == "GlobalMaxPooling1D":
            tensors[layer.name] = tf.keras.layers.GlobalMaxPooling1D(name=layer.name)(tensors[ins[0]])
            types[layer.name] = types[ins[0]]
            precision(layer.name, result=types[ins[0]])
            ops.append(Op("maxpool", layer.name, ins, types[ins[0]]))
        elif kinds.by_keras_layer(cls) is not None:
            # Q, K, V become three hls4ml Dense layers (constant weights: the strategy and the particle
            # parallelization apply); l1tag's kernel keeps the projections, scores, softmax and A V'
            kind, cfg, x_t = kinds.by_keras_layer(cls), layer.get_config(), types[ins[0]]
            trained_tables(layer)
            n, d = (int(v) for v in layer.input_shape[1:])
            dims = attention_dims(kind, cfg, n)
            ftypes = attention_types(layer.name, cfg)
            spec = attention_spec(dims["kind"], n, d, dims["heads"], dims["m"], dims["conv"], x_t, ftypes, table_size)
            short = {w.name.split("/")[-1].split(":")[0]: v for w, v in zip(layer.weights, layer.get_weights())}
            fw = attention_firmware_weights(kind, cfg, short, ftypes)
            qkv_names = []
            for part in ("q", "k", "v"):
                name = f"{layer.name}_{part}"
                tensors[name] = tf.keras.layers.Dense(d, use_bias=False, name=name)(tensors[ins[0]])
                new_weights[name] = [fw[f"w{part}"]]
                types[name] = spec.qkv_t
                precision(name, weight=spec.w_t, bias=spec.w_t, accum=spec.acc_qkv_t, result=spec.qkv_t)
                precision(f"{name}_linear", result=spec.qkv_t)
                expected[f"{name}_linear"] = spec.qkv_t
                dense_layers.append(name)
                ops.append(Op("dense", name, ins, spec.qkv_t, {"kernel": fw[f"w{part}"], "bias": np.zeros(d)}))
                qkv_names.append(name)
            for part in ("qkv", "proj", "score", "mix") + (("conv",) if spec.conv else ()):
                float32_sums[f"{layer.name}.{part}"] = getattr(spec, f"acc_{part}_t").width  # e x 1/sum: float64
            kernel_weights = {k: short[k] for k in kernel_weight_names(kind, cfg)}
            core = AttentionCore(kind.name, cfg, {k: v.shape for k, v in kernel_weights.items()}, name=layer.name)
            tensors[layer.name] = core([tensors[q] for q in qkv_names])
            new_weights[layer.name] = list(kernel_weights.values())
            layer_cfg.setdefault(layer.name, {}).update(table_size=table_size, parallelization_factor=parallel,
                                                        variable_products=variable_products)
            ops.append(Op("attention", layer.name, qkv_names, spec.out_t,
                          {k: fw[k] for k in kind_weight_names(kind)}, spec))
            types[layer.name] = spec.out_t
        elif isinstance(layer, QDynamicTanh):
            trained_tables(layer)
            spec = DynamicTanhSpec(types[ins[0]], _qtype(layer, "param_quantizer"), _qtype(layer, "output_quantizer"),
                                   table_size)
            alpha, beta = (float(quantize(v, spec.param_t)) for v in layer.get_weights())
            float32_sums[layer.name] = spec.arg_t.width  # alpha x + beta
            tensors[layer.name] = QDynamicTanh.from_config(layer.get_config())(tensors[ins[0]])
            new_weights[layer.name] = layer.get_weights()
            layer_cfg.setdefault(layer.name, {}).update(table_size=table_size,
                                                        parallelization_factor=parallel)
            ops.append(Op("dynamic_tanh", layer.name, ins, spec.out_t, {"alpha": alpha, "beta": beta}, spec))
            types[layer.name] = spec.out_t
        elif cls == "Activation" and layer.get_config().get("activation") == "softmax" and not after:
            continue  # the firmware ends at the logits
        elif cls == "GlobalAveragePooling1D":
            raise ConversionError(f"layer '{layer.name}': mean pooling is not supported by the bit-exact flow "
                                  f"(its division rounds); use model.pooling: max")
        else:
            raise ConversionError(f"layer '{layer.name}' ({cls}) is not supported by l1tag's converter; supported: "
                                  "QDense, QActivation, Add, GlobalMaxPooling1D and l1tag's attention and "
                                  "DynamicTanh layers")
    if output_name is None:
        raise ConversionError("the model must end with a QDense classifier (the logits)")
    plain = tf.keras.Model(inp, tensors[output_name], name=f"{model.name}_firmware")
    for name, weights in new_weights.items():
        plain.get_layer(name).set_weights(weights)
    for name in layer_cfg:
        layer_cfg[name]["ReuseFactor"] = reuse_factor
        # hls4ml's distributed arithmetic exists for Dense/Conv only; every other layer is a plain pipeline
        layer_cfg[name]["Strategy"] = strategy if name in dense_layers or strategy != DA else "Latency"
        if name in dense_layers:
            layer_cfg[name]["ParallelizationFactor"] = parallel
    model_strategy = "Latency" if strategy == DA else strategy
    hls_config = {"Model": {"Precision": "ap_fixed<16,6>", "ReuseFactor": reuse_factor, "Strategy": model_strategy},
                  "LayerName": layer_cfg}
    expected.update({op.name: op.result_t for op in ops})
    return Lowered(plain, hls_config, ops, input_t, output_name, expected, float32_sums)
