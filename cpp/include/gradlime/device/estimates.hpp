// The estimates of a native network computed by a device backend (device/backend.hpp), which runs
// the per-sample functions of device/draws.hpp and device/passes.hpp: the host reference (one loop
// per point, cpp/src/device_host.cpp) or the CUDA kernels (cpp/cuda/). SmoothGrad, C-LIME and
// Stein over Gaussian perturbations (UniGrad over the uniform cube), LIME over binary masks,
// KernelSHAP's coalition values (its fit: kernel_shap.cpp's, from them). The orchestration runs
// on the host; SmoothGrad's estimates and C-LIME's and LIME's fits and standard errors are
// finished by the backend (device/gaussian_sums.hpp, device/fits.hpp), so only their (N, d)
// results leave the device; Stein's (N, 2d) sums and KernelSHAP's coalition values are finished
// on the host by the CPU engine's own code.
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>

#include "gradlime/device/backend.hpp"
#include "gradlime/engine.hpp"
#include "gradlime/lime.hpp"
#include "gradlime/mlp.hpp"
#include "gradlime/sampling.hpp"
#include "gradlime/types.hpp"

namespace gradlime::device {

FlatNetwork flatten(const FeedForwardNetwork& net);

std::unique_ptr<DeviceBackend> host_backend(const FlatNetwork& net, int target);
// The CUDA backend's code run on the host (device_emulation.cpp), its tiles in emulated shared
// memory or (global_tiles) in global memory.
std::unique_ptr<DeviceBackend> emulated_backend(const FlatNetwork& net, int target, bool global_tiles);

// Called after each chunk of points with the points finished so far; throws to abandon the run
// (Ctrl-C).
using ChunkDone = std::function<void(Count)>;

struct GaussianResults {
    RowMatrix smoothgrad, smoothgrad_se, clime, clime_se, stein, stein_se;
};

// SmoothGrad (the mean gradient and its standard error), C-LIME (the least-squares slopes and
// their HC1 standard errors, ridge lambda) and Stein (the gradient-free SmoothGrad) of each
// point, as the CPU engine defines them (gaussian_family.cpp, stein.cpp): Monte Carlo draws, a
// diagonal Gaussian (the uniform cube for SmoothGrad alone).
GaussianResults gaussian_estimates(DeviceBackend& backend, const SampleJob& job, bool smoothgrad, bool clime,
                                   bool stein, double ridge, const ChunkDone& done = {});

// LIME's coefficients and their HC1 standard errors (lime.cpp's fit, lime_fit.hpp), job.draws =
// Masks.
Estimate lime_estimates(DeviceBackend& backend, const SampleJob& job, double kernel_width, double ridge,
                        const ChunkDone& done = {});

// KernelSHAP's evaluations (job.background): E f(b), the mean of the background rows' values in
// row order; then for each chunk of points, inverse(point, out) writes a sampled point's inverse
// feature permutation (d), the backend evaluates its coalitions (`coalitions`: the pairs, or
// exact) and take(p0, m, fx, sums) gets f(x) (m) and the coalitions' sums over the background
// (m, n). Non-finite values throw.
using InversePermutation = std::function<void(Count, std::int32_t*)>;
using TakeSums = std::function<void(Count, Count, const double*, const double*)>;
double background_mean(DeviceBackend& backend, const SampleJob& job);
void kernel_shap_sums(DeviceBackend& backend, const SampleJob& job, const ShapCoalitions& coalitions,
                      const InversePermutation& inverse, const TakeSums& take, const ChunkDone& done = {});

// The seams (opt.driver.device Cuda or CudaReference): the validated call on the CUDA backend or
// on the host reference. Throw std::invalid_argument naming what the device does not run (a
// Python model, Stein's control variate, a full covariance, antithetic or QMC draws, tol).
EngineResult run_engine_on_device(const RowMatrix& X, const NoiseSampler& sampler, BatchModel& model,
                                  const EngineOptions& opt);
LimeResult run_lime_on_device(const RowMatrix& X, const Vector& baseline, BatchModel& model, const LimeOptions& opt);

}  // namespace gradlime::device

namespace gradlime::device::detail {

// What the seams share: the backend the driver's options name for a native network, and the
// ChunkDone that reports progress and polls the model for Ctrl-C between chunks.
std::unique_ptr<DeviceBackend> backend_for(const NetworkModel& native, const DriverOptions& driver);
ChunkDone chunk_reporter(BatchModel& model, const DriverOptions& driver, Count total);
// Throws std::invalid_argument "the CUDA backend runs <runs>; not <each reason that holds>: use
// device='cpu'" when one holds. Every seam refuses a model that is not a native network first.
struct Refusal {
    bool holds;
    const char* what;
};
void refuse(const char* runs, std::initializer_list<Refusal> reasons);
// Throws std::invalid_argument naming the first point of rows [p0, p0 + m) with a non-finite entry.
void check_finite(const RowMatrix& A, Count p0, Count m, const char* what);

}  // namespace gradlime::device::detail
