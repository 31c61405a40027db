// The host reference backend (device/estimates.hpp): device/draws.hpp's and device/passes.hpp's
// per-sample functions in one loop per point, points in parallel. What CI tests (it has no GPU);
// the CUDA kernels (cpp/cuda/) run the same functions. And the flat network both backends read.
#include <algorithm>
#include <stdexcept>
#include <vector>

#include "gradlime/device/estimates.hpp"
#include "gradlime/device/blocks.hpp"
#include "gradlime/device/passes.hpp"

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

class HostBackend final : public DeviceBackend {
public:
    HostBackend(const FlatNetwork& net, int target) : flat_(net), target_(target) {}

    void values_and_gradients(const SampleJob& job, Index p0, Index m, double* fbar, double* grad_mean,
                              double* grad_se) override {
        const Index n = job.n_samples, d = job.d;
        values_.assign(static_cast<size_t>(m * n), 0.0);
        const NetworkView net = flat_.view();
        const ChunkJob chunk = chunk_of(job, p0);
#if defined(GRADLIME_HAVE_OPENMP)
#pragma omp parallel for schedule(dynamic)
#endif
        for (Index i = 0; i < m; ++i) {
            const PointDraws p = chunk.point(i);
            std::vector<double> z(static_cast<size_t>(d));
            std::vector<float> work(static_cast<size_t>(row_scratch(net))), grad(static_cast<size_t>(d));
            const size_t dd = grad_mean ? static_cast<size_t>(d) : 0;
            std::vector<double> lanes(dd * 2 * kMomentLanes), shift(dd);
            double* f = values_.data() + i * n;
            for (Index s = 0; s < n; ++s) {
                draw_sample(p, static_cast<std::uint64_t>(s), z.data(), work.data());
                f[s] = host_row_value_and_grad(net, target_, work.data(), grad_mean ? grad.data() : nullptr);
                if (grad_mean)
                    for (Index k = 0; k < d; ++k)
                        moment_add(static_cast<std::uint64_t>(s), grad[static_cast<size_t>(k)], shift[static_cast<size_t>(k)],
                                   lanes.data() + k * 2 * kMomentLanes);
            }
            fbar[i] = sequential_mean(f, n);
            for (Index k = 0; grad_mean && k < d; ++k)
                gradient_estimate(lanes.data() + k * 2 * kMomentLanes, shift[static_cast<size_t>(k)], n, grad_mean[i * d + k],
                                  grad_se[i * d + k]);
        }
    }

    // For each point and sample in order: the pass's columns and weight, added to each entry.
    void sums(Pass pass, const SampleJob& job, Index p0, Index m, const PassInputs& host, double* out) override {
        const Index n = job.n_samples, d = job.d;
        const PassShape shape = pass_shape(pass, static_cast<int>(d));
        PassInputs in = host;
        in.values = values_.data();
        in.n = n;
        const ChunkJob chunk = chunk_of(job, p0);
        std::vector<GramEntry> entry(static_cast<size_t>(shape.width));
        for (Index e = 0; e < shape.width; ++e) entry[static_cast<size_t>(e)] = pass_entry(shape, e);
#if defined(GRADLIME_HAVE_OPENMP)
#pragma omp parallel for schedule(dynamic)
#endif
        for (Index i = 0; i < m; ++i) {
            const PointDraws pt = chunk.point(i);
            std::vector<double> z(static_cast<size_t>(d)), c(static_cast<size_t>(shape.p));
            std::vector<float> a(static_cast<size_t>(d));
            double* entries = out + i * shape.width;
            std::fill(entries, entries + shape.width, 0.0);
            for (Index s = 0; s < n; ++s) {
                draw_sample(pt, static_cast<std::uint64_t>(s), z.data(), a.data());
                const double w = pass_columns(pass, in, pt, i, s, z.data(), c.data());
                for (Index e = 0; e < shape.width; ++e) pass_add(shape, entry[static_cast<size_t>(e)], c.data(), w, entries[e]);
            }
        }
    }

    // The passes' sums as above; each program step's entries in order (device/fits.hpp).
    void fit(FitKind kind, const SampleJob& job, Index p0, Index m, const PassInputs& host, double ridge, double* coef,
             double* se, int* flags) override {
        FitChunk c;
        const FitPasses passes = fit_passes(c, kind, job.d, job.n_samples, ridge);
        const size_t mm = static_cast<size_t>(m), dd = static_cast<size_t>(c.d);
        std::vector<double> sums(mm * static_cast<size_t>(c.width)), meat(mm * static_cast<size_t>(c.meat_width)),
            scratch(mm * 2 * dd * dd), mean(mm * dd), v(mm * dd), shift(mm);
        PassInputs in = host;
        this->sums(passes.fit, job, p0, m, in, sums.data());
        c.scale = job.scale;
        c.sums = sums.data();
        c.meat = meat.data();
        c.scratch = scratch.data();
        c.coef = coef;
        c.v = v.data();
        c.mean = mean.data();
        c.shift = shift.data();
        c.se = se;
        c.flags = flags;
        run(c, FitStage::Fit, m);
        meat_inputs(c, in);
        this->sums(passes.meat, job, p0, m, in, meat.data());
        run(c, FitStage::Errors, m);
    }

    void coalition_sums(const SampleJob& job, Index p0, Index m, const ShapCoalitions& host, double* fx,
                        double* sums) override {
        const Index n = job.n_samples, d = job.d;
        const NetworkView net = flat_.view();
#if defined(GRADLIME_HAVE_OPENMP)
#pragma omp parallel for schedule(dynamic)
#endif
        for (Index i = 0; i < m; ++i) {
            std::vector<float> work(static_cast<size_t>(row_scratch(net)));
            auto value = [&](float* w) { return host_row_value_and_grad(net, target_, w, nullptr); };
            const double* x = job.X + (p0 + i) * d;
            fx[i] = point_value(static_cast<int>(d), x, work.data(), value);
            const Coalitions c{host.exact, host.pairs, host.words, host.inverse ? host.inverse + i * d : nullptr};
            for (Index j = 0; j < n; ++j)
                sums[i * n + j] = coalition_sum(static_cast<int>(d), x, job.background, job.background_rows, c, j,
                                                work.data(), value);
        }
    }

    Index chunk_points(const SampleJob& job) const override {
        // The values kept between passes, 64 KiB of them: small, so that the tests walk the
        // chunks of points as a device does when its memory is the bound.
        return std::max<Index>(1, Index{8192} / std::max<Index>(1, job.n_samples));
    }

private:
    static void run(const FitChunk& c, FitStage stage, Index m) {
#if defined(GRADLIME_HAVE_OPENMP)
#pragma omp parallel for schedule(dynamic)
#endif
        for (Index i = 0; i < m; ++i)
            for (int q = 0; q < fit_steps(stage, c.d); ++q)
                for (std::int64_t e = 0; e < fit_entries(stage, c.d, q); ++e) fit_entry(c, stage, i, q, e);
    }

    FlatNetwork flat_;
    int target_;
    std::vector<double> values_;  // the current chunk's values, (m, n)
};

}  // namespace

std::unique_ptr<DeviceBackend> host_backend(const FlatNetwork& net, int target) {
    if (target < 0 || target >= net.output_dim) throw std::invalid_argument("target is not one of the network's outputs");
    return std::make_unique<HostBackend>(net, target);
}

}  // namespace gradlime::device
