// The driver's fused executor and host reference backend (see driver.hpp), and run_driver, which
// picks an executor. Included by driver.hpp, after the batched executor.
#pragma once

namespace gradlime {

namespace driver_detail {

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

// One slot (the prologue, or a point) alone on the calling thread, `block` rows per model call:
// the fused and host executors' prologue, and the host executor's points on a callable.
template <class M, class State>
void run_slot_alone(const M& m, BatchModel& model, PointSlot<State>& slot, Index block, const DriverOptions& opt) {
    while (slot.planned < slot.rows && !slot.stopped) {
        Batch<State> b;
        b.m = std::min(block, slot.rows - slot.planned);
        b.inputs = model.input_buffer(0, b.m, m.dim());
        b.pieces.push_back({&slot, slot.planned, b.m, 0});
        slot.planned += b.m;
        fill_batch(m, b);
        const ModelOutput y = evaluate_batch(m, model, b);
        check_batch(m, take_batch(m, b, y), y, opt);
        model.check_interrupt();
    }
}

template <class M>
void run_prologue(const M& m, BatchModel& model, const DriverOptions& opt) {
    PointSlot<typename M::State> prologue;
    prologue.rows = m.prologue_rows();
    run_slot_alone(m, model, prologue, opt.batch_rows, opt);
}

template <class M>
void run_fused(const M& m, BatchModel& model, Index N, const DriverOptions& opt, Progress& progress) {
    const NetworkModel& net = *model.as_network();
    run_prologue(m, model, opt);
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
    run_prologue(m, model, opt);
    const Index kept = kept_bytes_per_point(opt, Executor::Host, m.rows_per_point());
    for (Index p = 0; p < N; ++p) {
        if (const NetworkModel* net = model.as_network()) {
            run_point_fused(m, *net, p, kept, opt, nullptr);
        } else {
            PointSlot<typename M::State> slot;
            slot.point = p;
            slot.rows = m.rows_per_point();
            m.begin(slot.state, p, false, kept);
            run_slot_alone(m, model, slot, kStopBlock, opt);
            m.finalize(slot.state, p, slot.taken, false);
        }
        progress.point_done();
        model.check_interrupt();
        progress.report();
    }
}

}  // namespace driver_detail

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
