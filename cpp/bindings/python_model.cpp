#include "python_model.hpp"

namespace {

using gradlime::Index;


// A model made of Python callables. The engine runs without the GIL; this class takes it only
// to allocate the batch array and to call back, so other Python threads keep running.
class PythonModel final : public gradlime::BatchModel {
public:
    PythonModel(py::object f, py::object grad, py::object value_and_grad)
        : f_(std::move(f)), grad_(std::move(grad)), both_(std::move(value_and_grad)) {}
    // Constructed and destroyed with the GIL held (see run()).

    bool has_gradient() const override { return !grad_.is_none(); }

    double* input_buffer(int slot, Index m, Index d) override {
        py::gil_scoped_acquire gil;
        // The callable may keep the array it was handed: reuse ours only when nobody else holds
        // a reference to it (then refilling it is invisible), else hand out a fresh one.
        py::array_t<double>& a = batch_[slot];
        const bool reusable = a.ref_count() == 1 && a.ndim() == 2 && a.shape(0) == m && a.shape(1) == d;
        if (!reusable) a = py::array_t<double>({m, d});
        return a.mutable_data();
    }

    gradlime::ModelOutput evaluate(int slot, Index m, Index d, bool want_values, bool want_gradients) override {
        py::gil_scoped_acquire gil;
        gradlime::ModelOutput out;
        if (want_values && want_gradients && !both_.is_none()) {  // one pass gives both (torch)
            raise_if_interrupted();
            const py::object pair = both_(batch_[slot]);
            if (!py::isinstance<py::tuple>(pair) || py::len(pair) != 2)
                throw py::type_error("model value_and_grad must return a pair (values, gradients)");
            values_ = as_values(pair[py::int_(0)], m);
            gradients_ = as_gradients(pair[py::int_(1)], m, d);
            out.values = values_.data();
            out.gradients = gradients_.data();
            return out;
        }
        if (want_values) {
            raise_if_interrupted();
            values_ = as_values(f_(batch_[slot]), m);
            out.values = values_.data();
        }
        if (want_gradients) {
            raise_if_interrupted();
            gradients_ = as_gradients(grad_(batch_[slot]), m, d);
            out.gradients = gradients_.data();
        }
        return out;
    }

    void check_interrupt() override {
        py::gil_scoped_acquire gil;
        raise_if_interrupted();
    }

private:
    static void raise_if_interrupted() {
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    }

    static std::string shape_of(const py::array& a) {
        std::string s = "(";
        for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
        return s + (a.ndim() == 1 ? ",)" : ")");
    }

    static DoubleArray as_array(const py::object& result, const char* what) {
        // float64 would keep only the real part of complex values, and read datetimes as counts
        if (py::isinstance<py::array>(result)) {
            const char kind = py::reinterpret_borrow<py::array>(result).dtype().kind();
            if (kind == 'c' || kind == 'M' || kind == 'm')
                throw py::type_error(std::string("model ") + what + " must return real numbers; got " +
                                     (kind == 'c' ? "complex" : "datetime") + " values");
        }
        auto a = DoubleArray::ensure(result);  // null (error cleared) when not convertible
        if (!a)
            throw py::type_error(std::string("model ") + what + " must return an array of floats; got " +
                                 py::repr(py::type::handle_of(result)).cast<std::string>());
        return a;
    }

    static DoubleArray as_values(const py::object& result, Index m) {
        DoubleArray a = as_array(result, "f");
        const bool ok = (a.ndim() == 1 && a.shape(0) == m) || (a.ndim() == 2 && a.shape(0) == m && a.shape(1) == 1);
        if (!ok)
            throw py::value_error("model f returned shape " + shape_of(a) + " for a batch of " + std::to_string(m) +
                                  " rows; expected (" + std::to_string(m) + ",)");
        return a;
    }

    static DoubleArray as_gradients(const py::object& result, Index m, Index d) {
        DoubleArray a = as_array(result, "grad");
        if (!(a.ndim() == 2 && a.shape(0) == m && a.shape(1) == d))
            throw py::value_error("model grad returned shape " + shape_of(a) + " for a batch of " + std::to_string(m) +
                                  " rows; expected (" + std::to_string(m) + ", " + std::to_string(d) + ")");
        return a;
    }

    py::object f_, grad_, both_;
    py::array_t<double> batch_[2];
    DoubleArray values_, gradients_;
};

// A native model with Ctrl-C: the engine asks between batches, and only this layer knows Python.
class InterruptibleModel final : public gradlime::BatchModel {
public:
    explicit InterruptibleModel(gradlime::BatchModel& inner) : inner_(inner) {}
    bool has_gradient() const override { return inner_.has_gradient(); }
    double* input_buffer(int slot, Index m, Index d) override { return inner_.input_buffer(slot, m, d); }
    gradlime::ModelOutput evaluate(int slot, Index m, Index d, bool values, bool gradients) override {
        return inner_.evaluate(slot, m, d, values, gradients);
    }
    const gradlime::NetworkModel* as_network() const override { return inner_.as_network(); }
    void check_interrupt() override {
        py::gil_scoped_acquire gil;
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    }

private:
    gradlime::BatchModel& inner_;
};

}  // namespace

BoundModel bind_model(py::object f, py::object grad, const gradlime::FeedForwardNetwork* network, Index target,
                      py::object value_and_grad) {
    BoundModel b;
    if (network) {
        b.native = std::make_unique<gradlime::NetworkModel>(*network, target);
        b.model = std::make_unique<InterruptibleModel>(*b.native);
    } else {
        b.model = std::make_unique<PythonModel>(std::move(f), std::move(grad), std::move(value_and_grad));
    }
    return b;
}

gradlime::DriverOptions driver_options(Index batch_rows, bool fused_network, Index kept_bytes,
                                       std::uint64_t point_offset, const py::object& progress,
                                       double progress_interval, const std::string& device) {
    gradlime::DriverOptions opt;
    opt.batch_rows = batch_rows;
    opt.fused_network = fused_network;
    opt.kept_bytes = kept_bytes;
    opt.point_offset = point_offset;
    opt.progress_interval = progress_interval;
    if (device == "cpu") opt.device = gradlime::Device::Cpu;
    else if (device == "host") opt.device = gradlime::Device::Host;
    else if (device == "cuda_reference") opt.device = gradlime::Device::CudaReference;
    else if (device == "cuda_emulation") opt.device = gradlime::Device::CudaEmulation;
    else if (device == "cuda_emulation:global") {
        opt.device = gradlime::Device::CudaEmulation;
        opt.device_index = 1;
    }
    else if (device == "cuda") opt.device = gradlime::Device::Cuda;
    else if (device.rfind("cuda:", 0) == 0 && device.size() > 5 &&
             device.find_first_not_of("0123456789", 5) == std::string::npos && device.size() < 10) {
        opt.device = gradlime::Device::Cuda;
        opt.device_index = std::stoi(device.substr(5));
    } else
        throw py::value_error("device must be 'cpu', 'cuda' or 'cuda:N' (or the reference backends 'host', "
                              "'cuda_reference', 'cuda_emulation', 'cuda_emulation:global'); got '" + device + "'");
    if (!progress.is_none()) {
        if (!PyCallable_Check(progress.ptr())) throw py::type_error("progress must be a callable (finished, total)");
        // A borrowed handle: copies of the std::function never touch reference counts without the GIL.
        const py::handle callback = progress;
        opt.progress = [callback](Index done, Index total) {
            py::gil_scoped_acquire gil;
            callback(done, total);
        };
    }
    return opt;
}
