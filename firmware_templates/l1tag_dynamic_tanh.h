/* ---------------------------------------------------------------------------------------------
 * l1tag_dynamic_tanh.h -- DynamicTanh, y = tanh(alpha * x + beta), for io_parallel.
 *
 * Maths (reference: l1tag/ops/dynamic_tanh.py, equal bit for bit):
 *   t = alpha * x + beta                                  exact in arg_t
 *   i = clamp(floor(t * 2^index_shift) + table_size / 2, 0, table_size - 1)
 *   y = table[i]                                          tanh at the bin centre, already in res_T
 * The table spans t in [-4, 4): table_size / 8 = 2^index_shift entries per unit of t, so the index
 * is an arithmetic shift of t's raw bits (exact, no float).
 * alpha, beta and the table are the config's compile-time constants (l1tag/hls/dynamic_tanh.py writes them:
 * alpha() and beta() return literals, so the product folds into shift-adds; the table is a static const
 * ROM with its BIND_STORAGE), and the index is computed on exact widths (ap_int), no 64-bit integers.
 * Particle parallelism: the n_in elements are n_groups groups of group_size (= parallel particles x d
 * features); the group loop is pipelined at II = 1 with `rewind` and trip count n_groups and holds
 * group_size unrolled copies of the lookup (the resource sharing HLS honours: a pipelined loop, no
 * ALLOCATION). Inside l1tag's fused particle loops only dynamic_tanh_element is called.
 * --------------------------------------------------------------------------------------------- */
#ifndef L1TAG_DYNAMIC_TANH_H_
#define L1TAG_DYNAMIC_TANH_H_

#include "l1tag_common.h"

namespace l1tag {

struct dynamic_tanh_config {
    static const unsigned n_in = 16;                 // elements
    static const unsigned table_size = 1024;         // power of two
    static const int index_shift = 7;                // log2(table_size / 8)
    static const int arg_frac = 16;                  // fractional bits of arg_t
    static const unsigned n_groups = 2;              // trip count of the group loop (particle groups)
    static const unsigned group_size = n_in / n_groups; // elements per iteration
    typedef ap_fixed<8, 3> param_t;                  // alpha, beta
    typedef ap_fixed<24, 8> arg_t;                   // alpha * x + beta, exact
    static const unsigned index_bits = 10;           // log2(table_size)
    typedef ap_fixed<8, 1, AP_RND_CONV, AP_SAT> table_t; // table entries (= output type)
    // the generated config defines its own constants and table
    static param_t alpha() { return param_t(1); }
    static param_t beta() { return param_t(0); }
    static table_t table(unsigned i) { return table_t(0); }
};

// One element: the table lookup (also called per particle inside l1tag's fused particle loops).
template <class data_T, class res_T, typename CONFIG_T>
res_T dynamic_tanh_element(const data_T x) {
    #pragma HLS INLINE
    typedef typename CONFIG_T::arg_t arg_t;
    const arg_t t = CONFIG_T::alpha() * x + CONFIG_T::beta();
    // floor(t * 2^index_shift) + table_size / 2: an arithmetic shift of t's raw integer (t * 2^arg_frac)
    const ap_int<arg_t::width + 1> idx =
        (raw_bits_signed(t) >> (CONFIG_T::arg_frac - CONFIG_T::index_shift)) + ap_int<arg_t::width + 1>(CONFIG_T::table_size / 2);
    const ap_uint<CONFIG_T::index_bits> i =
        idx < 0 ? ap_uint<CONFIG_T::index_bits>(0)
                : idx > (int)CONFIG_T::table_size - 1 ? ap_uint<CONFIG_T::index_bits>(CONFIG_T::table_size - 1)
                                                      : ap_uint<CONFIG_T::index_bits>(idx);
    return CONFIG_T::table(i);
}

template <class data_T, class res_T, typename CONFIG_T>
void dynamic_tanh(const data_T x[CONFIG_T::n_in], res_T y[CONFIG_T::n_in]) {
DYNAMIC_TANH_GROUPS:
    for (unsigned g = 0; g < CONFIG_T::n_groups; g++) {
        #pragma HLS PIPELINE II=1 rewind
    DYNAMIC_TANH_ELEMENT:
        for (unsigned u = 0; u < CONFIG_T::group_size; u++) {
            #pragma HLS UNROLL
            const unsigned i = g * CONFIG_T::group_size + u;
            y[i] = dynamic_tanh_element<data_T, res_T, CONFIG_T>(x[i]);
        }
    }
}

} // namespace l1tag

#endif
