// The driver's executors (see driver.hpp): batched, fused and the host reference backend, and
// run_driver, which picks one. Included by driver.hpp.
#pragma once

#include <algorithm>
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

// The prologue on its own, in batches (the fused and host executors; the batched one folds it into
// its first batches).
template <class M>
void run_prologue(const M& m, BatchModel& model, Index batch_rows) {
    const Index P = m.prologue_rows(), d = m.dim();
    for (Index r0 = 0; r0 < P; r0 += batch_rows) {
        const Index k = std::min(batch_rows, P - r0);
        m.fill_prologue(r0, k, model.input_buffer(0, k, d));
        const double* y = model.evaluate(0, k, d, true, false).values;
        check_block<double>(y, nullptr, k, d, d, false, [&](Index r) { return m.where_prologue(r0 + r); });
        m.take_prologue(r0, k, y);
        model.check_interrupt();
    }
}

template <class M>
std::function<std::string(Index)> where_in(const M& m, const typename M::State& s, Index point, Index r0,
                                           const DriverOptions& opt) {
    return [&m, &s, point, r0, &opt](Index r) {
        return m.where(opt.point_offset + static_cast<std::uint64_t>(point), m.batched_row(s, r0 + r));
    };
}

// One point's rows, block by block through a native network, then its finalisation.
template <class M>
void run_point_fused(const M& m, const NetworkModel& net, Index p, Index kept, const DriverOptions& opt,
                     Interruption* interruption) {
    using State = typename M::State;
    const Index d = m.dim(), B = kNetworkBlock;
    thread_local std::vector<float> x, y, g;
    x.assign(static_cast<size_t>(d * B), 0.0f);  // lanes past a short last block stay finite
    y.resize(static_cast<size_t>(B));
    g.resize(static_cast<size_t>(m.gradients() ? d * B : 0));
    float* gp = m.gradients() ? g.data() : nullptr;
    State s;
    m.begin(s, p, true, kept);
    const Index rows = m.fused_rows(s);
    Index taken = 0;
    for (Index r0 = 0; r0 < rows; r0 += B) {
        if (interruption && interruption->poll()) return;
        const Index k = std::min(B, rows - r0);
        m.fill_block(s, p, r0, k, x.data());
        net.network().evaluate_block(x.data(), net.target(), y.data(), gp);
        if (!m.take_block(s, p, r0, k, y.data(), gp))
            check_block<float>(m.values() ? y.data() : nullptr, gp, k, d, B, true, where_in(m, s, p, r0, opt));
        taken = r0 + k;
        if (m.stops() && m.stop(s, taken)) break;
    }
    m.finalize(s, p, taken, false);
}

// One point's rows in blocks of kStopBlock through a batch model (the host backend on a callable).
template <class M>
void run_point_rows(const M& m, BatchModel& model, Index p, Index kept, const DriverOptions& opt) {
    using State = typename M::State;
    const Index d = m.dim(), R = m.rows_per_point();
    PointSlot<State> slot;
    slot.point = p;
    slot.rows = R;
    m.begin(slot.state, p, false, kept);
    for (Index r0 = 0; r0 < R && !slot.stopped; r0 += kStopBlock) {
        const Index k = std::min(kStopBlock, R - r0);
        m.fill(slot.state, p, r0, k, model.input_buffer(0, k, d));
        ModelOutput y = model.evaluate(0, k, d, m.values(), m.gradients());
        if (!m.values()) y.values = nullptr;
        if (!m.gradients()) y.gradients = nullptr;
        std::vector<Piece<State>> piece{{&slot, r0, k, 0}};
        m.take(piece, y);
        slot.taken = r0 + k;
        if (!m.finite(slot.state) || (y.values && !std::all_of(y.values, y.values + k, [](double v) {
                                          return std::isfinite(v);
                                      })))
            check_block<double>(y.values, y.gradients, k, d, d, false, [&](Index r) {
                return m.where(opt.point_offset + static_cast<std::uint64_t>(p), r0 + r);
            });
        slot.stopped = m.stops() && m.stop(slot.state, slot.taken);
        model.check_interrupt();
    }
    m.finalize(slot.state, p, slot.taken, false);
}

template <class M>
void run_fused(const M& m, BatchModel& model, Index N, const DriverOptions& opt, Progress& progress) {
    const NetworkModel& net = *model.as_network();
    run_prologue(m, model, opt.batch_rows);
    const Index kept = kept_bytes_per_point(opt, Executor::Fused, m.rows_per_point());
    for_each_point_in_waves(
        N, m.rows_per_point(),
        [&] {
            model.check_interrupt();
            progress.report();
        },
        [&](Index p, Interruption& interruption) {
            run_point_fused(m, net, p, kept, opt, &interruption);
            progress.point_done();
        });
}

// The reference backend: every point on the calling thread, one after the other.
template <class M>
void run_host(const M& m, BatchModel& model, Index N, const DriverOptions& opt, Progress& progress) {
    run_prologue(m, model, opt.batch_rows);
    const Index kept = kept_bytes_per_point(opt, Executor::Host, m.rows_per_point());
    for (Index p = 0; p < N; ++p) {
        if (const NetworkModel* net = model.as_network()) {
            run_point_fused(m, *net, p, kept, opt, nullptr);
        } else {
            run_point_rows(m, model, p, kept, opt);
        }
        progress.point_done();
        model.check_interrupt();
        progress.report();
    }
}

}  // namespace driver_detail

template <class M>
void run_batched(const M& m, BatchModel& model, Index N, const DriverOptions& opt, Progress& progress);

// Runs method m over points [0, N): the one entry point of every sampling method.
template <class M>
void run_driver(const M& m, BatchModel& model, Index N, const DriverOptions& opt) {
    Progress progress(opt, N);
    switch (choose_executor(model, opt, N)) {
        case Executor::Fused: driver_detail::run_fused(m, model, N, opt, progress); break;
        case Executor::Host: driver_detail::run_host(m, model, N, opt, progress); break;
        case Executor::Batched: run_batched(m, model, N, opt, progress); break;
    }
    progress.finish();
}

}  // namespace gradlime

#include "gradlime/driver_batched.hpp"
