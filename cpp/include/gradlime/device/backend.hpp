// What a device backend computes, in plain arrays (no Eigen: the CUDA file includes only this and
// the device/ functions, so nothing crosses between translation units compiled with different
// vector settings): a job's points and draws, the per-point sums of the three passes of
// device/gaussian_sums.hpp, and what the CUDA build and machine offer. The host side (the
// orchestration, the finalisation, the host reference) is device/gaussian_backend.hpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gradlime/device/network_row.hpp"

namespace gradlime::device {

using Count = std::int64_t;

// A FeedForwardNetwork (mlp.hpp) as plain arrays: NetworkView's storage.
struct FlatNetwork {
    std::vector<LayerView> layers;
    std::vector<float> params;
    int input_dim = 0, max_width = 0, activations = 0, output_dim = 0;
    NetworkView view() const {
        NetworkView v;
        v.layers = layers.data();
        v.n_layers = static_cast<int>(layers.size());
        v.params = params.data();
        v.input_dim = input_dim;
        v.max_width = max_width;
        v.activations = activations;
        return v;
    }
};

// One call's points (row-major, rows x d) and draws. Point i draws from stream first_stream + i
// (every point from first_stream when common_draws).
struct GaussianJob {
    const double* X = nullptr;
    Count rows = 0, d = 0;
    const double* scale = nullptr;  // standard deviations, d
    Count n_samples = 0;
    std::uint64_t seed = 0;
    std::uint32_t first_stream = 0;
    bool common_draws = false;
    bool uniform = false;  // the uniform kernel (UniGrad: the gradient moments only)
    std::uint32_t stream(Count i) const { return common_draws ? first_stream : first_stream + static_cast<std::uint32_t>(i); }
};

// What a backend computes for points [p0, p0 + m) of the job, into row-major per-point arrays.
class GaussianBackend {
public:
    virtual ~GaussianBackend() = default;
    // Each point's values f(a_s) (kept by the backend for the later passes) and their mean fbar
    // (m); with moments non-null, the gradient moments: moments (m, d, 16) lanes, shift (m, d).
    virtual void values_and_moments(const GaussianJob& job, Count p0, Count m, double* fbar, double* moments,
                                    double* shift) = 0;
    // C-LIME's sums over c = [z; f - fbar]: (m, packed_size(d + 1) + d + 1).
    virtual void least_squares(const GaussianJob& job, Count p0, Count m, const double* fbar, double* sums) = 0;
    // The meat's lower triangle over u = r (z - zbar): (m, packed_size(d)); zbar, v (m, d).
    virtual void meat(const GaussianJob& job, Count p0, Count m, const double* fbar, const double* gbar,
                      const double* zbar, const double* v, double* sums) = 0;
    // The Stein terms' squares and sums: (m, 2 d).
    virtual void stein(const GaussianJob& job, Count p0, Count m, const double* fbar, double* sums) = 0;
    // Points per call that fit the backend's memory.
    virtual Count chunk_points(const GaussianJob& job) const = 0;
};

// The CUDA build's backend on device `device`; throws std::runtime_error (saying why) without a
// CUDA build or a usable device.
std::unique_ptr<GaussianBackend> cuda_backend(const FlatNetwork& net, int target, int device);

struct CudaInfo {
    bool compiled = false;           // built with GRADLIME_CUDA
    int devices = 0;                 // usable devices
    std::string error;               // why none, when none
    std::vector<std::string> names;  // the devices' names
};
CudaInfo cuda_info();

}  // namespace gradlime::device
