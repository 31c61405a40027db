// Stein's estimators: plain, and with a cross-fitted linear control variate (stein.hpp).
#include "gradlime/stein.hpp"

#include <cmath>

namespace gradlime {

void SteinTerms::merge(const SteinTerms& other) {
    units.merge(other.units);
    scrambles.merge(other.scrambles);
}

SteinTerms SteinEstimator::terms(const RowMatrix& Z, const double* f, double fbar, Index first) const {
    RowMatrix D;  // rows (Sigma^-1 e)^T
    noise_.dual_rows(Z, D);
    SteinTerms out;
    if (scheme_.qmc()) {  // per scramble: [Sigma^-1 e (f - fbar), Sigma^-1 e, f - fbar], (R, 2d + 1)
        out.scrambles.sums = RowMatrix::Zero(scheme_.scrambles, 2 * d_ + 1);
        for (Index t = 0; t < Z.rows(); ++t) {
            double* row = out.scrambles.sums.row(scheme_.cluster_of(first + t)).data();
            const double g = f[t] - fbar;
            for (Index k = 0; k < d_; ++k) {
                row[k] += D(t, k) * g;
                row[d_ + k] += D(t, k);
            }
            row[2 * d_] += g;
        }
        return out;
    }
    D.array().colwise() *= (Eigen::Map<const Vector>(f, Z.rows()).array() - fbar);
    if (paired()) {  // antithetic pairs are the independent units: their mean rows
        const Index G = D.rows() / 2;
        for (Index g = 0; g < G; ++g) D.row(g) = 0.5 * (D.row(2 * g) + D.row(2 * g + 1));
        D.conservativeResize(G, Eigen::NoChange);
    }
    out.units = ColumnMoments::of_block(D);
    return out;
}

void SteinEstimator::estimate(const SteinTerms& t, Index n, Vector& value, Vector& se) const {
    if (scheme_.qmc()) {  // scramble r centred by the other scrambles' mean of f
        const Index R = scheme_.scrambles;
        const RowMatrix& c = t.scrambles.sums;
        const double per = static_cast<double>(n / R), total = c.col(2 * d_).sum();
        RowMatrix T(R, d_);
        for (Index r = 0; r < R; ++r) {
            const double others = (total - c(r, 2 * d_)) / (static_cast<double>(n) - per);
            for (Index k = 0; k < d_; ++k) T(r, k) = (c(r, k) - others * c(r, d_ + k)) / per;
        }
        value = T.colwise().mean().transpose();
        se = stderr_of_cluster_means(T);
        return;
    }
    // Dividing by n - 1 makes the estimate unbiased: centring by the sample mean of f shrinks
    // E[(a - x)(f - mean f)] by (n - 1) / n. Antithetic pairs sum to zero, so there the centring
    // takes nothing away (scale 1).
    const double scale = paired() ? 1.0 : static_cast<double>(n) / (n - 1.0);
    const double units = paired() ? static_cast<double>(n) / 2.0 : static_cast<double>(n);
    value = t.units.mean * scale;
    se = (t.units.m2 / ((units - 1.0) * units)).cwiseSqrt() * scale;
}

SteinControlVariate::SteinControlVariate(const NoiseSampler& noise, const SampleScheme& scheme, Index d)
    : noise_(noise), scheme_(scheme), d_(d), folds_(scheme.qmc() ? scheme.scrambles : kFolds) {}

Index SteinControlVariate::fold_of(Index j) const {
    return scheme_.qmc() ? scheme_.cluster_of(j) : static_cast<Index>(SampleScheme::unit_sample(
                                                         static_cast<std::uint64_t>(j), scheme_.antithetic)) %
                                                         folds_;
}

Index SteinControlVariate::min_samples() const {
    // the smallest fold complement, (folds - 1) / folds of the samples, must hold d + 2
    const Index round = scheme_.qmc() ? scheme_.round() : (scheme_.antithetic ? 2 : 1) * folds_;
    Index n = round;
    while (n * (folds_ - 1) / folds_ < d_ + 2) n += round;
    return n;
}

std::vector<LeastSquaresSums> SteinControlVariate::fold_sums(const double* Z, const double* f, Index rows, Index first,
                                                             double fbar) const {
    std::vector<LeastSquaresSums> out(static_cast<size_t>(folds_));
    std::vector<double> zk, fk;
    for (Index k = 0; k < folds_; ++k) {
        zk.clear();
        fk.clear();
        for (Index t = 0; t < rows; ++t)
            if (fold_of(first + t) == k) {
                zk.insert(zk.end(), Z + t * d_, Z + (t + 1) * d_);
                fk.push_back(f[t]);
            }
        const auto m = static_cast<Index>(fk.size());
        if (m > 0) out[static_cast<size_t>(k)] = LeastSquaresSums::of_rows(zk.data(), fk.data(), m, d_, fbar);
    }
    return out;
}

void SteinControlVariate::merge(std::vector<LeastSquaresSums>& into, const std::vector<LeastSquaresSums>& part) {
    if (into.empty()) into.resize(part.size());
    for (size_t k = 0; k < part.size(); ++k) into[k].merge(part[k]);
}

bool SteinControlVariate::fit(const std::vector<LeastSquaresSums>& folds, double fbar) {
    w_.assign(static_cast<size_t>(folds_), Vector());
    v_.assign(static_cast<size_t>(folds_), Vector());
    alpha_.assign(static_cast<size_t>(folds_), 0.0);
    for (Index k = 0; k < folds_; ++k) {
        LeastSquaresSums others;  // the other folds' sums, added in fold order
        for (Index o = 0; o < folds_; ++o)
            if (o != k) others.merge(folds[static_cast<size_t>(o)]);
        const GaussianLeastSquares fit(others, noise_, 0.0, fbar);
        if (!fit.solved()) return false;
        w_[static_cast<size_t>(k)] = fit.slopes();
        v_[static_cast<size_t>(k)] = fit.slopes_z();
        alpha_[static_cast<size_t>(k)] = fit.intercept();
    }
    return true;
}

SteinTerms SteinControlVariate::terms(const RowMatrix& Z, const double* f, Index first) const {
    RowMatrix D;  // rows (Sigma^-1 e)^T
    noise_.dual_rows(Z, D);
    const Index rows = Z.rows();
    for (Index t = 0; t < rows; ++t) {
        const auto k = static_cast<size_t>(fold_of(first + t));
        const double r = f[t] - alpha_[k] - Z.row(t).dot(v_[k]);
        D.row(t) = D.row(t) * r + w_[k].transpose();
    }
    SteinTerms out;
    if (scheme_.qmc()) {
        out.scrambles.sums = RowMatrix::Zero(scheme_.scrambles, d_);
        for (Index t = 0; t < rows; ++t) out.scrambles.sums.row(scheme_.cluster_of(first + t)) += D.row(t);
        return out;
    }
    if (scheme_.antithetic) {  // chunks hold whole pairs: the pairs' mean terms are the units
        const Index G = rows / 2;
        for (Index g = 0; g < G; ++g) D.row(g) = 0.5 * (D.row(2 * g) + D.row(2 * g + 1));
        D.conservativeResize(G, Eigen::NoChange);
    }
    out.units = ColumnMoments::of_block(D);
    return out;
}

void SteinControlVariate::estimate(const SteinTerms& t, Index n, Vector& value, Vector& se) const {
    if (scheme_.qmc()) {
        const RowMatrix means = t.scrambles.sums / static_cast<double>(n / scheme_.scrambles);
        value = means.colwise().mean().transpose();
        se = stderr_of_cluster_means(means);
        return;
    }
    const double units = static_cast<double>(t.units.count);
    value = t.units.mean;
    se = (t.units.m2 / ((units - 1.0) * units)).cwiseSqrt();
}

}  // namespace gradlime
