// A parallel loop that never lets an exception escape an OpenMP region (which would abort the
// interpreter): the first exception is captured and rethrown after the loop.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "gradlime/types.hpp"

#ifdef GRADLIME_HAVE_OPENMP
#include <omp.h>
#endif

namespace gradlime {

inline int max_threads() {
#ifdef GRADLIME_HAVE_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

// Runs body(i) for i in [0, n). Results must not depend on which thread runs which i; callers
// write to disjoint places and combine in index order afterwards.
template <class Body>
void parallel_for(Index n, Body&& body, bool parallel = true) {
    std::exception_ptr error = nullptr;
#ifdef GRADLIME_HAVE_OPENMP
#pragma omp parallel for schedule(dynamic) if (parallel && n > 1)
#endif
    for (Index i = 0; i < n; ++i) {
        try {
            body(i);
        } catch (...) {
#ifdef GRADLIME_HAVE_OPENMP
#pragma omp critical(gradlime_parallel_error)
#endif
            if (!error) error = std::current_exception();
        }
    }
    (void)parallel;
    if (error) std::rethrow_exception(error);
}

// Ctrl-C from inside a long parallel loop. Only the thread that made this one (the caller, which
// may take the GIL) runs `check`, on every `every`-th poll(); when it throws, every thread sees
// poll() return true at its next call and should stop, and rethrow() hands the exception on after
// the loop.
class Interruption {
public:
    Interruption(std::function<void()> check, Index every)
        : check_(std::move(check)), every_(every), owner_(std::this_thread::get_id()) {}
    bool poll() {
        if (std::this_thread::get_id() == owner_ && ++polls_ % every_ == 0) check_now();
        return stop_.load(std::memory_order_relaxed);
    }
    // The check at once, whatever the count (the owner, waiting for the other threads); nothing
    // on another thread.
    void check_now() {
        if (std::this_thread::get_id() != owner_ || stop_.load(std::memory_order_relaxed)) return;
        try {
            check_();
        } catch (...) {
            error_ = std::current_exception();
            stop_.store(true, std::memory_order_relaxed);
        }
    }
    void rethrow() const {
        if (error_) std::rethrow_exception(error_);
    }

private:
    std::function<void()> check_;
    Index every_, polls_ = 0;
    std::thread::id owner_;
    std::atomic<bool> stop_{false};
    std::exception_ptr error_;
};

// parallel_for whose calling thread, once no index is left for it, keeps running
// interruption.check_now() (every kIdlePollMs) until the other threads are done: only that thread
// may take the GIL, so a long body left to another thread would otherwise not see Ctrl-C.
constexpr int kIdlePollMs = 2;

template <class Body>
void parallel_for_polled(Index n, Body&& body, Interruption& interruption, bool parallel = true) {
#ifdef GRADLIME_HAVE_OPENMP
    if (parallel && n > 1 && max_threads() > 1) {
        std::atomic<Index> next{0}, done{0};
        std::exception_ptr error = nullptr;
#pragma omp parallel
        {
            for (Index i = next.fetch_add(1); i < n; i = next.fetch_add(1)) {
                try {
                    body(i);
                } catch (...) {
#pragma omp critical(gradlime_parallel_error)
                    if (!error) error = std::current_exception();
                }
                done.fetch_add(1);
            }
            if (omp_get_thread_num() == 0)
                while (done.load() < n) {
                    interruption.check_now();
                    std::this_thread::sleep_for(std::chrono::milliseconds(kIdlePollMs));
                }
        }
        if (error) std::rethrow_exception(error);
        return;
    }
#endif
    parallel_for(n, body, false);
}

// The fused native paths: points [0, N) each run whole by body(point, interruption) on one thread,
// points in parallel, in waves of about kFusedWaveRows rows (rows_per_point each). check() (Ctrl-C;
// it may take the GIL) runs on the calling thread between waves and, every kFusedPollEvery polls
// of `interruption` by that thread, inside them (and while it waits for the others' points). A point's exception is rethrown after its wave;
// of several, the lowest point's, whatever the threads did first. Waves are long (a point is a
// task; the last points of a wave leave threads idle: measured 3% of KernelSHAP's time at 2^20
// rows, 50 points of 41,561 rows), and bound only the work done after a point fails.
constexpr Index kFusedWaveRows = Index(1) << 23;
constexpr Index kFusedPollEvery = 256;

template <class Body>
void for_each_point_in_waves(Index N, Index rows_per_point, const std::function<void()>& check, Body&& body) {
    // At least a point per thread, however long the points: a wave of one would run on one thread.
    const Index wave = std::max<Index>(max_threads(), kFusedWaveRows / std::max<Index>(1, rows_per_point));
    for (Index p0 = 0; p0 < N; p0 += wave) {
        const Index pn = std::min(wave, N - p0);
        std::vector<std::exception_ptr> error(static_cast<size_t>(pn));
        Interruption interruption(check, kFusedPollEvery);
        parallel_for_polled(pn, [&](Index i) {
            try {
                body(p0 + i, interruption);
            } catch (...) {
                error[static_cast<size_t>(i)] = std::current_exception();
            }
        }, interruption);
        interruption.rethrow();
        for (const std::exception_ptr& e : error)
            if (e) std::rethrow_exception(e);
        check();
    }
}

// One long-lived thread that runs one job at a time: the engine hands it the drawing of the next
// batch while the model evaluates the current one (starting a thread per batch costs tens of
// microseconds, a visible share of a small batch). wait() rethrows the job's exception.
class BackgroundWorker {
public:
    BackgroundWorker() : thread_([this] { loop(); }) {}
    ~BackgroundWorker() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        thread_.join();
    }
    BackgroundWorker(const BackgroundWorker&) = delete;
    BackgroundWorker& operator=(const BackgroundWorker&) = delete;

    void submit(std::function<void()> job) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            job_ = std::move(job);
            busy_ = true;
        }
        wake_.notify_all();
    }

    void wait() {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return !busy_; });
        if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    }

    // For unwinding: waits, and drops the job's exception (another one is already in flight).
    void wait_quietly() noexcept {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return !busy_; });
        error_ = nullptr;
    }

private:
    void loop() {
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            wake_.wait(lock, [this] { return stop_ || busy_; });
            if (busy_) {
                std::function<void()> job = std::move(job_);
                lock.unlock();
                std::exception_ptr error;
                try {
                    job();
                } catch (...) {
                    error = std::current_exception();
                }
                lock.lock();
                error_ = error;
                busy_ = false;
                wake_.notify_all();
            } else if (stop_) {
                return;
            }
        }
    }

    std::mutex mutex_;
    std::condition_variable wake_;
    std::function<void()> job_;
    std::exception_ptr error_;
    bool busy_ = false, stop_ = false;
    std::thread thread_;  // last: starts once the members above exist
};

// Runs body(i, first, rows, interruption) over the fixed chunks [first, first + rows) of n rows,
// `wave` chunks at a time (in parallel when asked), then merge(i) in chunk order. check() (Ctrl-C;
// it may take the GIL) runs on the calling thread before each chunk that thread takes, at each
// interruption.poll() it makes inside one (a body may poll, and return early when told to stop),
// while it waits for the other threads' chunks, and after each wave: a chunk of O(d^2) work per sample (large d) need not run to its end. The chunking and the merge
// order are part of the arithmetic: they never depend on threads.
template <class Body, class Merge>
void for_each_chunk_in_waves(Index n, Index chunk_rows, Index wave, bool parallel, Body&& body, Merge&& merge,
                             const std::function<void()>& check) {
    const Index chunks = (n + chunk_rows - 1) / chunk_rows;
    for (Index w0 = 0; w0 < chunks; w0 += wave) {
        const Index wn = std::min(wave, chunks - w0);
        Interruption interruption(check, 1);
        parallel_for_polled(wn, [&](Index i) {
            if (interruption.poll()) return;
            const Index first = (w0 + i) * chunk_rows;
            body(i, first, std::min(chunk_rows, n - first), interruption);
        }, interruption, parallel);
        interruption.rethrow();
        for (Index i = 0; i < wn; ++i) merge(i);
        check();
    }
}

// Finalises, then drops, the run of finished states at the front of an in-flight queue. Several
// finished states run in parallel, a single one gets the threads for its own work
// (finalize(state, parallel_inside)); the arithmetic is the same either way.
template <class State, class IsDone, class Finalize>
void finalize_front(std::deque<State>& inflight, IsDone&& is_done, Finalize&& finalize) {
    Index done = 0;
    while (done < static_cast<Index>(inflight.size()) && is_done(inflight[static_cast<size_t>(done)])) ++done;
    if (done == 0) return;
    const bool across_states = done > 1;
    parallel_for(done, [&](Index i) { finalize(inflight[static_cast<size_t>(i)], !across_states); }, across_states);
    inflight.erase(inflight.begin(), inflight.begin() + done);
}

}  // namespace gradlime
