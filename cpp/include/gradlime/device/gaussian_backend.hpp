// SmoothGrad and C-LIME of a native network over Gaussian perturbations, computed by a backend
// (device/backend.hpp) that runs device/gaussian_sums.hpp's per-sample functions: the host
// reference (one loop per point, cpp/src/device_gaussian.cpp) or the CUDA kernels (cpp/cuda/).
// The orchestration and the finalisation (means, standard errors, the least-squares solve) are
// shared and run on the host; a backend returns only per-point sums, so only (N, d)-sized results
// leave the device.
#pragma once

#include <memory>

#include "gradlime/device/backend.hpp"
#include "gradlime/engine.hpp"
#include "gradlime/mlp.hpp"
#include "gradlime/sampling.hpp"
#include "gradlime/types.hpp"

namespace gradlime::device {

FlatNetwork flatten(const FeedForwardNetwork& net);

std::unique_ptr<GaussianBackend> host_backend(const FlatNetwork& net, int target);

struct GaussianResults {
    RowMatrix smoothgrad, smoothgrad_se, clime, clime_se, stein, stein_se;
};

// SmoothGrad (the mean gradient and its standard error), C-LIME (the least-squares slopes and
// their HC1 standard errors, ridge lambda) and Stein (the gradient-free SmoothGrad) of each
// point, as the CPU engine defines them (gaussian_family.cpp, stein.cpp): Monte Carlo draws, a
// diagonal Gaussian (the uniform cube for SmoothGrad alone).
GaussianResults gaussian_estimates(GaussianBackend& backend, const GaussianJob& job, bool smoothgrad, bool clime,
                                   bool stein, double ridge);

// run_engine's device seam (opt.driver.device Cuda or CudaReference): the validated call on the
// CUDA backend or on the host reference. Throws std::invalid_argument naming what the device
// does not run (a Python model, Stein's control variate, a full covariance, antithetic or QMC
// draws, tol).
EngineResult run_engine_on_device(const RowMatrix& X, const NoiseSampler& sampler, BatchModel& model,
                                  const EngineOptions& opt);

}  // namespace gradlime::device
