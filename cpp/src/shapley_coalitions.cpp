// The coalitions KernelSHAP fits on (shap.hpp): enumerated with their Shapley-kernel weights, or
// drawn from the kernel (rng/masks.hpp).
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "gradlime/rng/masks.hpp"
#include "gradlime/shap.hpp"

namespace gradlime {

ShapleyCoalitions::ShapleyCoalitions(Index d, bool exact, const std::vector<Index>& budgets, std::uint64_t seed)
    : d_(d), n_(budgets.empty() ? 0 : budgets.back()), exact_(exact), seed_(seed) {
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
    if (n_ < 2) throw std::invalid_argument("n_samples must be >= 2 (one coalition and its complement)");
    design_ = ShapleyDesign::make(d, budgets, seed);
    n_ = 2 * design_.pairs;
}

void ShapleyCoalitions::permutation(std::uint32_t point, std::vector<Index>& perm) const {
    perm.resize(static_cast<size_t>(d_));
    feature_permutation(key_from_seed(seed_), point, d_, perm.data());
}

double ShapleyCoalitions::exact_mask(Index j, std::uint8_t* z) const {
    const auto bits = static_cast<std::uint64_t>(j) + 1;
    Index s = 0;
    for (Index k = 0; k < d_; ++k) s += (z[k] = static_cast<std::uint8_t>((bits >> k) & 1u));
    return size_weight_[static_cast<size_t>(s)];
}

void ShapleyCoalitions::pack(std::uint32_t point, Index first, Index count, std::uint64_t* w) const {
    const Index d = d_, words = (d + 63) / 64;
    thread_local std::vector<Index> perm;
    permutation(point, perm);
    for (Index j = first; j < first + count; ++j, w += words) {
        const std::uint64_t* ref = design_.masks.data() + (j / 2) * words;
        for (Index i = 0; i < d; ++i)
            if (static_cast<Index>(ref[i / 64] >> (i % 64) & 1u) != (j & 1))
                w[perm[static_cast<size_t>(i)] / 64] |= std::uint64_t{1} << (perm[static_cast<size_t>(i)] % 64);
    }
}

}  // namespace gradlime
