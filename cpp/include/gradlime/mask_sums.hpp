// Sums over binary masks, the kernels of LIME's fit: a mask byte holds one feature's bits for the
// 8 samples of a group, so "add w where feature k is kept" is one masked add (gradlime::lanes)
// instead of a multiply by a 0/1 number and an add, and every choice made on a mask bit is
// branch-free.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

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

// A chunk's masks as 0/1 double columns for the blocked Gram (least_squares.hpp's lower_gram,
// weighted: sum u z_k z_l is then the same sum of the same numbers in the same lanes as masked
// adds, bit for bit): column k at out + k * stride holds the bits of zb[k * ld + g], sample 8g + i
// at 8g + i, zeros past the G groups up to `stride`. Returns the columns' pointers.
inline const std::vector<const double*>& mask_columns(const std::uint8_t* zb, Index ld, Index d, Index G,
                                                      Index stride) {
    static const auto bits = [] {  // the 8 doubles of every byte
        std::array<std::array<double, 8>, 256> t{};
        for (int b = 0; b < 256; ++b)
            for (int i = 0; i < 8; ++i) t[static_cast<size_t>(b)][static_cast<size_t>(i)] = (b >> i) & 1;
        return t;
    }();
    thread_local std::vector<double> buf;
    thread_local std::vector<const double*> cols;
    buf.resize(static_cast<size_t>(d * stride));
    cols.resize(static_cast<size_t>(d));
    for (Index k = 0; k < d; ++k) {
        double* col = buf.data() + k * stride;
        for (Index g = 0; g < G; ++g)
            std::memcpy(col + g * lanes::kLanes, bits[zb[k * ld + g]].data(), sizeof(double) * lanes::kLanes);
        std::fill(col + G * lanes::kLanes, col + stride, 0.0);
        cols[static_cast<size_t>(k)] = col;
    }
    return cols;
}

// sum over samples of u (groups of 8, zero-padded), by lanes then the fixed tree.
inline double lane_total(const double* u, Index G) {
    lanes::D acc = lanes::zero();
    for (Index g = 0; g < G; ++g) acc = lanes::add(acc, lanes::load(u + g * lanes::kLanes));
    return lanes::sum(acc);
}

}  // namespace gradlime::mask_sums
