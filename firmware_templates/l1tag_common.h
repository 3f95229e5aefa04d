/* ---------------------------------------------------------------------------------------------
 * l1tag_common.h -- helpers shared by l1tag's HLS kernels.
 *
 * raw_signed / raw_unsigned: the integer behind a fixed-point value, in units of its LSB
 * (x * 2^F exactly). Table indices are computed from these integers so that the index is exact and
 * identical to the NumPy reference (l1tag/hls/reference/), with no float arithmetic anywhere.
 * --------------------------------------------------------------------------------------------- */
#ifndef L1TAG_COMMON_H_
#define L1TAG_COMMON_H_

#include "ap_fixed.h"
#include "ap_int.h"

namespace l1tag {

// Two's-complement bits of a signed fixed-point value, as a signed integer.
template <class T> inline long long raw_signed(const T &x) {
    ap_int<T::width> r;
    r.range(T::width - 1, 0) = x.range(T::width - 1, 0);
    return r.to_int64();
}

// Bits of an unsigned fixed-point value, as an unsigned integer.
template <class T> inline unsigned long long raw_unsigned(const T &x) {
    ap_uint<T::width> r;
    r.range(T::width - 1, 0) = x.range(T::width - 1, 0);
    return r.to_uint64();
}

} // namespace l1tag

#endif
