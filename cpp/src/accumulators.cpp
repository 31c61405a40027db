#include "gradlime/accumulators.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "gradlime/device/gaussian_sums.hpp"
#include "gradlime/device/strided.hpp"
#include "gradlime/simd/vectors.hpp"

namespace gradlime {

GradientMoments::GradientMoments(Index d)
    : shift_(Vector::Zero(d)), sum_(RowMatrix::Zero(kLanes, d)), sumsq_(RowMatrix::Zero(kLanes, d)) {}

void GradientMoments::add_columns(const double* rows, Index m, Index d, Index c0, Index c1) {
    if (m == 0) return;
    if (count_ == 0) {
        for (Index k = c0; k < c1; ++k) shift_[k] = rows[k];
    }
    for (Index r = 0; r < m; ++r) {
        const double* g = rows + r * d;
        const Index lane = (count_ + r) % kLanes;
        double* sum = sum_.row(lane).data();
        double* sumsq = sumsq_.row(lane).data();
        for (Index k = c0; k < c1; ++k) {
            const double delta = g[k] - shift_[k];
            sum[k] += delta;
            sumsq[k] += delta * delta;
        }
    }
}

bool GradientMoments::add_feature_major(const float* g, Index ld, Index m) {
    const Index d = shift_.size();
    if (m > 0 && count_ == 0) {
        for (Index k = 0; k < d; ++k) shift_[k] = static_cast<double>(g[k * ld]);
    }
    // kLanes doubles in one register: lane i takes rows r + i; the IEEE operations of the scalar
    // loop, lane by lane.
    using Lanes = simd::f64x8;
    using FloatLanes = simd::f32x8;
    static_assert(sizeof(Lanes) == kLanes * sizeof(double), "a lane per row of a register");
    Lanes nonfinite = {};  // stays 0 while every sum is finite (x - x is NaN for inf and NaN)
    for (Index k = 0; k < d; ++k) {
        const float* col = g + k * ld;
        const double shift = shift_[k];
        double sum[kLanes], sumsq[kLanes];
        for (Index i = 0; i < kLanes; ++i) {
            sum[i] = sum_(i, k);
            sumsq[i] = sumsq_(i, k);
        }
        Index r = 0;
        if (count_ % kLanes == 0) {  // whole registers: row r + i goes to lane i
            Lanes S, Q;
            std::memcpy(&S, sum, sizeof S);
            std::memcpy(&Q, sumsq, sizeof Q);
            for (; r + kLanes <= m; r += kLanes) {
                FloatLanes f;
                std::memcpy(&f, col + r, sizeof f);
                const Lanes delta = __builtin_convertvector(f, Lanes) - shift;
                S += delta;
                Q += delta * delta;
            }
            nonfinite += (S - S) + (Q - Q);
            std::memcpy(sum, &S, sizeof S);
            std::memcpy(sumsq, &Q, sizeof Q);
        }
        for (; r < m; ++r) {
            const Index lane = (count_ + r) % kLanes;
            const double delta = static_cast<double>(col[r]) - shift;
            sum[lane] += delta;
            sumsq[lane] += delta * delta;
            nonfinite[0] += (sum[lane] - sum[lane]) + (sumsq[lane] - sumsq[lane]);
        }
        for (Index i = 0; i < kLanes; ++i) {
            sum_(i, k) = sum[i];
            sumsq_(i, k) = sumsq[i];
        }
    }
    count_ += m;
    for (Index i = 0; i < kLanes; ++i)
        if (!(nonfinite[i] == 0.0)) return false;
    return true;
}

// The lanes' partial sums merged in a fixed tree: ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7)).
// Feature k's lanes, column k of a (kLanes, d) row-major array.
static device::Strided<const double> lanes_of(const RowMatrix& lanes, Index k) {
    static_assert(GradientMoments::kLanes == device::kMomentLanes, "the merge tree is written for 8 lanes");
    return {lanes.data() + k, lanes.cols()};
}

Vector GradientMoments::mean() const {
    Vector m(shift_.size());
    for (Index k = 0; k < m.size(); ++k) m[k] = device::moments_mean(lanes_of(sum_, k), shift_[k], count_);
    return m;
}

Vector GradientMoments::stderr_of_mean() const {
    Vector se(shift_.size());
    for (Index k = 0; k < se.size(); ++k)
        se[k] = device::moments_stderr(lanes_of(sum_, k), lanes_of(sumsq_, k), count_);
    return se;
}

SampleMoments::SampleMoments(Index d, const SampleScheme& scheme)
    : moments_(d), pending_(scheme.antithetic && !scheme.qmc() ? d : 0), scheme_(scheme) {
    if (scheme.qmc()) {
        shift_ = Vector::Zero(d);
        scrambles_ = RowMatrix::Zero(scheme.scrambles, d);
    }
}

void SampleMoments::add_columns(const double* rows, Index m, Index d, Index c0, Index c1) {
    if (scheme_.qmc()) {
        moments_.add_columns(rows, m, d, c0, c1);
        if (m > 0 && samples_ == 0)
            for (Index k = c0; k < c1; ++k) shift_[k] = rows[k];
        for (Index r = 0; r < m; ++r) {
            double* sum = scrambles_.row(scheme_.cluster_of(samples_ + r)).data();
            for (Index k = c0; k < c1; ++k) sum[k] += rows[r * d + k] - shift_[k];
        }
        return;
    }
    if (!paired()) return moments_.add_columns(rows, m, d, c0, c1);
    thread_local std::vector<double> pairs;  // this call's pair means, row-major, columns [c0, c1)
    pairs.resize(static_cast<size_t>((m / 2 + 1) * d));
    Index r = 0, n = 0;
    if (samples_ % 2 == 1 && m > 0) {  // the second row of the waiting pair
        for (Index k = c0; k < c1; ++k) pairs[static_cast<size_t>(k)] = 0.5 * (pending_[k] + rows[k]);
        r = n = 1;
    }
    for (; r + 1 < m; r += 2, ++n)
        for (Index k = c0; k < c1; ++k)
            pairs[static_cast<size_t>(n * d + k)] = 0.5 * (rows[r * d + k] + rows[(r + 1) * d + k]);
    if (r < m)
        for (Index k = c0; k < c1; ++k) pending_[k] = rows[r * d + k];
    moments_.add_columns(pairs.data(), n, d, c0, c1);
}

void SampleMoments::finish_rows(Index m) {
    if (!paired()) moments_.finish_rows(m);
    else moments_.finish_rows((samples_ + m) / 2 - samples_ / 2);  // the pairs these rows completed
    samples_ += m;
}

bool SampleMoments::add_feature_major(const float* g, Index ld, Index m) {
    if (scheme_.qmc()) {
        const Index d = shift_.size();
        if (m > 0 && samples_ == 0)
            for (Index k = 0; k < d; ++k) shift_[k] = static_cast<double>(g[k * ld]);
        for (Index r = 0; r < m; ++r) {
            double* sum = scrambles_.row(scheme_.cluster_of(samples_ + r)).data();
            for (Index k = 0; k < d; ++k) sum[k] += static_cast<double>(g[k * ld + r]) - shift_[k];
        }
        samples_ += m;
        return moments_.add_feature_major(g, ld, m);
    }
    if (!paired()) {
        samples_ += m;
        return moments_.add_feature_major(g, ld, m);
    }
    // The fused path's blocks start at even samples and hold whole pairs (n is even): the pair
    // means in double, as add_columns makes them from the same rows.
    const Index d = pending_.size(), n = m / 2;
    thread_local std::vector<double> pairs;
    pairs.resize(static_cast<size_t>(n * d));
    for (Index k = 0; k < d; ++k)
        for (Index i = 0; i < n; ++i)
            pairs[static_cast<size_t>(i * d + k)] =
                0.5 * (static_cast<double>(g[k * ld + 2 * i]) + static_cast<double>(g[k * ld + 2 * i + 1]));
    moments_.add_columns(pairs.data(), n, d, 0, d);
    moments_.finish_rows(n);
    samples_ += m;
    return moments_.finite();
}

Vector SampleMoments::stderr_of_mean() const {
    if (!scheme_.qmc()) return moments_.stderr_of_mean();
    // Each scramble holds samples_ / R samples (the driver stops at whole rounds).
    const double per = static_cast<double>(samples_ / scheme_.scrambles);
    return stderr_of_cluster_means(scrambles_ / per);
}

Vector stderr_of_cluster_means(const RowMatrix& means) {
    const Index R = means.rows();
    const Vector centre = means.colwise().mean().transpose();
    Vector se(means.cols());
    for (Index k = 0; k < se.size(); ++k) {
        double ss = 0.0;
        for (Index r = 0; r < R; ++r) ss += (means(r, k) - centre[k]) * (means(r, k) - centre[k]);
        se[k] = std::sqrt(ss / (static_cast<double>(R) * (R - 1.0)));
    }
    return se;
}

ColumnMoments ColumnMoments::of_block(const RowMatrix& U) {
    ColumnMoments c;
    c.count = U.rows();
    c.mean = U.colwise().mean().transpose();
    c.m2 = (U.rowwise() - c.mean.transpose()).colwise().squaredNorm().transpose();
    return c;
}

void ColumnMoments::merge(const ColumnMoments& other) {
    if (other.count == 0) return;
    if (count == 0) {
        *this = other;
        return;
    }
    const double na = static_cast<double>(count), nb = static_cast<double>(other.count);
    const double n = na + nb;
    const Vector delta = other.mean - mean;
    mean += delta * (nb / n);
    m2 += other.m2 + delta.cwiseAbs2() * (na * nb / n);
    count += other.count;
}

Vector sandwich_stderr(const Eigen::LLT<Matrix>& bread, const Matrix& meat, double scale,
                       const std::function<void()>& check) {
    // se_k^2 = (A^-1 e_k)^T M (A^-1 e_k) scale: a block of columns of A^-1 at a time.
    const Index d = meat.rows();
    const Matrix M = meat.selfadjointView<Eigen::Lower>();
    Vector se(d);
    for (Index k0 = 0; k0 < d; k0 += kSandwichColumns) {
        const Index cols = std::min(kSandwichColumns, d - k0);
        const Matrix Ainv = bread.solve(Matrix::Identity(d, d).middleCols(k0, cols));
        const Matrix B = M * Ainv;
        for (Index k = 0; k < cols; ++k)
            se[k0 + k] = std::sqrt(std::max(0.0, Ainv.col(k).dot(B.col(k)) * scale));
        check();
    }
    return se;
}

}  // namespace gradlime
