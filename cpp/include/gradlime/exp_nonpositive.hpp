// e^x for x <= 0 with IEEE +, -, *, / only, so that every path gets the same bits: x = k ln2 + r,
// |r| <= ln2 / 2 (Cody-Waite), e^r by its Taylor series to r^12 (truncation < 2e-16 relative),
// times 2^k built in the exponent bits; below -708 (where e^x leaves the normal range) 0. LIME's
// kernel weights: lanes::exp_nonpositive (simd/lanes.hpp) runs these operations eight lanes at a
// time on the CPU, exp_nonpositive below one number at a time on the host or a GPU (GRADLIME_HD;
// compiled there without contraction: device/draws.hpp's add_rn and mul_rn).
#pragma once

#include <cstdint>
#include <cstring>

#include "gradlime/hd.hpp"

namespace gradlime::exp_kernel {

constexpr double kShifter = 0x1.8p52;  // t = x log2(e) + 1.5 * 2^52: k, rounded, in t's low bits
constexpr double kLog2e = 1.4426950408889634;
constexpr double kLn2Hi = 0x1.62e42fefa3800p-1, kLn2Lo = 0x1.ef35793c76730p-45;
constexpr double kTaylorTop = 1.0 / 479001600.0;  // 1 / 12!
constexpr int kTaylorTerms = 12;
// The rest of the series, highest order first: 1 / 11!, ..., 1 / 2, 1, 1 (a function: device
// code reads no host arrays).
GRADLIME_HD constexpr double taylor(int i) {
    const double c[kTaylorTerms] = {1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0,
                                    1.0 / 5040.0,     1.0 / 720.0,     1.0 / 120.0,    1.0 / 24.0,
                                    1.0 / 6.0,        0.5,             1.0,            1.0};
    return c[i];
}
constexpr std::int64_t kShifterBits = 0x4338000000000000LL;  // the bits of kShifter
constexpr double kUnderflow = -708.0;

// The scalar form; mul and add are the caller's uncontracted products and sums.
template <class Mul, class Add>
GRADLIME_HD inline double exp_nonpositive(double x, Mul mul, Add add) {
    const double t = add(mul(x, kLog2e), kShifter);
    const double kf = add(t, -kShifter);
    const double r = add(add(x, -mul(kf, kLn2Hi)), -mul(kf, kLn2Lo));
    double p = kTaylorTop;
    for (int i = 0; i < kTaylorTerms; ++i) p = add(mul(p, r), taylor(i));
    std::uint64_t bits;
    std::memcpy(&bits, &t, sizeof bits);
    // 2^k in the exponent bits, k = bits - kShifterBits, in unsigned (wrapping) arithmetic: below
    // -708, where k + 1023 leaves the exponent's range, the answer is 0 whatever the bits.
    const std::uint64_t scale_bits = (bits - static_cast<std::uint64_t>(kShifterBits) + 1023u) << 52;
    double scale;
    std::memcpy(&scale, &scale_bits, sizeof scale);
    return x < kUnderflow ? 0.0 : mul(p, scale);
}

}  // namespace gradlime::exp_kernel
