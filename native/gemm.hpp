// gemm.hpp -- blocked uint64 matrix products mod 2^64.
//
// Job: declare the single-threaded GEMM entry points.  All matrices are
// dense row-major (C-contiguous) uint64.  The general form computed is
//
//     C (m x n) = Z + sum_s  A_s (m x k) @ (B_s + B'_s) (k x n)
//
// for up to two "segments" s, which is what the replicated-sharing local
// products need:  matmul_cross3 = XA@(YA+YB) + XB@YA,
//                 matmul_cross2 = XA@YB + XB@YA.
// Z (optional) is an m x n matrix added to the result.
#pragma once

#include "common.hpp"

namespace safenet {

struct GemmSegment {
    const u64* a;        // m x k, row-major
    const u64* b;        // k x n, row-major
    const u64* b_extra;  // optional k x n, added to b on the fly (or nullptr)
};

// C must not alias any input.  nseg in {1, 2}.
void gemm_segments(std::size_t m, std::size_t k, std::size_t n, const GemmSegment* segs,
                   int nseg, const u64* zero, u64* c);

inline void gemm(std::size_t m, std::size_t k, std::size_t n, const u64* a, const u64* b, u64* c) {
    GemmSegment s{a, b, nullptr};
    gemm_segments(m, k, n, &s, 1, nullptr, c);
}

// Compile-time blocking parameters (reported by build_info()).
struct GemmParams {
    int mr, nr, kc, mc, nc, vec_bits;
};
GemmParams gemm_params();

}  // namespace safenet
