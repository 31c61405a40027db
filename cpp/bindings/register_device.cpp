// What the device backends (device/estimates.hpp) can do in this build and on this machine.
// The backends themselves are reached through run(device=...): the driver's device seam.
#include "gradlime/device/estimates.hpp"
#include "pybind.hpp"

void register_device(py::module_& m) {
    m.def(
        "cuda_info",
        [] {
            const gradlime::device::CudaInfo info = gradlime::device::cuda_info();
            return py::dict("compiled"_a = info.compiled, "devices"_a = info.devices, "error"_a = info.error,
                            "names"_a = info.names);
        },
        "What this build and machine offer: compiled (built with CUDA), devices (usable GPUs), error (why none), "
        "names.");
}
