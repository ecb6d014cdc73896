// ring_ops.cpp -- elementwise kernels over Z_2^64 (see ring_ops.hpp).
//
// Job: the SIMD loops for add/sub/neg/mul, the fused replicated-sharing
// local products (cross3, cross2, and_cross3) and the shifts.  Loops are
// written with the vector type from common.hpp (two vectors per iteration)
// plus a scalar tail, so they vectorize to whatever the build targets
// (vpmullq on AVX-512DQ; an emulated 64-bit multiply elsewhere) and stay
// correct when `out` aliases an input exactly.
#include "ring_ops.hpp"

#include <type_traits>

namespace safenet {
namespace {

typedef i64 vi64 __attribute__((vector_size(SAFENET_VEC_BYTES), aligned(8)));

// Apply f lane-wise to k input streams.  f must work for both u64 and vu64.
template <class F>
inline void map1(const u64* a, u64* out, std::size_t n, F f) {
    std::size_t i = 0;
    for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
        vu64 a0 = vload(a + i), a1 = vload(a + i + kLanes);
        vstore(out + i, f(a0));
        vstore(out + i + kLanes, f(a1));
    }
    for (; i < n; ++i) out[i] = f(a[i]);
}

template <class F>
inline void map2(const u64* a, const u64* b, u64* out, std::size_t n, F f) {
    std::size_t i = 0;
    for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
        vu64 a0 = vload(a + i), a1 = vload(a + i + kLanes);
        vu64 b0 = vload(b + i), b1 = vload(b + i + kLanes);
        vstore(out + i, f(a0, b0));
        vstore(out + i + kLanes, f(a1, b1));
    }
    for (; i < n; ++i) out[i] = f(a[i], b[i]);
}

template <class F>
inline void map4(const u64* a, const u64* b, const u64* c, const u64* d, u64* out,
                 std::size_t n, F f) {
    std::size_t i = 0;
    for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
        vu64 r0 = f(vload(a + i), vload(b + i), vload(c + i), vload(d + i));
        vu64 r1 = f(vload(a + i + kLanes), vload(b + i + kLanes), vload(c + i + kLanes),
                    vload(d + i + kLanes));
        vstore(out + i, r0);
        vstore(out + i + kLanes, r1);
    }
    for (; i < n; ++i) out[i] = f(a[i], b[i], c[i], d[i]);
}

template <class F>
inline void map5(const u64* a, const u64* b, const u64* c, const u64* d, const u64* e,
                 u64* out, std::size_t n, F f) {
    std::size_t i = 0;
    for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
        vu64 r0 = f(vload(a + i), vload(b + i), vload(c + i), vload(d + i), vload(e + i));
        vu64 r1 = f(vload(a + i + kLanes), vload(b + i + kLanes), vload(c + i + kLanes),
                    vload(d + i + kLanes), vload(e + i + kLanes));
        vstore(out + i, r0);
        vstore(out + i + kLanes, r1);
    }
    for (; i < n; ++i) out[i] = f(a[i], b[i], c[i], d[i], e[i]);
}

}  // namespace

void ring_add(const u64* a, const u64* b, u64* out, std::size_t n) {
    map2(a, b, out, n, [](auto x, auto y) { return x + y; });
}

void ring_sub(const u64* a, const u64* b, u64* out, std::size_t n) {
    map2(a, b, out, n, [](auto x, auto y) { return x - y; });
}

void ring_neg(const u64* a, u64* out, std::size_t n) {
    // 0 - x rather than unary minus: identical modulo 2^64, and avoids any
    // doubt about unary minus on unsigned vector types.
    map1(a, out, n, [](auto x) { return decltype(x){} - x; });
}

void ring_mul(const u64* a, const u64* b, u64* out, std::size_t n) {
    map2(a, b, out, n, [](auto x, auto y) { return x * y; });
}

// xa*ya + xa*yb + xb*ya == xa*(ya+yb) + xb*ya : two multiplies per element.
void ring_cross3(const u64* xa, const u64* xb, const u64* ya, const u64* yb,
                 const u64* zero, u64* out, std::size_t n) {
    if (zero) {
        map5(xa, xb, ya, yb, zero, out, n,
             [](auto x0, auto x1, auto y0, auto y1, auto z) { return x0 * (y0 + y1) + x1 * y0 + z; });
    } else {
        map4(xa, xb, ya, yb, out, n,
             [](auto x0, auto x1, auto y0, auto y1) { return x0 * (y0 + y1) + x1 * y0; });
    }
}

void ring_cross2(const u64* xa, const u64* xb, const u64* ya, const u64* yb,
                 u64* out, std::size_t n) {
    map4(xa, xb, ya, yb, out, n,
         [](auto x0, auto x1, auto y0, auto y1) { return x0 * y1 + x1 * y0; });
}

void ring_sar(const u64* a, unsigned d, u64* out, std::size_t n) {
    const int s = static_cast<int>(d);
    map1(a, out, n, [s](auto x) {
        using T = decltype(x);
        if constexpr (std::is_same_v<T, u64>) {
            return static_cast<u64>(static_cast<i64>(x) >> s);  // arithmetic on GCC/Clang
        } else {
            return reinterpret_cast<vu64>(reinterpret_cast<vi64>(x) >> s);
        }
    });
}

void ring_shr(const u64* a, unsigned d, u64* out, std::size_t n) {
    const int s = static_cast<int>(d);
    map1(a, out, n, [s](auto x) { return x >> s; });
}

void ring_shl(const u64* a, unsigned d, u64* out, std::size_t n) {
    const int s = static_cast<int>(d);
    map1(a, out, n, [s](auto x) { return x << s; });
}

// (xa&ya)^(xa&yb)^(xb&ya) == (xa&(ya^yb)) ^ (xb&ya)
void ring_and_cross3(const u64* xa, const u64* xb, const u64* ya, const u64* yb,
                     const u64* zero, u64* out, std::size_t n) {
    if (zero) {
        map5(xa, xb, ya, yb, zero, out, n,
             [](auto x0, auto x1, auto y0, auto y1, auto z) { return (x0 & (y0 ^ y1)) ^ (x1 & y0) ^ z; });
    } else {
        map4(xa, xb, ya, yb, out, n,
             [](auto x0, auto x1, auto y0, auto y1) { return (x0 & (y0 ^ y1)) ^ (x1 & y0); });
    }
}

}  // namespace safenet
