// The Gaussian family (SmoothGrad, C-LIME, Stein) and the other smoothing kernels' mean gradient,
// from one stream of perturbations per point (paper 1, Theorem 1), run by the streaming driver
// (driver.hpp): perturbations go through bounded batches or, for a native network, fused blocks,
// into per-point accumulators finalised as soon as a point's samples are in.
#pragma once

#include <cstdint>
#include <vector>

#include "gradlime/driver.hpp"
#include "gradlime/model.hpp"
#include "gradlime/sampling.hpp"
#include "gradlime/types.hpp"

namespace gradlime {

struct EngineOptions {
    bool smoothgrad = false;
    bool clime = false;
    bool stein = false;
    double ridge = 0.0;  // C-LIME L2 penalty lambda on the per-sample mean loss (paper 1, Lemma 6)
    bool stein_cv = false;  // Stein with the cross-fitted linear control variate (stein.hpp)
    std::uint64_t seed = 0;
    Index n_samples = 1000;  // per point; the most when stop_tol > 0
    // Every point reuses the draws of stream 0 (common random numbers): differences between the
    // explanations of nearby points then measure the explanation, not Monte-Carlo noise.
    bool common_draws = false;
    SampleScheme scheme;
    // Adaptive n: a point stops after the first block of kStopBlock samples (from the second on)
    // at which every coordinate's SmoothGrad standard error is <= stop_tol; 0: never.
    double stop_tol = 0.0;
    DriverOptions driver;
};

struct Estimate {
    RowMatrix values;   // (N, d)
    RowMatrix stderr_;  // (N, d)
};

struct EngineResult {
    Estimate smoothgrad, clime, stein;
    std::vector<Index> samples;  // per point: the samples it used
};

// Throws std::invalid_argument on bad options or a model returning NaN/inf (naming the point).
EngineResult run_engine(const RowMatrix& X, const NoiseSampler& sampler, BatchModel& model,
                        const EngineOptions& options);

}  // namespace gradlime
