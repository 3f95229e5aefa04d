/* ---------------------------------------------------------------------------------------------
 * l1tag_product.h -- products of two variables, element by element (l1tag/ops/multiply.py).
 *
 * y[i] = res_T(a[i] * b[i]): the exact product cast once to the result type (AP_RND_CONV / AP_SAT of a
 * folded QActivation, or the exact type).  Each product is l1tag::product<impl> (l1tag_common.h), so its
 * binding (fabric or DSP) is the config's `hls.variable_products`.  The n_in elements run as n_groups
 * particle groups, a loop pipelined at II = 1 with rewind; group_size elements per iteration, unrolled.
 * product_element is also called per particle inside l1tag's fused particle loops.
 * --------------------------------------------------------------------------------------------- */
#ifndef L1TAG_PRODUCT_H_
#define L1TAG_PRODUCT_H_

#include "l1tag_common.h"

namespace l1tag {

struct product_config {
    static const unsigned n_in = 16;                    // elements
    static const unsigned n_groups = 2;                 // trip count of the group loop (particle groups)
    static const unsigned group_size = n_in / n_groups; // elements per iteration
    static const int product_impl = 0;                  // l1tag::product<impl>
};

template <class a_T, class b_T, class res_T, typename CONFIG_T>
res_T product_element(const a_T a, const b_T b) {
    #pragma HLS INLINE
    return res_T(product<CONFIG_T::product_impl>::of(a, b));
}

template <class a_T, class b_T, class res_T, typename CONFIG_T>
void elementwise_product(const a_T a[CONFIG_T::n_in], const b_T b[CONFIG_T::n_in], res_T y[CONFIG_T::n_in]) {
PRODUCT_GROUPS:
    for (unsigned g = 0; g < CONFIG_T::n_groups; g++) {
        #pragma HLS PIPELINE II=1 rewind
    PRODUCT_ELEMENT:
        for (unsigned u = 0; u < CONFIG_T::group_size; u++) {
            #pragma HLS UNROLL
            const unsigned i = g * CONFIG_T::group_size + u;
            y[i] = product_element<a_T, b_T, res_T, CONFIG_T>(a[i], b[i]);
        }
    }
}

} // namespace l1tag

#endif
