// The CUDA backend of device/estimates.hpp: device/block_backend.hpp's host side over CUDA's
// runtime, and the one kernel that runs a block's phases (device/blocks.hpp) between barriers.
// Compiled with -fmad=false (CMakeLists.txt): the draws' and sums' double arithmetic is never
// contracted, as on the host; the network's multiply-adds are explicit fmaf.
//
// Memory: per chunk of points, the values (m x n doubles) and each block's tile (in shared memory
// when a block's fits, else global); the chunk is sized from a quarter of the device's free
// memory. Only the per-point sums come back to the host.
#include <cuda_runtime.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>

#include "gradlime/device/backend.hpp"
#include "gradlime/device/block_backend.hpp"

namespace gradlime::device {

namespace {

void check(cudaError_t status, const char* what) {
    if (status != cudaSuccess)
        throw std::runtime_error(std::string("CUDA: ") + what + ": " + cudaGetErrorString(status));
}

// begin; for each step: compute, barrier, reduce, barrier; end (device/blocks.hpp).
template <class Block>
__global__ void block_kernel(Block b) {
    extern __shared__ double shared[];
    const long long i = blockIdx.x;
    const int t = threadIdx.x;
    b.begin(i, t, shared);
    __syncthreads();
    for (long long step = 0; step < b.steps(); ++step) {
        b.compute(i, t, step, shared);
        __syncthreads();
        b.reduce(i, t, step, shared);
        __syncthreads();
    }
    b.end(i, t, shared);
}

class CudaRuntime {
public:
    // Device memory owned by the host, freed when it goes.
    template <class T>
    class Buffer {
    public:
        Buffer() = default;
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

    explicit CudaRuntime(int device) {
        check(cudaSetDevice(device), "cudaSetDevice");
        check(cudaDeviceGetAttribute(&shared_limit_, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
              "the device's shared memory");
    }
    std::size_t free_memory() const {
        std::size_t free = 0, total = 0;
        check(cudaMemGetInfo(&free, &total), "cudaMemGetInfo");
        return free;
    }
    int shared_limit() const { return shared_limit_; }

    template <class Block>
    void launch(const Block& b, long long blocks, std::size_t shared_bytes) const {
        if (shared_bytes > 48 * 1024)  // above the default, a kernel asks for it
            check(cudaFuncSetAttribute(block_kernel<Block>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(shared_bytes)),
                  "asking for shared memory");
        block_kernel<Block><<<static_cast<unsigned>(blocks), kThreads, shared_bytes>>>(b);
        check(cudaGetLastError(), "launching a kernel");
        check(cudaDeviceSynchronize(), "a kernel");
    }

private:
    int shared_limit_ = 0;
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
    return std::make_unique<BlockBackend<CudaRuntime>>(CudaRuntime(device), net, target);
}

}  // namespace gradlime::device
