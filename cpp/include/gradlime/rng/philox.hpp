// Philox4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC'11):
// a keyed bijection on 128-bit counters, ten rounds of a multiply-xor SP network with a Weyl key
// schedule. Every random number in the library is a function of one such block, key = seed and
// counter = what is drawn (rng/counter_space.hpp), so no state is carried: draws do not depend on
// how work is split over threads, batches or chunks, and a CUDA kernel running the same integer
// arithmetic draws the same numbers.
//
// Four implementations of the rounds, all the same integer arithmetic: one block (philox4x32_10,
// the definition, held to Random123's known answers), kLanes blocks in structure-of-arrays form
// (vectorised by the compiler), SSE2 with two blocks per register, and the register types of
// simd/registers.hpp (AVX2, AVX-512) for the vector kernels. philox_lanes_at picks the widest.
#pragma once

#include <array>
#include <cstdint>

#include "gradlime/hd.hpp"
#include "gradlime/simd/isa.hpp"
#include "gradlime/simd/registers.hpp"

GRADLIME_SIMD_WARNINGS_OFF

namespace gradlime {

using Counter = std::array<std::uint32_t, 4>;
using Key = std::array<std::uint32_t, 2>;

namespace philox_constants {
constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
}  // namespace philox_constants

// One Philox4x32-10 block: ten rounds of the SP network with a Weyl-sequence key schedule.
GRADLIME_HD inline Counter philox4x32_10(Counter c, Key k) noexcept {
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

GRADLIME_HD inline Key key_from_seed(std::uint64_t seed) noexcept {
    return {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)};
}

// A block as the transforms read it: two 64-bit halves a = r0:r1 and b = r2:r3.
struct BlockHalves {
    std::uint64_t a, b;
};
GRADLIME_HD inline BlockHalves philox_halves(Counter c, Key k) noexcept {
    const Counter r = philox4x32_10(c, k);
    return {(static_cast<std::uint64_t>(r[0]) << 32) | r[1], (static_cast<std::uint64_t>(r[2]) << 32) | r[3]};
}

namespace detail {

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
#if defined(__GNUC__) && !defined(__CUDACC__)
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

#if GRADLIME_SIMD_SSE2
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
GRADLIME_ALWAYS_INLINE inline void philox_rounds_vec(const RowConstants<V>& rc, const typename V::I* c0,
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

// Two 32-bit words (each in the low half of its lane) as one 64-bit lane hi:lo.
template <class V>
inline typename V::I join_words(typename V::I hi, typename V::I lo) noexcept {
    return V::or_(V::template slli<32>(hi), V::and_(lo, V::set1(0xffffffffULL)));
}

// philox_lanes_generic's blocks with V::kBlocks per register (the same rounds as the Gaussian
// kernels').
template <class V, long kLanes>
inline void philox_lanes_vec(Key key, const std::uint64_t* pair, const std::uint64_t* sample,
                             std::uint32_t stream, std::uint64_t* a, std::uint64_t* b) noexcept {
    using I = typename V::I;
    constexpr int kRegs = static_cast<int>(kLanes / V::kBlocks);
    static_assert(kRegs * V::kBlocks == kLanes, "whole registers");
    const RowConstants<V> rc(key, 0, 0, stream);
    I c0[kRegs], c1[kRegs], c2[kRegs], x0[kRegs], x1[kRegs], x2[kRegs], x3[kRegs];
    for (int v = 0; v < kRegs; ++v) {
        c0[v] = V::loadu(pair + v * V::kBlocks);
        c1[v] = V::loadu(sample + v * V::kBlocks);
        c2[v] = V::template srli<32>(c1[v]);
    }
    philox_rounds_vec<V, kRegs>(rc, c0, c1, c2, x0, x1, x2, x3);
    for (int v = 0; v < kRegs; ++v) {
        V::storeu_i(a + v * V::kBlocks, join_words<V>(x0[v], x1[v]));
        V::storeu_i(b + v * V::kBlocks, join_words<V>(x2[v], x3[v]));
    }
}

template <long kLanes>
inline void philox_lanes_at(Key key, const std::uint64_t* pair, const std::uint64_t* sample,
                            std::uint32_t stream, std::uint64_t* a, std::uint64_t* b) noexcept {
#if GRADLIME_SIMD_AVX512
    if constexpr (kLanes % 8 == 0) return philox_lanes_vec<simd::Avx512, kLanes>(key, pair, sample, stream, a, b);
#elif GRADLIME_SIMD_AVX2
    if constexpr (kLanes % 4 == 0) return philox_lanes_vec<simd::Avx2, kLanes>(key, pair, sample, stream, a, b);
#endif
#if GRADLIME_SIMD_SSE2
    philox_lanes_sse2<kLanes>(key, pair, sample, stream, a, b);
#else
    philox_lanes_generic<kLanes>(key, pair, sample, stream, a, b);
#endif
}

}  // namespace detail

}  // namespace gradlime

GRADLIME_SIMD_WARNINGS_ON
