// The CUDA backend's code on the host (device="cuda_emulation"): device/block_backend.hpp over a
// runtime whose memory is the host's and whose launch runs each block's phases for its threads
// in turn (the barriers' guarantee), blocks in parallel. What the GPU runs, minus the GPU: CI
// holds it to the host reference bit for bit, the tile in shared memory and in global memory.
// With the tiles in global memory the threads of each phase run last to first: a thread that
// read what another writes in the same phase (a race on the GPU) would then read it unwritten in
// one of the two runs, and the two would not both match the reference.
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

    HostRuntime(int shared_limit, bool reverse) : shared_limit_(shared_limit), reverse_(reverse) {}
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
            auto thread = [&](int u) { return reverse_ ? kThreads - 1 - u : u; };
            for (int u = 0; u < kThreads; ++u) b.begin(i, thread(u), sh);
            for (long long step = 0; step < b.steps(); ++step) {
                for (int u = 0; u < kThreads; ++u) b.compute(i, thread(u), step, sh);
                for (int u = 0; u < kThreads; ++u) b.reduce(i, thread(u), step, sh);
            }
            for (int u = 0; u < kThreads; ++u) b.end(i, thread(u), sh);
        }
    }

private:
    int shared_limit_;
    bool reverse_;
};

}  // namespace

std::unique_ptr<DeviceBackend> emulated_backend(const FlatNetwork& net, int target, bool global_tiles) {
    if (target < 0 || target >= net.output_dim) throw std::invalid_argument("target is not one of the network's outputs");
    // An H100's or H200's opt-in shared memory per block, or none (every tile in global memory,
    // the threads in reverse).
    return std::make_unique<BlockBackend<HostRuntime>>(HostRuntime(global_tiles ? 0 : 227 * 1024, global_tiles), net,
                                                       target);
}

}  // namespace gradlime::device
