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

#include <cmath>
#include <cstdint>
#include <cstring>

#include "gradlime/exp_nonpositive.hpp"
#include "gradlime/simd/isa.hpp"
#include "gradlime/simd/vectors.hpp"

GRADLIME_SIMD_WARNINGS_OFF

namespace gradlime::lanes {

constexpr int kLanes = 8;

#if GRADLIME_SIMD_AVX512VL
using D = __m512d;
inline D zero() noexcept { return _mm512_setzero_pd(); }
inline D set1(double x) noexcept { return _mm512_set1_pd(x); }
inline D load(const double* p) noexcept { return _mm512_loadu_pd(p); }
inline void store(double* p, D x) noexcept { _mm512_storeu_pd(p, x); }
inline D add(D a, D b) noexcept { return _mm512_add_pd(a, b); }
inline D sub(D a, D b) noexcept { return _mm512_sub_pd(a, b); }
inline D mul(D a, D b) noexcept { return _mm512_mul_pd(a, b); }
inline D sqrt(D a) noexcept { return _mm512_sqrt_pd(a); }
// a + x in the lanes whose bit of m is set, a in the others.
inline D add_where(D a, std::uint8_t m, D x) noexcept { return _mm512_mask_add_pd(a, m, a, x); }
// x in the lanes whose bit of m is set, +0.0 in the others.
inline D keep_where(std::uint8_t m, D x) noexcept { return _mm512_maskz_mov_pd(m, x); }
// Bit i of the result: bit b of words[i] (eight 32-bit words, one per sample).
inline std::uint8_t bit_of_each(const std::uint32_t* words, int b) noexcept {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(words));
    return static_cast<std::uint8_t>(_mm256_test_epi32_mask(v, _mm256_set1_epi32(static_cast<int>(1u << b))));
}
// Bit i of the result: bit b of v[i] (eight 64-bit words, one per sample).
inline std::uint8_t bit_of_each64(const std::uint64_t* v, int b) noexcept {
    const __m512i bit = _mm512_set1_epi64(static_cast<long long>(1ULL << b));
    return static_cast<std::uint8_t>(_mm512_test_epi64_mask(_mm512_loadu_si512(v), bit));
}
// out[i] = bit i of m ? a : b, for eight floats.
inline void select_floats(float* out, std::uint8_t m, float a, float b) noexcept {
    _mm256_storeu_ps(out, _mm256_mask_blend_ps(m, _mm256_set1_ps(b), _mm256_set1_ps(a)));
}
#else
using D = simd::f64x8;
using Mask = simd::i64x8;
inline D zero() noexcept { return D{}; }
inline D set1(double x) noexcept { return D{} + x; }
inline D load(const double* p) noexcept { return simd::load<D>(p); }
inline void store(double* p, D x) noexcept { simd::store(p, x); }
inline D add(D a, D b) noexcept { return a + b; }
inline D sub(D a, D b) noexcept { return a - b; }
inline D mul(D a, D b) noexcept { return a * b; }
inline D sqrt(D a) noexcept {
    double v[kLanes];
    std::memcpy(v, &a, sizeof v);
    for (double& x : v) x = std::sqrt(x);  // correctly rounded, as the vector instruction
    std::memcpy(&a, v, sizeof v);
    return a;
}
inline Mask lane_mask(std::uint8_t m) noexcept {
    const Mask iota = {0, 1, 2, 3, 4, 5, 6, 7};
    return -(((Mask{} + m) >> iota) & 1);
}
inline D keep_where(std::uint8_t m, D x) noexcept {
    return reinterpret_cast<D>(reinterpret_cast<Mask>(x) & lane_mask(m));
}
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
inline std::uint8_t bit_of_each64(const std::uint64_t* v, int b) noexcept {
    unsigned m = 0;
    for (int i = 0; i < kLanes; ++i) m |= static_cast<unsigned>((v[i] >> b) & 1u) << i;
    return static_cast<std::uint8_t>(m);
}
inline std::uint8_t bit_of_each(const std::uint32_t* words, int b) noexcept {
    unsigned m = 0;
    for (int i = 0; i < kLanes; ++i) m |= ((words[i] >> b) & 1u) << i;
    return static_cast<std::uint8_t>(m);
}
#endif

// e^x for x <= 0, lane by lane: exp_kernel's operations (exp_nonpositive.hpp), the same bits as
// its scalar form.
inline D exp_nonpositive(D x) noexcept {
    using I64 = simd::i64x8;
    namespace ek = exp_kernel;
    const D shifter = set1(ek::kShifter);
    const D t = add(mul(x, set1(ek::kLog2e)), shifter);  // k + 1.5 * 2^52, rounded
    const D kf = sub(t, shifter);
    const D r = sub(sub(x, mul(kf, set1(ek::kLn2Hi))), mul(kf, set1(ek::kLn2Lo)));
    D p = set1(ek::kTaylorTop);
    for (int i = 0; i < ek::kTaylorTerms; ++i) p = add(mul(p, r), set1(ek::taylor(i)));
    const I64 bits = simd::bit_cast<I64>(t);
    const I64 k = bits - static_cast<std::int64_t>(ek::kShifterBits);  // the integer k (|k| < 2^51)
    const I64 scale_bits = (k + 1023) << 52;
    const D scale = simd::bit_cast<D>(scale_bits);
    const D y = mul(p, scale);
    // x < -708: 0 (k + 1023 would leave the exponent's range)
    D lo = set1(ek::kUnderflow), xv = x;
    I64 tiny = (I64)(xv < lo);
    return simd::bit_cast<D>(simd::bit_cast<I64>(y) & ~tiny);
}

// The lanes' sum by a fixed tree: ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7)).
inline double sum(D x) noexcept {
    double v[kLanes];
    std::memcpy(v, &x, sizeof v);
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

}  // namespace gradlime::lanes

GRADLIME_SIMD_WARNINGS_ON
