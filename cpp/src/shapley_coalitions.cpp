// The coalitions KernelSHAP fits on (shap.hpp): enumerated with their Shapley-kernel weights, or
// drawn from the kernel (rng/masks.hpp).
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "gradlime/rng/masks.hpp"
#include "gradlime/shap.hpp"

namespace gradlime {

ShapleyCoalitions::ShapleyCoalitions(Index d, bool exact, Index n_coalitions, std::uint64_t seed)
    : d_(d), n_(n_coalitions), exact_(exact), seed_(seed) {
    if (d < 1) throw std::invalid_argument("kernel_shap needs at least one feature");
    if (exact) {
        if (d > 62) throw std::invalid_argument("exact enumeration needs d <= 62; got d = " + std::to_string(d));
        n_ = (Index(1) << d) - 2;
        size_weight_.assign(static_cast<size_t>(d + 1), 0.0);
        for (Index s = 1; s < d; ++s) {
            double binom = 1.0;
            for (Index k = 1; k <= s; ++k) binom = binom * static_cast<double>(d - s + k) / static_cast<double>(k);
            size_weight_[static_cast<size_t>(s)] =
                static_cast<double>(d - 1) / (binom * static_cast<double>(s) * static_cast<double>(d - s));
        }
        return;
    }
    if (d < 2) throw std::invalid_argument("sampled coalitions need d >= 2 (d = 1 is always exact)");
    if (n_coalitions < 2) throw std::invalid_argument("n_samples must be >= 2 (one coalition and its complement)");
    design_ = ShapleyDesign::make(d, n_coalitions, seed);
    n_ = 2 * design_.pairs;
}

void ShapleyCoalitions::permutation(std::uint32_t point, std::vector<Index>& perm) const {
    perm.resize(static_cast<size_t>(d_));
    feature_permutation(key_from_seed(seed_), point, d_, perm.data());
}

double ShapleyCoalitions::mask(std::uint32_t point, Index j, std::uint8_t* z) const {
    const Index d = d_;
    if (exact_) {
        const auto bits = static_cast<std::uint64_t>(j) + 1;
        Index s = 0;
        for (Index k = 0; k < d; ++k) s += (z[k] = static_cast<std::uint8_t>((bits >> k) & 1u));
        return size_weight_[static_cast<size_t>(s)];
    }
    std::vector<std::uint64_t> w(static_cast<size_t>(design_.words), 0);
    pack(point, j, 1, w.data());
    for (Index k = 0; k < d; ++k) z[k] = static_cast<std::uint8_t>((w[static_cast<size_t>(k / 64)] >> (k % 64)) & 1u);
    return 1.0;
}

void ShapleyCoalitions::pack(std::uint32_t point, Index first, Index count, std::uint64_t* w) const {
    const Index d = d_, words = (d + 63) / 64;
    if (exact_) {
        std::vector<std::uint8_t> z(static_cast<size_t>(d));
        for (Index j = first; j < first + count; ++j, w += words) {
            mask(point, j, z.data());
            for (Index i = 0; i < d; ++i) w[i / 64] |= static_cast<std::uint64_t>(z[static_cast<size_t>(i)]) << (i % 64);
        }
        return;
    }
    thread_local std::vector<Index> perm;
    permutation(point, perm);
    for (Index j = first; j < first + count; ++j, w += words) {
        const std::uint64_t* ref = design_.masks.data() + (j / 2) * words;
        for (Index i = 0; i < d; ++i)
            if (static_cast<Index>(ref[i / 64] >> (i % 64) & 1u) != (j & 1))
                w[perm[static_cast<size_t>(i)] / 64] |= std::uint64_t{1} << (perm[static_cast<size_t>(i)] % 64);
    }
}

// Fills `distinct` and `source` from the point's packed masks: open addressing on a hash of the
// words, whose only effect is speed (each mask maps to its first occurrence whatever the hash).
void first_occurrences(const std::uint64_t* masks, Index n, Index words, std::vector<Index>& distinct,
                       std::vector<Index>& source) {
    Index cap = 1;
    while (cap < 2 * n) cap *= 2;
    thread_local std::vector<Index> table;
    table.assign(static_cast<size_t>(cap), -1);
    distinct.clear();
    source.resize(static_cast<size_t>(n));
    for (Index j = 0; j < n; ++j) {
        const std::uint64_t* w = masks + j * words;
        std::uint64_t h = 0;
        for (Index i = 0; i < words; ++i) h = (h ^ w[i]) * 0x9E3779B97F4A7C15ull;
        for (auto slot = static_cast<Index>(h >> 20) & (cap - 1);; slot = (slot + 1) & (cap - 1)) {
            Index& at = table[static_cast<size_t>(slot)];
            if (at < 0) {
                at = j;
                distinct.push_back(j);
                source[static_cast<size_t>(j)] = j;
                break;
            }
            if (std::equal(w, w + words, masks + at * words)) {
                source[static_cast<size_t>(j)] = at;
                break;
            }
        }
    }
}

}  // namespace gradlime
