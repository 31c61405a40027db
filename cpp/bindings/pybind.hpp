// The first include of every binding file.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "gradlime/types.hpp"

namespace py = pybind11;
using namespace pybind11::literals;

// C-contiguous float64 input, converted (copied) only when it is not already.
using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

namespace gradlime {
class NoiseSampler;
}

// Runs native work without the GIL, the one way every binding does it: convert the arguments
// first, then call this. Safe because the work touches no Python object; PythonModel and the
// progress callback re-take the GIL to call back, and a native network is kept alive by the
// caller's reference.
template <class Fn>
auto without_gil(Fn&& fn) {
    py::gil_scoped_release release;
    return fn();
}

// A C-contiguous (rows, cols) float64 array as an Eigen matrix (a copy); `name` is for the error.
inline gradlime::RowMatrix as_matrix(const DoubleArray& a, const char* name) {
    if (a.ndim() != 2) throw py::value_error(std::string(name) + " must be 2-D");
    return Eigen::Map<const gradlime::RowMatrix>(a.data(), a.shape(0), a.shape(1));
}
// The sampler for a kernel name ("gaussian", "uniform", "laplace"): `scale` holds the Gaussian's
// standard deviations, the cube's half-widths or the Laplace b; `cov` a full Gaussian covariance.
gradlime::NoiseSampler make_sampler(const std::string& kernel, const std::optional<DoubleArray>& scale,
                                    const std::optional<DoubleArray>& cov);

void register_rng(py::module_& m);
void register_sampling(py::module_& m);
void register_engine(py::module_& m);
void register_mlp(py::module_& m);
void register_lime(py::module_& m, py::module_& testing);
void register_shap(py::module_& m);
void register_device(py::module_& m);
