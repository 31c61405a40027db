// KernelSHAP (Lundberg & Lee, NeurIPS 2017): Shapley values as the Shapley-kernel weighted least
// squares fit of a coalition's value v(z) = mean_b f(x_z, b_{not z}) on its mask z, with the
// efficiency constraint sum(phi) = f(x) - E f(b) eliminated by substituting the last coefficient.
//
// Rows stream through the model by the driver (driver.hpp) in a fixed sequence:
//   [B background rows, once: E f(b)] then per point [x, coalition 0 x B rows, coalition 1 ...],
// so memory is the buffer plus one value per coalition of each point in flight. A native network
// runs fused: coalition rows are filled straight into the network's blocks (the same bits).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "gradlime/driver.hpp"
#include "gradlime/model.hpp"
#include "gradlime/shapley_design.hpp"
#include "gradlime/types.hpp"

namespace gradlime {

// The coalitions of one explanation:
// - exact: all 2^d - 2 non-trivial masks (coalition j is the bit pattern j + 1), each with its
//   Shapley-kernel weight (d - 1) / (C(d, s) s (d - s));
// - sampled: the pairs of the call's stratified design (shapley_design.hpp), coalition 2g being
//   reference pair g's first coalition with its features relabelled by the point's permutation
//   pi_p (feature i of the reference is feature pi_p(i)), coalition 2g + 1 its complement. A
//   pure function of (seed, point, index).
class ShapleyCoalitions {
public:
    // `budgets`: the sampled design's stages (one, or an adaptive size's increasing looks); the
    // exact mode ignores them.
    ShapleyCoalitions(Index d, bool exact, const std::vector<Index>& budgets, std::uint64_t seed);
    Index dim() const { return d_; }
    Index size() const { return n_; }
    bool exact() const { return exact_; }
    const ShapleyDesign& design() const { return design_; }
    // Exact mode: writes mask j (d bytes, 0 or 1: the bits of j + 1) and returns its weight.
    double exact_mask(Index j, std::uint8_t* z) const;
    // Sampled mode: masks [first, first + count) of point `point` packed ceil(d / 64) 64-bit
    // words each into w (zeroed by the caller).
    void pack(std::uint32_t point, Index first, Index count, std::uint64_t* w) const;
    // The point's relabelling pi_p (sampled mode).
    void permutation(std::uint32_t point, std::vector<Index>& perm) const;

private:
    Index d_, n_;
    bool exact_;
    std::uint64_t seed_;
    std::vector<double> size_weight_;  // exact: kernel weight of a coalition of size s, s = 0..d
    ShapleyDesign design_;             // sampled
};

// The exact mode's constrained fit (d >= 2) of one point: phi (d) from its coalitions' value sums
// over the B background rows (sums, in coalition order), v0 = E f(b) and delta = f(x) - v0. With
// phi_d = delta - sum_{k<d} phi_k substituted, the Shapley-kernel weighted least squares
//   v(z) - v0 - z_d delta  ~  sum_{k<d} (z_k - z_d) beta_k
// is unconstrained in beta = phi_{<d}, so sum(phi) = delta by construction. Chunks of coalitions
// in parallel when `parallel`; check() (Ctrl-C) between waves of them.
void exact_shapley_values(const ShapleyCoalitions& coalitions, const Vector& sums, double B, double v0, double delta,
                          bool parallel, const std::function<void()>& check, double* phi);

struct KernelShapOptions {
    bool exact = false;       // enumerate all 2^d - 2 coalitions (then n_samples is ignored)
    Index n_samples = 2048;   // sampled coalitions per point (the budget; pairs of it are used)
    std::uint64_t seed = 0;
    bool cubic = true;        // sampled: the cubic regression adjustment where use_cubic allows it
    // Adaptive: a point stops at the first of the budgets `looks` (increasing, below n_samples)
    // whose fit's standard errors are all <= stop_tol; 0: never.
    double stop_tol = 0.0;
    std::vector<Index> looks;
    // Batches, the fused native path (coalition rows filled straight into the network's
    // feature-major blocks), the point offset.
    DriverOptions driver;
};

struct KernelShapResult {
    RowMatrix values;   // (N, d)
    RowMatrix stderr_;  // (N, d): zero when exact; the design's stratified sandwich when sampled
    Vector fx;          // (N,) f at each point
    double expected_value = 0.0;  // E f(b) over the background rows
    Index coalitions = 0;         // coalitions per point at the most
    std::vector<Index> samples;   // per point: the coalitions its estimate used
    bool cubic = false;           // sampled: whether the cubic regression adjustment was used
};

// X (N, d) points, background (B, d) rows that stand in for absent features. Throws
// std::invalid_argument on bad options or a model returning NaN/inf (naming the point).
KernelShapResult run_kernel_shap(const RowMatrix& X, const RowMatrix& background, BatchModel& model,
                                 const KernelShapOptions& options);

}  // namespace gradlime
