// The first include of every binding file.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;
using namespace pybind11::literals;

// C-contiguous float64 input, converted (copied) only when it is not already.
using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

void register_rng(py::module_& m);
void register_engine(py::module_& m);
void register_mlp(py::module_& m);
void register_shap(py::module_& m);
