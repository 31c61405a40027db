#include <Eigen/Core>
#include <pybind11/eigen.h>

#include "gradlime/lime.hpp"
#include "gradlime/mlp.hpp"
#include "pybind.hpp"
#include "python_model.hpp"

namespace {

using gradlime::Index;

py::tuple lime(const DoubleArray& X, const DoubleArray& baseline, py::object f, py::object grad,
               const gradlime::FeedForwardNetwork* network, Index target, Index n_samples, double kernel_width,
               double ridge, std::uint64_t seed, Index kept_mask_bytes, double stop_tol, Index batch_rows,
               bool fused_network,
               std::uint64_t point_offset, const py::object& progress, double progress_interval,
               const std::string& device) {
    if (baseline.ndim() != 1) throw py::value_error("baseline must be 1-D (d,)");
    const gradlime::RowMatrix Xm = as_matrix(X, "X");
    const gradlime::Vector b = Eigen::Map<const gradlime::Vector>(baseline.data(), baseline.shape(0));
    gradlime::LimeOptions opt;
    opt.seed = seed;
    opt.n_samples = n_samples;
    opt.kernel_width = kernel_width;
    opt.ridge = ridge;
    opt.stop_tol = stop_tol;
    opt.driver = driver_options(batch_rows, fused_network, kept_mask_bytes, point_offset, progress,
                                progress_interval, device);
    BoundModel model = bind_model(std::move(f), std::move(grad), network, target);
    gradlime::LimeResult result = without_gil([&] { return gradlime::run_lime(Xm, b, model.get(), opt); });
    py::array_t<Index> samples(static_cast<py::ssize_t>(result.samples.size()), result.samples.data());
    return py::make_tuple(std::move(result.estimate.values), std::move(result.estimate.stderr_), samples);
}

}  // namespace

void register_lime(py::module_& m, py::module_& testing) {
    m.def("lime", &lime, "X"_a, "baseline"_a, "f"_a, "grad"_a, "network"_a = nullptr, "target"_a = 0,
          "n_samples"_a = 1000, "kernel_width"_a = 1.0, "ridge"_a = 1.0, "seed"_a = 0,
          "kept_mask_bytes"_a = gradlime::DriverOptions{}.kept_bytes, "stop_tol"_a = 0.0, GRADLIME_DRIVER_KWARGS,
          "LIME with binary masks over a Python or native model; returns (values, stderr, samples per point).");
    testing.def(
        "lime_masks",
        [](std::uint64_t seed, std::uint32_t point, std::uint64_t first, Index m, Index d) {
            if (m < 0 || d < 1) throw std::invalid_argument("need m >= 0 and d >= 1");
            return without_gil([&] {  // pure C++ on locals
                gradlime::RowMatrix Z;
                gradlime::lime_masks(seed, point, first, m, d, Z);
                return Z;
            });
        },
        "seed"_a, "point"_a, "first"_a, "m"_a, "d"_a,
        "The 0/1 masks LIME draws for samples [first, first + m) of `point`.");
}
