// KernelSHAP's stratified paired design and its regression-adjusted fit (shapley_design.hpp).
#include "gradlime/shapley_design.hpp"

#include <Eigen/Cholesky>
#include <Eigen/QR>
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <unordered_set>

#include "gradlime/rng/masks.hpp"

namespace gradlime {

namespace {

double binomial(Index n, Index k) {
    double c = 1.0;
    for (Index i = 1; i <= k; ++i) c = c * static_cast<double>(n - k + i) / static_cast<double>(i);
    return std::round(c);
}

// The kernel's mass on a level, up to a constant: 1 / (s (d - s)) for each of its sizes.
double share(Index d, Index k) {
    const double one = 1.0 / (static_cast<double>(k) * static_cast<double>(d - k));
    return 2 * k == d ? one : 2.0 * one;
}

struct MaskHash {
    std::size_t operator()(const std::vector<std::uint64_t>& w) const noexcept {
        std::uint64_t h = 0;
        for (std::uint64_t x : w) h = (h ^ x) * 0x9E3779B97F4A7C15ull;
        return static_cast<std::size_t>(h ^ (h >> 29));
    }
};

void pack(const std::uint8_t* z, Index d, std::uint64_t* w) {
    for (Index i = 0; i < d; ++i) w[i / 64] |= static_cast<std::uint64_t>(z[i]) << (i % 64);
}

// Every pair of level k in a fixed order: the k-subsets (lexicographic), or at k = d / 2 those
// holding feature 0 (one of each complement pair).
void enumerate_level(Index d, Index k, Index words, std::vector<std::uint64_t>& out) {
    const bool middle = 2 * k == d;
    std::vector<Index> c(static_cast<size_t>(k));
    std::iota(c.begin(), c.end(), 0);
    while (true) {
        if (!middle || c[0] == 0) {
            const size_t at = out.size();
            out.resize(at + static_cast<size_t>(words), 0);
            for (Index i : c) out[at + static_cast<size_t>(i / 64)] |= std::uint64_t{1} << (i % 64);
        }
        Index i = k - 1;
        while (i >= 0 && c[static_cast<size_t>(i)] == d - k + i) --i;
        if (i < 0) break;
        ++c[static_cast<size_t>(i)];
        for (Index j = i + 1; j < k; ++j) c[static_cast<size_t>(j)] = c[static_cast<size_t>(j - 1)] + 1;
    }
}

}  // namespace

namespace {

// Pairs per level for a budget of `budget_pairs` pairs (shapley_design.hpp): water-filling, then
// the open levels share the rest, at least one pair each, by largest remainder.
std::vector<ShapleyLevel> allocate(Index d, Index budget_pairs) {
    const Index levels = d / 2;
    std::vector<ShapleyLevel> out;
    for (Index k = 1; k <= levels; ++k) out.push_back({k, 2 * k == d ? binomial(d, k) / 2.0 : binomial(d, k), 0, false});
    // Enumerate a level whose pairs fit in its share of what is left, as long as every other
    // level can still get a pair; repeat.
    double left = static_cast<double>(budget_pairs);
    Index open = levels;
    for (bool changed = true; changed && open > 0;) {
        changed = false;
        double total = 0.0;
        for (const ShapleyLevel& L : out)
            if (!L.enumerated) total += share(d, L.k);
        for (ShapleyLevel& L : out) {
            if (L.enumerated) continue;
            if (L.population <= left * share(d, L.k) / total && left - L.population >= static_cast<double>(open - 1)) {
                L.enumerated = true;
                L.drawn = static_cast<Index>(L.population);
                left -= L.population;
                --open;
                changed = true;
            }
        }
    }
    if (open == 0) return out;
    double total = 0.0;
    for (const ShapleyLevel& L : out)
        if (!L.enumerated) total += share(d, L.k);
    const auto rest = static_cast<Index>(left);
    Index given = 0;
    std::vector<std::pair<double, Index>> remainders;
    for (Index i = 0; i < levels; ++i) {
        ShapleyLevel& L = out[static_cast<size_t>(i)];
        if (L.enumerated) continue;
        const double ideal = static_cast<double>(rest) * share(d, L.k) / total;
        L.drawn = std::max<Index>(1, static_cast<Index>(std::floor(ideal)));
        given += L.drawn;
        remainders.push_back({-(ideal - std::floor(ideal)), i});
    }
    std::sort(remainders.begin(), remainders.end());
    for (size_t r = 0; given < rest && r < remainders.size(); ++r, ++given)
        ++out[static_cast<size_t>(remainders[r].second)].drawn;
    for (ShapleyLevel& L : out)
        if (!L.enumerated && static_cast<double>(L.drawn) >= L.population) {
            L.drawn = static_cast<Index>(L.population);
            L.enumerated = true;
        }
    return out;
}

// A level's pairs in the order the stages take them: enumerated in order, or drawn without
// replacement (a rejection sequence, so a longer draw extends a shorter one).
struct LevelPairs {
    std::unordered_set<std::vector<std::uint64_t>, MaskHash> seen;
    std::uint64_t next = 0;  // the next draw of the rejection sequence
};

void add_pair(ShapleyDesign& D, LevelPairs& lp, const std::vector<std::uint64_t>& w, int li) {
    if (!lp.seen.insert(w).second) return;
    D.masks.insert(D.masks.end(), w.begin(), w.end());
    D.level.push_back(li);
    ++D.pairs;
}

}  // namespace

ShapleyDesign ShapleyDesign::make(Index d, const std::vector<Index>& budgets, std::uint64_t seed) {
    ShapleyDesign D;
    D.d = d;
    D.words = (d + 63) / 64;
    const Index levels = d / 2;
    if (budgets.empty() || budgets[0] / 2 < levels)
        throw std::invalid_argument("sampled kernel_shap needs n_samples >= 2 * floor(d / 2) = " +
                                    std::to_string(2 * levels) + " for " + std::to_string(d) +
                                    " features (a coalition and its complement for every size); got " +
                                    std::to_string(budgets.empty() ? 0 : budgets[0]));
    const Key key = key_from_seed(seed);
    std::vector<LevelPairs> made(static_cast<size_t>(levels));
    std::vector<std::uint8_t> z(static_cast<size_t>(d));
    std::vector<std::uint64_t> w(static_cast<size_t>(D.words)), all;
    for (Index budget : budgets) {
        ShapleyStage st;
        st.levels = allocate(d, budget / 2);
        if (!D.stages.empty())  // nested: never fewer pairs than the stage before
            for (size_t li = 0; li < st.levels.size(); ++li) {
                const ShapleyLevel& prev = D.stages.back().levels[li];
                ShapleyLevel& L = st.levels[li];
                if (prev.enumerated || L.drawn < prev.drawn) L = prev;
            }
        for (size_t li = 0; li < st.levels.size(); ++li) {
            const ShapleyLevel& L = st.levels[li];
            LevelPairs& lp = made[li];
            if (L.enumerated) {
                all.clear();
                enumerate_level(d, L.k, D.words, all);
                for (size_t at = 0; at < all.size(); at += static_cast<size_t>(D.words)) {
                    std::copy_n(all.begin() + static_cast<std::ptrdiff_t>(at), D.words, w.begin());
                    add_pair(D, lp, w, static_cast<int>(li));
                }
                continue;
            }
            while (static_cast<Index>(lp.seen.size()) < L.drawn) {
                uniform_subset(key, 0u, (static_cast<std::uint64_t>(L.k) << 40) | lp.next++, d, L.k, z.data());
                if (2 * L.k == d && !z[0])
                    for (auto& b : z) b ^= 1u;
                std::fill(w.begin(), w.end(), 0);
                pack(z.data(), d, w.data());
                add_pair(D, lp, w, static_cast<int>(li));
            }
        }
        st.pairs = D.pairs;
        st.weight.resize(static_cast<size_t>(D.pairs));
        for (Index j = 0; j < D.pairs; ++j) {
            const ShapleyLevel& L = st.levels[static_cast<size_t>(D.level[static_cast<size_t>(j)])];
            st.weight[static_cast<size_t>(j)] = share(d, L.k) * static_cast<double>(d - 1) / static_cast<double>(L.drawn);
        }
        D.stages.push_back(std::move(st));
    }
    return D;
}

bool use_cubic(Index d, Index pairs) {
    if (d < 3 || d > 16) return false;
    const double terms = static_cast<double>(d) + binomial(d, 3);
    return 2.0 * static_cast<double>(pairs) >= terms && static_cast<double>(pairs) * terms <= static_cast<double>(1 << 24);
}

ShapleyFit::ShapleyFit(const ShapleyDesign& design, Index stage, bool cubic)
    : design_(design), stage_(design.stages[static_cast<size_t>(stage)]), d_(design.d), cubic_(cubic) {
    const Index d = d_, M = stage_.pairs, last = d - 1;
    std::vector<std::array<Index, 3>> triples;
    if (cubic)
        for (Index a = 0; a < d; ++a)
            for (Index b = a + 1; b < d; ++b)
                for (Index c = b + 1; c < d; ++c) triples.push_back({a, b, c});
    q_ = d - 1 + static_cast<Index>(triples.size());
    A_.resize(M, q_);
    sqrt_w_.resize(M);
    last_.resize(M);
    std::vector<double> zeta(static_cast<size_t>(d));
    for (Index j = 0; j < M; ++j) {
        const std::uint64_t* w = design.masks.data() + j * design.words;
        for (Index i = 0; i < d; ++i) zeta[static_cast<size_t>(i)] = (w[i / 64] >> (i % 64) & 1u) ? 1.0 : -1.0;
        const double zl = zeta[static_cast<size_t>(last)], sw = std::sqrt(stage_.weight[static_cast<size_t>(j)]);
        sqrt_w_[j] = sw;
        last_[j] = zl;
        for (Index i = 0; i < last; ++i) A_(j, i) = sw * (zeta[static_cast<size_t>(i)] - zl);
        for (size_t t = 0; t < triples.size(); ++t) {
            const auto& T = triples[t];
            A_(j, last + static_cast<Index>(t)) =
                sw * (zeta[static_cast<size_t>(T[0])] * zeta[static_cast<size_t>(T[1])] * zeta[static_cast<size_t>(T[2])] - zl);
        }
    }
    Matrix G = Matrix::Zero(q_, q_);
    G.selfadjointView<Eigen::Lower>().rankUpdate(A_.transpose());
    if (cubic) {
        // A ridge on the cubic terms only (the Shapley part stays unpenalised, so the estimate
        // stays consistent): where there are fewer pairs than terms it does the regularising
        // (1e-3 of the mean diagonal; 1e-2 .. 1e-4 measured alike), else it only guards the
        // factorisation (1e-9), and a game with no interactions beyond the third is fitted exactly.
        const double relative = M < q_ ? 1e-3 : 1e-9;
        const double lambda = relative * G.trace() / static_cast<double>(q_);
        for (Index i = last; i < q_; ++i) G(i, i) += lambda;
    }
    // phi = delta e_last + L theta: phi_i = a_i + (1/3) sum_{T containing i} e_T, with
    // a_last = delta - sum_{i < last} a_i - sum_T e_T.
    L_ = RowMatrix::Zero(d, q_);
    for (Index i = 0; i < last; ++i) {
        L_(i, i) = 1.0;
        L_(last, i) = -1.0;
    }
    for (size_t t = 0; t < triples.size(); ++t) {
        const Index col = last + static_cast<Index>(t);
        L_(last, col) = -1.0;
        for (Index i : triples[t]) L_(i, col) += 1.0 / 3.0;
    }
    // G = C C^T (Cholesky): Y = C^-1 A^T gives the leverages |Y_j|^2 and K = (C^-1 L^T)^T Y. A
    // design that leaves a coefficient unidentified (G singular) falls back to the pseudo-inverse.
    llt_.compute(G.selfadjointView<Eigen::Lower>());
    if (llt_.info() == Eigen::Success && llt_.matrixL().toDenseMatrix().diagonal().minCoeff() > 1e-12 * std::sqrt(G.trace())) {
        Y_ = A_.transpose();
        llt_.matrixL().solveInPlace(Y_);
        Matrix CL = L_.transpose();
        llt_.matrixL().solveInPlace(CL);
        K_ = CL.transpose() * Y_;
        leverage_ = Y_.colwise().squaredNorm().transpose();
        return;
    }
    const Matrix Gs = G.selfadjointView<Eigen::Lower>();
    const Eigen::CompleteOrthogonalDecomposition<Matrix> cod(Gs);
    identified_ = false;
    pinv_ = cod.solve(Matrix(A_.transpose()));
    K_ = L_ * pinv_;
}

void ShapleyFit::solve(const double* h, double delta, double* phi, double* se) const {
    const Index d = d_, M = stage_.pairs, last = d - 1;
    Vector rhs(M);
    for (Index j = 0; j < M; ++j) rhs[j] = sqrt_w_[j] * (h[j] - last_[j] * delta);
    Vector theta;
    if (identified_) {
        theta = Y_ * rhs;
        llt_.matrixU().solveInPlace(theta);
    } else {
        theta = pinv_ * rhs;
    }
    const Vector est = K_ * rhs;
    for (Index i = 0; i < d; ++i) phi[i] = est[i] + (i == last ? delta : 0.0);
    const Vector rho = rhs - A_ * theta;
    // The stratified sandwich's diagonal: per sampled level h, f_h sum_j (K_ij c_j - mean)^2 with
    // c_j = rho_j / (1 - H_jj) and f_h = (1 - n_h / N_h) n_h / (n_h - 1). A level of one pair has
    // no spread of its own: then all sampled pairs are pooled, without the factor's first part.
    std::fill(se, se + d, 0.0);
    const std::vector<ShapleyLevel>& levels = stage_.levels;
    bool pooled = false;
    for (const ShapleyLevel& L : levels) pooled = pooled || (!L.enumerated && L.drawn < 2);
    const double inf = std::numeric_limits<double>::infinity();
    if (!identified_) {
        std::fill(se, se + d, inf);
        return;
    }
    const Index groups = pooled ? 1 : static_cast<Index>(levels.size());
    for (Index g = 0; g < groups; ++g) {
        Index n = 0;
        double population = 0.0;
        Vector mean = Vector::Zero(d);
        for (Index j = 0; j < M; ++j) {
            const ShapleyLevel& L = levels[static_cast<size_t>(design_.level[static_cast<size_t>(j)])];
            if (L.enumerated || (!pooled && design_.level[static_cast<size_t>(j)] != g)) continue;
            if (!(leverage_[j] < 1.0 - 1e-9)) {  // a pair alone determines a coefficient
                std::fill(se, se + d, inf);
                return;
            }
            mean += K_.col(j) * (rho[j] / (1.0 - leverage_[j]));
            ++n;
        }
        if (n == 0) continue;
        if (n < 2) {
            std::fill(se, se + d, inf);
            return;
        }
        if (!pooled) population = levels[static_cast<size_t>(g)].population;
        mean /= static_cast<double>(n);
        const double f = (pooled ? 1.0 : 1.0 - static_cast<double>(n) / population) * n / (n - 1.0);
        for (Index j = 0; j < M; ++j) {
            if (levels[static_cast<size_t>(design_.level[static_cast<size_t>(j)])].enumerated ||
                (!pooled && design_.level[static_cast<size_t>(j)] != g))
                continue;
            const double c = rho[j] / (1.0 - leverage_[j]);
            for (Index i = 0; i < d; ++i) {
                const double u = K_(i, j) * c - mean[i];
                se[i] += f * u * u;
            }
        }
    }
    for (Index i = 0; i < d; ++i) se[i] = std::sqrt(se[i]);
}

}  // namespace gradlime
