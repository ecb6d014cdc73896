// fixed_point.cpp -- float64 <-> Z_2^64 fixed-point codec (see fixed_point.hpp).
//
// Job: the encode/decode loops.  Scaling by 2^f is exact in binary floating
// point (no overflow is possible below the range check), so the only
// rounding happens in the explicit round-half-to-even step
// (__builtin_roundeven, or trunc() plus the exact remainder), which does
// not depend on the current FPU rounding mode.  The encode loop is written
// branch-free per chunk so it vectorizes; the slow scan for the first bad
// element only runs when a chunk contains one.
#include "fixed_point.hpp"

#include <cmath>

namespace safenet {

namespace {

// Round to nearest, ties to even, independent of the FPU rounding mode.
inline double round_half_even(double y) {
#if defined(__has_builtin)
#if __has_builtin(__builtin_roundeven)
#define SAFENET_HAVE_ROUNDEVEN 1
#endif
#endif
#if defined(SAFENET_HAVE_ROUNDEVEN)
    return __builtin_roundeven(y);  // one vroundpd with SSE4.1+
#else
    const double t = std::trunc(y);
    const double d = y - t;  // exact; in (-1, 1), same sign as y
    const double odd = std::fmod(t, 2.0) != 0.0 ? 1.0 : 0.0;
    if (d > 0.5 || (d == 0.5 && odd != 0.0)) return t + 1.0;
    if (d < -0.5 || (d == -0.5 && odd != 0.0)) return t - 1.0;
    return t;
#endif
}

constexpr std::size_t kChunk = 2048;

}  // namespace

FxEncodeResult fx_encode(const double* x, std::size_t n, int frac_bits, u64* out) {
    const double scale = std::ldexp(1.0, frac_bits);
    const double limit = std::ldexp(1.0, 63);
    for (std::size_t c0 = 0; c0 < n; c0 += kChunk) {
        const std::size_t c1 = c0 + kChunk < n ? c0 + kChunk : n;
        // Branch-free, vectorizable pass; out-of-range lanes are replaced by 0
        // before the float->int conversion (which would be UB for them) and
        // only flagged.
        int bad = 0;
        for (std::size_t i = c0; i < c1; ++i) {
            const double y = x[i] * scale;  // exact, or +-inf on overflow
            const bool ok = std::fabs(y) < limit;  // false for NaN too
            const double r = ok ? round_half_even(y) : 0.0;
            out[i] = static_cast<u64>(static_cast<i64>(r));
            bad |= !ok;
        }
        if (bad) {
            for (std::size_t i = c0; i < c1; ++i) {
                const double v = x[i];
                if (!(std::fabs(v * scale) < limit)) {
                    const FxError e = std::isnan(v) ? FxError::nan
                                      : std::isinf(v) ? FxError::inf
                                                      : FxError::out_of_range;
                    return FxEncodeResult{e, i, v};
                }
            }
        }
    }
    return FxEncodeResult{FxError::none, 0, 0.0};
}

void fx_decode(const u64* u, std::size_t n, int frac_bits, double* out) {
    // int64 -> double rounds to nearest (only when |value| > 2^53); the
    // multiplication by 2^-f is exact (results stay normal: |v| >= 2^-63).
    const double inv = std::ldexp(1.0, -frac_bits);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<double>(static_cast<i64>(u[i])) * inv;
}

}  // namespace safenet
