#include "gradlime/engine.hpp"

#include <Eigen/Cholesky>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <deque>
#include <limits>
#include <optional>
#include <utility>
#include <stdexcept>
#include <string>
#include <vector>

#include "gradlime/accumulators.hpp"
#include "gradlime/least_squares.hpp"
#include "gradlime/mlp.hpp"
#include "gradlime/parallel.hpp"
#include "gradlime/rng.hpp"

namespace gradlime {

namespace {

// Fixed work units. They are part of the definition of the arithmetic (which partial sums are
// formed and in which order they are merged), so they must not depend on threads or batch size.
constexpr Index kFillRows = 64;        // rows per task when filling a batch
constexpr Index kColumnBlock = 64;     // gradient coordinates per accumulation task
constexpr Index kChunkRows = 2048;     // samples per finalisation chunk
constexpr Index kWaveChunks = 8;       // chunks whose partial statistics are held at once

struct PointState {
    Index point = 0;
    Index received = 0;
    Vector values;  // f at each of the point's samples (C-LIME and Stein need a second look)
    RowMatrix normals;  // the point's standard normals, when kept (see EngineOptions::kept_normals_bytes)
    GradientMoments gradients;
};

struct Context {
    const RowMatrix& X;
    const NoiseSampler& sampler;
    BatchModel& model;
    const EngineOptions& opt;
    EngineResult& out;
    Index d;
    Index n;
};

void validate(const RowMatrix& X, const NoiseSampler& sampler, const BatchModel& model,
              const EngineOptions& opt) {
    const Index d = X.cols();
    if (X.rows() == 0 || d == 0) throw std::invalid_argument("X must have at least one point and one feature");
    if (X.rows() > static_cast<Index>(std::numeric_limits<std::uint32_t>::max()))
        throw std::invalid_argument("X has more than 2^32 - 1 points; split the call");
    if (!X.allFinite()) throw std::invalid_argument("X contains NaN or inf");
    if (sampler.dim() != d)
        throw std::invalid_argument("the noise has " + std::to_string(sampler.dim()) +
                                    " coordinates but X has " + std::to_string(d) + " features");
    if (!(opt.smoothgrad || opt.clime || opt.stein)) throw std::invalid_argument("no method requested");
    // C-LIME = SmoothGrad and the Stein form rest on Stein's lemma, which is Gaussian (paper 1, Lemma 1).
    if ((opt.clime || opt.stein) && !sampler.is_gaussian())
        throw std::invalid_argument("clime and stein need Gaussian noise; other kernels support the mean gradient only");
    if (opt.n_samples < 2) throw std::invalid_argument("n_samples must be >= 2 (a standard error needs two samples)");
    if (opt.clime && opt.n_samples < d + 2)
        throw std::invalid_argument("clime needs n_samples >= d + 2 = " + std::to_string(d + 2) +
                                    " to fit an intercept and d slopes with a standard error; got " +
                                    std::to_string(opt.n_samples));
    if (!(std::isfinite(opt.ridge) && opt.ridge >= 0.0)) throw std::invalid_argument("ridge must be finite and >= 0");
    if (opt.batch_rows < 1) throw std::invalid_argument("batch_size must be >= 1");
    if (opt.smoothgrad && !model.has_gradient())
        throw std::invalid_argument("smoothgrad needs the model's gradient: pass grad= to gl.Model, or use clime/stein, which need only values");
    if (X.rows() > std::numeric_limits<Index>::max() / opt.n_samples)
        throw std::invalid_argument("N * n_samples overflows");
}

// Point p draws from stream p, or every point from stream 0 (common random numbers).
std::uint32_t stream_of(const Context& c, Index point) {
    return c.opt.common_draws ? 0u : static_cast<std::uint32_t>(point);
}

// A contiguous range [r0, r0 + m) of the row sequence, the points it touches and its buffer.
struct Batch {
    Index r0 = 0, m = 0;
    int slot = 0;
    double* inputs = nullptr;
    std::vector<PointState*> points;  // points[p - first_point]; stable while the batch lives
};

// Perturbed inputs for one block of kFillRows rows of a batch. Touches only the batch's buffer
// and its points' kept normals, so it can run beside the model call and the bookkeeping of the
// previous batch; every row is a pure function of its place in the row sequence.
void fill_block(const Context& c, const Batch& b, Index block) {
    const Index d = c.d, r0 = b.r0, first_point = r0 / c.n;
    const Index t0 = block * kFillRows, t1 = std::min(b.m, t0 + kFillRows);
    RowMatrix scratch;
    Vector eps(d);
    // Rows of one point are consecutive samples: draw each run in one call (short rows share
    // vector lanes), straight into the point's kept normals when it keeps them.
    for (Index t = t0; t < t1;) {
        const Index r = r0 + t, point = r / c.n, sample = r % c.n;
        const Index run = std::min(t1 - t, c.n - sample);
        RowMatrix& kept = b.points[static_cast<size_t>(point - first_point)]->normals;
        double* z = kept.size() ? kept.row(sample).data() : (scratch.resize(run, d), scratch.data());
        c.sampler.draw(c.opt.seed, stream_of(c, point), static_cast<std::uint64_t>(sample), run, z);
        for (Index i = 0; i < run; ++i) {
            c.sampler.perturb(z + i * d, eps.data());
            double* row = b.inputs + (t + i) * d;
            for (Index k = 0; k < d; ++k) row[k] = c.X(point, k) + eps[k];
        }
        t += run;
    }
}

Index fill_blocks(const Batch& b) { return (b.m + kFillRows - 1) / kFillRows; }

void fill_batch(const Context& c, const Batch& b) {
    parallel_for(fill_blocks(b), [&](Index block) { fill_block(c, b, block); });
}

// Blocks of the next batch handed out to whoever asks: a background thread draws while the
// model runs, and the engine's thread joins in once its own bookkeeping is done.
class SharedFill {
public:
    SharedFill(const Context& c, const Batch& b) : c_(c), b_(b), blocks_(fill_blocks(b)) {}
    void work() {
        for (Index i; (i = next_.fetch_add(1)) < blocks_;) fill_block(c_, b_, i);
    }

private:
    const Context& c_;
    const Batch& b_;
    const Index blocks_;
    std::atomic<Index> next_{0};
};

[[noreturn]] void report_non_finite(const Context& c, Index r, const char* what) {
    throw std::invalid_argument("model returned a non-finite " + std::string(what) + " at point " +
                                std::to_string(r / c.n) + " (perturbation sample " +
                                std::to_string(r % c.n) + ")");
}

// First row (in row order) with a non-finite value or gradient; the same row whatever the threads.
// A full pass over the batch, run only when the cheap screen below finds something.
void check_finite(const Context& c, Index r0, Index m, const ModelOutput& y) {
    const Index blocks = (m + kFillRows - 1) / kFillRows;
    std::vector<Index> first_bad(static_cast<size_t>(blocks), m);
    std::vector<char> bad_is_gradient(static_cast<size_t>(blocks), 0);
    parallel_for(blocks, [&](Index b) {
        const Index t1 = std::min(m, (b + 1) * kFillRows);
        for (Index t = b * kFillRows; t < t1; ++t) {
            if (y.values && !std::isfinite(y.values[t])) {
                first_bad[b] = t;
                return;
            }
            if (y.gradients) {
                const double* g = y.gradients + t * c.d;
                for (Index k = 0; k < c.d; ++k) {
                    if (!std::isfinite(g[k])) {
                        first_bad[b] = t;
                        bad_is_gradient[b] = 1;
                        return;
                    }
                }
            }
        }
    });
    for (Index b = 0; b < blocks; ++b)
        if (first_bad[b] < m) report_non_finite(c, r0 + first_bad[b], bad_is_gradient[b] ? "gradient" : "value");
}

// Cheap screen of a batch: the values themselves, and for gradients the running sums of the
// points they went into, which turn non-finite as soon as one gradient is (saving a pass over
// m * d numbers). A false alarm (a sum overflowing) only costs the full scan.
bool looks_finite(const Context& c, const std::deque<PointState>& inflight, Index r0, Index m,
                  const ModelOutput& y) {
    if (y.values && !std::all_of(y.values, y.values + m, [](double v) { return std::isfinite(v); }))
        return false;
    if (!y.gradients) return true;
    for (const PointState& s : inflight)
        if (s.point * c.n < r0 + m && (s.point + 1) * c.n > r0 && !s.gradients.finite()) return false;
    return true;
}

// Hand the batch's values and gradients to the points they belong to. Each point's rows are fed
// in sample order; gradient coordinates are independent, so column blocks run in parallel.
void scatter(const Context& c, std::deque<PointState>& inflight, Index r0, Index m, const ModelOutput& y) {
    struct Segment {
        PointState* state;
        Index offset, rows;
    };
    std::vector<Segment> segments;
    for (PointState& s : inflight) {
        const Index first = s.point * c.n, last = first + c.n;
        const Index lo = std::max(first, r0), hi = std::min(last, r0 + m);
        if (lo < hi) segments.push_back({&s, lo - r0, hi - lo});
    }
    if (y.values) {
        for (const Segment& seg : segments)
            std::copy(y.values + seg.offset, y.values + seg.offset + seg.rows,
                      seg.state->values.data() + seg.state->received);
    }
    if (y.gradients) {
        const Index col_blocks = (c.d + kColumnBlock - 1) / kColumnBlock;
        const Index tasks = static_cast<Index>(segments.size()) * col_blocks;
        parallel_for(tasks, [&](Index task) {
            const Segment& seg = segments[static_cast<size_t>(task / col_blocks)];
            const Index c0 = (task % col_blocks) * kColumnBlock, c1 = std::min(c.d, c0 + kColumnBlock);
            seg.state->gradients.add_columns(y.gradients + seg.offset * c.d, seg.rows, c.d, c0, c1);
        });
        for (const Segment& seg : segments) seg.state->gradients.finish_rows(seg.rows);
    }
    for (const Segment& seg : segments) seg.state->received += seg.rows;
}

// Runs body(chunk, first_row, rows) for every finalisation chunk of a point, kWaveChunks at a time,
// then merge(chunk) in chunk order.
template <class Body, class Merge>
void for_each_chunk(const Context& c, bool parallel, Body&& body, Merge&& merge) {
    for_each_chunk_in_waves(c.n, kChunkRows, kWaveChunks, parallel, body, merge, [&] {
        if (parallel) c.model.check_interrupt();  // only the engine's thread may take the GIL
    });
}

// Standard normals of samples [first, first + rows) of a point: kept or drawn again.
void point_normals(const Context& c, const PointState& s, Index first, Index rows, RowMatrix& Z) {
    if (s.normals.size()) {
        Z = s.normals.middleRows(first, rows);
    } else {
        gaussian_rows(c.opt.seed, stream_of(c, s.point), static_cast<std::uint64_t>(first), rows,
                      c.d, Z);
    }
}

void finalize_point(const Context& c, PointState& s, bool parallel) {
    const Index p = s.point, d = c.d, n = c.n;
    const double nd = static_cast<double>(n);
    if (c.opt.smoothgrad) {
        c.out.smoothgrad.values.row(p) = s.gradients.mean().transpose();
        c.out.smoothgrad.stderr_.row(p) = s.gradients.stderr_of_mean().transpose();
    }
    if (!(c.opt.clime || c.opt.stein)) return;

    const double fbar = s.values.mean();
    // C-LIME reads kept normals in place, others from Z (drawn there unless Stein did).
    auto clime_normals = [&](Index first, Index rows, RowMatrix& Z) -> const double* {
        if (Z.size()) return Z.data();
        if (s.normals.size()) return s.normals.row(first).data();
        point_normals(c, s, first, rows, Z);
        return Z.data();
    };
    LeastSquaresSums cross;
    ColumnMoments dual;
    std::vector<LeastSquaresSums> cross_part(kWaveChunks);
    std::vector<ColumnMoments> dual_part(kWaveChunks);
    for_each_chunk(c, parallel,
        [&](Index i, Index first, Index rows) {
            RowMatrix Z, E;
            if (c.opt.stein) point_normals(c, s, first, rows, Z);
            const auto f = s.values.segment(first, rows);
            if (c.opt.clime)
                cross_part[static_cast<size_t>(i)] =
                    LeastSquaresSums::of_rows(clime_normals(first, rows, Z), f.data(), rows, d, fbar);
            if (c.opt.stein) {
                // Sigma^-1 (a - x)(f(a) - mean f): the Stein form of E[grad f] (paper 1, Lemma 1/2).
                c.sampler.dual_rows(Z, E);
                E.array().colwise() *= (f.array() - fbar);
                dual_part[static_cast<size_t>(i)] = ColumnMoments::of_block(E);
            }
        },
        [&](Index i) {
            if (c.opt.clime) cross.merge(cross_part[static_cast<size_t>(i)]);
            if (c.opt.stein) dual.merge(dual_part[static_cast<size_t>(i)]);
        });

    if (c.opt.stein) {
        // Dividing by n - 1 makes the estimate unbiased: centring by the sample mean of f shrinks
        // E[(a - x)(f - mean f)] by (n - 1) / n.
        const double scale = nd / (nd - 1.0);
        c.out.stein.values.row(p) = (dual.mean * scale).transpose();
        c.out.stein.stderr_.row(p) = ((dual.m2 / ((nd - 1.0) * nd)).cwiseSqrt() * scale).transpose();
    }
    if (!c.opt.clime) return;

    // Least squares of f on [1, a - x] with an unpenalised intercept and HC1 standard errors,
    // summed in z space (least_squares.hpp).
    const GaussianLeastSquares fit(cross, c.sampler, c.opt.ridge, fbar);
    if (!fit.solved())
        throw std::invalid_argument("clime: the perturbation design is singular at point " + std::to_string(p) +
                                    "; use more samples or ridge > 0");
    c.out.clime.values.row(p) = fit.slopes().transpose();
    Matrix meat = Matrix::Zero(d, d);
    std::vector<Matrix> meat_part(kWaveChunks);
    for_each_chunk(c, parallel,
        [&](Index i, Index first, Index rows) {
            RowMatrix Z;
            meat_part[static_cast<size_t>(i)] =
                fit.meat_of_rows(clime_normals(first, rows, Z), s.values.data() + first, rows);
        },
        [&](Index i) { meat += meat_part[static_cast<size_t>(i)]; });
    c.out.clime.stderr_.row(p) = fit.stderr_of(meat).transpose();
}

// A native network, fused: each point's samples go through drawing, the network and the
// accumulators block by block (kNetworkBlock rows, feature-major float32) on one thread, then the
// point is finalised there; points run in parallel. The draws, the network's per-row arithmetic,
// the order of the sums and the finalisation are the batched path's, so the bits are too; it
// only skips the batch buffers, their transposes and the hand-overs between threads.
void run_fused(const Context& c, const NetworkModel& model) {
    const FeedForwardNetwork& net = model.network();
    const Index N = c.X.rows(), d = c.d, n = c.n, B = kNetworkBlock;
    const bool want_values = c.opt.clime || c.opt.stein, want_gradients = c.opt.smoothgrad;
    // One point in flight per thread: the kept-normals budget is shared between them.
    const bool keep_normals =
        want_values && n * d * Index(sizeof(double)) * max_threads() <= c.opt.kept_normals_bytes;
    const bool diagonal = c.sampler.is_gaussian() && c.sampler.is_diagonal();
    for_each_point_in_waves(N, n, [&] { c.model.check_interrupt(); }, [&](Index p, Interruption& interruption) {
        thread_local RowMatrix Z;
        thread_local Vector eps;
        thread_local std::vector<float> x, y, g;
        Z.resize(diagonal ? d : B, diagonal ? B : d);  // drawn feature-major when diagonal
        eps.resize(d);
        x.assign(static_cast<size_t>(d * B), 0.0f);  // lanes past a short last block stay 0
        y.resize(static_cast<size_t>(B));
        g.resize(static_cast<size_t>(d * B));
        PointState s;
        s.point = p;
        if (want_values) s.values.resize(n);
        if (keep_normals) s.normals.resize(n, d);
        if (want_gradients) s.gradients = GradientMoments(d);
        for (Index s0 = 0; s0 < n; s0 += B) {
            if (interruption.poll()) return;
            const Index rows = std::min(B, n - s0);
            const auto first = static_cast<std::uint64_t>(s0);
            if (diagonal) {  // x + s_k z_k, the perturb() arithmetic, a column at a time
                gaussian_columns(c.opt.seed, stream_of(c, p), first, rows, d, Z.data(), B);
                const Vector& scale = c.sampler.scale();
                for (Index k = 0; k < d; ++k) {
                    const double xk = c.X(p, k), sk = scale[k];
                    const double* z = Z.data() + k * B;
                    float* xcol = x.data() + k * B;
                    for (Index r = 0; r < rows; ++r) xcol[r] = static_cast<float>(xk + sk * z[r]);
                }
                if (keep_normals) s.normals.middleRows(s0, rows) = Z.leftCols(rows).transpose();
            } else {
                c.sampler.draw(c.opt.seed, stream_of(c, p), first, rows, Z.data());
                for (Index r = 0; r < rows; ++r) {
                    c.sampler.perturb(Z.row(r).data(), eps.data());
                    for (Index k = 0; k < d; ++k)
                        x[static_cast<size_t>(k * B + r)] = static_cast<float>(c.X(p, k) + eps[k]);
                }
                if (keep_normals) s.normals.middleRows(s0, rows) = Z.topRows(rows);
            }
            net.evaluate_block(x.data(), model.target(), y.data(), want_gradients ? g.data() : nullptr);
            bool finite = true;
            if (want_values) {
                for (Index r = 0; r < rows; ++r) {
                    const double v = static_cast<double>(y[static_cast<size_t>(r)]);
                    finite = finite && std::isfinite(v);
                    s.values[s0 + r] = v;
                }
            }
            if (want_gradients) finite = s.gradients.add_feature_major(g.data(), B, rows) && finite;
            if (!finite) {  // the first row with a non-finite value or gradient, as check_finite
                for (Index r = 0; r < rows; ++r) {
                    const bool bad_value = want_values && !std::isfinite(y[static_cast<size_t>(r)]);
                    bool bad_gradient = false;
                    for (Index k = 0; want_gradients && k < d; ++k)
                        bad_gradient = bad_gradient || !std::isfinite(g[static_cast<size_t>(k * B + r)]);
                    if (bad_value || bad_gradient)
                        report_non_finite(c, p * n + s0 + r, bad_value ? "value" : "gradient");
                }
            }
        }
        s.received = n;
        finalize_point(c, s, false);
    });
}

void finalize_completed(const Context& c, std::deque<PointState>& inflight) {
    finalize_front(
        inflight, [&](const PointState& s) { return s.received == c.n; },
        [&](PointState& s, bool parallel) { finalize_point(c, s, parallel); });
}

}  // namespace

void gaussian_rows(std::uint64_t seed, std::uint32_t stream, std::uint64_t first, Index m, Index d,
                   RowMatrix& Z) {
    Z.resize(m, d);
    gaussian_rows(seed, stream, first, m, d, Z.data(), d);
}

EngineResult run_engine(const RowMatrix& X, const NoiseSampler& sampler, BatchModel& model,
                        const EngineOptions& opt) {
    validate(X, sampler, model, opt);
    const Index N = X.rows(), d = X.cols(), n = opt.n_samples;
    EngineResult out;  // methods not asked for stay empty
    if (opt.smoothgrad) out.smoothgrad = {RowMatrix::Zero(N, d), RowMatrix::Zero(N, d)};
    if (opt.clime) out.clime = {RowMatrix::Zero(N, d), RowMatrix::Zero(N, d)};
    if (opt.stein) out.stein = {RowMatrix::Zero(N, d), RowMatrix::Zero(N, d)};
    const Context c{X, sampler, model, opt, out, d, n};
    const bool want_values = opt.clime || opt.stein;

    const NetworkModel* network = model.as_network();
    if (network && opt.fused_network && N >= max_threads()) {
        run_fused(c, *network);
        return out;
    }

    const Index total = N * n;
    std::deque<PointState> inflight;  // references stay valid across push_back and front erase
    Index next_point = 0;
    auto plan = [&](Index r0, int slot) {
        Batch b;
        b.r0 = r0;
        b.m = std::min(opt.batch_rows, total - r0);
        b.slot = slot;
        for (const Index last_point = (r0 + b.m - 1) / n; next_point <= last_point; ++next_point) {
            PointState& s = inflight.emplace_back();
            s.point = next_point;
            if (want_values) s.values.resize(n);
            if (want_values && n * d * Index(sizeof(double)) <= opt.kept_normals_bytes) s.normals.resize(n, d);
            if (opt.smoothgrad) s.gradients = GradientMoments(d);
        }
        for (Index p = r0 / n; p <= (r0 + b.m - 1) / n; ++p)
            b.points.push_back(&inflight[static_cast<size_t>(p - inflight.front().point)]);
        b.inputs = model.input_buffer(slot, b.m, d);
        return b;
    };

    Batch current = plan(0, 0);
    fill_batch(c, current);
    BackgroundWorker drawer;
    while (current.m > 0) {
        // Draw the next batch while the model evaluates this one (the model call holds the GIL
        // and often one core); both write disjoint memory.
        Batch next;
        std::optional<SharedFill> shared;
        // The drawing is waited for on every way out of this iteration, an exception included,
        // before `next` and `shared` go away.
        struct PendingDraw {
            BackgroundWorker* worker = nullptr;
            ~PendingDraw() {
                if (worker) worker->wait_quietly();
            }
        } pending;
        if (current.r0 + current.m < total) {
            next = plan(current.r0 + current.m, 1 - current.slot);
            shared.emplace(c, next);
            drawer.submit([&shared] { shared->work(); });
            pending.worker = &drawer;
        }
        ModelOutput y = model.evaluate(current.slot, current.m, d, want_values, opt.smoothgrad);
        if (!want_values) y.values = nullptr;  // a model may return more than was asked for
        if (!opt.smoothgrad) y.gradients = nullptr;
        scatter(c, inflight, current.r0, current.m, y);
        if (!looks_finite(c, inflight, current.r0, current.m, y)) check_finite(c, current.r0, current.m, y);
        finalize_completed(c, inflight);
        model.check_interrupt();
        if (shared) shared->work();
        if (pending.worker) std::exchange(pending.worker, nullptr)->wait();
        current = std::move(next);
    }
    return out;
}

}  // namespace gradlime
