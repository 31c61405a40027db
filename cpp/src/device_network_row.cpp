// The host reference's network row (device/network_row.hpp), compiled like mlp.cpp with
// contraction on (CMakeLists.txt), so its float arithmetic is the batched network's: the same
// fused multiply-adds where mlp.cpp's loops have them. The draws and sums, in device_gaussian.cpp,
// are never contracted.
#include "gradlime/device/network_row.hpp"
#include "gradlime/device/strided.hpp"

namespace gradlime::device {

float host_row_value_and_grad(const NetworkView& net, int target, float* work, float* grad) {
    return row_value_and_grad(net, target, work, grad);
}

// The kernels' rows, feature-major in a tile (device/blocks.hpp), for the host emulation.
float host_row_value_and_grad(const NetworkView& net, int target, Strided<float> work, Strided<float> grad) {
    return row_value_and_grad(net, target, work, grad);
}

}  // namespace gradlime::device
