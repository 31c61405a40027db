#include <pybind11/eigen.h>

#include "gradlime/rng/layouts.hpp"
#include "gradlime/rng/philox.hpp"
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
}
