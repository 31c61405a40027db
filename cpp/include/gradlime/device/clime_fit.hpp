// C-LIME's solve and its HC1 standard errors on the device, from a point's least-squares and meat
// sums (device/passes.hpp), written once for the host reference and the CUDA kernel (GRADLIME_HD),
// so that only the (m, d) slopes and standard errors leave the device, not the (d + 1)^2 sums.
//
// The arithmetic is GaussianLeastSquares' (least_squares.cpp; paper 1, Theorem 1, ridge: Appendix
// D, Lemma 6) for a diagonal Gaussian e = s z: centring removes the intercept, A = S_ee + n lambda I
// with S_ee = s S_zz s, b = s S_zg, w = A^-1 b (the slopes in e), v = s w (the slopes in z), and
// se_k^2 = (A^-1 e_k)^T (s M_z s) (A^-1 e_k) n / (n - d - 1). Its solves are a plain right-looking
// Cholesky factorisation and triangular solves, where the CPU engine's are Eigen's blocked ones: the
// two agree to double rounding, not bit for bit.
//
// Each fit is a program of steps whose entries are independent (none reads what another entry of
// its step writes), so a CUDA block runs a step's entries on its threads between two barriers and
// the host reference runs them in a loop: every entry is the same operations in the same order on
// both, so the device's bits are the reference's. The fit's steps, for a point of d features:
//
//   step 0           A (lower triangle), b into w, zbar, gbar, the flag
//   step 1 + 2j      column j of the factor: L_ij = A_ij / sqrt(A_jj), i > j
//   step 2 + 2j      A_jj = sqrt(A_jj) (the flag when A_jj <= 0, as Eigen's LLT fails), and the
//                    trailing update A_ik -= L_ij L_kj, j < k <= i
//   step 2d + 1      w = L^-T L^-1 b, v = s w
//
// and the standard errors one step, entry k: a = L^-T L^-1 e_k (scratch column k), then
// se_k = sqrt(max(0, a^T (s M_z s) a n / (n - d - 1))).
#pragma once

#include <cstdint>

#include "gradlime/device/draws.hpp"
#include "gradlime/device/gaussian_sums.hpp"
#include "gradlime/hd.hpp"

namespace gradlime::device {

// The chunk's arrays, point i's at i times its size: the least-squares sums (Pass::LeastSquares,
// width each), the meat sums (Pass::Meat, packed d each), the scratch (2 d^2: the factor, then
// the standard errors' columns), and the outputs.
struct ClimeFitChunk {
    int d = 0;
    std::int64_t n = 0, width = 0;
    double ridge = 0.0;
    const double* scale = nullptr;  // s (d)
    const double* sums = nullptr;
    const double* meat = nullptr;
    double* scratch = nullptr;
    double *w = nullptr, *v = nullptr, *zbar = nullptr, *gbar = nullptr, *se = nullptr;  // (m, d), gbar (m)
    int* singular = nullptr;                                                             // (m)
};

enum class ClimeStage : int { Fit, Errors };

GRADLIME_HD inline int clime_steps(ClimeStage stage, int d) { return stage == ClimeStage::Fit ? 2 * d + 2 : 1; }

GRADLIME_HD inline std::int64_t clime_entries(ClimeStage stage, int d, int q) {
    if (stage == ClimeStage::Errors) return d;
    if (q == 0) return packed_size(d) + d + 1;
    if (q == 2 * d + 1) return 1;
    const int j = (q - 1) / 2;
    return q % 2 == 1 ? d - j - 1 : 1 + packed_size(d - j - 1);
}

namespace clime_detail {

// a - b c, never fused.
GRADLIME_HD inline double sub_mul(double a, double b, double c) { return add_rn(a, -mul_rn(b, c)); }

// x = L^-T L^-1 x in place, L the lower triangle of the d x d row-major factor.
GRADLIME_HD inline void cholesky_solve(const double* L, int d, double* x) {
    for (int i = 0; i < d; ++i) {
        double acc = x[i];
        for (int j = 0; j < i; ++j) acc = sub_mul(acc, L[i * d + j], x[j]);
        x[i] = acc / L[i * d + i];
    }
    for (int i = d - 1; i >= 0; --i) {
        double acc = x[i];
        for (int j = i + 1; j < d; ++j) acc = sub_mul(acc, L[j * d + i], x[j]);
        x[i] = acc / L[i * d + i];
    }
}

GRADLIME_HD inline void fit_entry(const ClimeFitChunk& c, std::int64_t i, int q, std::int64_t e) {
    const int d = c.d;
    const double n = static_cast<double>(c.n);
    double* A = c.scratch + i * 2 * static_cast<std::int64_t>(d) * d;
    double* w = c.w + i * d;
    if (q == 0) {
        const double* g = c.sums + i * c.width;  // packed (d + 1) lower triangle, then the d + 1 sums
        const double* sum = g + packed_size(d + 1);
        const std::int64_t tri = packed_size(d);
        if (e < tri) {  // S_zz(k, l) into e space, the ridge on the diagonal
            int k = 0, l = 0;
            packed_entry(e, k, l);
            const double szz = add_rn(g[e], -(mul_rn(sum[k], sum[l]) / n));
            double a = mul_rn(mul_rn(c.scale[k], szz), c.scale[l]);
            if (k == l) a = add_rn(a, mul_rn(n, c.ridge));
            A[k * d + l] = a;
        } else if (e < tri + d) {  // b_k = s_k S_zg(k), zbar_k
            const int k = static_cast<int>(e - tri);
            const double szg = add_rn(g[tri + k], -(mul_rn(sum[k], sum[d]) / n));
            w[k] = mul_rn(c.scale[k], szg);
            c.zbar[i * d + k] = sum[k] / n;
        } else {
            c.gbar[i] = sum[d] / n;
            c.singular[i] = 0;
        }
        return;
    }
    if (q == 2 * d + 1) {
        cholesky_solve(A, d, w);
        for (int k = 0; k < d; ++k) c.v[i * d + k] = mul_rn(c.scale[k], w[k]);
        return;
    }
    const int j = (q - 1) / 2;
    if (q % 2 == 1) {  // column j below the diagonal
        const int r = j + 1 + static_cast<int>(e);
        A[r * d + j] = A[r * d + j] / sqrt(A[j * d + j]);
        return;
    }
    if (e == 0) {
        const double pivot = A[j * d + j];
        if (pivot <= 0.0) c.singular[i] = 1;
        A[j * d + j] = sqrt(pivot);
        return;
    }
    int rr = 0, cc = 0;
    packed_entry(e - 1, rr, cc);
    const int r = j + 1 + rr, k = j + 1 + cc;
    A[r * d + k] = sub_mul(A[r * d + k], A[r * d + j], A[k * d + j]);
}

GRADLIME_HD inline void errors_entry(const ClimeFitChunk& c, std::int64_t i, int k) {
    const int d = c.d;
    const double* L = c.scratch + i * 2 * static_cast<std::int64_t>(d) * d;
    double* a = c.scratch + (i * 2 + 1) * static_cast<std::int64_t>(d) * d + static_cast<std::int64_t>(k) * d;
    for (int l = 0; l < d; ++l) a[l] = l == k ? 1.0 : 0.0;
    cholesky_solve(L, d, a);
    const double* M = c.meat + i * packed_size(d);
    double q = 0.0;
    for (int r = 0; r < d; ++r) {
        double row = 0.0;  // (s M_z s a)_r, M_z symmetric from its lower triangle
        for (int l = 0; l < d; ++l) {
            const double m = r >= l ? M[packed_size(r) + l] : M[packed_size(l) + r];
            row = add_rn(row, mul_rn(mul_rn(mul_rn(c.scale[r], m), c.scale[l]), a[l]));
        }
        q = add_rn(q, mul_rn(a[r], row));
    }
    const double n = static_cast<double>(c.n), hc1 = mul_rn(q, n / (n - (static_cast<double>(d) + 1.0)));
    c.se[i * d + k] = sqrt(0.0 < hc1 ? hc1 : 0.0);
}

}  // namespace clime_detail

// Entry e of step q of point i's program.
GRADLIME_HD inline void clime_entry(const ClimeFitChunk& c, ClimeStage stage, std::int64_t i, int q, std::int64_t e) {
    if (stage == ClimeStage::Fit) clime_detail::fit_entry(c, i, q, e);
    else clime_detail::errors_entry(c, i, static_cast<int>(e));
}

}  // namespace gradlime::device
