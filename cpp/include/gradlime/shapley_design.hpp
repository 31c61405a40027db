// KernelSHAP's sampled estimator: a stratified, paired design without replacement, and a
// regression-adjusted fit on it, shared by every point of a call.
//
// Design. Coalitions come in complement pairs (S, N \ S), grouped in levels k = 1 .. floor(d/2)
// (sizes k and d - k). A level's share of the budget is the Shapley kernel's mass on it,
// proportional to 1 / (s (d - s)) per size; levels whose pairs all fit in their share are
// enumerated whole (water-filling, as shap's KernelExplainer enumerates its extreme sizes), the
// others get their share of what is left, drawn uniformly without replacement (rejection of
// repeats). Each pair then stands for (pairs in its level) / (pairs drawn) of its level, so the
// weighted fit estimates the full kernel-weighted one (Horvitz-Thompson). The reference design
// is a function of (seed, d, budget); point p evaluates it with its features relabelled by a
// uniform permutation pi_p (rng/masks.hpp), which keeps each point's design a uniform sample
// without replacement, lets the fit's O(M p^2) work be done once per call, and leaves the points'
// errors nearly independent.
//
// Fit. With complement pairs only h(S) = v(S) - v(N \ S) matters, an odd function of
// zeta = 2 z - 1. It is fitted by weighted least squares on the odd Walsh terms zeta_i (the
// Shapley part) and, when `cubic`, zeta_a zeta_b zeta_c (a surrogate for the interactions that a
// linear fit leaves as sampling noise), under the efficiency constraint, with a small ridge on
// the cubic terms only. The estimate is the surrogate's exact Shapley values
// (phi_i = a_i + (1/3) sum_{T containing i} e_T): as the residual is orthogonal to the linear
// terms under the kernel weights, this is the regression-adjusted estimator of Witter, Liu &
// Musco (2025) in closed form, and it is consistent for any ridge (Lundberg & Lee's theorem
// applied to the residual game). Without `cubic` it is KernelSHAP's own fit. Standard errors:
// the stratified sandwich over the sampled pairs (enumerated levels have no sampling error),
// with the finite-population factor and each pair's score scaled by 1 / (1 - leverage) (HC3,
// the jackknife's), since the surrogate may have about as many terms as there are pairs.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <Eigen/Cholesky>

#include "gradlime/types.hpp"

namespace gradlime {

struct ShapleyLevel {
    Index k = 0;              // sizes k and d - k
    double population = 0.0;  // complement pairs in the level
    Index drawn = 0;          // pairs in the design (= population when enumerated)
    bool enumerated = false;
};

// The design for one budget: its first `pairs` pairs, the levels' counts and each pair's weight.
struct ShapleyStage {
    Index pairs = 0;
    std::vector<ShapleyLevel> levels;
    std::vector<double> weight;  // per pair: the kernel weight it stands for (both coalitions)
};

// Designs for increasing budgets (an adaptive sample size looks at each), nested: each stage's
// pairs are the previous stage's and more, drawn or enumerated after them, so a point's rows can
// stop at any stage. One budget is the plain design.
struct ShapleyDesign {
    Index d = 0, pairs = 0, words = 0;
    std::vector<std::uint64_t> masks;  // pairs x words: each pair's first coalition, packed
    std::vector<int> level;            // per pair: its level's index (k - 1)
    std::vector<ShapleyStage> stages;
    // Throws std::invalid_argument when the first budget cannot give every level a pair.
    static ShapleyDesign make(Index d, const std::vector<Index>& budgets, std::uint64_t seed);
};

// Whether the cubic surrogate is used for d features and M pairs: d >= 3 and p = d + C(d, 3)
// terms small enough (d <= 16, and M p within 2^24, 128 MiB per matrix), and M >= p / 2 (with
// fewer pairs the ridge does the fitting; measured, no better than the linear fit).
bool use_cubic(Index d, Index pairs);

class ShapleyFit {
public:
    // The fit of one stage of the design.
    ShapleyFit(const ShapleyDesign& design, Index stage, bool cubic);
    // From the stage's pairs' differences h_j = v(S_j) - v(N \ S_j) in reference labels and
    // delta = v(N) - v(empty): the Shapley values and standard errors, in reference labels.
    void solve(const double* h, double delta, double* phi, double* se) const;
    Index terms() const { return q_ + 1; }

private:
    const ShapleyDesign& design_;
    const ShapleyStage& stage_;
    Index d_ = 0, q_ = 0;
    bool identified_ = true, cubic_ = false;
    RowMatrix A_;    // (M, q): sqrt(W) times the design's reduced terms
    Eigen::LLT<Matrix> llt_;  // G = A^T A + ridge = C C^T
    Matrix Y_;       // (q, M): C^-1 A^T (identified designs)
    Matrix pinv_;    // (q, M): G^+ A^T (designs that leave a coefficient unidentified)
    Matrix K_;       // (d, M): L G^-1 A^T, so phi = delta e_last + K sqrt(W) t
    RowMatrix L_;    // (d, q)
    Vector sqrt_w_, last_, leverage_;  // per pair: sqrt(W), zeta_{d-1}, H_jj
};

}  // namespace gradlime
