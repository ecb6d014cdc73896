// common.hpp -- shared definitions for the safenet_native kernels.
//
// Job: the ring element type (uint64_t, arithmetic in Z_2^64 by natural
// wraparound), the portable SIMD vector type used by the hand-blocked
// kernels (GCC/Clang vector extensions, so the same source lowers to
// AVX-512, AVX2 or SSE2 depending on the -march the build uses), and a
// few small helpers.  No Python / pybind11 in here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace safenet {

using u64 = std::uint64_t;
using i64 = std::int64_t;
using u32 = std::uint32_t;
using u8 = std::uint8_t;

// Width (bytes) of the SIMD vectors the kernels are written for.  This
// follows the instruction set the translation unit is compiled for
// (SAFENET_NATIVE_ARCH=native -> -march=native).
#if defined(__AVX512F__)
#define SAFENET_VEC_BYTES 64
#elif defined(__AVX__)
#define SAFENET_VEC_BYTES 32
#else
#define SAFENET_VEC_BYTES 16
#endif

// Vector of uint64 lanes.  aligned(8) so loads/stores through it are legal
// on any 8-byte aligned address (the compiler emits unaligned moves).
typedef u64 vu64 __attribute__((vector_size(SAFENET_VEC_BYTES), aligned(8)));
constexpr int kLanes = SAFENET_VEC_BYTES / 8;

static inline vu64 vload(const u64* p) { return *reinterpret_cast<const vu64*>(p); }
static inline void vstore(u64* p, vu64 v) { *reinterpret_cast<vu64*>(p) = v; }

// 64-byte aligned, uninitialised scratch buffer of u64 (RAII).
class AlignedBuffer {
public:
    explicit AlignedBuffer(std::size_t count) {
        std::size_t bytes = (count * sizeof(u64) + 63) / 64 * 64;
        if (bytes == 0) bytes = 64;
        ptr_ = static_cast<u64*>(std::aligned_alloc(64, bytes));
        if (!ptr_) throw std::bad_alloc();
    }
    ~AlignedBuffer() { std::free(ptr_); }
    AlignedBuffer(const AlignedBuffer&) = delete;
    AlignedBuffer& operator=(const AlignedBuffer&) = delete;
    u64* get() const { return ptr_; }

private:
    u64* ptr_;
};

}  // namespace safenet
