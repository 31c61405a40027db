// The CUDA backend of device/estimates.hpp: one block per point, its threads drawing and
// evaluating a tile of samples each (device/draws.hpp, device/network_row.hpp, device/passes.hpp),
// then each entry of the point's sums owned by one thread, which adds the tile's samples in order. No
// atomics and no reduction trees: every sum is the host reference's sequence of operations, so a
// run's bits do not depend on the block size and repeat from run to run. Compiled with
// -fmad=false (CMakeLists.txt): the draws' double arithmetic is never contracted, as on the host;
// the network's multiply-adds are explicit fmaf.
//
// Memory: per chunk of points, the values (m x n doubles) and each block's tile scratch (Tile: in
// shared memory when a block's fits, else in global memory); the chunk is sized from the
// device's free memory (a quarter of it). Only the per-point sums come back to the host.
#include <cuda_runtime.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "gradlime/device/backend.hpp"
#include "gradlime/device/passes.hpp"

namespace gradlime::device {

namespace {

constexpr int kThreads = 128;  // threads per block: one sample each per tile

// A block's scratch: each thread's row of `doubles` doubles and of `floats` floats, the float
// rows float_stride apart (odd: consecutive threads' rows start in different shared-memory
// banks). In dynamic shared memory when a block's fits, else one block's worth per block in
// global memory. The rows of a block's other threads are reachable too: the tile exchanges
// gradients and columns between the threads that compute them and those that sum them.
struct Tile {
    int doubles = 0, floats = 0, float_stride = 1;
    bool shared = false;
    double* global_doubles = nullptr;
    float* global_floats = nullptr;
    __host__ __device__ std::size_t bytes() const {
        return static_cast<std::size_t>(kThreads) * (static_cast<std::size_t>(doubles) * 8 + static_cast<std::size_t>(float_stride) * 4);
    }
};

extern __shared__ double tile_memory[];  // a double array: the double rows first, aligned

// Thread r's rows in block b (r < kThreads).
__device__ double* double_row(const Tile& tile, long long b, int r) {
    return tile.shared ? tile_memory + static_cast<long long>(r) * tile.doubles
                       : tile.global_doubles + (b * kThreads + r) * tile.doubles;
}
__device__ float* float_row(const Tile& tile, long long b, int r) {
    float* base = tile.shared ? reinterpret_cast<float*>(tile_memory + static_cast<long long>(kThreads) * tile.doubles)
                              : tile.global_floats + b * kThreads * tile.float_stride;
    return base + static_cast<long long>(r) * tile.float_stride;
}

void check(cudaError_t status, const char* what) {
    if (status != cudaSuccess)
        throw std::runtime_error(std::string("CUDA: ") + what + ": " + cudaGetErrorString(status));
}

// Device memory owned by the host, freed when it goes.
template <class T>
class Buffer {
public:
    Buffer() = default;
    explicit Buffer(std::size_t count) { resize(count); }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() { release(); }
    void resize(std::size_t count) {
        if (count <= capacity_) return;
        release();
        check(cudaMalloc(reinterpret_cast<void**>(&data_), std::max<std::size_t>(1, count) * sizeof(T)), "cudaMalloc");
        capacity_ = count;
    }
    void upload(const T* host, std::size_t count) {
        resize(count);
        check(cudaMemcpy(data_, host, count * sizeof(T), cudaMemcpyHostToDevice), "copy to the device");
    }
    void download(T* host, std::size_t count) const {
        check(cudaMemcpy(host, data_, count * sizeof(T), cudaMemcpyDeviceToHost), "copy from the device");
    }
    T* get() const { return data_; }

private:
    void release() {
        if (data_) cudaFree(data_);
        data_ = nullptr;
        capacity_ = 0;
    }
    T* data_ = nullptr;
    std::size_t capacity_ = 0;
};

// What every kernel of a chunk reads: the chunk's points (row-major, d each) and the draws.
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
};

__device__ PointDraws point_at(const ChunkJob& job, long long i) {
    PointDraws p;
    p.x = job.X + i * job.d;
    p.scale = job.scale;
    p.baseline = job.baseline;
    p.d = job.d;
    p.key = job.key;
    p.stream = job.common ? job.first_stream : job.first_stream + static_cast<std::uint32_t>(i);
    p.draws = job.draws;
    return p;
}

// Pass 1: values (kept on the device), their mean, and the gradient moments when asked. A
// thread's rows: z (d doubles); the network's scratch, then the sample's gradient (floats).
__global__ void values_kernel(NetworkView net, int target, ChunkJob job, double* values, double* fbar, double* moments,
                              double* shift, Tile tile) {
    const long long i = blockIdx.x;
    const int t = threadIdx.x, T = blockDim.x, d = job.d, scratch = row_scratch(net);
    const PointDraws p = point_at(job, i);
    double* z = double_row(tile, i, t);
    float* work = float_row(tile, i, t);
    double* lanes = moments ? moments + i * d * 2 * kMomentLanes : nullptr;
    if (lanes)
        for (int k = t; k < d * 2 * kMomentLanes; k += T) lanes[k] = 0.0;
    for (long long s0 = 0; s0 < job.n; s0 += T) {
        const long long s = s0 + t;
        if (s < job.n) {
            draw_sample(p, static_cast<std::uint64_t>(s), z, work);
            values[i * job.n + s] = row_value_and_grad(net, target, work, lanes ? work + scratch : nullptr);
        }
        __syncthreads();
        if (lanes) {
            const long long rows = min(static_cast<long long>(T), job.n - s0);
            for (int k = t; k < d; k += T)
                for (long long r = 0; r < rows; ++r)
                    moment_add(static_cast<std::uint64_t>(s0 + r), float_row(tile, i, static_cast<int>(r))[scratch + k],
                               shift[i * d + k], lanes + k * 2 * kMomentLanes);
        }
        __syncthreads();
    }
    if (t == 0) fbar[i] = sequential_mean(values + i * job.n, job.n);
}

// The passes after the first (device/passes.hpp): each sample's columns and weight into the
// tile, then each of the point's entries adds the tile's samples in order. A thread's rows: z
// (d), its columns (p) and weight (doubles); the network input a draw_sample writes (d floats).
__global__ void sums_kernel(Pass pass, PassShape shape, ChunkJob job, PassInputs in, double* sums, Tile tile) {
    const long long i = blockIdx.x;
    const int t = threadIdx.x, T = blockDim.x, d = job.d, p = shape.p;
    const PointDraws pt = point_at(job, i);
    double* z = double_row(tile, i, t);
    double* entries = sums + i * shape.width;
    for (long long e = t; e < shape.width; e += T) entries[e] = 0.0;
    for (long long s0 = 0; s0 < job.n; s0 += T) {
        const long long s = s0 + t;
        if (s < job.n) {
            draw_sample(pt, static_cast<std::uint64_t>(s), z, float_row(tile, i, t));
            z[d + p] = pass_columns(pass, in, pt, i, s, z, z + d);
        }
        __syncthreads();
        const long long rows = min(static_cast<long long>(T), job.n - s0);
        for (long long e = t; e < shape.width; e += T) {
            const GramEntry g = pass_entry(shape, e);
            double acc = entries[e];
            for (long long r = 0; r < rows; ++r) {
                const double* row = double_row(tile, i, static_cast<int>(r));
                pass_add(shape, g, row + d, row[d + p], acc);
            }
            entries[e] = acc;
        }
        __syncthreads();
    }
}

// KernelSHAP: item t of the chunk's m (n + 1) is point t / (n + 1)'s coalition t % (n + 1) (the
// last: f(x) itself), one thread each, grid-stride over a fixed number of blocks (their scratch:
// a thread's row is the network's).
__global__ void coalition_kernel(NetworkView net, int target, const double* X, int d, const double* background,
                                 long long B, long long m, long long n, const std::uint64_t* masks, int words,
                                 double* fx, double* sums, Tile tile) {
    const long long threads = static_cast<long long>(gridDim.x) * blockDim.x;
    const long long self = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    float* work = float_row(tile, blockIdx.x, threadIdx.x);
    auto value = [&](float* w) { return row_value_and_grad(net, target, w, nullptr); };
    for (long long t = self; t < m * (n + 1); t += threads) {
        const long long i = t / (n + 1), j = t % (n + 1);
        const double* x = X + i * d;
        if (j == n) fx[i] = coalition_sum(d, x, nullptr, 0, nullptr, work, value);
        else sums[i * n + j] = coalition_sum(d, x, background, B, masks + (i * n + j) * words, work, value);
    }
}

constexpr long long kCoalitionThreads = 32768;  // KernelSHAP's threads at once (their scratch rows)

class CudaBackend final : public DeviceBackend {
public:
    CudaBackend(const FlatNetwork& net, int target, int device) : flat_(net), target_(target) {
        check(cudaSetDevice(device), "cudaSetDevice");
        check(cudaDeviceGetAttribute(&shared_limit_, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
              "the device's shared memory");
        layers_.upload(flat_.layers.data(), flat_.layers.size());
        params_.upload(flat_.params.data(), flat_.params.size());
    }

    Count chunk_points(const SampleJob& job) const override {
        std::size_t free = 0, total = 0;
        check(cudaMemGetInfo(&free, &total), "cudaMemGetInfo");
        const std::size_t per_point = bytes_per_point(job);
        return static_cast<Count>(std::max<std::size_t>(1, std::min<std::size_t>(65535, free / 4 / per_point)));
    }

    void values_and_moments(const SampleJob& job, Count p0, Count m, double* fbar, double* moments,
                            double* shift) override {
        const ChunkJob cj = upload(job, p0, m);
        const int d = cj.d;
        values_.resize(static_cast<std::size_t>(m * job.n_samples));
        fbar_.resize(static_cast<std::size_t>(m));
        const Tile tile = plan(reinterpret_cast<const void*>(values_kernel), static_cast<std::size_t>(m), d,
                               row_scratch(view()) + d);
        const std::size_t nm = static_cast<std::size_t>(m) * d * 2 * kMomentLanes, ns = static_cast<std::size_t>(m) * d;
        if (moments) {
            moments_.resize(nm);
            shift_.resize(ns);
        }
        values_kernel<<<static_cast<unsigned>(m), kThreads, shared_bytes(tile)>>>(
            view(), target_, cj, values_.get(), fbar_.get(), moments ? moments_.get() : nullptr,
            moments ? shift_.get() : nullptr, tile);
        check(cudaGetLastError(), "launching the values kernel");
        check(cudaDeviceSynchronize(), "the values kernel");
        fbar_.download(fbar, static_cast<std::size_t>(m));
        if (moments) {
            moments_.download(moments, nm);
            shift_.download(shift, ns);
        }
    }

    void sums(Pass pass, const SampleJob& job, Count p0, Count m, const PassInputs& host, double* out) override {
        const ChunkJob cj = upload(job, p0, m);  // the same points as the values pass's
        const std::size_t mm = static_cast<std::size_t>(m), d = static_cast<std::size_t>(cj.d);
        const PassShape shape = pass_shape(pass, cj.d);
        PassInputs in = host;
        in.values = values_.get();
        in.n = job.n_samples;
        auto put = [&](Buffer<double>& buffer, const double* from, std::size_t count) -> const double* {
            if (!from) return nullptr;
            buffer.upload(from, count);
            return buffer.get();
        };
        in.fbar = put(fbar_, host.fbar, mm);
        in.gbar = put(gbar_, host.gbar, mm);
        in.zbar = put(zbar_, host.zbar, mm * d);
        in.v = put(v_, host.v, mm * d);
        in.coef = put(coef_, host.coef, mm * d);
        in.intercept = put(intercept_, host.intercept, mm);
        const Tile tile = plan(reinterpret_cast<const void*>(sums_kernel), mm, cj.d + shape.p + 1, cj.d);
        sums_.resize(mm * static_cast<std::size_t>(shape.width));
        sums_kernel<<<static_cast<unsigned>(m), kThreads, shared_bytes(tile)>>>(pass, shape, cj, in, sums_.get(), tile);
        check(cudaGetLastError(), "launching the sums kernel");
        check(cudaDeviceSynchronize(), "the sums kernel");
        sums_.download(out, mm * static_cast<std::size_t>(shape.width));
    }

    void coalition_sums(const SampleJob& job, Count p0, Count m, const std::uint64_t* masks, int words, double* fx,
                        double* sums) override {
        const std::size_t mm = static_cast<std::size_t>(m), n = static_cast<std::size_t>(job.n_samples),
                          d = static_cast<std::size_t>(job.d);
        X_.upload(job.X + p0 * job.d, mm * d);
        if (n > 0) {
            background_.upload(job.background, static_cast<std::size_t>(job.background_rows) * d);
            masks_.upload(masks, mm * n * static_cast<std::size_t>(words));
        }
        fx_.resize(mm);
        sums_.resize(std::max<std::size_t>(1, mm * n));
        const long long items = static_cast<long long>(mm * (n + 1));
        const long long threads = std::min(items, kCoalitionThreads);
        const unsigned blocks = static_cast<unsigned>((threads + kThreads - 1) / kThreads);
        const Tile tile = plan(reinterpret_cast<const void*>(coalition_kernel), blocks, 0, row_scratch(view()));
        coalition_kernel<<<blocks, kThreads, shared_bytes(tile)>>>(
            view(), target_, X_.get(), static_cast<int>(d), n > 0 ? background_.get() : nullptr, job.background_rows,
            static_cast<long long>(mm), static_cast<long long>(n), n > 0 ? masks_.get() : nullptr, words, fx_.get(),
            sums_.get(), tile);
        check(cudaGetLastError(), "launching the coalition kernel");
        check(cudaDeviceSynchronize(), "the coalition kernel");
        fx_.download(fx, mm);
        if (n > 0) sums_.download(sums, mm * n);
    }

private:
    // The tile of `blocks` blocks of `kernel`: shared memory when a block's rows fit the device's
    // opt-in limit (asked for above the default 48 KiB), else global memory.
    Tile plan(const void* kernel, std::size_t blocks, int doubles, int floats) {
        Tile tile;
        tile.doubles = doubles;
        tile.floats = floats;
        tile.float_stride = floats | 1;
        const std::size_t bytes = tile.bytes();
        if (bytes <= static_cast<std::size_t>(shared_limit_)) {
            if (bytes > 48 * 1024)
                check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)),
                      "asking for shared memory");
            tile.shared = true;
            return tile;
        }
        tile_doubles_.resize(blocks * kThreads * static_cast<std::size_t>(doubles));
        tile_floats_.resize(blocks * kThreads * static_cast<std::size_t>(tile.float_stride));
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
        if (job.background)  // KernelSHAP: the masks, the sums, f(x), the point
            return static_cast<std::size_t>(job.n_samples) * (8 + 8 * ((d + 63) / 64)) + 8 + d * 8;
        const std::size_t scratch = static_cast<std::size_t>(row_scratch(flat_.view()));
        const std::size_t tile = kThreads * (d * 8 + (scratch + d + 1) * 4 + (d + p + 1) * 8 + (d + 1) * 4);  // in global memory
        return static_cast<std::size_t>(job.n_samples) * 8 + tile + (p * (p + 1) / 2 + p + 2 * d * 16 + 3 * d) * 8;
    }

    ChunkJob upload(const SampleJob& job, Count p0, Count m) {
        const Count d = job.d;
        X_.upload(job.X + p0 * d, static_cast<std::size_t>(m * d));
        ChunkJob cj;
        cj.X = X_.get();
        if (job.scale) {
            scale_.upload(job.scale, static_cast<std::size_t>(d));
            cj.scale = scale_.get();
        }
        if (job.baseline) {
            baseline_.upload(job.baseline, static_cast<std::size_t>(d));
            cj.baseline = baseline_.get();
        }
        cj.d = static_cast<int>(d);
        cj.n = job.n_samples;
        cj.key = key_from_seed(job.seed);
        cj.first_stream = job.stream(p0);
        cj.common = job.common_draws;
        cj.draws = job.draws;
        return cj;
    }

    FlatNetwork flat_;
    int target_;
    Buffer<LayerView> layers_;
    int shared_limit_ = 0;  // bytes of shared memory a block may ask for
    Buffer<float> params_, tile_floats_;
    Buffer<std::uint64_t> masks_;
    Buffer<double> X_, scale_, baseline_, background_, fx_, values_, fbar_, gbar_, zbar_, v_, coef_, intercept_, moments_,
        shift_, tile_doubles_, sums_;
};

}  // namespace

CudaInfo cuda_info() {
    CudaInfo info;
    info.compiled = true;
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
        info.error = cudaGetErrorString(status);
        cudaGetLastError();  // clear it
        return info;
    }
    info.devices = count;
    if (count == 0) info.error = "no CUDA device";
    for (int i = 0; i < count; ++i) {
        cudaDeviceProp prop;
        if (cudaGetDeviceProperties(&prop, i) == cudaSuccess) info.names.emplace_back(prop.name);
    }
    return info;
}

std::unique_ptr<DeviceBackend> cuda_backend(const FlatNetwork& net, int target, int device) {
    if (target < 0 || target >= net.output_dim) throw std::invalid_argument("target is not one of the network's outputs");
    const CudaInfo info = cuda_info();
    if (info.devices == 0)
        throw std::runtime_error("no usable CUDA device (" + info.error + "); use device='cpu'");
    if (device < 0 || device >= info.devices)
        throw std::runtime_error("CUDA device " + std::to_string(device) + " does not exist: this machine has " +
                                 std::to_string(info.devices));
    return std::make_unique<CudaBackend>(net, target, device);
}

}  // namespace gradlime::device
