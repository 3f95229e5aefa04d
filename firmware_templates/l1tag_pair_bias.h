/* ---------------------------------------------------------------------------------------------
 * l1tag_pair_bias.h -- ParT's pairwise score bias U (heads, n, n) from the quantized constituents.
 *
 * The NumPy reference (l1tag/numerics/pair_features.py, l1tag/ops/pair_bias.py) defines every rounding;
 * the C-simulation is checked against it bit for bit. Per particle i and pair (a, b), in log2 units:
 *   P[i]   = cast<pt_t>(pt'[i] + pt_offset)                pT / scale_pt, clipped at 0
 *   lP[i]  = log2(P[i]) + log2_pt_scale
 *   d_eta  = cast<diff_t>(eta'[a] - eta'[b]), d_phi likewise
 *   r2     = coef_eta d_eta^2 + coef_phi d_phi^2          dR^2, exact in r2_t
 *   lR2    = log2(r2),  lS = log2(P[a] + P[b]) + log2_pt_scale
 *   f      = cast<feat_t>([lR2 / 2, min(lP) + lR2 / 2, min(lP) - lS, lP[a] + lP[b] + lR2])   dR, kT, z, m^2
 *   U      = cast<score_t>(f W1 + b1), or cast<score_t>(cast<hidden_t>(relu(f W1 + b1)) W2 + b2)
 * log2 by shift and add: the leading one's position e of the raw integer k = max(raw(x), 1), the K bits
 * after it as the index j of a 2^K-entry table of log2(1 + (j + 1/2) / 2^K) (the config's ROM), plus
 * e - frac(x): no divider, no multiplier. The squares of d_eta, d_phi are the only products of two
 * variables (product<impl>: `hls.variable_products` decides their binding); the embedding's weights and the
 * coefficients are compile-time constants (constant products). The features are symmetric in a and b: each pair (a <= b) is computed once and written twice.
 * One pipelined function: every pair in parallel (n (n + 1) / 2 copies), for the fully parallel design
 * (hls.parallelization_factor = n).
 * --------------------------------------------------------------------------------------------- */
#ifndef L1TAG_PAIR_BIAS_H_
#define L1TAG_PAIR_BIAS_H_

#include "l1tag_common.h"

namespace l1tag {

struct pair_bias_config {
    static const unsigned n = 8;             // particles
    static const unsigned n_feat = 3;        // input features per particle
    static const unsigned heads = 2;         // H
    static const unsigned hidden = 0;        // units of the hidden layer (0: linear embedding)
    static const unsigned width1 = 2;        // outputs of the first layer: hidden, else heads
    static const unsigned col_pt = 0, col_eta = 1, col_phi = 2;
    static const unsigned mantissa_bits = 5; // K
    static const int product_impl = 0;       // the squares' binding (l1tag_common.h product<impl>)
    typedef ap_fixed<14, 6> x_t;             // the input's type
    typedef ap_ufixed<15, 7, AP_TRN, AP_SAT> pt_t;
    typedef ap_ufixed<16, 8> ptsum_t;
    typedef ap_fixed<12, 4, AP_RND_CONV, AP_SAT> diff_t;
    typedef ap_ufixed<13, 1, AP_RND_CONV, AP_SAT> coef_t;
    typedef ap_ufixed<38, 10> r2_t;
    typedef ap_fixed<20, 8> log_t;           // every log2: exact
    typedef ap_ufixed<12, 0> log2m_t;        // the mantissa table's entries
    typedef ap_fixed<12, 6, AP_RND_CONV, AP_SAT> feat_t;
    typedef ap_fixed<8, 2> weight_t;
    typedef ap_fixed<12, 3> bias_t;
    typedef ap_fixed<32, 12> acc1_t;
    typedef ap_ufixed<8, 3, AP_RND_CONV, AP_SAT> hidden_t;
    typedef ap_fixed<32, 12> acc2_t;
    typedef ap_fixed<10, 5, AP_RND_CONV, AP_SAT> score_t;
    // the generated config defines its own constants and table
    static x_t pt_offset() { return x_t(0); }
    static log_t log2_pt_scale() { return log_t(0); }
    static coef_t coef_eta() { return coef_t(1); }
    static coef_t coef_phi() { return coef_t(1); }
    static log2m_t log2_table(unsigned j) { return log2m_t(0); }
    static weight_t w1(unsigned i) { return weight_t(0); } // (feature f, output k) at f * width1 + k
    static bias_t b1(unsigned k) { return bias_t(0); }
    static weight_t w2(unsigned i) { return weight_t(0); } // (unit k, head h) at k * heads + h
    static bias_t b2(unsigned h) { return bias_t(0); }
};

// log2 of x >= 0 (x below one lsb counts as one lsb), exact in log_t: e - frac(T) + log2_table[j].
template <class T, typename CONFIG_T>
typename CONFIG_T::log_t shift_add_log2(const T &x) {
    #pragma HLS INLINE
    const int K = CONFIG_T::mantissa_bits;
    ap_uint<T::width> k = raw_bits(x);
    if (k == 0)
        k = 1;
    unsigned e = 0;
PAIR_BIAS_LEADING_ONE:
    for (unsigned i = 1; i < T::width; i++) {
        #pragma HLS UNROLL
        if (k[i])
            e = i;
    }
    const ap_uint<T::width + K> shifted = (ap_uint<T::width + K>(k) << K) >> e; // 2^K + j
    const ap_uint<K> j = shifted.range(K - 1, 0);
    typename CONFIG_T::log_t out = CONFIG_T::log2_table(j);
    out += ap_int<8>((int)e - (T::width - T::iwidth));
    return out;
}

template <class data_T, class res_T, typename CONFIG_T>
void pair_bias(const data_T x[CONFIG_T::n * CONFIG_T::n_feat], res_T u[CONFIG_T::heads * CONFIG_T::n * CONFIG_T::n]) {
    #pragma HLS INLINE off
    // a function pipeline, not a loop: no rewind to ask for; every pair is unrolled, a new jet each cycle
    #pragma HLS PIPELINE II=1
    typedef typename CONFIG_T::log_t log_t;
    typename CONFIG_T::pt_t p[CONFIG_T::n];
    log_t lp[CONFIG_T::n];
    #pragma HLS ARRAY_PARTITION variable=p complete
    #pragma HLS ARRAY_PARTITION variable=lp complete
PAIR_BIAS_PARTICLE:
    for (unsigned i = 0; i < CONFIG_T::n; i++) {
        #pragma HLS UNROLL
        p[i] = x[i * CONFIG_T::n_feat + CONFIG_T::col_pt] + CONFIG_T::pt_offset();
        lp[i] = shift_add_log2<typename CONFIG_T::pt_t, CONFIG_T>(p[i]) + CONFIG_T::log2_pt_scale();
    }
PAIR_BIAS_A:
    for (unsigned a = 0; a < CONFIG_T::n; a++) {
        #pragma HLS UNROLL
    PAIR_BIAS_B:
        for (unsigned b = a; b < CONFIG_T::n; b++) {
            #pragma HLS UNROLL
            const typename CONFIG_T::diff_t de = x[a * CONFIG_T::n_feat + CONFIG_T::col_eta] -
                                                 x[b * CONFIG_T::n_feat + CONFIG_T::col_eta];
            const typename CONFIG_T::diff_t dp = x[a * CONFIG_T::n_feat + CONFIG_T::col_phi] -
                                                 x[b * CONFIG_T::n_feat + CONFIG_T::col_phi];
            const typename CONFIG_T::r2_t r2 = CONFIG_T::coef_eta() * product<CONFIG_T::product_impl>::of(de, de) +
                                               CONFIG_T::coef_phi() * product<CONFIG_T::product_impl>::of(dp, dp);
            const log_t lr2 = shift_add_log2<typename CONFIG_T::r2_t, CONFIG_T>(r2);
            const typename CONFIG_T::ptsum_t s = p[a] + p[b];
            const log_t ls = shift_add_log2<typename CONFIG_T::ptsum_t, CONFIG_T>(s) + CONFIG_T::log2_pt_scale();
            const log_t low = lp[a] < lp[b] ? lp[a] : lp[b];
            ap_fixed<log_t::width, log_t::iwidth - 1> half; // lR2 / 2: the same bits, one more fractional bit
            half.range(log_t::width - 1, 0) = lr2.range(log_t::width - 1, 0);
            typename CONFIG_T::feat_t f[4];
            #pragma HLS ARRAY_PARTITION variable=f complete
            f[0] = half;
            f[1] = low + half;
            f[2] = low - ls;
            f[3] = lp[a] + lp[b] + lr2;
            typename CONFIG_T::acc1_t h1[CONFIG_T::width1];
            #pragma HLS ARRAY_PARTITION variable=h1 complete
        PAIR_BIAS_EMBED:
            for (unsigned k = 0; k < CONFIG_T::width1; k++) {
                #pragma HLS UNROLL
                typename CONFIG_T::acc1_t acc = CONFIG_T::b1(k);
            PAIR_BIAS_EMBED_SUM:
                for (unsigned i = 0; i < 4; i++) {
                    #pragma HLS UNROLL
                    acc += f[i] * CONFIG_T::w1(i * CONFIG_T::width1 + k);
                }
                h1[k] = acc;
            }
        PAIR_BIAS_HEAD:
            for (unsigned h = 0; h < CONFIG_T::heads; h++) {
                #pragma HLS UNROLL
                res_T out;
                if (CONFIG_T::hidden == 0) {
                    out = h1[h];
                } else {
                    typename CONFIG_T::acc2_t acc = CONFIG_T::b2(h);
                PAIR_BIAS_HIDDEN_SUM:
                    for (unsigned k = 0; k < CONFIG_T::hidden; k++) {
                        #pragma HLS UNROLL
                        typename CONFIG_T::hidden_t unit = h1[k] < 0 ? typename CONFIG_T::acc1_t(0) : h1[k];
                        acc += unit * CONFIG_T::w2(k * CONFIG_T::heads + h);
                    }
                    out = acc;
                }
                u[(h * CONFIG_T::n + a) * CONFIG_T::n + b] = out;
                u[(h * CONFIG_T::n + b) * CONFIG_T::n + a] = out;
            }
        }
    }
}

} // namespace l1tag

#endif
