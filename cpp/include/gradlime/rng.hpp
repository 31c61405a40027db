// Counter-based random numbers: Philox4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random
// numbers: as easy as 1, 2, 3", SC'11) and a Box-Muller Gaussian transform on top of it.
//
// Every draw is a pure function of (seed, stream, sample, coordinate): no state is carried, so
// results do not depend on how work is split over threads, batches or chunks, and a CUDA kernel
// running the same arithmetic draws the same numbers.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

namespace gradlime {

using Counter = std::array<std::uint32_t, 4>;
using Key = std::array<std::uint32_t, 2>;

// One Philox4x32-10 block: ten rounds of the SP network with a Weyl-sequence key schedule.
inline Counter philox4x32_10(Counter c, Key k) noexcept {
    constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
    constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
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

// 53 random bits mapped to the open interval (0, 1): never 0, so log() is finite.
inline double open_unit(std::uint32_t hi, std::uint32_t lo) noexcept {
    const std::uint64_t bits = ((static_cast<std::uint64_t>(hi) << 32) | lo) >> 11;
    return (static_cast<double>(bits) + 0.5) * 0x1p-53;
}

// Standard normals z[0..d) for one perturbation row.
//
// The Philox counter is (coordinate pair, sample low, sample high, stream), the key is the seed.
// Each block gives two uniforms and, through Box-Muller, the coordinates 2k and 2k+1. The first
// coordinates of a row therefore do not depend on d.
inline void gaussian_row(std::uint64_t seed, std::uint32_t stream, std::uint64_t sample, long d,
                         double* z) noexcept {
    constexpr double kTwoPi = 6.283185307179586476925286766559;
    const Key key = key_from_seed(seed);
    const auto s_lo = static_cast<std::uint32_t>(sample);
    const auto s_hi = static_cast<std::uint32_t>(sample >> 32);
    for (long k = 0; 2 * k < d; ++k) {
        const Counter r = philox4x32_10({static_cast<std::uint32_t>(k), s_lo, s_hi, stream}, key);
        const double radius = std::sqrt(-2.0 * std::log(open_unit(r[0], r[1])));
        const double angle = kTwoPi * open_unit(r[2], r[3]);
        z[2 * k] = radius * std::cos(angle);
        if (2 * k + 1 < d) z[2 * k + 1] = radius * std::sin(angle);
    }
}

}  // namespace gradlime
