// LIME's mask of one sample, written once for the host and the GPU (GRADLIME_HD): the definition
// of its bits, which rng/masks.hpp's many-sample forms (lime_mask_words, lime_mask_bytes8) and
// the device backends (device/draws.hpp) reproduce.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "gradlime/hd.hpp"
#include "gradlime/rng/counter_space.hpp"
#include "gradlime/rng/philox.hpp"

namespace gradlime {

// Mask bit k of sample `sample` of point `point` is bit k % 32 of word (k / 32) % 4 of the Philox
// block with counter (counter_word(LimeMasks, k / 128), sample low, sample high, point) and
// key = seed: LIME's own range of counters, so its masks never reuse C-LIME's random bits.
// Out: a pointer, or any type indexed as one (device/strided.hpp).
template <class Out>
GRADLIME_HD inline void lime_mask_row(Key key, std::uint32_t point, std::uint64_t sample, std::ptrdiff_t d, Out z) noexcept {
    using T = std::remove_reference_t<decltype(z[0])>;
    const auto s_lo = static_cast<std::uint32_t>(sample);
    const auto s_hi = static_cast<std::uint32_t>(sample >> 32);
    for (std::ptrdiff_t k0 = 0; k0 < d; k0 += 128) {
        const auto word = counter_word(DrawKind::LimeMasks, static_cast<std::uint32_t>(k0 / 128));
        const Counter r = philox4x32_10({word, s_lo, s_hi, point}, key);
        const std::ptrdiff_t k1 = k0 + 128 < d ? k0 + 128 : d;
        for (std::ptrdiff_t k = k0; k < k1; ++k) {
            const std::ptrdiff_t bit = k - k0;
            z[k] = static_cast<T>((r[static_cast<std::size_t>(bit / 32)] >> (bit % 32)) & 1u);
        }
    }
}

}  // namespace gradlime
