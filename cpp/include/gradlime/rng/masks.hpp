// Random masks: LIME's Bernoulli(1/2) feature masks and KernelSHAP's sampled coalitions, each
// from its own range of Philox counters (rng/counter_space.hpp). The callers (lime.cpp, shap.cpp)
// decide what a mask means; here is only how its bits are drawn.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gradlime/rng/counter_space.hpp"
#include "gradlime/rng/lime_mask_row.hpp"
#include "gradlime/rng/philox.hpp"
#include "gradlime/simd/lanes.hpp"

namespace gradlime {

// --- LIME: z ~ Bernoulli(1/2)^d ------------------------------------------------------------------
// Sizes are std::ptrdiff_t (gradlime::Index), so these headers need no Eigen. One sample's mask,
// the definition of the bits, is lime_mask_row (rng/lime_mask_row.hpp).

// The same bits for many samples at once, as raw Philox words: W = ceil(d / 128) blocks per sample,
// words[(t * W + j) * 4 + q] = word q of block j of sample first + t, so bit k of sample t is bit
// k % 32 of words[t * 4W + k / 32]. Eight blocks go through the rounds together (vectorised).
inline void lime_mask_words(Key key, std::uint32_t point, std::uint64_t first, std::ptrdiff_t m, std::ptrdiff_t W,
                            std::uint32_t* words) noexcept {
    constexpr long kLanes = 8;
    std::uint64_t pair[kLanes], sample[kLanes], a[kLanes], b[kLanes];
    const std::ptrdiff_t total = m * W;
    std::ptrdiff_t j = 0, t = 0;  // block j of sample first + t: the next lane's counter, stepped without division
    for (std::ptrdiff_t g = 0; g < total; g += kLanes) {
        const std::ptrdiff_t live = total - g < kLanes ? total - g : kLanes;
        for (long i = 0; i < kLanes; ++i) {
            if (i < live) {
                pair[i] = counter_word(DrawKind::LimeMasks, static_cast<std::uint32_t>(j));
                sample[i] = first + static_cast<std::uint64_t>(t);
                if (++j == W) j = 0, ++t;
            } else {  // idle lanes repeat the first block
                pair[i] = pair[0];
                sample[i] = sample[0];
            }
        }
        detail::philox_lanes_at<kLanes>(key, pair, sample, point, a, b);
        for (std::ptrdiff_t i = 0; i < live; ++i) {
            std::uint32_t* w = words + (g + i) * 4;
            w[0] = static_cast<std::uint32_t>(a[i] >> 32);
            w[1] = static_cast<std::uint32_t>(a[i]);
            w[2] = static_cast<std::uint32_t>(b[i] >> 32);
            w[3] = static_cast<std::uint32_t>(b[i]);
        }
    }
}

inline std::ptrdiff_t lime_mask_blocks(std::ptrdiff_t d) noexcept { return (d + 127) / 128; }

// For d <= 128 (one block per mask): the masks of 8 consecutive samples first .. first + 7 as
// feature bytes, bit i of out[k * ld] being feature k of sample first + i, straight from the Philox
// lanes: word 0 is the high half of a block's first 64-bit output, word 1 its low half, words 2
// and 3 those of the second. The same bits as lime_mask_words.
inline void lime_mask_bytes8(Key key, std::uint32_t point, std::uint64_t first, std::ptrdiff_t d, std::uint8_t* out,
                             std::ptrdiff_t ld) noexcept {
    constexpr long kLanes = 8;
    std::uint64_t pair[kLanes], sample[kLanes], a[kLanes], b[kLanes];
    for (long i = 0; i < kLanes; ++i) {
        pair[i] = counter_word(DrawKind::LimeMasks, 0);
        sample[i] = first + static_cast<std::uint64_t>(i);
    }
    detail::philox_lanes_at<kLanes>(key, pair, sample, point, a, b);
    for (std::ptrdiff_t k = 0; k < d; ++k) {
        const std::ptrdiff_t word = k / 32, bit = k % 32;
        out[k * ld] = lanes::bit_of_each64(word < 2 ? a : b, static_cast<int>(word % 2 == 0 ? 32 + bit : bit));
    }
}

// --- KernelSHAP: uniform subsets and feature permutations -----------------------------------------

// The high 64 bits of a * b, portably: an index uniform on [0, n) is mulhi64(u, n) with u a
// uniform 64-bit word (bias below n / 2^64).
inline std::uint64_t mulhi64(std::uint64_t a, std::uint64_t b) noexcept {
    const std::uint64_t a_lo = a & 0xffffffffu, a_hi = a >> 32, b_lo = b & 0xffffffffu, b_hi = b >> 32;
    const std::uint64_t ll = a_lo * b_lo, lh = a_lo * b_hi, hl = a_hi * b_lo, hh = a_hi * b_hi;
    const std::uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    return hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

// Draw `index` of point `point` in KernelSHAP's counter range: Philox block w has counter
// (counter_word(ShapCoalitions, w), index low, index high, point), key = seed, read as 64-bit
// halves in order (block 0's first half, its second, block 1's first, ...).
class ShapDraws {
public:
    ShapDraws(Key key, std::uint32_t point, std::uint64_t index) noexcept : key_(key), point_(point), index_(index) {}
    std::uint64_t next() noexcept {
        if (half_ % 2 == 0) r_ = block(static_cast<std::uint32_t>(half_ / 2));
        return half_++ % 2 == 0 ? r_.a : r_.b;
    }

private:
    BlockHalves block(std::uint32_t w) const noexcept {
        return philox_halves({counter_word(DrawKind::ShapCoalitions, w), static_cast<std::uint32_t>(index_),
                              static_cast<std::uint32_t>(index_ >> 32), point_},
                             key_);
    }
    Key key_;
    std::uint32_t point_;
    std::uint64_t index_;
    BlockHalves r_{};
    std::uint64_t half_ = 0;
};

// A uniform s-subset of d features (0 < s < d) from draw `index` of `point`: z[k] = 1 for its
// members (d bytes). Floyd's algorithm on the smaller of the subset and its complement, one
// 64-bit half per step (mulhi64 makes it an index), then flipped when that was the complement.
inline void uniform_subset(Key key, std::uint32_t point, std::uint64_t index, std::ptrdiff_t d, std::ptrdiff_t s,
                           std::uint8_t* z) noexcept {
    ShapDraws draws(key, point, index);
    const std::ptrdiff_t m = std::min(s, d - s);
    std::fill(z, z + d, std::uint8_t{0});
    for (std::ptrdiff_t i = d - m; i < d; ++i) {
        const auto t = static_cast<std::ptrdiff_t>(mulhi64(draws.next(), static_cast<std::uint64_t>(i + 1)));
        z[z[t] ? i : t] = 1;
    }
    if (m != s)
        for (std::ptrdiff_t k = 0; k < d; ++k) z[k] ^= 1u;
}

// Draws with the top bit of the index set are permutations (subset draws never reach it).
constexpr std::uint64_t kPermutationDraw = std::uint64_t{1} << 63;

// A uniform permutation of 0 .. d - 1 for `point` (Fisher-Yates from the top, one half per swap).
inline void feature_permutation(Key key, std::uint32_t point, std::ptrdiff_t d, std::ptrdiff_t* perm) noexcept {
    ShapDraws draws(key, point, kPermutationDraw);
    for (std::ptrdiff_t k = 0; k < d; ++k) perm[k] = k;
    for (std::ptrdiff_t i = d - 1; i > 0; --i) {
        const auto t = static_cast<std::ptrdiff_t>(mulhi64(draws.next(), static_cast<std::uint64_t>(i + 1)));
        std::swap(perm[i], perm[t]);
    }
}

}  // namespace gradlime
