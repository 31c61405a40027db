// SmoothGrad's and C-LIME's per-point sums over Gaussian perturbations of a native network,
// written once for the host and the GPU (GRADLIME_HD). A point's samples are taken in order, s =
// 0, 1, ..., n - 1; what a sample adds to each sum is a function of that sample alone, so every
// sum is the same sequence of IEEE operations whoever computes it: a CUDA block hands its samples
// to its threads (draw and network, device/network_row.hpp) and each entry of a sum to one owner
// thread, which adds the samples in order; the host reference (cpp/src/device_gaussian.cpp) runs
// the same functions in one loop. Neither the thread count nor the tile size enters a result.
//
// Sums, per point (paper 1's estimators, section 2):
//   gradient moments   sample s adds g - g_0 and its square to lane s mod 8 of each feature's
//                      sums, g_0 the first sample's gradient: GradientMoments' arithmetic
//                      (accumulators.hpp), merged by its tree and finished (gradient_estimate)
//                      as it is, so the same bits from the same gradients;
//   least squares      the lower triangle of sum c c^T and sum c over c = [z; f - fbar] (C-LIME's
//                      LeastSquaresSums, least_squares.hpp), fbar the mean of the point's values;
//   meat               the lower triangle of sum u u^T, u = r (z - zbar), r = (f - fbar) - gbar -
//                      (z - zbar) . v: the HC1 sandwich's middle for the fit's slopes v in z space;
//   Stein              sum t and sum t^2 per feature, t = (z / scale) (f - fbar): the gradient-free
//                      SmoothGrad's terms Sigma^-1 e (f - fbar) (stein.cpp).
// The draws are device/draws.hpp's.
#pragma once

#include <cstdint>

#include "gradlime/device/draws.hpp"
#include "gradlime/hd.hpp"

namespace gradlime::device {

constexpr int kMomentLanes = 8;  // GradientMoments::kLanes

// Feature k's moments: lanes (kMomentLanes sums of deltas, then as many of their squares) and the
// shift g_0, the first sample's gradient. Each lane is its own sum (sample s goes to lane s mod
// 8), so a lane can be summed by its own thread.
GRADLIME_HD inline void moment_lane_add(double g, double shift, int lane, double* lanes) {
    const double delta = g - shift;
    lanes[lane] = add_rn(lanes[lane], delta);
    lanes[kMomentLanes + lane] = add_rn(lanes[kMomentLanes + lane], mul_rn(delta, delta));
}
// Sample s with gradient g.
GRADLIME_HD inline void moment_add(std::uint64_t s, double g, double& shift, double* lanes) {
    if (s == 0) shift = g;
    moment_lane_add(g, shift, static_cast<int>(s % kMomentLanes), lanes);
}

// fbar, the mean of a point's n values, summed in sample order (C-LIME's and Stein's centring).
GRADLIME_HD inline double sequential_mean(const double* f, std::int64_t n) {
    double sum = 0.0;
    for (std::int64_t s = 0; s < n; ++s) sum = add_rn(sum, f[s]);
    return sum / static_cast<double>(n);
}

// The merge tree over one feature's 8 lanes (L: double* or Strided<const double>, the CPU
// engine's (lanes, d) layout).
template <class L>
GRADLIME_HD inline double lane_total(L l) {
    return add_rn(add_rn(add_rn(l[0], l[1]), add_rn(l[2], l[3])), add_rn(add_rn(l[4], l[5]), add_rn(l[6], l[7])));
}

// SmoothGrad's estimate of a feature from its moments over n samples: the mean gradient shift +
// sum / n, and its standard error sqrt(var / n), var the unbiased variance clipped at 0. The CPU
// engine's GradientMoments::mean and stderr_of_mean (accumulators.cpp) are these functions, and
// so is the device's finish (gradient_estimate), which then sends back two numbers a feature,
// not its 16 lanes: the same bits everywhere.
template <class L>
GRADLIME_HD inline double moments_mean(L sum, double shift, std::int64_t n) {
    return add_rn(shift, lane_total(sum) / static_cast<double>(n));
}
template <class L>
GRADLIME_HD inline double moments_stderr(L sum, L sumsq, std::int64_t n) {
    const double nd = static_cast<double>(n), s = lane_total(sum);
    const double var = (lane_total(sumsq) - mul_rn(s, s) / nd) / (nd - 1.0);
    return sqrt((0.0 < var ? var : 0.0) / nd);  // std::max(0.0, var), NaN to 0 as it does
}
// A feature's 16 device lanes (sums, then squares).
GRADLIME_HD inline void gradient_estimate(const double* lanes, double shift, std::int64_t n, double& mean, double& se) {
    mean = moments_mean(lanes, shift, n);
    se = moments_stderr(lanes, lanes + kMomentLanes, n);
}

// Packed lower triangle: entry e of a p x p matrix is (k, l), l <= k, e = k (k + 1) / 2 + l.
GRADLIME_HD inline std::int64_t packed_size(int p) { return static_cast<std::int64_t>(p) * (p + 1) / 2; }
GRADLIME_HD inline void packed_entry(std::int64_t e, int& k, int& l) {
    int r = static_cast<int>((sqrt(8.0 * static_cast<double>(e) + 1.0) - 1.0) / 2.0);
    while (static_cast<std::int64_t>(r) * (r + 1) / 2 > e) --r;
    while (static_cast<std::int64_t>(r + 1) * (r + 2) / 2 <= e) ++r;
    k = r;
    l = static_cast<int>(e - static_cast<std::int64_t>(r) * (r + 1) / 2);
}

// C-LIME's least-squares columns of a sample: c = [z; f - fbar] (d + 1).
// (Z and C, here and below: double* or Strided<double>, device/strided.hpp.)
template <class Z, class C>
GRADLIME_HD inline void least_squares_columns(Z z, int d, double f, double fbar, C c) {
    for (int k = 0; k < d; ++k) c[k] = z[k];
    c[d] = f - fbar;
}

// The meat's columns of a sample: u = r (z - zbar), r = (f - fbar) - gbar - sum_k (z_k - zbar_k) v_k
// (least_squares.cpp's meat_of_rows, Monte Carlo), the fit summed in feature order.
template <class Z, class C>
GRADLIME_HD inline void meat_columns(Z z, int d, double f, double fbar, double gbar, const double* zbar, const double* v,
                                     C u) {
    double fit = 0.0;
    for (int k = 0; k < d; ++k) {
        u[k] = z[k] - zbar[k];
        fit = add_rn(fit, mul_rn(u[k], v[k]));
    }
    const double r = (f - fbar) - gbar - fit;
    for (int k = 0; k < d; ++k) u[k] = mul_rn(u[k], r);
}

// The Stein terms of a sample: t_k = (z_k (1 / s_k)) (f - fbar) (NoiseSampler::dual_rows, then
// SteinEstimator::terms).
template <class Z, class C>
GRADLIME_HD inline void stein_columns(Z z, int d, double f, double fbar, const double* scale, C t) {
    const double g = f - fbar;
    for (int k = 0; k < d; ++k) t[k] = mul_rn(mul_rn(z[k], 1.0 / scale[k]), g);
}

// Entry e of a point's Gram sums over p columns: the packed lower triangle (k, l) for e <
// packed_size(p), then the plain sums of c_k (l < 0), e = packed_size(p) + k.
struct GramEntry {
    int k = 0, l = 0;
};
// The Stein sums are entries 0 .. 2p: the squares (k, k), then the plain sums.
GRADLIME_HD inline GramEntry moment_entry(std::int64_t e, int p) {
    GramEntry g;
    g.k = static_cast<int>(e < p ? e : e - p);
    g.l = e < p ? g.k : -1;
    return g;
}
GRADLIME_HD inline GramEntry gram_entry(std::int64_t e, int p) {
    const std::int64_t tri = packed_size(p);
    GramEntry g;
    if (e < tri) packed_entry(e, g.k, g.l);
    else {
        g.k = static_cast<int>(e - tri);
        g.l = -1;
    }
    return g;
}
// The entry gains sample c's term: c_k c_l, or c_k.
template <class C>
GRADLIME_HD inline void gram_add(const GramEntry& g, C c, double& entry) {
    entry = add_rn(entry, g.l >= 0 ? mul_rn(c[g.k], c[g.l]) : c[g.k]);
}

}  // namespace gradlime::device
