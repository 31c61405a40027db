// LIME on a device backend (device/estimates.hpp): the masks, the network, the per-point sums of
// device/lime_sums.hpp, the solve and the sandwich (device/fits.hpp) on the backend; the errors
// in lime_fit.hpp's words.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "gradlime/device/estimates.hpp"
#include "gradlime/device/passes.hpp"
#include "gradlime/lime_fit.hpp"

namespace gradlime::device {

Estimate lime_estimates(DeviceBackend& backend, const SampleJob& job, double kernel_width, double ridge,
                        const ChunkDone& done) {
    const Index N = job.rows, d = job.d;
    Estimate out{RowMatrix::Zero(N, d), RowMatrix::Zero(N, d)};
    const Eigen::Map<const RowMatrix> X(job.X, N, d);
    const Eigen::Map<const Vector> baseline(job.baseline, d);
    const double inv_width2 = 1.0 / (kernel_width * kernel_width);
    const Index chunk = std::max<Index>(1, backend.chunk_points(job));
    for (Index p0 = 0; p0 < N; p0 += chunk) {
        const Index m = std::min(chunk, N - p0);
        std::vector<double> fbar(static_cast<size_t>(m));
        backend.values_and_gradients(job, p0, m, fbar.data(), nullptr, nullptr);
        for (Index i = 0; i < m; ++i)
            if (!std::isfinite(fbar[static_cast<size_t>(i)]))
                throw std::invalid_argument("lime: the network's values overflowed at point " + std::to_string(p0 + i));
        PassInputs in;
        in.inv_width2 = inv_width2;
        std::vector<int> flags(static_cast<size_t>(m));
        backend.fit(FitKind::Lime, job, p0, m, in, ridge, out.values.row(p0).data(), out.stderr_.row(p0).data(),
                    flags.data());
        for (Index i = 0; i < m; ++i) {  // what the CPU engine says first of the first point it says it of
            const int f = flags[static_cast<size_t>(i)];
            if (f & kUnderflow) throw_weights_underflow(p0 + i, (X.row(p0 + i).transpose() - baseline).norm());
            if (f & kSingular) throw_singular_masks(p0 + i);
        }
        detail::check_finite(out.values, p0, m, "lime");
        if (done) done(p0 + m);
    }
    return out;
}

LimeResult run_lime_on_device(const RowMatrix& X, const Vector& baseline, BatchModel& model, const LimeOptions& opt) {
    const NetworkModel* native = model.as_network();
    detail::refuse("lime of native networks",
                   {{native == nullptr, "a model that is not a native network"}, {opt.stop_tol > 0.0, "tol"}});
    SampleJob job;
    job.X = X.data();
    job.rows = X.rows();
    job.d = X.cols();
    job.draws = Draws::Masks;
    job.baseline = baseline.data();
    job.n_samples = opt.n_samples;
    job.seed = opt.seed;
    job.first_stream = static_cast<std::uint32_t>(opt.driver.point_offset);
    const std::unique_ptr<DeviceBackend> backend = detail::backend_for(*native, opt.driver);
    LimeResult out;
    out.estimate = lime_estimates(*backend, job, opt.kernel_width, opt.ridge,
                                  detail::chunk_reporter(model, opt.driver, X.rows()));
    out.samples.assign(static_cast<size_t>(X.rows()), opt.n_samples);
    return out;
}

}  // namespace gradlime::device
