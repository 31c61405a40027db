#include "pybind.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() = "gradlime's compiled core (private: use the gradlime package)";
    register_rng(m);
    register_sampling(m);
    register_mlp(m);
    register_engine(m);
    register_lime(m);
    register_shap(m);
}
