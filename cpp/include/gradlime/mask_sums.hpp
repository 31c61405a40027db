// Sums over binary masks, the kernels of LIME's fit: a mask byte holds one feature's bits for the
// 8 samples of a group, so "add w where feature k is kept" is one masked add (gradlime::lanes)
// instead of a multiply by a 0/1 number and an add, and every choice made on a mask bit is
// branch-free.
#pragma once

#include <cstdint>

#include "gradlime/parallel.hpp"
#include "gradlime/simd/lanes.hpp"
#include "gradlime/simd/vectors.hpp"
#include "gradlime/types.hpp"

namespace gradlime::mask_sums {

// The mask bits are random, so every choice made on them is written without a branch (a
// mispredicted branch per feature cost more than everything else together).
inline std::uint64_t mask_bit(const std::uint32_t* words, Index k) noexcept {
    return (words[k / 32] >> (k % 32)) & 1u;
}

// bit ? a : b, exactly and branch-free.
inline double select(std::uint64_t bit, double a, double b) noexcept {
    const std::uint64_t keep = 0 - bit;  // all ones when bit is 1
    return detail::bits_to_double((detail::double_to_bits(a) & keep) | (detail::double_to_bits(b) & ~keep));
}


// The mask bytes of a group of up to 8 consecutive samples: out(k, byte) with bit i of the byte
// feature k of sample i. `words` points at the first sample's mask words, `stride` words per
// sample; lanes past `in_group` read as 0.
template <class Out>
inline void group_bytes(const std::uint32_t* words, Index stride, Index in_group, Index d, Out&& out) {
    for (Index j = 0; 32 * j < d; ++j) {  // word j holds features 32j .. 32j + 31
        std::uint32_t w[lanes::kLanes] = {};
        for (Index i = 0; i < in_group; ++i) w[i] = words[i * stride + j];
        for (Index k = 32 * j; k < std::min(d, 32 * j + 32); ++k)
            out(k, lanes::bit_of_each(w, static_cast<int>(k - 32 * j)));
    }
}

// S(k, l) = sum over samples of u z_k z_l for l <= k (the lower triangle), u given per sample in
// groups of 8 (zero past the chunk's rows): the products of binary masks are masked adds. Each
// k-row runs in tiles of up to 16 columns whose lane sums stay in registers across the groups.
template <int C>
inline void pair_tile(const std::uint8_t* zb, Index ld, Index G, Index k, Index l0, const double* u, Matrix& S) {
    lanes::D acc[C];
    for (int l = 0; l < C; ++l) acc[l] = lanes::zero();
    const std::uint8_t* zk = zb + k * ld;
    for (Index g = 0; g < G; ++g) {
        const lanes::D uz = lanes::keep_where(zk[g], lanes::load(u + g * lanes::kLanes));
        for (int l = 0; l < C; ++l) acc[l] = lanes::add_where(acc[l], zb[(l0 + l) * ld + g], uz);
    }
    for (int l = 0; l < C; ++l) S(k, l0 + l) = lanes::sum(acc[l]);
}

template <int C = 16>
inline void pair_tile_of_width(Index width, const std::uint8_t* zb, Index ld, Index G, Index k, Index l0, const double* u,
                        Matrix& S) {
    if constexpr (C > 1) {
        if (width < C) return pair_tile_of_width<C - 1>(width, zb, ld, G, k, l0, u, S);
    }
    pair_tile<C>(zb, ld, G, k, l0, u, S);
}

// Returns early (S unfinished) when stop->poll() says so, between rows.
inline void pair_sums(const std::uint8_t* zb, Index ld, Index d, Index G, const double* u, Matrix& S,
                      Interruption* stop = nullptr) {
    S.setZero(d, d);
    for (Index k = 0; k < d; ++k) {
        if (stop && stop->poll()) return;
        for (Index l0 = 0; l0 <= k; l0 += 16)
            pair_tile_of_width(std::min<Index>(16, k + 1 - l0), zb, ld, G, k, l0, u, S);
    }
}

// sum over samples of u (groups of 8, zero-padded), by lanes then the fixed tree.
inline double lane_total(const double* u, Index G) {
    lanes::D acc = lanes::zero();
    for (Index g = 0; g < G; ++g) acc = lanes::add(acc, lanes::load(u + g * lanes::kLanes));
    return lanes::sum(acc);
}

}  // namespace gradlime::mask_sums
