/* ---------------------------------------------------------------------------------------------
 * l1tag_attention.h -- the attention core of every l1tag kind (SAL-T partitioned, Linformer, full),
 * particle-parallel, for io_parallel.
 *
 * Q, K, V arrive from three hls4ml Dense layers (constant weights: hls4ml's strategies, distributed
 * arithmetic included, apply to them); this header holds what no released tool has. Maths (per head
 * h, depth dh = d / H; the NumPy reference l1tag/hls/reference/attention.py defines every rounding and
 * is what the C-simulation is checked against, bit for bit):
 *   K'[h,j] = cast<qkv_t>(sum_l wK[h,j,l] K[h, j*c+l])        partitioned (rows past n are zero)
 *   K'[h,j] = cast<qkv_t>(sum_i E[h,j,i] K[h,i])              linformer;  full: K' = K
 *   S[h]    = cast<score_t>(Q[h] K'[h]^T * 2^-score_shift)    (n, m)
 *   S[h]    = cast<score_t>(depthwise_conv_same(S)[h] + b[h]) partitioned only
 *   A[h,i]  = softmax over j through exp_table (indexed by the exact integer -(S - max S)/lsb) and
 *             inv_table (indexed linearly over the row sum in [1, m])
 *   Y       = cast<res_T>(A V'), heads concatenated           (n, d)
 * Layouts: q, k, v, y row-major (n, d), head h in columns h*dh .. h*dh+dh-1; partition weights
 * (H, p, c), Linformer E/F (H, p, n), conv kernel (kh, kw, H) -- all as Keras stores them.
 *
 * Precision: every accumulator type (acc_*_t) is chosen by the converter wide enough to be exact, so
 * the only roundings are the casts above, with the modes of the target types (AP_RND_CONV, AP_SAT
 * from the QKeras quantizers).
 *
 * Particle parallelism (the resource sharing the HLS tools honour: a pipelined loop): the n particles
 * are processed in n_groups = n / parallel groups of `parallel` particles. Each of the two loops below
 * is pipelined at II = 1 with trip count n_groups and holds `parallel` unrolled copies of the
 * per-particle datapath:
 *   ATTENTION_PROJECT_GROUPS  K', V' accumulate over the particle groups (exact accumulators);
 *   ATTENTION_CORE_GROUPS     per particle: scores against the m keys, the convolution taps of its
 *                             row (the kh - 1 neighbouring rows' raw scores are recomputed in each
 *                             group: a (parallel + kh - 1) / parallel overhead on the score products),
 *                             the table softmax and A V'.
 * The two loops are the processes of a DATAFLOW region (K', V' pass between them in ping-pong
 * buffers), so a new jet enters every n_groups cycles while the previous one is in the core loop:
 * II = n_groups, latency = 2 * n_groups + the pipeline depths. With parallel = n both loops have one
 * iteration and the layer is fully unrolled. No ALLOCATION limits: nothing here relies on the tool
 * sharing operators.
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
    // particle parallelism
    static const unsigned parallel = 2;              // particles per loop iteration (divides n)
    static const unsigned n_groups = n / parallel;   // trip count of each particle loop
    // types
    typedef ap_fixed<8, 2> weight_t;
    typedef ap_fixed<8, 2> conv_weight_t;
    typedef ap_fixed<8, 3> conv_bias_t;
    typedef ap_fixed<8, 4, AP_RND_CONV, AP_SAT> qkv_t;
    typedef ap_fixed<10, 5, AP_RND_CONV, AP_SAT> score_t;
    typedef ap_ufixed<8, 0, AP_RND_CONV, AP_SAT> softmax_t;
    typedef ap_fixed<32, 12> acc_proj_t;
    typedef ap_fixed<32, 12> acc_score_t;
    typedef ap_fixed<32, 12> acc_conv_t;
    typedef ap_fixed<32, 12> acc_mix_t;
    typedef ap_fixed<11, 6> diff_t;
    typedef ap_ufixed<17, 1> exp_t;
    typedef ap_ufixed<20, 4> sum_t;
    typedef ap_ufixed<18, 1> inv_t;
};

// K', V' = the projections of K and V over the particles, accumulated group by group.
// rows_per_j = c with row = j*c + l (partitioned), or n with row = l (linformer).
template <class data_T, typename CONFIG_T, unsigned rows_per_j, bool partitioned>
void attention_project(const data_T k[CONFIG_T::n * CONFIG_T::d], const data_T v[CONFIG_T::n * CONFIG_T::d],
                       const typename CONFIG_T::weight_t wk[CONFIG_T::heads * CONFIG_T::m * rows_per_j],
                       const typename CONFIG_T::weight_t wv[CONFIG_T::heads * CONFIG_T::m * rows_per_j],
                       typename CONFIG_T::qkv_t kp[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::head_dim],
                       typename CONFIG_T::qkv_t vp[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::head_dim]) {
    #pragma HLS INLINE
    const unsigned size = CONFIG_T::heads * CONFIG_T::m * CONFIG_T::head_dim;
    typename CONFIG_T::acc_proj_t acc_k[size], acc_v[size];
    #pragma HLS ARRAY_PARTITION variable=acc_k complete
    #pragma HLS ARRAY_PARTITION variable=acc_v complete
ATTENTION_PROJECT_INIT:
    for (unsigned t = 0; t < size; t++) {
        #pragma HLS UNROLL
        acc_k[t] = 0;
        acc_v[t] = 0;
    }
ATTENTION_PROJECT_GROUPS:
    for (unsigned g = 0; g < CONFIG_T::n_groups; g++) {
        #pragma HLS PIPELINE II=1
    ATTENTION_PROJECT_PARTICLE:
        for (unsigned p = 0; p < CONFIG_T::parallel; p++) {
            #pragma HLS UNROLL
            const unsigned row = g * CONFIG_T::parallel + p;
        ATTENTION_PROJECT_HEAD:
            for (unsigned h = 0; h < CONFIG_T::heads; h++) {
                #pragma HLS UNROLL
            ATTENTION_PROJECT_KEY:
                for (unsigned j = 0; j < CONFIG_T::m; j++) {
                    #pragma HLS UNROLL
                    // partitioned: only the particle's own partition takes it (weight l = row - j*c)
                    if (partitioned && row / rows_per_j != j)
                        continue;
                    const unsigned w_at = (h * CONFIG_T::m + j) * rows_per_j + (partitioned ? row - j * rows_per_j : row);
                ATTENTION_PROJECT_DEPTH:
                    for (unsigned e = 0; e < CONFIG_T::head_dim; e++) {
                        #pragma HLS UNROLL
                        const unsigned col = row * CONFIG_T::d + h * CONFIG_T::head_dim + e;
                        acc_k[(h * CONFIG_T::m + j) * CONFIG_T::head_dim + e] += wk[w_at] * k[col];
                        acc_v[(h * CONFIG_T::m + j) * CONFIG_T::head_dim + e] += wv[w_at] * v[col];
                    }
                }
            }
        }
    }
ATTENTION_PROJECT_CAST:
    for (unsigned t = 0; t < size; t++) {
        #pragma HLS UNROLL
        kp[t] = acc_k[t];
        vp[t] = acc_v[t];
    }
}

// Full attention: K' = K, V' = V, re-laid out per head (wiring).
template <class data_T, typename CONFIG_T>
void attention_identity(const data_T t[CONFIG_T::n * CONFIG_T::d],
                        typename CONFIG_T::qkv_t out[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::head_dim]) {
    #pragma HLS INLINE
ATTENTION_IDENTITY_HEAD:
    for (unsigned h = 0; h < CONFIG_T::heads; h++)
        for (unsigned j = 0; j < CONFIG_T::m; j++)
            for (unsigned e = 0; e < CONFIG_T::head_dim; e++)
                out[(h * CONFIG_T::m + j) * CONFIG_T::head_dim + e] = t[j * CONFIG_T::d + h * CONFIG_T::head_dim + e];
}

// cast<score_t>(Q[h, row] . K'[h, j] * 2^-score_shift)
template <class data_T, typename CONFIG_T>
typename CONFIG_T::score_t attention_score(const data_T q[CONFIG_T::n * CONFIG_T::d],
                                           const typename CONFIG_T::qkv_t kp[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::head_dim],
                                           unsigned row, unsigned h, unsigned j) {
    #pragma HLS INLINE
    // 2^-score_shift exactly: a one-bit unsigned fixed-point number whose only bit weighs 2^-shift
    ap_ufixed<1, 1 - CONFIG_T::score_shift> scale;
    scale[0] = 1;
    typename CONFIG_T::acc_score_t acc = 0;
ATTENTION_SCORE_SUM:
    for (unsigned e = 0; e < CONFIG_T::head_dim; e++) {
        #pragma HLS UNROLL
        acc += q[row * CONFIG_T::d + h * CONFIG_T::head_dim + e] * kp[(h * CONFIG_T::m + j) * CONFIG_T::head_dim + e];
    }
    typename CONFIG_T::score_t s = acc * scale;
    return s;
}

// One row's softmax through the exp and reciprocal tables, then its A V' into y.
template <class res_T, typename CONFIG_T>
void attention_softmax_mix_row(const typename CONFIG_T::score_t s[CONFIG_T::m],
                               const typename CONFIG_T::qkv_t vp[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::head_dim],
                               const typename CONFIG_T::exp_t exp_table[CONFIG_T::table_size],
                               const typename CONFIG_T::inv_t inv_table[CONFIG_T::table_size], unsigned row, unsigned h,
                               res_T y[CONFIG_T::n * CONFIG_T::d]) {
    #pragma HLS INLINE
    const unsigned long long one = 1ULL << CONFIG_T::exp_frac;
    typename CONFIG_T::score_t mx = s[0];
ATTENTION_SOFTMAX_MAX:
    for (unsigned j = 1; j < CONFIG_T::m; j++) {
        #pragma HLS UNROLL
        if (s[j] > mx)
            mx = s[j];
    }
    typename CONFIG_T::exp_t e[CONFIG_T::m];
    #pragma HLS ARRAY_PARTITION variable=e complete
    typename CONFIG_T::sum_t total = 0;
ATTENTION_SOFTMAX_EXP:
    for (unsigned j = 0; j < CONFIG_T::m; j++) {
        #pragma HLS UNROLL
        typename CONFIG_T::diff_t diff = s[j] - mx; // <= 0, exact
        long long k = -raw_signed(diff);            // in score LSBs
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
    for (unsigned j = 0; j < CONFIG_T::m; j++) {
        #pragma HLS UNROLL
        a[j] = e[j] * inv;
    }
ATTENTION_MIX_DEPTH:
    for (unsigned c = 0; c < CONFIG_T::head_dim; c++) {
        #pragma HLS UNROLL
        typename CONFIG_T::acc_mix_t acc = 0;
    ATTENTION_MIX_SUM:
        for (unsigned j = 0; j < CONFIG_T::m; j++) {
            #pragma HLS UNROLL
            acc += a[j] * vp[(h * CONFIG_T::m + j) * CONFIG_T::head_dim + c];
        }
        y[row * CONFIG_T::d + h * CONFIG_T::head_dim + c] = acc;
    }
}

// Scores (with the depthwise 'same' score convolution when conv), softmax and A V', particle group by
// particle group. halo = the rows above and below a group whose raw scores the convolution reads.
template <class data_T, class res_T, typename CONFIG_T, bool conv>
void attention_core(const data_T q[CONFIG_T::n * CONFIG_T::d],
                    const typename CONFIG_T::qkv_t kp[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::head_dim],
                    const typename CONFIG_T::qkv_t vp[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::head_dim],
                    const typename CONFIG_T::conv_weight_t *convk, const typename CONFIG_T::conv_bias_t *convb,
                    const typename CONFIG_T::exp_t exp_table[CONFIG_T::table_size],
                    const typename CONFIG_T::inv_t inv_table[CONFIG_T::table_size], res_T y[CONFIG_T::n * CONFIG_T::d]) {
    #pragma HLS INLINE
    const int top = conv ? (CONFIG_T::conv_kh - 1) / 2 : 0, left = conv ? (CONFIG_T::conv_kw - 1) / 2 : 0;
    const unsigned rows = CONFIG_T::parallel + (conv ? CONFIG_T::conv_kh - 1 : 0); // the group and its halo
ATTENTION_CORE_GROUPS:
    for (unsigned g = 0; g < CONFIG_T::n_groups; g++) {
        #pragma HLS PIPELINE II=1
        typename CONFIG_T::score_t raw[rows * CONFIG_T::heads * CONFIG_T::m];
        #pragma HLS ARRAY_PARTITION variable=raw complete
    ATTENTION_CORE_RAW:
        for (unsigned t = 0; t < rows; t++) {
            #pragma HLS UNROLL
            const int row = (int)(g * CONFIG_T::parallel + t) - top;
            for (unsigned h = 0; h < CONFIG_T::heads; h++) {
                #pragma HLS UNROLL
                for (unsigned j = 0; j < CONFIG_T::m; j++) {
                    #pragma HLS UNROLL
                    // Keras 'same' padding: rows outside the jet are zero scores
                    raw[(t * CONFIG_T::heads + h) * CONFIG_T::m + j] =
                        (row >= 0 && row < (int)CONFIG_T::n) ? attention_score<data_T, CONFIG_T>(q, kp, row, h, j)
                                                              : typename CONFIG_T::score_t(0);
                }
            }
        }
    ATTENTION_CORE_PARTICLE:
        for (unsigned p = 0; p < CONFIG_T::parallel; p++) {
            #pragma HLS UNROLL
            const unsigned row = g * CONFIG_T::parallel + p;
        ATTENTION_CORE_HEAD:
            for (unsigned h = 0; h < CONFIG_T::heads; h++) {
                #pragma HLS UNROLL
                typename CONFIG_T::score_t s[CONFIG_T::m];
                #pragma HLS ARRAY_PARTITION variable=s complete
            ATTENTION_CORE_KEY:
                for (int j = 0; j < (int)CONFIG_T::m; j++) {
                    #pragma HLS UNROLL
                    if (!conv) {
                        s[j] = raw[(p * CONFIG_T::heads + h) * CONFIG_T::m + j];
                        continue;
                    }
                    typename CONFIG_T::acc_conv_t acc = convb[h];
                ATTENTION_CORE_TAPS:
                    for (int a = 0; a < (int)CONFIG_T::conv_kh; a++) {
                        #pragma HLS UNROLL
                        for (int b = 0; b < (int)CONFIG_T::conv_kw; b++) {
                            #pragma HLS UNROLL
                            const int jj = j + b - left; // raw row p + a is particle row + a - top
                            if (jj >= 0 && jj < (int)CONFIG_T::m)
                                acc += convk[(a * CONFIG_T::conv_kw + b) * CONFIG_T::heads + h] *
                                       raw[((p + a) * CONFIG_T::heads + h) * CONFIG_T::m + jj];
                        }
                    }
                    s[j] = acc;
                }
                attention_softmax_mix_row<res_T, CONFIG_T>(s, vp, exp_table, inv_table, row, h, y);
            }
        }
    }
}

// SAL-T: partitioned attention with the depthwise score convolution.
template <class data_T, class res_T, typename CONFIG_T>
void partitioned_attention(const data_T q[CONFIG_T::n * CONFIG_T::d], const data_T k[CONFIG_T::n * CONFIG_T::d],
                           const data_T v[CONFIG_T::n * CONFIG_T::d], res_T y[CONFIG_T::n * CONFIG_T::d],
                           const typename CONFIG_T::weight_t kproj[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::chunk],
                           const typename CONFIG_T::weight_t vproj[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::chunk],
                           const typename CONFIG_T::conv_weight_t convk[CONFIG_T::conv_kh * CONFIG_T::conv_kw * CONFIG_T::heads],
                           const typename CONFIG_T::conv_bias_t convb[CONFIG_T::heads],
                           const typename CONFIG_T::exp_t exp_table[CONFIG_T::table_size],
                           const typename CONFIG_T::inv_t inv_table[CONFIG_T::table_size]) {
    #pragma HLS DATAFLOW
    typename CONFIG_T::qkv_t kp[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::head_dim];
    typename CONFIG_T::qkv_t vp[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::head_dim];
    #pragma HLS ARRAY_PARTITION variable=kp complete
    #pragma HLS ARRAY_PARTITION variable=vp complete
    attention_project<data_T, CONFIG_T, CONFIG_T::chunk, true>(k, v, kproj, vproj, kp, vp);
    attention_core<data_T, res_T, CONFIG_T, true>(q, kp, vp, convk, convb, exp_table, inv_table, y);
}

// Linformer: dense projections E, F of the n rows to m.
template <class data_T, class res_T, typename CONFIG_T>
void linformer_attention(const data_T q[CONFIG_T::n * CONFIG_T::d], const data_T k[CONFIG_T::n * CONFIG_T::d],
                         const data_T v[CONFIG_T::n * CONFIG_T::d], res_T y[CONFIG_T::n * CONFIG_T::d],
                         const typename CONFIG_T::weight_t kproj[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::n],
                         const typename CONFIG_T::weight_t vproj[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::n],
                         const typename CONFIG_T::exp_t exp_table[CONFIG_T::table_size],
                         const typename CONFIG_T::inv_t inv_table[CONFIG_T::table_size]) {
    #pragma HLS DATAFLOW
    typename CONFIG_T::qkv_t kp[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::head_dim];
    typename CONFIG_T::qkv_t vp[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::head_dim];
    #pragma HLS ARRAY_PARTITION variable=kp complete
    #pragma HLS ARRAY_PARTITION variable=vp complete
    attention_project<data_T, CONFIG_T, CONFIG_T::n, false>(k, v, kproj, vproj, kp, vp);
    const typename CONFIG_T::conv_weight_t no_kernel[1] = {0}; // never read: no score convolution
    const typename CONFIG_T::conv_bias_t no_bias[1] = {0};
    attention_core<data_T, res_T, CONFIG_T, false>(q, kp, vp, no_kernel, no_bias, exp_table, inv_table, y);
}

// Full multi-head attention: (n x n) scores per head.
template <class data_T, class res_T, typename CONFIG_T>
void full_attention(const data_T q[CONFIG_T::n * CONFIG_T::d], const data_T k[CONFIG_T::n * CONFIG_T::d],
                    const data_T v[CONFIG_T::n * CONFIG_T::d], res_T y[CONFIG_T::n * CONFIG_T::d],
                    const typename CONFIG_T::exp_t exp_table[CONFIG_T::table_size],
                    const typename CONFIG_T::inv_t inv_table[CONFIG_T::table_size]) {
    #pragma HLS DATAFLOW
    typename CONFIG_T::qkv_t kp[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::head_dim];
    typename CONFIG_T::qkv_t vp[CONFIG_T::heads * CONFIG_T::m * CONFIG_T::head_dim];
    #pragma HLS ARRAY_PARTITION variable=kp complete
    #pragma HLS ARRAY_PARTITION variable=vp complete
    attention_identity<data_T, CONFIG_T>(k, kp);
    attention_identity<data_T, CONFIG_T>(v, vp);
    const typename CONFIG_T::conv_weight_t no_kernel[1] = {0}; // never read: no score convolution
    const typename CONFIG_T::conv_bias_t no_bias[1] = {0};
    attention_core<data_T, res_T, CONFIG_T, false>(q, kp, vp, no_kernel, no_bias, exp_table, inv_table, y);
}

} // namespace l1tag

#endif
