// KernelSHAP's exact mode: the fit over all 2^d - 2 coalitions (shap.hpp).
#include <Eigen/QR>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "gradlime/parallel.hpp"
#include "gradlime/shap.hpp"

namespace gradlime {

namespace {

// Fixed work units: part of the arithmetic (which partial sums are formed, merged in which order),
// so they never depend on threads or batch size.
constexpr Index kChunk = 256;     // coalitions per partial least-squares sum
constexpr Index kWaveChunks = 8;  // chunks whose partial sums are held at once

}  // namespace

void exact_shapley_values(const ShapleyCoalitions& coalitions, const Vector& sums, double B, double v0, double delta,
                          bool parallel, const std::function<void()>& check, double* phi) {
    const Index d = coalitions.dim(), q = d - 1, n = coalitions.size();
    // One chunk's design rows u = z_{<d} - z_d and responses t, both scaled by sqrt(w).
    auto design = [&](Index first, Index count, RowMatrix& U, Vector& t) {
        std::vector<std::uint8_t> z(static_cast<size_t>(d));
        U.resize(count, q);
        t.resize(count);
        for (Index i = 0; i < count; ++i) {
            const double w = coalitions.exact_mask(first + i, z.data());
            const double zd = z[static_cast<size_t>(q)];
            for (Index k = 0; k < q; ++k) U(i, k) = static_cast<double>(z[static_cast<size_t>(k)]) - zd;
            t(i) = (sums(first + i) / B - v0) - zd * delta;
            if (w != 1.0) {
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
    for_each_chunk_in_waves(n, kChunk, kWaveChunks, parallel,
        [&](Index i, Index first, Index count, Interruption&) {
            RowMatrix U;
            Vector t;
            design(first, count, U, t);
            Matrix& Ai = A_part[static_cast<size_t>(i)];
            Ai = Matrix::Zero(q, q);
            Ai.selfadjointView<Eigen::Lower>().rankUpdate(U.transpose());
            rhs_part[static_cast<size_t>(i)] = U.transpose() * t;
        },
        [&](Index i) {
            A += A_part[static_cast<size_t>(i)];
            rhs += rhs_part[static_cast<size_t>(i)];
        },
        check);
    const Matrix Afull = A.selfadjointView<Eigen::Lower>();
    // Pivoted QR: deterministic, and a minimum-norm answer when few samples leave A singular.
    const Eigen::CompleteOrthogonalDecomposition<Matrix> cod(Afull);
    const Vector beta = cod.solve(rhs);
    std::copy(beta.data(), beta.data() + q, phi);
    phi[q] = delta - beta.sum();
}

}  // namespace gradlime
