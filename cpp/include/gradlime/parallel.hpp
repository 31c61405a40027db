// A parallel loop that never lets an exception escape an OpenMP region (which would abort the
// interpreter): the first exception is captured and rethrown after the loop.
#pragma once

#include <algorithm>
#include <deque>
#include <exception>

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

// Runs body(i, first, rows) over the fixed chunks [first, first + rows) of n rows, `wave`
// chunks at a time (in parallel when asked), then merge(i) in chunk order, then after_wave().
// The chunking and the merge order are part of the arithmetic: they never depend on threads.
template <class Body, class Merge, class AfterWave>
void for_each_chunk_in_waves(Index n, Index chunk_rows, Index wave, bool parallel, Body&& body, Merge&& merge,
                             AfterWave&& after_wave) {
    const Index chunks = (n + chunk_rows - 1) / chunk_rows;
    for (Index w0 = 0; w0 < chunks; w0 += wave) {
        const Index wn = std::min(wave, chunks - w0);
        parallel_for(wn, [&](Index i) {
            const Index first = (w0 + i) * chunk_rows;
            body(i, first, std::min(chunk_rows, n - first));
        }, parallel);
        for (Index i = 0; i < wn; ++i) merge(i);
        after_wave();
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
