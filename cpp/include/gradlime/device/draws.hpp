// One sample's draws, written once for the host and the GPU (GRADLIME_HD): the standard draws z
// a device backend's sums are made of and the network's float input a. A point's sample s is a
// pure function of (seed, stream, s), the CPU engine's counters, so a device draws what the CPU
// draws:
//   Gaussian  z standard normal (gaussian_pair: rng/layouts.hpp's gaussian_row), a = x + scale .* z;
//   Uniform   z uniform in (0, 1) (uniform_pair), a = x + scale .* (2z - 1): the cube of
//             half-widths scale (UniGrad);
//   Masks     z in {0, 1}^d, LIME's Bernoulli(1/2) mask (lime_mask_row), a = z ? x : baseline.
#pragma once

#include <cstdint>

#include "gradlime/hd.hpp"
#include "gradlime/rng/lime_mask_row.hpp"
#include "gradlime/rng/normal.hpp"
#include "gradlime/rng/philox.hpp"

namespace gradlime::device {

enum class Draws : int { Gaussian, Uniform, Masks };

// One point's perturbations.
struct PointDraws {
    const double* x = nullptr;
    const double* scale = nullptr;     // Gaussian, Uniform: standard deviations (half-widths), d
    const double* baseline = nullptr;  // Masks: a masked-out feature's value, d
    int d = 0;
    Key key{};
    std::uint32_t stream = 0;
    Draws draws = Draws::Gaussian;
};

// Double additions and products that are never fused into one rounding (the host build's
// -ffp-contract=off, on the GPU the _rn intrinsics), so the draws' and the sums' bits are the host's.
GRADLIME_HD inline double add_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
    return __dadd_rn(a, b);
#else
    return a + b;
#endif
}
GRADLIME_HD inline double mul_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
    return __dmul_rn(a, b);
#else
    return a * b;
#endif
}

// Sample s's standard draws z (d) and the network's float input a (gaussian_family.cpp's
// fill_block, NoiseSampler::perturb's uniform cube, lime.cpp's fill_block: each the same
// operations on the same counters).
// Z and A: double* and float*, or Strided ones (device/strided.hpp).
template <class Z, class A>
GRADLIME_HD inline void draw_sample(const PointDraws& p, std::uint64_t s, Z z, A a) {
    if (p.draws == Draws::Masks) {
        lime_mask_row(p.key, p.stream, s, p.d, z);
        for (int k = 0; k < p.d; ++k) a[k] = static_cast<float>(z[k] != 0.0 ? p.x[k] : p.baseline[k]);
        return;
    }
    const bool uniform = p.draws == Draws::Uniform;
    for (int k = 0; 2 * k < p.d; ++k) {
        double z0, z1;
        if (uniform) uniform_pair(p.key, static_cast<std::uint32_t>(k), s, p.stream, z0, z1);
        else gaussian_pair(p.key, static_cast<std::uint32_t>(k), s, p.stream, z0, z1);
        z[2 * k] = z0;
        if (2 * k + 1 < p.d) z[2 * k + 1] = z1;
    }
    for (int k = 0; k < p.d; ++k) {
        const double e = uniform ? mul_rn(p.scale[k], add_rn(mul_rn(2.0, z[k]), -1.0)) : mul_rn(p.scale[k], z[k]);
        a[k] = static_cast<float>(add_rn(p.x[k], e));
    }
}

}  // namespace gradlime::device
