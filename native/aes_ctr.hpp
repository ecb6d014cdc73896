// aes_ctr.hpp -- AES-128 in counter mode producing uint64 words.
//
// Job: declare the AES-128-CTR keystream generators.  Block i (i = 0, 1, ...)
// is the 16 bytes  nonce (little-endian u64) || counter + i (little-endian
// u64, wrapping mod 2^64);  the encrypted blocks, concatenated, are read as
// little-endian uint64 words, and the first n words are written to out.
//
// Two implementations: AES-NI (x86, selected at runtime when the CPU has
// it) and a portable table-based software AES used otherwise.  Both give
// identical output.
#pragma once

#include "common.hpp"

namespace safenet {

// Dispatching entry point: AES-NI when available at runtime, else portable.
void aes128_ctr(const u8 key[16], u64 nonce, u64 counter, u64* out, std::size_t n);

// Always the software implementation.
void aes128_ctr_portable(const u8 key[16], u64 nonce, u64 counter, u64* out, std::size_t n);

// True if the AES-NI path was compiled in AND the running CPU supports it.
bool aesni_available();
// True if the AES-NI path was compiled in at all.
bool aesni_compiled();

#if defined(SAFENET_HAVE_AESNI)
// Defined in aes_ni.cpp; only call when aesni_available().
void aes128_ctr_aesni(const u8 key[16], u64 nonce, u64 counter, u64* out, std::size_t n);
#endif

}  // namespace safenet
