// The streaming engine: perturbations for many points go through a bounded batch buffer, one
// model call per batch, into per-point accumulators that are finalised as soon as a point's
// samples are all in.
//
// Work is the row sequence r = point * n_samples + sample. Batches are contiguous ranges of it,
// so at most ceil(batch / n) + 1 points are in flight and memory is bounded by the batch buffer
// plus n values per in-flight point, never by N * n_samples. A native network (NetworkModel)
// skips the batches: each point's rows are drawn, evaluated and accumulated block by block on one
// thread, one point in flight per thread, with the same bits (EngineOptions::fused_network).
#pragma once

#include <cstdint>

#include "gradlime/model.hpp"
#include "gradlime/sampling.hpp"
#include "gradlime/types.hpp"

namespace gradlime {

struct EngineOptions {
    bool smoothgrad = false;
    bool clime = false;
    bool stein = false;
    double ridge = 0.0;  // C-LIME L2 penalty lambda on the per-sample mean loss (paper 1, Lemma 6)
    std::uint64_t seed = 0;
    Index n_samples = 1000;
    Index batch_rows = 8192;
    // C-LIME and Stein look at a point's draws twice. Up to this many bytes per point the normals
    // are kept from the batch; beyond it they are drawn again (a pure function of the counter), so
    // memory stays bounded whatever n_samples is. Both paths give the same bits.
    Index kept_normals_bytes = Index(32) << 20;
    // Every point reuses the draws of stream 0 (common random numbers): differences between the
    // explanations of nearby points then measure the explanation, not Monte-Carlo noise.
    bool common_draws = false;
    // A native network runs drawing, network and sums fused block by block, each point finalised
    // on the thread that drew it, points in parallel (when there are at least as many points as
    // threads). Same bits either way; off only to test that.
    bool fused_network = true;
};

struct Estimate {
    RowMatrix values;  // (N, d)
    RowMatrix stderr_;  // (N, d)
};

struct EngineResult {
    Estimate smoothgrad, clime, stein;
};

// Throws std::invalid_argument on bad options or a model returning NaN/inf (naming the point).
EngineResult run_engine(const RowMatrix& X, const NoiseSampler& sampler, BatchModel& model,
                        const EngineOptions& options);

// The standard normals of one point's perturbation rows [first, first + m): the same numbers the
// engine draws. Exposed for tests and for methods that reuse the draws.
void gaussian_rows(std::uint64_t seed, std::uint32_t stream, std::uint64_t first, Index m, Index d,
                   RowMatrix& Z);

}  // namespace gradlime
