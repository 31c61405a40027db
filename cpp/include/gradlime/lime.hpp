// LIME with binary masks (Ribeiro et al. 2016, in the form of paper 2, section 3.2):
//
//   z ~ Bernoulli(1/2)^d,   x~ = x * z + (1 - z) * baseline,
//   pi_x(z) = exp(-||x - x~||_2 / kernel_width^2)         (the distance is not squared),
//   (b, c) = argmin sum_i pi_i (f(x~_i) - b - z_i . c)^2 + ridge ||c||^2,
//
// the intercept b unpenalised, as the lime package fits it (sklearn Ridge with sample_weight).
// The attributions are the coefficients c, in mask space.
//
// Rows stream through the model by the driver (driver.hpp), as for the Gaussian family: masks are
// a pure function of (seed, point, sample),
// and each point's weighted sums are formed over fixed chunks merged in a fixed order, so results
// are bitwise identical for any thread count and batch size. The sums are raw moments over the
// binary masks (products of mask bits are masked additions, 8 samples per register), centred
// afterwards. A native network skips the batches: each point's rows are made and evaluated block
// by block on one thread (the same bits).
#pragma once

#include <cstdint>

#include "gradlime/engine.hpp"
#include "gradlime/lanes.hpp"
#include "gradlime/model.hpp"
#include "gradlime/rng.hpp"
#include "gradlime/types.hpp"

namespace gradlime {

struct LimeOptions {
    std::uint64_t seed = 0;
    Index n_samples = 1000;
    double kernel_width = 1.0;  // sigma of pi_x(z) = exp(-||x - x~|| / sigma^2); > 0
    double ridge = 1.0;         // penalty on the d coefficients (not on the intercept); >= 0
    // Batches, the fused native path, the kept-masks budget, the point offset, progress.
    DriverOptions driver;
};

// Mask bit k of sample `sample` of point `point` is bit k % 32 of word (k / 32) % 4 of the Philox
// block with counter (2^31 + k / 128, sample low, sample high, point) and key = seed. The top bit
// of the first word keeps these counters apart from the Gaussian draws' (whose first word is a
// coordinate pair index, below 2^31), so LIME's masks never reuse C-LIME's random bits.
template <class T>
inline void lime_mask_row(Key key, std::uint32_t point, std::uint64_t sample, Index d, T* z) noexcept {
    const auto s_lo = static_cast<std::uint32_t>(sample);
    const auto s_hi = static_cast<std::uint32_t>(sample >> 32);
    for (Index k0 = 0; k0 < d; k0 += 128) {
        const auto word = static_cast<std::uint32_t>(k0 / 128) | 0x80000000u;
        const Counter r = philox4x32_10({word, s_lo, s_hi, point}, key);
        const Index k1 = k0 + 128 < d ? k0 + 128 : d;
        for (Index k = k0; k < k1; ++k) {
            const Index bit = k - k0;
            z[k] = static_cast<T>((r[static_cast<size_t>(bit / 32)] >> (bit % 32)) & 1u);
        }
    }
}

// The same bits for many samples at once, as raw Philox words: W = ceil(d / 128) blocks per sample,
// words[(t * W + j) * 4 + q] = word q of block j of sample first + t, so bit k of sample t is bit
// k % 32 of words[t * 4W + k / 32]. Eight blocks go through the rounds together (vectorised).
inline void lime_mask_words(Key key, std::uint32_t point, std::uint64_t first, Index m, Index W,
                            std::uint32_t* words) noexcept {
    constexpr long kLanes = 8;
    std::uint64_t pair[kLanes], sample[kLanes], a[kLanes], b[kLanes];
    const Index total = m * W;
    Index j = 0, t = 0;  // block j of sample first + t: the next lane's counter, stepped without division
    for (Index g = 0; g < total; g += kLanes) {
        const Index lanes = total - g < kLanes ? total - g : kLanes;
        for (long i = 0; i < kLanes; ++i) {
            if (i < lanes) {
                pair[i] = static_cast<std::uint64_t>(j) | 0x80000000u;
                sample[i] = first + static_cast<std::uint64_t>(t);
                if (++j == W) j = 0, ++t;
            } else {  // idle lanes repeat the first block
                pair[i] = pair[0];
                sample[i] = sample[0];
            }
        }
        detail::philox_lanes_at<kLanes>(key, pair, sample, point, a, b);
        for (Index i = 0; i < lanes; ++i) {
            std::uint32_t* w = words + (g + i) * 4;
            w[0] = static_cast<std::uint32_t>(a[i] >> 32);
            w[1] = static_cast<std::uint32_t>(a[i]);
            w[2] = static_cast<std::uint32_t>(b[i] >> 32);
            w[3] = static_cast<std::uint32_t>(b[i]);
        }
    }
}

inline Index lime_mask_blocks(Index d) noexcept { return (d + 127) / 128; }

// For d <= 128 (one block per mask): the masks of 8 consecutive samples first .. first + 7 as
// feature bytes, bit i of out[k * ld] being feature k of sample first + i, straight from the Philox
// lanes: word 0 is the high half of a block's first 64-bit output, word 1 its low half, words 2
// and 3 those of the second. The same bits as lime_mask_words.
inline void lime_mask_bytes8(Key key, std::uint32_t point, std::uint64_t first, Index d, std::uint8_t* out,
                             Index ld) noexcept {
    constexpr long kLanes = 8;
    std::uint64_t pair[kLanes], sample[kLanes], a[kLanes], b[kLanes];
    for (long i = 0; i < kLanes; ++i) {
        pair[i] = 0x80000000u;
        sample[i] = first + static_cast<std::uint64_t>(i);
    }
    detail::philox_lanes_at<kLanes>(key, pair, sample, point, a, b);
    for (Index k = 0; k < d; ++k) {
        const Index word = k / 32, bit = k % 32;
        out[k * ld] = lanes::bit_of_each64(word < 2 ? a : b, static_cast<int>(word % 2 == 0 ? 32 + bit : bit));
    }
}

// Masks of samples [first, first + m) of one point, as 0/1 doubles, from lime_mask_row (the
// definition; the engine uses lime_mask_words, which tests pin to it).
void lime_masks(std::uint64_t seed, std::uint32_t point, std::uint64_t first, Index m, Index d, RowMatrix& Z);

// Coefficients c (values) and their weighted HC1 sandwich standard errors, (N, d) each. `baseline`
// has d entries. Throws std::invalid_argument on bad options, a model returning NaN/inf (naming the
// point), kernel weights that all underflow, or a singular design with ridge = 0.
Estimate run_lime(const RowMatrix& X, const Vector& baseline, BatchModel& model, const LimeOptions& options);

}  // namespace gradlime
