#include "gradlime/engine.hpp"
#include "gradlime/rng.hpp"
#include <pybind11/eigen.h>

#include "pybind.hpp"

void register_rng(py::module_& m) {
    m.def(
        "philox4x32_10",
        [](std::array<std::uint32_t, 4> counter, std::array<std::uint32_t, 2> key) {
            return gradlime::philox4x32_10(counter, key);
        },
        "counter"_a, "key"_a, "One Philox4x32-10 block (for known-answer tests).");
    m.def(
        "gaussian_rows",
        [](std::uint64_t seed, std::uint32_t stream, std::uint64_t first, gradlime::Index m, gradlime::Index d) {
            if (m < 0 || d < 1) throw std::invalid_argument("need m >= 0 and d >= 1");
            gradlime::RowMatrix Z;
            {
                py::gil_scoped_release release;  // pure C++ on locals
                gradlime::gaussian_rows(seed, stream, first, m, d, Z);
            }
            return Z;
        },
        "seed"_a, "stream"_a, "first"_a, "m"_a, "d"_a,
        "The standard normals the engine draws for samples [first, first + m) of point `stream`.");
    m.def(
        "gaussian_columns",
        [](std::uint64_t seed, std::uint32_t stream, std::uint64_t first, gradlime::Index m, gradlime::Index d) {
            if (m < 0 || d < 1) throw std::invalid_argument("need m >= 0 and d >= 1");
            gradlime::RowMatrix Z(d, m);
            {
                py::gil_scoped_release release;
                gradlime::gaussian_columns(seed, stream, first, m, d, Z.data(), m);
            }
            return Z;
        },
        "seed"_a, "stream"_a, "first"_a, "m"_a, "d"_a,
        "gaussian_rows(...).T, drawn feature-major (the layout of the native network's blocks).");
}
