// Stein's estimators of E[grad f(a)] = Sigma^-1 E[(a - x) f(a)] (paper 1, Lemma 1; the gradient-
// free SmoothGrad), from a point's standard normals and values, chunk by chunk.
//
// SteinEstimator, the plain form: terms Sigma^-1 e (f - fbar), per sample or per antithetic
// pair, or summed per QMC scramble (each scramble then centred by the other scrambles' mean of f,
// which is independent of its points, so each is exactly unbiased).
//
// SteinControlVariate, with a cross-fitted linear control variate (the regression of f on
// [1, a - x] as the control): for a sample in fold k,
//
//   t = Sigma^-1 e (f(x + e) - alpha_k - e . w_k) + w_k,
//
// where (alpha_k, w_k) is the least-squares fit of f on [1, e] over the samples of the other
// folds. E[Sigma^-1 e] = 0 and E[Sigma^-1 e e^T] = I, and the fit is independent of the fold's
// draws, so every t is exactly unbiased for E[grad f] whatever the fit; the fit only takes out of
// the variance what is linear in e (most of Stein's spread: the control makes Stein about as
// accurate as C-LIME while it stays unbiased). Folds: the QMC scheme's scrambles (whose estimates
// are then the standard errors' units), else 8 folds of the scheme's units (samples or antithetic
// pairs, unit mod 8), with the standard error over the units' terms.
#pragma once

#include <vector>

#include "gradlime/accumulators.hpp"
#include "gradlime/least_squares.hpp"
#include "gradlime/sampling.hpp"
#include "gradlime/types.hpp"

namespace gradlime {

// A chunk's terms: per unit (samples or antithetic pairs), or summed per QMC scramble. Merged in
// chunk order.
struct SteinTerms {
    ColumnMoments units;
    ClusterSums scrambles;
    void merge(const SteinTerms& other);
};

class SteinEstimator {
public:
    SteinEstimator(const NoiseSampler& noise, const SampleScheme& scheme, Index d)
        : noise_(noise), scheme_(scheme), d_(d) {}
    // One chunk (samples [first, first + rows), normals Z, values f, fbar the point's centring).
    SteinTerms terms(const RowMatrix& Z, const double* f, double fbar, Index first) const;
    void estimate(const SteinTerms& t, Index n, Vector& value, Vector& se) const;

private:
    bool paired() const { return scheme_.antithetic && !scheme_.qmc(); }
    const NoiseSampler& noise_;
    SampleScheme scheme_;
    Index d_;
};

class SteinControlVariate {
public:
    static constexpr Index kFolds = 8;  // without QMC
    SteinControlVariate(const NoiseSampler& noise, const SampleScheme& scheme, Index d);
    Index folds() const { return folds_; }
    Index fold_of(Index j) const;
    // The least samples a call needs: each fold's complement fits d slopes and an intercept.
    Index min_samples() const;

    // Pass 1: one chunk's least-squares sums per fold (samples [first, first + rows), normals Z
    // row-major, values f; fbar the point's centring), merged in chunk order by merge().
    std::vector<LeastSquaresSums> fold_sums(const double* Z, const double* f, Index rows, Index first, double fbar) const;
    static void merge(std::vector<LeastSquaresSums>& into, const std::vector<LeastSquaresSums>& part);
    // After pass 1: each fold's control, fitted on the other folds. False when one is singular.
    bool fit(const std::vector<LeastSquaresSums>& folds, double fbar);

    // Pass 2: one chunk's terms t (per unit, or summed per scramble).
    SteinTerms terms(const RowMatrix& Z, const double* f, Index first) const;
    void estimate(const SteinTerms& t, Index n, Vector& value, Vector& se) const;

private:
    const NoiseSampler& noise_;
    SampleScheme scheme_;
    Index d_, folds_;
    std::vector<Vector> w_, v_;     // per fold: the slopes in e (w) and in z (v = L^T w)
    std::vector<double> alpha_;     // per fold: the intercept
};

}  // namespace gradlime
