// LIME's fit from a point's raw weighted sums over its masks (lime.hpp): the weighted ridge
// solve and its HC1 sandwich standard errors, the CPU engine's (lime.cpp forms the sums over
// lanes and chunks). A device backend fits from its own sums with device/fits.hpp, which follows
// this arithmetic with its own Cholesky (HD code cannot call Eigen), and says its errors in these
// words (throw_weights_underflow, throw_singular_masks).
#pragma once

#include <functional>

#include <Eigen/Cholesky>

#include "gradlime/types.hpp"

namespace gradlime {

// The fit's raw sums, y' = y - y_0 (the point's first value: shifting keeps the centring below
// accurate when f has a large offset): P(k, l) = sum w z_k z_l (lower triangle; P(k, k) = sum w
// z_k, the masks being 0/1), Q(k) = sum w z_k y', W = sum w, Y = sum w y'.
struct LimeFitSums {
    Matrix P;
    Vector Q;
    double W = 0.0, Y = 0.0;
    void merge(const LimeFitSums& o);
};

// The sandwich's raw sums: R(k, l) = sum u z_k z_l (lower triangle), U = sum u, u = (w r)^2.
struct LimeMeatSums {
    Matrix R;
    double U = 0.0;
    void merge(const LimeMeatSums& o);
};

// What LIME says of a point where every kernel weight underflowed (gap_norm = ||x - baseline||),
// or whose design is singular: the CPU engine and the device alike.
[[noreturn]] void throw_weights_underflow(Index point, double gap_norm);
[[noreturn]] void throw_singular_masks(Index point);

// Weighted centring removes the unpenalised intercept (Frisch-Waugh); what is left is (S_zz +
// ridge I) c = S_zy, the normal equations of sklearn's Ridge with sample_weight, with S_zz = P -
// Sz Sz^T / W and S_zy = Q - Sz Y / W (Sz = diag P).
class LimeSolution {
public:
    // Throws std::invalid_argument naming `point` when every weight underflowed (W = 0;
    // gap_norm = ||x - baseline|| goes in the message) or the design is singular.
    LimeSolution(const LimeFitSums& sums, double ridge, Index point, double gap_norm);
    const Vector& coef() const { return coef_; }
    // b in y' = b + z . c.
    double intercept() const { return intercept_; }
    // The weighted HC1 sandwich A^-1 [sum w_i^2 r_i^2 (z_i - zbar)(z_i - zbar)^T] A^-1 n / (n - d -
    // 1) from the raw sums over the same n samples (NaN when n <= d + 1); check() runs between
    // blocks of the O(d^3) sandwich.
    Vector stderr_of(const LimeMeatSums& meat, Index n, const std::function<void()>& check) const;

private:
    Eigen::LLT<Matrix> llt_;
    Vector coef_, mean_z_;
    double intercept_ = 0.0;
};

}  // namespace gradlime
