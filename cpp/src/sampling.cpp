#include "gradlime/sampling.hpp"

#include "gradlime/rng/layouts.hpp"
#include "gradlime/rng/sobol.hpp"

#include <Eigen/Cholesky>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace gradlime {

NoiseSampler NoiseSampler::diagonal(const Vector& stddev) {
    if (stddev.size() == 0) throw std::invalid_argument("sigma: need at least one coordinate");
    for (Index i = 0; i < stddev.size(); ++i) {
        if (!(std::isfinite(stddev[i]) && stddev[i] > 0.0))
            throw std::invalid_argument("sigma must be finite and > 0 (a standard deviation); got " +
                                        std::to_string(stddev[i]) + " at coordinate " +
                                        std::to_string(i));
    }
    NoiseSampler s;
    s.dim_ = stddev.size();
    s.diagonal_ = true;
    s.stddev_ = stddev;
    return s;
}

NoiseSampler NoiseSampler::full(const Matrix& cov) {
    const Index d = cov.rows();
    if (d == 0 || cov.cols() != d)
        throw std::invalid_argument("cov must be a square (d, d) matrix");
    if (!cov.allFinite()) throw std::invalid_argument("cov contains NaN or inf");
    const double scale = cov.cwiseAbs().maxCoeff();
    if ((cov - cov.transpose()).cwiseAbs().maxCoeff() > 1e-10 * scale)
        throw std::invalid_argument("cov must be symmetric");
    Eigen::LLT<Matrix> llt(0.5 * (cov + cov.transpose()));
    Matrix L = llt.matrixL();
    // LLT reports failure only on a non-positive pivot; also refuse numerically singular factors,
    // whose Sigma^-1 would amplify rounding error beyond use.
    const double dmin = L.diagonal().minCoeff(), dmax = L.diagonal().maxCoeff();
    if (llt.info() != Eigen::Success || !(dmin > 1e-7 * dmax))
        throw std::invalid_argument(
            "cov must be symmetric positive definite (its Cholesky factorisation failed or is "
            "numerically singular)");
    NoiseSampler s;
    s.dim_ = d;
    s.diagonal_ = false;
    s.chol_ = L.triangularView<Eigen::Lower>();
    return s;
}

NoiseSampler NoiseSampler::independent(NoiseKind kind, const Vector& scale) {
    NoiseSampler s = diagonal(scale);  // same checks: finite and > 0
    s.kind_ = kind;
    return s;
}

void NoiseSampler::draw(std::uint64_t seed, std::uint32_t stream, std::uint64_t first, Index m, double* out,
                        const SampleScheme& scheme) const {
    if (scheme.qmc()) return qmc_draws(seed, stream, scheme, first, m, dim_, is_gaussian(), out, dim_, 1);
    if (kind_ == NoiseKind::Gaussian) gaussian_rows(seed, stream, first, m, dim_, out, dim_);
    else uniform_rows(seed, stream, first, m, dim_, out, dim_);
    if (!scheme.antithetic || m == 0) return;
    // Antithetic: odd samples mirror the draw of the even one before them (drawn here when it lies
    // outside [first, first + m)): -z for the Gaussian, 1 - u for the uniforms (so eps -> -eps).
    std::vector<double> before;
    if (first % 2 == 1) {
        before.resize(static_cast<size_t>(dim_));
        if (kind_ == NoiseKind::Gaussian) gaussian_rows(seed, stream, first - 1, 1, dim_, before.data(), dim_);
        else uniform_rows(seed, stream, first - 1, 1, dim_, before.data(), dim_);
    }
    const bool gaussian = kind_ == NoiseKind::Gaussian;
    for (Index t = 0; t < m; ++t) {
        if ((first + static_cast<std::uint64_t>(t)) % 2 == 0) continue;
        const double* even = t == 0 ? before.data() : out + (t - 1) * dim_;
        for (Index k = 0; k < dim_; ++k) out[t * dim_ + k] = gaussian ? -even[k] : 1.0 - even[k];
    }
}

void NoiseSampler::draw_columns(std::uint64_t seed, std::uint32_t stream, std::uint64_t first, Index m, double* out,
                                Index ld, const SampleScheme& scheme) const {
    if (scheme.qmc()) return qmc_draws(seed, stream, scheme, first, m, dim_, is_gaussian(), out, 1, ld);
    if (!is_gaussian()) throw std::logic_error("draw_columns: Monte Carlo columns are Gaussian only");
    gaussian_columns(seed, stream, first, m, dim_, out, ld);
    if (!scheme.antithetic) return;
    if (first % 2 != 0) throw std::logic_error("draw_columns: antithetic blocks start at an even sample");
    for (Index k = 0; k < dim_; ++k)
        for (Index t = 1; t < m; t += 2) out[k * ld + t] = -out[k * ld + t - 1];
}

void NoiseSampler::perturb(const double* z, double* eps) const {
    if (kind_ == NoiseKind::Uniform) {
        for (Index k = 0; k < dim_; ++k) eps[k] = stddev_[k] * (2.0 * z[k] - 1.0);
        return;
    }
    if (kind_ == NoiseKind::Laplace) {  // inverse CDF; u in (0, 1) keeps the log finite
        for (Index k = 0; k < dim_; ++k) {
            const double c = z[k] - 0.5;
            eps[k] = (c < 0.0 ? stddev_[k] : -stddev_[k]) * std::log1p(-2.0 * std::fabs(c));
        }
        return;
    }
    if (diagonal_) {
        for (Index k = 0; k < dim_; ++k) eps[k] = stddev_[k] * z[k];
        return;
    }
    // eps_i = sum_{k<=i} L_ik z_k, summed in a fixed order.
    for (Index i = 0; i < dim_; ++i) {
        double acc = 0.0;
        for (Index k = 0; k <= i; ++k) acc += chol_(i, k) * z[k];
        eps[i] = acc;
    }
}

void NoiseSampler::dual_rows(const RowMatrix& Z, RowMatrix& T) const {
    if (diagonal_) {  // t_ij = z_ij / s_j, as z_ij * (1 / s_j)
        T = Z.array().rowwise() * stddev_.cwiseInverse().transpose().array();
    } else {
        T = Z;
        chol_.triangularView<Eigen::Lower>().solveInPlace<Eigen::OnTheRight>(T);
    }
}

void validate_scheme(const SampleScheme& scheme, Index n_samples) {
    const int R = scheme.scrambles;
    if (R != 0 && (R < 2 || R > kMaxQmcScrambles || (R & (R - 1)) != 0))
        throw std::invalid_argument("qmc needs 2, 4, 8, 16 or 32 scrambles (independent randomisations); got " +
                                    std::to_string(R));
    if (!scheme.qmc() && scheme.antithetic && n_samples % 2 != 0)
        throw std::invalid_argument("antithetic draws come in pairs: n_samples must be even; got " +
                                    std::to_string(n_samples));
    if (scheme.qmc() && n_samples % scheme.round() != 0)
        throw std::invalid_argument("qmc with " + std::to_string(R) + " scrambles" +
                                    (scheme.antithetic ? " of antithetic pairs" : "") +
                                    " needs n_samples (and max_samples) a multiple of " +
                                    std::to_string(scheme.round()) + "; got " + std::to_string(n_samples));
}

}  // namespace gradlime
