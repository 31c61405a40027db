// Standard normals from Philox blocks: Box-Muller, written once as a template over the register
// types of simd/registers.hpp (Scalar, Avx2, Avx512), so the scalar, SSE2 (compiler-vectorised),
// AVX2 and AVX-512 paths run one set of coefficients through the same IEEE operations in the same
// order and every lane gets the same bits.
//
// Bitwise reproducibility: the transform uses no libm call. Its log, sin and cos are the
// polynomial/rational kernels below, written with IEEE double +, -, *, /, sqrt and integer bit
// manipulation only, so every platform that rounds to nearest and does not contract a*b+c into a
// fused multiply-add gets the same bits. (GCC in ISO mode -std=c++17 does not contract; clang is
// told not to inside these functions, GRADLIME_NO_FP_CONTRACT; a CUDA port must be compiled with
// -fmad=false. Doubles must be evaluated in double precision, FLT_EVAL_METHOD == 0, as on
// x86-64/SSE2, not 32-bit x87.)
// tests/test_rng.py and tests/test_rng_kat.py pin the bits of every path.
//
// Measured accuracy (20M random + edge arguments, against glibc and a long double reference):
// log_unit max relative error 4.9e-16, sin kernel 1.3e-16, cos kernel 2.9e-16 on [-pi/4, pi/4];
// each normal is within 5.0e-16 * radius of the long double Box-Muller on the same uniforms.
#pragma once

#include <cstdint>

#include "gradlime/hd.hpp"
#include "gradlime/rng/philox.hpp"
#include "gradlime/simd/isa.hpp"
#include "gradlime/simd/registers.hpp"

GRADLIME_SIMD_WARNINGS_OFF

namespace gradlime::detail {

namespace normal_constants {
// log: u = 2^k m with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(s), s = (m - 1) / (m + 1),
// |s| <= 0.1716, 2 atanh(s) = 2s + s^3 P(s^2) with P a degree-5 minimax fit (truncation error
// 1.9e-16 relative).
constexpr std::uint64_t kSqrtHalf = 0x3fe6a09e667f3bcdULL;  // bits of sqrt(1/2)
constexpr double kLn2Hi = 0x1.62e42fefa3800p-1;  // 43 significant bits: k * kLn2Hi is exact
constexpr double kLn2Lo = 0x1.ef35793c76730p-45;
constexpr double L0 = 0x1.5555555553960p-1, L1 = 0x1.999999a294adcp-2, L2 = 0x1.24924176e0572p-2,
                 L3 = 0x1.c72278942bd2ap-3, L4 = 0x1.732c149ff658ap-3, L5 = 0x1.587856aed7aa0p-3;
// sin and cos of x in [-pi/4, pi/4]: x + x^3 S(x^2) and 1 - x^2/2 + x^4 C(x^2), minimax fits of
// degree 5 and 4 (truncation error 3.6e-18 and 9.2e-17 relative).
constexpr double S0 = -0x1.5555555555548p-3, S1 = 0x1.111111110f7d0p-7, S2 = -0x1.a01a019bfdf04p-13,
                 S3 = 0x1.71de3567d4933p-19, S4 = -0x1.ae5e5a92987bfp-26, S5 = 0x1.5d8fd1fed6450p-33;
constexpr double C0 = 0x1.5555555552ddbp-5, C1 = -0x1.6c16c16721121p-10, C2 = 0x1.a019fa5ffc002p-16,
                 C3 = -0x1.27e00b90e0550p-22, C4 = 0x1.1bbe8e1a940efp-29;
constexpr double kTwoPiOver2p53 = 6.283185307179586476925286766559 * 0x1p-53;
constexpr std::uint64_t kExpOne = 0x3ff0000000000000ULL;   // exponent bits of 1.0
constexpr std::uint64_t kExp2p52 = 0x4330000000000000ULL;  // of 2^52: or-ing in n < 2^52 gives 2^52 + n
}  // namespace normal_constants

// c0 + t (c1 + t (... + t cn)), innermost first: the operations of the written-out form.
template <class V>
GRADLIME_HD GRADLIME_ALWAYS_INLINE inline typename V::D horner(typename V::D, double cn) noexcept {
    return V::set1d(cn);
}
template <class V, class... Cs>
GRADLIME_HD GRADLIME_ALWAYS_INLINE inline typename V::D horner(typename V::D t, double c0, Cs... cs) noexcept {
    return V::add(V::set1d(c0), V::mul(t, horner<V>(t, cs...)));
}

// Natural log for u in [2^-53, 1) (normal, positive, finite; no special cases).
template <class V>
GRADLIME_HD GRADLIME_ALWAYS_INLINE inline typename V::D log_unit(typename V::D u) noexcept {
    GRADLIME_NO_FP_CONTRACT
    using namespace normal_constants;
    using I = typename V::I;
    using D = typename V::D;
    I ix = V::add64(V::as_i(u), V::set1(kExpOne - kSqrtHalf));
    // k + 1023 as an exact double without an int -> double conversion (which SSE2 cannot vectorise)
    const D k = V::sub(V::as_d(V::or_(V::set1(kExp2p52), V::template srli<52>(ix))), V::set1d(0x1p52 + 1023.0));
    ix = V::add64(V::and_(ix, V::set1(0x000fffffffffffffULL)), V::set1(kSqrtHalf));
    const D f = V::sub(V::as_d(ix), V::set1d(1.0));  // exact
    const D s = V::div(f, V::add(V::set1d(2.0), f));
    const D t = V::mul(s, s);
    const D p = horner<V>(t, L0, L1, L2, L3, L4, L5);
    const D logm = V::add(V::mul(V::set1d(2.0), s), V::mul(s, V::mul(t, p)));
    return V::add(V::mul(k, V::set1d(kLn2Hi)), V::add(V::mul(k, V::set1d(kLn2Lo)), logm));
}

// sin x and cos x for x in [-pi/4, pi/4].
template <class V>
GRADLIME_HD GRADLIME_ALWAYS_INLINE inline void sin_cos_kernels(typename V::D x, typename V::D& sin_x,
                                                   typename V::D& cos_x) noexcept {
    GRADLIME_NO_FP_CONTRACT
    using namespace normal_constants;
    using D = typename V::D;
    const D y = V::mul(x, x);
    sin_x = V::add(x, V::mul(V::mul(x, y), horner<V>(y, S0, S1, S2, S3, S4, S5)));
    cos_x = V::add(V::sub(V::set1d(1.0), V::mul(V::set1d(0.5), y)),
                   V::mul(V::mul(y, y), horner<V>(y, C0, C1, C2, C3, C4)));
}

// Box-Muller on Philox blocks r = (r0, r1, r2, r3), passed as a = r0:r1 and b = r2:r3 (a lane each):
//   radius = sqrt(-2 log u),  u = (2N + 1) 2^-53 with N the top 52 bits of r0:r1, so u lies in
//            [2^-53, 1 - 2^-53] and is computed exactly (never 0, symmetric about 1/2);
//   angle  = 2 pi A 2^-53 with A the top 53 bits of r2:r3; the quadrant comes straight from A's top
//            bits (rounded to nearest), so range reduction is exact integer arithmetic and the
//            reduced angle x = 2 pi (A - q 2^51) 2^-53 lies in [-pi/4, pi/4).
// z0 = radius cos(angle), z1 = radius sin(angle).
template <class V>
GRADLIME_HD GRADLIME_ALWAYS_INLINE inline void box_muller(typename V::I a, typename V::I b, typename V::D& z0,
                                              typename V::D& z1) noexcept {
    GRADLIME_NO_FP_CONTRACT
    using namespace normal_constants;
    using I = typename V::I;
    using D = typename V::D;
    const D u = V::add(V::sub(V::as_d(V::or_(V::set1(kExpOne), V::template srli<12>(a))), V::set1d(1.0)),
                       V::set1d(0x1p-53));
    const D radius = V::sqrt(V::mul(V::set1d(-2.0), log_unit<V>(u)));

    const I bq = V::add64(V::template srli<11>(b), V::set1(1ULL << 50));  // quadrant q = bits 51, 52
    // (bq mod 2^51) - 2^50 in [-2^50, 2^50), as an exact double via the 2^52 exponent trick
    const D frac = V::sub(V::as_d(V::or_(V::set1(kExp2p52), V::and_(bq, V::set1((1ULL << 51) - 1)))),
                          V::set1d(0x1p52 + 0x1p50));
    D s, c;
    sin_cos_kernels<V>(V::mul(frac, V::set1d(kTwoPiOver2p53)), s, c);
    // angle = q pi/2 + x: rotate (c, s) by q quarter turns, on the bits. Swap where q is odd, then
    // flip the signs by bit 1 of q + 1 (cos) and of q (sin), i.e. bit 52 of bq + 2^51 and of bq,
    // shifted to the sign bit.
    V::template swap_where<51>(bq, c, s);
    const I sign = V::set1(1ULL << 63);
    const I bq1 = V::add64(bq, V::set1(1ULL << 51));
    c = V::as_d(V::xor_and(V::as_i(c), V::template slli<11>(bq1), sign));
    s = V::as_d(V::xor_and(V::as_i(s), V::template slli<11>(bq), sign));
    z0 = V::mul(radius, c);
    z1 = V::mul(radius, s);
}

// kVecs * V::kBlocks Philox blocks, lane i of register v with the counter (c0[v], c1[v], c2[v],
// rc.stream) (each word in the low 32 bits of its lane; the high halves are never read), then
// Box-Muller: store(v, z0, z1) receives register v's two normals per lane (lane i of z0 and z1
// are the block's coordinates 2k and 2k + 1).
template <class V, int kVecs, class Store>
GRADLIME_ALWAYS_INLINE inline void gaussian_vecs_store(const RowConstants<V>& rc, const typename V::I* c0,
                                                       const typename V::I* c1, const typename V::I* c2,
                                                       Store&& store) noexcept {
    using I = typename V::I;
    using D = typename V::D;
    I x0[kVecs], x1[kVecs], x2[kVecs], x3[kVecs];
    philox_rounds_vec<V, kVecs>(rc, c0, c1, c2, x0, x1, x2, x3);
    for (int v = 0; v < kVecs; ++v) {
        D z0, z1;
        box_muller<V>(join_words<V>(x0[v], x1[v]), join_words<V>(x2[v], x3[v]), z0, z1);
        store(v, z0, z1);
    }
}

// gaussian_vecs_store with the normals interleaved: lane i of register v gives
// out[2 (v V::kBlocks + i)] and the next.
template <class V, int kVecs>
GRADLIME_ALWAYS_INLINE inline void gaussian_vecs_at(const RowConstants<V>& rc, const typename V::I* c0,
                                                    const typename V::I* c1, const typename V::I* c2,
                                                    double* out) noexcept {
    gaussian_vecs_store<V, kVecs>(rc, c0, c1, c2, [out](int v, typename V::D z0, typename V::D z1) {
        V::store_pairs(out + 2 * v * V::kBlocks, z0, z1);
    });
}

// The portable and SSE2 paths: Philox blocks from philox_lanes_at, then the transform one lane at a
// time in structure-of-arrays form, which the compiler vectorises (two doubles per SSE2 register).
//
// Normals for the counters (pair[i], sample[i], stream): out[2i], out[2i+1] from lane i.
template <long kLanes>
inline void gaussian_lanes_at(Key key, const std::uint64_t* pair, const std::uint64_t* sample,
                              std::uint32_t stream, double* out) noexcept {
    std::uint64_t a[kLanes], b[kLanes];
    philox_lanes_at<kLanes>(key, pair, sample, stream, a, b);
    double c[kLanes], s[kLanes];
    for (long i = 0; i < kLanes; ++i) box_muller<simd::Scalar>(a[i], b[i], c[i], s[i]);
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

}  // namespace gradlime::detail

namespace gradlime {

// The two normals of one kernel-draw block, counter (pair k, sample low, sample high, stream):
// coordinates 2k and 2k + 1 of that sample's row, gaussian_row's bits (rng/layouts.hpp) one
// block at a time, as a GPU thread draws them.
GRADLIME_HD inline void gaussian_pair(Key key, std::uint32_t k, std::uint64_t sample, std::uint32_t stream,
                                      double& z0, double& z1) noexcept {
    const BlockHalves h =
        philox_halves({k, static_cast<std::uint32_t>(sample), static_cast<std::uint32_t>(sample >> 32), stream}, key);
    detail::box_muller<simd::Scalar>(h.a, h.b, z0, z1);
}

// The two uniforms in (0, 1) of the same block (53 bits each): what the uniform and Laplace
// kernels are drawn from (rng/layouts.hpp's uniform_rows).
GRADLIME_HD inline void uniform_pair(Key key, std::uint32_t k, std::uint64_t sample, std::uint32_t stream,
                                     double& u0, double& u1) noexcept {
    const BlockHalves r =
        philox_halves({k, static_cast<std::uint32_t>(sample), static_cast<std::uint32_t>(sample >> 32), stream}, key);
    u0 = (static_cast<double>(r.a >> 11) + 0.5) * 0x1p-53;
    u1 = (static_cast<double>(r.b >> 11) + 0.5) * 0x1p-53;
}

}  // namespace gradlime

GRADLIME_SIMD_WARNINGS_ON
