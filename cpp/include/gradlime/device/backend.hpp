// What a device backend computes, in plain arrays (no Eigen: the CUDA file includes only this and
// the device/ functions, so nothing crosses between translation units compiled with different
// vector settings): a job's points and draws, the values pass and the per-point sums of
// device/passes.hpp, and what the CUDA build and machine offer. The host side (the orchestration,
// the finalisation, the host reference) is device/estimates.hpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gradlime/device/fits.hpp"
#include "gradlime/device/draws.hpp"
#include "gradlime/device/network_row.hpp"
#include "gradlime/device/passes.hpp"
#include "gradlime/device/shap_sums.hpp"

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

// One call's points (row-major, rows x d) and draws (device/draws.hpp). Point i draws from stream
// first_stream + i (every point from first_stream when common_draws).
struct SampleJob {
    const double* X = nullptr;
    Count rows = 0, d = 0;
    Draws draws = Draws::Gaussian;
    const double* scale = nullptr;     // Gaussian, Uniform: standard deviations (half-widths), d
    const double* baseline = nullptr;  // Masks: a masked-out feature's value, d
    // KernelSHAP: the background rows (background_rows, d), row-major; n_samples coalitions a point.
    const double* background = nullptr;
    Count background_rows = 0;
    Count n_samples = 0;
    std::uint64_t seed = 0;
    std::uint32_t first_stream = 0;
    bool common_draws = false;
    std::uint32_t stream(Count i) const { return common_draws ? first_stream : first_stream + static_cast<std::uint32_t>(i); }
};

// KernelSHAP's coalitions as the host hands them to a backend (device/shap_sums.hpp's Coalitions).
struct ShapCoalitions {
    bool exact = false;
    const std::uint64_t* pairs = nullptr;
    Count pair_count = 0;
    int words = 0;
    const std::int32_t* inverse = nullptr;  // (m, d)
};

// What a backend computes for points [p0, p0 + m) of the job, into row-major per-point arrays.
class DeviceBackend {
public:
    virtual ~DeviceBackend() = default;
    // Each point's values f(a_s) (kept by the backend for the later passes) and their mean fbar
    // (m); with grad non-null, SmoothGrad from the gradient moments (gradient_estimate): the mean
    // gradient into grad and its standard error into grad_se, (m, d) each.
    virtual void values_and_gradients(const SampleJob& job, Count p0, Count m, double* fbar, double* grad,
                                      double* grad_se) = 0;
    // A pass's sums (device/passes.hpp) over the values kept by values_and_gradients for the same
    // points: (m, pass_shape(pass, d).width), for a pass that reads no fit (Stein's; the meat
    // passes run inside fit()). `in`'s fbar is the values pass's as the host has it (a device
    // backend reads its own copy); its values are ignored.
    virtual void sums(Pass pass, const SampleJob& job, Count p0, Count m, const PassInputs& in, double* out) = 0;
    // C-LIME's or LIME's fit for the points of the last values_and_gradients (device/fits.hpp):
    // the fit's sums, the solve, the meat's sums and the standard errors, on the backend, ridge
    // lambda; the coefficients (m, d), their standard errors (m, d) and each point's flags (m,
    // kSingular, kUnderflow). `in` holds the fit pass's inputs as the host has them (C-LIME's
    // fbar, LIME's inv_width2).
    virtual void fit(FitKind kind, const SampleJob& job, Count p0, Count m, const PassInputs& in, double ridge,
                     double* coef, double* se, int* flags) = 0;
    // KernelSHAP (job.background): f(x) of each point (fx, m) and, when job.n_samples > 0, each of
    // its coalitions' sums over the background rows (device/shap_sums.hpp; sums (m, n)). `c`'s
    // arrays are the host's: its pairs (pair_count of them) and, sampled, the chunk's points'
    // inverse permutations (m, d).
    virtual void coalition_sums(const SampleJob& job, Count p0, Count m, const ShapCoalitions& c, double* fx,
                                double* sums) = 0;
    // Points per call that fit the backend's memory.
    virtual Count chunk_points(const SampleJob& job) const = 0;
};

// The CUDA build's backend on device `device`; throws std::runtime_error (saying why) without a
// CUDA build or a usable device.
std::unique_ptr<DeviceBackend> cuda_backend(const FlatNetwork& net, int target, int device);

struct CudaInfo {
    bool compiled = false;           // built with GRADLIME_CUDA
    int devices = 0;                 // usable devices
    std::string error;               // why none, when none
    std::vector<std::string> names;  // the devices' names
};
CudaInfo cuda_info();

}  // namespace gradlime::device
