// Perturbations eps for the smoothing kernels.
//
// Gaussian: eps ~ N(0, Sigma) for Sigma = sigma^2 I, diag(s^2) or a full SPD matrix, held as a
// Cholesky factor L (Sigma = L L^T), so eps = L z for z ~ N(0, I), and the dual direction
// Sigma^-1 eps = L^-T z that the Stein estimator needs (paper 1, Lemma 1) is a triangular solve,
// never an explicit inverse. Uniform: eps_k uniform on [-r_k, r_k] (UniGrad's cube). Laplace:
// density exp(-|eps_k| / b_k) / (2 b_k) per coordinate. Both are drawn from uniforms u in (0, 1).
#pragma once

#include <cstdint>
#include <string>

#include "gradlime/sample_scheme.hpp"
#include "gradlime/types.hpp"

namespace gradlime {

enum class NoiseKind { Gaussian, Uniform, Laplace };

class NoiseSampler {
public:
    // Gaussian with per-coordinate standard deviations; isotropic noise is the constant vector.
    static NoiseSampler diagonal(const Vector& stddev);
    // A full covariance; throws std::invalid_argument unless symmetric positive definite.
    static NoiseSampler full(const Matrix& cov);
    // Uniform (scale = half-widths r) or Laplace (scale = b), independent coordinates.
    static NoiseSampler independent(NoiseKind kind, const Vector& scale);

    Index dim() const { return dim_; }
    NoiseKind kind() const { return kind_; }
    bool is_gaussian() const { return kind_ == NoiseKind::Gaussian; }
    bool is_diagonal() const { return diagonal_; }
    // The per-coordinate scale: standard deviations (diagonal Gaussian), half-widths or b.
    const Vector& scale() const { return stddev_; }
    // A full covariance's lower-triangular Cholesky factor L; empty when diagonal (L = diag(scale())).
    const Matrix& factor() const { return chol_; }

    // The standard draws of rows [first, first + m) of a stream under a scheme (sample_scheme.hpp):
    // normals for the Gaussian, uniforms in (0, 1) otherwise. Row t goes to out + t * d.
    void draw(std::uint64_t seed, std::uint32_t stream, std::uint64_t first, Index m, double* out,
              const SampleScheme& scheme = {}) const;
    // The same draws feature-major: coordinate k of row t at out[k * ld + t].
    void draw_columns(std::uint64_t seed, std::uint32_t stream, std::uint64_t first, Index m, double* out, Index ld,
                      const SampleScheme& scheme = {}) const;
    // eps from one row of draws (z and eps may not alias): L z for the Gaussian.
    void perturb(const double* z, double* eps) const;
    // Rows of the dual direction: T = Z L^-1, i.e. each row is (Sigma^-1 eps)^T.
    void dual_rows(const RowMatrix& Z, RowMatrix& T) const;

private:
    NoiseSampler() = default;
    Index dim_ = 0;
    NoiseKind kind_ = NoiseKind::Gaussian;
    bool diagonal_ = true;
    Vector stddev_;  // diagonal case; the scale of the uniform and Laplace kernels
    Matrix chol_;    // full case: lower-triangular L
};

// Throws std::invalid_argument unless the scheme can draw n_samples per point: QMC with 2, 4, ...,
// kMaxQmcScrambles scrambles, and n_samples whole rounds (SampleScheme::round).
void validate_scheme(const SampleScheme& scheme, Index n_samples);

}  // namespace gradlime
