/* ---------------------------------------------------------------------------------------------
 * l1tag_dynamic_tanh.h -- DynamicTanh, y = tanh(alpha * x + beta), for io_parallel.
 *
 * Maths (reference: l1tag/hls/reference/dynamic_tanh.py, equal bit for bit):
 *   t = alpha * x + beta                                  exact in arg_t
 *   i = clamp(floor(t * 2^index_shift) + table_size / 2, 0, table_size - 1)
 *   y = table[i]                                          tanh at the bin centre, already in res_T
 * The table spans t in [-4, 4): table_size / 8 = 2^index_shift entries per unit of t, so the index
 * is an arithmetic shift of t's raw bits (exact, no float).
 * Particle parallelism: the n_in elements are n_groups groups of group_size (= parallel particles x d
 * features); the group loop is pipelined at II = 1 with trip count n_groups and holds group_size
 * unrolled copies of the lookup (the resource sharing HLS honours: a pipelined loop, no ALLOCATION).
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
    typedef ap_fixed<8, 1, AP_RND_CONV, AP_SAT> table_t; // table entries (= output type)
};

// One element: the table lookup (also called per particle inside l1tag's fused particle loops).
template <class data_T, class res_T, typename CONFIG_T>
res_T dynamic_tanh_element(const data_T x, const typename CONFIG_T::param_t alpha,
                           const typename CONFIG_T::param_t beta,
                           const typename CONFIG_T::table_t table[CONFIG_T::table_size]) {
    #pragma HLS INLINE
    typename CONFIG_T::arg_t t = alpha * x + beta;
    // floor(t * 2^index_shift): an arithmetic shift of t's raw integer (t * 2^arg_frac)
    long long idx = (raw_signed(t) >> (CONFIG_T::arg_frac - CONFIG_T::index_shift)) + CONFIG_T::table_size / 2;
    if (idx < 0)
        idx = 0;
    if (idx > (long long)CONFIG_T::table_size - 1)
        idx = CONFIG_T::table_size - 1;
    return table[idx];
}

template <class data_T, class res_T, typename CONFIG_T>
void dynamic_tanh(const data_T x[CONFIG_T::n_in], res_T y[CONFIG_T::n_in], const typename CONFIG_T::param_t alpha[1],
                  const typename CONFIG_T::param_t beta[1], const typename CONFIG_T::table_t table[CONFIG_T::table_size]) {
DYNAMIC_TANH_GROUPS:
    for (unsigned g = 0; g < CONFIG_T::n_groups; g++) {
        #pragma HLS PIPELINE II=1
    DYNAMIC_TANH_ELEMENT:
        for (unsigned u = 0; u < CONFIG_T::group_size; u++) {
            #pragma HLS UNROLL
            const unsigned i = g * CONFIG_T::group_size + u;
            y[i] = dynamic_tanh_element<data_T, res_T, CONFIG_T>(x[i], alpha[0], beta[0], table);
        }
    }
}

} // namespace l1tag

#endif
