// What the device seams share (device/estimates.hpp's detail): the backend a run's options name,
// the refusals, progress and Ctrl-C between chunks, and the check of the estimates.
#include <memory>
#include <stdexcept>
#include <string>

#include "gradlime/device/estimates.hpp"
#include "gradlime/driver.hpp"

namespace gradlime::device {

namespace detail {

void check_finite(const RowMatrix& A, Index p0, Index m, const char* what) {
    for (Index i = p0; i < p0 + m; ++i)
        if (!A.row(i).allFinite())
            throw std::invalid_argument(std::string(what) + ": a non-finite estimate at point " + std::to_string(i) +
                                        " (the network's values or gradients overflowed)");
}

std::unique_ptr<DeviceBackend> backend_for(const NetworkModel& native, const DriverOptions& driver) {
    const FlatNetwork net = flatten(native.network());
    const int target = static_cast<int>(native.target());
    if (driver.device == Device::CudaReference) return host_backend(net, target);
    if (driver.device == Device::CudaEmulation) return emulated_backend(net, target, driver.device_index == 1);
    return cuda_backend(net, target, driver.device_index);
}

void refuse(const char* runs, std::initializer_list<Refusal> reasons) {
    std::string refused;
    for (const Refusal& r : reasons)
        if (r.holds) refused += (refused.empty() ? "" : ", ") + std::string(r.what);
    if (!refused.empty())
        throw std::invalid_argument(std::string("the CUDA backend runs ") + runs + "; not " + refused +
                                    ": use device='cpu'");
}

ChunkDone chunk_reporter(BatchModel& model, const DriverOptions& driver, Count total) {
    auto progress = std::make_shared<Progress>(driver, total);
    return [&model, progress](Count done) {
        model.check_interrupt();
        progress->set_done(done);
        if (done < progress->total()) progress->report();
        else progress->finish();
    };
}

}  // namespace detail

}  // namespace gradlime::device
