// The CUDA backend's code on the host (device="cuda_emulation"): device/block_backend.hpp over a
// runtime whose memory is the host's and whose launch runs each block's phases for its threads
// in turn (the barriers' guarantee), blocks in parallel. What the GPU runs, minus the GPU: CI
// holds it to the host reference bit for bit, the tile in shared memory and in global memory.
#include <algorithm>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <vector>

#include "gradlime/device/block_backend.hpp"
#include "gradlime/device/estimates.hpp"

namespace gradlime::device {

namespace {

class HostRuntime {
public:
    template <class T>
    class Buffer {
    public:
        void resize(std::size_t count) {
            if (count > data_.size()) data_.assign(count, T{});
        }
        void upload(const T* host, std::size_t count) {
            resize(count);
            std::copy(host, host + count, data_.begin());
        }
        void download(T* host, std::size_t count) const { std::copy(data_.begin(), data_.begin() + count, host); }
        T* get() const { return data_.empty() ? nullptr : data_.data(); }

    private:
        mutable std::vector<T> data_;  // device memory is writable through a const handle
    };

    explicit HostRuntime(int shared_limit) : shared_limit_(shared_limit) {}
    // 4 MiB: small, so that the tests walk several chunks of points.
    std::size_t free_memory() const { return std::size_t{4} << 20; }
    int shared_limit() const { return shared_limit_; }

    template <class Block>
    void launch(const Block& b, long long blocks, std::size_t shared_bytes) const {
#if defined(GRADLIME_HAVE_OPENMP)
#pragma omp parallel for schedule(dynamic)
#endif
        for (long long i = 0; i < blocks; ++i) {
            std::vector<double> shared(shared_bytes / sizeof(double) + 1);
            double* sh = shared.data();
            for (int t = 0; t < kThreads; ++t) b.begin(i, t, sh);
            for (long long step = 0; step < b.steps(); ++step) {
                for (int t = 0; t < kThreads; ++t) b.compute(i, t, step, sh);
                for (int t = 0; t < kThreads; ++t) b.reduce(i, t, step, sh);
            }
            for (int t = 0; t < kThreads; ++t) b.end(i, t, sh);
        }
    }

private:
    int shared_limit_;
};

}  // namespace

std::unique_ptr<DeviceBackend> emulated_backend(const FlatNetwork& net, int target, bool global_tiles) {
    if (target < 0 || target >= net.output_dim) throw std::invalid_argument("target is not one of the network's outputs");
    // An H100's or H200's opt-in shared memory per block, or none (every tile in global memory).
    return std::make_unique<BlockBackend<HostRuntime>>(HostRuntime(global_tiles ? 0 : 227 * 1024), net, target);
}

}  // namespace gradlime::device
