#include <Eigen/Core>
#include <pybind11/eigen.h>

#include "gradlime/mlp.hpp"
#include "gradlime/shap.hpp"
#include "pybind.hpp"
#include "python_model.hpp"

namespace {

using gradlime::Index;

py::dict kernel_shap(const DoubleArray& X, const DoubleArray& background, py::object f, py::object grad,
                     const gradlime::FeedForwardNetwork* network, Index target, bool exact, Index n_samples,
                     std::uint64_t seed, bool cubic, double stop_tol, const std::vector<Index>& looks, Index batch_rows, bool fused_network, std::uint64_t point_offset,
                     const py::object& progress, double progress_interval, const std::string& device) {
    const gradlime::RowMatrix Xm = as_matrix(X, "X"), Bm = as_matrix(background, "background");
    gradlime::KernelShapOptions opt;
    opt.exact = exact;
    opt.n_samples = n_samples;
    opt.seed = seed;
    opt.cubic = cubic;
    opt.stop_tol = stop_tol;
    opt.looks = looks;
    opt.driver = driver_options(batch_rows, fused_network, gradlime::DriverOptions{}.kept_bytes, point_offset,
                                progress, progress_interval, device);
    BoundModel model = bind_model(std::move(f), std::move(grad), network, target);
    gradlime::KernelShapResult result =
        without_gil([&] { return gradlime::run_kernel_shap(Xm, Bm, model.get(), opt); });
    py::dict out;
    out["values"] = std::move(result.values);
    out["stderr"] = std::move(result.stderr_);
    out["fx"] = std::move(result.fx);
    out["expected_value"] = result.expected_value;
    out["coalitions"] = result.coalitions;
    out["cubic"] = result.cubic;
    out["samples"] = py::array_t<Index>(static_cast<py::ssize_t>(result.samples.size()), result.samples.data());
    return out;
}

}  // namespace

void register_shap(py::module_& m) {
    m.def("kernel_shap", &kernel_shap, "X"_a, "background"_a, "f"_a, "grad"_a, "network"_a = nullptr,
          "target"_a = 0, "exact"_a = false, "n_samples"_a = 2048, "seed"_a = 0, "cubic"_a = true, "stop_tol"_a = 0.0,
          "looks"_a = std::vector<Index>{}, GRADLIME_DRIVER_KWARGS,
          "KernelSHAP over a model; returns {values, stderr, fx, expected_value, coalitions, cubic, samples}.");
}
