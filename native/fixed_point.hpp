// fixed_point.hpp -- float64 <-> Z_2^64 fixed-point encoding.
//
// Job: declare the fixed-point codec.  encode(x) = round(x * 2^f) as a
// two's-complement int64 stored in uint64; rounding is to nearest with
// ties to EVEN (like numpy.rint and Python's round()), independent of the
// floating-point environment.  decode(u) = int64(u) / 2^f.
#pragma once

#include "common.hpp"

namespace safenet {

enum class FxError { none = 0, nan = 1, inf = 2, out_of_range = 3 };

struct FxEncodeResult {
    FxError error;     // FxError::none on success
    std::size_t index; // flat index of the first offending element
    double value;      // its value
};

// 0 <= frac_bits <= 63 (checked by the caller).  Stops at the first element
// that is NaN, +-inf, or has |x * 2^f| >= 2^63 and reports it; out is then
// only partially written.
FxEncodeResult fx_encode(const double* x, std::size_t n, int frac_bits, u64* out);
void fx_decode(const u64* u, std::size_t n, int frac_bits, double* out);

}  // namespace safenet
