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
* ``Add``                                        -> Add with the exact sum type (or a following linear
                                                    QActivation's);
* ``Multiply``                                   -> l1tag's ``ProductCore``, exact product (or a following
                                                    linear QActivation's type);
* ``GlobalMaxPooling1D``                         -> the same, result = input type;
* l1tag's attention layer (any kind)             -> three bias-free Dense layers Q, K, V (result qkv_t) and
  an ``AttentionCore`` on [Q, K, V] that l1tag's own handler converts (projections, scores, softmax, A V');
* DynamicTanh                                    -> unchanged: l1tag's own handler reads its quantizers;
* the final softmax                              -> dropped: the firmware outputs the logits (argmax and
  ordering are the same; quality numbers apply the softmax in software).

Each rule lives with its op (``l1tag/ops/<op>.py``: ``OpRule.lower``); this module walks the model once,
asks the registry which rule lowers each layer, and hands the rules a :class:`Lowering` to write into.
The lowering returns the plain Keras model, hls4ml's ``hls_config`` and a list of ops that the NumPy
reference (``l1tag.ops.run_reference``) executes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from l1tag.config import DA
from l1tag.numerics.tables import DEFAULT_TABLE_SIZE
from l1tag.errors import ConversionError
from l1tag.numerics.fixed_point import FixedType
from l1tag import ops
from l1tag.config import particles_per_clock
from l1tag.ops import Op
from l1tag.ops.base import quantizer_type



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


def _consumers(model) -> dict[str, list]:
    out: dict[str, list] = {}
    for layer in model.layers:
        for node in layer._inbound_nodes:
            for inbound in node.inbound_layers if isinstance(node.inbound_layers, list) else [node.inbound_layers]:
                out.setdefault(inbound.name, []).append(layer)
    return out


@dataclass
class Lowering:
    """What the op rules write into while the model is walked: the plain Keras tensors, each value's
    firmware type, the ops, hls4ml's per-layer config and the result types hls4ml must keep."""

    consumers: dict[str, list]
    table_size: int
    parallel: int  # P, particles per clock
    variable_products: str
    tensors: dict[str, object] = field(default_factory=dict)  # Keras layer name -> lowered Keras tensor
    types: dict[str, FixedType] = field(default_factory=dict)  # Keras layer name -> firmware type of its output
    alias: dict[str, str] = field(default_factory=dict)  # folded layer -> the layer whose output it is
    ops: list[Op] = field(default_factory=list)
    expected: dict[str, FixedType] = field(default_factory=dict)  # hls4ml node name -> its result type
    layer_config: dict[str, dict] = field(default_factory=dict)
    dense_layers: list[str] = field(default_factory=list)  # constant-weight layers: strategy and P apply
    new_weights: dict[str, list] = field(default_factory=dict)
    float32_sums: dict[str, int] = field(default_factory=dict)
    output_name: str | None = None

    def sources(self, layer) -> list[str]:
        """The values a Keras layer reads (folded layers resolved)."""
        inbound = layer._inbound_nodes[0].inbound_layers
        names = [inbound.name] if not isinstance(inbound, list) else [x.name for x in inbound]
        return [self.alias.get(n, n) for n in names]

    def next_activation(self, layer):
        """The QActivation that alone reads ``layer``'s output, or None."""
        after = self.consumers.get(layer.name, [])
        return after[0] if len(after) == 1 and type(after[0]).__name__ == "QActivation" else None

    def fold_cast(self, layer, exact_t: FixedType) -> FixedType:
        """The result type of an op whose exact result is ``exact_t``: a linear QActivation that follows is
        folded into it (one cast, its type); otherwise the exact type."""
        act = self.next_activation(layer)
        if act is None or str(act.get_config()["activation"]).startswith("quantized_relu"):
            return exact_t
        self.alias[act.name] = layer.name
        return quantizer_type(act.name, act.get_config(), "activation")

    def precision(self, name: str, **types: FixedType) -> None:
        self.layer_config.setdefault(name, {}).setdefault("Precision", {}).update({k: t.cpp() for k, t in types.items()})

    def trained_tables(self, layer) -> None:
        """The model computes through tables of its own size: the firmware's must be the same."""
        trained = layer.get_config().get("table_size", self.table_size)
        if int(trained) != int(self.table_size):
            raise ConversionError(f"layer '{layer.name}' was trained with lookup tables of {trained} entries but "
                                  f"hls.table_size is {self.table_size}: set hls.table_size: {trained}, or retrain")

    def dense(self, name: str, inputs: list[str], kernel, bias, w_t, b_t, acc_t, result_t, use_bias: bool = True):
        """A constant-weight hls4ml Dense layer (pre-quantized weights) and its op."""
        import tensorflow as tf

        self.tensors[name] = tf.keras.layers.Dense(kernel.shape[1], use_bias=use_bias, name=name)(
            self.tensors[inputs[0]])
        self.new_weights[name] = [kernel, bias] if use_bias else [kernel]
        self.types[name] = result_t
        self.precision(name, weight=w_t, bias=b_t, accum=acc_t, result=result_t)
        self.dense_layers.append(name)
        # hls4ml adds '<name>_linear' for Keras' implicit linear activation: an identity cast here
        self.precision(f"{name}_linear", result=result_t)
        self.expected[f"{name}_linear"] = result_t
        self.ops.append(Op("dense", name, inputs, result_t, {"kernel": kernel, "bias": bias}))

    def emit(self, operation: str, name: str, inputs: list[str], result_t: FixedType, make_tensor, weights=None,
             spec=None, keras_weights=None, kernel_config=None, result_precision: bool = True) -> None:
        """An op and its lowered Keras layer (``make_tensor`` of the input tensors); ``keras_weights`` the
        layer's weights, ``kernel_config`` l1tag's own layers' hls4ml attributes."""
        self.tensors[name] = make_tensor([self.tensors[i] for i in inputs])
        if keras_weights is not None:
            self.new_weights[name] = keras_weights
        self.types[name] = result_t
        if result_precision:
            self.precision(name, result=result_t)
        if kernel_config:
            self.layer_config.setdefault(name, {}).update(kernel_config)
        self.ops.append(Op(operation, name, inputs, result_t, weights or {}, spec))


def lower(model, reuse_factor: int = 1, strategy: str = "Latency", table_size: int = DEFAULT_TABLE_SIZE,
          parallelization_factor: int | None = None, variable_products: str = "lut") -> Lowered:
    """Walk the QKeras model once; see the module docstring for the rules.

    ``strategy`` applies to the Dense layers (hls4ml's distributed arithmetic exists for them only);
    ``parallelization_factor`` P, the particles per clock, to every per-particle layer: hls4ml's
    ``ParallelizationFactor`` of the Dense layers on (n, d) and the attention / DynamicTanh kernels'
    (None: all n particles at once, as ``hls.parallelization_factor: null``)."""
    import tensorflow as tf

    consumers = _consumers(model)
    input_layer = model.layers[0]
    follow = consumers.get(input_layer.name, [])
    if len(follow) != 1 or type(follow[0]).__name__ != "QActivation":
        raise ConversionError("the model input is not followed by a QActivation(quantized_bits) input quantizer: "
                              "convert the QAT model (quantization.enabled: true), not the float one")
    input_t = quantizer_type(follow[0].name, follow[0].get_config(), "activation")
    shape = input_layer.input_shape[0][1:] if isinstance(input_layer.input_shape, list) else input_layer.input_shape[1:]
    n = int(shape[0]) if len(shape) > 1 else 1
    lowering = Lowering(consumers, table_size, particles_per_clock(n, parallelization_factor), variable_products)
    inp = tf.keras.Input(shape, name=input_layer.name)
    lowering.tensors[input_layer.name], lowering.types[input_layer.name] = inp, input_t
    lowering.alias[follow[0].name] = input_layer.name
    lowering.precision(input_layer.name, result=input_t)
    lowering.ops.append(Op("input", input_layer.name, [], input_t))

    for layer in model.layers[1:]:
        if layer.name in lowering.alias:
            continue
        cls = type(layer).__name__
        if cls == "Activation" and layer.get_config().get("activation") == "softmax" \
                and not consumers.get(layer.name):
            continue  # the firmware ends at the logits
        rule = next((r for r in ops.OPS if r.lowers(layer)), None)
        if rule is None:
            raise ConversionError(f"layer '{layer.name}' ({cls}) is not supported by l1tag's converter; supported: "
                                  "QDense, QActivation, Add, Multiply, GlobalMaxPooling1D and l1tag's attention and "
                                  "DynamicTanh layers")
        rule.lower(layer, lowering)
    if lowering.output_name is None:
        raise ConversionError("the model must end with a QDense classifier (the logits)")
    plain = tf.keras.Model(inp, lowering.tensors[lowering.output_name], name=f"{model.name}_firmware")
    for name, weights in lowering.new_weights.items():
        plain.get_layer(name).set_weights(weights)
    layer_cfg, dense_layers = lowering.layer_config, lowering.dense_layers
    for name in layer_cfg:
        layer_cfg[name]["ReuseFactor"] = reuse_factor
        # hls4ml's distributed arithmetic exists for Dense/Conv only; every other layer is a plain pipeline
        layer_cfg[name]["Strategy"] = strategy if name in dense_layers or strategy != DA else "Latency"
        if name in dense_layers:
            layer_cfg[name]["ParallelizationFactor"] = lowering.parallel
    model_strategy = "Latency" if strategy == DA else strategy
    hls_config = {"Model": {"Precision": "ap_fixed<16,6>", "ReuseFactor": reuse_factor, "Strategy": model_strategy},
                  "LayerName": layer_cfg}
    expected = dict(lowering.expected)
    expected.update({op.name: op.result_t for op in lowering.ops})
    return Lowered(plain, hls_config, lowering.ops, input_t, lowering.output_name, expected, lowering.float32_sums)
