// SmoothGrad and C-LIME of a native network over Gaussian perturbations, computed by a backend
// that runs device/gaussian_sums.hpp's per-sample functions: the host reference (one loop per
// point, cpp/src/device_gaussian.cpp) or the CUDA kernels (cpp/cuda/). The orchestration and the
// finalisation (means, standard errors, the least-squares solve) are shared and run on the host;
// a backend returns only per-point sums, so only (N, d)-sized results leave the device.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gradlime/device/network_row.hpp"
#include "gradlime/engine.hpp"
#include "gradlime/mlp.hpp"
#include "gradlime/sampling.hpp"
#include "gradlime/types.hpp"

namespace gradlime::device {

// A FeedForwardNetwork as plain arrays (NetworkView's storage).
struct FlatNetwork {
    std::vector<LayerView> layers;
    std::vector<float> params;
    int input_dim = 0, max_width = 0, activations = 0, output_dim = 0;
    NetworkView view() const;
};
FlatNetwork flatten(const FeedForwardNetwork& net);

// One call's points and draws. Point i of `points` draws from stream first_stream + i (every
// point from first_stream when common_draws).
struct GaussianJob {
    const RowMatrix* points = nullptr;
    const Vector* scale = nullptr;  // standard deviations, d
    Index n_samples = 0;
    std::uint64_t seed = 0;
    std::uint32_t first_stream = 0;
    bool common_draws = false;
    std::uint32_t stream(Index i) const { return common_draws ? first_stream : first_stream + static_cast<std::uint32_t>(i); }
};

// What a backend computes for points [p0, p0 + m) of the job, into row-major per-point arrays.
class GaussianBackend {
public:
    virtual ~GaussianBackend() = default;
    // Each point's values f(a_s) (kept by the backend for the later passes) and their mean fbar
    // (m); with moments non-null, the gradient moments: moments (m, d, 16) lanes, shift (m, d).
    virtual void values_and_moments(const GaussianJob& job, Index p0, Index m, double* fbar, double* moments,
                                    double* shift) = 0;
    // C-LIME's sums over c = [z; f - fbar]: (m, packed_size(d + 1) + d + 1).
    virtual void least_squares(const GaussianJob& job, Index p0, Index m, const double* fbar, double* sums) = 0;
    // The meat's lower triangle over u = r (z - zbar): (m, packed_size(d)); zbar, v (m, d).
    virtual void meat(const GaussianJob& job, Index p0, Index m, const double* fbar, const double* gbar,
                      const double* zbar, const double* v, double* sums) = 0;
    // Points per call that fit the backend's memory.
    virtual Index chunk_points(const GaussianJob& job) const = 0;
};

std::unique_ptr<GaussianBackend> host_backend(const FeedForwardNetwork& net, Index target);

// The CUDA build's backend on device `device`; throws std::runtime_error (saying why) without a
// CUDA build or a usable device.
std::unique_ptr<GaussianBackend> cuda_backend(const FeedForwardNetwork& net, Index target, int device);

struct CudaInfo {
    bool compiled = false;          // built with GRADLIME_CUDA
    int devices = 0;                // usable devices
    std::string error;              // why none, when none
    std::vector<std::string> names;  // the devices' names
};
CudaInfo cuda_info();

struct GaussianResults {
    RowMatrix smoothgrad, smoothgrad_se, clime, clime_se;
};

// SmoothGrad (the mean gradient and its standard error) and C-LIME (the least-squares slopes and
// their HC1 standard errors, ridge lambda) of each point, as the CPU engine defines them
// (gaussian_family.cpp): Monte Carlo draws, a diagonal Gaussian.
GaussianResults gaussian_estimates(GaussianBackend& backend, const GaussianJob& job, bool smoothgrad, bool clime,
                                   double ridge);

// run_engine's device seam (opt.driver.device Cuda or CudaReference): the validated call on the
// CUDA backend or on the host reference. Throws std::invalid_argument naming what the device
// does not run (a Python model, stein, a full covariance, antithetic or QMC draws, tol).
EngineResult run_engine_on_device(const RowMatrix& X, const NoiseSampler& sampler, BatchModel& model,
                                  const EngineOptions& opt);

}  // namespace gradlime::device
