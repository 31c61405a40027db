// Counter-based random numbers: Philox4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random
// numbers: as easy as 1, 2, 3", SC'11) and a Box-Muller Gaussian transform on top of it.
//
// Every draw is a pure function of (seed, stream, sample, coordinate): no state is carried, so
// results do not depend on how work is split over threads, batches or chunks, and a CUDA kernel
// running the same arithmetic draws the same numbers.
//
// Bitwise reproducibility: the Gaussian transform uses no libm call. Its log, sin and cos are the
// polynomial/rational kernels below, written with IEEE double +, -, *, / and integer bit
// manipulation only, so every platform that rounds to nearest and does not contract a*b+c into
// a fused multiply-add gets the same bits. (GCC in ISO mode -std=c++17 does not contract; clang
// is told not to inside these functions; a CUDA port must be compiled with -fmad=false. Doubles must
// be evaluated in double precision, FLT_EVAL_METHOD == 0, as on x86-64/SSE2, not 32-bit x87.)
// The AVX-512, AVX2 and SSE2 paths, the portable path and any grouping of blocks give identical
// bits (tests/test_rng.py pins them).
//
// Measured accuracy (20M random + edge arguments, against glibc and a long double reference):
// log_unit max relative error 4.9e-16, sin_kernel 1.3e-16, cos_kernel 2.9e-16 on [-pi/4, pi/4];
// each normal is within 5.0e-16 * radius of the long double Box-Muller on the same uniforms.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

// SSE2 (baseline on x86-64) speeds up the Philox rounds; the portable path computes the same bits.
#if !defined(GRADLIME_RNG_SSE2)
#if (defined(__SSE2__) || defined(_M_X64)) && !defined(GRADLIME_RNG_NO_SIMD)
#define GRADLIME_RNG_SSE2 1
#else
#define GRADLIME_RNG_SSE2 0
#endif
#endif
#if GRADLIME_RNG_SSE2
#include <emmintrin.h>
#endif
// Wider paths, chosen at compile time from the target ISA (-march): AVX-512F computes 8 blocks per
// register, AVX2 4, for both the Philox rounds and the Box-Muller transform (explicit intrinsics;
// the kernels' operations in the same order, never fused). All paths give the same bits.
// Define GRADLIME_RNG_NO_AVX512 or GRADLIME_RNG_NO_AVX2 to step down (e.g. to test the others).
#if !defined(GRADLIME_RNG_AVX512)
#if defined(__AVX512F__) && GRADLIME_RNG_SSE2 && !defined(GRADLIME_RNG_NO_AVX512)
#define GRADLIME_RNG_AVX512 1
#else
#define GRADLIME_RNG_AVX512 0
#endif
#endif
#if !defined(GRADLIME_RNG_AVX2)
#if defined(__AVX2__) && GRADLIME_RNG_SSE2 && !GRADLIME_RNG_AVX512 && !defined(GRADLIME_RNG_NO_AVX2)
#define GRADLIME_RNG_AVX2 1
#else
#define GRADLIME_RNG_AVX2 0
#endif
#endif
#if GRADLIME_RNG_AVX512 || GRADLIME_RNG_AVX2
#include <immintrin.h>
#endif
#if GRADLIME_RNG_AVX512 && defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
// GCC 12's AVX-512 intrinsics trip a false -W(maybe-)uninitialized (GCC bug 105593, fixed in 13).
#define GRADLIME_RNG_GCC12_PRAGMA 1
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

// The vector kernel is always inlined into its callers: left to the heuristics, GCC inlines it in
// some callers and not others, and the row-batched path then ran up to 30% slower or faster from one
// build to the next (measured on an AVX-512 EPYC).
#if !defined(GRADLIME_RNG_KERNEL_ATTR)
#if defined(__GNUC__)
#define GRADLIME_RNG_KERNEL_ATTR __attribute__((always_inline))
#else
#define GRADLIME_RNG_KERNEL_ATTR
#endif
#endif
namespace gradlime {

using Counter = std::array<std::uint32_t, 4>;
using Key = std::array<std::uint32_t, 2>;

namespace philox_constants {
constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
}  // namespace philox_constants

// One Philox4x32-10 block: ten rounds of the SP network with a Weyl-sequence key schedule.
inline Counter philox4x32_10(Counter c, Key k) noexcept {
    using namespace philox_constants;
    for (int round = 0; round < 10; ++round) {
        const std::uint64_t p0 = static_cast<std::uint64_t>(kMul0) * c[0];
        const std::uint64_t p1 = static_cast<std::uint64_t>(kMul1) * c[2];
        c = {static_cast<std::uint32_t>(p1 >> 32) ^ c[1] ^ k[0], static_cast<std::uint32_t>(p1),
             static_cast<std::uint32_t>(p0 >> 32) ^ c[3] ^ k[1], static_cast<std::uint32_t>(p0)};
        k[0] += kWeyl0;
        k[1] += kWeyl1;
    }
    return c;
}

inline Key key_from_seed(std::uint64_t seed) noexcept {
    return {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)};
}

namespace detail {

inline double bits_to_double(std::uint64_t b) noexcept {
    double x;
    std::memcpy(&x, &b, sizeof x);
    return x;
}
inline std::uint64_t double_to_bits(double x) noexcept {
    std::uint64_t b;
    std::memcpy(&b, &x, sizeof b);
    return b;
}

// Natural log for u in [2^-53, 1) (normal, positive, finite; no special cases).
// u = 2^k m with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716,
// 2 atanh(s) = 2s + s^3 P(s^2) with P a degree-5 minimax fit (truncation error 1.9e-16 relative).
// Measured max relative error against glibc log over the draws' range: see tests/test_rng.py.
inline double log_unit(double u) noexcept {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
    constexpr std::uint64_t kSqrtHalf = 0x3fe6a09e667f3bcdULL;  // bits of sqrt(1/2)
    constexpr double kLn2Hi = 0x1.62e42fefa3800p-1;  // 43 significant bits: k * kLn2Hi is exact
    constexpr double kLn2Lo = 0x1.ef35793c76730p-45;
    constexpr double L0 = 0x1.5555555553960p-1, L1 = 0x1.999999a294adcp-2,
                     L2 = 0x1.24924176e0572p-2, L3 = 0x1.c72278942bd2ap-3,
                     L4 = 0x1.732c149ff658ap-3, L5 = 0x1.587856aed7aa0p-3;
    std::uint64_t ix = double_to_bits(u) + (0x3ff0000000000000ULL - kSqrtHalf);
    // k + 1023 as an exact double without an int -> double conversion (which SSE2 cannot vectorise).
    const double k = bits_to_double(0x4330000000000000ULL | (ix >> 52)) - (0x1p52 + 1023.0);
    ix = (ix & 0x000fffffffffffffULL) + kSqrtHalf;
    const double f = bits_to_double(ix) - 1.0;  // exact
    const double s = f / (2.0 + f);
    const double t = s * s;
    const double p = L0 + t * (L1 + t * (L2 + t * (L3 + t * (L4 + t * L5))));
    const double logm = 2.0 * s + s * (t * p);
    return k * kLn2Hi + (k * kLn2Lo + logm);
}

// sin and cos of x in [-pi/4, pi/4]: x + x^3 S(x^2) and 1 - x^2/2 + x^4 C(x^2), minimax fits of
// degree 5 and 4 (truncation error 3.6e-18 and 9.2e-17 relative).
inline double sin_kernel(double x) noexcept {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
    constexpr double S0 = -0x1.5555555555548p-3, S1 = 0x1.111111110f7d0p-7,
                     S2 = -0x1.a01a019bfdf04p-13, S3 = 0x1.71de3567d4933p-19,
                     S4 = -0x1.ae5e5a92987bfp-26, S5 = 0x1.5d8fd1fed6450p-33;
    const double y = x * x;
    return x + (x * y) * (S0 + y * (S1 + y * (S2 + y * (S3 + y * (S4 + y * S5)))));
}
inline double cos_kernel(double x) noexcept {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
    constexpr double C0 = 0x1.5555555552ddbp-5, C1 = -0x1.6c16c16721121p-10,
                     C2 = 0x1.a019fa5ffc002p-16, C3 = -0x1.27e00b90e0550p-22,
                     C4 = 0x1.1bbe8e1a940efp-29;
    const double y = x * x;
    return (1.0 - 0.5 * y) + (y * y) * (C0 + y * (C1 + y * (C2 + y * (C3 + y * C4))));
}

// Box-Muller on one Philox block r = (r0, r1, r2, r3), passed as a = r0:r1 and b = r2:r3:
//   radius = sqrt(-2 log u),  u = (2N + 1) 2^-53 with N the top 52 bits of r0:r1, so u lies in
//            [2^-53, 1 - 2^-53] and is computed exactly (never 0, symmetric about 1/2);
//   angle  = 2 pi A 2^-53 with A the top 53 bits of r2:r3; the quadrant comes straight from A's top
//            bits (rounded to nearest), so range reduction is exact integer arithmetic and the
//            reduced angle x = 2 pi (A - q 2^51) 2^-53 lies in [-pi/4, pi/4).
// z0 = radius cos(angle), z1 = radius sin(angle).
inline void box_muller(std::uint64_t a, std::uint64_t b, double& z0, double& z1) noexcept {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
    constexpr double kTwoPiOver2p53 = 6.283185307179586476925286766559 * 0x1p-53;
    const double u = (bits_to_double(0x3ff0000000000000ULL | (a >> 12)) - 1.0) + 0x1p-53;
    const double radius = std::sqrt(-2.0 * log_unit(u));

    const std::uint64_t bq = (b >> 11) + (1ULL << 50);
    const std::uint64_t q = (bq >> 51) & 3u;
    // (bq mod 2^51) - 2^50 in [-2^50, 2^50), as an exact double via the 2^52 exponent trick.
    const double frac =
        bits_to_double(0x4330000000000000ULL | (bq & ((1ULL << 51) - 1))) - (0x1p52 + 0x1p50);
    const double x = frac * kTwoPiOver2p53;
    const double s = sin_kernel(x), c = cos_kernel(x);
    // angle = q pi/2 + x: rotate (c, s) by q quarter turns with a swap and sign flips on the bits.
    const std::uint64_t swap = 0 - (q & 1u);  // all ones when q is odd
    const std::uint64_t sb = double_to_bits(s), cb = double_to_bits(c);
    const std::uint64_t cos_bits = ((cb & ~swap) | (sb & swap)) ^ (((q + 1) & 2u) << 62);
    const std::uint64_t sin_bits = ((sb & ~swap) | (cb & swap)) ^ ((q & 2u) << 62);
    z0 = radius * bits_to_double(cos_bits);
    z1 = radius * bits_to_double(sin_bits);
}

// Philox blocks for the counters (pair[i], sample[i] low, sample[i] high, stream), i < kLanes (pair[i]
// taken mod 2^32), returned as a[i] = r0:r1 and b[i] = r2:r3. Computed in structure-of-arrays form
// so the compiler vectorises the rounds (pmuludq for the 32x32->64 products); the SSE2 path below is
// the same integer arithmetic.
template <long kLanes>
inline void philox_lanes_generic(Key key, const std::uint64_t* pair, const std::uint64_t* sample,
                                 std::uint32_t stream, std::uint64_t* a, std::uint64_t* b) noexcept {
    using namespace philox_constants;
    std::uint32_t x0[kLanes], x1[kLanes], x2[kLanes], x3[kLanes];
    for (long i = 0; i < kLanes; ++i) {
        x0[i] = static_cast<std::uint32_t>(pair[i]);
        x1[i] = static_cast<std::uint32_t>(sample[i]);
        x2[i] = static_cast<std::uint32_t>(sample[i] >> 32);
        x3[i] = stream;
    }
    std::uint32_t key0 = key[0], key1 = key[1];
    for (int round = 0; round < 10; ++round) {
#if defined(__GNUC__)
#pragma GCC unroll 1
#endif
        for (long i = 0; i < kLanes; ++i) {
            const std::uint64_t p0 = static_cast<std::uint64_t>(kMul0) * x0[i];
            const std::uint64_t p1 = static_cast<std::uint64_t>(kMul1) * x2[i];
            const auto y0 = static_cast<std::uint32_t>(p1 >> 32) ^ x1[i] ^ key0;
            const auto y1 = static_cast<std::uint32_t>(p1);
            const auto y2 = static_cast<std::uint32_t>(p0 >> 32) ^ x3[i] ^ key1;
            const auto y3 = static_cast<std::uint32_t>(p0);
            x0[i] = y0;
            x1[i] = y1;
            x2[i] = y2;
            x3[i] = y3;
        }
        key0 += kWeyl0;
        key1 += kWeyl1;
    }
    for (long i = 0; i < kLanes; ++i) {
        a[i] = (static_cast<std::uint64_t>(x0[i]) << 32) | x1[i];
        b[i] = (static_cast<std::uint64_t>(x2[i]) << 32) | x3[i];
    }
}

#if GRADLIME_RNG_SSE2
// The same rounds with SSE2 intrinsics, two blocks per register: each 32-bit word of a block sits
// in the low half of a 64-bit lane, so pmuludq (which reads only those halves) gives the full
// 32x32->64 product without shuffles. The high halves carry junk that is never read.
template <long kLanes>
inline void philox_lanes_sse2(Key key, const std::uint64_t* pair, const std::uint64_t* sample,
                              std::uint32_t stream, std::uint64_t* a, std::uint64_t* b) noexcept {
    static_assert(kLanes % 4 == 0, "SSE2 Philox works on groups of four blocks");
    using namespace philox_constants;
    const __m128i mul0 = _mm_set1_epi64x(kMul0), mul1 = _mm_set1_epi64x(kMul1);
    const __m128i lo_mask = _mm_set1_epi64x(0xffffffffLL);
    for (long g = 0; g < kLanes; g += 4) {
        __m128i x0a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(pair + g));
        __m128i x0b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(pair + g + 2));
        __m128i x1a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(sample + g));
        __m128i x1b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(sample + g + 2));
        __m128i x2a = _mm_srli_epi64(x1a, 32), x2b = _mm_srli_epi64(x1b, 32);
        __m128i x3a = _mm_set1_epi64x(stream), x3b = x3a;
        std::uint32_t key0 = key[0], key1 = key[1];
        for (int round = 0; round < 10; ++round) {
            const __m128i kk0 = _mm_set1_epi64x(key0), kk1 = _mm_set1_epi64x(key1);
            const __m128i p0a = _mm_mul_epu32(x0a, mul0), p0b = _mm_mul_epu32(x0b, mul0);
            const __m128i p1a = _mm_mul_epu32(x2a, mul1), p1b = _mm_mul_epu32(x2b, mul1);
            x0a = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi64(p1a, 32), x1a), kk0);
            x0b = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi64(p1b, 32), x1b), kk0);
            x2a = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi64(p0a, 32), x3a), kk1);
            x2b = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi64(p0b, 32), x3b), kk1);
            x1a = p1a;
            x1b = p1b;
            x3a = p0a;
            x3b = p0b;
            key0 += kWeyl0;
            key1 += kWeyl1;
        }
        auto join = [&](__m128i hi, __m128i lo) {
            return _mm_or_si128(_mm_slli_epi64(hi, 32), _mm_and_si128(lo, lo_mask));
        };
        _mm_storeu_si128(reinterpret_cast<__m128i*>(a + g), join(x0a, x1a));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(a + g + 2), join(x0b, x1b));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(b + g), join(x2a, x3a));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(b + g + 2), join(x2b, x3b));
    }
}
#endif

#if GRADLIME_RNG_AVX512 || GRADLIME_RNG_AVX2
// Vector paths: one Philox block per 64-bit lane, so a block's two 64-bit halves r0:r1 and r2:r3
// meet Box-Muller in the lane they were computed in and nothing is shuffled until the final store.
// Philox keeps each 32-bit word in the low half of a lane (as in the SSE2 path: vpmuludq reads only
// those, the high halves carry junk that is never read). The transform repeats box_muller's
// operations one for one, each an IEEE-rounded vector op (add, sub, mul, div, sqrt; no FMA), in
// the same order, so every lane gets box_muller's bits.
#if GRADLIME_RNG_AVX512
struct Avx512 {
    using I = __m512i;
    using D = __m512d;
    static constexpr long kBlocks = 8;
    static constexpr int kVecs = 3;  // registers per batch (measured on an AVX-512 EPYC: 3 > 4 > 2)
    static I set1(std::uint64_t x) noexcept { return _mm512_set1_epi64(static_cast<long long>(x)); }
    static I iota() noexcept { return _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0); }
    static I loadu(const std::uint64_t* p) noexcept { return _mm512_loadu_si512(p); }
    // k += r, s += q; then where k >= p: k -= p, s += 1 (the lanes' next (pair, sample) counters)
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
    static I xor_and(I x, I y, I z) noexcept {  // x ^ (y & z)
        return _mm512_ternarylogic_epi64(x, y, z, 0x78);
    }
    // swap c and s in the lanes where bit 51 of bq (the low bit of the quadrant) is set
    static void swap_where_odd(I bq, D& c, D& s) noexcept {
        const __mmask8 odd = _mm512_test_epi64_mask(bq, _mm512_set1_epi64(1LL << 51));
        const D c2 = _mm512_mask_blend_pd(odd, c, s);
        s = _mm512_mask_blend_pd(odd, s, c);
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

#if GRADLIME_RNG_AVX2
struct Avx2 {
    using I = __m256i;
    using D = __m256d;
    static constexpr long kBlocks = 4;
    static constexpr int kVecs = 4;  // measured: 4 > 2
    static I set1(std::uint64_t x) noexcept {
        return _mm256_set1_epi64x(static_cast<long long>(x));
    }
    static I iota() noexcept { return _mm256_set_epi64x(3, 2, 1, 0); }
    static I loadu(const std::uint64_t* p) noexcept {
        return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    }
    // k += r, s += q; then where k >= p: k -= p, s += 1 (k, r < p < 2^62: signed compares suffice)
    static void advance(I& k, I& s, I r, I q, I p) noexcept {
        k = _mm256_add_epi64(k, r);
        const I below = _mm256_cmpgt_epi64(p, k);  // all ones where k < p
        k = _mm256_sub_epi64(k, _mm256_andnot_si256(below, p));
        s = _mm256_add_epi64(_mm256_add_epi64(s, q), _mm256_add_epi64(below, _mm256_set1_epi64x(1)));
    }
    static I add64(I x, I y) noexcept { return _mm256_add_epi64(x, y); }
    static I mulu32(I x, I y) noexcept { return _mm256_mul_epu32(x, y); }
    static I xor3(I x, I y, I z) noexcept {
        return _mm256_xor_si256(_mm256_xor_si256(x, y), z);
    }
    static I and_(I x, I y) noexcept { return _mm256_and_si256(x, y); }
    static I or_(I x, I y) noexcept { return _mm256_or_si256(x, y); }
    static I xor_(I x, I y) noexcept { return _mm256_xor_si256(x, y); }
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
    static I xor_and(I x, I y, I z) noexcept {  // x ^ (y & z)
        return _mm256_xor_si256(x, _mm256_and_si256(y, z));
    }
    static void swap_where_odd(I bq, D& c, D& s) noexcept {
        const D odd = _mm256_castsi256_pd(_mm256_slli_epi64(bq, 12));  // blendv reads the sign bit
        const D c2 = _mm256_blendv_pd(c, s, odd);
        s = _mm256_blendv_pd(s, c, odd);
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

// What is fixed along a row, broadcast once: the round keys and the counter words 1 .. 3.
template <class V>
struct RowConstants {
    typename V::I key0[10], key1[10], s_lo, s_hi, stream;
    RowConstants(Key key, std::uint32_t lo, std::uint32_t hi, std::uint32_t st) noexcept {
        using namespace philox_constants;
        for (int round = 0; round < 10; ++round) {
            key0[round] = V::set1(key[0]);
            key1[round] = V::set1(key[1]);
            key[0] += kWeyl0;
            key[1] += kWeyl1;
        }
        s_lo = V::set1(lo);
        s_hi = V::set1(hi);
        stream = V::set1(st);
    }
};

// The ten Philox4x32 rounds on kVecs * V::kBlocks blocks, lane i of register v with the counter
// (c0[v], c1[v], c2[v], rc.stream) (each word in the low 32 bits of its lane; the high halves are
// never read); the block's output words in the low halves of x0..x3.
template <class V, int kVecs>
GRADLIME_RNG_KERNEL_ATTR inline void philox_rounds_vec(const RowConstants<V>& rc, const typename V::I* c0,
                                                       const typename V::I* c1, const typename V::I* c2,
                                                       typename V::I* x0, typename V::I* x1, typename V::I* x2,
                                                       typename V::I* x3) noexcept {
    using I = typename V::I;
    using namespace philox_constants;
    const I mul0 = V::set1(kMul0), mul1 = V::set1(kMul1);
    for (int v = 0; v < kVecs; ++v) {
        x0[v] = c0[v];
        x1[v] = c1[v];
        x2[v] = c2[v];
        x3[v] = rc.stream;
    }
    for (int round = 0; round < 10; ++round) {
        for (int v = 0; v < kVecs; ++v) {
            const I p0 = V::mulu32(x0[v], mul0);
            const I p1 = V::mulu32(x2[v], mul1);
            x0[v] = V::xor3(V::template srli<32>(p1), x1[v], rc.key0[round]);
            x2[v] = V::xor3(V::template srli<32>(p0), x3[v], rc.key1[round]);
            x1[v] = p1;
            x3[v] = p0;
        }
    }
}

// kVecs * V::kBlocks Philox blocks, lane i of register v with the counter (c0[v], c1[v], c2[v],
// rc.stream) (each word in the low 32 bits of its lane; the high halves are never read), then
// Box-Muller: store(v, z0, z1) receives register v's two normals per lane (lane i of z0 and z1
// are the block's coordinates 2k and 2k + 1).
template <class V, int kVecs, class Store>
GRADLIME_RNG_KERNEL_ATTR inline void gaussian_vecs_store(const RowConstants<V>& rc, const typename V::I* c0,
                             const typename V::I* c1, const typename V::I* c2,
                             Store&& store) noexcept {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
    using I = typename V::I;
    using D = typename V::D;
    I x0[kVecs], x1[kVecs], x2[kVecs], x3[kVecs];
    philox_rounds_vec<V, kVecs>(rc, c0, c1, c2, x0, x1, x2, x3);

    constexpr double kLn2Hi = 0x1.62e42fefa3800p-1, kLn2Lo = 0x1.ef35793c76730p-45;
    constexpr double L0 = 0x1.5555555553960p-1, L1 = 0x1.999999a294adcp-2,
                     L2 = 0x1.24924176e0572p-2, L3 = 0x1.c72278942bd2ap-3,
                     L4 = 0x1.732c149ff658ap-3, L5 = 0x1.587856aed7aa0p-3;
    constexpr double S0 = -0x1.5555555555548p-3, S1 = 0x1.111111110f7d0p-7,
                     S2 = -0x1.a01a019bfdf04p-13, S3 = 0x1.71de3567d4933p-19,
                     S4 = -0x1.ae5e5a92987bfp-26, S5 = 0x1.5d8fd1fed6450p-33;
    constexpr double C0 = 0x1.5555555552ddbp-5, C1 = -0x1.6c16c16721121p-10,
                     C2 = 0x1.a019fa5ffc002p-16, C3 = -0x1.27e00b90e0550p-22,
                     C4 = 0x1.1bbe8e1a940efp-29;
    constexpr double kTwoPiOver2p53 = 6.283185307179586476925286766559 * 0x1p-53;
    constexpr std::uint64_t kSqrtHalf = 0x3fe6a09e667f3bcdULL;
    const I lo32 = V::set1(0xffffffffULL);
    const I exp_one = V::set1(0x3ff0000000000000ULL), exp_2p52 = V::set1(0x4330000000000000ULL);
    for (int v = 0; v < kVecs; ++v) {
        // a = r0:r1, b = r2:r3 (see box_muller)
        const I a = V::or_(V::template slli<32>(x0[v]), V::and_(x1[v], lo32));
        const I b = V::or_(V::template slli<32>(x2[v]), V::and_(x3[v], lo32));

        // radius = sqrt(-2 log u), log_unit inlined
        const D m = V::as_d(V::or_(exp_one, V::template srli<12>(a)));
        const D u = V::add(V::sub(m, V::set1d(1.0)), V::set1d(0x1p-53));
        I ix = V::add64(V::as_i(u), V::set1(0x3ff0000000000000ULL - kSqrtHalf));
        const D k = V::sub(V::as_d(V::or_(exp_2p52, V::template srli<52>(ix))),
                           V::set1d(0x1p52 + 1023.0));
        ix = V::add64(V::and_(ix, V::set1(0x000fffffffffffffULL)), V::set1(kSqrtHalf));
        const D f = V::sub(V::as_d(ix), V::set1d(1.0));
        const D sl = V::div(f, V::add(V::set1d(2.0), f));
        const D t = V::mul(sl, sl);
        D p = V::add(V::set1d(L4), V::mul(t, V::set1d(L5)));
        p = V::add(V::set1d(L3), V::mul(t, p));
        p = V::add(V::set1d(L2), V::mul(t, p));
        p = V::add(V::set1d(L1), V::mul(t, p));
        p = V::add(V::set1d(L0), V::mul(t, p));
        const D logm = V::add(V::mul(V::set1d(2.0), sl), V::mul(sl, V::mul(t, p)));
        const D logu = V::add(V::mul(k, V::set1d(kLn2Hi)),
                              V::add(V::mul(k, V::set1d(kLn2Lo)), logm));
        const D radius = V::sqrt(V::mul(V::set1d(-2.0), logu));

        // angle: quadrant q and reduced x in [-pi/4, pi/4)
        const I bq = V::add64(V::template srli<11>(b), V::set1(1ULL << 50));  // q = bits 51, 52
        const D frac = V::sub(V::as_d(V::or_(exp_2p52, V::and_(bq, V::set1((1ULL << 51) - 1)))),
                              V::set1d(0x1p52 + 0x1p50));
        const D x = V::mul(frac, V::set1d(kTwoPiOver2p53));
        const D y = V::mul(x, x);
        D ps = V::add(V::set1d(S4), V::mul(y, V::set1d(S5)));
        ps = V::add(V::set1d(S3), V::mul(y, ps));
        ps = V::add(V::set1d(S2), V::mul(y, ps));
        ps = V::add(V::set1d(S1), V::mul(y, ps));
        ps = V::add(V::set1d(S0), V::mul(y, ps));
        D s = V::add(x, V::mul(V::mul(x, y), ps));
        D pc = V::add(V::set1d(C3), V::mul(y, V::set1d(C4)));
        pc = V::add(V::set1d(C2), V::mul(y, pc));
        pc = V::add(V::set1d(C1), V::mul(y, pc));
        pc = V::add(V::set1d(C0), V::mul(y, pc));
        D c = V::add(V::sub(V::set1d(1.0), V::mul(V::set1d(0.5), y)), V::mul(V::mul(y, y), pc));

        // rotate by q quarter turns: swap where q is odd, then flip the signs by bit 1 of q + 1
        // (cos) and of q (sin), i.e. bit 52 of bq + 2^51 and of bq, shifted to the sign bit
        V::swap_where_odd(bq, c, s);
        const I sign = V::set1(1ULL << 63);
        const I bq1 = V::add64(bq, V::set1(1ULL << 51));
        c = V::as_d(V::xor_and(V::as_i(c), V::template slli<11>(bq1), sign));
        s = V::as_d(V::xor_and(V::as_i(s), V::template slli<11>(bq), sign));
        store(v, V::mul(radius, c), V::mul(radius, s));
    }
}

// gaussian_vecs_store with the normals interleaved: lane i of register v gives
// out[2 (v V::kBlocks + i)] and the next.
template <class V, int kVecs>
GRADLIME_RNG_KERNEL_ATTR inline void gaussian_vecs_at(const RowConstants<V>& rc, const typename V::I* c0,
                             const typename V::I* c1, const typename V::I* c2,
                             double* out) noexcept {
    gaussian_vecs_store<V, kVecs>(rc, c0, c1, c2, [out](int v, typename V::D z0, typename V::D z1) {
        V::store_pairs(out + 2 * v * V::kBlocks, z0, z1);
    });
}

// --- feature-major (gaussian_columns) ------------------------------------------------------------
// One lane per row: the lanes of a register hold the same coordinate pair of V::kBlocks consecutive
// samples, so a block's two normals land in two columns with plain stores and no shuffle. Each
// lane runs gaussian_row's arithmetic on its own counter, so the bits are gaussian_rows'.
template <class V, int kVecs>
inline void gaussian_columns_regs(const RowConstants<V>& rc, std::uint64_t sample0, long pair, long d,
                                  double* out, long ld) noexcept {
    using I = typename V::I;
    I c0[kVecs], c1[kVecs], c2[kVecs];
    for (int v = 0; v < kVecs; ++v) {
        c0[v] = V::set1(static_cast<std::uint64_t>(pair));
        c1[v] = V::add64(V::set1(sample0 + static_cast<std::uint64_t>(v * V::kBlocks)), V::iota());
        c2[v] = V::template srli<32>(c1[v]);
    }
    const bool second = 2 * pair + 1 < d;
    double* col0 = out + 2 * pair * ld;
    gaussian_vecs_store<V, kVecs>(rc, c0, c1, c2, [&](int v, typename V::D z0, typename V::D z1) {
        V::storeu(col0 + v * V::kBlocks, z0);
        if (second) V::storeu(col0 + ld + v * V::kBlocks, z1);
    });
}

// gaussian_columns_regs<V, n> for a run-time n = regs in 1 .. kVecs.
template <class V, int kVecs>
inline void gaussian_columns_tail(long regs, const RowConstants<V>& rc, std::uint64_t sample0, long pair,
                                  long d, double* out, long ld) noexcept {
    if constexpr (kVecs > 1) {
        if (regs < kVecs) return gaussian_columns_tail<V, kVecs - 1>(regs, rc, sample0, pair, d, out, ld);
    }
    gaussian_columns_regs<V, kVecs>(rc, sample0, pair, d, out, ld);
}

// Rows [first, first + m) in whole registers (m a multiple of V::kBlocks) into column-major out.
template <class V>
inline void gaussian_columns_vec(Key key, std::uint32_t stream, std::uint64_t first, long m, long d,
                                 double* out, long ld) noexcept {
    constexpr long kRows = V::kVecs * V::kBlocks;
    const RowConstants<V> rc(key, 0, 0, stream);
    const long P = (d + 1) / 2;
    for (long t = 0; t < m; t += kRows) {
        const long regs = std::min(kRows, m - t) / V::kBlocks;
        const std::uint64_t sample0 = first + static_cast<std::uint64_t>(t);
        for (long k = 0; k < P; ++k) gaussian_columns_tail<V, V::kVecs>(regs, rc, sample0, k, d, out + t, ld);
    }
}

// kVecs * V::kBlocks Philox blocks for the counters (k0 + i, s_lo, s_hi, stream), then Box-Muller,
// normals to out[0 .. 2 kVecs V::kBlocks).
template <class V, int kVecs>
inline void gaussian_vecs(const RowConstants<V>& rc, std::uint32_t k0, double* out) noexcept {
    using I = typename V::I;
    I c0[kVecs], c1[kVecs], c2[kVecs];
    const I base = V::add64(V::set1(k0), V::iota());  // low 32 bits: k0 + i mod 2^32
    const I step = V::set1(static_cast<std::uint64_t>(V::kBlocks));
    for (int v = 0; v < kVecs; ++v) {
        c0[v] = v == 0 ? base : V::add64(c0[v - 1], step);
        c1[v] = rc.s_lo;
        c2[v] = rc.s_hi;
    }
    gaussian_vecs_at<V, kVecs>(rc, c0, c1, c2, out);
}

// gaussian_vecs<V, n> for a run-time n = regs in 1 .. kVecs.
template <class V, int kVecs>
inline void gaussian_regs(long regs, const RowConstants<V>& rc, std::uint32_t k0,
                          double* out) noexcept {
    if constexpr (kVecs > 1) {
        if (regs < kVecs) return gaussian_regs<V, kVecs - 1>(regs, rc, k0, out);
    }
    gaussian_vecs<V, kVecs>(rc, k0, out);
}

// gaussian_row on the vector paths: batches of kVecs registers, then one batch of as many registers
// as the rest needs, through a buffer when d does not fill it.
template <class V, int kVecs = V::kVecs>
inline void gaussian_row_vec(Key key, std::uint32_t s_lo, std::uint32_t s_hi, std::uint32_t stream,
                             long d, double* z) noexcept {
    constexpr long kReg = 2 * V::kBlocks, kWide = kVecs * kReg;  // normals per register, per batch
    const RowConstants<V> rc(key, s_lo, s_hi, stream);
    long j = 0;  // next coordinate; always even
    for (; j + kWide <= d; j += kWide)
        gaussian_vecs<V, kVecs>(rc, static_cast<std::uint32_t>(j / 2), z + j);
    if (j == d) return;
    const long regs = (d - j + kReg - 1) / kReg;  // 1 .. kVecs
    const auto k0 = static_cast<std::uint32_t>(j / 2);
    if (j + regs * kReg == d) return gaussian_regs<V, kVecs>(regs, rc, k0, z + j);  // fills z
    double buf[kWide];
    gaussian_regs<V, kVecs>(regs, rc, k0, buf);
    for (long i = 0; j + i < d; ++i) z[j + i] = buf[i];
}
#endif

#if GRADLIME_RNG_AVX512 || GRADLIME_RNG_AVX2
// philox_lanes_generic's blocks with V::kBlocks per register (the same rounds as the Gaussian
// kernels').
template <class V, long kLanes>
inline void philox_lanes_vec(Key key, const std::uint64_t* pair, const std::uint64_t* sample,
                             std::uint32_t stream, std::uint64_t* a, std::uint64_t* b) noexcept {
    using I = typename V::I;
    constexpr int kRegs = static_cast<int>(kLanes / V::kBlocks);
    static_assert(kRegs * V::kBlocks == kLanes, "whole registers");
    const RowConstants<V> rc(key, 0, 0, stream);
    const I lo32 = V::set1(0xffffffffULL);
    I c0[kRegs], c1[kRegs], c2[kRegs], x0[kRegs], x1[kRegs], x2[kRegs], x3[kRegs];
    for (int v = 0; v < kRegs; ++v) {
        c0[v] = V::loadu(pair + v * V::kBlocks);
        c1[v] = V::loadu(sample + v * V::kBlocks);
        c2[v] = V::template srli<32>(c1[v]);
    }
    philox_rounds_vec<V, kRegs>(rc, c0, c1, c2, x0, x1, x2, x3);
    for (int v = 0; v < kRegs; ++v) {
        V::storeu_i(a + v * V::kBlocks, V::or_(V::template slli<32>(x0[v]), V::and_(x1[v], lo32)));
        V::storeu_i(b + v * V::kBlocks, V::or_(V::template slli<32>(x2[v]), V::and_(x3[v], lo32)));
    }
}
#endif

template <long kLanes>
inline void philox_lanes_at(Key key, const std::uint64_t* pair, const std::uint64_t* sample,
                            std::uint32_t stream, std::uint64_t* a, std::uint64_t* b) noexcept {
#if GRADLIME_RNG_AVX512
    if constexpr (kLanes % 8 == 0) return philox_lanes_vec<Avx512, kLanes>(key, pair, sample, stream, a, b);
#elif GRADLIME_RNG_AVX2
    if constexpr (kLanes % 4 == 0) return philox_lanes_vec<Avx2, kLanes>(key, pair, sample, stream, a, b);
#endif
#if GRADLIME_RNG_SSE2
    philox_lanes_sse2<kLanes>(key, pair, sample, stream, a, b);
#else
    philox_lanes_generic<kLanes>(key, pair, sample, stream, a, b);
#endif
}

// The transform runs over kLanes blocks in structure-of-arrays form, so the compiler vectorises it
// (two doubles per SSE2 register). Every lane runs the same IEEE operations, so neither the grouping
// nor the vector width changes any bit.
//
// Normals for the counters (pair[i], sample[i], stream): out[2i], out[2i+1] from lane i.
template <long kLanes>
inline void gaussian_lanes_at(Key key, const std::uint64_t* pair, const std::uint64_t* sample,
                              std::uint32_t stream, double* out) noexcept {
    std::uint64_t a[kLanes], b[kLanes];
    philox_lanes_at<kLanes>(key, pair, sample, stream, a, b);
    double c[kLanes], s[kLanes];
    for (long i = 0; i < kLanes; ++i) box_muller(a[i], b[i], c[i], s[i]);
    for (long i = 0; i < kLanes; ++i) {
        out[2 * i] = c[i];
        out[2 * i + 1] = s[i];
    }
}

// Normals for the coordinate pairs k0 .. k0 + kLanes - 1 of one sample: out[2i], out[2i+1] from
// pair k0 + i.
template <long kLanes>
inline void gaussian_lanes(Key key, std::uint32_t k0, std::uint32_t s_lo, std::uint32_t s_hi,
                           std::uint32_t stream, double* out) noexcept {
    std::uint64_t pair[kLanes], sample[kLanes];
    const std::uint64_t smp = (static_cast<std::uint64_t>(s_hi) << 32) | s_lo;
    for (long i = 0; i < kLanes; ++i) {
        pair[i] = k0 + static_cast<std::uint32_t>(i);
        sample[i] = smp;
    }
    gaussian_lanes_at<kLanes>(key, pair, sample, stream, out);
}

// --- several rows at once (gaussian_rows) ---------------------------------------------------------
// Rows of a short d are only ceil(d/2) blocks, so the row-by-row path leaves most lanes of its last
// register idle. Here the blocks of all rows are laid end to end, block g being the pair g mod P of
// sample first + g / P (P = ceil(d/2) blocks per row), and cut into batches of kLanes blocks; each
// lane carries its own (pair, sample) counter. A batch's normals form rows of 2P values, of which
// the first d are kept. Each lane runs gaussian_row's arithmetic on the same counter, so the bits
// are the same.
//
// The lane counters of the first batch, stepped by kLanes blocks from one batch to the next:
// pair += r, sample += q with kLanes = q P + r, then a pair >= P wraps into the next sample.
#if !defined(GRADLIME_RNG_ROWS_MAX_PAIRS)
#define GRADLIME_RNG_ROWS_MAX_PAIRS 63
#endif
constexpr long kRowsBatchedMaxPairs = GRADLIME_RNG_ROWS_MAX_PAIRS;  // longer rows go row by row

struct RowsStart {
    std::uint64_t q, r;
    RowsStart(long kLanes, long P) noexcept
        : q(static_cast<std::uint64_t>(kLanes / P)), r(static_cast<std::uint64_t>(kLanes % P)) {}
    static void lanes(std::uint64_t first, long P, long kLanes, std::uint64_t* pair,
                      std::uint64_t* sample) noexcept {
        std::uint64_t k = 0, t = first;
        for (long i = 0; i < kLanes; ++i) {
            pair[i] = k;
            sample[i] = t;
            if (static_cast<long>(++k) == P) {
                k = 0;
                ++t;
            }
        }
    }
};

// dst[0 .. n) = src[0 .. n) for a short n (a piece of a row); nothing for n <= 0.
inline void copy_short(const double* src, long n, double* dst) noexcept {
#if GRADLIME_RNG_AVX512
    for (; n >= 8; n -= 8, src += 8, dst += 8) _mm512_storeu_pd(dst, _mm512_loadu_pd(src));
    if (n > 0) {
        const auto mask = static_cast<__mmask8>((1u << n) - 1);
        _mm512_mask_storeu_pd(dst, mask, _mm512_maskz_loadu_pd(mask, src));
    }
#else
    for (long j = 0; j < n; ++j) dst[j] = src[j];
#endif
}

// Lays the batches of gen out into rows: gen.next(out) writes the 2 kLanes normals of the next
// batch, gen.last(n, out) the first 2n of the last (n < kLanes blocks).
template <class Gen>
inline void gaussian_rows_batched(Gen& gen, long m, long d, double* out, long ld) noexcept {
    constexpr long kLanes = Gen::kLanes;
    const long P = (d + 1) / 2, width = 2 * P;  // blocks and normals per row
    const long total = m * P;                   // blocks
    // even d, rows packed: the batches' normals are the output itself
    const bool direct = width == d && ld == d;
    double buf[2 * kLanes];
    long t = 0, c = 0;  // row and column of the next normal to place
    const auto place = [&](long n) noexcept {  // buf[0 .. n) from (t, c) on
        for (long i = 0; i < n;) {
            const long len = width - c < n - i ? width - c : n - i;
            const long end = c + len < d ? c + len : d;
            copy_short(buf + i, end - c, out + t * ld + c);
            i += len;
            c += len;
            if (c == width) {
                c = 0;
                ++t;
            }
        }
    };
    long g = 0;
    for (; g + kLanes <= total; g += kLanes) {
        gen.next(direct ? out + 2 * g : buf);
        if (!direct) place(2 * kLanes);
    }
    if (g < total) {
        if (direct) {
            t = 2 * g / width;
            c = 2 * g % width;
        }
        gen.last(total - g, buf);
        place(2 * (total - g));
    }
}

#if GRADLIME_RNG_AVX512 || GRADLIME_RNG_AVX2
template <class V, int kVecs = V::kVecs>
struct RowsGenVec {
    using I = typename V::I;
    static constexpr long kLanes = kVecs * V::kBlocks;
    RowConstants<V> rc;
    I pair[kVecs], sample[kVecs], r, q, p;
    RowsGenVec(Key key, std::uint32_t stream, std::uint64_t first, long P) noexcept
        : rc(key, 0, 0, stream) {
        std::uint64_t k0[kLanes], s0[kLanes];
        RowsStart::lanes(first, P, kLanes, k0, s0);
        for (int v = 0; v < kVecs; ++v) {
            pair[v] = V::loadu(k0 + v * V::kBlocks);
            sample[v] = V::loadu(s0 + v * V::kBlocks);
        }
        const RowsStart step(kLanes, P);
        r = V::set1(step.r);
        q = V::set1(step.q);
        p = V::set1(static_cast<std::uint64_t>(P));
    }
    template <int n>
    void run(double* out) const noexcept {
        I hi[n];
        for (int v = 0; v < n; ++v) hi[v] = V::template srli<32>(sample[v]);
        gaussian_vecs_at<V, n>(rc, pair, sample, hi, out);
    }
    void next(double* out) noexcept {
        run<kVecs>(out);
        for (int v = 0; v < kVecs; ++v) V::advance(pair[v], sample[v], r, q, p);
    }
    template <int n = kVecs>
    void last_regs(long regs, double* out) const noexcept {
        if constexpr (n > 1) {
            if (regs < n) return last_regs<n - 1>(regs, out);
        }
        run<n>(out);
    }
    void last(long blocks, double* out) const noexcept {
        last_regs((blocks + V::kBlocks - 1) / V::kBlocks, out);
    }
};
#endif

struct RowsGenLanes {
    static constexpr long kLanes = 8, kNarrow = 4;
    Key key;
    std::uint32_t stream;
    std::uint64_t pair[kLanes], sample[kLanes], r, q, p;
    RowsGenLanes(Key key_, std::uint32_t stream_, std::uint64_t first, long P) noexcept
        : key(key_), stream(stream_) {
        RowsStart::lanes(first, P, kLanes, pair, sample);
        const RowsStart step(kLanes, P);
        r = step.r;
        q = step.q;
        p = static_cast<std::uint64_t>(P);
    }
    void next(double* out) noexcept {
        gaussian_lanes_at<kLanes>(key, pair, sample, stream, out);
        for (long i = 0; i < kLanes; ++i) {
            pair[i] += r;
            sample[i] += q;
            const std::uint64_t wrap = pair[i] >= p ? 1 : 0;
            pair[i] -= wrap * p;
            sample[i] += wrap;
        }
    }
    void last(long blocks, double* out) const noexcept {
        if (blocks <= kNarrow) return gaussian_lanes_at<kNarrow>(key, pair, sample, stream, out);
        gaussian_lanes_at<kLanes>(key, pair, sample, stream, out);
    }
};

}  // namespace detail

// Standard normals z[0..d) for one perturbation row.
//
// The Philox counter is (coordinate pair, sample low, sample high, stream), the key is the seed.
// Each block gives, through Box-Muller (detail::box_muller), the coordinates 2k and 2k+1. The first
// coordinates of a row therefore do not depend on d.
inline void gaussian_row(std::uint64_t seed, std::uint32_t stream, std::uint64_t sample, long d,
                         double* z) noexcept {
    const Key key = key_from_seed(seed);
    const auto s_lo = static_cast<std::uint32_t>(sample);
    const auto s_hi = static_cast<std::uint32_t>(sample >> 32);
#if GRADLIME_RNG_AVX512
    detail::gaussian_row_vec<detail::Avx512>(key, s_lo, s_hi, stream, d, z);
#elif GRADLIME_RNG_AVX2
    detail::gaussian_row_vec<detail::Avx2>(key, s_lo, s_hi, stream, d, z);
#else
    constexpr long kWide = 8, kNarrow = 4;  // blocks per batch: bulk, then the tail
    long j = 0;                              // next coordinate; always even
    for (; j + 2 * kWide <= d; j += 2 * kWide)
        detail::gaussian_lanes<kWide>(key, static_cast<std::uint32_t>(j / 2), s_lo, s_hi, stream,
                                      z + j);
    for (; j + 2 * kNarrow <= d; j += 2 * kNarrow)
        detail::gaussian_lanes<kNarrow>(key, static_cast<std::uint32_t>(j / 2), s_lo, s_hi, stream,
                                        z + j);
    if (j < d) {
        double tail[2 * kNarrow];
        detail::gaussian_lanes<kNarrow>(key, static_cast<std::uint32_t>(j / 2), s_lo, s_hi, stream,
                                        tail);
        for (long i = 0; j + i < d; ++i) z[j + i] = tail[i];
    }
#endif
}

// Rows [first, first + m) of one stream: row t goes to out + t * ld (ld >= d). Bit-identical to
// calling gaussian_row for each row (sample first + t, mod 2^64).
//
// For short rows the blocks of consecutive rows share the vector registers (see
// detail::gaussian_rows_batched); long rows go row by row, where the idle lanes of a row's last
// register are few.
inline void gaussian_rows(std::uint64_t seed, std::uint32_t stream, std::uint64_t first, long m, long d,
                          double* out, long ld) noexcept {
    if (m <= 0 || d <= 0) return;
    const long P = (d + 1) / 2;
    const Key key = key_from_seed(seed);
#if GRADLIME_RNG_AVX512
    using Gen = detail::RowsGenVec<detail::Avx512>;
#elif GRADLIME_RNG_AVX2
    using Gen = detail::RowsGenVec<detail::Avx2>;
#else
    using Gen = detail::RowsGenLanes;
#endif
    if (m == 1 || P > detail::kRowsBatchedMaxPairs) {
        for (long t = 0; t < m; ++t)
            gaussian_row(seed, stream, first + static_cast<std::uint64_t>(t), d, out + t * ld);
        return;
    }
    Gen gen(key, stream, first, P);
    detail::gaussian_rows_batched(gen, m, d, out, ld);
}

// gaussian_rows laid out by column: coordinate j of row t goes to out[j * ld + t] (ld >= m), the
// layout of a network block. The same bits as gaussian_rows (the vector paths give every lane its
// own row; the others draw rows and transpose).
inline void gaussian_columns(std::uint64_t seed, std::uint32_t stream, std::uint64_t first, long m, long d,
                             double* out, long ld) {
    if (m <= 0 || d <= 0) return;
    long t = 0;
#if GRADLIME_RNG_AVX512 || GRADLIME_RNG_AVX2
#if GRADLIME_RNG_AVX512
    using V = detail::Avx512;
#else
    using V = detail::Avx2;
#endif
    t = m - m % V::kBlocks;
    detail::gaussian_columns_vec<V>(key_from_seed(seed), stream, first, t, d, out, ld);
#endif
    if (t == m) return;
    std::vector<double> rows(static_cast<size_t>((m - t) * d));
    gaussian_rows(seed, stream, first + static_cast<std::uint64_t>(t), m - t, d, rows.data(), d);
    for (long i = 0; t + i < m; ++i)
        for (long j = 0; j < d; ++j) out[j * ld + t + i] = rows[static_cast<size_t>(i * d + j)];
}

// Uniform numbers in the open interval (0, 1) for rows [first, first + m) of one stream, from
// the same counters as gaussian_rows: block k of a row gives coordinates 2k and 2k+1, 53 bits
// each. Scalar Philox; the non-Gaussian kernels (uniform, Laplace) are drawn from these.
inline void uniform_rows(std::uint64_t seed, std::uint32_t stream, std::uint64_t first, long m, long d,
                         double* out, long ld) noexcept {
    const Key key = key_from_seed(seed);
    for (long t = 0; t < m; ++t) {
        const std::uint64_t sample = first + static_cast<std::uint64_t>(t);
        double* row = out + t * ld;
        for (long k = 0; 2 * k < d; ++k) {
            const Counter c = philox4x32_10({static_cast<std::uint32_t>(k), static_cast<std::uint32_t>(sample),
                                             static_cast<std::uint32_t>(sample >> 32), stream},
                                            key);
            const std::uint64_t a = ((static_cast<std::uint64_t>(c[0]) << 32) | c[1]) >> 11;
            const std::uint64_t b = ((static_cast<std::uint64_t>(c[2]) << 32) | c[3]) >> 11;
            row[2 * k] = (static_cast<double>(a) + 0.5) * 0x1p-53;
            if (2 * k + 1 < d) row[2 * k + 1] = (static_cast<double>(b) + 0.5) * 0x1p-53;
        }
    }
}

}  // namespace gradlime

#if defined(GRADLIME_RNG_GCC12_PRAGMA)
#pragma GCC diagnostic pop
#undef GRADLIME_RNG_GCC12_PRAGMA
#endif
