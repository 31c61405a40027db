// The streaming driver: the one loop under every sampling method. It plans each point's model rows
// into batches, draws and evaluates them, hands the outputs to the point's accumulators, checks
// them, stops a point early when its method says so, and finalises points as they complete.
//
// A method supplies only its own parts (a class M; see MethodParts for the defaults):
//   using State = ...;                    per-point accumulators and kept draws
//   Index dim() const;                    input features
//   Index rows_per_point() const;         a point's model rows (at most, when it can stop early)
//   bool values() const, gradients() const;   what it needs from the model
//   void begin(State&, Index point, bool fused, Index kept_bytes) const;
//   void fill(State&, Index point, Index first, Index count, double* rows) const;
//       rows [first, first + count) of the point, row-major (count, d); any grouping of a point's
//       rows into calls gives the same rows, and calls for disjoint rows may run in parallel
//   void take(std::vector<Piece<State>>&, const ModelOutput&) const;   outputs, in row order per point
//   bool finite(const State&) const;      cheap screen: false once the accumulators are non-finite
//   void finalize(State&, Index point, Index taken, bool parallel) const;
// and for a native network's fused path (feature-major float blocks of kNetworkBlock rows):
//   Index fused_rows(State&) const;       rows on that path; batched_row() maps them back to the
//                                         batched path's (by default they are the same rows)
//   void fill_block(State&, Index point, Index first, Index count, float* x) const;
//   bool take_block(State&, Index point, Index first, Index count, const float* y, const float* g) const;
//       false when an output was not finite (the driver then names the first such row)
// and, where the method has them (MethodParts gives the defaults):
//   prologue_rows(), fill_prologue(), take_prologue()   rows every point needs first (KernelSHAP's
//                                                       background, for E f(b))
//   stops(), stop(const State&, Index taken)            the early-stop decision, taken after every
//                                                       kStopBlock rows of the point (adaptive n)
//   where(point, row), where_prologue(row)              words for a row in error messages
//
// Two executors run the parts with the same bits: batched, for Python callables (double-buffered:
// the next batch is drawn while the model evaluates this one), and fused, for native networks (a
// point's rows drawn, evaluated and accumulated block by block on one thread, points in
// parallel). One rule chooses between them (choose_executor), one sets the kept-draws budget
// (kept_bytes_per_point). The device seam (DriverOptions::device) hands the whole run to another
// backend; Device::Host is the reference backend that runs the parts one point at a time on the
// calling thread, which any device backend must reproduce. Device::Cuda (and CudaReference, the
// CUDA backend's per-sample code run on the host) take the Gaussian family, LIME and KernelSHAP of a
// native network before they reach the driver (run_engine, run_lime, run_kernel_shap; device/estimates.hpp).
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "gradlime/mlp.hpp"
#include "gradlime/model.hpp"
#include "gradlime/parallel.hpp"
#include "gradlime/types.hpp"

namespace gradlime {

// Cuda: the GPU (device_index); CudaReference: the CUDA backend's per-sample code in one loop per
// point on the host; CudaEmulation: its kernels' code on the host (device_index 1: every tile in
// global memory).
enum class Device { Cpu, Host, Cuda, CudaReference, CudaEmulation };
inline bool on_device(Device d) { return d == Device::Cuda || d == Device::CudaReference || d == Device::CudaEmulation; }

struct DriverOptions {
    Index batch_rows = 8192;  // rows per model call on the batched path
    // A native network runs fused (when there are at least as many points as threads). Same bits
    // either way; off only to test that.
    bool fused_network = true;
    // Draws a method looks at again when it finalises (C-LIME's normals, LIME's masks) are kept up
    // to this many bytes, shared by the points in flight; beyond it they are drawn again (a pure
    // function of the counter), so memory stays bounded. Both give the same bits.
    Index kept_bytes = Index(32) << 20;
    // Row i of X is global point point_offset + i: it draws that point's stream, so a chunk of a
    // larger X computed anywhere gives the same bits as the whole.
    std::uint64_t point_offset = 0;
    Device device = Device::Cpu;
    int device_index = 0;  // which CUDA device
    // (points finished, points in all), called on the calling thread at most every
    // progress_interval seconds, and once at the end.
    std::function<void(Index, Index)> progress;
    double progress_interval = 0.1;
};

// The stream (the counter word that names a point's draws) of local point p: global point
// point_offset + p. validate_points() checks that it fits 32 bits.
inline std::uint32_t point_stream(const DriverOptions& opt, Index p) {
    return static_cast<std::uint32_t>(opt.point_offset + static_cast<std::uint64_t>(p));
}

// Rows a point's stop decision is taken at: after every block of this many of its rows (and at its
// last), on both executors, so an early stop never depends on batches or threads.
constexpr Index kStopBlock = kNetworkBlock;

template <class State>
struct PointSlot {
    State state;
    Index point = -1;  // -1: the prologue (rows every point needs first, e.g. KernelSHAP's background)
    Index rows = 0, planned = 0, taken = 0, skipped = 0;
    bool stopped = false;
    // Finished, and no planned batch refers to it any more.
    bool done() const { return stopped ? taken + skipped == planned : taken == rows; }
};

// Rows [first, first + count) of one point (or the prologue), at row `offset` of a batch.
template <class State>
struct Piece {
    PointSlot<State>* slot;
    Index first, count, offset;
    State& state() const { return slot->state; }
    Index point() const { return slot->point; }
};

// The defaults of a method's parts.
struct MethodParts {
    Index prologue_rows() const { return 0; }
    void fill_prologue(Index, Index, double*) const {}
    void take_prologue(Index, Index, const double*) const {}
    bool stops() const { return false; }  // whether stop() can ever say yes
    template <class State>
    bool stop(const State&, Index) const {
        return false;
    }
    template <class State>
    Index batched_row(const State&, Index fused_row) const {
        return fused_row;
    }
    std::string where(std::uint64_t point, Index row) const {
        return "point " + std::to_string(point) + " (perturbation sample " + std::to_string(row) + ")";
    }
    std::string where_prologue(Index row) const { return "prologue row " + std::to_string(row); }
};

// Counts finished points from any thread; reports them from the calling thread.
class Progress {
public:
    Progress(const DriverOptions& opt, Index total)
        : callback_(opt.progress), total_(total),
          interval_(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
              std::max(0.0, opt.progress_interval)))),
          last_(Clock::now()) {}
    void point_done() { done_.fetch_add(1, std::memory_order_relaxed); }
    void set_done(Index done) { done_.store(done, std::memory_order_relaxed); }
    Index total() const { return total_; }
    void report() {
        if (!callback_) return;
        const Clock::time_point now = Clock::now();
        if (now - last_ < interval_) return;
        last_ = now;
        callback_(done_.load(std::memory_order_relaxed), total_);
    }
    void finish() {
        if (callback_) callback_(done_.load(std::memory_order_relaxed), total_);
    }

private:
    using Clock = std::chrono::steady_clock;
    std::function<void(Index, Index)> callback_;
    Index total_;
    Clock::duration interval_;
    Clock::time_point last_;
    std::atomic<Index> done_{0};
};

enum class Executor { Batched, Fused, Host };

// The one rule: a native network runs fused when every thread gets a point; a device backend
// takes over whatever the model.
inline Executor choose_executor(const BatchModel& model, const DriverOptions& opt, Index N) {
    if (opt.device == Device::Host) return Executor::Host;
    if (on_device(opt.device))
        throw std::logic_error("a device run reached the CPU driver: run_engine, run_lime and run_kernel_shap hand "
                               "it to the device backend first");
    const bool native = model.as_network() != nullptr;
    return native && opt.fused_network && N >= max_threads() ? Executor::Fused : Executor::Batched;
}

// The other rule: the kept-draws budget is shared by the points that can be in flight at once.
inline Index kept_bytes_per_point(const DriverOptions& opt, Executor ex, Index rows_per_point) {
    const Index in_flight = ex == Executor::Fused ? max_threads()
                            : ex == Executor::Host ? 1
                                                   : opt.batch_rows / std::max<Index>(1, rows_per_point) + 2;
    return opt.kept_bytes / std::max<Index>(1, in_flight);
}

// Checks shared by every method: X itself, the options, and that the row count fits.
void validate_points(const RowMatrix& X, const DriverOptions& opt, Index rows_per_point, Index prologue_rows,
                     const BatchModel& model);

[[noreturn]] void throw_non_finite(const char* what, const std::string& where);

}  // namespace gradlime

#include "gradlime/driver_batched.hpp"
#include "gradlime/driver_executors.hpp"
