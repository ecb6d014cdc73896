// ring_ops.hpp -- elementwise kernels over Z_2^64 (uint64 with wraparound).
//
// Job: declare the flat, pointer-based elementwise kernels used by the
// Python bindings.  Every function processes n contiguous uint64 elements.
// `out` may be exactly the same pointer as an input (in-place update is
// well defined: each vector is loaded before the corresponding store), but
// must not partially overlap an input; the bindings copy such inputs first.
#pragma once

#include "common.hpp"

namespace safenet {

void ring_add(const u64* a, const u64* b, u64* out, std::size_t n);
void ring_sub(const u64* a, const u64* b, u64* out, std::size_t n);
void ring_neg(const u64* a, u64* out, std::size_t n);
void ring_mul(const u64* a, const u64* b, u64* out, std::size_t n);

// out = xa*ya + xa*yb + xb*ya (+ zero[i] if zero != nullptr), one pass.
void ring_cross3(const u64* xa, const u64* xb, const u64* ya, const u64* yb,
                 const u64* zero, u64* out, std::size_t n);
// out = xa*yb + xb*ya
void ring_cross2(const u64* xa, const u64* xb, const u64* ya, const u64* yb,
                 u64* out, std::size_t n);

// Shifts, 0 <= d < 64 (checked by the caller).
void ring_sar(const u64* a, unsigned d, u64* out, std::size_t n);  // arithmetic (int64)
void ring_shr(const u64* a, unsigned d, u64* out, std::size_t n);  // logical
void ring_shl(const u64* a, unsigned d, u64* out, std::size_t n);

// Boolean (XOR-shared) replicated AND on packed words:
// out = (xa&ya) ^ (xa&yb) ^ (xb&ya) (^ zero[i] if zero != nullptr)
void ring_and_cross3(const u64* xa, const u64* xb, const u64* ya, const u64* yb,
                     const u64* zero, u64* out, std::size_t n);

}  // namespace safenet
