#include "gradlime/accumulators.hpp"

#include <algorithm>
#include <cmath>

namespace gradlime {

GradientMoments::GradientMoments(Index d)
    : shift_(Vector::Zero(d)), sum_(Vector::Zero(d)), sumsq_(Vector::Zero(d)) {}

void GradientMoments::add_columns(const double* rows, Index m, Index d, Index c0, Index c1,
                                  bool first_rows) {
    if (m == 0) return;
    if (first_rows) {
        for (Index k = c0; k < c1; ++k) shift_[k] = rows[k];
    }
    for (Index r = 0; r < m; ++r) {
        const double* g = rows + r * d;
        for (Index k = c0; k < c1; ++k) {
            const double delta = g[k] - shift_[k];
            sum_[k] += delta;
            sumsq_[k] += delta * delta;
        }
    }
}

Vector GradientMoments::mean() const {
    return shift_ + sum_ / static_cast<double>(count_);
}

Vector GradientMoments::stderr_of_mean() const {
    const double n = static_cast<double>(count_);
    Vector se(shift_.size());
    for (Index k = 0; k < se.size(); ++k) {
        const double var = std::max(0.0, (sumsq_[k] - sum_[k] * sum_[k] / n) / (n - 1.0));
        se[k] = std::sqrt(var / n);
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

CrossMoments CrossMoments::of_block(const RowMatrix& E, const Eigen::Ref<const Vector>& f) {
    CrossMoments c;
    const Index d = E.cols();
    c.count = E.rows();
    c.mean_e = E.colwise().mean().transpose();
    c.mean_f = f.mean();
    const RowMatrix centred = E.rowwise() - c.mean_e.transpose();
    c.exx = Matrix::Zero(d, d);
    c.exx.selfadjointView<Eigen::Lower>().rankUpdate(centred.transpose());
    c.exf.noalias() = centred.transpose() * (f.array() - c.mean_f).matrix();
    return c;
}

void CrossMoments::merge(const CrossMoments& other) {
    if (other.count == 0) return;
    if (count == 0) {
        *this = other;
        return;
    }
    const double na = static_cast<double>(count), nb = static_cast<double>(other.count);
    const double n = na + nb;
    const Vector de = other.mean_e - mean_e;
    const double df = other.mean_f - mean_f;
    const double w = na * nb / n;
    exx += other.exx;
    exx.selfadjointView<Eigen::Lower>().rankUpdate(de, w);
    exf += other.exf + de * (w * df);
    mean_e += de * (nb / n);
    mean_f += df * (nb / n);
    count += other.count;
}

Vector sandwich_stderr(const Eigen::LLT<Matrix>& bread, const Matrix& meat, double scale) {
    const Index d = meat.rows();
    const Matrix Ainv = bread.solve(Matrix::Identity(d, d));
    const Matrix B = Matrix(meat.selfadjointView<Eigen::Lower>()) * Ainv;
    Vector se(d);
    for (Index k = 0; k < d; ++k) se[k] = std::sqrt(std::max(0.0, Ainv.col(k).dot(B.col(k)) * scale));
    return se;
}

Matrix CrossMoments::symmetric_exx() const {
    return exx.selfadjointView<Eigen::Lower>();
}

WeightedCrossMoments WeightedCrossMoments::of_block(const RowMatrix& Z, const Eigen::Ref<const Vector>& w,
                                                   const Eigen::Ref<const Vector>& y) {
    WeightedCrossMoments c;
    const Index d = Z.cols();
    c.weight = w.sum();
    c.mean_z = Vector::Zero(d);
    c.szz = Matrix::Zero(d, d);
    c.szy = Vector::Zero(d);
    if (!(c.weight > 0.0)) {
        c.weight = 0.0;
        return c;
    }
    c.mean_z.noalias() = Z.transpose() * w;
    c.mean_z /= c.weight;
    c.mean_y = w.dot(y) / c.weight;
    RowMatrix centred = Z.rowwise() - c.mean_z.transpose();
    c.szy.noalias() = centred.transpose() * (w.array() * (y.array() - c.mean_y)).matrix();
    centred.array().colwise() *= w.array().sqrt();
    c.szz.selfadjointView<Eigen::Lower>().rankUpdate(centred.transpose());
    return c;
}

void WeightedCrossMoments::merge(const WeightedCrossMoments& other) {
    if (!(other.weight > 0.0)) return;
    if (!(weight > 0.0)) {
        *this = other;
        return;
    }
    const double wa = weight, wb = other.weight, w = wa + wb;
    const Vector dz = other.mean_z - mean_z;
    const double dy = other.mean_y - mean_y;
    const double f = wa * wb / w;
    szz += other.szz;
    szz.selfadjointView<Eigen::Lower>().rankUpdate(dz, f);
    szy += other.szy + dz * (f * dy);
    mean_z += dz * (wb / w);
    mean_y += dy * (wb / w);
    weight = w;
}

Matrix WeightedCrossMoments::symmetric_szz() const {
    return szz.selfadjointView<Eigen::Lower>();
}

}  // namespace gradlime
