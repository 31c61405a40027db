// Models as the engine sees them, built from what the Python layer hands over: a native network
// or Python callables. Shared by every binding that runs the engine.
#pragma once

#include <memory>

#include "gradlime/driver.hpp"
#include "gradlime/mlp.hpp"
#include "gradlime/model.hpp"
#include "pybind.hpp"

struct BoundModel {
    std::unique_ptr<gradlime::BatchModel> native;  // the network model, when there is one
    std::unique_ptr<gradlime::BatchModel> model;   // what the engine calls
    gradlime::BatchModel& get() { return *model; }
};

// Construct with the GIL held; the result may be used without it (it re-takes the GIL to call
// back into Python and to check for Ctrl-C). `network` must outlive it. `value_and_grad` (None,
// or a callable giving (values, gradients) of a batch in one call) serves batches that want both.
BoundModel bind_model(py::object f, py::object grad, const gradlime::FeedForwardNetwork* network,
                      gradlime::Index target, py::object value_and_grad = py::none());

// The driver's options from a binding's keyword arguments. `progress` (None or a callable
// (finished, total)) is called with the GIL taken; the caller keeps it alive for the run.
gradlime::DriverOptions driver_options(gradlime::Index batch_rows, bool fused_network, gradlime::Index kept_bytes,
                                       std::uint64_t point_offset, const py::object& progress,
                                       double progress_interval, const std::string& device);

// The driver's keyword arguments, shared by every binding that runs it.
#define GRADLIME_DRIVER_KWARGS                                                                            \
    "batch_rows"_a = 8192, "fused_network"_a = true, "point_offset"_a = 0, "progress"_a = py::none(),  \
        "progress_interval"_a = 0.1, "device"_a = "cpu"
