// Eight doubles, one per sample lane (sample t of a group of 8 in lane t mod 8), and the masked
// operations that sums over binary masks are built from: a mask byte holds one feature's bits for
// the 8 samples of a group, so "add w where feature k is kept" is one masked add instead of a
// multiply by a 0/1 number and an add.
//
// AVX-512 intrinsics where the target has them, GCC/Clang vector extensions otherwise. Both do the
// same IEEE additions lane by lane: a masked-off lane is left unchanged (AVX-512) or gets + 0.0
// (the extensions), which is the same number for every sum that starts at +0.0 (a sum of finite
// doubles never becomes -0.0 that way). Results therefore do not depend on which lanes run
// together, and the horizontal sum is a fixed tree.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__AVX512F__) && defined(__AVX512VL__)
#include <immintrin.h>
#define GRADLIME_LANES_AVX512 1
#else
#define GRADLIME_LANES_AVX512 0
#endif

namespace gradlime::lanes {

constexpr int kLanes = 8;

#if GRADLIME_LANES_AVX512
using D = __m512d;
inline D zero() noexcept { return _mm512_setzero_pd(); }
inline D set1(double x) noexcept { return _mm512_set1_pd(x); }
inline D load(const double* p) noexcept { return _mm512_loadu_pd(p); }
inline void store(double* p, D x) noexcept { _mm512_storeu_pd(p, x); }
inline D add(D a, D b) noexcept { return _mm512_add_pd(a, b); }
inline D sub(D a, D b) noexcept { return _mm512_sub_pd(a, b); }
inline D mul(D a, D b) noexcept { return _mm512_mul_pd(a, b); }
// a + x in the lanes whose bit of m is set, a in the others.
inline D add_where(D a, std::uint8_t m, D x) noexcept { return _mm512_mask_add_pd(a, m, a, x); }
// x in the lanes whose bit of m is set, +0.0 in the others.
inline D keep_where(std::uint8_t m, D x) noexcept { return _mm512_maskz_mov_pd(m, x); }
// Bit i of the result: bit b of words[i] (eight 32-bit words, one per sample).
inline std::uint8_t bit_of_each(const std::uint32_t* words, int b) noexcept {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(words));
    return static_cast<std::uint8_t>(_mm256_test_epi32_mask(v, _mm256_set1_epi32(static_cast<int>(1u << b))));
}
// out[i] = bit i of m ? a : b, for eight floats.
inline void select_floats(float* out, std::uint8_t m, float a, float b) noexcept {
    _mm256_storeu_ps(out, _mm256_mask_blend_ps(m, _mm256_set1_ps(b), _mm256_set1_ps(a)));
}
#else
typedef double D __attribute__((vector_size(kLanes * sizeof(double))));
typedef std::int64_t Mask __attribute__((vector_size(kLanes * sizeof(std::int64_t))));
inline D zero() noexcept { return D{}; }
inline D set1(double x) noexcept { return D{} + x; }
inline D load(const double* p) noexcept {
    D x;
    std::memcpy(&x, p, sizeof x);
    return x;
}
inline void store(double* p, D x) noexcept { std::memcpy(p, &x, sizeof x); }
inline D add(D a, D b) noexcept { return a + b; }
inline D sub(D a, D b) noexcept { return a - b; }
inline D mul(D a, D b) noexcept { return a * b; }
inline Mask lane_mask(std::uint8_t m) noexcept {
    const Mask iota = {0, 1, 2, 3, 4, 5, 6, 7};
    return -(((Mask{} + m) >> iota) & 1);
}
inline D keep_where(std::uint8_t m, D x) noexcept { return reinterpret_cast<D>(reinterpret_cast<Mask>(x) & lane_mask(m)); }
inline D add_where(D a, std::uint8_t m, D x) noexcept { return a + keep_where(m, x); }
inline void select_floats(float* out, std::uint8_t m, float a, float b) noexcept {
    std::uint32_t ua, ub;  // branch-free: the bits are random, a branch would mispredict half the time
    std::memcpy(&ua, &a, sizeof ua);
    std::memcpy(&ub, &b, sizeof ub);
    for (int i = 0; i < kLanes; ++i) {
        const std::uint32_t v = ub ^ ((ua ^ ub) & (0u - ((m >> i) & 1u)));
        std::memcpy(out + i, &v, sizeof v);
    }
}
inline std::uint8_t bit_of_each(const std::uint32_t* words, int b) noexcept {
    unsigned m = 0;
    for (int i = 0; i < kLanes; ++i) m |= ((words[i] >> b) & 1u) << i;
    return static_cast<std::uint8_t>(m);
}
#endif

// The lanes' sum by a fixed tree: ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7)).
inline double sum(D x) noexcept {
    double v[kLanes];
    std::memcpy(v, &x, sizeof v);
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

}  // namespace gradlime::lanes
