// Registers of 64-bit lanes, as types with one interface: I holds integers, D doubles, kBlocks lanes
// each. Kernels written once as templates over these (the Philox rounds and the normal transform in
// rng/) run one lane (Scalar), four (Avx2) or eight (Avx512) at a time with the same IEEE operations
// in the same order (add, sub, mul, div, sqrt; never a fused multiply-add), so every lane of every
// type gets the bits of the scalar code.
//
// Integer lanes that carry 32-bit words keep them in the low half of the lane: mulu32 reads only
// those (pmuludq), and the high halves may carry junk that is never read.
#pragma once

#include <cmath>
#include <cstdint>

#include "gradlime/hd.hpp"
#include "gradlime/simd/isa.hpp"
#include "gradlime/simd/vectors.hpp"

GRADLIME_SIMD_WARNINGS_OFF

namespace gradlime::simd {

// One lane: plain uint64_t and double.
struct Scalar {
    using I = std::uint64_t;
    using D = double;
    static constexpr long kBlocks = 1;
    GRADLIME_HD static I set1(std::uint64_t x) noexcept { return x; }
    GRADLIME_HD static I add64(I x, I y) noexcept { return x + y; }
    GRADLIME_HD static I mulu32(I x, I y) noexcept { return (x & 0xffffffffu) * (y & 0xffffffffu); }
    GRADLIME_HD static I xor3(I x, I y, I z) noexcept { return x ^ y ^ z; }
    GRADLIME_HD static I and_(I x, I y) noexcept { return x & y; }
    GRADLIME_HD static I or_(I x, I y) noexcept { return x | y; }
    GRADLIME_HD static I xor_(I x, I y) noexcept { return x ^ y; }
    GRADLIME_HD static I xor_and(I x, I y, I z) noexcept { return x ^ (y & z); }
    template <int n> GRADLIME_HD static I srli(I x) noexcept { return x >> n; }
    template <int n> GRADLIME_HD static I slli(I x) noexcept { return x << n; }
    GRADLIME_HD static D as_d(I x) noexcept { return bit_cast<double>(x); }
    GRADLIME_HD static I as_i(D x) noexcept { return bit_cast<std::uint64_t>(x); }
    GRADLIME_HD static D set1d(double x) noexcept { return x; }
    GRADLIME_HD static D add(D x, D y) noexcept { return x + y; }
    GRADLIME_HD static D sub(D x, D y) noexcept { return x - y; }
    GRADLIME_HD static D mul(D x, D y) noexcept { return x * y; }
    GRADLIME_HD static D div(D x, D y) noexcept { return x / y; }
    GRADLIME_HD static D sqrt(D x) noexcept { return std::sqrt(x); }  // correctly rounded, as the instructions
    // swap c and s where bit `bit` of x is set; on the bits, without a branch (the bit is random)
    template <int bit>
    GRADLIME_HD static void swap_where(I x, D& c, D& s) noexcept {
        const std::uint64_t swap = 0 - ((x >> bit) & 1u), cb = as_i(c), sb = as_i(s);
        c = as_d((cb & ~swap) | (sb & swap));
        s = as_d((sb & ~swap) | (cb & swap));
    }
};

#if GRADLIME_SIMD_AVX512
struct Avx512 {
    using I = __m512i;
    using D = __m512d;
    static constexpr long kBlocks = 8;
    static constexpr int kVecs = 3;  // registers per batch of draws (measured on an AVX-512 EPYC: 3 > 4 > 2)
    static I set1(std::uint64_t x) noexcept { return _mm512_set1_epi64(static_cast<long long>(x)); }
    static I iota() noexcept { return _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0); }
    static I loadu(const std::uint64_t* p) noexcept { return _mm512_loadu_si512(p); }
    // k += r, s += q; then where k >= p: k -= p, s += 1 (a two-digit counter with radix p)
    static void advance(I& k, I& s, I r, I q, I p) noexcept {
        k = _mm512_add_epi64(k, r);
        s = _mm512_add_epi64(s, q);
        const __mmask8 wrap = _mm512_cmpge_epu64_mask(k, p);
        k = _mm512_mask_sub_epi64(k, wrap, k, p);
        s = _mm512_mask_sub_epi64(s, wrap, s, _mm512_set1_epi64(-1));
    }
    static I add64(I x, I y) noexcept { return _mm512_add_epi64(x, y); }
    static I mulu32(I x, I y) noexcept { return _mm512_mul_epu32(x, y); }
    static I xor3(I x, I y, I z) noexcept { return _mm512_ternarylogic_epi64(x, y, z, 0x96); }
    static I and_(I x, I y) noexcept { return _mm512_and_si512(x, y); }
    static I or_(I x, I y) noexcept { return _mm512_or_si512(x, y); }
    static I xor_(I x, I y) noexcept { return _mm512_xor_si512(x, y); }
    static I xor_and(I x, I y, I z) noexcept { return _mm512_ternarylogic_epi64(x, y, z, 0x78); }
    template <int n> static I srli(I x) noexcept { return _mm512_srli_epi64(x, n); }
    template <int n> static I slli(I x) noexcept { return _mm512_slli_epi64(x, n); }
    static D as_d(I x) noexcept { return _mm512_castsi512_pd(x); }
    static I as_i(D x) noexcept { return _mm512_castpd_si512(x); }
    static D set1d(double x) noexcept { return _mm512_set1_pd(x); }
    static D add(D x, D y) noexcept { return _mm512_add_pd(x, y); }
    static D sub(D x, D y) noexcept { return _mm512_sub_pd(x, y); }
    static D mul(D x, D y) noexcept { return _mm512_mul_pd(x, y); }
    static D div(D x, D y) noexcept { return _mm512_div_pd(x, y); }
    static D sqrt(D x) noexcept { return _mm512_sqrt_pd(x); }
    template <int bit>
    static void swap_where(I x, D& c, D& s) noexcept {
        const __mmask8 set = _mm512_test_epi64_mask(x, _mm512_set1_epi64(1LL << bit));
        const D c2 = _mm512_mask_blend_pd(set, c, s);
        s = _mm512_mask_blend_pd(set, s, c);
        c = c2;
    }
    static void storeu(double* out, D x) noexcept { _mm512_storeu_pd(out, x); }
    static void storeu_i(std::uint64_t* out, I x) noexcept { _mm512_storeu_si512(out, x); }
    // out[2i] = c[i], out[2i + 1] = s[i]
    static void store_pairs(double* out, D c, D s) noexcept {
        const I lo = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);
        const I hi = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
        _mm512_storeu_pd(out, _mm512_permutex2var_pd(c, lo, s));
        _mm512_storeu_pd(out + 8, _mm512_permutex2var_pd(c, hi, s));
    }
};
#endif

#if GRADLIME_SIMD_AVX2
struct Avx2 {
    using I = __m256i;
    using D = __m256d;
    static constexpr long kBlocks = 4;
    static constexpr int kVecs = 4;  // measured: 4 > 2
    static I set1(std::uint64_t x) noexcept { return _mm256_set1_epi64x(static_cast<long long>(x)); }
    static I iota() noexcept { return _mm256_set_epi64x(3, 2, 1, 0); }
    static I loadu(const std::uint64_t* p) noexcept {
        return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    }
    // as Avx512::advance (k, r < p < 2^62: signed compares suffice)
    static void advance(I& k, I& s, I r, I q, I p) noexcept {
        k = _mm256_add_epi64(k, r);
        const I below = _mm256_cmpgt_epi64(p, k);  // all ones where k < p
        k = _mm256_sub_epi64(k, _mm256_andnot_si256(below, p));
        s = _mm256_add_epi64(_mm256_add_epi64(s, q), _mm256_add_epi64(below, _mm256_set1_epi64x(1)));
    }
    static I add64(I x, I y) noexcept { return _mm256_add_epi64(x, y); }
    static I mulu32(I x, I y) noexcept { return _mm256_mul_epu32(x, y); }
    static I xor3(I x, I y, I z) noexcept { return _mm256_xor_si256(_mm256_xor_si256(x, y), z); }
    static I and_(I x, I y) noexcept { return _mm256_and_si256(x, y); }
    static I or_(I x, I y) noexcept { return _mm256_or_si256(x, y); }
    static I xor_(I x, I y) noexcept { return _mm256_xor_si256(x, y); }
    static I xor_and(I x, I y, I z) noexcept { return _mm256_xor_si256(x, _mm256_and_si256(y, z)); }
    template <int n> static I srli(I x) noexcept { return _mm256_srli_epi64(x, n); }
    template <int n> static I slli(I x) noexcept { return _mm256_slli_epi64(x, n); }
    static D as_d(I x) noexcept { return _mm256_castsi256_pd(x); }
    static I as_i(D x) noexcept { return _mm256_castpd_si256(x); }
    static D set1d(double x) noexcept { return _mm256_set1_pd(x); }
    static D add(D x, D y) noexcept { return _mm256_add_pd(x, y); }
    static D sub(D x, D y) noexcept { return _mm256_sub_pd(x, y); }
    static D mul(D x, D y) noexcept { return _mm256_mul_pd(x, y); }
    static D div(D x, D y) noexcept { return _mm256_div_pd(x, y); }
    static D sqrt(D x) noexcept { return _mm256_sqrt_pd(x); }
    template <int bit>
    static void swap_where(I x, D& c, D& s) noexcept {
        const D set = _mm256_castsi256_pd(_mm256_slli_epi64(x, 63 - bit));  // blendv reads the sign bit
        const D c2 = _mm256_blendv_pd(c, s, set);
        s = _mm256_blendv_pd(s, c, set);
        c = c2;
    }
    static void storeu(double* out, D x) noexcept { _mm256_storeu_pd(out, x); }
    static void storeu_i(std::uint64_t* out, I x) noexcept {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), x);
    }
    static void store_pairs(double* out, D c, D s) noexcept {
        const D t0 = _mm256_unpacklo_pd(c, s);  // c0 s0 c2 s2
        const D t1 = _mm256_unpackhi_pd(c, s);  // c1 s1 c3 s3
        _mm256_storeu_pd(out, _mm256_permute2f128_pd(t0, t1, 0x20));
        _mm256_storeu_pd(out + 4, _mm256_permute2f128_pd(t0, t1, 0x31));
    }
};
#endif

// dst[0 .. n) = src[0 .. n) for a short n (a piece of a row); nothing for n <= 0.
inline void copy_short(const double* src, long n, double* dst) noexcept {
#if GRADLIME_SIMD_AVX512
    for (; n >= 8; n -= 8, src += 8, dst += 8) _mm512_storeu_pd(dst, _mm512_loadu_pd(src));
    if (n > 0) {
        const auto mask = static_cast<__mmask8>((1u << n) - 1);
        _mm512_mask_storeu_pd(dst, mask, _mm512_maskz_loadu_pd(mask, src));
    }
#else
    for (long j = 0; j < n; ++j) dst[j] = src[j];
#endif
}

}  // namespace gradlime::simd

GRADLIME_SIMD_WARNINGS_ON
