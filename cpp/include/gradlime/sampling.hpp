// Gaussian perturbations eps ~ N(0, Sigma) for Sigma = sigma^2 I, diag(s^2) or a full SPD matrix.
//
// Sigma is held as a Cholesky factor L (Sigma = L L^T), so eps = L z for z ~ N(0, I), and the
// dual direction Sigma^-1 eps = L^-T z that the Stein estimator needs (paper 1, Lemma 1) is a
// triangular solve, never an explicit inverse.
#pragma once

#include <string>

#include "gradlime/types.hpp"

namespace gradlime {

class GaussianSampler {
public:
    // Per-coordinate standard deviations; isotropic noise is the constant vector.
    static GaussianSampler diagonal(const Vector& stddev);
    // A full covariance; throws std::invalid_argument unless symmetric positive definite.
    static GaussianSampler full(const Matrix& cov);

    Index dim() const { return dim_; }
    bool is_diagonal() const { return diagonal_; }

    // eps = L z for one row (z and eps may not alias).
    void perturb(const double* z, double* eps) const;
    // Rows: E = Z L^T.
    void perturb_rows(const RowMatrix& Z, RowMatrix& E) const;
    // Rows of the dual direction: T = Z L^-1, i.e. each row is (Sigma^-1 eps)^T.
    void dual_rows(const RowMatrix& Z, RowMatrix& T) const;
    // Sigma itself (for the ridge closed form and reporting).
    Matrix covariance() const;

private:
    GaussianSampler() = default;
    Index dim_ = 0;
    bool diagonal_ = true;
    Vector stddev_;  // diagonal case
    Matrix chol_;    // full case: lower-triangular L
};

}  // namespace gradlime
