// GCC/Clang vector-extension types: the compiler lowers them to AVX-512, AVX2 or SSE registers, each
// lane doing the scalar arithmetic of its element with the usual IEEE rounding. Loops written on them
// keep a tile in registers across a sum instead of trusting the auto-vectoriser.
//
// Only types, bit casts and memcpy loads and stores live here, no floating-point arithmetic: the
// network (mlp.cpp) is compiled with -ffp-contract=fast and every other file with it off, so an
// inline floating-point function shared by both could be emitted once, fused, and linked into the
// reproducible code. Arithmetic on these types is written in the file that owns its contraction mode.
#pragma once

#include <cstdint>
#include <cstring>

#include "gradlime/hd.hpp"
#include "gradlime/simd/isa.hpp"

namespace gradlime::simd {

// The widest register of doubles the target has (a loop's vector width; never part of a result).
#if GRADLIME_SIMD_AVX512
constexpr int kDoubles = 8;
#elif GRADLIME_SIMD_AVX2
constexpr int kDoubles = 4;
#else
constexpr int kDoubles = 2;
#endif
typedef double f64xN __attribute__((vector_size(kDoubles * sizeof(double))));

// Eight lanes (one 512-bit register, or two or four narrower ones).
typedef double f64x8 __attribute__((vector_size(8 * sizeof(double))));
typedef std::int64_t i64x8 __attribute__((vector_size(8 * sizeof(std::int64_t))));
typedef float f32x8 __attribute__((vector_size(8 * sizeof(float))));
// Sixteen floats, aligned as a float: the network's tiles are loaded from any row offset.
typedef float f32x16 __attribute__((vector_size(16 * sizeof(float)), aligned(alignof(float))));

// Unaligned loads and stores (memcpy compiles to one vector move).
template <class V, class T>
inline V load(const T* p) noexcept {
    static_assert(sizeof(V) % sizeof(T) == 0, "a whole number of elements");
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
template <class V, class T>
inline void store(T* p, V v) noexcept {
    static_assert(sizeof(V) % sizeof(T) == 0, "a whole number of elements");
    std::memcpy(p, &v, sizeof v);
}

// The same bits as another type of the same size.
template <class To, class From>
GRADLIME_HD inline To bit_cast(const From& x) noexcept {
    static_assert(sizeof(To) == sizeof(From), "bit casts keep the size");
    To y;
    std::memcpy(&y, &x, sizeof y);
    return y;
}

}  // namespace gradlime::simd

namespace gradlime::detail {

inline double bits_to_double(std::uint64_t b) noexcept { return simd::bit_cast<double>(b); }
inline std::uint64_t double_to_bits(double x) noexcept { return simd::bit_cast<std::uint64_t>(x); }

}  // namespace gradlime::detail
