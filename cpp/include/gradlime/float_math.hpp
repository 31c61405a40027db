// Single-precision exp, expm1 and log1p for the network's activations: straight-line polynomial
// code that GCC vectorises across a block of rows (glibc's scalar expf/expm1f/tanhf are not), with
// IEEE +, -, *, / and bit operations only, so a row's value does not depend on which lanes it
// shares. Accuracy is a few float ulps, the precision the networks are stored in.
#pragma once

#include <cstdint>
#include <cstring>

#include "gradlime/hd.hpp"

namespace gradlime::fmath {

GRADLIME_HD inline float bits_to_float(std::int32_t b) {
    float f;
    std::memcpy(&f, &b, sizeof f);
    return f;
}

GRADLIME_HD inline float abs(float x) { return x < 0.0f ? -x : x; }

namespace detail {

// x = k ln2 + r with |r| <= ln2/2 (Cody-Waite split of ln2; x clamped to [-87, 88]); returns r and
// sets scale = 2^k. k is rounded with the 1.5 * 2^23 trick: branch-free, exact here.
// A NaN x gives r = NaN (so the result is NaN) with k from -87: converting a NaN k to an integer
// and shifting it would be undefined behaviour (UBSan found it).
GRADLIME_HD inline float reduce(float x, float& scale) {
    const float c = x >= -87.0f ? (x > 88.0f ? 88.0f : x) : -87.0f;  // NaN: -87
    const float kf = (c * 1.44269504f + 12582912.0f) - 12582912.0f;
    scale = bits_to_float(static_cast<std::int32_t>(static_cast<std::uint32_t>(static_cast<std::int32_t>(kf) + 127) << 23));
    const float r = (c - kf * 0.693359375f) + kf * 2.12194440e-4f;
    return x == x ? r : x;
}

// e^r - 1 for |r| <= ln2/2 by its Taylor series to r^7 (truncation < 2e-8 relative).
GRADLIME_HD inline float expm1_reduced(float r) {
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    return r + (r * r) * p;
}

}  // namespace detail

// e^x = 2^k (1 + (e^r - 1)).
GRADLIME_HD inline float exp(float x) {
    float scale;
    const float r = detail::reduce(x, scale);
    return scale * (detail::expm1_reduced(r) + 1.0f);
}

// e^x - 1, accurate near 0 (where exp(x) - 1 would cancel): 2^k (e^r - 1) + (2^k - 1), which is
// e^r - 1 itself for |x| < ln2/2.
GRADLIME_HD inline float expm1(float x) {
    float scale;
    const float r = detail::reduce(x, scale);
    return scale * detail::expm1_reduced(r) + (scale - 1.0f);
}

// log(1 + u) for u in [0, 1]: 2 atanh(s), s = u / (2 + u) <= 1/3, odd series to s^15.
GRADLIME_HD inline float log1p_unit(float u) {
    const float s = u / (2.0f + u), s2 = s * s;
    float p = 1.0f / 15.0f;
    p = p * s2 + 1.0f / 13.0f;
    p = p * s2 + 1.0f / 11.0f;
    p = p * s2 + 1.0f / 9.0f;
    p = p * s2 + 1.0f / 7.0f;
    p = p * s2 + 1.0f / 5.0f;
    p = p * s2 + 1.0f / 3.0f;
    p = p * s2 + 1.0f;
    return 2.0f * s * p;
}

GRADLIME_HD inline float tanh(float x) {
    const float t = expm1(-2.0f * abs(x));  // tanh|x| = -t / (t + 2)
    const float a = -t / (t + 2.0f);
    return x < 0.0f ? -a : a;
}

GRADLIME_HD inline float sigmoid(float x) {
    const float e = exp(-abs(x));
    const float s = 1.0f / (1.0f + e);
    return x >= 0.0f ? s : e * s;
}

// log(1 + e^x) without overflow.
GRADLIME_HD inline float softplus(float x) { return (x > 0.0f ? x : 0.0f) + log1p_unit(exp(-abs(x))); }

}  // namespace gradlime::fmath
