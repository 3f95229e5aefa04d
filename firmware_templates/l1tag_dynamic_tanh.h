/* ---------------------------------------------------------------------------------------------
 * l1tag_dynamic_tanh.h -- DynamicTanh, y = tanh(alpha * x + beta), for io_parallel.
 *
 * Maths (reference: l1tag/hls/reference/dynamic_tanh.py, equal bit for bit):
 *   t = alpha * x + beta                                  exact in arg_t
 *   i = clamp(floor(t * 2^index_shift) + table_size / 2, 0, table_size - 1)
 *   y = table[i]                                          tanh at the bin centre, already in res_T
 * The table spans t in [-4, 4): table_size / 8 = 2^index_shift entries per unit of t, so the index
 * is an arithmetic shift of t's raw bits (exact, no float).
 * Pragmas: one pipeline with II = reuse_factor; each element is independent, so the loop unrolls
 * into n * d table lookups and alpha * x products (ALLOCATION caps the multipliers).
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
    static const unsigned reuse_factor = 1;          // II
    static const unsigned multiplier_limit = 16;     // ceil(n_in / reuse_factor)
    typedef ap_fixed<8, 3> param_t;                  // alpha, beta
    typedef ap_fixed<24, 8> arg_t;                   // alpha * x + beta, exact
    typedef ap_fixed<8, 1, AP_RND_CONV, AP_SAT> table_t; // table entries (= output type)
};

template <class data_T, class res_T, typename CONFIG_T>
void dynamic_tanh(const data_T x[CONFIG_T::n_in], res_T y[CONFIG_T::n_in], const typename CONFIG_T::param_t alpha[1],
                  const typename CONFIG_T::param_t beta[1], const typename CONFIG_T::table_t table[CONFIG_T::table_size]) {
    #pragma HLS PIPELINE II=CONFIG_T::reuse_factor
    #pragma HLS ALLOCATION operation instances=mul limit=CONFIG_T::multiplier_limit
DYNAMIC_TANH_ELEMENT:
    for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
        typename CONFIG_T::arg_t t = alpha[0] * x[i] + beta[0];
        // floor(t * 2^index_shift): an arithmetic shift of t's raw integer (t * 2^arg_frac)
        long long idx = (raw_signed(t) >> (CONFIG_T::arg_frac - CONFIG_T::index_shift)) + CONFIG_T::table_size / 2;
        if (idx < 0)
            idx = 0;
        if (idx > (long long)CONFIG_T::table_size - 1)
            idx = CONFIG_T::table_size - 1;
        y[i] = table[idx];
    }
}

} // namespace l1tag

#endif
