// Streaming statistics, each combined in a fixed order so that results are bitwise reproducible
// whatever the number of threads, the batch size or the chunking.
#pragma once

#include <functional>

#include <Eigen/Cholesky>

#include "gradlime/sample_scheme.hpp"
#include "gradlime/types.hpp"

namespace gradlime {

// Per-coordinate mean and variance of a stream of gradient rows (SmoothGrad, paper 1 eq. in 2.1).
// Sums are shifted by the first row, which keeps the variance accurate when the spread is small
// next to the mean and makes a constant stream (a linear model) return its value exactly.
// Row s of the stream goes to the partial sums of lane s mod kLanes, merged in a fixed tree at the
// end: the arithmetic depends only on the stream, never on how it is cut into calls, and a
// feature-major block's rows fill a vector register's lanes.
class GradientMoments {
public:
    static constexpr Index kLanes = 8;
    explicit GradientMoments(Index d = 0);
    // Add the next m rows' column block [c0, c1) from a row-major (m, d) array. Every column block
    // of these rows must be added before finish_rows(m); blocks may be added in parallel.
    void add_columns(const double* rows, Index m, Index d, Index c0, Index c1);
    void finish_rows(Index m) { count_ += m; }
    // The next m rows from a feature-major float block (coordinate k of row r at g[k * ld + r]),
    // finish_rows included. The same sums as add_columns on the rows cast to double. Returns
    // whether the sums it touched are all still finite.
    bool add_feature_major(const float* g, Index ld, Index m);
    Index count() const { return count_; }
    Vector mean() const;
    Vector stderr_of_mean() const;
    bool finite() const { return sum_.allFinite() && sumsq_.allFinite(); }

private:
    Index count_ = 0;
    Vector shift_;
    RowMatrix sum_, sumsq_;  // (kLanes, d)
};

// SmoothGrad's moments with the standard error over a scheme's independent units
// (sample_scheme.hpp). The mean is always the samples'. Antithetic pairs: each pair's mean
// gradient goes to the moments (their correlation included), a pair cut by a batch boundary
// waiting for its second row. QMC: the samples' moments give the mean, and per-scramble sums the
// standard error (the spread of the R scrambles' means). Monte Carlo: GradientMoments' own (same
// bits). Rows come in sample order, as to GradientMoments.
class SampleMoments {
public:
    explicit SampleMoments(Index d = 0, const SampleScheme& scheme = {});
    void add_columns(const double* rows, Index m, Index d, Index c0, Index c1);
    void finish_rows(Index m);
    bool add_feature_major(const float* g, Index ld, Index m);
    Vector mean() const { return moments_.mean(); }
    Vector stderr_of_mean() const;
    bool finite() const { return moments_.finite(); }

private:
    bool paired() const { return scheme_.antithetic && !scheme_.qmc(); }
    GradientMoments moments_;
    Vector pending_;  // paired: the first row of a pair whose second has not come yet
    Vector shift_;        // QMC: the first row, subtracted from the scrambles' sums
    RowMatrix scrambles_;  // QMC: (R, d) sums of g - shift per scramble
    Index samples_ = 0;
    SampleScheme scheme_;
};

// Sums of rows per cluster (QMC: per scramble), merged by addition in a fixed order.
struct ClusterSums {
    RowMatrix sums;  // (clusters, columns)
    void merge(const ClusterSums& other) {
        if (sums.size() == 0) sums = other.sums;
        else if (other.sums.size()) sums += other.sums;
    }
};

// The standard error of a mean from R independent cluster means, sqrt(var / R), per column.
Vector stderr_of_cluster_means(const RowMatrix& means);

// Mean and centred second moment per column (Chan, Golub & LeVeque pairwise update).
struct ColumnMoments {
    Index count = 0;
    Vector mean, m2;
    static ColumnMoments of_block(const RowMatrix& U);
    void merge(const ColumnMoments& other);
};

// Standard errors of a least-squares fit from the heteroscedasticity-consistent sandwich
// A^-1 M A^-1 (White 1980): sqrt of its diagonal times `scale` (n / (n - p) for HC1).
// `bread` factorises A; only the lower triangle of `meat` is read. O(d^3): done kSandwichColumns
// diagonal entries at a time, with check() (Ctrl-C) between them, and A^-1 never held whole.
constexpr Index kSandwichColumns = 256;
Vector sandwich_stderr(const Eigen::LLT<Matrix>& bread, const Matrix& meat, double scale,
                       const std::function<void()>& check);

}  // namespace gradlime
