// KernelSHAP's model evaluations on a device backend (device/estimates.hpp): E f(b) over the
// background, then each chunk of points' f(x) and coalition sums (device/shap_sums.hpp), handed
// to the CPU engine's fit (kernel_shap.cpp). The coalitions are built on the backend from the
// design's pairs and each point's inverse permutation (O(d) a point on the host).
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "gradlime/device/estimates.hpp"

namespace gradlime::device {

double background_mean(DeviceBackend& backend, const SampleJob& job) {
    SampleJob bg = job;
    bg.X = job.background;
    bg.rows = job.background_rows;
    bg.n_samples = 0;
    const Index B = bg.rows, chunk = std::max<Index>(1, backend.chunk_points(bg));
    std::vector<double> fx(static_cast<size_t>(B));
    for (Index p0 = 0; p0 < B; p0 += chunk)
        backend.coalition_sums(bg, p0, std::min(chunk, B - p0), ShapCoalitions{}, fx.data() + p0, nullptr);
    double sum = 0.0;
    for (Index b = 0; b < B; ++b) {
        if (!std::isfinite(fx[static_cast<size_t>(b)]))
            throw std::invalid_argument("kernel_shap: the network's value overflowed at background row " +
                                        std::to_string(b));
        sum += fx[static_cast<size_t>(b)];  // in row order, as the engine's prologue
    }
    return sum / static_cast<double>(B);
}

void kernel_shap_sums(DeviceBackend& backend, const SampleJob& job, const ShapCoalitions& coalitions,
                      const InversePermutation& inverse, const TakeSums& take, const ChunkDone& done) {
    const Index N = job.rows, n = job.n_samples, d = job.d, chunk = std::max<Index>(1, backend.chunk_points(job));
    std::vector<std::int32_t> inverses;
    std::vector<double> fx, sums;
    for (Index p0 = 0; p0 < N; p0 += chunk) {
        const Index m = std::min(chunk, N - p0);
        ShapCoalitions c = coalitions;
        if (!c.exact && n > 0) {
            inverses.resize(static_cast<size_t>(m * d));
            for (Index i = 0; i < m; ++i) inverse(p0 + i, inverses.data() + i * d);
            c.inverse = inverses.data();
        }
        fx.resize(static_cast<size_t>(m));
        sums.resize(static_cast<size_t>(m * n));
        backend.coalition_sums(job, p0, m, c, fx.data(), sums.data());
        for (Index i = 0; i < m; ++i) {
            bool finite = std::isfinite(fx[static_cast<size_t>(i)]);
            for (Index j = 0; j < n; ++j) finite = finite && std::isfinite(sums[static_cast<size_t>(i * n + j)]);
            if (!finite)
                throw std::invalid_argument("kernel_shap: the network's values overflowed at point " +
                                            std::to_string(p0 + i));
        }
        take(p0, m, fx.data(), sums.data());
        if (done) done(p0 + m);
    }
}

}  // namespace gradlime::device
