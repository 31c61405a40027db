// C-LIME's least squares of f on [1, a - x] for Gaussian perturbations a - x = e = L z
// (paper 1, Theorem 1; ridge: Appendix D, Lemma 6), from sums over the standard normals z.
//
// Everything is summed in z space and carried to e space once per point: S_ee = L S_zz L^T,
// S_ef = L S_zf and the sandwich's meat L M_z L^T are O(d^3) per point, where forming e = L z
// for every sample would cost O(n d^2) (a full covariance) or O(n d) (a diagonal one).
//
// The sums are Gram matrices of feature-major columns (lower_gram): a SYRK-like kernel,
// vectorised over samples, sample t of a chunk in lane t mod 8, each lane summed in sample order,
// the lanes merged by a fixed tree at the end of the chunk, chunks added in order. The sums
// depend only on the numbers and the chunk they are in, never on the vector width (each lane
// does the same IEEE operations), threads or batch size; the O(d^3) solve is Eigen's.
// of_rows and meat_of_rows take row-major normals and transpose each chunk into columns; a caller
// that holds them feature-major (the fused path draws them so) could hand lower_gram the columns.
#pragma once

#include <functional>

#include <Eigen/Cholesky>

#include "gradlime/parallel.hpp"
#include "gradlime/sampling.hpp"
#include "gradlime/types.hpp"

namespace gradlime {

// The lower triangle of G(k, l) = sum_t c_k[t] c_l[t] over the rows samples of p columns (with
// weights: sum_t (c_k[t] w[t]) c_l[t], exactly LIME's masked sums when the columns are 0/1);
// columns[k] points at column k, read up to rows rounded up to a multiple of 8, which must be
// zero past rows (weights likewise read, finite). G becomes p x p, zero above the diagonal.
// It returns early (G unfinished) when stop->poll() says so, between panels of columns.
void lower_gram(const double* const* columns, Index p, Index rows, Matrix& G, Interruption* stop = nullptr,
                const double* weights = nullptr);

// The distance between a chunk's feature-major columns for lower_gram: whole strips of 16 samples
// and one group more, so that columns never sit a power of two apart (they would then share L1
// sets: 16 columns of 2048 samples thrash an 8-way cache).
Index column_stride(Index rows);

// One chunk's raw sums for the fit, over the columns [z_1 .. z_d, g] with g = f - fbar (fbar a
// shift near the mean of f: it keeps the centring accurate when f has a large offset; z needs
// none, its mean being 0 up to O(1/sqrt(n))). Merged in chunk order by plain addition.
struct LeastSquaresSums {
    Index count = 0;
    Matrix gram;  // (d + 1) x (d + 1), lower triangle: sum [z; g] [z; g]^T
    Vector sums;  // (d + 1): sum z, sum g
    // Z: `rows` standard normals, row-major (d per row); f: their model values.
    static LeastSquaresSums of_rows(const double* Z, const double* f, Index rows, Index d, double fbar,
                                    Interruption* stop = nullptr);
    void merge(const LeastSquaresSums& other);
};

// What C-LIME says of a point whose design is singular (the CPU engine and the device alike).
[[noreturn]] void throw_singular_design(Index point);

// The fit from a point's sums: (S_ee + n lambda I) w = S_ef with S the centred sums in e = L z,
// and its heteroscedasticity-consistent (HC1) standard errors from a second pass (meat_of_rows).
class GaussianLeastSquares {
public:
    // A singular design is not thrown: solved() is false (the caller names the point). The
    // standard errors count the scheme's clusters (sample_scheme.hpp): samples, antithetic pairs
    // or QMC scrambles.
    GaussianLeastSquares(const LeastSquaresSums& sums, const NoiseSampler& noise, double ridge, double fbar,
                         const SampleScheme& scheme = {});
    bool solved() const { return solved_; }
    const Vector& slopes() const { return w_; }
    // The fit as f ~ intercept() + z . slopes_z() in the standard normals z (slopes_z = L^T w).
    const Vector& slopes_z() const { return v_; }
    double intercept() const { return fbar_ + gbar_ - zbar_.dot(v_); }
    // The means of z and of f - fbar over the samples (the meat's centring; device/ recomputes it).
    const Vector& zbar() const { return zbar_; }
    double gbar() const { return gbar_; }
    // One chunk's meat (samples [first, first + rows)) in z space, merged in chunk order by
    // addition, starting from meat_zero(). With u = r (z - zbar) and the residuals
    // r = (f - mean f) - (z - zbar) . L^T w: Monte Carlo, the lower triangle of sum u u^T;
    // antithetic pairs, of the sum over pairs of (u_2k + u_2k+1)(...)^T (chunks hold whole pairs);
    // QMC, the (R, d) sums of u per scramble, whose cross-products stderr_of forms.
    Matrix meat_of_rows(const double* Z, const double* f, Index rows, Index first, Interruption* stop = nullptr) const;
    Matrix meat_zero() const;
    // sqrt of diag(A^-1 L M_z L^T A^-1) n / (n - d - 1), A = S_ee + n lambda I; over G clusters,
    // the CR1 factor G / (G - 1) (n - 1) / (n - d - 1).
    // check() (Ctrl-C) runs between blocks of the O(d^3) sandwich.
    Vector stderr_of(const Matrix& meat, const std::function<void()>& check) const;

private:
    const NoiseSampler& noise_;
    Index d_ = 0;
    double n_ = 0.0, fbar_ = 0.0, gbar_ = 0.0;
    Vector zbar_, w_, v_;  // v = L^T w: the slopes in z
    Eigen::LLT<Matrix> bread_;
    bool solved_ = false;
    SampleScheme scheme_;
};

}  // namespace gradlime
