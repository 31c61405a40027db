#include <pybind11/eigen.h>

#include <map>

#include "gradlime/mlp.hpp"
#include "pybind.hpp"

namespace {

gradlime::LayerKind activation_kind(const std::string& name) {
    static const std::map<std::string, gradlime::LayerKind> kinds = {
        {"relu", gradlime::LayerKind::Relu},       {"leaky_relu", gradlime::LayerKind::LeakyRelu},
        {"elu", gradlime::LayerKind::Elu},         {"selu", gradlime::LayerKind::Selu},
        {"sigmoid", gradlime::LayerKind::Sigmoid}, {"tanh", gradlime::LayerKind::Tanh},
        {"softplus", gradlime::LayerKind::Softplus}, {"softmax", gradlime::LayerKind::Softmax},
        {"log_softmax", gradlime::LayerKind::LogSoftmax}};
    const auto it = kinds.find(name);
    if (it == kinds.end()) throw py::value_error("unknown activation '" + name + "'");
    return it->second;
}

}  // namespace

void register_mlp(py::module_& m) {
    using gradlime::FeedForwardNetwork;
    py::class_<FeedForwardNetwork>(m, "FeedForwardNetwork",
                                   "A feed-forward network evaluated natively in float32 (values and exact gradients).")
        .def(py::init<gradlime::Index>(), "input_dim"_a)
        .def("add_dense", &FeedForwardNetwork::add_dense, "weight"_a, "bias"_a,
             "Append y = weight @ x + bias; weight has shape (out, in).")
        .def(
            "add_activation",
            [](FeedForwardNetwork& net, const std::string& kind, double alpha, double gamma) {
                net.add_activation(activation_kind(kind), alpha, gamma);
            },
            "kind"_a, "alpha"_a = 0.0, "gamma"_a = 0.0)
        .def_property_readonly("input_dim", &FeedForwardNetwork::input_dim)
        .def_property_readonly("output_dim", &FeedForwardNetwork::output_dim)
        .def("__repr__", [](const FeedForwardNetwork& n) { return "FeedForwardNetwork(" + n.describe() + ")"; })
        .def(
            "evaluate",
            [](const FeedForwardNetwork& net, const DoubleArray& A, gradlime::Index target, bool gradient) -> py::tuple {
                if (A.ndim() != 2 || A.shape(1) != net.input_dim())
                    throw py::value_error("expected inputs of shape (m, " + std::to_string(net.input_dim()) + ")");
                const gradlime::Index rows = A.shape(0);
                gradlime::Vector values(rows);
                gradlime::RowMatrix grads(gradient ? rows : 0, net.input_dim());
                // reads A (kept alive by the caller), writes locals
                without_gil([&] { net.evaluate(A.data(), rows, target, values.data(), gradient ? grads.data() : nullptr); });
                if (!gradient) return py::make_tuple(std::move(values), py::none());
                return py::make_tuple(std::move(values), std::move(grads));
            },
            "A"_a, "target"_a = 0, "gradient"_a = false,
            "Output `target` for each row of A (m, d) and, if asked, its gradient (m, d).");
}
