#include "gradlime/least_squares.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "gradlime/accumulators.hpp"
#include "gradlime/simd/vectors.hpp"
#if GRADLIME_SIMD_AVX2 || GRADLIME_SIMD_AVX512
#include <immintrin.h>
#endif

namespace gradlime {

namespace {

// Sample t of a chunk goes to lane t mod 8: part of the definition of the arithmetic.
constexpr Index kLanes = 8;

// How many lanes one instruction carries, and the register tile of pairs (R x C accumulators)
// that fits the register file with its operands. Neither changes a bit of the result.
using V = simd::f64xN;
constexpr int kWidth = simd::kDoubles;
#if GRADLIME_SIMD_AVX512
constexpr int kTileRows = 4, kTileCols = 4;  // 16 accumulators + 5 operands of 32 registers
#elif GRADLIME_SIMD_AVX2
constexpr int kTileRows = 4, kTileCols = 2;  // 8 accumulators + 5 operands of 16 registers
#else
constexpr int kTileRows = 2, kTileCols = 2;
#endif

constexpr Index kPad = 4;           // columns are padded (with a zero column) to a multiple of the tiles
constexpr Index kPanel = 16;        // pairs are summed in panels of 16 x 16, whose lanes (16 KB) stay in L1
constexpr Index kBlockGroups = 32;  // and samples in blocks of 256: a tile's columns of a block (12 KB) too
static_assert(kPanel % kPad == 0 && kPad % kTileRows == 0 && kPad % kTileCols == 0, "tiles must tile a panel");

inline V load(const double* p) noexcept { return simd::load<V>(p); }
inline void store(double* p, V v) noexcept { simd::store(p, v); }

// An empty asm that keeps a loaded operand in a register: GCC otherwise folds the load into each
// of its uses (measured: 1.5x slower, the kernel then bound by loads). No effect on any value.
inline V in_register(V v) noexcept {
#if defined(__GNUC__) && GRADLIME_SIMD_AVX512
    asm("" : "+v"(v));  // any of the 32 vector registers
#elif defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    asm("" : "+x"(v));
#endif
    return v;
}

// The fixed tree of lanes::sum: ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7)).
inline double lane_tree(const double* v) noexcept {
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

Index groups_of(Index rows) { return (rows + kLanes - 1) / kLanes; }

// Columns are laid out in strips of 16 samples (a whole number of lanes and of vectors).
constexpr Index kStrip = 16;
static_assert(kStrip % kLanes == 0 && kStrip % kWidth == 0, "a strip holds whole groups and vectors");
Index strips_of(Index rows) { return (rows + kStrip - 1) / kStrip; }


// Pairs (k0 + r, l0 + c) over groups [g0, g1): lane j of a pair adds a_k[t] * a_l[t] (weighted:
// (a_k[t] * w[t]) * a_l[t]) for the samples t = 8g + j in order. Its lanes live at
// lanes + (r * kPanel + c) * kLanes between calls.
template <int R, int C, bool Weighted>
inline void pair_tile(const double* const* a, const double* const* b, const double* w, Index g0, Index g1,
                      double* lanes) noexcept {
    for (Index h = 0; h < kLanes; h += kWidth) {
        V acc[R][C];
        for (int r = 0; r < R; ++r)
            for (int c = 0; c < C; ++c) acc[r][c] = load(lanes + (r * kPanel + c) * kLanes + h);
        for (Index g = g0; g < g1; ++g) {
            const Index o = g * kLanes + h;
            V x[R];
            if constexpr (Weighted) {
                const V u = in_register(load(w + o));
                for (int r = 0; r < R; ++r) x[r] = in_register(load(a[r] + o) * u);
            } else {
                for (int r = 0; r < R; ++r) x[r] = in_register(load(a[r] + o));
            }
            for (int c = 0; c < C; ++c) {
                const V y = in_register(load(b[c] + o));
                for (int r = 0; r < R; ++r) acc[r][c] += x[r] * y;
            }
        }
        for (int r = 0; r < R; ++r)
            for (int c = 0; c < C; ++c) store(lanes + (r * kPanel + c) * kLanes + h, acc[r][c]);
    }
}

// sum_t c[t] over `groups` groups of 8, by lanes, then the tree.
double lane_total(const double* c, Index groups) noexcept {
    double acc[kLanes] = {};
    for (Index g = 0; g < groups; ++g)
        for (Index j = 0; j < kLanes; ++j) acc[j] += c[g * kLanes + j];
    return lane_tree(acc);
}

// Row-major (rows, d) into d feature-major columns of length ld, zero past rows: 4 x 4 blocks
// through registers where the target has AVX (a copy: no arithmetic, the same numbers).
void transpose_rows(const double* Z, Index rows, Index d, Index ld, double* out) {
    Index t = 0;
#if GRADLIME_SIMD_AVX2 || GRADLIME_SIMD_AVX512
    for (; d >= 4 && t + 4 <= rows; t += 4) {
        const double* z = Z + t * d;
        for (Index k0 = 0; k0 < d; k0 += 4) {
            const Index k = std::min(k0, d - 4);  // the last block overlaps the one before
            const __m256d r0 = _mm256_loadu_pd(z + k), r1 = _mm256_loadu_pd(z + d + k);
            const __m256d r2 = _mm256_loadu_pd(z + 2 * d + k), r3 = _mm256_loadu_pd(z + 3 * d + k);
            const __m256d a = _mm256_unpacklo_pd(r0, r1), b = _mm256_unpackhi_pd(r0, r1);
            const __m256d c = _mm256_unpacklo_pd(r2, r3), e = _mm256_unpackhi_pd(r2, r3);
            double* o = out + k * ld + t;
            _mm256_storeu_pd(o, _mm256_permute2f128_pd(a, c, 0x20));
            _mm256_storeu_pd(o + ld, _mm256_permute2f128_pd(b, e, 0x20));
            _mm256_storeu_pd(o + 2 * ld, _mm256_permute2f128_pd(a, c, 0x31));
            _mm256_storeu_pd(o + 3 * ld, _mm256_permute2f128_pd(b, e, 0x31));
        }
    }
#endif
    for (; t < rows; ++t)
        for (Index k = 0; k < d; ++k) out[k * ld + t] = Z[t * d + k];
    for (Index k = 0; k < d; ++k) std::fill(out + k * ld + rows, out + (k + 1) * ld, 0.0);
}

// The feature-major copy of a chunk: one per thread, shared by both passes (a thread runs one
// chunk at a time), so it is allocated once, not per chunk.
double* chunk_columns(Index p, Index ld) {
    thread_local std::vector<double> buf;
    buf.resize(static_cast<size_t>(p * ld));
    return buf.data();
}

std::vector<const double*>& column_pointers(double* data, Index p, Index ld) {
    thread_local std::vector<const double*> cols;
    cols.resize(static_cast<size_t>(p));
    for (Index k = 0; k < p; ++k) cols[static_cast<size_t>(k)] = data + k * ld;
    return cols;
}

// L A L^T for a symmetric A given by its lower triangle, L the noise's factor.
Matrix to_e_space(const NoiseSampler& noise, const Matrix& lower) {
    Matrix A = lower.selfadjointView<Eigen::Lower>();
    if (noise.is_diagonal()) {
        const Vector& s = noise.scale();
        for (Index l = 0; l < A.cols(); ++l)
            for (Index k = 0; k < A.rows(); ++k) A(k, l) = (s[k] * A(k, l)) * s[l];
        return A;
    }
    const auto L = noise.factor().triangularView<Eigen::Lower>();
    const Matrix LA = L * A;
    return (L * LA.transpose()).transpose();
}

}  // namespace

void throw_singular_design(Index point) {
    throw std::invalid_argument("clime: the perturbation design is singular at point " + std::to_string(point) +
                                "; use more samples or ridge > 0");
}

Index column_stride(Index rows) { return strips_of(rows) * kStrip + kLanes; }

void lower_gram(const double* const* columns, Index p, Index rows, Matrix& G, Interruption* stop,
                const double* weights) {
    const Index groups = groups_of(rows), P = (p + kPad - 1) / kPad * kPad;
    thread_local std::vector<double> zeros;  // never written: the padding column
    thread_local std::vector<const double*> cols;
    if (zeros.size() < static_cast<size_t>(groups * kLanes)) zeros.resize(static_cast<size_t>(groups * kLanes), 0.0);
    cols.assign(columns, columns + p);
    cols.resize(static_cast<size_t>(P), zeros.data());
    G.setZero(p, p);
    alignas(64) double lanes[kPanel * kPanel * kLanes];
    for (Index K0 = 0; K0 < P; K0 += kPanel) {
        if (stop && stop->poll()) return;
        const Index K1 = std::min(P, K0 + kPanel);
        for (Index L0 = 0; L0 <= K0; L0 += kPanel) {
            const Index L1 = std::min(P, L0 + kPanel);
            std::fill(std::begin(lanes), std::end(lanes), 0.0);
            for (Index g0 = 0; g0 < groups; g0 += kBlockGroups) {
                const Index g1 = std::min(groups, g0 + kBlockGroups);
                for (Index k0 = K0; k0 < K1; k0 += kTileRows)
                    for (Index l0 = L0; l0 < L1 && l0 < k0 + kTileRows; l0 += kTileCols) {
                        const double* const* a = &cols[static_cast<size_t>(k0)];
                        const double* const* b = &cols[static_cast<size_t>(l0)];
                        double* out = lanes + ((k0 - K0) * kPanel + (l0 - L0)) * kLanes;
                        if (weights) pair_tile<kTileRows, kTileCols, true>(a, b, weights, g0, g1, out);
                        else pair_tile<kTileRows, kTileCols, false>(a, b, nullptr, g0, g1, out);
                    }
            }
            for (Index k = K0; k < std::min(K1, p); ++k)
                for (Index l = L0; l < std::min(L1, k + 1); ++l)
                    G(k, l) = lane_tree(lanes + ((k - K0) * kPanel + (l - L0)) * kLanes);
        }
    }
}

LeastSquaresSums LeastSquaresSums::of_rows(const double* Z, const double* f, Index rows, Index d, double fbar,
                                           Interruption* stop) {
    const Index groups = groups_of(rows), ld = column_stride(rows);
    double* buf = chunk_columns(d + 1, ld);
    transpose_rows(Z, rows, d, ld, buf);
    double* g = buf + d * ld;
    for (Index t = 0; t < rows; ++t) g[t] = f[t] - fbar;
    std::fill(g + rows, g + ld, 0.0);
    const std::vector<const double*>& cols = column_pointers(buf, d + 1, ld);
    LeastSquaresSums s;
    s.count = rows;
    lower_gram(cols.data(), d + 1, rows, s.gram, stop);
    s.sums.resize(d + 1);
    for (Index k = 0; k <= d; ++k) s.sums[k] = lane_total(cols[static_cast<size_t>(k)], groups);
    return s;
}

void LeastSquaresSums::merge(const LeastSquaresSums& other) {
    if (other.count == 0) return;
    if (count == 0) {
        *this = other;
        return;
    }
    gram += other.gram;
    sums += other.sums;
    count += other.count;
}

GaussianLeastSquares::GaussianLeastSquares(const LeastSquaresSums& sums, const NoiseSampler& noise, double ridge,
                                           double fbar, const SampleScheme& scheme)
    : noise_(noise), d_(sums.gram.rows() - 1), n_(static_cast<double>(sums.count)), fbar_(fbar), scheme_(scheme) {
    const Index d = d_;
    // Centring removes the intercept (Frisch-Waugh): S_zz = sum z z^T - (sum z)(sum z)^T / n, and
    // likewise S_zg; the ridge closed form is (S_ee + n lambda I)^-1 S_eg, the sample version of
    // (Sigma + lambda I)^-1 cov(a, f(a)) (paper 1, Theorem 1 and Appendix D, Lemma 6).
    const double sg = sums.sums[d];
    zbar_ = sums.sums.head(d) / n_;
    gbar_ = sg / n_;
    Matrix Szz(d, d);
    Vector Szg(d);
    for (Index k = 0; k < d; ++k) {
        for (Index l = 0; l <= k; ++l) Szz(k, l) = sums.gram(k, l) - sums.sums[k] * sums.sums[l] / n_;
        Szg[k] = sums.gram(d, k) - sums.sums[k] * sg / n_;
    }
    Matrix A = to_e_space(noise, Szz);
    Vector b;
    if (noise.is_diagonal()) b = noise.scale().cwiseProduct(Szg);
    else b = noise.factor().triangularView<Eigen::Lower>() * Szg;
    A.diagonal().array() += n_ * ridge;
    bread_.compute(A);
    solved_ = bread_.info() == Eigen::Success;
    if (!solved_) return;
    w_ = bread_.solve(b);
    if (noise.is_diagonal()) v_ = noise.scale().cwiseProduct(w_);
    else v_ = noise.factor().triangularView<Eigen::Lower>().transpose() * w_;
}

Matrix GaussianLeastSquares::meat_zero() const {
    return scheme_.qmc() ? Matrix::Zero(scheme_.scrambles, d_) : Matrix::Zero(d_, d_);
}

Matrix GaussianLeastSquares::meat_of_rows(const double* Z, const double* f, Index rows, Index first,
                                          Interruption* stop) const {
    const Index d = d_, span = strips_of(rows) * kStrip, ld = column_stride(rows);
    double* buf = chunk_columns(d, ld);
    thread_local std::vector<double> res;
    res.resize(static_cast<size_t>(ld));
    transpose_rows(Z, rows, d, ld, buf);
    for (Index t = 0; t < rows; ++t) res[static_cast<size_t>(t)] = (f[t] - fbar_) - gbar_;
    std::fill(res.begin() + rows, res.end(), 0.0);
    // Heteroscedasticity-consistent meat: f is not linear, so the residuals are neither
    // homoscedastic nor independent of z. Each strip of samples becomes the columns
    // u_k = r (z_k - zbar_k), r = (f - mean f) - sum_k (z_k - zbar_k) v_k (in feature order),
    // while it is in L1; samples past rows get r = 0.
    for (Index t0 = 0; t0 < span; t0 += kStrip) {
        constexpr Index S = kStrip / kWidth;
        V fit[S] = {};
        for (Index k = 0; k < d; ++k) {
            double* c = buf + k * ld + t0;
            const V zk = V{} + zbar_[k], vk = V{} + v_[k];
            for (Index j = 0; j < S; ++j) {
                const V ck = load(c + j * kWidth) - zk;
                store(c + j * kWidth, ck);
                fit[j] += ck * vk;
            }
        }
        double* r = res.data() + t0;
        for (Index j = 0; j < S; ++j) store(r + j * kWidth, load(r + j * kWidth) - fit[j]);
        for (Index t = std::max<Index>(0, rows - t0); t < kStrip; ++t) r[t] = 0.0;
        for (Index k = 0; k < d; ++k) {
            double* c = buf + k * ld + t0;
            for (Index j = 0; j < S; ++j) store(c + j * kWidth, load(c + j * kWidth) * load(r + j * kWidth));
        }
    }
    if (scheme_.qmc()) {  // the scores summed per scramble, in sample order
        Matrix U = Matrix::Zero(scheme_.scrambles, d);
        for (Index k = 0; k < d; ++k) {
            const double* c = buf + k * ld;
            for (Index t = 0; t < rows; ++t) U(scheme_.cluster_of(first + t), k) += c[t];
        }
        return U;
    }
    Index units = rows;
    if (scheme_.antithetic) {  // each pair's two rows summed in place: a column of rows / 2 cluster scores
        units = rows / 2;
        for (Index k = 0; k < d; ++k) {
            double* c = buf + k * ld;
            for (Index i = 0; i < units; ++i) c[i] = c[2 * i] + c[2 * i + 1];
            std::fill(c + units, c + ld, 0.0);
        }
    }
    Matrix M;
    lower_gram(column_pointers(buf, d, ld).data(), d, units, M, stop);
    return M;
}

Vector GaussianLeastSquares::stderr_of(const Matrix& meat, const std::function<void()>& check) const {
    // HC1: A^-1 [L M_z L^T] A^-1 n / (n - p), p = d + 1 coefficients with the intercept.
    const double p = static_cast<double>(d_) + 1.0, G = static_cast<double>(scheme_.clusters(static_cast<Index>(n_)));
    const double scale = scheme_.iid() ? n_ / (n_ - p) : G / (G - 1.0) * (n_ - 1.0) / (n_ - p);
    if (scheme_.qmc()) {  // M = U^T U over the scrambles' score sums
        const Matrix M = meat.transpose() * meat;
        return sandwich_stderr(bread_, to_e_space(noise_, M), scale, check);
    }
    return sandwich_stderr(bread_, to_e_space(noise_, meat), scale, check);
}

}  // namespace gradlime
