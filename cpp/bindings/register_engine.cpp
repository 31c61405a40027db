#include <Eigen/Core>
#include <pybind11/eigen.h>

#include "gradlime/engine.hpp"
#include "gradlime/mlp.hpp"
#include "gradlime/parallel.hpp"
#include "gradlime/sampling.hpp"
#include "pybind.hpp"
#include "python_model.hpp"

namespace {

using gradlime::Index;

py::dict run(const DoubleArray& X, py::object f, py::object grad, const std::optional<DoubleArray>& stddev,
             const std::optional<DoubleArray>& cov, bool smoothgrad, bool clime, bool stein, Index n_samples,
             double ridge, std::uint64_t seed, Index batch_rows, Index kept_normals_bytes,
             const gradlime::FeedForwardNetwork* network, Index target, const std::string& kernel,
             bool common_draws, bool fused_network) {
    const gradlime::RowMatrix Xm = as_matrix(X, "X");
    const gradlime::NoiseSampler sampler = make_sampler(kernel, stddev, cov);
    gradlime::EngineOptions opt;
    opt.smoothgrad = smoothgrad;
    opt.clime = clime;
    opt.stein = stein;
    opt.n_samples = n_samples;
    opt.ridge = ridge;
    opt.seed = seed;
    opt.batch_rows = batch_rows;
    opt.kept_normals_bytes = kept_normals_bytes;
    opt.common_draws = common_draws;
    opt.fused_network = fused_network;
    BoundModel model = bind_model(std::move(f), std::move(grad), network, target);
    gradlime::EngineResult result;
    {
        // The engine touches no Python object; PythonModel re-takes the GIL for each callback,
        // and the network (kept alive by the caller's reference) never needs it.
        py::gil_scoped_release release;
        result = gradlime::run_engine(Xm, sampler, model.get(), opt);
    }
    py::dict out;
    auto put = [&](const char* name, bool on, gradlime::Estimate& e) {
        if (on) out[name] = py::make_tuple(std::move(e.values), std::move(e.stderr_));
    };
    put("smoothgrad", smoothgrad, result.smoothgrad);
    put("clime", clime, result.clime);
    put("stein", stein, result.stein);
    return out;
}

}  // namespace

void register_engine(py::module_& m) {
    m.def("run", &run, "X"_a, "f"_a, "grad"_a, "stddev"_a = py::none(), "cov"_a = py::none(), "smoothgrad"_a = false,
          "clime"_a = false, "stein"_a = false, "n_samples"_a = 1000, "ridge"_a = 0.0, "seed"_a = 0,
          "batch_rows"_a = 8192, "kept_normals_bytes"_a = gradlime::EngineOptions{}.kept_normals_bytes,
          "network"_a = nullptr, "target"_a = 0, "kernel"_a = "gaussian", "common_draws"_a = false,
          "fused_network"_a = true,
          "Run the streaming engine over a Python model; returns {method: (values, stderr)}.");
    m.def("max_threads", &gradlime::max_threads, "OpenMP threads the engine will use.");
#ifdef GRADLIME_HAVE_OPENMP
    m.attr("openmp") = true;
#else
    m.attr("openmp") = false;
#endif
}
