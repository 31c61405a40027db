#include "gradlime/lime.hpp"

#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "gradlime/accumulators.hpp"
#include "gradlime/device/estimates.hpp"
#include "gradlime/least_squares.hpp"
#include "gradlime/lime_fit.hpp"
#include "gradlime/simd/lanes.hpp"
#include "gradlime/mask_sums.hpp"
#include "gradlime/mlp.hpp"
#include "gradlime/parallel.hpp"

namespace gradlime {

namespace {

using namespace mask_sums;

// Groups of 8 samples (one mask byte per feature each) that cover `rows` samples.
inline Index groups_of(Index rows) noexcept { return (rows + lanes::kLanes - 1) / lanes::kLanes; }

// Fixed work units: part of the definition of the arithmetic (which partial sums are formed and
// in which order they are merged), so they must not depend on threads or batch size.
constexpr Index kChunkRows = 2048;  // samples per finalisation chunk
constexpr Index kWaveChunks = 8;    // chunks whose partial statistics are held at once

struct PointState {
    Index point = 0;
    Vector values;   // f at each of the point's samples (the fit looks at them twice)
    Vector weights;  // the kernel weights, from the fit's first pass for its second
    std::vector<std::uint32_t> words;  // the masks' Philox words, when kept (LimeOptions::kept_mask_bytes)
    // Or (the fused path) the masks as feature-major bytes, bit i of bytes[k * ceil(n / 8) + g]
    // being feature k of sample 8g + i, when kept.
    std::vector<std::uint8_t> bytes;
};

struct Context {
    const RowMatrix& X;
    const Vector& baseline;
    BatchModel& model;
    const LimeOptions& opt;
    Estimate& out;
    std::vector<Index>& samples;  // per point: the samples its fit used
    Index d, n;
    Key key;
    Index blocks;  // Philox blocks per mask
    // Point p's masks come from stream point_offset + p.
    std::uint32_t stream(Index p) const { return point_stream(opt.driver, p); }
};

void validate(const RowMatrix& X, const Vector& baseline, const BatchModel& model, const LimeOptions& opt) {
    const Index d = X.cols();
    validate_points(X, opt.driver, opt.n_samples, 0, model);
    if (baseline.size() != d)
        throw std::invalid_argument("baseline has " + std::to_string(baseline.size()) + " entries but X has " +
                                    std::to_string(d) + " features");
    if (!baseline.allFinite()) throw std::invalid_argument("baseline contains NaN or inf");
    if (opt.n_samples < 2) throw std::invalid_argument("n_samples must be >= 2");
    if (!(std::isfinite(opt.ridge) && opt.ridge >= 0.0)) throw std::invalid_argument("ridge must be finite and >= 0");
    if (!(std::isfinite(opt.stop_tol) && opt.stop_tol >= 0.0)) throw std::invalid_argument("tol must be finite and >= 0");
    if (!(std::isfinite(opt.kernel_width) && opt.kernel_width > 0.0))
        throw std::invalid_argument("kernel_width must be finite and > 0");
}


// The masks of samples [first, first + rows) of a point (first a multiple of 8) as feature-major
// bytes: bit i of zb[k * ld + g] is feature k of sample first + 8g + i; the bits of lanes past
// `rows` are 0. Points into the kept bytes, or builds them in `scratch` from the kept or redrawn
// words.
const std::uint8_t* chunk_bytes(const Context& c, const PointState& s, Index first, Index rows,
                                std::vector<std::uint8_t>& scratch, Index& ld) {
    const Index L = lanes::kLanes;
    if (!s.bytes.empty()) {
        ld = groups_of(c.n);
        return s.bytes.data() + first / L;
    }
    const Index stride = 4 * c.blocks, G = groups_of(rows);
    std::vector<std::uint32_t> drawn;
    const std::uint32_t* words = s.words.data() + first * stride;
    if (s.words.empty()) {
        drawn.resize(static_cast<size_t>(rows * stride));
        lime_mask_words(c.key, c.stream(s.point), static_cast<std::uint64_t>(first), rows, c.blocks,
                        drawn.data());
        words = drawn.data();
    }
    scratch.resize(static_cast<size_t>(c.d * G));
    for (Index g = 0; g < G; ++g)
        group_bytes(words + g * L * stride, stride, std::min(L, rows - g * L), c.d,
                    [&](Index k, std::uint8_t byte) { scratch[static_cast<size_t>(k * G + g)] = byte; });
    ld = G;
    return scratch.data();
}


// Runs body(chunk, first_row, rows) for every finalisation chunk of a point, kWaveChunks at a time,
// then merge(i) in chunk order.
template <class Body, class Merge>
void for_each_chunk(const Context& c, Index n, bool parallel, Body&& body, Merge&& merge) {
    for_each_chunk_in_waves(n, kChunkRows, kWaveChunks, parallel, body, merge, [&] {
        if (parallel) c.model.check_interrupt();  // only the engine's thread may take the GIL
    });
}

// The fit and its standard errors from the point's first n samples (the finalisation's n = all of
// them; the stop rule's looks fewer). Writes the samples' kernel weights into s.weights.
struct LimeFit {
    Vector coef, stderr_;
};

LimeFit fit_point(const Context& c, PointState& s, Index n, bool parallel) {
    const Index p = s.point, d = c.d, L = lanes::kLanes;
    LimeFit out;
    const Vector gap2 = (c.X.row(p).transpose() - c.baseline).array().square().matrix();
    const double inv_width2 = 1.0 / (c.opt.kernel_width * c.opt.kernel_width);
    const double y0 = s.values[0];

    // Pass 1: kernel weights pi = exp(-||x - x~|| / sigma^2), x - x~ = (1 - z) * (x - baseline),
    // so the squared distance sums the dropped features' squared gaps, in feature order.
    LimeFitSums fit;
    fit.P.setZero(d, d);
    fit.Q.setZero(d);
    std::vector<LimeFitSums> fit_part(kWaveChunks);
    for_each_chunk(c, n, parallel,
        [&](Index i, Index first, Index rows, Interruption& stop) {
            thread_local std::vector<std::uint8_t> scratch;
            thread_local std::vector<double> w, wy;
            Index ld = 0;
            const std::uint8_t* zb = chunk_bytes(c, s, first, rows, scratch, ld);
            const Index G = groups_of(rows);
            w.assign(static_cast<size_t>(G * L), 0.0);
            wy.assign(static_cast<size_t>(G * L), 0.0);
            double weight[lanes::kLanes];
            for (Index g = 0; g < G; ++g) {
                lanes::D dist2 = lanes::zero();
                for (Index k = 0; k < d; ++k)
                    dist2 = lanes::add_where(dist2, static_cast<std::uint8_t>(~zb[k * ld + g]), lanes::set1(gap2[k]));
                const lanes::D wt = lanes::exp_nonpositive(
                    lanes::mul(lanes::sub(lanes::zero(), lanes::sqrt(dist2)), lanes::set1(inv_width2)));
                const Index sample0 = first + g * L;
                if (sample0 + L <= first + rows) {  // a whole group: the same operations, a register at a time
                    const lanes::D y = lanes::sub(lanes::load(s.values.data() + sample0), lanes::set1(y0));
                    const lanes::D wyt = lanes::mul(wt, y);
                    lanes::store(s.weights.data() + sample0, wt);
                    lanes::store(w.data() + g * L, wt);
                    lanes::store(wy.data() + g * L, wyt);
                    continue;
                }
                lanes::store(weight, wt);
                for (Index t = 0; t < rows - g * L; ++t) {
                    const Index sample = sample0 + t;
                    s.weights[sample] = weight[t];
                    w[static_cast<size_t>(g * L + t)] = weight[t];
                    wy[static_cast<size_t>(g * L + t)] = weight[t] * (s.values[sample] - y0);
                }
            }
            LimeFitSums& part = fit_part[static_cast<size_t>(i)];
            lower_gram(mask_columns(zb, ld, d, G, column_stride(rows)).data(), d, rows, part.P, &stop, w.data());
            part.Q.resize(d);
            for (Index k = 0; k < d; ++k) {
                lanes::D acc = lanes::zero();
                for (Index g = 0; g < G; ++g)
                    acc = lanes::add_where(acc, zb[k * ld + g], lanes::load(wy.data() + g * L));
                part.Q[k] = lanes::sum(acc);
            }
            part.W = lane_total(w.data(), G);
            part.Y = lane_total(wy.data(), G);
        },
        [&](Index i) { fit.merge(fit_part[static_cast<size_t>(i)]); });
    const LimeSolution solution(fit, c.opt.ridge, p, std::sqrt(gap2.sum()));
    const Vector& coef = solution.coef();
    out.coef = coef;

    // The sandwich's middle, over the residuals r_i = y'_i - b - z_i . c: the residuals of a
    // nonlinear f are heteroscedastic in z.
    const double intercept = solution.intercept();
    LimeMeatSums meat_sums;
    meat_sums.R.setZero(d, d);
    std::vector<LimeMeatSums> meat_part(kWaveChunks);
    for_each_chunk(c, n, parallel,
        [&](Index i, Index first, Index rows, Interruption& stop) {
            thread_local std::vector<std::uint8_t> scratch;
            thread_local std::vector<double> u;
            Index ld = 0;
            const std::uint8_t* zb = chunk_bytes(c, s, first, rows, scratch, ld);
            const Index G = groups_of(rows);
            u.assign(static_cast<size_t>(G * L), 0.0);
            double zc[lanes::kLanes];
            for (Index g = 0; g < G; ++g) {
                lanes::D acc = lanes::zero();  // z . c, summed in feature order
                for (Index k = 0; k < d; ++k)
                    acc = lanes::add_where(acc, zb[k * ld + g], lanes::set1(coef[k]));
                const Index sample0 = first + g * L;
                if (sample0 + L <= first + rows) {  // a whole group, a register at a time
                    const lanes::D y = lanes::sub(lanes::load(s.values.data() + sample0), lanes::set1(y0));
                    const lanes::D r = lanes::sub(lanes::sub(y, lanes::set1(intercept)), acc);
                    const lanes::D wr = lanes::mul(lanes::load(s.weights.data() + sample0), r);
                    lanes::store(u.data() + g * L, lanes::mul(wr, wr));
                    continue;
                }
                lanes::store(zc, acc);
                for (Index t = 0; t < rows - g * L; ++t) {
                    const Index sample = sample0 + t;
                    const double r = ((s.values[sample] - y0) - intercept) - zc[t];
                    const double wr = s.weights[sample] * r;
                    u[static_cast<size_t>(g * L + t)] = wr * wr;
                }
            }
            LimeMeatSums& part = meat_part[static_cast<size_t>(i)];
            lower_gram(mask_columns(zb, ld, d, G, column_stride(rows)).data(), d, rows, part.R, &stop, u.data());
            part.U = lane_total(u.data(), G);
        },
        [&](Index i) { meat_sums.merge(meat_part[static_cast<size_t>(i)]); });
    out.stderr_ = solution.stderr_of(meat_sums, n, [&] {
        if (parallel) c.model.check_interrupt();
    });
    return out;
}

void finalize_point(const Context& c, PointState& s, Index n, bool parallel) {
    const LimeFit fit = fit_point(c, s, n, parallel);
    c.out.values.row(s.point) = fit.coef.transpose();
    c.out.stderr_.row(s.point) = fit.stderr_.transpose();
    c.samples[static_cast<size_t>(s.point)] = n;
}

// LIME's parts for the streaming driver (driver.hpp).
class Lime : public MethodParts {
public:
    using State = PointState;
    explicit Lime(const Context& c) : c_(c) {}
    Index dim() const { return c_.d; }
    Index rows_per_point() const { return c_.n; }
    bool values() const { return true; }
    bool gradients() const { return false; }

    void begin(State& s, Index point, bool fused, Index kept_bytes) const {
        s.point = point;
        s.values.resize(c_.n);
        s.weights.resize(c_.n);
        const Index byte_count = c_.d * groups_of(c_.n);  // the fused path's feature-major mask bytes
        if (fused && byte_count <= kept_bytes) s.bytes.resize(static_cast<size_t>(byte_count));
        if (!fused && c_.n * c_.blocks * Index(16) <= kept_bytes)
            s.words.resize(static_cast<size_t>(c_.n * 4 * c_.blocks));
    }

    // Rows of one point are consecutive samples: their masks are drawn in one call, straight into
    // the point's kept words when it keeps them.
    void fill(State& s, Index point, Index first, Index count, double* rows) const {
        const Index stride = 4 * c_.blocks;  // words per mask
        thread_local std::vector<std::uint32_t> scratch;
        std::uint32_t* words = s.words.empty() ? (scratch.resize(static_cast<size_t>(count * stride)), scratch.data())
                                               : s.words.data() + first * stride;
        lime_mask_words(c_.key, c_.stream(point), static_cast<std::uint64_t>(first), count, c_.blocks, words);
        for (Index i = 0; i < count; ++i) {
            const std::uint32_t* z = words + i * stride;
            double* row = rows + i * c_.d;
            for (Index k = 0; k < c_.d; ++k) row[k] = select(mask_bit(z, k), c_.X(point, k), c_.baseline[k]);
        }
    }

    void take(std::vector<Piece<State>>& pieces, const ModelOutput& y) const {
        for (const Piece<State>& p : pieces)
            std::copy(y.values + p.offset, y.values + p.offset + p.count, p.state().values.data() + p.first);
    }
    bool finite(const State&) const { return true; }
    Index fused_rows(State&) const { return c_.n; }

    // The block's masks as feature-major bytes (kept, or for this block only), then x~ = z ? x :
    // baseline in float32: the batched path's select, then the network's cast.
    void fill_block(State& s, Index point, Index first, Index count, float* x) const {
        const Index d = c_.d, B = kNetworkBlock, L = lanes::kLanes, stride = 4 * c_.blocks, G = groups_of(count);
        thread_local std::vector<std::uint32_t> words;
        thread_local std::vector<std::uint8_t> block_bytes;
        const bool kept = !s.bytes.empty();
        if (!kept) block_bytes.resize(static_cast<size_t>(d * G));
        std::uint8_t* zb = kept ? s.bytes.data() + first / L : block_bytes.data();
        const Index zld = kept ? groups_of(c_.n) : G;
        if (c_.blocks == 1 && count % L == 0) {  // the bytes straight from the Philox lanes
            for (Index g = 0; g < G; ++g)
                lime_mask_bytes8(c_.key, c_.stream(point), static_cast<std::uint64_t>(first + g * L), d, zb + g, zld);
        } else {
            words.resize(static_cast<size_t>(B * stride));
            lime_mask_words(c_.key, c_.stream(point), static_cast<std::uint64_t>(first), count, c_.blocks, words.data());
            for (Index g = 0; g < G; ++g)
                group_bytes(words.data() + g * L * stride, stride, std::min(L, count - g * L), d,
                            [&](Index k, std::uint8_t byte) { zb[k * zld + g] = byte; });
        }
        for (Index k = 0; k < d; ++k) {
            const float xk = static_cast<float>(c_.X(point, k)), bk = static_cast<float>(c_.baseline[k]);
            float* col = x + k * B;
            for (Index g = 0; g < G; ++g) lanes::select_floats(col + g * L, zb[k * zld + g], xk, bk);
        }
    }

    bool take_block(State& s, Index, Index first, Index count, const float* y, const float*) const {
        bool ok = true;
        for (Index r = 0; r < count; ++r) {
            const double v = static_cast<double>(y[r]);
            ok = ok && std::isfinite(v);
            s.values[first + r] = v;
        }
        return ok;
    }

    void finalize(State& s, Index, Index taken, bool parallel) const { finalize_point(c_, s, taken, parallel); }

    // An adaptive sample size (LimeOptions::stop_tol): the fit on the samples so far, looked at
    // after 128 x 2^k of them (O(n d^2) over all looks), on a copy of the state (the fit writes
    // the kernel weights). A look whose fit fails (every weight underflowing) does not stop.
    bool stops() const { return c_.opt.stop_tol > 0.0; }
    bool stop(const State& s, Index taken) const {
        const Index k = taken / (2 * kStopBlock);
        if (taken < 2 * kStopBlock || taken % (2 * kStopBlock) != 0 || (k & (k - 1)) != 0) return false;
        if (taken <= c_.d + 1) return false;
        PointState look = s;
        try {
            const Vector se = fit_point(c_, look, taken, false).stderr_;
            return se.allFinite() && se.maxCoeff() <= c_.opt.stop_tol;
        } catch (const std::invalid_argument&) {
            return false;
        }
    }

private:
    const Context& c_;
};

}  // namespace

void lime_masks(std::uint64_t seed, std::uint32_t point, std::uint64_t first, Index m, Index d, RowMatrix& Z) {
    Z.resize(m, d);
    const Key key = key_from_seed(seed);
    for (Index i = 0; i < m; ++i) lime_mask_row(key, point, first + static_cast<std::uint64_t>(i), d, Z.row(i).data());
}

LimeResult run_lime(const RowMatrix& X, const Vector& baseline, BatchModel& model, const LimeOptions& opt) {
    validate(X, baseline, model, opt);
    if (on_device(opt.driver.device))
        return device::run_lime_on_device(X, baseline, model, opt);
    const Index N = X.rows(), d = X.cols();
    LimeResult out{{RowMatrix::Zero(N, d), RowMatrix::Zero(N, d)}, std::vector<Index>(static_cast<size_t>(N), 0)};
    const Context c{X,
                    baseline,
                    model,
                    opt,
                    out.estimate,
                    out.samples,
                    d,
                    opt.n_samples,
                    key_from_seed(opt.seed),
                    lime_mask_blocks(d)};
    run_driver(Lime(c), model, N, opt.driver);
    return out;
}

}  // namespace gradlime
