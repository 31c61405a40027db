#include <Eigen/Core>
#include <pybind11/eigen.h>

#include "gradlime/engine.hpp"
#include "gradlime/mlp.hpp"
#include "gradlime/parallel.hpp"
#include "gradlime/sampling.hpp"
#include "gradlime/simd/isa.hpp"
#include "pybind.hpp"
#include "python_model.hpp"

namespace {

using gradlime::Index;

py::dict run(const DoubleArray& X, py::object f, py::object grad, const std::optional<DoubleArray>& stddev,
             const std::optional<DoubleArray>& cov, bool smoothgrad, bool clime, bool stein, Index n_samples,
             double ridge, std::uint64_t seed, Index kept_normals_bytes, const gradlime::FeedForwardNetwork* network,
             Index target, const std::string& kernel, bool common_draws, bool antithetic, int qmc, bool stein_cv, double stop_tol,
             Index batch_rows, bool fused_network, std::uint64_t point_offset, const py::object& progress,
             double progress_interval, const std::string& device, py::object value_and_grad) {
    const gradlime::RowMatrix Xm = as_matrix(X, "X");
    const gradlime::NoiseSampler sampler = make_sampler(kernel, stddev, cov);
    gradlime::EngineOptions opt;
    opt.smoothgrad = smoothgrad;
    opt.clime = clime;
    opt.stein = stein;
    opt.n_samples = n_samples;
    opt.ridge = ridge;
    opt.seed = seed;
    opt.common_draws = common_draws;
    opt.scheme = gradlime::SampleScheme{antithetic, qmc};
    opt.stein_cv = stein_cv;
    opt.stop_tol = stop_tol;
    opt.driver = driver_options(batch_rows, fused_network, kept_normals_bytes, point_offset, progress,
                                progress_interval, device);
    BoundModel model = bind_model(std::move(f), std::move(grad), network, target, std::move(value_and_grad));
    gradlime::EngineResult result = without_gil([&] { return gradlime::run_engine(Xm, sampler, model.get(), opt); });
    py::dict out;
    auto put = [&](const char* name, bool on, gradlime::Estimate& e) {
        if (on) out[name] = py::make_tuple(std::move(e.values), std::move(e.stderr_));
    };
    put("smoothgrad", smoothgrad, result.smoothgrad);
    put("clime", clime, result.clime);
    put("stein", stein, result.stein);
    out["samples"] = py::array_t<Index>(static_cast<py::ssize_t>(result.samples.size()), result.samples.data());
    return out;
}

}  // namespace

void register_engine(py::module_& m) {
    m.def("run", &run, "X"_a, "f"_a, "grad"_a, "stddev"_a = py::none(), "cov"_a = py::none(), "smoothgrad"_a = false,
          "clime"_a = false, "stein"_a = false, "n_samples"_a = 1000, "ridge"_a = 0.0, "seed"_a = 0,
          "kept_normals_bytes"_a = gradlime::DriverOptions{}.kept_bytes, "network"_a = nullptr, "target"_a = 0,
          "kernel"_a = "gaussian", "common_draws"_a = false, "antithetic"_a = false, "qmc"_a = 0, "stein_cv"_a = false, "stop_tol"_a = 0.0,
          GRADLIME_DRIVER_KWARGS, "value_and_grad"_a = py::none(),
          "The Gaussian family over a model; returns {method: (values, stderr), 'samples': per point}.");
    m.def("max_threads", &gradlime::max_threads, "OpenMP threads the engine will use.");
#ifdef GRADLIME_HAVE_OPENMP
    m.attr("openmp") = true;
#else
    m.attr("openmp") = false;
#endif
    m.attr("simd") = GRADLIME_SIMD_PATH;  // the vector path compiled in (simd/isa.hpp)
#ifdef GRADLIME_HAVE_CUDA
    m.attr("cuda") = true;  // the CUDA backend is compiled in (cuda_info: whether a device is usable)
#else
    m.attr("cuda") = false;
#endif
}
