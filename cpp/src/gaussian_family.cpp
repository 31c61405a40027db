// The Gaussian family's parts for the streaming driver (driver.hpp): what a sample is (x + eps,
// eps = L z from the point's stream), what it accumulates (the gradients' running moments, and
// the values for C-LIME and Stein, whose fits look at the draws twice: kept or drawn again), and
// how a point finalises (paper 1, Theorem 1: SmoothGrad = Stein form = C-LIME).
#include "gradlime/engine.hpp"

#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "gradlime/accumulators.hpp"
#include "gradlime/device/estimates.hpp"
#include "gradlime/least_squares.hpp"
#include "gradlime/mlp.hpp"
#include "gradlime/parallel.hpp"
#include "gradlime/rng/layouts.hpp"
#include "gradlime/stein.hpp"

namespace gradlime {

namespace {

// Fixed work units. They are part of the definition of the arithmetic (which partial sums are
// formed and in which order they are merged), so they must not depend on threads or batch size.
constexpr Index kColumnBlock = 64;  // gradient coordinates per accumulation task
constexpr Index kChunkRows = 2048;  // samples per finalisation chunk
constexpr Index kWaveChunks = 8;    // chunks whose partial statistics are held at once

struct GaussianState {
    Vector values;      // f at each of the point's samples (C-LIME and Stein need a second look)
    RowMatrix normals;  // the point's standard normals, when kept
    SampleMoments gradients;  // over antithetic pairs when the draws are paired
    Index point = 0;
};

class GaussianFamily : public MethodParts {
public:
    using State = GaussianState;

    GaussianFamily(const RowMatrix& X, const NoiseSampler& sampler, BatchModel& model, const EngineOptions& opt,
                   EngineResult& out, const RowMatrix& householder)
        : X_(X), sampler_(sampler), model_(model), opt_(opt), out_(out), householder_(householder), d_(X.cols()),
          n_(opt.n_samples) {}

    Index dim() const { return d_; }
    Index rows_per_point() const { return n_; }
    bool values() const { return opt_.clime || opt_.stein; }
    bool gradients() const { return opt_.smoothgrad; }

    void begin(State& s, Index point, bool, Index kept_bytes) const {
        s.point = point;
        if (values()) s.values.resize(n_);
        if (values() && n_ * d_ * Index(sizeof(double)) <= kept_bytes) s.normals.resize(n_, d_);
        if (gradients()) s.gradients = SampleMoments(d_, opt_.scheme);
    }

    // Rows of one point are consecutive samples: drawn in one call (short rows share vector
    // lanes), straight into the point's kept normals when it keeps them.
    void fill(State& s, Index point, Index first, Index count, double* rows) const {
        thread_local RowMatrix scratch;
        thread_local Vector eps;
        eps.resize(d_);
        double* z = s.normals.size() ? s.normals.row(first).data() : (scratch.resize(count, d_), scratch.data());
        sampler_.draw(opt_.seed, stream(point), static_cast<std::uint64_t>(first), count, z, opt_.scheme);
        rotate(point, z, count, d_, 1);
        for (Index i = 0; i < count; ++i) {
            sampler_.perturb(z + i * d_, eps.data());
            double* row = rows + i * d_;
            for (Index k = 0; k < d_; ++k) row[k] = X_(point, k) + eps[k];
        }
    }

    // Each point's rows in sample order; gradient coordinates are independent, so column blocks of
    // every piece run in parallel.
    void take(std::vector<Piece<State>>& pieces, const ModelOutput& y) const {
        if (y.values)
            for (const Piece<State>& p : pieces)
                std::copy(y.values + p.offset, y.values + p.offset + p.count, p.state().values.data() + p.first);
        if (!y.gradients) return;
        const Index col_blocks = (d_ + kColumnBlock - 1) / kColumnBlock;
        const Index tasks = static_cast<Index>(pieces.size()) * col_blocks;
        parallel_for(tasks, [&](Index task) {
            const Piece<State>& p = pieces[static_cast<size_t>(task / col_blocks)];
            const Index c0 = (task % col_blocks) * kColumnBlock, c1 = std::min(d_, c0 + kColumnBlock);
            p.state().gradients.add_columns(y.gradients + p.offset * d_, p.count, d_, c0, c1);
        });
        for (const Piece<State>& p : pieces) p.state().gradients.finish_rows(p.count);
    }

    bool finite(const State& s) const { return !gradients() || s.gradients.finite(); }

    Index fused_rows(State&) const { return n_; }

    // x + eps in float32, feature-major; a diagonal Gaussian is drawn feature-major too (x + s_k z_k,
    // the perturb() arithmetic, a column at a time).
    void fill_block(State& s, Index point, Index first, Index count, float* x) const {
        const Index B = kNetworkBlock;
        const bool diagonal = sampler_.is_gaussian() && sampler_.is_diagonal();
        thread_local RowMatrix Z;
        thread_local Vector eps;
        Z.resize(diagonal ? d_ : B, diagonal ? B : d_);
        eps.resize(d_);
        const auto s0 = static_cast<std::uint64_t>(first);
        if (diagonal) {
            sampler_.draw_columns(opt_.seed, stream(point), s0, count, Z.data(), B, opt_.scheme);
            rotate(point, Z.data(), count, 1, B);
            const Vector& scale = sampler_.scale();
            for (Index k = 0; k < d_; ++k) {
                const double xk = X_(point, k), sk = scale[k];
                const double* z = Z.data() + k * B;
                float* xcol = x + k * B;
                for (Index r = 0; r < count; ++r) xcol[r] = static_cast<float>(xk + sk * z[r]);
            }
            if (s.normals.size()) s.normals.middleRows(first, count) = Z.leftCols(count).transpose();
            return;
        }
        sampler_.draw(opt_.seed, stream(point), s0, count, Z.data(), opt_.scheme);
        rotate(point, Z.data(), count, d_, 1);
        for (Index r = 0; r < count; ++r) {
            sampler_.perturb(Z.row(r).data(), eps.data());
            for (Index k = 0; k < d_; ++k) x[k * B + r] = static_cast<float>(X_(point, k) + eps[k]);
        }
        if (s.normals.size()) s.normals.middleRows(first, count) = Z.topRows(count);
    }

    bool take_block(State& s, Index, Index first, Index count, const float* y, const float* g) const {
        bool ok = true;
        if (values()) {
            for (Index r = 0; r < count; ++r) {
                const double v = static_cast<double>(y[r]);
                ok = ok && std::isfinite(v);
                s.values[first + r] = v;
            }
        }
        if (gradients()) ok = s.gradients.add_feature_major(g, kNetworkBlock, count) && ok;
        return ok;
    }

    bool stops() const { return opt_.stop_tol > 0.0; }
    // Every requested estimator's standard errors <= stop_tol, after 2 stop blocks at least.
    // SmoothGrad's come from its running moments, after every block; Stein's and C-LIME's need a
    // pass over the point's samples (C-LIME's a fit), made when `taken` is 2 blocks times a power
    // of two: O(n d) (C-LIME: O(n d^2)) over all the looks.
    bool stop(const State& s, Index taken) const {
        if (taken < 2 * kStopBlock) return false;
        if (opt_.smoothgrad && s.gradients.stderr_of_mean().maxCoeff() > opt_.stop_tol) return false;
        if (!(opt_.stein || opt_.clime)) return true;
        const Index k = taken / (2 * kStopBlock);
        if (taken % (2 * kStopBlock) != 0 || (k & (k - 1)) != 0) return false;
        if (opt_.clime && taken < d_ + 2) return false;
        if (opt_.stein_cv && taken < SteinControlVariate(sampler_, opt_.scheme, d_).min_samples()) return false;
        const Estimates e = estimate(s, s.point, taken, false);
        if (opt_.stein && e.stein_se.maxCoeff() > opt_.stop_tol) return false;
        return !opt_.clime || (e.clime_solved && e.clime_se.maxCoeff() <= opt_.stop_tol);
    }

    void finalize(State& s, Index point, Index taken, bool parallel) const;

    struct Estimates {
        Vector smoothgrad, smoothgrad_se, stein, stein_se, clime, clime_se;
        bool clime_solved = true;
    };
    Estimates estimate(const State& s, Index point, Index n, bool parallel) const;

private:
    // Point p draws from stream offset + p, or every point from stream 0 (common random numbers).
    std::uint32_t stream(Index point) const {
        return opt_.common_draws ? 0u : point_stream(opt_.driver, point);
    }
    void point_normals(const State& s, Index point, Index first, Index rows, RowMatrix& Z) const;
    // QMC on a model with a gradient (qmc_directions): the point's normals reflected so that their
    // first coordinate, the Sobol' points' best, lies along the gradient at x in z space
    // (Imai & Tan's linear transformation); z <- z - 2 w (w . z), w the point's Householder vector
    // (zero: no reflection). Orthogonal, so z stays N(0, I) and every estimator unbiased.
    void rotate(Index point, double* z, Index rows, Index row_step, Index col_step) const {
        if (householder_.size() == 0) return;
        const double* w = householder_.row(point).data();
        for (Index t = 0; t < rows; ++t) {
            double dot = 0.0;
            for (Index k = 0; k < d_; ++k) dot += w[k] * z[t * row_step + k * col_step];
            for (Index k = 0; k < d_; ++k) z[t * row_step + k * col_step] -= 2.0 * dot * w[k];
        }
    }
    const RowMatrix& X_;
    const NoiseSampler& sampler_;
    BatchModel& model_;
    const EngineOptions& opt_;
    EngineResult& out_;
    const RowMatrix& householder_;  // (N, d) or empty
    Index d_, n_;
};

// The Householder vectors of the QMC reflection: w with (I - 2 w w^T) e_1 = u, u the unit
// direction of L^T grad f(x) (the gradient in z space), one model call per batch of points; zero
// rows where the gradient is zero or not finite (no reflection).
RowMatrix qmc_directions(const RowMatrix& X, const NoiseSampler& sampler, BatchModel& model, Index batch_rows) {
    const Index N = X.rows(), d = X.cols();
    RowMatrix W = RowMatrix::Zero(N, d);
    for (Index p0 = 0; p0 < N; p0 += batch_rows) {
        const Index m = std::min(batch_rows, N - p0);
        double* in = model.input_buffer(0, m, d);
        std::copy_n(X.row(p0).data(), m * d, in);
        const ModelOutput y = model.evaluate(0, m, d, false, true);
        for (Index t = 0; t < m; ++t) {
            Vector u(d);
            const double* g = y.gradients + t * d;
            if (sampler.is_diagonal())
                for (Index k = 0; k < d; ++k) u[k] = sampler.scale()[k] * g[k];
            else
                u = sampler.factor().transpose() * Eigen::Map<const Vector>(g, d);
            const double norm = u.norm();
            if (!(norm > 0.0 && std::isfinite(norm))) continue;
            u /= norm;
            u[0] -= 1.0;  // w = (u - e_1) / |u - e_1|
            const double len = u.norm();
            if (len > 1e-12) W.row(p0 + t) = (u / len).transpose();
        }
        model.check_interrupt();
    }
    return W;
}

// Standard normals of samples [first, first + rows) of a point: kept or drawn again.
void GaussianFamily::point_normals(const State& s, Index point, Index first, Index rows, RowMatrix& Z) const {
    if (s.normals.size()) {
        Z = s.normals.middleRows(first, rows);
    } else {
        Z.resize(rows, d_);
        sampler_.draw(opt_.seed, stream(point), static_cast<std::uint64_t>(first), rows, Z.data(), opt_.scheme);
        rotate(point, Z.data(), rows, d_, 1);
    }
}

void GaussianFamily::finalize(State& s, Index p, Index taken, bool parallel) const {
    out_.samples[static_cast<size_t>(p)] = taken;
    const Estimates e = estimate(s, p, taken, parallel);
    if (opt_.clime && !e.clime_solved) throw_singular_design(p);
    auto put = [p](Estimate& rows, const Vector& v, const Vector& se) {
        rows.values.row(p) = v.transpose();
        rows.stderr_.row(p) = se.transpose();
    };
    if (opt_.smoothgrad) put(out_.smoothgrad, e.smoothgrad, e.smoothgrad_se);
    if (opt_.stein) put(out_.stein, e.stein, e.stein_se);
    if (opt_.clime) put(out_.clime, e.clime, e.clime_se);
}

// Every requested estimate and its standard errors from the point's first n samples. The
// finalisation (parallel inside when the driver says so) and the stop rule's looks share it.
GaussianFamily::Estimates GaussianFamily::estimate(const State& s, Index p, Index n, bool parallel) const {
    const Index d = d_;
    Estimates e;
    if (opt_.smoothgrad) {
        e.smoothgrad = s.gradients.mean();
        e.smoothgrad_se = s.gradients.stderr_of_mean();
    }
    if (!(opt_.clime || opt_.stein)) return e;
    // Runs body(chunk, first_row, rows) for every finalisation chunk, kWaveChunks at a time, then
    // merge(chunk) in chunk order; only the driver's thread may take the GIL (Ctrl-C).
    auto for_each_chunk = [&](auto&& body, auto&& merge) {
        for_each_chunk_in_waves(n, kChunkRows, kWaveChunks, parallel, body, merge, [&] {
            if (parallel) model_.check_interrupt();
        });
    };

    const double fbar = n == n_ ? s.values.mean() : s.values.head(n).mean();
    // C-LIME reads kept normals in place, others from Z (drawn there unless Stein did).
    auto clime_normals = [&](Index first, Index rows, RowMatrix& Z) -> const double* {
        if (Z.size()) return Z.data();
        if (s.normals.size()) return s.normals.row(first).data();
        point_normals(s, p, first, rows, Z);
        return Z.data();
    };
    LeastSquaresSums cross;
    SteinTerms stein;
    std::vector<LeastSquaresSums> cross_part(kWaveChunks);
    std::vector<SteinTerms> stein_part(kWaveChunks);
    const bool plain_stein = opt_.stein && !opt_.stein_cv;
    const SteinEstimator plain(sampler_, opt_.scheme, d);
    SteinControlVariate cv(sampler_, opt_.scheme, d);
    std::vector<LeastSquaresSums> folds;
    std::vector<std::vector<LeastSquaresSums>> fold_part(kWaveChunks);
    for_each_chunk(
        [&](Index i, Index first, Index rows, Interruption& stop) {
            RowMatrix Z;
            if (opt_.stein) point_normals(s, p, first, rows, Z);
            const auto f = s.values.segment(first, rows);
            if (opt_.clime)
                cross_part[static_cast<size_t>(i)] =
                    LeastSquaresSums::of_rows(clime_normals(first, rows, Z), f.data(), rows, d, fbar, &stop);
            if (plain_stein) stein_part[static_cast<size_t>(i)] = plain.terms(Z, f.data(), fbar, first);
            if (opt_.stein_cv) fold_part[static_cast<size_t>(i)] = cv.fold_sums(Z.data(), f.data(), rows, first, fbar);
        },
        [&](Index i) {
            if (opt_.clime) cross.merge(cross_part[static_cast<size_t>(i)]);
            if (plain_stein) stein.merge(stein_part[static_cast<size_t>(i)]);
            if (opt_.stein_cv) SteinControlVariate::merge(folds, fold_part[static_cast<size_t>(i)]);
        });

    if (plain_stein) plain.estimate(stein, n, e.stein, e.stein_se);
    if (opt_.stein_cv) {  // the second pass: each sample's term with its fold's control
        if (!cv.fit(folds, fbar))
            throw std::invalid_argument("stein's control variate: the perturbation design is singular at point " +
                                        std::to_string(p) + "; use more samples");
        for_each_chunk(
            [&](Index i, Index first, Index rows, Interruption&) {
                RowMatrix Z;
                point_normals(s, p, first, rows, Z);
                stein_part[static_cast<size_t>(i)] = cv.terms(Z, s.values.data() + first, first);
            },
            [&](Index i) { stein.merge(stein_part[static_cast<size_t>(i)]); });
        cv.estimate(stein, n, e.stein, e.stein_se);
    }
    if (!opt_.clime) return e;

    // Least squares of f on [1, a - x] with an unpenalised intercept (the ridge form of paper 1,
    // Lemma 6) and HC1 standard errors, summed in z space (least_squares.hpp).
    const GaussianLeastSquares fit(cross, sampler_, opt_.ridge, fbar, opt_.scheme);
    e.clime_solved = fit.solved();
    if (!e.clime_solved) return e;
    e.clime = fit.slopes();
    Matrix meat = fit.meat_zero();
    std::vector<Matrix> meat_part(kWaveChunks);
    for_each_chunk(
        [&](Index i, Index first, Index rows, Interruption& stop) {
            RowMatrix Z;
            meat_part[static_cast<size_t>(i)] =
                fit.meat_of_rows(clime_normals(first, rows, Z), s.values.data() + first, rows, first, &stop);
        },
        [&](Index i) { meat += meat_part[static_cast<size_t>(i)]; });
    e.clime_se = fit.stderr_of(meat, [&] {
        if (parallel) model_.check_interrupt();
    });
    return e;
}


void validate(const RowMatrix& X, const NoiseSampler& sampler, const BatchModel& model, const EngineOptions& opt) {
    const Index d = X.cols();
    validate_points(X, opt.driver, opt.n_samples, 0, model);
    if (sampler.dim() != d)
        throw std::invalid_argument("the noise has " + std::to_string(sampler.dim()) + " coordinates but X has " +
                                    std::to_string(d) + " features");
    if (!(opt.smoothgrad || opt.clime || opt.stein)) throw std::invalid_argument("no method requested");
    // C-LIME = SmoothGrad and the Stein form rest on Stein's lemma, which is Gaussian (paper 1, Lemma 1).
    if ((opt.clime || opt.stein) && !sampler.is_gaussian())
        throw std::invalid_argument("clime and stein need Gaussian noise; other kernels support the mean gradient only");
    if (opt.n_samples < 2) throw std::invalid_argument("n_samples must be >= 2 (a standard error needs two samples)");
    validate_scheme(opt.scheme, opt.n_samples);
    if (opt.clime && opt.n_samples < d + 2)
        throw std::invalid_argument("clime needs n_samples >= d + 2 = " + std::to_string(d + 2) +
                                    " to fit an intercept and d slopes with a standard error; got " +
                                    std::to_string(opt.n_samples));
    if (!(std::isfinite(opt.ridge) && opt.ridge >= 0.0)) throw std::invalid_argument("ridge must be finite and >= 0");
    if (opt.stein_cv && opt.stein) {
        const Index need = SteinControlVariate(sampler, opt.scheme, d).min_samples();
        if (opt.n_samples < need)
            throw std::invalid_argument("stein's control variate fits d slopes on the other folds' samples: it needs n_samples >= " +
                                        std::to_string(need) + " for " + std::to_string(d) + " features; got " +
                                        std::to_string(opt.n_samples));
    }
    if (opt.smoothgrad && !model.has_gradient())
        throw std::invalid_argument("smoothgrad needs the model's gradient: pass grad= to gl.Model, or use clime/stein, which need only values");
    if (!(std::isfinite(opt.stop_tol) && opt.stop_tol >= 0.0)) throw std::invalid_argument("tol must be finite and >= 0");
}

}  // namespace

EngineResult run_engine(const RowMatrix& X, const NoiseSampler& sampler, BatchModel& model,
                        const EngineOptions& opt) {
    validate(X, sampler, model, opt);
    if (on_device(opt.driver.device))
        return device::run_engine_on_device(X, sampler, model, opt);
    const Index N = X.rows(), d = X.cols();
    EngineResult out;  // methods not asked for stay empty
    if (opt.smoothgrad) out.smoothgrad = {RowMatrix::Zero(N, d), RowMatrix::Zero(N, d)};
    if (opt.clime) out.clime = {RowMatrix::Zero(N, d), RowMatrix::Zero(N, d)};
    if (opt.stein) out.stein = {RowMatrix::Zero(N, d), RowMatrix::Zero(N, d)};
    out.samples.assign(static_cast<size_t>(N), 0);
    const RowMatrix householder = opt.scheme.qmc() && sampler.is_gaussian() && model.has_gradient() && !opt.common_draws
                                      ? qmc_directions(X, sampler, model, std::max<Index>(1, opt.driver.batch_rows))
                                      : RowMatrix();
    run_driver(GaussianFamily(X, sampler, model, opt, out, householder), model, N, opt.driver);
    return out;
}

}  // namespace gradlime
