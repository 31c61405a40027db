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
               double ridge, std::uint64_t seed, Index batch_rows, Index kept_mask_bytes, bool fused_network) {
    if (baseline.ndim() != 1) throw py::value_error("baseline must be 1-D (d,)");
    const gradlime::RowMatrix Xm = as_matrix(X, "X");
    const gradlime::Vector b = Eigen::Map<const gradlime::Vector>(baseline.data(), baseline.shape(0));
    gradlime::LimeOptions opt;
    opt.seed = seed;
    opt.n_samples = n_samples;
    opt.batch_rows = batch_rows;
    opt.kernel_width = kernel_width;
    opt.ridge = ridge;
    opt.kept_mask_bytes = kept_mask_bytes;
    opt.fused_network = fused_network;
    BoundModel model = bind_model(std::move(f), std::move(grad), network, target);
    gradlime::Estimate result;
    {
        // run_lime touches no Python object; PythonModel re-takes the GIL for each callback,
        // and the network (kept alive by the caller's reference) never needs it.
        py::gil_scoped_release release;
        result = gradlime::run_lime(Xm, b, model.get(), opt);
    }
    return py::make_tuple(std::move(result.values), std::move(result.stderr_));
}

}  // namespace

void register_lime(py::module_& m) {
    m.def("lime", &lime, "X"_a, "baseline"_a, "f"_a, "grad"_a, "network"_a = nullptr, "target"_a = 0,
          "n_samples"_a = 1000, "kernel_width"_a = 1.0, "ridge"_a = 1.0, "seed"_a = 0, "batch_rows"_a = 8192,
          "kept_mask_bytes"_a = gradlime::LimeOptions{}.kept_mask_bytes, "fused_network"_a = true,
          "LIME with binary masks over a Python or native model; returns (values, stderr).");
    m.def(
        "lime_masks",
        [](std::uint64_t seed, std::uint32_t point, std::uint64_t first, Index m, Index d) {
            if (m < 0 || d < 1) throw std::invalid_argument("need m >= 0 and d >= 1");
            gradlime::RowMatrix Z;
            {
                py::gil_scoped_release release;  // pure C++ on locals
                gradlime::lime_masks(seed, point, first, m, d, Z);
            }
            return Z;
        },
        "seed"_a, "point"_a, "first"_a, "m"_a, "d"_a,
        "The 0/1 masks LIME draws for samples [first, first + m) of `point`.");
}
