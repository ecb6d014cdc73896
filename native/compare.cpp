// compare.cpp -- bit-level kernels of the rep3 comparison circuit (see compare.hpp).
//
// Nibble algebra (4 bits, g_i = a_i b_i, p_i = a_i ^ b_i):
//   G = g3 ^ p3 g2 ^ p3 p2 g1 ^ p3 p2 p1 g0,   P = p3 p2 p1 p0,
// expanded over GF(2) as sum over the non-empty subsets S of the nibble of
// a_S * cG_S(b) (resp. a_S * cP_S(b), plus the constant prod(b)), with
// a_S = AND of the a bits in S, cG_S = b_k * prod(b_j: k < j, j not in S)
// for k = min S, and cP_S = prod(b_j: j not in S).
// Bit-sliced: 64 elements at a time are transposed (a 64 x 64 bit matrix),
// so one word operation computes a monomial, a b-product or a term for 64
// elements at once.
#include "compare.hpp"

namespace safenet {
namespace {

inline u64 low_mask(int j) { return j >= 64 ? ~0ULL : ((1ULL << j) - 1); }

inline int log2_exact(int g) { return __builtin_ctz(static_cast<unsigned>(g)); }

inline unsigned bitrev(unsigned j, int bits) {
    unsigned r = 0;
    for (int i = 0; i < bits; ++i) r |= ((j >> i) & 1u) << (bits - 1 - i);
    return r;
}

inline u64 transform_a(u64 a, int mode, int k) {
    // ltz: bits >= k-1 forced to 1 (with b's forced to 0: g = 0, p = 1 there)
    // eqz: ~a, bits >= k forced to 1
    return mode == 0 ? (a | ~low_mask(k - 1)) : (~a | ~low_mask(k));
}

inline u64 transform_b(u64 b, int mode, int k) {
    return mode == 0 ? (b & low_mask(k - 1)) : ((0 - b) & low_mask(k));
}

}  // namespace

std::size_t cmp_monomial_blocks(int mode, int g) {
    return 15 * static_cast<std::size_t>(g) + ((mode == 0 && g == 1) ? 1 : 0);
}

namespace {

// In-place transpose of a 64 x 64 bit matrix: afterwards bit e of A[i] is
// bit i of the original A[e] (bits numbered from the least significant).
void transpose64(u64 A[64]) {
    u64 m = 0x00000000FFFFFFFFULL;
    for (int j = 32; j != 0; j >>= 1, m ^= m << j) {
        for (int k = 0; k < 64; k = ((k | j) + 1) & ~j) {
            const u64 t = ((A[k] >> j) ^ A[k | j]) & m;
            A[k | j] ^= t;
            A[k] ^= t << j;
        }
    }
}

// Load up to 64 transformed words of group `grp` (zero-padded) and transpose.
template <class F>
void load_sliced(const u64* x, std::size_t n, std::size_t grp, F transform, u64 T[64]) {
    const std::size_t base = grp * 64;
    const std::size_t cnt = n - base < 64 ? n - base : 64;
    for (std::size_t e = 0; e < cnt; ++e) T[e] = transform(x[base + e]);
    for (std::size_t e = cnt; e < 64; ++e) T[e] = transform(0);
    transpose64(T);
}

// prod_G[S] / prod_P[S]: index of the b-subset product multiplying a_S.
struct Coef {
    int cg[16], cp[16];
    Coef() {
        for (int S = 1; S < 16; ++S) {
            const int kmin = __builtin_ctz(static_cast<unsigned>(S));
            int c = 1 << kmin;
            for (int j = kmin + 1; j < 4; ++j)
                if (!((S >> j) & 1)) c |= 1 << j;
            cg[S] = c;
            cp[S] = 15 & ~S;
        }
    }
};
const Coef kCoef;

}  // namespace

void cmp_monomials(const u64* a, std::size_t n, int mode, int k, int g, u64* out,
                   std::size_t out_words) {
    std::memset(out, 0, out_words * sizeof(u64));
    const std::size_t wbc = (n + 63) / 64;
    const bool extra = mode == 0 && g == 1;
    u64 T[64];
    for (std::size_t grp = 0; grp < wbc; ++grp) {
        load_sliced(a, n, grp, [&](u64 v) { return transform_a(v, mode, k); }, T);
        for (int j = 0; j < g; ++j) {
            u64 m[16];
            m[0] = ~0ULL;
            for (int S = 1; S < 16; ++S) {
                const int low = __builtin_ctz(static_cast<unsigned>(S));
                m[S] = m[S & (S - 1)] & T[4 * j + low];
                out[(static_cast<std::size_t>(j) * 15 + S - 1) * wbc + grp] = m[S];
            }
        }
        if (extra) {
            u64 w = 0;
            const std::size_t base = grp * 64;
            const std::size_t cnt = n - base < 64 ? n - base : 64;
            for (std::size_t e = 0; e < cnt; ++e) w |= ((a[base + e] >> (k - 1)) & 1ULL) << e;
            out[15 * wbc + grp] = w;
        }
    }
}

void cmp_helper(const u64* alpha, const u64* b, std::size_t n, int mode, int k, int g,
                bool add_const, std::size_t wb, u64* out) {
    const int ng = mode == 0 ? 2 : 1;
    std::memset(out, 0, static_cast<std::size_t>(ng) * g * wb * sizeof(u64));
    const std::size_t wbc = (n + 63) / 64;
    const int lg = log2_exact(g);
    u64* G = out;
    u64* P = mode == 0 ? out + static_cast<std::size_t>(g) * wb : out;
    u64 T[64];
    for (std::size_t grp = 0; grp < wbc; ++grp) {
        load_sliced(b, n, grp, [&](u64 v) { return transform_b(v, mode, k); }, T);
        for (int j = 0; j < g; ++j) {
            u64 pr[16];
            pr[0] = ~0ULL;
            for (int S = 1; S < 16; ++S)
                pr[S] = pr[S & (S - 1)] & T[4 * j + __builtin_ctz(static_cast<unsigned>(S))];
            u64 gw = 0, pw = add_const ? pr[15] : 0;
            for (int S = 1; S < 16; ++S) {
                const u64 al = alpha[(static_cast<std::size_t>(j) * 15 + S - 1) * wbc + grp];
                pw ^= al & pr[kCoef.cp[S]];
                if (mode == 0) gw ^= al & pr[kCoef.cg[S]];
            }
            const std::size_t at = bitrev(static_cast<unsigned>(j), lg) * wb + grp;
            P[at] = pw;
            if (mode == 0) G[at] = gw;
        }
        if (mode == 0 && g == 1) {
            u64 x = alpha[15 * wbc + grp];
            if (add_const) {
                const std::size_t base = grp * 64;
                const std::size_t cnt = n - base < 64 ? n - base : 64;
                for (std::size_t e = 0; e < cnt; ++e) x ^= ((b[base + e] >> (k - 1)) & 1ULL) << e;
            }
            G[grp] ^= x;
        }
    }
}

namespace {

template <bool kMul>
void open_b2a_chunk(const u64* bits, std::size_t n, const u64* r0, const u64* r1, u64 a0,
                    u64 a1, u64* out0, u64* out1, const u64* ry0, const u64* ry1,
                    const u64* y0, const u64* y1, u64* prod0, u64* prod1) {
    for (std::size_t i = 0; i < n; ++i) {
        const u64 cv = (bits[i >> 6] >> (i & 63)) & 1ULL;
        const u64 neg = 0 - cv;                                  // all ones if cv
        out0[i] = (r0[i] ^ neg) + cv + (cv & a0);                // cv ? -r : r (+ cv)
        out1[i] = (r1[i] ^ neg) + cv + (cv & a1);
        if (kMul) {
            prod0[i] = (ry0[i] ^ neg) + cv + (y0[i] & neg);
            prod1[i] = (ry1[i] ^ neg) + cv + (y1[i] & neg);
        }
    }
}

}  // namespace

void open_b2a(const u64* opened, std::size_t wb, const std::size_t* sizes, int chunks,
              const u64* r0, const u64* r1, bool pub0, bool pub1, u64* out0, u64* out1,
              const u64* ry0, const u64* ry1, const u64* y0, const u64* y1, u64* prod0,
              u64* prod1) {
    std::size_t e = 0;
    const u64 a0 = pub0 ? 1 : 0, a1 = pub1 ? 1 : 0;
    for (int c = 0; c < chunks; ++c) {
        const u64* bits = opened + static_cast<std::size_t>(c) * wb;
        const std::size_t n = sizes[c];
        if (ry0 != nullptr)
            open_b2a_chunk<true>(bits, n, r0 + e, r1 + e, a0, a1, out0 + e, out1 + e, ry0 + e,
                                 ry1 + e, y0 + e, y1 + e, prod0 + e, prod1 + e);
        else
            open_b2a_chunk<false>(bits, n, r0 + e, r1 + e, a0, a1, out0 + e, out1 + e, nullptr,
                                  nullptr, nullptr, nullptr, nullptr, nullptr);
        e += n;
    }
}

void dabit_leader(const u64* a, const u64* b, const u64* rho, std::size_t n, u64* vmr) {
    for (std::size_t e = 0; e < n; ++e)
        vmr[e] = (((a[e >> 6] ^ b[e >> 6]) >> (e & 63)) & 1ULL) - rho[e];
}

void dabit_helper(int role, const u64* x, const u64* bits, const u64* kappa, const u64* lam,
                  std::size_t n, u64* msg, u64* ra0, u64* ra1) {
    for (std::size_t e = 0; e < n; ++e) {
        const u64 w = (bits[e >> 6] >> (e & 63)) & 1ULL;
        const u64 xw2 = (x[e] & (0 - w)) << 1;                 // 2 x w
        const u64 rest = w - kappa[e] - lam[e];
        if (role == 1) {
            msg[e] = lam[e] - xw2;
            ra0[e] = x[e] + msg[e];
            ra1[e] = rest;
        } else {
            msg[e] = kappa[e] - xw2;
            ra0[e] = rest;
            ra1[e] = x[e] + msg[e];
        }
    }
}

void bit_column(const u64* x, std::size_t n, int bit, std::size_t wb, u64* out) {
    std::memset(out, 0, wb * sizeof(u64));
    for (std::size_t e = 0; e < n; ++e) out[e >> 6] |= ((x[e] >> bit) & 1ULL) << (e & 63);
}

}  // namespace safenet
