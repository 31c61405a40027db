// C-LIME's and LIME's least-squares fits and their HC1 standard errors on the device, from a
// point's sums (device/passes.hpp), written once for the host reference and the CUDA kernel
// (GRADLIME_HD), so that only the (m, d) coefficients and standard errors leave the device, not
// the (d + 2)^2 sums.
//
// The arithmetic is the CPU engine's finalisations', for the points' own sums:
//   C-LIME (GaussianLeastSquares, least_squares.cpp; paper 1, Theorem 1, ridge: Appendix D, Lemma 6),
//     a diagonal Gaussian e = s z: centring removes the intercept, A = s S_zz s + n lambda I,
//     b = s S_zg, w = A^-1 b (the slopes), v = s w (the slopes in z, for the meat pass), and
//     se_k^2 = (A^-1 e_k)^T (s M_z s) (A^-1 e_k) n / (n - d - 1);
//   LIME (LimeSolution, lime_fit.cpp), the weighted sums P, Q, W, Y: A = P - Sz Sz^T / W +
//     lambda I (Sz = diag P), c = A^-1 (Q - Sz Y / W), the intercept Y / W - mean_z . c, and
//     se_k^2 = (A^-1 e_k)^T M (A^-1 e_k) n / (n - d - 1) with M = R - m Ru^T - Ru m^T + U m m^T
//     (m = mean_z, Ru = diag R), NaN when n <= d + 1.
// The solves are a plain right-looking Cholesky factorisation and triangular solves, where the CPU
// engine's are Eigen's blocked ones: the two agree to double rounding, not bit for bit.
//
// Each fit is a program of steps whose entries are independent (none reads what another entry of
// its step writes), so a CUDA block runs a step's entries on its threads between two barriers and
// the host reference runs them in a loop: every entry is the same operations in the same order on
// both, so the device's bits are the reference's. The fit's steps, for a point of d features:
//
//   step 0           A (lower triangle), the right-hand side into coef, the means, the flags
//   step 1 + 2j      column j of the factor: L_ij = A_ij / sqrt(A_jj), i > j
//   step 2 + 2j      A_jj = sqrt(A_jj) (kSingular when A_jj <= 0, as Eigen's LLT fails), and the
//                    trailing update A_ik -= L_ij L_kj, j < k <= i
//   step 2d + 1      coef = L^-T L^-1 coef; C-LIME's v = s coef, LIME's intercept
//
// and the standard errors one step, entry k: a = L^-T L^-1 e_k (scratch column k), then se_k.
#pragma once

#include <cstdint>
#include <limits>

#include "gradlime/device/draws.hpp"
#include "gradlime/device/gaussian_sums.hpp"
#include "gradlime/device/passes.hpp"
#include "gradlime/hd.hpp"

namespace gradlime::device {

enum class FitKind : int { Clime, Lime };
enum class FitStage : int { Fit, Errors };

// A point's flags: its design is not positive definite; (LIME) every kernel weight underflowed.
constexpr int kSingular = 1, kUnderflow = 2;

// The chunk's arrays, point i's at i times its size: the fit's sums (Pass::LeastSquares or
// Pass::LimeFit, width each), the meat's (Pass::Meat or Pass::LimeMeat, meat_width each), the
// scratch (2 d^2: the factor, then the standard errors' columns), and the outputs.
struct FitChunk {
    FitKind kind = FitKind::Clime;
    int d = 0;
    std::int64_t n = 0, width = 0, meat_width = 0;
    double ridge = 0.0;
    const double* scale = nullptr;  // C-LIME: s (d)
    const double* sums = nullptr;
    const double* meat = nullptr;
    double* scratch = nullptr;
    double* coef = nullptr;  // (m, d)
    double* v = nullptr;     // C-LIME: (m, d), the slopes in z
    double* mean = nullptr;  // (m, d): C-LIME's zbar, LIME's mean_z
    double* shift = nullptr;  // (m): C-LIME's gbar, LIME's intercept
    double* se = nullptr;     // (m, d)
    int* flags = nullptr;     // (m)
};

GRADLIME_HD inline int fit_steps(FitStage stage, int d) { return stage == FitStage::Fit ? 2 * d + 2 : 1; }

GRADLIME_HD inline std::int64_t fit_entries(FitStage stage, int d, int q) {
    if (stage == FitStage::Errors) return d;
    if (q == 0) return packed_size(d) + d + 1;
    if (q == 2 * d + 1) return 1;
    const int j = (q - 1) / 2;
    return q % 2 == 1 ? d - j - 1 : 1 + packed_size(d - j - 1);
}

namespace fit_detail {

// a - b c, never fused.
GRADLIME_HD inline double sub_mul(double a, double b, double c) { return add_rn(a, -mul_rn(b, c)); }
// Entry (k, l) of a packed lower triangle, either way round.
GRADLIME_HD inline double packed_at(const double* M, int k, int l) {
    return k >= l ? M[packed_size(k) + l] : M[packed_size(l) + k];
}

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

// Step 0's entry e: A(k, l), then the right-hand side and mean of feature k, then the point's own.
GRADLIME_HD inline void setup_entry(const FitChunk& c, std::int64_t i, std::int64_t e, double* A) {
    const int d = c.d;
    const double n = static_cast<double>(c.n);
    const double* g = c.sums + i * c.width;
    const std::int64_t tri = packed_size(d);
    if (c.kind == FitKind::Clime) {  // [z; g] packed (d + 1), then the d + 1 plain sums
        const double* sum = g + packed_size(d + 1);
        if (e < tri) {  // S_zz(k, l) into e space, the ridge n lambda on the diagonal
            int k = 0, l = 0;
            packed_entry(e, k, l);
            const double szz = add_rn(g[e], -(mul_rn(sum[k], sum[l]) / n));
            double a = mul_rn(mul_rn(c.scale[k], szz), c.scale[l]);
            if (k == l) a = add_rn(a, mul_rn(n, c.ridge));
            A[k * d + l] = a;
        } else if (e < tri + d) {
            const int k = static_cast<int>(e - tri);
            c.coef[i * d + k] = mul_rn(c.scale[k], add_rn(g[tri + k], -(mul_rn(sum[k], sum[d]) / n)));
            c.mean[i * d + k] = sum[k] / n;
        } else {
            c.shift[i] = sum[d] / n;
            c.flags[i] = 0;
        }
        return;
    }
    // LIME: [z; y'; 1] packed (d + 2): P, then Q's row, then (Sz, Y, W)'s.
    const double W = packed_at(g, d + 1, d + 1);
    if (e < tri) {  // S_zz(k, l), the ridge lambda on the diagonal
        int k = 0, l = 0;
        packed_entry(e, k, l);
        double a = add_rn(g[e], -(mul_rn(packed_at(g, k, k), packed_at(g, l, l)) / W));
        if (k == l) a = add_rn(a, c.ridge);
        A[k * d + l] = a;
    } else if (e < tri + d) {
        const int k = static_cast<int>(e - tri);
        const double sz = packed_at(g, k, k);
        c.coef[i * d + k] = sub_mul(packed_at(g, d, k), sz, packed_at(g, d + 1, d) / W);
        c.mean[i * d + k] = sz / W;
    } else {
        c.flags[i] = 0.0 < W ? 0 : kUnderflow;
    }
}

GRADLIME_HD inline void solve_entry(const FitChunk& c, std::int64_t i, const double* L) {
    const int d = c.d;
    double* coef = c.coef + i * d;
    cholesky_solve(L, d, coef);
    if (c.kind == FitKind::Clime) {
        for (int k = 0; k < d; ++k) c.v[i * d + k] = mul_rn(c.scale[k], coef[k]);
        return;
    }
    const double* g = c.sums + i * c.width;
    double dot = 0.0;
    for (int k = 0; k < d; ++k) dot = add_rn(dot, mul_rn(c.mean[i * d + k], coef[k]));
    c.shift[i] = add_rn(packed_at(g, d + 1, d) / packed_at(g, d + 1, d + 1), -dot);
}

GRADLIME_HD inline void program_entry(const FitChunk& c, std::int64_t i, int q, std::int64_t e) {
    const int d = c.d;
    double* A = c.scratch + i * 2 * static_cast<std::int64_t>(d) * d;
    if (q == 0) return setup_entry(c, i, e, A);
    if (q == 2 * d + 1) return solve_entry(c, i, A);
    const int j = (q - 1) / 2;
    if (q % 2 == 1) {  // column j below the diagonal
        const int r = j + 1 + static_cast<int>(e);
        A[r * d + j] = A[r * d + j] / sqrt(A[j * d + j]);
        return;
    }
    if (e == 0) {
        const double pivot = A[j * d + j];
        if (pivot <= 0.0) c.flags[i] |= kSingular;
        A[j * d + j] = sqrt(pivot);
        return;
    }
    int rr = 0, cc = 0;
    packed_entry(e - 1, rr, cc);
    const int r = j + 1 + rr, k = j + 1 + cc;
    A[r * d + k] = sub_mul(A[r * d + k], A[r * d + j], A[k * d + j]);
}

// The meat's entry (r, l) in e space.
GRADLIME_HD inline double meat_at(const FitChunk& c, const double* M, const double* mean, int r, int l) {
    if (c.kind == FitKind::Clime) return mul_rn(mul_rn(c.scale[r], packed_at(M, r, l)), c.scale[l]);
    const int k = r >= l ? r : l, j = r >= l ? l : r;  // the lower triangle's (k, j)
    const double U = packed_at(M, c.d, c.d);
    return add_rn(sub_mul(sub_mul(packed_at(M, k, j), mean[k], packed_at(M, j, j)), packed_at(M, k, k), mean[j]),
                  mul_rn(mul_rn(U, mean[k]), mean[j]));
}

GRADLIME_HD inline void errors_entry(const FitChunk& c, std::int64_t i, int k) {
    const int d = c.d;
    const double n = static_cast<double>(c.n), dof = n - (static_cast<double>(d) + 1.0);
    if (!(dof > 0.0)) {  // no degrees of freedom left
        c.se[i * d + k] = std::numeric_limits<double>::quiet_NaN();
        return;
    }
    const double* L = c.scratch + i * 2 * static_cast<std::int64_t>(d) * d;
    double* a = c.scratch + (i * 2 + 1) * static_cast<std::int64_t>(d) * d + static_cast<std::int64_t>(k) * d;
    for (int l = 0; l < d; ++l) a[l] = l == k ? 1.0 : 0.0;
    cholesky_solve(L, d, a);
    const double *M = c.meat + i * c.meat_width, *mean = c.mean + i * d;
    double q = 0.0;
    for (int r = 0; r < d; ++r) {
        double row = 0.0;  // (M a)_r
        for (int l = 0; l < d; ++l) row = add_rn(row, mul_rn(meat_at(c, M, mean, r, l), a[l]));
        q = add_rn(q, mul_rn(a[r], row));
    }
    const double hc1 = mul_rn(q, n / dof);
    c.se[i * d + k] = sqrt(0.0 < hc1 ? hc1 : 0.0);
}

}  // namespace fit_detail

// Entry e of step q of point i's program.
GRADLIME_HD inline void fit_entry(const FitChunk& c, FitStage stage, std::int64_t i, int q, std::int64_t e) {
    if (stage == FitStage::Fit) fit_detail::program_entry(c, i, q, e);
    else fit_detail::errors_entry(c, i, static_cast<int>(e));
}

// What a backend's fit runs (host side): the passes before and after the fit, c's sizes set.
struct FitPasses {
    Pass fit, meat;
};
inline FitPasses fit_passes(FitChunk& c, FitKind kind, std::int64_t d, std::int64_t n, double ridge) {
    const FitPasses passes = kind == FitKind::Clime ? FitPasses{Pass::LeastSquares, Pass::Meat}
                                                    : FitPasses{Pass::LimeFit, Pass::LimeMeat};
    c.kind = kind;
    c.d = static_cast<int>(d);
    c.n = n;
    c.ridge = ridge;
    c.width = pass_shape(passes.fit, c.d).width;
    c.meat_width = pass_shape(passes.meat, c.d).width;
    return passes;
}
// The meat pass's inputs from the fit: C-LIME's gbar, zbar and v, LIME's coefficients and intercept.
inline void meat_inputs(const FitChunk& c, PassInputs& in) {
    if (c.kind == FitKind::Clime) {
        in.gbar = c.shift;
        in.zbar = c.mean;
        in.v = c.v;
    } else {
        in.coef = c.coef;
        in.intercept = c.shift;
    }
}

}  // namespace gradlime::device
