/* ---------------------------------------------------------------------------------------------
 * l1tag_attention.h -- SAL-T partitioned, Linformer and full multi-head attention for io_parallel.
 *
 * Maths (per head h, depth dh = d / H; the NumPy reference l1tag/hls/reference/attention.py defines
 * every rounding and is what the C-simulation is checked against, bit for bit):
 *   Q, K, V = cast<qkv_t>(X Wq), ...                         X: (n, d), W: (d, d), exact accumulation
 *   K'[h,j] = cast<qkv_t>(sum_l wK[h,j,l] K[h, j*c+l])        partitioned (rows past n are zero)
 *   K'[h,j] = cast<qkv_t>(sum_i E[h,j,i] K[h,i])              linformer;  full: K' = K
 *   S[h]    = cast<score_t>(Q[h] K'[h]^T * 2^-score_shift)    (n, m)
 *   S[h]    = cast<score_t>(depthwise_conv_same(S)[h] + b[h]) partitioned only
 *   A[h,i]  = softmax over j through exp_table (indexed by the exact integer -(S - max S)/lsb) and
 *             inv_table (indexed linearly over the row sum in [1, m])
 *   Y       = cast<res_T>(A V'), heads concatenated           (n, d)
 * Layouts: x, y row-major (n, d), head h in columns h*dh .. h*dh+dh-1; W (d_in, d_out) row-major;
 * partition weights (H, p, c), Linformer E/F (H, p, n), conv kernel (kh, kw, H) -- all as Keras stores them.
 *
 * Precision: every accumulator type (acc_*_t) is chosen by the converter wide enough to be exact, so
 * the only roundings are the casts above, with the modes of the target types (AP_RND_CONV, AP_SAT
 * from the QKeras quantizers).
 *
 * Pragmas: the whole layer is one pipeline with II = reuse_factor; arrays are partitioned completely
 * (every element a register); ALLOCATION limits the multipliers to ceil(multiplications / reuse_factor),
 * as hls4ml's dense_latency does, so the reuse factor trades DSPs for II.
 * Measured II/latency: not synthesized here (no vendor tool); see l1tag estimate and bench/.
 * --------------------------------------------------------------------------------------------- */
#ifndef L1TAG_ATTENTION_H_
#define L1TAG_ATTENTION_H_

#include "l1tag_common.h"

namespace l1tag {

struct attention_config {
    // shapes
    static const unsigned n = 8;        // particles
    static const unsigned d = 8;        // width
    static const unsigned heads = 2;    // H
    static const unsigned head_dim = 4; // dh = d / H
    static const unsigned m = 4;        // projected length (p) or n for full attention
    static const unsigned chunk = 2;    // partition size c = ceil(n / p)
    static const unsigned conv_kh = 3;  // score convolution kernel rows (partitioned)
    static const unsigned conv_kw = 3;  // and columns
    static const int score_shift = 1;   // scores scaled by 2^-score_shift ~ 1/sqrt(dh)
    // softmax tables
    static const unsigned table_size = 1024; // entries of exp_table and inv_table
    static const unsigned exp_frac = 16;     // fractional bits of exp_t (its raw 1.0 is 1 << exp_frac)
    // implementation
    static const unsigned reuse_factor = 1;         // II of the layer
    static const unsigned multiplier_limit = 10000; // ceil(multiplications / reuse_factor)
    // types
    typedef ap_fixed<8, 2> weight_t;
    typedef ap_fixed<8, 2> conv_weight_t;
    typedef ap_fixed<8, 3> conv_bias_t;
    typedef ap_fixed<8, 4, AP_RND_CONV, AP_SAT> qkv_t;
    typedef ap_fixed<10, 5, AP_RND_CONV, AP_SAT> score_t;
    typedef ap_ufixed<8, 0, AP_RND_CONV, AP_SAT> softmax_t;
    typedef ap_fixed<32, 12> acc_qkv_t;
    typedef ap_fixed<32, 12> acc_proj_t;
    typedef ap_fixed<32, 12> acc_score_t;
    typedef ap_fixed<32, 12> acc_conv_t;
    typedef ap_fixed<32, 12> acc_mix_t;
    typedef ap_fixed<11, 6> diff_t;
    typedef ap_ufixed<17, 1> exp_t;
    typedef ap_ufixed<20, 4> sum_t;
    typedef ap_ufixed<18, 1> inv_t;
};

// Q, K, V = X W (each cast to qkv_t).
template <class data_T, typename CONFIG_T>
void attention_qkv(const data_T x[CONFIG_T::n * CONFIG_T::d], const typename CONFIG_T::weight_t wq[CONFIG_T::d * CONFIG_T::d],
                   const typename CONFIG_T::weight_t wk[CONFIG_T::d * CONFIG_T::d],
                   const typename CONFIG_T::weight_t wv[CONFIG_T::d * CONFIG_T::d],
                   typename CONFIG_T::qkv_t q[CONFIG_T::n * CONFIG_T::d], typename CONFIG_T::qkv_t k[CONFIG_T::n * CONFIG_T::d],
                   typename CONFIG_T::qkv_t v[CONFIG_T::n * CONFIG_T::d]) {
    #pragma HLS INLINE
ATTENTION_QKV_ROW:
    for (unsigned i = 0; i < CONFIG_T::n; i++) {
    ATTENTION_QKV_COL:
        for (unsigned c = 0; c < CONFIG_T::d; c++) {
            typename CONFIG_T::acc_qkv_t aq = 0, ak = 0, av = 0;
        ATTENTION_QKV_SUM:
            for (unsigned r = 0; r < CONFIG_T::d; r++) {
                aq += x[i * CONFIG_T::d + r] * wq[r * CONFIG_T::d + c];
                ak += x[i * CONFIG_T::d + r] * wk[r * CONFIG_T::d + c];
                av += x[i * CONFIG_T::d + r] * wv[r * CONFIG_T::d + c];
            }
            q[i * CONFIG_T::d + c] = aq;
            k[i * CONFIG_T::d + c] = ak;
            v[i * CONFIG_T::d + c] = av;
        }
    }
}

// K'[h, j] = sum over the rows of partition j (partitioned) or all rows (linformer) of w * K[h, row].
// rows_per_j = c with row = j*c + l (partitioned), or n with row = l (linformer).
template <typename CONFIG_T, unsigned rows_per_j, bool partitioned>
void attention_project(const typename CONFIG_T::qkv_t t[CONFIG_T::n * CONFIG_T::d],
                       const typename CONFIG_T::weight_t w[CONFIG_T::heads * CONFIG_T::m * rows_per_j],
                       typename CONFIG_T::qkv_t out[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::head_dim]) {
    #pragma HLS INLINE
ATTENTION_PROJECT_HEAD:
    for (unsigned h = 0; h < CONFIG_T::heads; h++) {
    ATTENTION_PROJECT_ROW:
        for (unsigned j = 0; j < CONFIG_T::m; j++) {
        ATTENTION_PROJECT_DEPTH:
            for (unsigned e = 0; e < CONFIG_T::head_dim; e++) {
                typename CONFIG_T::acc_proj_t acc = 0;
            ATTENTION_PROJECT_SUM:
                for (unsigned l = 0; l < rows_per_j; l++) {
                    const unsigned row = partitioned ? j * rows_per_j + l : l;
                    if (row < CONFIG_T::n) // rows past n are the zero padding of the last partition
                        acc += w[(h * CONFIG_T::m + j) * rows_per_j + l] *
                               t[row * CONFIG_T::d + h * CONFIG_T::head_dim + e];
                }
                out[(h * CONFIG_T::m + j) * CONFIG_T::head_dim + e] = acc;
            }
        }
    }
}

// Full attention: K' = K, re-laid out per head.
template <typename CONFIG_T>
void attention_identity(const typename CONFIG_T::qkv_t t[CONFIG_T::n * CONFIG_T::d],
                        typename CONFIG_T::qkv_t out[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::head_dim]) {
    #pragma HLS INLINE
ATTENTION_IDENTITY_HEAD:
    for (unsigned h = 0; h < CONFIG_T::heads; h++)
        for (unsigned j = 0; j < CONFIG_T::m; j++)
            for (unsigned e = 0; e < CONFIG_T::head_dim; e++)
                out[(h * CONFIG_T::m + j) * CONFIG_T::head_dim + e] = t[j * CONFIG_T::d + h * CONFIG_T::head_dim + e];
}

// S[h, i, j] = cast<score_t>(Q[h, i] . K'[h, j] * 2^-score_shift).
template <typename CONFIG_T>
void attention_scores(const typename CONFIG_T::qkv_t q[CONFIG_T::n * CONFIG_T::d],
                      const typename CONFIG_T::qkv_t kp[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::head_dim],
                      typename CONFIG_T::score_t s[CONFIG_T::heads * CONFIG_T::n * CONFIG_T::m]) {
    #pragma HLS INLINE
    // 2^-score_shift exactly: a one-bit unsigned fixed-point number whose only bit weighs 2^-shift
    ap_ufixed<1, 1 - CONFIG_T::score_shift> scale;
    scale[0] = 1;
ATTENTION_SCORES_HEAD:
    for (unsigned h = 0; h < CONFIG_T::heads; h++) {
    ATTENTION_SCORES_ROW:
        for (unsigned i = 0; i < CONFIG_T::n; i++) {
        ATTENTION_SCORES_COL:
            for (unsigned j = 0; j < CONFIG_T::m; j++) {
                typename CONFIG_T::acc_score_t acc = 0;
            ATTENTION_SCORES_SUM:
                for (unsigned e = 0; e < CONFIG_T::head_dim; e++)
                    acc += q[i * CONFIG_T::d + h * CONFIG_T::head_dim + e] * kp[(h * CONFIG_T::m + j) * CONFIG_T::head_dim + e];
                s[(h * CONFIG_T::n + i) * CONFIG_T::m + j] = acc * scale;
            }
        }
    }
}

// Depthwise 'same' convolution of each head's (n x m) score map, plus a bias per head.
template <typename CONFIG_T>
void attention_score_conv(const typename CONFIG_T::score_t s[CONFIG_T::heads * CONFIG_T::n * CONFIG_T::m],
                          const typename CONFIG_T::conv_weight_t kernel[CONFIG_T::conv_kh * CONFIG_T::conv_kw * CONFIG_T::heads],
                          const typename CONFIG_T::conv_bias_t bias[CONFIG_T::heads],
                          typename CONFIG_T::score_t out[CONFIG_T::heads * CONFIG_T::n * CONFIG_T::m]) {
    #pragma HLS INLINE
    const int top = (CONFIG_T::conv_kh - 1) / 2, left = (CONFIG_T::conv_kw - 1) / 2; // Keras 'same' padding
ATTENTION_CONV_HEAD:
    for (unsigned h = 0; h < CONFIG_T::heads; h++) {
    ATTENTION_CONV_ROW:
        for (int i = 0; i < (int)CONFIG_T::n; i++) {
        ATTENTION_CONV_COL:
            for (int j = 0; j < (int)CONFIG_T::m; j++) {
                typename CONFIG_T::acc_conv_t acc = bias[h];
            ATTENTION_CONV_TAPS:
                for (int a = 0; a < (int)CONFIG_T::conv_kh; a++) {
                    for (int b = 0; b < (int)CONFIG_T::conv_kw; b++) {
                        const int ii = i + a - top, jj = j + b - left;
                        if (ii >= 0 && ii < (int)CONFIG_T::n && jj >= 0 && jj < (int)CONFIG_T::m)
                            acc += kernel[(a * CONFIG_T::conv_kw + b) * CONFIG_T::heads + h] *
                                   s[(h * CONFIG_T::n + ii) * CONFIG_T::m + jj];
                    }
                }
                out[(h * CONFIG_T::n + i) * CONFIG_T::m + j] = acc;
            }
        }
    }
}

// Row softmax through the exp and reciprocal tables, then Y = A V'.
template <class res_T, typename CONFIG_T>
void attention_softmax_mix(const typename CONFIG_T::score_t s[CONFIG_T::heads * CONFIG_T::n * CONFIG_T::m],
                           const typename CONFIG_T::qkv_t vp[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::head_dim],
                           const typename CONFIG_T::exp_t exp_table[CONFIG_T::table_size],
                           const typename CONFIG_T::inv_t inv_table[CONFIG_T::table_size],
                           res_T y[CONFIG_T::n * CONFIG_T::d]) {
    #pragma HLS INLINE
    const unsigned long long one = 1ULL << CONFIG_T::exp_frac;
ATTENTION_SOFTMAX_HEAD:
    for (unsigned h = 0; h < CONFIG_T::heads; h++) {
    ATTENTION_SOFTMAX_ROW:
        for (unsigned i = 0; i < CONFIG_T::n; i++) {
            const unsigned base = (h * CONFIG_T::n + i) * CONFIG_T::m;
            typename CONFIG_T::score_t mx = s[base];
        ATTENTION_SOFTMAX_MAX:
            for (unsigned j = 1; j < CONFIG_T::m; j++)
                if (s[base + j] > mx)
                    mx = s[base + j];
            typename CONFIG_T::exp_t e[CONFIG_T::m];
            #pragma HLS ARRAY_PARTITION variable=e complete
            typename CONFIG_T::sum_t total = 0;
        ATTENTION_SOFTMAX_EXP:
            for (unsigned j = 0; j < CONFIG_T::m; j++) {
                typename CONFIG_T::diff_t diff = s[base + j] - mx; // <= 0, exact
                long long k = -raw_signed(diff);                  // in score LSBs
                if (k > (long long)CONFIG_T::table_size - 1)
                    k = CONFIG_T::table_size - 1;
                e[j] = exp_table[k];
                total += e[j];
            }
            unsigned long long idx = 0;
            if (CONFIG_T::m > 1) {
                idx = ((raw_unsigned(total) - one) * CONFIG_T::table_size) / ((CONFIG_T::m - 1) * one);
                if (idx > CONFIG_T::table_size - 1)
                    idx = CONFIG_T::table_size - 1;
            }
            const typename CONFIG_T::inv_t inv = inv_table[idx];
            typename CONFIG_T::softmax_t a[CONFIG_T::m];
            #pragma HLS ARRAY_PARTITION variable=a complete
        ATTENTION_SOFTMAX_NORM:
            for (unsigned j = 0; j < CONFIG_T::m; j++)
                a[j] = e[j] * inv;
        ATTENTION_MIX_DEPTH:
            for (unsigned c = 0; c < CONFIG_T::head_dim; c++) {
                typename CONFIG_T::acc_mix_t acc = 0;
            ATTENTION_MIX_SUM:
                for (unsigned j = 0; j < CONFIG_T::m; j++)
                    acc += a[j] * vp[(h * CONFIG_T::m + j) * CONFIG_T::head_dim + c];
                y[i * CONFIG_T::d + h * CONFIG_T::head_dim + c] = acc;
            }
        }
    }
}

#define L1TAG_ATTENTION_LOCALS                                                                                            \
    typename CONFIG_T::qkv_t q[CONFIG_T::n * CONFIG_T::d], k[CONFIG_T::n * CONFIG_T::d], v[CONFIG_T::n * CONFIG_T::d];    \
    typename CONFIG_T::qkv_t kp[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::head_dim];                                      \
    typename CONFIG_T::qkv_t vp[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::head_dim];                                      \
    typename CONFIG_T::score_t s[CONFIG_T::heads * CONFIG_T::n * CONFIG_T::m];                                            \
    _Pragma("HLS ARRAY_PARTITION variable=q complete") _Pragma("HLS ARRAY_PARTITION variable=k complete")                \
    _Pragma("HLS ARRAY_PARTITION variable=v complete") _Pragma("HLS ARRAY_PARTITION variable=kp complete")              \
    _Pragma("HLS ARRAY_PARTITION variable=vp complete") _Pragma("HLS ARRAY_PARTITION variable=s complete")

// SAL-T: partitioned attention with the depthwise score convolution.
template <class data_T, class res_T, typename CONFIG_T>
void partitioned_attention(const data_T x[CONFIG_T::n * CONFIG_T::d], res_T y[CONFIG_T::n * CONFIG_T::d],
                           const typename CONFIG_T::weight_t wq[CONFIG_T::d * CONFIG_T::d],
                           const typename CONFIG_T::weight_t wk[CONFIG_T::d * CONFIG_T::d],
                           const typename CONFIG_T::weight_t wv[CONFIG_T::d * CONFIG_T::d],
                           const typename CONFIG_T::weight_t kproj[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::chunk],
                           const typename CONFIG_T::weight_t vproj[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::chunk],
                           const typename CONFIG_T::conv_weight_t convk[CONFIG_T::conv_kh * CONFIG_T::conv_kw * CONFIG_T::heads],
                           const typename CONFIG_T::conv_bias_t convb[CONFIG_T::heads],
                           const typename CONFIG_T::exp_t exp_table[CONFIG_T::table_size],
                           const typename CONFIG_T::inv_t inv_table[CONFIG_T::table_size]) {
    #pragma HLS PIPELINE II=CONFIG_T::reuse_factor
    #pragma HLS ALLOCATION operation instances=mul limit=CONFIG_T::multiplier_limit
    L1TAG_ATTENTION_LOCALS
    typename CONFIG_T::score_t sc[CONFIG_T::heads * CONFIG_T::n * CONFIG_T::m];
    #pragma HLS ARRAY_PARTITION variable=sc complete
    attention_qkv<data_T, CONFIG_T>(x, wq, wk, wv, q, k, v);
    attention_project<CONFIG_T, CONFIG_T::chunk, true>(k, kproj, kp);
    attention_project<CONFIG_T, CONFIG_T::chunk, true>(v, vproj, vp);
    attention_scores<CONFIG_T>(q, kp, s);
    attention_score_conv<CONFIG_T>(s, convk, convb, sc);
    attention_softmax_mix<res_T, CONFIG_T>(sc, vp, exp_table, inv_table, y);
}

// Linformer: dense projections E, F of the n rows to m.
template <class data_T, class res_T, typename CONFIG_T>
void linformer_attention(const data_T x[CONFIG_T::n * CONFIG_T::d], res_T y[CONFIG_T::n * CONFIG_T::d],
                         const typename CONFIG_T::weight_t wq[CONFIG_T::d * CONFIG_T::d],
                         const typename CONFIG_T::weight_t wk[CONFIG_T::d * CONFIG_T::d],
                         const typename CONFIG_T::weight_t wv[CONFIG_T::d * CONFIG_T::d],
                         const typename CONFIG_T::weight_t kproj[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::n],
                         const typename CONFIG_T::weight_t vproj[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::n],
                         const typename CONFIG_T::exp_t exp_table[CONFIG_T::table_size],
                         const typename CONFIG_T::inv_t inv_table[CONFIG_T::table_size]) {
    #pragma HLS PIPELINE II=CONFIG_T::reuse_factor
    #pragma HLS ALLOCATION operation instances=mul limit=CONFIG_T::multiplier_limit
    L1TAG_ATTENTION_LOCALS
    attention_qkv<data_T, CONFIG_T>(x, wq, wk, wv, q, k, v);
    attention_project<CONFIG_T, CONFIG_T::n, false>(k, kproj, kp);
    attention_project<CONFIG_T, CONFIG_T::n, false>(v, vproj, vp);
    attention_scores<CONFIG_T>(q, kp, s);
    attention_softmax_mix<res_T, CONFIG_T>(s, vp, exp_table, inv_table, y);
}

// Full multi-head attention: (n x n) scores per head.
template <class data_T, class res_T, typename CONFIG_T>
void full_attention(const data_T x[CONFIG_T::n * CONFIG_T::d], res_T y[CONFIG_T::n * CONFIG_T::d],
                    const typename CONFIG_T::weight_t wq[CONFIG_T::d * CONFIG_T::d],
                    const typename CONFIG_T::weight_t wk[CONFIG_T::d * CONFIG_T::d],
                    const typename CONFIG_T::weight_t wv[CONFIG_T::d * CONFIG_T::d],
                    const typename CONFIG_T::exp_t exp_table[CONFIG_T::table_size],
                    const typename CONFIG_T::inv_t inv_table[CONFIG_T::table_size]) {
    #pragma HLS PIPELINE II=CONFIG_T::reuse_factor
    #pragma HLS ALLOCATION operation instances=mul limit=CONFIG_T::multiplier_limit
    L1TAG_ATTENTION_LOCALS
    attention_qkv<data_T, CONFIG_T>(x, wq, wk, wv, q, k, v);
    attention_identity<CONFIG_T>(k, kp);
    attention_identity<CONFIG_T>(v, vp);
    attention_scores<CONFIG_T>(q, kp, s);
    attention_softmax_mix<res_T, CONFIG_T>(s, vp, exp_table, inv_table, y);
}

#undef L1TAG_ATTENTION_LOCALS

} // namespace l1tag

#endif
