#include "gradlime/shap.hpp"

#include <Eigen/QR>
#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <stdexcept>
#include <string>

#include "gradlime/mlp.hpp"
#include "gradlime/parallel.hpp"
#include "gradlime/rng/masks.hpp"

namespace gradlime {

namespace {

// Fixed work units: part of the arithmetic (which partial sums are formed, merged in which order),
// so they never depend on threads or batch size. kChunk is even so no pair straddles two chunks.
constexpr Index kFillRows = 64;    // rows per task when filling a batch
constexpr Index kChunk = 256;      // coalitions per partial least-squares sum
constexpr Index kWaveChunks = 8;   // chunks whose partial sums are held at once

}  // namespace

ShapleyCoalitions::ShapleyCoalitions(Index d, bool exact, Index n_coalitions, std::uint64_t seed)
    : d_(d), n_(n_coalitions), exact_(exact), seed_(seed) {
    if (d < 1) throw std::invalid_argument("kernel_shap needs at least one feature");
    if (exact) {
        if (d > 62) throw std::invalid_argument("exact enumeration needs d <= 62; got d = " + std::to_string(d));
        n_ = (Index(1) << d) - 2;
        size_weight_.assign(static_cast<size_t>(d + 1), 0.0);
        for (Index s = 1; s < d; ++s) {
            double binom = 1.0;
            for (Index k = 1; k <= s; ++k) binom = binom * static_cast<double>(d - s + k) / static_cast<double>(k);
            size_weight_[static_cast<size_t>(s)] =
                static_cast<double>(d - 1) / (binom * static_cast<double>(s) * static_cast<double>(d - s));
        }
        return;
    }
    if (d < 2) throw std::invalid_argument("sampled coalitions need d >= 2 (d = 1 is always exact)");
    if (n_coalitions < 2) throw std::invalid_argument("n_samples must be >= 2 (one coalition and its complement)");
    size_cdf_ = shapley_size_cdf(d);
}

double ShapleyCoalitions::mask(std::uint32_t point, Index j, std::uint8_t* z) const {
    const Index d = d_;
    if (exact_) {
        const auto bits = static_cast<std::uint64_t>(j) + 1;
        Index s = 0;
        for (Index k = 0; k < d; ++k) s += (z[k] = static_cast<std::uint8_t>((bits >> k) & 1u));
        return size_weight_[static_cast<size_t>(s)];
    }
    // j odd: the complement of coalition j - 1 (the same draws)
    shapley_coalition(key_from_seed(seed_), point, static_cast<std::uint64_t>(j / 2), size_cdf_, (j & 1) != 0, z);
    return 1.0;
}

namespace {

struct PointState {
    Index point = 0;
    Index received = 0;  // rows of this point evaluated so far
    double fx = 0.0;
    Vector sums;  // per coalition: sum of f over the background rows, added in row order
    // Sampled mode: the point's coalitions, drawn once when it enters the buffer and packed
    // `words` 64-bit words each (n * ceil(d / 64) words; exact masks are their own index).
    std::vector<std::uint64_t> masks;
};

struct Context {
    const RowMatrix& X;
    const RowMatrix& background;
    const ShapleyCoalitions& coalitions;
    BatchModel& model;
    KernelShapResult& out;
    Index d, B, R;  // features, background rows, rows per point (1 + n B)
    Index words;    // 64-bit words per packed mask

    // Mask j of a point as d bytes; returns its weight.
    double unpack(const PointState& s, Index j, std::uint8_t* z) const {
        if (coalitions.exact()) return coalitions.mask(static_cast<std::uint32_t>(s.point), j, z);
        const std::uint64_t* w = s.masks.data() + j * words;
        for (Index i = 0; i < d; ++i) z[i] = static_cast<std::uint8_t>((w[i / 64] >> (i % 64)) & 1u);
        return 1.0;
    }
};

// Packs sampled coalitions [first, first + count) of a point into w (c.words words each, zeroed
// by the caller). The odd coalition of a pair is the complement of the even one (mask() draws
// the same numbers for both), so each pair is drawn once.
void pack_masks(const Context& c, Index point, Index first, Index count, std::uint64_t* w) {
    const Index d = c.d, words = c.words;
    thread_local std::vector<std::uint8_t> z;
    z.resize(static_cast<size_t>(d));
    for (Index j = first; j < first + count; ++j, w += words) {
        if (j % 2 == 1 && j > first) {
            for (Index i = 0; i < words; ++i) {
                const Index bits = std::min<Index>(64, d - 64 * i);
                const std::uint64_t valid = bits == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1;
                w[i] = ~w[i - words] & valid;
            }
            continue;
        }
        c.coalitions.mask(static_cast<std::uint32_t>(point), j, z.data());
        for (Index i = 0; i < d; ++i) w[i / 64] |= static_cast<std::uint64_t>(z[static_cast<size_t>(i)]) << (i % 64);
    }
}

// Draws a point's coalitions once (each is a pure function of (seed, point, index)).
void draw_masks(const Context& c, PointState& s) {
    const Index n = c.coalitions.size();
    s.masks.assign(static_cast<size_t>(n * c.words), 0);
    parallel_for((n + kChunk - 1) / kChunk, [&](Index chunk) {
        const Index first = chunk * kChunk;
        pack_masks(c, s.point, first, std::min(kChunk, n - first), s.masks.data() + first * c.words);
    });
}

// Where row r of the sequence lies: background row b (point = -1), or row k of point `point`,
// which for k >= 1 is background row b of coalition j. Stepped row by row without a division.
struct RowCursor {
    Index point = -1, k = 0, j = 0, b = 0;
    RowCursor(const Context& c, Index r) {
        if (r < c.B) {
            b = r;
            return;
        }
        const Index q = r - c.B;
        point = q / c.R;
        k = q % c.R;
        if (k > 0) {
            j = (k - 1) / c.B;
            b = (k - 1) % c.B;
        }
    }
    void next(const Context& c) {
        if (point < 0) {
            if (++b == c.B) point = b = 0;
            return;
        }
        if (++k == c.R) {
            ++point;
            k = j = b = 0;
        } else if (k > 1 && ++b == c.B) {
            b = 0;
            ++j;
        }
    }
};

void validate(const RowMatrix& X, const RowMatrix& background, const KernelShapOptions& opt) {
    const Index d = X.cols();
    if (X.rows() == 0 || d == 0) throw std::invalid_argument("X must have at least one point and one feature");
    if (X.rows() > static_cast<Index>(std::numeric_limits<std::uint32_t>::max()))
        throw std::invalid_argument("X has more than 2^32 - 1 points; split the call");
    if (!X.allFinite()) throw std::invalid_argument("X contains NaN or inf");
    if (background.rows() == 0 || background.cols() != d)
        throw std::invalid_argument("the background must have shape (B, " + std::to_string(d) + ") with B >= 1; got (" +
                                    std::to_string(background.rows()) + ", " + std::to_string(background.cols()) + ")");
    if (!background.allFinite()) throw std::invalid_argument("the baseline contains NaN or inf");
    if (opt.batch_rows < 1) throw std::invalid_argument("batch_size must be >= 1");
}

// Inputs for rows [t0, t1) of the batch starting at row r0; `states[i]` is point first + i.
// Every row is a pure function of its place in the sequence.
void fill_block(const Context& c, Index r0, double* inputs, Index t0, Index t1,
                const std::vector<const PointState*>& states, Index first) {
    const Index d = c.d;
    std::vector<std::uint8_t> z(static_cast<size_t>(d));
    Index unpacked = -1;  // the coalition in z (rows of one coalition are consecutive)
    for (RowCursor at(c, r0 + t0); t0 < t1; ++t0, at.next(c)) {
        double* row = inputs + t0 * d;
        if (at.point < 0) {
            std::copy_n(c.background.row(at.b).data(), d, row);
        } else if (at.k == 0) {
            std::copy_n(c.X.row(at.point).data(), d, row);
            unpacked = -1;
        } else {
            if (at.j != unpacked) {
                c.unpack(*states[static_cast<size_t>(at.point - first)], at.j, z.data());
                unpacked = at.j;
            }
            const double* x = c.X.row(at.point).data();
            const double* b = c.background.row(at.b).data();
            for (Index i = 0; i < d; ++i) row[i] = z[static_cast<size_t>(i)] ? x[i] : b[i];
        }
    }
}

[[noreturn]] void report_non_finite(const Context& c, Index r) {
    if (r < c.B)
        throw std::invalid_argument("model returned a non-finite value at background row " + std::to_string(r));
    const Index q = r - c.B, p = q / c.R, k = q % c.R;
    const std::string where = k == 0 ? "the point itself"
                                     : "coalition " + std::to_string((k - 1) / c.B) + ", background row " +
                                           std::to_string((k - 1) % c.B);
    throw std::invalid_argument("model returned a non-finite value at point " + std::to_string(p) + " (" + where + ")");
}

// Runs body(i, first, count) over the point's coalition chunks, kWaveChunks at a time, then
// merge(i) in chunk order.
template <class Body, class Merge>
void for_each_chunk(Index n, bool parallel, Body&& body, Merge&& merge) {
    for_each_chunk_in_waves(n, kChunk, kWaveChunks, parallel, body, merge, [] {});
}

// The constrained weighted least squares of one point. With phi_d = delta - sum_{k<d} phi_k
// substituted (delta = f(x) - E f(b)), the fit is unconstrained in beta = phi_{<d}:
//   v(z) - v0 - z_d delta  ~  sum_{k<d} (z_k - z_d) beta_k,   weight w(z),
// so sum(phi) = delta holds by construction, exact or sampled.
void finalize_point(const Context& c, PointState& s, bool parallel) {
    const Index d = c.d, q = d - 1, p = s.point, n = c.coalitions.size();
    const double v0 = c.out.expected_value, delta = s.fx - v0, nb = static_cast<double>(c.B);
    c.out.fx(p) = s.fx;
    if (d == 1) {
        c.out.values(p, 0) = delta;
        c.out.stderr_(p, 0) = 0.0;
        return;
    }
    // One chunk's design rows u = z_{<d} - z_d and responses t, both scaled by sqrt(w).
    auto design = [&](Index first, Index count, RowMatrix& U, Vector& t, bool weighted) {
        std::vector<std::uint8_t> z(static_cast<size_t>(d));
        U.resize(count, q);
        t.resize(count);
        for (Index i = 0; i < count; ++i) {
            const double w = c.unpack(s, first + i, z.data());
            const double zd = z[static_cast<size_t>(q)];
            for (Index k = 0; k < q; ++k) U(i, k) = static_cast<double>(z[static_cast<size_t>(k)]) - zd;
            t(i) = (s.sums(first + i) / nb - v0) - zd * delta;
            if (weighted && w != 1.0) {
                const double sw = std::sqrt(w);
                U.row(i) *= sw;
                t(i) *= sw;
            }
        }
    };

    Matrix A = Matrix::Zero(q, q);
    Vector rhs = Vector::Zero(q);
    std::vector<Matrix> A_part(kWaveChunks);
    std::vector<Vector> rhs_part(kWaveChunks);
    for_each_chunk(n, parallel,
        [&](Index i, Index first, Index count) {
            RowMatrix U;
            Vector t;
            design(first, count, U, t, true);
            Matrix& Ai = A_part[static_cast<size_t>(i)];
            Ai = Matrix::Zero(q, q);
            Ai.selfadjointView<Eigen::Lower>().rankUpdate(U.transpose());
            rhs_part[static_cast<size_t>(i)] = U.transpose() * t;
        },
        [&](Index i) {
            A += A_part[static_cast<size_t>(i)];
            rhs += rhs_part[static_cast<size_t>(i)];
        });
    const Matrix Afull = A.selfadjointView<Eigen::Lower>();
    // Pivoted QR: deterministic, and a minimum-norm answer when few samples leave A singular.
    const Eigen::CompleteOrthogonalDecomposition<Matrix> cod(Afull);
    const Vector beta = cod.solve(rhs);
    c.out.values.row(p).head(q) = beta.transpose();
    c.out.values(p, q) = delta - beta.sum();

    if (c.coalitions.exact()) {
        c.out.stderr_.row(p).setZero();
        return;
    }
    if (cod.rank() < q) {  // some coefficient is not identified by the coalitions drawn
        c.out.stderr_.row(p).setConstant(std::numeric_limits<double>::infinity());
        return;
    }
    // Cluster-robust sandwich A^-1 [sum_pairs g g^T] A^-1, g = sum over a coalition and its
    // complement of u r: the pairs are the independent draws, and f is not linear in z, so the
    // residuals are neither homoscedastic nor independent of u. Each pair's score is divided by
    // sqrt(1 - h), h its leverage (CR2, Bell & McCaffrey 2002): a complement has u = -u, so the
    // pair's hat block is rank one with eigenvalue h = sum of the two coalitions' leverages, and
    // this is exact. Without it the fit shrinks the residuals of high-leverage pairs: measured over
    // 200 seeds (d = 12, nonlinear f, 32 pairs) the plain sandwich reported 25% too little, and a
    // coefficient resting on one pair got a standard error of zero.
    const Matrix Ainv = cod.solve(Matrix::Identity(q, q));
    const Index clusters = (n + 1) / 2;
    Matrix meat = Matrix::Zero(q, q);
    std::vector<Matrix> meat_part(kWaveChunks);
    std::vector<char> unidentified(kWaveChunks);
    for_each_chunk(n, parallel,
        [&](Index i, Index first, Index count) {
            RowMatrix U;
            Vector t;
            design(first, count, U, t, false);
            const Vector r = t - U * beta;
            const Vector h = (U * Ainv).cwiseProduct(U).rowwise().sum();
            const Index pairs = (count + 1) / 2;
            RowMatrix G = RowMatrix::Zero(pairs, q);
            Vector leverage = Vector::Zero(pairs);
            for (Index k = 0; k < count; ++k) {
                G.row(k / 2) += r(k) * U.row(k);
                leverage(k / 2) += h(k);
            }
            unidentified[static_cast<size_t>(i)] = 0;
            for (Index g = 0; g < pairs; ++g) {
                if (!(leverage(g) < 1.0 - 1e-9)) unidentified[static_cast<size_t>(i)] = 1;
                else G.row(g) /= std::sqrt(1.0 - leverage(g));
            }
            Matrix& Mi = meat_part[static_cast<size_t>(i)];
            Mi = Matrix::Zero(q, q);
            Mi.selfadjointView<Eigen::Lower>().rankUpdate(G.transpose());
        },
        [&](Index i) {
            meat += meat_part[static_cast<size_t>(i)];
            if (unidentified[static_cast<size_t>(i)]) meat(0, 0) = std::numeric_limits<double>::infinity();
        });
    // A pair with leverage 1 alone determines some coefficient: its spread cannot be estimated.
    if (clusters <= q || !std::isfinite(meat(0, 0))) {
        c.out.stderr_.row(p).setConstant(std::numeric_limits<double>::infinity());
        return;
    }
    const Matrix cov = Ainv * Matrix(meat.selfadjointView<Eigen::Lower>()) * Ainv;
    for (Index k = 0; k < q; ++k) c.out.stderr_(p, k) = std::sqrt(std::max(0.0, cov(k, k)));
    c.out.stderr_(p, q) = std::sqrt(std::max(0.0, cov.sum()));  // var(delta - 1^T beta) = 1^T cov 1
}

void finalize_completed(const Context& c, std::deque<PointState>& inflight) {
    finalize_front(
        inflight, [&](const PointState& s) { return s.received == c.R; },
        [&](PointState& s, bool parallel) { finalize_point(c, s, parallel); });
}


// Fused path: per point, its coalitions' distinct masks (sampled coalitions repeat: at d = 15 and
// 2078 coalitions, about 45% are repeats, mostly of the likeliest sizes 1 and d - 1). A coalition's
// value is a function of its mask alone, computed in a fixed order, so a repeat's value has the
// bits of its first occurrence and is copied instead of evaluated again.
struct FusedPoint {
    PointState state;
    std::vector<Index> distinct;  // the first occurrence of each mask, ascending
    std::vector<Index> source;    // per coalition: its first occurrence (sampled mode)
};

// Fills `distinct` and `source` from the point's packed masks: open addressing on a hash of the
// words, whose only effect is speed (each mask maps to its first occurrence whatever the hash).
void find_distinct(const Context& c, FusedPoint& fp) {
    const Index n = c.coalitions.size(), words = c.words;
    const std::uint64_t* masks = fp.state.masks.data();
    Index cap = 1;
    while (cap < 2 * n) cap *= 2;
    thread_local std::vector<Index> table;
    table.assign(static_cast<size_t>(cap), -1);
    fp.distinct.clear();
    fp.source.resize(static_cast<size_t>(n));
    for (Index j = 0; j < n; ++j) {
        const std::uint64_t* w = masks + j * words;
        std::uint64_t h = 0;
        for (Index i = 0; i < words; ++i) h = (h ^ w[i]) * 0x9E3779B97F4A7C15ull;
        for (auto slot = static_cast<Index>(h >> 20) & (cap - 1);; slot = (slot + 1) & (cap - 1)) {
            Index& at = table[static_cast<size_t>(slot)];
            if (at < 0) {
                at = j;
                fp.distinct.push_back(j);
                fp.source[static_cast<size_t>(j)] = j;
                break;
            }
            if (std::equal(w, w + words, masks + at * words)) {
                fp.source[static_cast<size_t>(j)] = at;
                break;
            }
        }
    }
}

// The values of coalitions js[0..count) (ascending) of a point on the fused path: their count * B
// rows are packed back to back into blocks of kNetworkBlock lanes (a coalition may straddle two
// blocks), each block filled feature-major straight from the float inputs, evaluated, and its
// values added to the coalitions' sums in lane order, which is background-row order, as on the
// batched path. Returns the first row of the point (1 + j B + b) with a non-finite value, or -1.
Index fused_values(const Context& c, const NetworkModel& model, const std::vector<float>& tile, PointState& s,
                   const Index* js, Index count) {
    const Index d = c.d, B = c.B, L = kNetworkBlock, T = B + L, words = c.words;
    const bool exact = c.coalitions.exact();
    thread_local std::vector<float> xb, yb, xf;
    xb.resize(static_cast<size_t>(d * L));
    yb.resize(static_cast<size_t>(L));
    xf.resize(static_cast<size_t>(d));
    for (Index k = 0; k < d; ++k) xf[static_cast<size_t>(k)] = static_cast<float>(c.X(s.point, k));

    // Lane r of a block starting at row t0 of the run is background row (t0 + r) mod B, that is
    // tile[k * T + b0 + r] with b0 = t0 mod B: one copy per feature, then x over the features in
    // each coalition's lanes (an exact mask is its index plus one; d <= 62 there, one word).
    Index i = 0, b = 0;  // coalition js[i] and background row at the next block's lane 0
    const Index rows = count * B;
    for (Index t0 = 0; t0 < rows; t0 += L) {
        const Index lanes = std::min(L, rows - t0);
        for (Index k = 0; k < d; ++k) std::copy_n(tile.data() + k * T + b, L, xb.data() + k * L);
        for (Index r = 0, ii = i, bb = b; r < lanes;) {
            const Index len = std::min(B - bb, lanes - r), j = js[ii];
            const std::uint64_t own = static_cast<std::uint64_t>(j) + 1;
            const std::uint64_t* w = exact ? &own : s.masks.data() + j * words;
            for (Index wi = 0; wi < words; ++wi)
                for (std::uint64_t bits = w[wi]; bits; bits &= bits - 1) {
                    const Index k = wi * 64 + __builtin_ctzll(bits);
                    std::fill_n(xb.data() + k * L + r, len, xf[static_cast<size_t>(k)]);
                }
            r += len;
            if ((bb += len) == B) {
                bb = 0;
                ++ii;
            }
        }
        model.network().evaluate_block(xb.data(), model.target(), yb.data(), nullptr);
        for (Index r = 0; r < lanes;) {
            const Index len = std::min(B - b, lanes - r), j = js[i];
            double sum = s.sums(j);
            for (Index t = 0; t < len; ++t) sum += static_cast<double>(yb[static_cast<size_t>(r + t)]);
            s.sums(j) = sum;
            // A sum of finite floats cannot overflow a double: non-finite means a bad lane here.
            if (!std::isfinite(sum)) {
                Index t = 0;
                while (std::isfinite(yb[static_cast<size_t>(r + t)])) ++t;
                return 1 + j * B + b + t;
            }
            r += len;
            if ((b += len) == B) {
                b = 0;
                ++i;
            }
        }
    }
    return -1;
}

// KernelSHAP of a native network, fused: no batch buffer, no row-major doubles, no virtual call
// per batch, and each distinct coalition of a point evaluated once. The background rows and the
// points themselves go first (blocks of kNetworkBlock rows); then, per wave of points, the
// points' masks (a task per point), their distinct coalitions' values (tasks of kChunk distinct
// coalitions) and the least squares (a task per point). Every row's network arithmetic is
// independent of the block it lands in and every sum is formed in the batched path's order, so
// the bits are the batched path's, whatever the threads.
void run_fused(const Context& c, const NetworkModel& model) {
    const Index N = c.X.rows(), d = c.d, B = c.B, n = c.coalitions.size(), L = kNetworkBlock;
    if (model.network().input_dim() != d)
        throw std::invalid_argument("X has " + std::to_string(d) + " features but the model takes " +
                                    std::to_string(model.network().input_dim()));
    {
        const Index rows = B + N;
        std::vector<double> y(static_cast<size_t>(rows));
        parallel_for((rows + L - 1) / L, [&](Index blk) {
            thread_local std::vector<float> xb, yb;
            xb.assign(static_cast<size_t>(d * L), 0.0f);  // lanes past the last row stay 0
            yb.resize(static_cast<size_t>(L));
            const Index t0 = blk * L, m = std::min(L, rows - t0);
            for (Index r = 0; r < m; ++r) {
                const Index t = t0 + r;
                const double* row = t < B ? c.background.row(t).data() : c.X.row(t - B).data();
                for (Index k = 0; k < d; ++k) xb[static_cast<size_t>(k * L + r)] = static_cast<float>(row[k]);
            }
            model.network().evaluate_block(xb.data(), model.target(), yb.data(), nullptr);
            for (Index r = 0; r < m; ++r) y[static_cast<size_t>(t0 + r)] = static_cast<double>(yb[static_cast<size_t>(r)]);
        });
        double background_sum = 0.0;  // in row order
        for (Index b = 0; b < B; ++b) {
            if (!std::isfinite(y[static_cast<size_t>(b)])) report_non_finite(c, b);
            background_sum += y[static_cast<size_t>(b)];
        }
        c.out.expected_value = background_sum / static_cast<double>(B);
        for (Index p = 0; p < N; ++p) c.out.fx(p) = y[static_cast<size_t>(B + p)];
    }

    // The background feature-major in float, each column repeated past its end so that any
    // L consecutive rows (mod B) from a start b < B are one contiguous run.
    const Index T = B + L;
    std::vector<float> tile(static_cast<size_t>(d * T));
    for (Index k = 0; k < d; ++k)
        for (Index t = 0; t < T; ++t) tile[static_cast<size_t>(k * T + t)] = static_cast<float>(c.background(t % B, k));

    const bool exact = c.coalitions.exact();
    std::vector<Index> all;  // exact: every coalition is distinct
    if (exact)
        for (Index j = 0; j < n; ++j) all.push_back(j);
    const Index wave = std::max<Index>(1, kFusedWaveRows / c.R);
    for (Index p0 = 0; p0 < N; p0 += wave) {
        const Index pn = std::min(wave, N - p0);
        std::vector<FusedPoint> points(static_cast<size_t>(pn));
        parallel_for(pn, [&](Index i) {
            FusedPoint& fp = points[static_cast<size_t>(i)];
            PointState& s = fp.state;
            s.point = p0 + i;
            s.fx = c.out.fx(s.point);
            s.sums = Vector::Zero(n);
            if (exact) return;
            s.masks.assign(static_cast<size_t>(n * c.words), 0);
            pack_masks(c, s.point, 0, n, s.masks.data());
            find_distinct(c, fp);
        });
        struct Task {
            Index point, first, count;  // distinct coalitions [first, first + count) of a point
        };
        std::vector<Task> tasks;
        for (Index i = 0; i < pn; ++i) {
            const Index u = exact ? n : static_cast<Index>(points[static_cast<size_t>(i)].distinct.size());
            for (Index first = 0; first < u; first += kChunk) tasks.push_back({i, first, std::min(kChunk, u - first)});
        }
        // Tasks run in groups of about kFusedWaveRows model rows with a Ctrl-C check between
        // (a wave holds at least one point, which in exact mode can be many rows).
        std::vector<Index> bad(tasks.size(), -1);
        const auto n_tasks = static_cast<Index>(tasks.size());
        const Index group = std::max<Index>(1, kFusedWaveRows / (kChunk * B));
        for (Index t0 = 0; t0 < n_tasks; t0 += group) {
            parallel_for(std::min(group, n_tasks - t0), [&](Index t) {
                const Task& task = tasks[static_cast<size_t>(t0 + t)];
                FusedPoint& fp = points[static_cast<size_t>(task.point)];
                const Index* js = (exact ? all : fp.distinct).data() + task.first;
                bad[static_cast<size_t>(t0 + t)] = fused_values(c, model, tile, fp.state, js, task.count);
            });
            if (t0 + group < n_tasks) c.model.check_interrupt();
        }
        // The first non-finite value in the batched path's row order: f(x), then the coalitions
        // (a repeat's bad value was first met at its first occurrence).
        for (size_t t = 0, i = 0; i < static_cast<size_t>(pn); ++i) {
            const Index r0 = B + (p0 + static_cast<Index>(i)) * c.R;
            if (!std::isfinite(points[i].state.fx)) report_non_finite(c, r0);
            for (; t < tasks.size() && tasks[t].point == static_cast<Index>(i); ++t)
                if (bad[t] >= 0) report_non_finite(c, r0 + bad[t]);
        }
        parallel_for(pn, [&](Index i) {
            FusedPoint& fp = points[static_cast<size_t>(i)];
            if (!exact)
                for (Index j = 0; j < n; ++j) fp.state.sums(j) = fp.state.sums(fp.source[static_cast<size_t>(j)]);
            finalize_point(c, fp.state, pn == 1);
        }, pn > 1);
        c.model.check_interrupt();
    }
}

}  // namespace

KernelShapResult run_kernel_shap(const RowMatrix& X, const RowMatrix& background, BatchModel& model,
                                 const KernelShapOptions& opt) {
    validate(X, background, opt);
    const Index N = X.rows(), d = X.cols(), B = background.rows();
    const ShapleyCoalitions coalitions(d, opt.exact || d == 1, opt.n_samples, opt.seed);
    const Index n = coalitions.size();
    constexpr Index kMax = std::numeric_limits<Index>::max();
    if (n > 0 && B > (kMax - 1) / n) throw std::invalid_argument("n_samples * background rows overflows");
    const Index R = 1 + n * B;
    if (N > (kMax - B) / R) throw std::invalid_argument("the number of model rows overflows");
    const Index total = B + N * R;

    KernelShapResult out;
    out.values = RowMatrix::Zero(N, d);
    out.stderr_ = RowMatrix::Zero(N, d);
    out.fx = Vector::Zero(N);
    const Context c{X, background, coalitions, model, out, d, B, R, (d + 63) / 64};
    if (const NetworkModel* network = model.as_network(); network && opt.fused_network) {
        run_fused(c, *network);
        return out;
    }

    double background_sum = 0.0;  // sum of f over the background rows, in row order
    std::deque<PointState> inflight;  // references stay valid across push_back and front erase
    Index next_point = 0;
    std::vector<const PointState*> states;
    for (Index r0 = 0; r0 < total; r0 += opt.batch_rows) {
        const Index m = std::min(opt.batch_rows, total - r0);
        states.clear();
        Index first = 0;
        if (r0 + m > B) {
            for (const Index last = (r0 + m - 1 - B) / R; next_point <= last; ++next_point) {
                PointState& s = inflight.emplace_back();
                s.point = next_point;
                s.sums = Vector::Zero(n);
                if (!coalitions.exact()) draw_masks(c, s);
            }
            first = inflight.front().point;
            for (const PointState& s : inflight) states.push_back(&s);
        }
        double* inputs = model.input_buffer(0, m, d);
        parallel_for((m + kFillRows - 1) / kFillRows, [&](Index blk) {
            fill_block(c, r0, inputs, blk * kFillRows, std::min(m, (blk + 1) * kFillRows), states, first);
        });
        const double* y = model.evaluate(0, m, d, true, false).values;
        for (Index t = 0; t < m; ++t)
            if (!std::isfinite(y[t])) report_non_finite(c, r0 + t);
        // Rows in sequence order, so every sum is formed in the same order for any batch size.
        PointState* s = nullptr;
        RowCursor at(c, r0);
        for (Index t = 0; t < m; ++t, at.next(c)) {
            if (at.point < 0) {
                background_sum += y[t];
                if (at.b == B - 1) out.expected_value = background_sum / static_cast<double>(B);
                continue;
            }
            if (!s || s->point != at.point) s = &inflight[static_cast<size_t>(at.point - inflight.front().point)];
            if (at.k == 0) {
                s->fx = y[t];
            } else {
                s->sums(at.j) += y[t];
            }
            ++s->received;
        }
        finalize_completed(c, inflight);
        model.check_interrupt();
    }
    return out;
}

}  // namespace gradlime
