#include "gradlime/lime_fit.hpp"

#include <limits>
#include <stdexcept>
#include <string>

#include "gradlime/accumulators.hpp"

namespace gradlime {

void LimeFitSums::merge(const LimeFitSums& o) {
    P += o.P;
    Q += o.Q;
    W += o.W;
    Y += o.Y;
}

void LimeMeatSums::merge(const LimeMeatSums& o) {
    R += o.R;
    U += o.U;
}

void throw_weights_underflow(Index point, double gap_norm) {
    throw std::invalid_argument("lime: every kernel weight underflows to 0 at point " + std::to_string(point) +
                                " (||x - baseline|| = " + std::to_string(gap_norm) + "); increase kernel_width");
}

void throw_singular_masks(Index point) {
    throw std::invalid_argument("lime: the weighted mask design is singular at point " + std::to_string(point) +
                                "; use more samples or ridge > 0");
}

LimeSolution::LimeSolution(const LimeFitSums& fit, double ridge, Index point, double gap_norm) {
    if (!(fit.W > 0.0)) throw_weights_underflow(point, gap_norm);
    const Index d = fit.P.rows();
    const Vector Sz = fit.P.diagonal();
    mean_z_ = Sz / fit.W;
    Matrix A = fit.P;
    for (Index k = 0; k < d; ++k)
        for (Index l = 0; l <= k; ++l) A(k, l) -= Sz[k] * Sz[l] / fit.W;
    A.diagonal().array() += ridge;
    llt_.compute(A);  // reads the lower triangle
    if (llt_.info() != Eigen::Success) throw_singular_masks(point);
    coef_ = llt_.solve(fit.Q - Sz * (fit.Y / fit.W));
    intercept_ = fit.Y / fit.W - mean_z_.dot(coef_);
}

Vector LimeSolution::stderr_of(const LimeMeatSums& sums, Index n, const std::function<void()>& check) const {
    const Index d = coef_.size();
    if (n <= d + 1) return Vector::Constant(d, std::numeric_limits<double>::quiet_NaN());  // no degrees of freedom left
    // sum u (z - m)(z - m)^T = R - m Ru^T - Ru m^T + U m m^T, Ru = diag R = sum u z.
    const Matrix& R = sums.R;
    const Vector& m = mean_z_;
    Matrix meat = Matrix::Zero(d, d);
    for (Index k = 0; k < d; ++k)
        for (Index l = 0; l <= k; ++l) meat(k, l) = ((R(k, l) - m[k] * R(l, l)) - R(k, k) * m[l]) + sums.U * m[k] * m[l];
    const double nd = static_cast<double>(n);
    return sandwich_stderr(llt_, meat, nd / (nd - static_cast<double>(d) - 1.0), check);
}

}  // namespace gradlime
