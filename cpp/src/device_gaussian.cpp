// The Gaussian family on a device backend (device/estimates.hpp): the orchestration of its passes
// and their finalisation, and the engine's device seam.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "gradlime/device/estimates.hpp"
#include "gradlime/device/passes.hpp"
#include "gradlime/least_squares.hpp"
#include "gradlime/sampling.hpp"

namespace gradlime::device {


using detail::check_finite;

namespace {

// C-LIME for points [p0, p0 + m), on the backend: the slopes and their standard errors into the
// results' rows; a singular design names its point, as the CPU engine does.
void clime_chunk(DeviceBackend& backend, const SampleJob& job, Index p0, Index m, const std::vector<double>& fbar,
                 double ridge, GaussianResults& out) {
    std::vector<int> flags(static_cast<size_t>(m));
    PassInputs in;
    in.fbar = fbar.data();
    backend.fit(FitKind::Clime, job, p0, m, in, ridge, out.clime.row(p0).data(), out.clime_se.row(p0).data(),
                flags.data());
    for (Index i = 0; i < m; ++i)
        if (flags[static_cast<size_t>(i)] & kSingular) throw_singular_design(p0 + i);
    check_finite(out.clime, p0, m, "clime");
}

}  // namespace

GaussianResults gaussian_estimates(DeviceBackend& backend, const SampleJob& job, bool smoothgrad, bool clime,
                                   bool stein, double ridge, const ChunkDone& done) {
    const Index N = job.rows, d = job.d, n = job.n_samples;
    if (clime && n < d + 2) throw std::invalid_argument("clime needs n_samples >= d + 2");
    GaussianResults out;
    if (smoothgrad) out.smoothgrad = out.smoothgrad_se = RowMatrix::Zero(N, d);
    if (clime) out.clime = out.clime_se = RowMatrix::Zero(N, d);
    if (stein) out.stein = out.stein_se = RowMatrix::Zero(N, d);
    const Index chunk = std::max<Index>(1, backend.chunk_points(job));
    const double nd = static_cast<double>(n);
    for (Index p0 = 0; p0 < N; p0 += chunk) {
        const Index m = std::min(chunk, N - p0);
        std::vector<double> fbar(static_cast<size_t>(m));
        // The rows of the results are the backend's (m, d) arrays, row-major.
        backend.values_and_gradients(job, p0, m, fbar.data(), smoothgrad ? out.smoothgrad.row(p0).data() : nullptr,
                                     smoothgrad ? out.smoothgrad_se.row(p0).data() : nullptr);
        if (smoothgrad) check_finite(out.smoothgrad, p0, m, "smoothgrad");
        if (stein) {  // SteinEstimator::estimate: the mean term over n - 1, its standard error
            std::vector<double> terms(static_cast<size_t>(m * 2 * d));
            PassInputs in;
            in.fbar = fbar.data();
            backend.sums(Pass::Stein, job, p0, m, in, terms.data());
            const double scale = nd / (nd - 1.0);
            for (Index i = 0; i < m; ++i)
                for (Index k = 0; k < d; ++k) {
                    const double sumsq = terms[static_cast<size_t>(i * 2 * d + k)];
                    const double sum = terms[static_cast<size_t>(i * 2 * d + d + k)];
                    const double m2 = std::max(0.0, sumsq - sum * sum / nd);
                    out.stein(p0 + i, k) = sum / nd * scale;
                    out.stein_se(p0 + i, k) = std::sqrt(m2 / ((nd - 1.0) * nd)) * scale;
                }
            check_finite(out.stein, p0, m, "stein");
        }
        if (clime) clime_chunk(backend, job, p0, m, fbar, ridge, out);
        if (done) done(p0 + m);
    }
    return out;
}

EngineResult run_engine_on_device(const RowMatrix& X, const NoiseSampler& sampler, BatchModel& model,
                                  const EngineOptions& opt) {
    const NetworkModel* native = model.as_network();
    const bool uniform = sampler.kind() == NoiseKind::Uniform;
    detail::refuse("smoothgrad, unigrad, clime and stein of native networks with Monte Carlo draws from a diagonal "
                   "Gaussian or the uniform cube",
                   {{native == nullptr, "a model that is not a native network"},
                    {opt.stein && opt.stein_cv, "stein's control variate"},
                    {!(uniform || (sampler.is_gaussian() && sampler.is_diagonal())),
                     "other noise than a diagonal Gaussian or the uniform cube"},
                    {opt.scheme.antithetic || opt.scheme.qmc(), "antithetic or QMC draws"},
                    {opt.stop_tol > 0.0, "tol"}});
    SampleJob job;
    job.X = X.data();
    job.rows = X.rows();
    job.d = X.cols();
    job.draws = uniform ? Draws::Uniform : Draws::Gaussian;
    job.scale = sampler.scale().data();
    job.n_samples = opt.n_samples;
    job.seed = opt.seed;
    job.first_stream = static_cast<std::uint32_t>(opt.driver.point_offset);
    job.common_draws = opt.common_draws;
    const std::unique_ptr<DeviceBackend> backend = detail::backend_for(*native, opt.driver);
    GaussianResults r = gaussian_estimates(*backend, job, opt.smoothgrad, opt.clime, opt.stein, opt.ridge,
                                           detail::chunk_reporter(model, opt.driver, X.rows()));
    EngineResult out;
    if (opt.smoothgrad) out.smoothgrad = {std::move(r.smoothgrad), std::move(r.smoothgrad_se)};
    if (opt.clime) out.clime = {std::move(r.clime), std::move(r.clime_se)};
    if (opt.stein) out.stein = {std::move(r.stein), std::move(r.stein_se)};
    out.samples.assign(static_cast<size_t>(X.rows()), opt.n_samples);
    return out;
}

#if !defined(GRADLIME_HAVE_CUDA)
std::unique_ptr<DeviceBackend> cuda_backend(const FlatNetwork&, int, int) {
    throw std::runtime_error(
        "this gradlime was built without CUDA (no CUDA toolkit was found when it was built, or GRADLIME_CUDA=OFF): "
        "rebuild with a CUDA toolkit on the PATH, or use device='cpu'");
}

CudaInfo cuda_info() {
    CudaInfo info;
    info.error = "built without CUDA";
    return info;
}
#endif

}  // namespace gradlime::device
