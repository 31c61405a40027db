// LIME on a device backend (device/estimates.hpp): the masks, the network and the per-point sums
// of device/lime_sums.hpp on the backend, the solve and the sandwich on the host (lime_fit.hpp,
// the CPU engine's own finalisation).
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
    const Index N = job.rows, d = job.d, n = job.n_samples;
    const int di = static_cast<int>(d);
    Estimate out{RowMatrix::Zero(N, d), RowMatrix::Zero(N, d)};
    const Eigen::Map<const RowMatrix> X(job.X, N, d);
    const Eigen::Map<const Vector> baseline(job.baseline, d);
    const double inv_width2 = 1.0 / (kernel_width * kernel_width);
    const Index fit_width = pass_shape(Pass::LimeFit, di).width, meat_width = pass_shape(Pass::LimeMeat, di).width;
    const Index chunk = std::max<Index>(1, backend.chunk_points(job));
    for (Index p0 = 0; p0 < N; p0 += chunk) {
        const Index m = std::min(chunk, N - p0);
        std::vector<double> fbar(static_cast<size_t>(m));
        backend.values_and_gradients(job, p0, m, fbar.data(), nullptr, nullptr);
        for (Index i = 0; i < m; ++i)
            if (!std::isfinite(fbar[static_cast<size_t>(i)]))
                throw std::invalid_argument("lime: the network's values overflowed at point " + std::to_string(p0 + i));
        std::vector<double> sums(static_cast<size_t>(m * fit_width));
        PassInputs in;  // each chunk's own: the backend reads (uploads) whatever it points to
        in.inv_width2 = inv_width2;
        backend.sums(Pass::LimeFit, job, p0, m, in, sums.data());
        // The lower triangle over [z; y'; 1]: P, then the row of y' (Q), then the row of 1 (.., Y, W).
        std::vector<LimeSolution> fits;
        fits.reserve(static_cast<size_t>(m));
        std::vector<double> coef(static_cast<size_t>(m * d)), intercept(static_cast<size_t>(m));
        for (Index i = 0; i < m; ++i) {
            const Matrix M = detail::unpack_lower(sums.data() + i * fit_width, di + 2);
            LimeFitSums S;
            S.P = M.topLeftCorner(d, d);
            S.Q = M.row(d).head(d).transpose();
            S.Y = M(d + 1, d);
            S.W = M(d + 1, d + 1);
            fits.emplace_back(S, ridge, p0 + i, (X.row(p0 + i).transpose() - baseline).norm());
            Eigen::Map<Vector>(coef.data() + i * d, d) = fits.back().coef();
            intercept[static_cast<size_t>(i)] = fits.back().intercept();
            out.values.row(p0 + i) = fits.back().coef().transpose();
        }
        in.coef = coef.data();
        in.intercept = intercept.data();
        std::vector<double> meat(static_cast<size_t>(m * meat_width));
        backend.sums(Pass::LimeMeat, job, p0, m, in, meat.data());
        for (Index i = 0; i < m; ++i) {
            const Matrix M = detail::unpack_lower(meat.data() + i * meat_width, di + 1);
            LimeMeatSums S;
            S.R = M.topLeftCorner(d, d);
            S.U = M(d, d);
            out.stderr_.row(p0 + i) = fits[static_cast<size_t>(i)].stderr_of(S, n, [] {}).transpose();
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
