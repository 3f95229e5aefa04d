"""The product of two variables, element by element: Keras ``Multiply`` -> l1tag's ``ProductCore`` kernel
(``l1tag/hls/product.py``, C++ ``l1tag::elementwise_product``), each product bound as ``hls.variable_products``
asks (``l1tag::product<impl>``).  The result is the exact product, or the type of a linear QActivation that
follows (folded: one cast).  L-GATr-slim's gated nonlinearity (relu(g) (.) v) and its Minkowski squares
(v (.) v) are this op (l1tag/kinds/lgatr_slim.py).
"""

from __future__ import annotations

from l1tag.numerics.fixed_point import FixedType, quantize
from l1tag.ops.base import OpRule, Product


def product_type(a: FixedType, b: FixedType) -> FixedType:
    """The exact type of a x b (ap_fixed's own product type)."""
    signed = a.signed or b.signed
    return FixedType(a.width + b.width, a.integer + b.integer, signed=signed)


def multiply_products(a_t: FixedType, b_t: FixedType, elements: int) -> list[Product]:
    """The products one iteration forms: ``elements`` of two variables (the census's and the estimate's)."""
    return [Product("product", elements, a_t, b_t)]


class Multiply(OpRule):
    name = "multiply"
    keras_classes = ("Multiply",)
    per_particle = True

    def lower(self, layer, lowering):
        from l1tag.models.layers.firmware_cores import ProductCore

        source = lowering.sources(layer)
        exact = product_type(lowering.types[source[0]], lowering.types[source[1]])
        result_t = lowering.fold_cast(layer, exact)
        lowering.float32_sums[layer.name] = exact.width
        lowering.emit(self.name, layer.name, source, result_t, lambda inputs: ProductCore(name=layer.name)(inputs),
                      kernel_config={"parallelization_factor": lowering.parallel,
                                     "variable_products": lowering.variable_products})

    def reference(self, op, ins):
        return quantize(ins[0] * ins[1], op.result_t)

    def trace(self, op, ins):
        from l1tag.ops.trace import cast

        return cast(ins[0] * ins[1], op.result_t)


RULE = Multiply()
