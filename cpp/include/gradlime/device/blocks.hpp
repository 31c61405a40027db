// The CUDA backend's kernels as the phases of one block, written once for the host and the GPU
// (GRADLIME_HD): a block is one point (KernelSHAP: a slice of the grid-stride items), its
// kThreads threads drawing and evaluating a tile of samples each, then each entry of the point's
// sums owned by one thread, which adds the tile's samples in order. No atomics and no reduction
// trees: every sum is the host reference's sequence of operations (device_host.cpp), so a run's
// bits depend neither on the block size nor on the run.
//
// A Block provides begin(i, t), then for step = 0 .. steps() - 1 compute(i, t, step) and, after
// a barrier, reduce(i, t, step) and another barrier, then end(i, t): i the block, t the thread,
// `shared` the block's dynamic shared memory. The GPU runs each phase on all threads between
// __syncthreads (block_kernel, cpp/cuda/); the host emulation (device_emulation.cpp) runs each
// phase for t = 0 .. kThreads - 1 in turn, which is what the barriers guarantee, so CI runs the
// kernels' very code (tiles, rows, owners, shared or global scratch). What it cannot see is a race
// between two threads of one phase: compute-sanitizer's racecheck does, on a GPU
// (bench/gpu_check.sh).
#pragma once

#include <cstddef>
#include <cstdint>

#include "gradlime/device/backend.hpp"
#include "gradlime/device/fits.hpp"
#include "gradlime/device/draws.hpp"
#include "gradlime/device/network_row.hpp"
#include "gradlime/device/passes.hpp"
#include "gradlime/device/shap_sums.hpp"
#include "gradlime/device/strided.hpp"
#include "gradlime/hd.hpp"

namespace gradlime::device {

constexpr int kThreads = 128;  // threads per block: one sample each per tile (a multiple of kMomentLanes)
static_assert(kThreads % kMomentLanes == 0, "a tile starts at lane 0 of the gradient moments");

#if !defined(__CUDA_ARCH__)
float host_row_value_and_grad(const NetworkView& net, int target, Strided<float> work, Strided<float> grad);  // device_network_row.cpp
#endif

// One network row: on the GPU, device/network_row.hpp's; on the host, the same function compiled
// as mlp.cpp is (device_network_row.cpp), as the host reference runs it.
GRADLIME_HD inline float network_row(const NetworkView& net, int target, Strided<float> work, Strided<float> grad) {
#if defined(__CUDA_ARCH__)
    return row_value_and_grad(net, target, work, grad);
#else
    return host_row_value_and_grad(net, target, work, grad);
#endif
}

// A block's scratch: each thread's row of `doubles` doubles and of `floats` floats. In the block's
// shared memory when it fits: row by row, each row padded to an odd length, so that both the
// threads of a warp reading element k of their own rows and the owners reading the elements of
// one row fall in different banks. Else in global memory, one block's worth per block, laid out
// feature-major (element k of thread t at k * kThreads + t), so that a warp reading element k of
// its rows reads consecutive addresses. The rows of a block's other threads are reachable too:
// the tile exchanges gradients and columns between the threads that compute them and those that
// sum them.
struct Tile {
    int doubles = 0, floats = 0;
    bool shared = false;
    double* global_doubles = nullptr;
    float* global_floats = nullptr;
    GRADLIME_HD static int odd(int n) { return n | 1; }
    // The block's shared memory, were it there.
    GRADLIME_HD std::size_t bytes() const {
        return static_cast<std::size_t>(kThreads) *
               (static_cast<std::size_t>(odd(doubles)) * 8 + static_cast<std::size_t>(odd(floats)) * 4);
    }
    // Thread r's rows in block b; `shared` is the block's shared memory (the double rows first).
    GRADLIME_HD Strided<double> double_row(double* shared, long long b, int r) const {
        if (this->shared) return {shared + static_cast<long long>(r) * odd(doubles), 1};
        return {global_doubles + b * kThreads * doubles + r, kThreads};
    }
    GRADLIME_HD Strided<float> float_row(double* shared, long long b, int r) const {
        if (this->shared)
            return {reinterpret_cast<float*>(shared + static_cast<long long>(kThreads) * odd(doubles)) +
                        static_cast<long long>(r) * odd(floats),
                    1};
        return {global_floats + b * kThreads * floats + r, kThreads};
    }
};

// What every block of a chunk reads: the chunk's points (row-major, d each) and the draws.
struct ChunkJob {
    const double* X = nullptr;
    const double* scale = nullptr;
    const double* baseline = nullptr;
    int d = 0;
    long long n = 0;
    Key key{};
    std::uint32_t first_stream = 0;  // of the chunk's first point
    bool common = false;
    Draws draws = Draws::Gaussian;
    GRADLIME_HD PointDraws point(long long i) const {
        PointDraws p;
        p.x = X + i * d;
        p.scale = scale;
        p.baseline = baseline;
        p.d = d;
        p.key = key;
        p.stream = common ? first_stream : first_stream + static_cast<std::uint32_t>(i);
        p.draws = draws;
        return p;
    }
};

// Points [p0, ...) of a job as a chunk, the job's own (host) arrays; a device backend swaps in its
// copies of X, scale and baseline.
inline ChunkJob chunk_of(const SampleJob& job, Count p0) {
    ChunkJob cj;
    cj.X = job.X + p0 * job.d;
    cj.scale = job.scale;
    cj.baseline = job.baseline;
    cj.d = static_cast<int>(job.d);
    cj.n = job.n_samples;
    cj.key = key_from_seed(job.seed);
    cj.first_stream = job.stream(p0);
    cj.common = job.common_draws;
    cj.draws = job.draws;
    return cj;
}

GRADLIME_HD inline long long min_ll(long long a, long long b) { return a < b ? a : b; }

// Pass 1: values (kept on the device), their mean, and when asked the gradient moments and, at
// the end, SmoothGrad's estimates from them. A thread's rows: z (d doubles); the network's
// scratch, then the sample's gradient (floats).
struct ValuesBlock {
    NetworkView net;
    int target = 0;
    ChunkJob job;
    double *values = nullptr, *fbar = nullptr, *moments = nullptr, *shift = nullptr, *grad = nullptr,
           *grad_se = nullptr;
    Tile tile;
    static Tile layout(const NetworkView& net, int d) {
        Tile t;
        t.doubles = d;
        t.floats = row_scratch(net) + d;
        return t;
    }
    GRADLIME_HD double* lanes(long long i) const { return moments ? moments + i * job.d * 2 * kMomentLanes : nullptr; }
    GRADLIME_HD long long steps() const { return (job.n + kThreads - 1) / kThreads; }
    GRADLIME_HD void begin(long long i, int t, double*) const {
        if (double* l = lanes(i))
            for (int k = t; k < job.d * 2 * kMomentLanes; k += kThreads) l[k] = 0.0;
    }
    GRADLIME_HD void compute(long long i, int t, long long step, double* shared) const {
        const long long s = step * kThreads + t;
        if (s >= job.n) return;
        const Strided<float> work = tile.float_row(shared, i, t);
        draw_sample(job.point(i), static_cast<std::uint64_t>(s), tile.double_row(shared, i, t), work);
        values[i * job.n + s] = network_row(net, target, work, moments ? work + row_scratch(net) : Strided<float>{});
    }
    // Owner o = (feature k, lane L) adds the tile's samples of lane L in order; at step 0 each
    // owner reads the shift g_0 from the tile's first row, lane 0's writes it for the later steps.
    GRADLIME_HD void reduce(long long i, int t, long long step, double* shared) const {
        double* l = lanes(i);
        if (!l) return;
        const long long s0 = step * kThreads, rows = min_ll(kThreads, job.n - s0);
        const int d = job.d, scratch = row_scratch(net);
        for (int o = t; o < d * kMomentLanes; o += kThreads) {
            const int k = o / kMomentLanes, lane = o % kMomentLanes;
            const double g0 = step == 0 ? static_cast<double>(tile.float_row(shared, i, 0)[scratch + k]) : shift[i * d + k];
            if (step == 0 && lane == 0) shift[i * d + k] = g0;
            // The tile's first row of this lane: s0 + r = lane (mod 8); s0 is a multiple of 8.
            for (long long r = lane; r < rows; r += kMomentLanes)
                moment_lane_add(static_cast<double>(tile.float_row(shared, i, static_cast<int>(r))[scratch + k]), g0, lane,
                                l + k * 2 * kMomentLanes);
        }
    }
    GRADLIME_HD void end(long long i, int t, double*) const {
        if (t == 0) fbar[i] = sequential_mean(values + i * job.n, job.n);
        if (const double* l = lanes(i))
            for (int k = t; k < job.d; k += kThreads) {
                const long long e = i * job.d + k;
                gradient_estimate(l + k * 2 * kMomentLanes, shift[e], job.n, grad[e], grad_se[e]);
            }
    }
};

// The passes after the first (device/passes.hpp): each sample's columns and weight into the
// tile, then each of the point's entries adds the tile's samples in order. A thread's rows: z
// (d), its columns (p) and weight (doubles); the network input draw_sample writes (d floats).
struct SumsBlock {
    Pass pass = Pass::LeastSquares;
    PassShape shape;
    ChunkJob job;
    PassInputs in;
    double* sums = nullptr;
    Tile tile;
    static Tile layout(const PassShape& shape, int d) {
        Tile t;
        t.doubles = d + shape.p + 1;
        t.floats = d;
        return t;
    }
    GRADLIME_HD long long steps() const { return (job.n + kThreads - 1) / kThreads; }
    GRADLIME_HD void begin(long long i, int t, double*) const {
        for (long long e = t; e < shape.width; e += kThreads) sums[i * shape.width + e] = 0.0;
    }
    GRADLIME_HD void compute(long long i, int t, long long step, double* shared) const {
        const long long s = step * kThreads + t;
        if (s >= job.n) return;
        const PointDraws pt = job.point(i);
        const Strided<double> z = tile.double_row(shared, i, t);
        draw_sample(pt, static_cast<std::uint64_t>(s), z, tile.float_row(shared, i, t));
        z[job.d + shape.p] = pass_columns(pass, in, pt, i, s, z, z + job.d);
    }
    GRADLIME_HD void reduce(long long i, int t, long long step, double* shared) const {
        const long long rows = min_ll(kThreads, job.n - step * kThreads);
        const int d = job.d, p = shape.p;
        for (long long e = t; e < shape.width; e += kThreads) {
            const GramEntry g = pass_entry(shape, e);
            double acc = sums[i * shape.width + e];
            for (long long r = 0; r < rows; ++r) {
                const Strided<double> row = tile.double_row(shared, i, static_cast<int>(r));
                pass_add(shape, g, row + d, row[d + p], acc);
            }
            sums[i * shape.width + e] = acc;
        }
    }
    GRADLIME_HD void end(long long, int, double*) const {}
};

// A fit or its standard errors (device/fits.hpp), block i point i: program step 2 step in the
// compute phase and 2 step + 1 in the reduce phase, each step's entries over the threads, a
// barrier after each. No tile: the program's scratch is the chunk's, in global memory.
struct FitBlock {
    FitChunk chunk;
    FitStage stage = FitStage::Fit;
    GRADLIME_HD long long steps() const { return (fit_steps(stage, chunk.d) + 1) / 2; }
    GRADLIME_HD void run(long long i, int t, int q) const {
        if (q >= fit_steps(stage, chunk.d)) return;
        const std::int64_t entries = fit_entries(stage, chunk.d, q);
        for (std::int64_t e = t; e < entries; e += kThreads) fit_entry(chunk, stage, i, q, e);
    }
    GRADLIME_HD void begin(long long, int, double*) const {}
    GRADLIME_HD void compute(long long i, int t, long long step, double*) const { run(i, t, static_cast<int>(2 * step)); }
    GRADLIME_HD void reduce(long long i, int t, long long step, double*) const { run(i, t, static_cast<int>(2 * step + 1)); }
    GRADLIME_HD void end(long long, int, double*) const {}
};

// KernelSHAP: item u of the chunk's m (n + 1) is point u / (n + 1)'s coalition u % (n + 1) (the
// last: f(x) itself), one thread each, grid-stride over `blocks` blocks. A thread's row: the
// network's scratch (floats).
struct CoalitionBlock {
    NetworkView net;
    int target = 0;
    const double *X = nullptr, *background = nullptr;
    int d = 0;
    long long B = 0, m = 0, n = 0, blocks = 0;
    Coalitions coalitions;  // its inverse: the chunk's (m, d), point i's at i * d
    double *fx = nullptr, *sums = nullptr;
    Tile tile;
    static Tile layout(const NetworkView& net) {
        Tile t;
        t.floats = row_scratch(net);
        return t;
    }
    GRADLIME_HD long long steps() const { return 0; }
    GRADLIME_HD void begin(long long b, int t, double* shared) const {
        const Strided<float> work = tile.float_row(shared, b, t);
        auto value = [&](Strided<float> w) { return network_row(net, target, w, Strided<float>{}); };
        for (long long u = b * kThreads + t; u < m * (n + 1); u += blocks * kThreads) {
            const long long i = u / (n + 1), j = u % (n + 1);
            const double* x = X + i * d;
            if (j == n) {
                fx[i] = point_value(d, x, work, value);
            } else {
                Coalitions c = coalitions;
                if (c.inverse) c.inverse += i * d;
                sums[i * n + j] = coalition_sum(d, x, background, B, c, j, work, value);
            }
        }
    }
    GRADLIME_HD void compute(long long, int, long long, double*) const {}
    GRADLIME_HD void reduce(long long, int, long long, double*) const {}
    GRADLIME_HD void end(long long, int, double*) const {}
};

}  // namespace gradlime::device
