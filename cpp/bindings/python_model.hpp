// Models as the engine sees them, built from what the Python layer hands over: a native network
// or Python callables. Shared by every binding that runs the engine.
#pragma once

#include <memory>

#include "gradlime/mlp.hpp"
#include "gradlime/model.hpp"
#include "pybind.hpp"

struct BoundModel {
    std::unique_ptr<gradlime::BatchModel> native;  // the network model, when there is one
    std::unique_ptr<gradlime::BatchModel> model;   // what the engine calls
    gradlime::BatchModel& get() { return *model; }
};

// Construct with the GIL held; the result may be used without it (it re-takes the GIL to call
// back into Python and to check for Ctrl-C). `network` must outlive it.
BoundModel bind_model(py::object f, py::object grad, const gradlime::FeedForwardNetwork* network,
                      gradlime::Index target);
