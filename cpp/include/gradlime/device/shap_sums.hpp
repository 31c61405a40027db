// KernelSHAP's model evaluations (shap.hpp), written once for the host and the GPU (GRADLIME_HD):
// a coalition's value sum over the background rows, the rows in order, as the CPU engine forms it
// (kernel_shap.cpp's take and take_block: each value as a double, added to a sum starting at 0).
#pragma once

#include <cstdint>

#include "gradlime/hd.hpp"

namespace gradlime::device {

// Bit k of a packed mask (word k / 64, bit k % 64): feature k is kept from x.
GRADLIME_HD inline bool mask_keeps(const std::uint64_t* mask, int k) { return (mask[k / 64] >> (k % 64)) & 1u; }

// sum over b = 0 .. B - 1 of f(x~_b), x~_b = mask ? x : background row b, in float as the network
// sees it (mask null: f(x) itself, once). value(work) evaluates the row in work[0 .. d), work being
// row_scratch floats (the network row: device/network_row.hpp).
template <class Value>
GRADLIME_HD inline double coalition_sum(int d, const double* x, const double* background, std::int64_t B,
                                        const std::uint64_t* mask, float* work, Value&& value) {
    if (!mask) {
        for (int k = 0; k < d; ++k) work[k] = static_cast<float>(x[k]);
        return static_cast<double>(value(work));
    }
    double sum = 0.0;
    for (std::int64_t b = 0; b < B; ++b) {
        const double* bg = background + b * d;
        for (int k = 0; k < d; ++k) work[k] = static_cast<float>(mask_keeps(mask, k) ? x[k] : bg[k]);
        sum = sum + static_cast<double>(value(work));
    }
    return sum;
}

}  // namespace gradlime::device
