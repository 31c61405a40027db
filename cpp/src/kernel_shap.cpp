#include "gradlime/shap.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>

#include "gradlime/device/estimates.hpp"
#include "gradlime/mlp.hpp"
#include "gradlime/parallel.hpp"
#include "gradlime/rng/masks.hpp"

namespace gradlime {

namespace {

constexpr Index kChunk = 256;  // coalitions a thread packs at a time

struct PointState {
    Index point = 0;
    double fx = 0.0;
    Vector sums;  // per coalition: sum of f over the background rows, added in row order
    // Sampled mode: the point's coalitions, drawn once when it enters the buffer and packed
    // `words` 64-bit words each (n * ceil(d / 64) words; exact masks are their own index).
    std::vector<std::uint64_t> masks;
    // (No mask repeats: the exact mode's are all distinct, the design's drawn without replacement.)
    std::vector<float> xf;        // fused: the point in float, as the network sees it
    // Adaptive: the design stage the point stopped at (-1: the last) and the last one looked at.
    mutable Index stage = -1, looked = -1;
};

struct Context {
    const RowMatrix& X;
    const RowMatrix& background;
    const ShapleyCoalitions& coalitions;
    BatchModel& model;
    KernelShapResult& out;
    Index d, B, R;  // features, background rows, rows per point (1 + n B)
    Index words;    // 64-bit words per packed mask
    const DriverOptions& driver;
    const std::vector<std::unique_ptr<ShapleyFit>>* fits;  // sampled: each stage's fit, shared by every point
    double stop_tol;          // adaptive: the standard error a point stops at
    std::vector<float> tile;  // fused path: the background, see Shap::fill_block

    // Point p's coalitions come from stream point_offset + p.
    std::uint32_t stream(Index p) const { return point_stream(driver, p); }

    // Mask j of a point as d bytes; returns its weight.
    double unpack(const PointState& s, Index j, std::uint8_t* z) const {
        if (coalitions.exact()) return coalitions.exact_mask(j, z);
        const std::uint64_t* w = s.masks.data() + j * words;
        for (Index i = 0; i < d; ++i) z[i] = static_cast<std::uint8_t>((w[i / 64] >> (i % 64)) & 1u);
        return 1.0;
    }
};


// Draws a point's coalitions once (each is a pure function of (seed, point, index)).
void draw_masks(const Context& c, PointState& s) {
    const Index n = c.coalitions.size();
    s.masks.assign(static_cast<size_t>(n * c.words), 0);
    parallel_for((n + kChunk - 1) / kChunk, [&](Index chunk) {
        const Index first = chunk * kChunk;
        c.coalitions.pack(c.stream(s.point), first, std::min(kChunk, n - first), s.masks.data() + first * c.words);
    });
}

void validate(const RowMatrix& X, const RowMatrix& background) {
    const Index d = X.cols();
    if (background.rows() == 0 || background.cols() != d)
        throw std::invalid_argument("the background must have shape (B, " + std::to_string(d) + ") with B >= 1; got (" +
                                    std::to_string(background.rows()) + ", " + std::to_string(background.cols()) + ")");
    if (!background.allFinite()) throw std::invalid_argument("the baseline contains NaN or inf");
}

// A stage's fit on the point's values so far (reference labels).
void solve_stage(const Context& c, const PointState& s, Index stage, std::vector<double>& phi, std::vector<double>& se) {
    const Index M = c.coalitions.design().stages[static_cast<size_t>(stage)].pairs;
    const double nb = static_cast<double>(c.B), delta = s.fx - c.out.expected_value;
    std::vector<double> h(static_cast<size_t>(M));
    for (Index g = 0; g < M; ++g) h[static_cast<size_t>(g)] = (s.sums(2 * g) - s.sums(2 * g + 1)) / nb;
    phi.resize(static_cast<size_t>(c.d));
    se.resize(static_cast<size_t>(c.d));
    (*c.fits)[static_cast<size_t>(stage)]->solve(h.data(), delta, phi.data(), se.data());
}

// The constrained weighted least squares of one point (sum(phi) = f(x) - E f(b) by construction):
// the sampled design's stage fit (shapley_design.hpp), or the exact mode's (shap.hpp).
void finalize_point(const Context& c, PointState& s, bool parallel) {
    const Index d = c.d, p = s.point;
    const double v0 = c.out.expected_value, delta = s.fx - v0, nb = static_cast<double>(c.B);
    c.out.fx(p) = s.fx;
    if (d == 1) {
        c.out.values(p, 0) = delta;
        c.out.stderr_(p, 0) = 0.0;
        return;
    }
    if (!c.coalitions.exact()) {  // the stage's fit, in the point's relabelled features
        const Index stage = s.stage >= 0 ? s.stage : static_cast<Index>(c.fits->size()) - 1;
        std::vector<double> phi(static_cast<size_t>(d)), se(static_cast<size_t>(d));
        solve_stage(c, s, stage, phi, se);
        c.out.samples[static_cast<size_t>(p)] = 2 * c.coalitions.design().stages[static_cast<size_t>(stage)].pairs;
        std::vector<Index> perm;
        c.coalitions.permutation(c.stream(p), perm);
        for (Index i = 0; i < d; ++i) {
            c.out.values(p, perm[static_cast<size_t>(i)]) = phi[static_cast<size_t>(i)];
            c.out.stderr_(p, perm[static_cast<size_t>(i)]) = se[static_cast<size_t>(i)];
        }
        return;
    }
    std::vector<double> phi(static_cast<size_t>(d));
    exact_shapley_values(c.coalitions, s.sums, nb, v0, delta, parallel, [&] {
        if (parallel) c.model.check_interrupt();  // only the engine's thread may take the GIL
    }, phi.data());
    c.out.values.row(p) = Eigen::Map<const Vector>(phi.data(), d).transpose();
    c.out.stderr_.row(p).setZero();  // exact: the Shapley values themselves
}

// KernelSHAP's parts for the streaming driver (driver.hpp). The row sequence is
//   [B background rows, once: E f(b)] then per point [x, coalition 0 x B rows, coalition 1 ...];
// the fused path's rows are the same, filled straight into the network's blocks.
class Shap : public MethodParts {
public:
    using State = PointState;
    explicit Shap(Context& c) : c_(c) {}
    Index dim() const { return c_.d; }
    Index rows_per_point() const { return c_.R; }
    bool values() const { return true; }
    bool gradients() const { return false; }

    Index prologue_rows() const { return c_.B; }
    void fill_prologue(Index first, Index count, double* rows) const {
        for (Index t = 0; t < count; ++t) std::copy_n(c_.background.row(first + t).data(), c_.d, rows + t * c_.d);
    }
    void take_prologue(Index first, Index count, const double* y) const {
        for (Index t = 0; t < count; ++t) background_sum_ += y[t];  // in row order
        if (first + count == c_.B) c_.out.expected_value = background_sum_ / static_cast<double>(c_.B);
    }
    std::string where_prologue(Index row) const { return "background row " + std::to_string(row); }
    std::string where(std::uint64_t point, Index k) const {
        const std::string at = k == 0 ? "the point itself"
                                      : "coalition " + std::to_string((k - 1) / c_.B) + ", background row " +
                                            std::to_string((k - 1) % c_.B);
        return "point " + std::to_string(point) + " (" + at + ")";
    }

    // Sampled coalitions are drawn once, when the point starts (each a pure function of
    // (seed, point, index)).
    void begin(State& s, Index point, bool fused, Index) const {
        s.point = point;
        s.sums = Vector::Zero(c_.coalitions.size());
        if (fused)
            for (Index k = 0; k < c_.d; ++k) s.xf.push_back(static_cast<float>(c_.X(point, k)));
        if (!c_.coalitions.exact()) draw_masks(c_, s);
    }

    // Row k of a point: x itself (k = 0), else background row b = (k - 1) mod B of coalition
    // j = (k - 1) / B, (j, b) stepped row by row without a division.
    void fill(State& s, Index point, Index first, Index count, double* rows) const {
        const Index d = c_.d, B = c_.B;
        thread_local std::vector<std::uint8_t> z;
        z.resize(static_cast<size_t>(d));
        const double* x = c_.X.row(point).data();
        Index t = 0;
        if (first == 0 && count > 0) std::copy_n(x, d, rows), t = 1;
        Index j = (first + t - 1) / B, b = (first + t - 1) % B, unpacked = -1;
        for (; t < count; ++t) {
            if (j != unpacked) {  // rows of one coalition are consecutive
                c_.unpack(s, j, z.data());
                unpacked = j;
            }
            const double* bg = c_.background.row(b).data();
            double* row = rows + t * d;
            for (Index i = 0; i < d; ++i) row[i] = z[static_cast<size_t>(i)] ? x[i] : bg[i];
            if (++b == B) b = 0, ++j;
        }
    }

    // Rows in sequence order, so every sum is formed in the same order for any batch size.
    void take(std::vector<Piece<State>>& pieces, const ModelOutput& y) const {
        for (const Piece<State>& p : pieces) {
            State& s = p.state();
            const double* v = y.values + p.offset;
            Index t = 0;
            if (p.first == 0 && p.count > 0) s.fx = v[0], t = 1;
            for (Index j = (p.first + t - 1) / c_.B, b = (p.first + t - 1) % c_.B; t < p.count; ++t) {
                s.sums(j) += v[t];
                if (++b == c_.B) b = 0, ++j;
            }
        }
    }
    bool finite(const State&) const { return true; }

    // The fused path's rows are the batched path's (no coalition repeats to skip).
    Index fused_rows(State&) const { return c_.R; }

    // Lane r of the block is fused row first + r. Coalition rows are packed back to back (one may
    // straddle two blocks): lane r holds background row (q0 + r) mod B, a contiguous run of the
    // tile from q0 mod B, then x over the features in each coalition's lanes (an exact mask is its
    // index plus one; d <= 62 there, one word). Lane 0 of the first block is x itself.
    void fill_block(State& s, Index, Index first, Index count, float* x) const {
        const Index d = c_.d, B = c_.B, L = kNetworkBlock, T = B + L;
        const Index o = first == 0 ? 1 : 0, q0 = first + o - 1;
        for (Index k = 0; k < d; ++k) {
            std::copy_n(c_.tile.data() + k * T + q0 % B, L - o, x + k * L + o);
            if (o) x[k * L] = s.xf[static_cast<size_t>(k)];
        }
        const bool exact = c_.coalitions.exact();
        for (Index r = o, j = q0 / B, b = q0 % B; r < count;) {
            const Index len = std::min(B - b, count - r);
            const std::uint64_t own = static_cast<std::uint64_t>(j) + 1;
            const std::uint64_t* w = exact ? &own : s.masks.data() + j * c_.words;
            for (Index wi = 0; wi < c_.words; ++wi)
                for (std::uint64_t bits = w[wi]; bits; bits &= bits - 1) {
                    const Index k = wi * 64 + __builtin_ctzll(bits);
                    std::fill_n(x + k * L + r, len, s.xf[static_cast<size_t>(k)]);
                }
            r += len;
            if ((b += len) == B) b = 0, ++j;
        }
    }

    // Values added to the coalitions' sums in lane order, which is background-row order, as on the
    // batched path. A sum of finite floats cannot overflow a double: non-finite means a bad lane.
    bool take_block(State& s, Index, Index first, Index count, const float* y, const float*) const {
        Index r = 0;
        if (first == 0) {
            s.fx = static_cast<double>(y[0]);
            if (!std::isfinite(s.fx)) return false;
            r = 1;
        }
        const Index q0 = first + r - 1;
        for (Index j = q0 / c_.B, b = q0 % c_.B; r < count;) {
            const Index len = std::min(c_.B - b, count - r);
            double sum = s.sums(j);
            for (Index t = 0; t < len; ++t) sum += static_cast<double>(y[r + t]);
            s.sums(j) = sum;
            if (!std::isfinite(sum)) return false;
            r += len;
            if ((b += len) == c_.B) b = 0, ++j;
        }
        return true;
    }

    // Adaptive: after the rows of a stage's coalitions are in (a look at every kStopBlock rows
    // sees the latest complete stage once), the stage's fit; its standard errors <= stop_tol stop
    // the point there. Rows past the stage may have been evaluated; they are not used.
    bool stops() const { return c_.stop_tol > 0.0 && c_.fits && c_.fits->size() > 1; }
    bool stop(const State& s, Index taken) const {
        const Index complete = taken > 0 ? (taken - 1) / c_.B : 0;
        const std::vector<ShapleyStage>& stages = c_.coalitions.design().stages;
        Index stage = -1;
        for (Index j = 0; j + 1 < static_cast<Index>(stages.size()); ++j)
            if (2 * stages[static_cast<size_t>(j)].pairs <= complete) stage = j;
        if (stage <= s.looked) return false;
        s.looked = stage;
        std::vector<double> phi, se;
        solve_stage(c_, s, stage, phi, se);
        for (double e : se)
            if (!(e <= c_.stop_tol)) return false;
        s.stage = stage;
        return true;
    }

    void finalize(State& s, Index, Index, bool parallel) const {
        finalize_point(c_, s, parallel);
    }

private:
    Context& c_;
    mutable double background_sum_ = 0.0;
};

// The device seam: the backend evaluates every row (E f(b), f(x), the coalitions' sums over the
// background), the fits are finalize_point's, points in parallel.
void run_on_device(Context& c, const KernelShapOptions& opt) {
    const NetworkModel* native = c.model.as_network();
    device::detail::refuse("kernel_shap of native networks",
                           {{native == nullptr, "a model that is not a native network"}, {opt.stop_tol > 0.0, "tol"}});
    device::SampleJob job;
    job.X = c.X.data();
    job.rows = c.X.rows();
    job.d = c.d;
    job.background = c.background.data();
    job.background_rows = c.B;
    job.n_samples = c.coalitions.size();
    const std::unique_ptr<device::DeviceBackend> backend = device::detail::backend_for(*native, opt.driver);
    c.out.expected_value = device::background_mean(*backend, job);
    const Index n = job.n_samples;
    device::ShapCoalitions coalitions;
    coalitions.exact = c.coalitions.exact();
    coalitions.words = static_cast<int>(c.words);
    if (!coalitions.exact) {
        coalitions.pairs = c.coalitions.design().masks.data();
        coalitions.pair_count = static_cast<Index>(c.coalitions.design().masks.size()) / c.words;
    }
    auto inverse = [&](Index p, std::int32_t* out) {
        std::vector<Index> perm;
        c.coalitions.permutation(c.stream(p), perm);
        for (Index i = 0; i < c.d; ++i) out[perm[static_cast<size_t>(i)]] = static_cast<std::int32_t>(i);
    };
    auto take = [&](Index p0, Index m, const double* fx, const double* sums) {
        parallel_for(m, [&](Index i) {
            PointState s;
            s.point = p0 + i;
            s.fx = fx[i];
            s.sums = Eigen::Map<const Vector>(sums + i * n, n);
            finalize_point(c, s, false);
        });
    };
    device::kernel_shap_sums(*backend, job, coalitions, inverse, take,
                             device::detail::chunk_reporter(c.model, opt.driver, job.rows));
}

}  // namespace

KernelShapResult run_kernel_shap(const RowMatrix& X, const RowMatrix& background, BatchModel& model,
                                 const KernelShapOptions& opt) {
    if (X.rows() == 0 || X.cols() == 0) throw std::invalid_argument("X must have at least one point and one feature");
    validate(X, background);
    const Index N = X.rows(), d = X.cols(), B = background.rows();
    std::vector<Index> budgets = opt.looks;
    budgets.push_back(opt.n_samples);
    for (size_t j = 1; j < budgets.size(); ++j)
        if (budgets[j] <= budgets[j - 1]) throw std::invalid_argument("kernel_shap: the looks must increase below n_samples");
    const ShapleyCoalitions coalitions(d, opt.exact || d == 1, budgets, opt.seed);
    const Index n = coalitions.size();
    constexpr Index kMax = std::numeric_limits<Index>::max();
    if (n > 0 && B > (kMax - 1) / n) throw std::invalid_argument("n_samples * background rows overflows");
    const Index R = 1 + n * B;
    validate_points(X, opt.driver, R, B, model);

    KernelShapResult out;
    out.values = RowMatrix::Zero(N, d);
    out.stderr_ = RowMatrix::Zero(N, d);
    out.fx = Vector::Zero(N);
    std::vector<std::unique_ptr<ShapleyFit>> fits;
    if (!coalitions.exact())
        for (size_t j = 0; j < coalitions.design().stages.size(); ++j) {
            const Index pairs = coalitions.design().stages[j].pairs;
            fits.push_back(std::make_unique<ShapleyFit>(coalitions.design(), static_cast<Index>(j),
                                                        opt.cubic && use_cubic(d, pairs)));
        }
    out.coalitions = n;
    out.cubic = !fits.empty() && fits.back()->terms() > d;
    out.samples.assign(static_cast<size_t>(N), n);
    Context c{X, background, coalitions, model, out, d, B, R, (d + 63) / 64, opt.driver, &fits, opt.stop_tol, {}};
    if (on_device(opt.driver.device)) {
        run_on_device(c, opt);
        return out;
    }
    if (choose_executor(model, opt.driver, N) != Executor::Batched) {
        // The background feature-major in float, each column repeated past its end so that any
        // kNetworkBlock consecutive rows (mod B) from a start b < B are one contiguous run.
        const Index T = B + kNetworkBlock;
        c.tile.resize(static_cast<size_t>(d * T));
        for (Index k = 0; k < d; ++k)
            for (Index t = 0; t < T; ++t) c.tile[static_cast<size_t>(k * T + t)] = static_cast<float>(background(t % B, k));
    }
    run_driver(Shap(c), model, N, opt.driver);
    return out;
}

}  // namespace gradlime
