// aes_ctr.cpp -- portable software AES-128-CTR and the runtime dispatch.
//
// Job: (1) a self-contained software AES-128 (FIPS-197) encryptor built on
// 32-bit "T-tables" that are computed at first use from the GF(2^8)
// definition of the S-box (no hard-coded tables to mistype); (2) the CTR
// keystream loop on top of it; (3) choosing the AES-NI implementation at
// runtime via cpuid when it was compiled in and the CPU supports it.
//
// Byte/word convention: a 16-byte block is four 32-bit columns; column c
// holds bytes 4c..4c+3 with byte 4c (row 0) in the low 8 bits.  With that
// packing the CTR input block (nonce LE || counter LE) is simply the
// columns {lo32(nonce), hi32(nonce), lo32(ctr), hi32(ctr)}, and output
// words are col0 | col1 << 32 and col2 | col3 << 32, independent of the
// host byte order.
//
// Note: table-based AES is not constant-time with respect to cache timing;
// it is the fallback for CPUs without AES-NI only.
#include "aes_ctr.hpp"

namespace safenet {
namespace {

inline u32 rotl32(u32 x, int r) { return (x << r) | (x >> (32 - r)); }
inline u32 rotr32(u32 x, int r) { return (x >> r) | (x << (32 - r)); }

// Multiply by x (i.e. 2) in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1.
inline u8 xtime(u8 a) { return static_cast<u8>((a << 1) ^ ((a & 0x80) ? 0x1b : 0x00)); }

u8 gf_mul(u8 a, u8 b) {
    u8 r = 0;
    while (b) {
        if (b & 1) r ^= a;
        a = xtime(a);
        b >>= 1;
    }
    return r;
}

struct AesTables {
    u8 sbox[256];
    u32 te[256];  // column contribution of row-0 byte: (2s, s, s, 3s) little-endian
    AesTables() {
        for (int x = 0; x < 256; ++x) {
            // multiplicative inverse (0 -> 0): x^254
            u8 inv = 0;
            if (x != 0) {
                u8 p = static_cast<u8>(x), acc = 1;
                int e = 254;
                while (e) {
                    if (e & 1) acc = gf_mul(acc, p);
                    p = gf_mul(p, p);
                    e >>= 1;
                }
                inv = acc;
            }
            // affine transform
            u32 b = inv;
            u32 rot = b ^ ((b << 1) | (b >> 7)) ^ ((b << 2) | (b >> 6)) ^ ((b << 3) | (b >> 5)) ^
                      ((b << 4) | (b >> 4));
            sbox[x] = static_cast<u8>((rot ^ 0x63) & 0xff);
        }
        for (int x = 0; x < 256; ++x) {
            const u8 s = sbox[x];
            const u8 s2 = xtime(s);
            const u8 s3 = static_cast<u8>(s2 ^ s);
            te[x] = static_cast<u32>(s2) | (static_cast<u32>(s) << 8) | (static_cast<u32>(s) << 16) |
                    (static_cast<u32>(s3) << 24);
        }
    }
};

const AesTables& tables() {
    static const AesTables t;  // thread-safe initialisation (C++11 magic statics)
    return t;
}

struct AesKey {
    u32 rk[44];
};

inline u32 sub_word(const AesTables& t, u32 w) {
    return static_cast<u32>(t.sbox[w & 0xff]) | (static_cast<u32>(t.sbox[(w >> 8) & 0xff]) << 8) |
           (static_cast<u32>(t.sbox[(w >> 16) & 0xff]) << 16) |
           (static_cast<u32>(t.sbox[w >> 24]) << 24);
}

void expand_key(const AesTables& t, const u8 key[16], AesKey& k) {
    for (int i = 0; i < 4; ++i)
        k.rk[i] = static_cast<u32>(key[4 * i]) | (static_cast<u32>(key[4 * i + 1]) << 8) |
                  (static_cast<u32>(key[4 * i + 2]) << 16) | (static_cast<u32>(key[4 * i + 3]) << 24);
    u8 rcon = 1;
    for (int i = 4; i < 44; ++i) {
        u32 tmp = k.rk[i - 1];
        if (i % 4 == 0) {
            // RotWord moves byte 1 to byte 0: a right rotation in this packing.
            tmp = sub_word(t, rotr32(tmp, 8)) ^ rcon;
            rcon = xtime(rcon);
        }
        k.rk[i] = k.rk[i - 4] ^ tmp;
    }
}

inline void encrypt_block(const AesTables& t, const AesKey& k, u32 s[4]) {
    u32 s0 = s[0] ^ k.rk[0], s1 = s[1] ^ k.rk[1], s2 = s[2] ^ k.rk[2], s3 = s[3] ^ k.rk[3];
    const u32* te = t.te;
    // Rounds 1..9: SubBytes + ShiftRows + MixColumns + AddRoundKey.
    // New column c takes row r from old column (c + r) mod 4.
    for (int r = 1; r < 10; ++r) {
        const u32* rk = k.rk + 4 * r;
        u32 t0 = te[s0 & 0xff] ^ rotl32(te[(s1 >> 8) & 0xff], 8) ^ rotl32(te[(s2 >> 16) & 0xff], 16) ^
                 rotl32(te[s3 >> 24], 24) ^ rk[0];
        u32 t1 = te[s1 & 0xff] ^ rotl32(te[(s2 >> 8) & 0xff], 8) ^ rotl32(te[(s3 >> 16) & 0xff], 16) ^
                 rotl32(te[s0 >> 24], 24) ^ rk[1];
        u32 t2 = te[s2 & 0xff] ^ rotl32(te[(s3 >> 8) & 0xff], 8) ^ rotl32(te[(s0 >> 16) & 0xff], 16) ^
                 rotl32(te[s1 >> 24], 24) ^ rk[2];
        u32 t3 = te[s3 & 0xff] ^ rotl32(te[(s0 >> 8) & 0xff], 8) ^ rotl32(te[(s1 >> 16) & 0xff], 16) ^
                 rotl32(te[s2 >> 24], 24) ^ rk[3];
        s0 = t0;
        s1 = t1;
        s2 = t2;
        s3 = t3;
    }
    // Final round: no MixColumns.
    const u8* sb = t.sbox;
    const u32* rk = k.rk + 40;
    auto fin = [sb](u32 a, u32 b, u32 c, u32 d) {
        return static_cast<u32>(sb[a & 0xff]) | (static_cast<u32>(sb[(b >> 8) & 0xff]) << 8) |
               (static_cast<u32>(sb[(c >> 16) & 0xff]) << 16) | (static_cast<u32>(sb[d >> 24]) << 24);
    };
    s[0] = fin(s0, s1, s2, s3) ^ rk[0];
    s[1] = fin(s1, s2, s3, s0) ^ rk[1];
    s[2] = fin(s2, s3, s0, s1) ^ rk[2];
    s[3] = fin(s3, s0, s1, s2) ^ rk[3];
}

bool detect_aesni() {
#if defined(SAFENET_HAVE_AESNI) && (defined(__x86_64__) || defined(__i386__)) && \
    (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse2");
#else
    return false;
#endif
}

}  // namespace

void aes128_ctr_portable(const u8 key[16], u64 nonce, u64 counter, u64* out, std::size_t n) {
    const AesTables& t = tables();
    AesKey k;
    expand_key(t, key, k);
    const u32 n0 = static_cast<u32>(nonce), n1 = static_cast<u32>(nonce >> 32);
    const std::size_t nblocks = (n + 1) / 2;
    for (std::size_t i = 0; i < nblocks; ++i) {
        const u64 ctr = counter + static_cast<u64>(i);  // wraps mod 2^64
        u32 s[4] = {n0, n1, static_cast<u32>(ctr), static_cast<u32>(ctr >> 32)};
        encrypt_block(t, k, s);
        out[2 * i] = static_cast<u64>(s[0]) | (static_cast<u64>(s[1]) << 32);
        if (2 * i + 1 < n) out[2 * i + 1] = static_cast<u64>(s[2]) | (static_cast<u64>(s[3]) << 32);
    }
}

bool aesni_compiled() {
#if defined(SAFENET_HAVE_AESNI)
    return true;
#else
    return false;
#endif
}

bool aesni_available() {
    static const bool ok = detect_aesni();
    return ok;
}

void aes128_ctr(const u8 key[16], u64 nonce, u64 counter, u64* out, std::size_t n) {
#if defined(SAFENET_HAVE_AESNI)
    if (aesni_available()) {
        aes128_ctr_aesni(key, nonce, counter, out, n);
        return;
    }
#endif
    aes128_ctr_portable(key, nonce, counter, out, n);
}

}  // namespace safenet
