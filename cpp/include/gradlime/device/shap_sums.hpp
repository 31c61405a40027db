// KernelSHAP's model evaluations (shap.hpp), written once for the host and the GPU (GRADLIME_HD):
// a coalition's value sum over the background rows, the rows in order, as the CPU engine forms it
// (kernel_shap.cpp's take and take_block: each value as a double, added to a sum starting at 0).
#pragma once

#include <cstdint>

#include "gradlime/hd.hpp"

namespace gradlime::device {

// The coalitions of one point (shap.hpp's ShapleyCoalitions). Exact: coalition j keeps the
// features of the bits of j + 1. Sampled: coalition j is reference pair j / 2's first coalition (j
// even) or its complement (j odd), feature i of the reference being feature perm(i) of the point
// (ShapleyCoalitions::pack), so feature k is kept when bit inverse(k) of the pair's mask differs
// from j's parity.
struct Coalitions {
    bool exact = false;
    const std::uint64_t* pairs = nullptr;  // sampled: each pair's first coalition, `words` 64-bit words
    int words = 0;
    const std::int32_t* inverse = nullptr;  // sampled: the point's inverse permutation, d
    GRADLIME_HD bool keeps(long long j, int k) const {
        if (exact) return ((static_cast<std::uint64_t>(j) + 1) >> k) & 1u;
        const int i = inverse[k];
        const bool in_pair = (pairs[(j / 2) * words + i / 64] >> (i % 64)) & 1u;
        return in_pair != ((j & 1) != 0);
    }
};

// f(x) in float as the network sees it; value(work) evaluates the row in work[0 .. d), work being
// row_scratch floats (the network row: device/network_row.hpp).
template <class Work, class Value>
GRADLIME_HD inline double point_value(int d, const double* x, Work work, Value&& value) {
    for (int k = 0; k < d; ++k) work[k] = static_cast<float>(x[k]);
    return static_cast<double>(value(work));
}

// Coalition j's sum over b = 0 .. B - 1 of f(x~_b), x~_b = (kept ? x : background row b).
template <class Work, class Value>
GRADLIME_HD inline double coalition_sum(int d, const double* x, const double* background, std::int64_t B,
                                        const Coalitions& c, long long j, Work work, Value&& value) {
    double sum = 0.0;
    for (std::int64_t b = 0; b < B; ++b) {
        const double* bg = background + b * d;
        for (int k = 0; k < d; ++k) work[k] = static_cast<float>(c.keeps(j, k) ? x[k] : bg[k]);
        sum = sum + static_cast<double>(value(work));
    }
    return sum;
}

}  // namespace gradlime::device
