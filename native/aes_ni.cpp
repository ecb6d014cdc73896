// aes_ni.cpp -- AES-128-CTR with the x86 AES-NI instructions.
//
// Job: the hardware AES path of aes_ctr.hpp.  Every function here carries
// __attribute__((target("aes,sse2"))), so this file is compiled with the
// AES instructions enabled for these functions only, whatever -march the
// build uses; aes_ctr.cpp calls in only after cpuid says the CPU has AES.
// (Deliberately no standard-library templates are instantiated here, so no
// AES-enabled copy of an inline function can leak into the rest of the
// module.)
//
// Key expansion uses _mm_aeskeygenassist_si128; the CTR loop encrypts 8
// independent blocks per iteration so the aesenc latency is hidden.
// Block i = nonce (LE u64) || counter + i (LE u64): on x86 that is just
// _mm_set_epi64x(counter + i, nonce), and the ciphertext bytes stored to
// memory are the little-endian output words.
#include "aes_ctr.hpp"

#if defined(SAFENET_HAVE_AESNI)

#include <emmintrin.h>
#include <wmmintrin.h>

#define SAFENET_AES_TARGET __attribute__((target("aes,sse2")))

namespace safenet {
namespace {

SAFENET_AES_TARGET inline __m128i expand_step(__m128i key, __m128i assist) {
    // assist holds SubWord(RotWord(w3)) ^ rcon in its top 32-bit lane.
    assist = _mm_shuffle_epi32(assist, 0xff);
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    return _mm_xor_si128(key, assist);
}

SAFENET_AES_TARGET void expand_key(const u8 key[16], __m128i rk[11]) {
    rk[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
#define SAFENET_KEY_STEP(i, rcon) rk[i] = expand_step(rk[i - 1], _mm_aeskeygenassist_si128(rk[i - 1], rcon))
    SAFENET_KEY_STEP(1, 0x01);
    SAFENET_KEY_STEP(2, 0x02);
    SAFENET_KEY_STEP(3, 0x04);
    SAFENET_KEY_STEP(4, 0x08);
    SAFENET_KEY_STEP(5, 0x10);
    SAFENET_KEY_STEP(6, 0x20);
    SAFENET_KEY_STEP(7, 0x40);
    SAFENET_KEY_STEP(8, 0x80);
    SAFENET_KEY_STEP(9, 0x1b);
    SAFENET_KEY_STEP(10, 0x36);
#undef SAFENET_KEY_STEP
}

SAFENET_AES_TARGET inline __m128i encrypt1(__m128i b, const __m128i rk[11]) {
    b = _mm_xor_si128(b, rk[0]);
    for (int r = 1; r < 10; ++r) b = _mm_aesenc_si128(b, rk[r]);
    return _mm_aesenclast_si128(b, rk[10]);
}

}  // namespace

SAFENET_AES_TARGET void aes128_ctr_aesni(const u8 key[16], u64 nonce, u64 counter, u64* out,
                                         std::size_t n) {
    __m128i rk[11];
    expand_key(key, rk);

    const std::size_t nblocks = (n + 1) / 2;
    const std::size_t full = n / 2;  // blocks whose 16 bytes all go to out
    // ctr vector: low lane = nonce, high lane = counter + i (64-bit lane add wraps).
    __m128i ctr = _mm_set_epi64x(static_cast<long long>(counter), static_cast<long long>(nonce));
    const __m128i one = _mm_set_epi64x(1, 0);
    __m128i* dst = reinterpret_cast<__m128i*>(out);

    std::size_t i = 0;
    for (; i + 8 <= full; i += 8) {
        __m128i b[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {
            b[j] = _mm_xor_si128(ctr, rk[0]);
            ctr = _mm_add_epi64(ctr, one);
        }
#pragma GCC unroll 9
        for (int r = 1; r < 10; ++r) {
            const __m128i k = rk[r];
#pragma GCC unroll 8
            for (int j = 0; j < 8; ++j) b[j] = _mm_aesenc_si128(b[j], k);
        }
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) _mm_storeu_si128(dst + i + j, _mm_aesenclast_si128(b[j], rk[10]));
    }
    for (; i < full; ++i) {
        _mm_storeu_si128(dst + i, encrypt1(ctr, rk));
        ctr = _mm_add_epi64(ctr, one);
    }
    if (nblocks > full) {  // odd n: only the first word of the last block
        __m128i last = encrypt1(ctr, rk);
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out + 2 * full), last);
    }
}

}  // namespace safenet

#endif  // SAFENET_HAVE_AESNI
