#include "pybind.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() = "gradlime's compiled core (private: use the gradlime package)";
    // Hooks for the tests (the draws themselves, for known-answer and layout tests): not API.
    py::module_ testing = m.def_submodule("_testing", "test-only hooks into gradlime's core (not API)");
    register_rng(testing);
    register_sampling(m);
    register_mlp(m);
    register_engine(m);
    register_lime(m, testing);
    register_shap(m);
    register_device(m);
}
