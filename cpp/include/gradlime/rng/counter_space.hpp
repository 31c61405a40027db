// Who draws from which Philox counters. Every draw in the library is one Philox4x32-10 block with
// key = seed and counter (w0, w1, w2, w3), where w1:w2 is a 64-bit index (a sample, or a KernelSHAP
// coalition pair) and w3 a 32-bit one (a stream, or a point). The kinds of draw are kept apart by
// the first word alone: each kind owns a range of w0 below, so no two kinds ever read the same block
// whatever their other words, and a new kind takes a free range instead of reusing another's bits.
//
//   w0 range                 kind                      w0 - first           w1:w2          w3
//   [0x00000000, 0x80000000)  kernel draws              coordinate pair k    sample         stream
//                             (Gaussian normals, uniform cube: block k gives coordinates 2k, 2k + 1)
//   [0x80000000, 0xA0000000)  LIME masks                block of 128 bits    sample         point
//   [0xA0000000, 0xC0000000)  KernelSHAP coalitions     draw word            coalition pair point
//   [0xC0000000, 0xE0000000)  reserved: Lipschitz neighbourhoods
//   [0xE0000000, 0xF0000000)  reserved: QMC scrambles
//   [0xF0000000, 2^32)        free
//
// The sizes bound what each kind can address: 2^31 pairs (d < 2^32 coordinates), 2^29 mask blocks
// (d < 2^36 features), 2^29 coalition words (d < 2^31 features). The kernel range starts at 0, so
// a kernel draw's first word is the pair index itself (the vector kernels count pairs in their
// lanes without an offset; rng/layouts.hpp asserts it).
#pragma once

#include <cstdint>

namespace gradlime {

enum class DrawKind : int {
    Kernel,             // Gaussian normals and uniform cube draws (rng/layouts.hpp)
    LimeMasks,          // LIME's Bernoulli(1/2) masks (rng/masks.hpp)
    ShapCoalitions,     // KernelSHAP's sampled coalitions (rng/masks.hpp)
    Neighbourhoods,     // reserved: neighbourhoods of the Lipschitz estimates
    QmcScrambles,       // reserved: random scrambles of quasi-Monte-Carlo points
};

struct CounterRange {
    DrawKind kind;
    std::uint32_t first;  // w0 of the kind's index 0
    std::uint32_t count;  // how many w0 values it owns
};

// The table, in counter order (one row per DrawKind, in the enum's order).
inline constexpr CounterRange kCounterSpace[] = {
    {DrawKind::Kernel, 0x00000000u, 0x80000000u},
    {DrawKind::LimeMasks, 0x80000000u, 0x20000000u},
    {DrawKind::ShapCoalitions, 0xA0000000u, 0x20000000u},
    {DrawKind::Neighbourhoods, 0xC0000000u, 0x20000000u},
    {DrawKind::QmcScrambles, 0xE0000000u, 0x10000000u},
};

constexpr CounterRange counter_range(DrawKind kind) noexcept { return kCounterSpace[static_cast<int>(kind)]; }

// The first counter word of index i (< the range's count) of a kind.
constexpr std::uint32_t counter_word(DrawKind kind, std::uint32_t i) noexcept { return counter_range(kind).first + i; }

namespace detail {
constexpr bool counter_space_is_partitioned() noexcept {
    constexpr int n = sizeof kCounterSpace / sizeof kCounterSpace[0];
    std::uint64_t end = 0;  // where the previous range stops
    for (int i = 0; i < n; ++i) {
        const CounterRange r = kCounterSpace[i];
        if (static_cast<int>(r.kind) != i || r.count == 0 || r.first < end) return false;
        end = std::uint64_t{r.first} + r.count;
    }
    return end <= (std::uint64_t{1} << 32);
}
}  // namespace detail

static_assert(detail::counter_space_is_partitioned(),
              "each kind of draw owns one non-empty range of the first counter word, in order, none overlapping");

}  // namespace gradlime
