#include <pybind11/eigen.h>

#include "gradlime/sampling.hpp"
#include "pybind.hpp"

gradlime::NoiseSampler make_sampler(const std::string& kernel, const std::optional<DoubleArray>& scale,
                                    const std::optional<DoubleArray>& cov) {
    using gradlime::NoiseSampler;
    if (cov) {
        if (kernel != "gaussian") throw py::value_error("a full covariance needs the Gaussian kernel");
        return NoiseSampler::full(as_matrix(*cov, "cov"));
    }
    if (!scale || scale->ndim() != 1) throw py::value_error("scale must be 1-D (d,)");
    const Eigen::Map<const gradlime::Vector> s(scale->data(), scale->shape(0));
    if (kernel == "gaussian") return NoiseSampler::diagonal(s);
    if (kernel == "uniform") return NoiseSampler::independent(gradlime::NoiseKind::Uniform, s);
    if (kernel == "laplace") return NoiseSampler::independent(gradlime::NoiseKind::Laplace, s);
    throw py::value_error("kernel must be 'gaussian', 'uniform' or 'laplace'; got '" + kernel + "'");
}

void register_sampling(py::module_& m) {
    m.def(
        "noise_rows",
        [](const std::string& kernel, const std::optional<DoubleArray>& scale, const std::optional<DoubleArray>& cov,
           std::uint64_t seed, std::uint32_t stream, std::uint64_t first, gradlime::Index m, bool antithetic, int qmc) {
            const gradlime::NoiseSampler sampler = make_sampler(kernel, scale, cov);
            if (m < 0) throw py::value_error("m must be >= 0");
            const gradlime::SampleScheme scheme{antithetic, qmc};
            gradlime::validate_scheme(scheme, scheme.round());
            const gradlime::Index d = sampler.dim();
            gradlime::RowMatrix Z(m, d), E(m, d);
            without_gil([&] {  // pure C++ on locals
                sampler.draw(seed, stream, first, m, Z.data(), scheme);
                for (gradlime::Index t = 0; t < m; ++t) sampler.perturb(Z.row(t).data(), E.row(t).data());
            });
            return E;
        },
        "kernel"_a, "scale"_a = py::none(), "cov"_a = py::none(), "seed"_a = 0, "stream"_a = 0, "first"_a = 0,
        "m"_a = 1, "antithetic"_a = false, "qmc"_a = 0, "The perturbations eps the engine adds for samples [first, first + m) of point `stream`.");
}
