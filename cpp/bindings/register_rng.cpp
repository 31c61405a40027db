#include <pybind11/eigen.h>

#include "gradlime/rng/layouts.hpp"
#include "gradlime/rng/philox.hpp"
#include "gradlime/rng/inverse_normal.hpp"
#include "gradlime/rng/masks.hpp"
#include "gradlime/rng/sobol.hpp"
#include "pybind.hpp"

namespace {

using gradlime::Index;

// A (rows, cols) matrix that fill(data) writes m draws of d coordinates into, without the GIL
// (pure C++ on a local).
template <class Fill>
gradlime::RowMatrix drawn(Index m, Index d, Index rows, Index cols, Fill&& fill) {
    if (m < 0 || d < 1) throw std::invalid_argument("need m >= 0 and d >= 1");
    gradlime::RowMatrix Z(rows, cols);
    without_gil([&] { fill(Z.data()); });
    return Z;
}

}  // namespace

void register_rng(py::module_& m) {
    m.def(
        "philox4x32_10",
        [](std::array<std::uint32_t, 4> counter, std::array<std::uint32_t, 2> key) {
            return gradlime::philox4x32_10(counter, key);
        },
        "counter"_a, "key"_a, "One Philox4x32-10 block (for known-answer tests).");
    m.def(
        "gaussian_rows",
        [](std::uint64_t seed, std::uint32_t stream, std::uint64_t first, Index m, Index d) {
            return drawn(m, d, m, d, [&](double* z) { gradlime::gaussian_rows(seed, stream, first, m, d, z, d); });
        },
        "seed"_a, "stream"_a, "first"_a, "m"_a, "d"_a,
        "The standard normals the engine draws for samples [first, first + m) of point `stream`.");
    m.def(
        "gaussian_columns",
        [](std::uint64_t seed, std::uint32_t stream, std::uint64_t first, Index m, Index d) {
            return drawn(m, d, d, m, [&](double* z) { gradlime::gaussian_columns(seed, stream, first, m, d, z, m); });
        },
        "seed"_a, "stream"_a, "first"_a, "m"_a, "d"_a,
        "gaussian_rows(...).T, drawn feature-major (the layout of the native network's blocks).");
    m.def(
        "uniform_rows",
        [](std::uint64_t seed, std::uint32_t stream, std::uint64_t first, Index m, Index d) {
            return drawn(m, d, m, d, [&](double* u) { gradlime::uniform_rows(seed, stream, first, m, d, u, d); });
        },
        "seed"_a, "stream"_a, "first"_a, "m"_a, "d"_a,
        "The uniforms in (0, 1) behind the uniform and Laplace kernels, from gaussian_rows' counters.");
    m.def(
        "qmc_draws",
        [](std::uint64_t seed, std::uint32_t stream, int scrambles, bool antithetic, std::uint64_t first, Index m,
           Index d, bool gaussian) {
            if (scrambles < 1) throw std::invalid_argument("scrambles must be >= 1");
            gradlime::SampleScheme scheme{antithetic, scrambles};
            return drawn(m, d, m, d, [&](double* z) {
                gradlime::qmc_draws(seed, stream, scheme, first, m, d, gaussian, z, d, 1);
            });
        },
        "seed"_a, "stream"_a, "scrambles"_a, "antithetic"_a, "first"_a, "m"_a, "d"_a, "gaussian"_a = true,
        "The QMC scheme's draws for samples [first, first + m) of point `stream`: normals, or uniforms.");
    m.def(
        "inverse_normal_cdf",
        [](const std::vector<double>& u) {
            std::vector<double> z(u.size());
            for (size_t i = 0; i < u.size(); ++i) z[i] = gradlime::inverse_normal_cdf(u[i]);
            return z;
        },
        "u"_a, "Phi^-1 as the QMC scheme computes it (AS 241), for u in [2^-53, 1 - 2^-53].");
    m.def(
        "shap_subset",
        [](std::uint64_t seed, std::uint32_t point, std::uint64_t index, Index d, Index s) {
            if (d < 2 || s < 1 || s >= d) throw std::invalid_argument("need 0 < s < d");
            std::vector<std::uint8_t> z(static_cast<size_t>(d));
            gradlime::uniform_subset(gradlime::key_from_seed(seed), point, index, d, s, z.data());
            return z;
        },
        "seed"_a, "point"_a, "index"_a, "d"_a, "s"_a, "KernelSHAP's uniform s-subset for draw `index` of `point`.");
    m.def(
        "shap_permutation",
        [](std::uint64_t seed, std::uint32_t point, Index d) {
            if (d < 1) throw std::invalid_argument("need d >= 1");
            std::vector<std::ptrdiff_t> perm(static_cast<size_t>(d));
            gradlime::feature_permutation(gradlime::key_from_seed(seed), point, d, perm.data());
            return perm;
        },
        "seed"_a, "point"_a, "d"_a, "KernelSHAP's relabelling of the features for `point`.");
    m.def("primitive_polynomials", &gradlime::primitive_polynomials, "count"_a,
          "The first primitive polynomials over GF(2), as bits.");
    m.def(
        "sobol_search",
        [](Index dims, int candidates) {
            return without_gil([&] { return gradlime::search_initial_numbers(dims, candidates); });
        },
        "dims"_a, "candidates"_a, "The greedy search's initial direction numbers for coordinates 1 .. dims - 1.");
    m.def(
        "sobol_table",
        [] {
            Index dims = 0;
            int candidates = 0;
            std::vector<std::uint32_t> numbers = gradlime::sobol_table(dims, candidates);
            return py::make_tuple(dims, candidates, numbers);
        },
        "(dims, candidates, numbers) of the committed table of initial direction numbers.");
    m.def("sobol_t_value", &gradlime::sobol_pair_t_value, "a"_a, "b"_a, "m"_a,
          "The t-value of coordinates (a, b)'s projection of 2^m Sobol' points.");
}
