// gemm.cpp -- blocked, packed, vectorized uint64 GEMM mod 2^64.
//
// Job: the matrix-product kernel behind matmul / matmul_cross3 /
// matmul_cross2.  Classic Goto/BLIS structure, single-threaded:
//
//   for jc in N by NC:                      (B panel columns)
//     for each segment s, for pc in K by KC:
//       pack B_s(+B'_s)[pc:pc+KC, jc:jc+NC] into NR-wide slivers  (L2/L3)
//       for ic in M by MC:
//         pack A_s[ic:ic+MC, pc:pc+KC] into MR-tall slivers       (L2)
//         for each NR sliver, for each MR sliver:
//           micro-kernel: MR x NR register tile += A_sliver @ B_sliver
//
// The micro-kernel keeps an MR x NR tile of uint64 accumulators in vector
// registers (written with GCC/Clang vector extensions; with -march=native
// on an AVX-512DQ machine every multiply-add is a vpmullq + vpaddq on zmm
// registers with the A element broadcast).  Packing zero-pads the edges,
// so the kernel always runs on full tiles; partial tiles are written
// through a small scratch tile.  Multiplication and addition wrap mod 2^64
// so the blocked order gives exactly the same result as the naive sum.
//
// The "B + B'" of a segment is formed while packing, so
// XA@(YA+YB) + XB@YA is one pass over the concatenated K = 2k dimension
// without materialising YA+YB.
#include "gemm.hpp"

#include <algorithm>

namespace safenet {
namespace {

#if SAFENET_VEC_BYTES == 64
constexpr int MR = 8;   // rows of the register tile
constexpr int NV = 2;   // vectors per tile row  -> 16 zmm accumulators
#elif SAFENET_VEC_BYTES == 32
constexpr int MR = 4;
constexpr int NV = 2;   // 8 ymm accumulators (leaves room for the emulated multiply)
#else
constexpr int MR = 4;
constexpr int NV = 2;
#endif
constexpr int NR = NV * kLanes;  // columns of the register tile

constexpr std::size_t KC = 256;  // depth of a packed block
constexpr std::size_t MC = 96;   // rows of a packed A block (multiple of MR)
constexpr std::size_t NC = 1024; // columns of a packed B panel (multiple of NR)
static_assert(MC % MR == 0, "MC must be a multiple of MR");
static_assert(NC % NR == 0, "NC must be a multiple of NR");

// C[0:MR, 0:NR] (+)= sum_p ap[p*MR + i] * bp[p*NR + j]
// ap: MR x kc sliver (column-of-MR per p), bp: kc x NR sliver.
template <bool Accumulate>
inline void micro_kernel(std::size_t kc, const u64* __restrict ap, const u64* __restrict bp,
                         u64* __restrict c, std::size_t ldc) {
    vu64 acc[MR][NV];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) acc[i][j] = vu64{};

    for (std::size_t p = 0; p < kc; ++p) {
        vu64 b[NV];
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) b[j] = vload(bp + j * kLanes);
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
            const u64 a = ap[i];
#pragma GCC unroll 4
            for (int j = 0; j < NV; ++j) acc[i][j] += b[j] * a;
        }
        ap += MR;
        bp += NR;
    }

#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) {
            u64* dst = c + i * ldc + j * kLanes;
            if (Accumulate)
                vstore(dst, vload(dst) + acc[i][j]);
            else
                vstore(dst, acc[i][j]);
        }
}

// Pack rows [i0, i0+mc) x cols [p0, p0+kc) of A (lda = k) into MR-tall
// slivers: sliver r holds, for each p, the MR values A[i0+r*MR+0..MR-1][p].
void pack_a(const u64* a, std::size_t lda, std::size_t i0, std::size_t mc, std::size_t p0,
            std::size_t kc, u64* __restrict dst) {
    for (std::size_t r = 0; r < mc; r += MR) {
        const std::size_t rows = std::min<std::size_t>(MR, mc - r);
        const u64* src = a + (i0 + r) * lda + p0;
        if (rows == MR) {
            for (std::size_t p = 0; p < kc; ++p)
#pragma GCC unroll 16
                for (int i = 0; i < MR; ++i) dst[p * MR + i] = src[i * lda + p];
        } else {
            for (std::size_t p = 0; p < kc; ++p) {
                for (std::size_t i = 0; i < rows; ++i) dst[p * MR + i] = src[i * lda + p];
                for (std::size_t i = rows; i < MR; ++i) dst[p * MR + i] = 0;
            }
        }
        dst += kc * MR;
    }
}

// Pack rows [p0, p0+kc) x cols [j0, j0+nc) of (B + B2) (ldb = n) into
// NR-wide slivers: sliver s holds, for each p, B[p][j0+s*NR+0..NR-1].
void pack_b(const u64* b, const u64* b2, std::size_t ldb, std::size_t p0, std::size_t kc,
            std::size_t j0, std::size_t nc, u64* __restrict dst) {
    for (std::size_t s = 0; s < nc; s += NR) {
        const std::size_t cols = std::min<std::size_t>(NR, nc - s);
        const u64* src = b + p0 * ldb + j0 + s;
        const u64* src2 = b2 ? b2 + p0 * ldb + j0 + s : nullptr;
        if (cols == NR) {
            if (src2) {
                for (std::size_t p = 0; p < kc; ++p)
#pragma GCC unroll 4
                    for (int j = 0; j < NV; ++j)
                        vstore(dst + p * NR + j * kLanes,
                               vload(src + p * ldb + j * kLanes) + vload(src2 + p * ldb + j * kLanes));
            } else {
                for (std::size_t p = 0; p < kc; ++p)
#pragma GCC unroll 4
                    for (int j = 0; j < NV; ++j)
                        vstore(dst + p * NR + j * kLanes, vload(src + p * ldb + j * kLanes));
            }
        } else {
            for (std::size_t p = 0; p < kc; ++p) {
                for (std::size_t j = 0; j < cols; ++j)
                    dst[p * NR + j] = src[p * ldb + j] + (src2 ? src2[p * ldb + j] : 0);
                for (std::size_t j = cols; j < NR; ++j) dst[p * NR + j] = 0;
            }
        }
        dst += kc * NR;
    }
}

}  // namespace

GemmParams gemm_params() {
    return GemmParams{MR, NR, static_cast<int>(KC), static_cast<int>(MC), static_cast<int>(NC),
                      SAFENET_VEC_BYTES * 8};
}

void gemm_segments(std::size_t m, std::size_t k, std::size_t n, const GemmSegment* segs,
                   int nseg, const u64* zero, u64* c) {
    // Initialise C with Z (or 0); everything after this accumulates.
    if (zero)
        std::memcpy(c, zero, m * n * sizeof(u64));
    else
        std::memset(c, 0, m * n * sizeof(u64));
    if (m == 0 || n == 0 || k == 0) return;

    const std::size_t kc_max = std::min(KC, k);
    const std::size_t mc_max = std::min<std::size_t>(MC, (m + MR - 1) / MR * MR);
    const std::size_t nc_max = std::min<std::size_t>(NC, (n + NR - 1) / NR * NR);
    AlignedBuffer abuf(kc_max * mc_max);
    AlignedBuffer bbuf(kc_max * nc_max);
    alignas(64) u64 tile[MR * NR];

    for (std::size_t jc = 0; jc < n; jc += NC) {
        const std::size_t nc = std::min(NC, n - jc);
        for (int s = 0; s < nseg; ++s) {
            const GemmSegment& seg = segs[s];
            for (std::size_t pc = 0; pc < k; pc += KC) {
                const std::size_t kc = std::min(KC, k - pc);
                pack_b(seg.b, seg.b_extra, n, pc, kc, jc, nc, bbuf.get());
                for (std::size_t ic = 0; ic < m; ic += MC) {
                    const std::size_t mc = std::min(MC, m - ic);
                    pack_a(seg.a, k, ic, mc, pc, kc, abuf.get());
                    for (std::size_t jr = 0; jr < nc; jr += NR) {
                        const std::size_t nr = std::min<std::size_t>(NR, nc - jr);
                        const u64* bp = bbuf.get() + (jr / NR) * kc * NR;
                        for (std::size_t ir = 0; ir < mc; ir += MR) {
                            const std::size_t mr = std::min<std::size_t>(MR, mc - ir);
                            const u64* ap = abuf.get() + (ir / MR) * kc * MR;
                            u64* cblk = c + (ic + ir) * n + jc + jr;
                            if (mr == MR && nr == NR) {
                                micro_kernel<true>(kc, ap, bp, cblk, n);
                            } else {
                                micro_kernel<false>(kc, ap, bp, tile, NR);
                                for (std::size_t i = 0; i < mr; ++i)
                                    for (std::size_t j = 0; j < nr; ++j)
                                        cblk[i * n + j] += tile[i * NR + j];
                            }
                        }
                    }
                }
            }
        }
    }
}

}  // namespace safenet
