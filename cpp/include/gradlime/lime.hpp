// LIME with binary masks (Ribeiro et al. 2016, in the form of paper 2, section 3.2):
//
//   z ~ Bernoulli(1/2)^d,   x~ = x * z + (1 - z) * baseline,
//   pi_x(z) = exp(-||x - x~||_2 / kernel_width^2)         (the distance is not squared),
//   (b, c) = argmin sum_i pi_i (f(x~_i) - b - z_i . c)^2 + ridge ||c||^2,
//
// the intercept b unpenalised, as the lime package fits it (sklearn Ridge with sample_weight).
// The attributions are the coefficients c, in mask space.
//
// Rows stream through the model by the driver (driver.hpp), as for the Gaussian family: masks are
// a pure function of (seed, point, sample),
// and each point's weighted sums are formed over fixed chunks merged in a fixed order, so results
// are bitwise identical for any thread count and batch size. The sums are raw moments over the
// binary masks (products of mask bits are masked additions, 8 samples per register), centred
// afterwards. A native network skips the batches: each point's rows are made and evaluated block
// by block on one thread (the same bits).
#pragma once

#include <cstdint>
#include <vector>

#include "gradlime/engine.hpp"
#include "gradlime/model.hpp"
#include "gradlime/rng/masks.hpp"
#include "gradlime/simd/lanes.hpp"
#include "gradlime/types.hpp"

namespace gradlime {

struct LimeOptions {
    std::uint64_t seed = 0;
    Index n_samples = 1000;
    double kernel_width = 1.0;  // sigma of pi_x(z) = exp(-||x - x~|| / sigma^2); > 0
    double ridge = 1.0;         // penalty on the d coefficients (not on the intercept); >= 0
    // > 0: each point stops once its fit's standard errors are all <= stop_tol (looked at after
    // 128 x 2^k samples), at n_samples at the most.
    double stop_tol = 0.0;
    // Batches, the fused native path, the kept-masks budget, the point offset, progress.
    DriverOptions driver;
};

// Masks of samples [first, first + m) of one point, as 0/1 doubles, from lime_mask_row (the
// definition; the engine uses lime_mask_words, which tests pin to it).
void lime_masks(std::uint64_t seed, std::uint32_t point, std::uint64_t first, Index m, Index d, RowMatrix& Z);

struct LimeResult {
    Estimate estimate;           // coefficients and their standard errors, (N, d) each
    std::vector<Index> samples;  // per point: the samples its fit used
};

// Coefficients c (values) and their weighted HC1 sandwich standard errors, (N, d) each. `baseline`
// has d entries. Throws std::invalid_argument on bad options, a model returning NaN/inf (naming the
// point), kernel weights that all underflow, or a singular design with ridge = 0.
LimeResult run_lime(const RowMatrix& X, const Vector& baseline, BatchModel& model, const LimeOptions& options);

}  // namespace gradlime
