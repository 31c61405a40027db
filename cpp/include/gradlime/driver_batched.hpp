// The driver's batched executor (see driver.hpp): points' rows planned into batches of
// batch_rows, each one model call. The next batch is drawn (by a background thread, joined by this
// one when its own work is done) while the model evaluates the current one; outputs go to the
// points in row order; finished points are finalised at the front of the in-flight queue.
// Without early stops the batches are the contiguous ranges of the row sequence
// [prologue, point 0's rows, point 1's rows, ...], whatever the method.
#pragma once

#include <algorithm>
#include <atomic>
#include <deque>
#include <optional>

namespace gradlime {

namespace driver_detail {

constexpr Index kFillRows = 64;  // rows per task when filling a batch (any split gives the same rows)

// The first row of a block of model outputs with a non-finite value or gradient, reported with the
// method's words for where it is. y[r], g[k * ld + r] (feature-major), or g[r * ld + k] (row-major).
template <class T>
void check_block(const T* y, const T* g, Index count, Index d, Index ld, bool feature_major,
                 const std::function<std::string(Index)>& where) {
    for (Index r = 0; r < count; ++r) {
        if (y && !std::isfinite(static_cast<double>(y[r]))) throw_non_finite("value", where(r));
        for (Index k = 0; g && k < d; ++k)
            if (!std::isfinite(static_cast<double>(feature_major ? g[k * ld + r] : g[r * ld + k])))
                throw_non_finite("gradient", where(r));
    }
}

template <class State>
struct Batch {
    Index m = 0;
    int slot = 0;
    double* inputs = nullptr;
    std::vector<Piece<State>> pieces;  // in batch order
};

// Rows of the batch for fill task `task`: each overlapping piece's part.
template <class M, class State>
void fill_task(const M& m, const Batch<State>& b, Index task) {
    const Index d = m.dim(), t0 = task * kFillRows, t1 = std::min(b.m, t0 + kFillRows);
    auto it = std::upper_bound(b.pieces.begin(), b.pieces.end(), t0,
                               [](Index t, const Piece<State>& p) { return t < p.offset; });
    for (--it; it != b.pieces.end() && it->offset < t1; ++it) {
        const Index lo = std::max(t0, it->offset), hi = std::min(t1, it->offset + it->count);
        if (lo >= hi) continue;
        const Index first = it->first + (lo - it->offset);
        double* rows = b.inputs + lo * d;
        if (it->point() < 0) m.fill_prologue(first, hi - lo, rows);
        else m.fill(it->state(), it->point(), first, hi - lo, rows);
    }
}

template <class State>
Index fill_tasks(const Batch<State>& b) {
    return (b.m + kFillRows - 1) / kFillRows;
}

// All of a batch's rows, on the calling thread's team.
template <class M, class State>
void fill_batch(const M& m, const Batch<State>& b) {
    parallel_for(fill_tasks(b), [&](Index t) { fill_task(m, b, t); });
}

// Fill tasks of a batch handed out to whoever asks: the background thread and, once its own
// bookkeeping is done, the driver's thread.
template <class M, class State>
class SharedFill {
public:
    SharedFill(const M& m, const Batch<State>& b) : m_(m), b_(b), tasks_(fill_tasks(b)) {}
    void work() {
        for (Index i; (i = next_.fetch_add(1)) < tasks_;) fill_task(m_, b_, i);
    }

private:
    const M& m_;
    const Batch<State>& b_;
    const Index tasks_;
    std::atomic<Index> next_{0};
};

// The model's outputs for a batch, without what the method did not ask for (a model may return more).
template <class M, class State>
ModelOutput evaluate_batch(const M& m, BatchModel& model, const Batch<State>& b) {
    const bool values = m.values() || m.prologue_rows() > 0;
    ModelOutput y = model.evaluate(b.slot, b.m, m.dim(), values, m.gradients());
    if (!values) y.values = nullptr;
    if (!m.gradients()) y.gradients = nullptr;
    return y;
}

// Takes the batch's outputs into the points (the prologue first), splitting pieces at the stop
// blocks when the method can stop early; returns the pieces taken, in batch order.
template <class M, class State>
std::vector<Piece<State>> take_batch(const M& m, Batch<State>& b, const ModelOutput& y) {
    std::vector<Piece<State>> taken, points;
    for (const Piece<State>& p : b.pieces) {
        PointSlot<State>& s = *p.slot;
        if (s.stopped) {
            s.skipped += p.count;
        } else if (p.point() < 0) {
            m.take_prologue(p.first, p.count, y.values + p.offset);
            s.taken += p.count;
            taken.push_back(p);
        } else {
            points.push_back(p);
        }
    }
    if (!m.stops()) {
        m.take(points, y);
        for (const Piece<State>& p : points) {
            p.slot->taken += p.count;
            taken.push_back(p);
        }
        return taken;
    }
    for (const Piece<State>& p : points) {
        PointSlot<State>& s = *p.slot;
        Index o = 0;
        while (o < p.count) {
            const Index len = std::min(p.count - o, kStopBlock - (p.first + o) % kStopBlock);
            std::vector<Piece<State>> one{{p.slot, p.first + o, len, p.offset + o}};
            m.take(one, y);
            s.taken += len;
            o += len;
            if ((s.taken % kStopBlock == 0 || s.taken == s.rows) && m.stop(s.state, s.taken)) {
                s.stopped = true;
                s.skipped += p.count - o;
                break;
            }
        }
        taken.push_back({p.slot, p.first, o, p.offset});  // rows past a stop are never looked at
    }
    return taken;
}

// Cheap screen, then (only when it fails) the full scan in batch order, so the first bad row of
// the lowest point is the one reported, whatever the threads.
template <class M, class State>
void check_batch(const M& m, const std::vector<Piece<State>>& taken, const ModelOutput& y,
                 const DriverOptions& opt) {
    bool ok = true;
    for (const Piece<State>& p : taken) {
        if (y.values)
            ok = ok && std::all_of(y.values + p.offset, y.values + p.offset + p.count,
                                   [](double v) { return std::isfinite(v); });
        if (p.point() >= 0) ok = ok && m.finite(p.state());
    }
    if (ok) return;
    const Index d = m.dim();
    for (const Piece<State>& p : taken) {
        const double* g = p.point() >= 0 && y.gradients ? y.gradients + p.offset * d : nullptr;
        const double* v = y.values ? y.values + p.offset : nullptr;
        check_block<double>(v, g, p.count, d, d, false, [&](Index r) {
            return p.point() < 0 ? m.where_prologue(p.first + r)
                                 : m.where(opt.point_offset + static_cast<std::uint64_t>(p.point()),
                                           p.first + r);
        });
    }
}

}  // namespace driver_detail

template <class M>
void run_batched(const M& m, BatchModel& model, Index N, const DriverOptions& opt, Progress& progress) {
    using State = typename M::State;
    using Slot = PointSlot<State>;
    using Batch = driver_detail::Batch<State>;
    const Index d = m.dim(), R = m.rows_per_point();
    const Index kept = kept_bytes_per_point(opt, Executor::Batched, R);
    std::deque<Slot> inflight;  // references stay valid across push_back and front erase
    if (m.prologue_rows() > 0) inflight.emplace_back().rows = m.prologue_rows();
    Index next_point = 0;

    auto plan = [&](int buffer) {
        Batch b;
        b.slot = buffer;
        auto add = [&](Slot& s) {
            const Index k = std::min(opt.batch_rows - b.m, s.rows - s.planned);
            if (k <= 0 || s.stopped) return;
            b.pieces.push_back({&s, s.planned, k, b.m});
            s.planned += k;
            b.m += k;
        };
        for (Slot& s : inflight) add(s);
        while (b.m < opt.batch_rows && next_point < N) {
            Slot& s = inflight.emplace_back();
            s.point = next_point++;
            s.rows = R;
            m.begin(s.state, s.point, false, kept);
            add(s);
        }
        if (b.m > 0) b.inputs = model.input_buffer(buffer, b.m, d);
        return b;
    };

    Batch current = plan(0);
    driver_detail::fill_batch(m, current);
    BackgroundWorker drawer;
    while (current.m > 0) {
        // The next batch is drawn while the model evaluates this one (the model call holds the GIL
        // and often one core); both write disjoint memory. The drawing is waited for on every way
        // out of this iteration, an exception included, before `next` and `shared` go away.
        Batch next = plan(1 - current.slot);
        std::optional<driver_detail::SharedFill<M, State>> shared;
        struct PendingDraw {
            BackgroundWorker* worker = nullptr;
            ~PendingDraw() {
                if (worker) worker->wait_quietly();
            }
        } pending;
        if (next.m > 0) {
            shared.emplace(m, next);
            drawer.submit([&shared] { shared->work(); });
            pending.worker = &drawer;
        }
        const ModelOutput y = driver_detail::evaluate_batch(m, model, current);
        const std::vector<Piece<State>> taken = driver_detail::take_batch(m, current, y);
        driver_detail::check_batch(m, taken, y, opt);
        finalize_front(
            inflight, [](const Slot& s) { return s.done(); },
            [&](Slot& s, bool parallel) {
                if (s.point < 0) return;
                m.finalize(s.state, s.point, s.taken, parallel);
                progress.point_done();
            });
        model.check_interrupt();
        progress.report();
        if (shared) shared->work();
        if (pending.worker) std::exchange(pending.worker, nullptr)->wait();
        current = std::move(next);
    }
}

}  // namespace gradlime
