"""A constant-weight layer: hls4ml's Dense (a pointwise Conv1D on particles), exact accumulator, one cast.

Lowering: ``QDense`` + ``QActivation(quantized_relu)`` -> Dense (result = its exact accumulator) + the
ReLU op; ``QDense`` + ``QActivation(quantized_bits)`` -> Dense whose result is the activation's type;
``QDense`` alone (the logits) -> Dense with its exact accumulator as result.  ``HQDense`` (heterogeneous
quantization, every weight its own fractional bits) the same, its weights as rounded, in the narrowest type
that holds them all, and an accumulator bounded by their values.
"""

from __future__ import annotations

from l1tag.numerics.fixed_point import accumulator, constant_accumulator, fitting_type, quantize
from l1tag.ops.base import OpRule, quantizer_type


class Dense(OpRule):
    name = "dense"
    keras_classes = ("QDense", "HQDense")
    per_particle = True

    def lower(self, layer, lowering):
        config = layer.get_config()
        b_t = quantizer_type(layer.name, config, "bias_quantizer")
        source = lowering.sources(layer)
        if hasattr(layer, "firmware_kernel"):  # heterogeneous: each weight already on its own grid
            kernel = layer.firmware_kernel()
            bias = quantize(layer.bias.numpy(), b_t)
            w_t = fitting_type(kernel)
            acc_t = constant_accumulator(lowering.types[source[0]], kernel, bias, b_t)
        else:
            w_t = quantizer_type(layer.name, config, "kernel_quantizer")
            kernel, bias = (quantize(v, t) for v, t in zip(layer.get_weights(), (w_t, b_t)))
            acc_t = accumulator(lowering.types[source[0]], w_t, kernel.shape[0], extra=b_t)
        lowering.float32_sums[layer.name] = acc_t.width
        act = lowering.next_activation(layer)
        relu = act is not None and str(act.get_config()["activation"]).startswith("quantized_relu")
        result_t = quantizer_type(act.name, act.get_config(), "activation") if act is not None and not relu \
            else acc_t
        lowering.dense(layer.name, source, kernel, bias, w_t, b_t, acc_t, result_t)
        if act is not None and not relu:
            lowering.alias[act.name] = layer.name  # the linear activation is the Dense's own result cast
        if act is None:
            lowering.output_name = layer.name

    def reference(self, op, ins):
        return quantize(ins[0] @ op.weights["kernel"] + op.weights["bias"], op.result_t)

    def trace(self, op, ins):
        from l1tag.ops.trace import cast

        return cast(ins[0] @ op.weights["kernel"] + op.weights["bias"], op.result_t)


RULE = Dense()
