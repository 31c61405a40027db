// The CUDA backend's host side, written once over a Runtime: device memory and the launch of a
// block's phases (device/blocks.hpp). CUDA's runtime is cpp/cuda/sample_kernels.cu's; the host
// emulation's (device_emulation.cpp) runs the same blocks thread by thread on the CPU, so the
// orchestration below (the chunks' buffers, the tiles' plans, the launches) is tested in CI too.
//
// A Runtime provides Buffer<T> (resize, upload, download, get), free_memory(), shared_limit()
// (the bytes of shared memory a block may have) and launch(block, blocks, shared_bytes), which
// returns when the blocks are done.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "gradlime/device/backend.hpp"
#include "gradlime/device/blocks.hpp"

namespace gradlime::device {

template <class Runtime>
class BlockBackend final : public DeviceBackend {
    template <class T>
    using Buffer = typename Runtime::template Buffer<T>;

public:
    BlockBackend(Runtime runtime, const FlatNetwork& net, int target)
        : rt_(std::move(runtime)), flat_(net), target_(target) {
        layers_.upload(flat_.layers.data(), flat_.layers.size());
        params_.upload(flat_.params.data(), flat_.params.size());
    }

    Count chunk_points(const SampleJob& job) const override {
        const std::size_t per_point = bytes_per_point(job);
        return static_cast<Count>(std::max<std::size_t>(1, std::min<std::size_t>(65535, rt_.free_memory() / 4 / per_point)));
    }

    void values_and_gradients(const SampleJob& job, Count p0, Count m, double* fbar, double* grad,
                              double* grad_se) override {
        ValuesBlock b;
        b.net = view();
        b.target = target_;
        b.job = upload(job, p0, m);
        const std::size_t mm = static_cast<std::size_t>(m), nm = mm * static_cast<std::size_t>(job.d) * 2 * kMomentLanes,
                          ns = mm * static_cast<std::size_t>(job.d);
        values_.resize(mm * static_cast<std::size_t>(job.n_samples));
        fbar_.resize(mm);
        b.values = values_.get();
        b.fbar = fbar_.get();
        if (grad) {  // the moments stay on the device: only the estimates come back
            moments_.resize(nm);
            shift_.resize(ns);
            grad_.resize(ns);
            grad_se_.resize(ns);
            b.moments = moments_.get();
            b.shift = shift_.get();
            b.grad = grad_.get();
            b.grad_se = grad_se_.get();
        }
        b.tile = plan(ValuesBlock::layout(b.net, b.job.d), mm);
        rt_.launch(b, m, shared_bytes(b.tile));
        fbar_.download(fbar, mm);
        if (grad) {
            grad_.download(grad, ns);
            grad_se_.download(grad_se, ns);
        }
    }

    void sums(Pass pass, const SampleJob& job, Count p0, Count m, const PassInputs& host, double* out) override {
        const std::size_t mm = static_cast<std::size_t>(m), d = static_cast<std::size_t>(job.d);
        PassInputs in = host;
        in.fbar = host.fbar ? fbar_.get() : nullptr;  // the values pass's, already here
        launch_sums(pass, job, p0, m, in, sums_);
        sums_.download(out, mm * static_cast<std::size_t>(pass_shape(pass, static_cast<int>(d)).width));
    }

    // Everything on the device, its inputs the values pass's: the fit's sums, the fit, the meat's
    // sums, the standard errors; only the coefficients, standard errors and flags come back.
    void fit(FitKind kind, const SampleJob& job, Count p0, Count m, const PassInputs& host, double ridge, double* coef,
             double* se, int* flags) override {
        FitBlock b;
        FitChunk& c = b.chunk;
        const FitPasses passes = fit_passes(c, kind, job.d, job.n_samples, ridge);
        const std::size_t mm = static_cast<std::size_t>(m), d = static_cast<std::size_t>(job.d);
        PassInputs in;
        in.fbar = fbar_.get();  // the values pass's
        in.inv_width2 = host.inv_width2;
        launch_sums(passes.fit, job, p0, m, in, sums_);
        c.scale = job.scale ? scale_.get() : nullptr;  // launch_sums uploaded the job's scale
        c.sums = sums_.get();
        fit_scratch_.resize(mm * 2 * d * d);
        coef_.resize(mm * d);
        v_.resize(mm * d);
        zbar_.resize(mm * d);
        gbar_.resize(mm);
        grad_se_.resize(mm * d);
        flags_.resize(mm);
        c.scratch = fit_scratch_.get();
        c.coef = coef_.get();
        c.v = v_.get();
        c.mean = zbar_.get();   // C-LIME's zbar, LIME's mean of the masks
        c.shift = gbar_.get();  // C-LIME's gbar, LIME's intercept
        c.se = grad_se_.get();
        c.flags = flags_.get();
        rt_.launch(b, m, 0);
        meat_inputs(c, in);
        launch_sums(passes.meat, job, p0, m, in, meat_);
        c.meat = meat_.get();
        b.stage = FitStage::Errors;
        rt_.launch(b, m, 0);
        coef_.download(coef, mm * d);
        grad_se_.download(se, mm * d);
        flags_.download(flags, mm);
    }

    void coalition_sums(const SampleJob& job, Count p0, Count m, const ShapCoalitions& host, double* fx,
                        double* sums) override {
        CoalitionBlock b;
        b.net = view();
        b.target = target_;
        const std::size_t mm = static_cast<std::size_t>(m), n = static_cast<std::size_t>(job.n_samples),
                          d = static_cast<std::size_t>(job.d);
        X_.upload(job.X + p0 * job.d, mm * d);
        b.X = X_.get();
        b.d = static_cast<int>(d);
        b.B = job.background_rows;
        b.m = static_cast<long long>(mm);
        b.n = static_cast<long long>(n);
        if (n > 0) {
            background_.upload(job.background, static_cast<std::size_t>(job.background_rows) * d);
            b.background = background_.get();
            b.coalitions.exact = host.exact;
            b.coalitions.words = host.words;
            if (!host.exact) {
                pairs_.upload(host.pairs, static_cast<std::size_t>(host.pair_count) * static_cast<std::size_t>(host.words));
                inverse_.upload(host.inverse, mm * d);
                b.coalitions.pairs = pairs_.get();
                b.coalitions.inverse = inverse_.get();
            }
        }
        fx_.resize(mm);
        sums_.resize(std::max<std::size_t>(1, mm * n));
        b.fx = fx_.get();
        b.sums = sums_.get();
        const long long items = b.m * (b.n + 1);
        b.blocks = std::max<long long>(1, std::min(items, kCoalitionThreads) / kThreads + 1);
        b.tile = plan(CoalitionBlock::layout(b.net), static_cast<std::size_t>(b.blocks));
        rt_.launch(b, b.blocks, shared_bytes(b.tile));
        fx_.download(fx, mm);
        if (n > 0) sums_.download(sums, mm * n);
    }

private:
    // A pass's sums for points [p0, p0 + m) into `out`, from inputs on the device.
    void launch_sums(Pass pass, const SampleJob& job, Count p0, Count m, const PassInputs& in, Buffer<double>& out) {
        SumsBlock b;
        b.pass = pass;
        b.job = upload(job, p0, m);  // the same points as the values pass's
        b.shape = pass_shape(pass, b.job.d);
        b.in = in;
        b.in.values = values_.get();
        b.in.n = job.n_samples;
        const std::size_t mm = static_cast<std::size_t>(m);
        out.resize(mm * static_cast<std::size_t>(b.shape.width));
        b.sums = out.get();
        b.tile = plan(SumsBlock::layout(b.shape, b.job.d), mm);
        rt_.launch(b, m, shared_bytes(b.tile));
    }

    static constexpr long long kCoalitionThreads = 32768;  // KernelSHAP's threads at once (their scratch rows)

    // The tile of `blocks` blocks: in shared memory when a block's rows fit the runtime's limit,
    // else in global memory.
    Tile plan(Tile tile, std::size_t blocks) {
        if (tile.bytes() <= static_cast<std::size_t>(rt_.shared_limit())) {
            tile.shared = true;
            return tile;
        }
        tile_doubles_.resize(std::max<std::size_t>(1, blocks * kThreads * static_cast<std::size_t>(tile.doubles)));
        tile_floats_.resize(blocks * kThreads * static_cast<std::size_t>(tile.floats));
        tile.global_doubles = tile_doubles_.get();
        tile.global_floats = tile_floats_.get();
        return tile;
    }
    static std::size_t shared_bytes(const Tile& tile) { return tile.shared ? tile.bytes() : 0; }

    NetworkView view() const {
        NetworkView v = flat_.view();
        v.layers = layers_.get();
        v.params = params_.get();
        return v;
    }

    std::size_t bytes_per_point(const SampleJob& job) const {
        const std::size_t d = static_cast<std::size_t>(job.d), p = d + 2;  // the widest pass's columns (LimeFit)
        if (job.background)  // KernelSHAP: the sums, f(x), the point, its inverse permutation
            return static_cast<std::size_t>(job.n_samples) * 8 + 8 + d * 12;
        const std::size_t scratch = static_cast<std::size_t>(row_scratch(flat_.view()));
        const std::size_t tile = kThreads * (d * 8 + (scratch + d + 1) * 4 + (d + p + 1) * 8 + (d + 1) * 4);  // global
        // The values, the tile, the widest pass's sums and the meat's, the moments, C-LIME's
        // scratch and the (m, d) arrays.
        return static_cast<std::size_t>(job.n_samples) * 8 + tile +
               (p * (p + 1) / 2 + p + d * (d + 1) / 2 + 2 * d * 16 + 2 * d * d + 6 * d) * 8;
    }

    ChunkJob upload(const SampleJob& job, Count p0, Count m) {
        const Count d = job.d;
        ChunkJob cj = chunk_of(job, p0);
        X_.upload(cj.X, static_cast<std::size_t>(m * d));
        cj.X = X_.get();
        if (job.scale) {
            scale_.upload(job.scale, static_cast<std::size_t>(d));
            cj.scale = scale_.get();
        }
        if (job.baseline) {
            baseline_.upload(job.baseline, static_cast<std::size_t>(d));
            cj.baseline = baseline_.get();
        }
        return cj;
    }

    Runtime rt_;
    FlatNetwork flat_;
    int target_;
    Buffer<LayerView> layers_;
    Buffer<float> params_, tile_floats_;
    Buffer<std::uint64_t> pairs_;
    Buffer<std::int32_t> inverse_;
    Buffer<int> flags_;
    Buffer<double> X_, scale_, baseline_, background_, fx_, values_, fbar_, gbar_, zbar_, v_, coef_,
        moments_, shift_, grad_, grad_se_, tile_doubles_, sums_, meat_, fit_scratch_;
};

}  // namespace gradlime::device
