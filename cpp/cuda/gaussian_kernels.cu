// The CUDA backend of device/gaussian_backend.hpp: one block per point, its threads drawing and
// evaluating a tile of samples each (device/network_row.hpp, device/gaussian_sums.hpp), then each
// entry of the point's sums owned by one thread, which adds the tile's samples in order. No
// atomics and no reduction trees: every sum is the host reference's sequence of operations, so a
// run's bits do not depend on the block size and repeat from run to run. Compiled with
// -fmad=false (CMakeLists.txt): the draws' double arithmetic is never contracted, as on the host;
// the network's multiply-adds are explicit fmaf.
//
// Memory: per chunk of points, the values (m x n doubles) and each block's tile scratch; the
// chunk is sized from the device's free memory (a quarter of it). Only the per-point sums come
// back to the host.
#include <cuda_runtime.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "gradlime/device/backend.hpp"
#include "gradlime/device/gaussian_sums.hpp"

namespace gradlime::device {

namespace {

constexpr int kThreads = 128;  // threads per block: one sample each per tile

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
    int d = 0;
    long long n = 0;
    Key key{};
    std::uint32_t first_stream = 0;  // of the chunk's first point
    bool common = false;
    bool uniform = false;
};

__device__ GaussianPoint point_at(const ChunkJob& job, long long i) {
    GaussianPoint p;
    p.x = job.X + i * job.d;
    p.scale = job.scale;
    p.d = job.d;
    p.key = job.key;
    p.stream = job.common ? job.first_stream : job.first_stream + static_cast<std::uint32_t>(i);
    p.uniform = job.uniform;
    return p;
}

// Pass 1: values (kept on the device), their mean, and the gradient moments when asked.
__global__ void values_kernel(NetworkView net, int target, ChunkJob job, double* values, double* fbar, double* moments,
                              double* shift, double* zbuf, float* wbuf, float* gbuf) {
    const long long i = blockIdx.x;
    const int t = threadIdx.x, T = blockDim.x, d = job.d;
    const GaussianPoint p = point_at(job, i);
    double* z = zbuf + (i * T + t) * d;
    float* work = wbuf + (i * T + t) * row_scratch(net);
    float* G = gbuf + i * T * d;  // the tile's gradients, (T, d)
    double* lanes = moments ? moments + i * d * 2 * kMomentLanes : nullptr;
    if (lanes)
        for (int k = t; k < d * 2 * kMomentLanes; k += T) lanes[k] = 0.0;
    for (long long s0 = 0; s0 < job.n; s0 += T) {
        const long long s = s0 + t;
        if (s < job.n) {
            draw_sample(p, static_cast<std::uint64_t>(s), z, work);
            values[i * job.n + s] = row_value_and_grad(net, target, work, lanes ? G + t * d : nullptr);
        }
        __syncthreads();
        if (lanes) {
            const long long rows = min(static_cast<long long>(T), job.n - s0);
            for (int k = t; k < d; k += T)
                for (long long r = 0; r < rows; ++r)
                    moment_add(static_cast<std::uint64_t>(s0 + r), G[r * d + k], shift[i * d + k],
                               lanes + k * 2 * kMomentLanes);
        }
        __syncthreads();
    }
    if (t == 0) fbar[i] = sequential_mean(values + i * job.n, job.n);
}

enum class Pass { LeastSquares, Meat, Stein };

// Passes 2 and 3: a Gram sum per point over p columns of each sample (least squares: [z; f - fbar],
// meat: r (z - zbar), `width` entries of gram_entry; Stein: t, the squares and sums of
// moment_entry).
__global__ void gram_kernel(Pass pass, ChunkJob job, const double* values, const double* fbar, const double* gbar,
                            const double* zbar, const double* v, double* sums, int p, long long width, double* zbuf,
                            double* cbuf, float* abuf) {
    const long long i = blockIdx.x;
    const int t = threadIdx.x, T = blockDim.x, d = job.d;
    const GaussianPoint pt = point_at(job, i);
    double* z = zbuf + (i * T + t) * d;
    float* a = abuf + (i * T + t) * d;
    double* C = cbuf + i * T * p;  // the tile's columns, (T, p)
    double* entries = sums + i * width;
    for (long long e = t; e < width; e += T) entries[e] = 0.0;
    for (long long s0 = 0; s0 < job.n; s0 += T) {
        const long long s = s0 + t;
        if (s < job.n) {
            draw_sample(pt, static_cast<std::uint64_t>(s), z, a);
            const double f = values[i * job.n + s];
            if (pass == Pass::Meat) meat_columns(z, d, f, fbar[i], gbar[i], zbar + i * d, v + i * d, C + t * p);
            else if (pass == Pass::Stein) stein_columns(z, d, f, fbar[i], job.scale, C + t * p);
            else least_squares_columns(z, d, f, fbar[i], C + t * p);
        }
        __syncthreads();
        const long long rows = min(static_cast<long long>(T), job.n - s0);
        for (long long e = t; e < width; e += T) {
            const GramEntry g = pass == Pass::Stein ? moment_entry(e, p) : gram_entry(e, p);
            double acc = entries[e];
            for (long long r = 0; r < rows; ++r) gram_add(g, C + r * p, acc);
            entries[e] = acc;
        }
        __syncthreads();
    }
}

class CudaBackend final : public GaussianBackend {
public:
    CudaBackend(const FlatNetwork& net, int target, int device) : flat_(net), target_(target) {
        check(cudaSetDevice(device), "cudaSetDevice");
        layers_.upload(flat_.layers.data(), flat_.layers.size());
        params_.upload(flat_.params.data(), flat_.params.size());
    }

    Count chunk_points(const GaussianJob& job) const override {
        std::size_t free = 0, total = 0;
        check(cudaMemGetInfo(&free, &total), "cudaMemGetInfo");
        const std::size_t per_point = bytes_per_point(job);
        return static_cast<Count>(std::max<std::size_t>(1, std::min<std::size_t>(65535, free / 4 / per_point)));
    }

    void values_and_moments(const GaussianJob& job, Count p0, Count m, double* fbar, double* moments,
                            double* shift) override {
        const ChunkJob cj = upload(job, p0, m);
        const int d = cj.d;
        values_.resize(static_cast<std::size_t>(m * job.n_samples));
        fbar_.resize(static_cast<std::size_t>(m));
        zbuf_.resize(static_cast<std::size_t>(m) * kThreads * d);
        wbuf_.resize(static_cast<std::size_t>(m) * kThreads * static_cast<std::size_t>(row_scratch(view())));
        gbuf_.resize(static_cast<std::size_t>(m) * kThreads * d);
        const std::size_t nm = static_cast<std::size_t>(m) * d * 2 * kMomentLanes, ns = static_cast<std::size_t>(m) * d;
        if (moments) {
            moments_.resize(nm);
            shift_.resize(ns);
        }
        values_kernel<<<static_cast<unsigned>(m), kThreads>>>(view(), target_, cj, values_.get(), fbar_.get(),
                                                               moments ? moments_.get() : nullptr,
                                                               moments ? shift_.get() : nullptr, zbuf_.get(),
                                                               wbuf_.get(), gbuf_.get());
        check(cudaGetLastError(), "launching the values kernel");
        check(cudaDeviceSynchronize(), "the values kernel");
        fbar_.download(fbar, static_cast<std::size_t>(m));
        if (moments) {
            moments_.download(moments, nm);
            shift_.download(shift, ns);
        }
    }

    void least_squares(const GaussianJob& job, Count p0, Count m, const double* fbar, double* sums) override {
        const int d = static_cast<int>(job.d);
        gram(Pass::LeastSquares, job, p0, m, fbar, nullptr, nullptr, nullptr, sums, d + 1, packed_size(d + 1) + d + 1);
    }

    void meat(const GaussianJob& job, Count p0, Count m, const double* fbar, const double* gbar, const double* zbar,
              const double* v, double* sums) override {
        const int d = static_cast<int>(job.d);
        gram(Pass::Meat, job, p0, m, fbar, gbar, zbar, v, sums, d, packed_size(d));
    }

    void stein(const GaussianJob& job, Count p0, Count m, const double* fbar, double* sums) override {
        const int d = static_cast<int>(job.d);
        gram(Pass::Stein, job, p0, m, fbar, nullptr, nullptr, nullptr, sums, d, 2 * static_cast<Count>(d));
    }

private:
    NetworkView view() const {
        NetworkView v = flat_.view();
        v.layers = layers_.get();
        v.params = params_.get();
        return v;
    }

    std::size_t bytes_per_point(const GaussianJob& job) const {
        const std::size_t d = static_cast<std::size_t>(job.d), p = d + 1;
        const std::size_t tile = kThreads * (d * 8 + p * 8 + d * 4 + static_cast<std::size_t>(row_scratch(flat_.view())) * 4);
        return static_cast<std::size_t>(job.n_samples) * 8 + tile + (p * (p + 1) / 2 + p + 2 * d * 16) * 8;
    }

    ChunkJob upload(const GaussianJob& job, Count p0, Count m) {
        const Count d = job.d;
        X_.upload(job.X + p0 * d, static_cast<std::size_t>(m * d));
        scale_.upload(job.scale, static_cast<std::size_t>(d));
        ChunkJob cj;
        cj.X = X_.get();
        cj.scale = scale_.get();
        cj.d = static_cast<int>(d);
        cj.n = job.n_samples;
        cj.key = key_from_seed(job.seed);
        cj.first_stream = job.stream(p0);
        cj.common = job.common_draws;
        cj.uniform = job.uniform;
        return cj;
    }

    void gram(Pass pass, const GaussianJob& job, Count p0, Count m, const double* fbar, const double* gbar,
              const double* zbar, const double* v, double* sums, int p, Count width) {
        const ChunkJob cj = upload(job, p0, m);  // the same points as pass 1's
        const std::size_t mm = static_cast<std::size_t>(m), d = static_cast<std::size_t>(cj.d);
        fbar_.upload(fbar, mm);
        const bool meat = pass == Pass::Meat;
        if (meat) {
            gbar_.upload(gbar, mm);
            zbar_.upload(zbar, mm * d);
            v_.upload(v, mm * d);
        }
        zbuf_.resize(mm * kThreads * d);
        abuf_.resize(mm * kThreads * d);
        cbuf_.resize(mm * kThreads * static_cast<std::size_t>(p));
        sums_.resize(mm * static_cast<std::size_t>(width));
        gram_kernel<<<static_cast<unsigned>(m), kThreads>>>(pass, cj, values_.get(), fbar_.get(),
                                                             meat ? gbar_.get() : nullptr, meat ? zbar_.get() : nullptr,
                                                             meat ? v_.get() : nullptr, sums_.get(), p, width,
                                                             zbuf_.get(), cbuf_.get(), abuf_.get());
        check(cudaGetLastError(), "launching the Gram kernel");
        check(cudaDeviceSynchronize(), "the Gram kernel");
        sums_.download(sums, mm * static_cast<std::size_t>(width));
    }

    FlatNetwork flat_;
    int target_;
    Buffer<LayerView> layers_;
    Buffer<float> params_, wbuf_, gbuf_, abuf_;
    Buffer<double> X_, scale_, values_, fbar_, gbar_, zbar_, v_, moments_, shift_, zbuf_, cbuf_, sums_;
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

std::unique_ptr<GaussianBackend> cuda_backend(const FlatNetwork& net, int target, int device) {
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
