// compare.hpp -- bit-level kernels of the rep3 comparison circuit (ltz / eqz).
//
// Job: the local, per-element bit work of round 1 of protocols/rep3/compare.py
// (see its module docstring for the protocol): the leader's nibble
// monomials, the helpers' XOR shares of the nibble generate / propagate
// bits, and packing one bit of every element into a dense vector.  Pure
// functions over uint64 buffers; no protocol logic (masks, messages) here.
//
// Parameters shared by the kernels:
//   mode  0 = ltz (carry into bit k-1: generate G and propagate P needed),
//         1 = eqz (all of the low k bits of a + b zero: P of (~a, -b) only)
//   k     ltz: 1..64, the carry into bit k-1 (bits 0..k-2) and bits k-1 of
//         a and b; eqz: 0..64, the low k bits of a + b; higher bits of the
//         words are ignored
//   g     nibbles per element (1, 2, 4, 8 or 16), 4g >= the bits used;
//         the nibbles above them are padding with g = 0, p = 1
// Monomial layout (leader -> helpers), bit-sliced: M = 15 g (+1 for ltz
// with g == 1: bit k-1 of a) blocks of wbc = ceil(n / 64) words; block
// 15 j + S - 1 holds monomial a_S (S = 1..15, the AND of the a bits in S)
// of nibble j, bit e % 64 of word e / 64 for element e.
// Helper output: blocks (ng, g, wb) with ng = 2 (G, P) for ltz and 1 (P)
// for eqz; bit e % 64 of word e / 64 of block (t, bitrev(j)) is the share of
// nibble j of element e (bit-reversed block order: the two halves of every
// tree level are contiguous).
#pragma once

#include "common.hpp"

namespace safenet {

std::size_t cmp_monomial_blocks(int mode, int g);

// out: M * ceil(n / 64) words (zeroed by the kernel).
void cmp_monomials(const u64* a, std::size_t n, int mode, int k, int g, u64* out,
                   std::size_t out_words);

// alpha: this helper's XOR share of the monomial vector; b: its addend.
// add_const: this helper adds the terms that do not depend on a (one helper).
// out: ng * g * wb words (zeroed by the kernel).
void cmp_helper(const u64* alpha, const u64* b, std::size_t n, int mode, int k, int g,
                bool add_const, std::size_t wb, u64* out);

// B2A of opened daBit-masked bits, for `chunks` chunks of sizes[c] elements
// whose bits start at word c * wb of `opened`: with cv = bit of element e,
// out_j[e] = (cv ? -r_j[e] : r_j[e]) + (pub_j ? cv : 0)  (j = 0, 1); and if
// ry0 != nullptr also prod_j[e] = (cv ? -ry_j[e] : ry_j[e]) + cv * y_j[e].
void open_b2a(const u64* opened, std::size_t wb, const std::size_t* sizes, int chunks,
              const u64* r0, const u64* r1, bool pub0, bool pub1, u64* out0, u64* out1,
              const u64* ry0, const u64* ry1, const u64* y0, const u64* y1, u64* prod0,
              u64* prod1);

// daBit arithmetic (protocols/rep3/conversion.py), bit e of `bits` is w_e:
//   leader:  vmr = (bit e of a ^ b) - rho
//   helper 1 (x = v - rho): msg = lam - 2 x w, ra0 = x + msg, ra1 = w - kappa - lam
//   helper 2 (x = rho):     msg = kappa - 2 x w, ra0 = w - kappa - lam, ra1 = x + msg
void dabit_leader(const u64* a, const u64* b, const u64* rho, std::size_t n, u64* vmr);
void dabit_helper(int role, const u64* x, const u64* bits, const u64* kappa, const u64* lam,
                  std::size_t n, u64* msg, u64* ra0, u64* ra1);

// out[w] bit j = bit `bit` of x[64 w + j]; wb words, zero beyond n.
void bit_column(const u64* x, std::size_t n, int bit, std::size_t wb, u64* out);

}  // namespace safenet
