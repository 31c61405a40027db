// LIME's per-point sums over binary masks (lime.hpp), written once for the host and the GPU
// (GRADLIME_HD): what sample s of a point adds to its fit and to its sandwich's middle. Each
// sample's numbers are lime.cpp's, the same operations in the same order (the kernel weight, the
// residual); only the order in which samples are summed differs from the CPU's lanes and chunks.
//
//   fit   over c = [z; y'; 1] with weight pi = exp(-||x - x~|| / width^2), y' = f - f_0 (f_0 the
//         point's first value): the lower triangle of sum pi c c^T holds lime.cpp's FitSums,
//         P = sum pi z z^T, Q = sum pi y' z, Y = sum pi y' and W = sum pi;
//   meat  over c = [z; 1] with weight u = (pi r)^2, r = y' - b - z . coef: MeatSums' R = sum u z
//         z^T and U = sum u.
#pragma once

#include <cmath>

#include "gradlime/device/draws.hpp"
#include "gradlime/exp_nonpositive.hpp"
#include "gradlime/hd.hpp"

namespace gradlime::device {

// pi(z) = exp(-sqrt(sum over the dropped features of (x_k - b_k)^2) / width^2), the squares added
// in feature order: lime.cpp's pass 1, for one sample.
template <class Z>
GRADLIME_HD inline double lime_weight(const PointDraws& p, Z z, double inv_width2) {
    double dist2 = 0.0;
    for (int k = 0; k < p.d; ++k) {
        const double gap = p.x[k] - p.baseline[k];
        if (z[k] == 0.0) dist2 = add_rn(dist2, mul_rn(gap, gap));
    }
    const double arg = mul_rn(0.0 - sqrt(dist2), inv_width2);
    return exp_kernel::exp_nonpositive(
        arg, [](double a, double b) { return mul_rn(a, b); }, [](double a, double b) { return add_rn(a, b); });
}

// The fit's columns c = [z; f - f0; 1] (d + 2); returns the weight.
template <class Z, class C>
GRADLIME_HD inline double lime_fit_columns(const PointDraws& p, Z z, double f, double f0, double inv_width2, C c) {
    for (int k = 0; k < p.d; ++k) c[k] = z[k];
    c[p.d] = f - f0;
    c[p.d + 1] = 1.0;
    return lime_weight(p, z, inv_width2);
}

// The sandwich's columns c = [z; 1] (d + 1); returns u = (pi r)^2, r = ((f - f0) - intercept) -
// z . coef, z . coef summed in feature order over the kept features.
template <class Z, class C>
GRADLIME_HD inline double lime_meat_columns(const PointDraws& p, Z z, double f, double f0, double inv_width2,
                                            const double* coef, double intercept, C c) {
    double zc = 0.0;
    for (int k = 0; k < p.d; ++k) {
        c[k] = z[k];
        if (z[k] != 0.0) zc = add_rn(zc, coef[k]);
    }
    c[p.d] = 1.0;
    const double r = ((f - f0) - intercept) - zc;
    const double wr = mul_rn(lime_weight(p, z, inv_width2), r);
    return mul_rn(wr, wr);
}

}  // namespace gradlime::device
