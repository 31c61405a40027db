// The device backends' shared host side: the flat network, the orchestration of the three passes
// and the finalisation (device/gaussian_backend.hpp), and the host reference backend, which runs
// device/gaussian_sums.hpp's functions in one loop per point (what CI tests: it has no GPU).
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "gradlime/device/gaussian_backend.hpp"
#include "gradlime/device/gaussian_sums.hpp"
#include "gradlime/least_squares.hpp"
#include "gradlime/sampling.hpp"

namespace gradlime::device {

static_assert(static_cast<int>(LayerKind::Dense) == kDense && static_cast<int>(LayerKind::Relu) == kRelu &&
                  static_cast<int>(LayerKind::Elu) == kElu && static_cast<int>(LayerKind::Softplus) == kSoftplus &&
                  static_cast<int>(LayerKind::LogSoftmax) == kLogSoftmax,
              "device layer codes follow LayerKind");

FlatNetwork flatten(const FeedForwardNetwork& net) {
    FlatNetwork f;
    f.input_dim = static_cast<int>(net.input_dim());
    f.max_width = f.activations = f.input_dim;
    for (const Layer& L : net.layers()) {
        LayerView v;
        v.kind = static_cast<int>(L.kind);
        v.in = static_cast<int>(L.in);
        v.out = static_cast<int>(L.out);
        v.alpha = L.alpha;
        v.gamma = L.gamma;
        if (L.kind == LayerKind::Dense) {
            v.weight = static_cast<std::int64_t>(f.params.size());
            f.params.insert(f.params.end(), L.weight.data(), L.weight.data() + L.weight.size());
            v.bias = static_cast<std::int64_t>(f.params.size());
            f.params.insert(f.params.end(), L.bias.data(), L.bias.data() + L.bias.size());
        }
        f.max_width = std::max(f.max_width, v.out);
        f.activations += v.out;
        f.layers.push_back(v);
    }
    f.output_dim = static_cast<int>(net.output_dim());
    return f;
}

float host_row_value_and_grad(const NetworkView& net, int target, float* work, float* grad);  // device_network_row.cpp

namespace {

GaussianPoint point_of(const GaussianJob& job, Index i) {
    GaussianPoint p;
    p.x = job.X + i * job.d;
    p.scale = job.scale;
    p.d = static_cast<int>(job.d);
    p.key = key_from_seed(job.seed);
    p.stream = job.stream(i);
    p.uniform = job.uniform;
    return p;
}

// The reference: each point's samples in order, on the host, points in parallel.
class HostBackend final : public GaussianBackend {
public:
    HostBackend(const FlatNetwork& net, int target) : flat_(net), target_(target) {}

    void values_and_moments(const GaussianJob& job, Index p0, Index m, double* fbar, double* moments,
                            double* shift) override {
        const Index n = job.n_samples, d = job.d;
        values_.assign(static_cast<size_t>(m * n), 0.0);
        const NetworkView net = flat_.view();
#if defined(GRADLIME_HAVE_OPENMP)
#pragma omp parallel for schedule(dynamic)
#endif
        for (Index i = 0; i < m; ++i) {
            const GaussianPoint p = point_of(job, p0 + i);
            std::vector<double> z(static_cast<size_t>(d));
            std::vector<float> work(static_cast<size_t>(row_scratch(net))), grad(static_cast<size_t>(d));
            double* lanes = moments ? moments + i * d * 2 * kMomentLanes : nullptr;
            if (lanes) std::fill(lanes, lanes + d * 2 * kMomentLanes, 0.0);
            double* f = values_.data() + i * n;
            for (Index s = 0; s < n; ++s) {
                draw_sample(p, static_cast<std::uint64_t>(s), z.data(), work.data());
                f[s] = host_row_value_and_grad(net, target_, work.data(), lanes ? grad.data() : nullptr);
                if (lanes)
                    for (Index k = 0; k < d; ++k)
                        moment_add(static_cast<std::uint64_t>(s), grad[static_cast<size_t>(k)], shift[i * d + k],
                                   lanes + k * 2 * kMomentLanes);
            }
            fbar[i] = sequential_mean(f, n);
        }
    }

    void least_squares(const GaussianJob& job, Index p0, Index m, const double* fbar, double* sums) override {
        const Index d = job.d, width = packed_size(static_cast<int>(d + 1)) + d + 1;
        for_rows(job, p0, m, width, sums, [&](Index i, Index s, const double* z, double* c) {
            least_squares_columns(z, static_cast<int>(d), values_[static_cast<size_t>(i * job.n_samples + s)], fbar[i], c);
        }, static_cast<int>(d + 1));
    }

    void meat(const GaussianJob& job, Index p0, Index m, const double* fbar, const double* gbar, const double* zbar,
              const double* v, double* sums) override {
        const Index d = job.d, width = packed_size(static_cast<int>(d));
        for_rows(job, p0, m, width, sums, [&](Index i, Index s, const double* z, double* u) {
            meat_columns(z, static_cast<int>(d), values_[static_cast<size_t>(i * job.n_samples + s)], fbar[i], gbar[i],
                         zbar + i * d, v + i * d, u);
        }, static_cast<int>(d));
    }

    void stein(const GaussianJob& job, Index p0, Index m, const double* fbar, double* sums) override {
        const Index d = job.d;
        for_rows(job, p0, m, 2 * d, sums, [&](Index i, Index s, const double* z, double* t) {
            stein_columns(z, static_cast<int>(d), values_[static_cast<size_t>(i * job.n_samples + s)], fbar[i], job.scale, t);
        }, static_cast<int>(d), true);
    }

    Index chunk_points(const GaussianJob& job) const override {
        // The values kept between passes, 64 KiB of them: small, so that the tests walk the
        // chunks of points as a device does when its memory is the bound.
        return std::max<Index>(1, Index{8192} / std::max<Index>(1, job.n_samples));
    }

private:
    // For each point and sample in order: columns(i, s, z, c) fills the sample's p columns, which
    // gram_add adds to the point's `width` entries (gram_entry's, or moment_entry's).
    template <class Columns>
    void for_rows(const GaussianJob& job, Index p0, Index m, Index width, double* sums, Columns&& columns, int p,
                  bool moments = false) {
        const Index n = job.n_samples, d = job.d;
        std::vector<GramEntry> entry(static_cast<size_t>(width));
        for (Index e = 0; e < width; ++e) entry[static_cast<size_t>(e)] = moments ? moment_entry(e, p) : gram_entry(e, p);
#if defined(GRADLIME_HAVE_OPENMP)
#pragma omp parallel for schedule(dynamic)
#endif
        for (Index i = 0; i < m; ++i) {
            const GaussianPoint pt = point_of(job, p0 + i);
            std::vector<double> z(static_cast<size_t>(d)), c(static_cast<size_t>(p));
            std::vector<float> a(static_cast<size_t>(d));
            double* entries = sums + i * width;
            std::fill(entries, entries + width, 0.0);
            for (Index s = 0; s < n; ++s) {
                draw_sample(pt, static_cast<std::uint64_t>(s), z.data(), a.data());
                columns(i, s, z.data(), c.data());
                for (Index e = 0; e < width; ++e) gram_add(entry[static_cast<size_t>(e)], c.data(), entries[e]);
            }
        }
    }

    FlatNetwork flat_;
    int target_;
    std::vector<double> values_;  // the current chunk's values, (m, n)
};

// A packed lower triangle as the lower triangle of a p x p matrix.
Matrix unpack_lower(const double* e, int p) {
    Matrix M = Matrix::Zero(p, p);
    for (int k = 0; k < p; ++k)
        for (int l = 0; l <= k; ++l) M(k, l) = e[static_cast<std::int64_t>(k) * (k + 1) / 2 + l];
    return M;
}

void check_finite(const RowMatrix& A, Index p0, Index m, const char* what) {
    for (Index i = p0; i < p0 + m; ++i)
        if (!A.row(i).allFinite())
            throw std::invalid_argument(std::string(what) + ": a non-finite estimate at point " + std::to_string(i) +
                                        " (the network's values or gradients overflowed)");
}

}  // namespace

std::unique_ptr<GaussianBackend> host_backend(const FlatNetwork& net, int target) {
    if (target < 0 || target >= net.output_dim) throw std::invalid_argument("target is not one of the network's outputs");
    return std::make_unique<HostBackend>(net, target);
}

GaussianResults gaussian_estimates(GaussianBackend& backend, const GaussianJob& job, bool smoothgrad, bool clime,
                                   bool stein, double ridge) {
    const Index N = job.rows, d = job.d, n = job.n_samples;
    if (clime && n < d + 2) throw std::invalid_argument("clime needs n_samples >= d + 2");
    GaussianResults out;
    if (smoothgrad) out.smoothgrad = out.smoothgrad_se = RowMatrix::Zero(N, d);
    if (clime) out.clime = out.clime_se = RowMatrix::Zero(N, d);
    if (stein) out.stein = out.stein_se = RowMatrix::Zero(N, d);
    const NoiseSampler noise = NoiseSampler::diagonal(Eigen::Map<const Vector>(job.scale, d));
    const Index chunk = std::max<Index>(1, backend.chunk_points(job));
    const double nd = static_cast<double>(n);
    for (Index p0 = 0; p0 < N; p0 += chunk) {
        const Index m = std::min(chunk, N - p0);
        std::vector<double> fbar(static_cast<size_t>(m)), moments, shift;
        if (smoothgrad) {
            moments.assign(static_cast<size_t>(m * d * 2 * kMomentLanes), 0.0);
            shift.assign(static_cast<size_t>(m * d), 0.0);
        }
        backend.values_and_moments(job, p0, m, fbar.data(), smoothgrad ? moments.data() : nullptr,
                                   smoothgrad ? shift.data() : nullptr);
        for (Index i = 0; smoothgrad && i < m; ++i)
            for (Index k = 0; k < d; ++k) {  // GradientMoments::mean and stderr_of_mean
                const double* lanes = moments.data() + (i * d + k) * 2 * kMomentLanes;
                const double sum = lane_total(lanes), sumsq = lane_total(lanes + kMomentLanes);
                out.smoothgrad(p0 + i, k) = shift[static_cast<size_t>(i * d + k)] + sum / nd;
                const double var = std::max(0.0, (sumsq - sum * sum / nd) / (nd - 1.0));
                out.smoothgrad_se(p0 + i, k) = std::sqrt(var / nd);
            }
        if (smoothgrad) check_finite(out.smoothgrad, p0, m, "smoothgrad");
        if (stein) {  // SteinEstimator::estimate: the mean term over n - 1, its standard error
            std::vector<double> terms(static_cast<size_t>(m * 2 * d));
            backend.stein(job, p0, m, fbar.data(), terms.data());
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
        if (!clime) continue;
        const Index width = packed_size(static_cast<int>(d + 1)) + d + 1;
        std::vector<double> sums(static_cast<size_t>(m * width));
        backend.least_squares(job, p0, m, fbar.data(), sums.data());
        std::vector<LeastSquaresSums> parts(static_cast<size_t>(m));
        std::vector<std::unique_ptr<GaussianLeastSquares>> fits(static_cast<size_t>(m));
        std::vector<double> gbar(static_cast<size_t>(m)), zbar(static_cast<size_t>(m * d)), v(static_cast<size_t>(m * d));
        for (Index i = 0; i < m; ++i) {
            LeastSquaresSums& S = parts[static_cast<size_t>(i)];
            const double* e = sums.data() + i * width;
            S.count = n;
            S.gram = unpack_lower(e, static_cast<int>(d + 1));
            S.sums = Eigen::Map<const Vector>(e + packed_size(static_cast<int>(d + 1)), d + 1);
            auto fit = std::make_unique<GaussianLeastSquares>(S, noise, ridge, fbar[static_cast<size_t>(i)]);
            if (!fit->solved())
                throw std::invalid_argument("clime: the perturbation design is singular at point " +
                                            std::to_string(p0 + i) + "; use more samples");
            out.clime.row(p0 + i) = fit->slopes().transpose();
            gbar[static_cast<size_t>(i)] = fit->gbar();
            Eigen::Map<Vector>(zbar.data() + i * d, d) = fit->zbar();
            Eigen::Map<Vector>(v.data() + i * d, d) = fit->slopes_z();
            fits[static_cast<size_t>(i)] = std::move(fit);
        }
        const Index tri = packed_size(static_cast<int>(d));
        std::vector<double> meat(static_cast<size_t>(m * tri));
        backend.meat(job, p0, m, fbar.data(), gbar.data(), zbar.data(), v.data(), meat.data());
        for (Index i = 0; i < m; ++i)
            out.clime_se.row(p0 + i) =
                fits[static_cast<size_t>(i)]->stderr_of(unpack_lower(meat.data() + i * tri, static_cast<int>(d)), [] {}).transpose();
        check_finite(out.clime, p0, m, "clime");
    }
    return out;
}

EngineResult run_engine_on_device(const RowMatrix& X, const NoiseSampler& sampler, BatchModel& model,
                                  const EngineOptions& opt) {
    const NetworkModel* native = model.as_network();
    std::string refused;
    auto refuse = [&](bool on, const char* what) {
        if (on) refused += (refused.empty() ? "" : ", ") + std::string(what);
    };
    refuse(native == nullptr, "a model that is not a native network");
    refuse(opt.stein && opt.stein_cv, "stein's control variate");
    const bool uniform = sampler.kind() == NoiseKind::Uniform;
    refuse(!(uniform || (sampler.is_gaussian() && sampler.is_diagonal())), "other noise than a diagonal Gaussian or the uniform cube");
    refuse(opt.scheme.antithetic || opt.scheme.qmc(), "antithetic or QMC draws");
    refuse(opt.stop_tol > 0.0, "tol");
    if (!refused.empty())
        throw std::invalid_argument("the CUDA backend runs smoothgrad, unigrad, clime and stein of native networks with "
                                    "Monte Carlo draws from a diagonal Gaussian or the uniform cube; not " + refused +
                                    ": use device='cpu'");
    GaussianJob job;
    job.X = X.data();
    job.rows = X.rows();
    job.d = X.cols();
    job.scale = sampler.scale().data();
    job.n_samples = opt.n_samples;
    job.seed = opt.seed;
    job.first_stream = static_cast<std::uint32_t>(opt.driver.point_offset);
    job.common_draws = opt.common_draws;
    job.uniform = uniform;
    const FlatNetwork net = flatten(native->network());
    const int target = static_cast<int>(native->target());
    std::unique_ptr<GaussianBackend> backend = opt.driver.device == Device::CudaReference
                                                   ? host_backend(net, target)
                                                   : cuda_backend(net, target, opt.driver.device_index);
    GaussianResults r = gaussian_estimates(*backend, job, opt.smoothgrad, opt.clime, opt.stein, opt.ridge);
    EngineResult out;
    if (opt.smoothgrad) out.smoothgrad = {std::move(r.smoothgrad), std::move(r.smoothgrad_se)};
    if (opt.clime) out.clime = {std::move(r.clime), std::move(r.clime_se)};
    if (opt.stein) out.stein = {std::move(r.stein), std::move(r.stein_se)};
    out.samples.assign(static_cast<size_t>(X.rows()), opt.n_samples);
    if (opt.driver.progress) opt.driver.progress(X.rows(), X.rows());
    return out;
}

#if !defined(GRADLIME_HAVE_CUDA)
std::unique_ptr<GaussianBackend> cuda_backend(const FlatNetwork&, int, int) {
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
