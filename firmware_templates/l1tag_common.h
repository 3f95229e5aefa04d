/* ---------------------------------------------------------------------------------------------
 * l1tag_common.h -- helpers shared by l1tag's HLS kernels.
 *
 * raw_bits / raw_bits_signed: the integer behind a fixed-point value, in units of its LSB (x * 2^F
 * exactly), as an ap_uint / ap_int of the value's own width. Table indices are computed from these
 * integers on exact widths (no 64-bit integers, no division), so that the index is exact and identical
 * to the NumPy reference (l1tag/ops/), with no float arithmetic anywhere.
 *
 * from_bits<T>(k): the value k * 2^-F of type T, written as its bits. Compile-time constants (taps,
 * biases, alpha / beta) are built this way rather than from a double literal: the same constant for HLS,
 * and the C-simulation skips ap_fixed's double-to-fixed conversion at every call.
 *
 * product<impl>::of(a, b): a product of two variables with its binding decided, not left to the tool
 * (`hls.variable_products`): impl 0 fabric and 1 DSP for Vitis HLS (BIND_OP), 2 fabric and 3 DSP for
 * Vivado HLS (RESOURCE, which it knows instead of BIND_OP). The converter picks impl per project.
 * --------------------------------------------------------------------------------------------- */
#ifndef L1TAG_COMMON_H_
#define L1TAG_COMMON_H_

#include "ap_fixed.h"
#include "ap_int.h"

namespace l1tag {

// Two's-complement bits of a signed fixed-point value, as a signed integer of the same width.
template <class T> inline ap_int<T::width> raw_bits_signed(const T &x) {
    #pragma HLS INLINE
    ap_int<T::width> r;
    r.range(T::width - 1, 0) = x.range(T::width - 1, 0);
    return r;
}

// Bits of an unsigned fixed-point value, as an unsigned integer of the same width.
template <class T> inline ap_uint<T::width> raw_bits(const T &x) {
    #pragma HLS INLINE
    ap_uint<T::width> r;
    r.range(T::width - 1, 0) = x.range(T::width - 1, 0);
    return r;
}

// The fixed-point value whose bits are the integer k (k * 2^-F, k within T's range).
template <class T> inline T from_bits(long long k) {
    #pragma HLS INLINE
    T r;
    r.V = k;
    return r;
}

template <int impl> struct product;

template <> struct product<0> { // Vitis HLS, fabric
    template <class A, class B> static auto of(const A &a, const B &b) -> decltype(a * b) {
        #pragma HLS INLINE
        decltype(a * b) p = a * b;
        #pragma HLS BIND_OP variable=p op=mul impl=fabric
        return p;
    }
};

template <> struct product<1> { // Vitis HLS, DSP
    template <class A, class B> static auto of(const A &a, const B &b) -> decltype(a * b) {
        #pragma HLS INLINE
        decltype(a * b) p = a * b;
        #pragma HLS BIND_OP variable=p op=mul impl=dsp
        return p;
    }
};

template <> struct product<2> { // Vivado HLS, fabric
    template <class A, class B> static auto of(const A &a, const B &b) -> decltype(a * b) {
        #pragma HLS INLINE
        decltype(a * b) p = a * b;
        #pragma HLS RESOURCE variable=p core=Mul_LUT
        return p;
    }
};

template <> struct product<3> { // Vivado HLS, DSP
    template <class A, class B> static auto of(const A &a, const B &b) -> decltype(a * b) {
        #pragma HLS INLINE
        decltype(a * b) p = a * b;
        #pragma HLS RESOURCE variable=p core=DSP48
        return p;
    }
};

} // namespace l1tag

#endif
