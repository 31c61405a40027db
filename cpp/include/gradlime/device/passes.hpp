// The sums a device backend forms after the values pass, one kind per pass, written once for the
// host reference and the CUDA kernel (GRADLIME_HD): for each point, each of its samples in order
// gives p columns c and a weight w (device/gaussian_sums.hpp's, device/lime_sums.hpp's), and each
// of the pass's `width` entries adds that sample's term, c_k c_l (weighted: w (c_k c_l)) or c_k.
//
//   pass           columns c                 entries                       weighted
//   LeastSquares   [z; f - fbar]             lower triangle, then sum c    no
//   Meat           r (z - zbar)              lower triangle                no
//   Stein          t = (z / scale)(f - fbar) sum t^2, then sum t           no
//   LimeFit        [z; f - f_0; 1]           lower triangle                pi
//   LimeMeat       [z; 1]                    lower triangle                (pi r)^2
#pragma once

#include <cstdint>

#include "gradlime/device/draws.hpp"
#include "gradlime/device/gaussian_sums.hpp"
#include "gradlime/device/lime_sums.hpp"
#include "gradlime/hd.hpp"

namespace gradlime::device {

enum class Pass : int { LeastSquares, Meat, Stein, LimeFit, LimeMeat };

// What a pass reads besides the draws, for the chunk's points (local index i): the values pass's
// values (i * n + s) and what the host computed from the earlier passes' sums.
struct PassInputs {
    const double* values = nullptr;  // (m, n)
    std::int64_t n = 0;
    const double* fbar = nullptr;       // (m): the mean value (LeastSquares, Meat, Stein)
    const double* gbar = nullptr;       // (m): Meat, the fit's mean of f - fbar
    const double* zbar = nullptr;       // (m, d): Meat
    const double* v = nullptr;          // (m, d): Meat, the slopes in z space
    const double* coef = nullptr;       // (m, d): LimeMeat, the coefficients
    const double* intercept = nullptr;  // (m): LimeMeat, in f - f_0
    double inv_width2 = 0.0;            // LimeFit, LimeMeat: 1 / kernel_width^2
};

struct PassShape {
    int p = 0;               // columns per sample
    std::int64_t width = 0;  // entries per point
    bool weighted = false;
    bool moments = false;  // Stein's entries (moment_entry), else gram_entry's
};

GRADLIME_HD inline PassShape pass_shape(Pass pass, int d) {
    PassShape s;
    switch (pass) {
        case Pass::LeastSquares: s.p = d + 1, s.width = packed_size(d + 1) + d + 1; break;
        case Pass::Meat: s.p = d, s.width = packed_size(d); break;
        case Pass::Stein: s.p = d, s.width = 2 * static_cast<std::int64_t>(d), s.moments = true; break;
        case Pass::LimeFit: s.p = d + 2, s.width = packed_size(d + 2), s.weighted = true; break;
        case Pass::LimeMeat: s.p = d + 1, s.width = packed_size(d + 1), s.weighted = true; break;
    }
    return s;
}

// Sample s of local point i: its columns into c (p), its weight returned (1 unweighted).
template <class Z, class C>
GRADLIME_HD inline double pass_columns(Pass pass, const PassInputs& in, const PointDraws& pt, std::int64_t i,
                                       std::int64_t s, Z z, C c) {
    const int d = pt.d;
    const double f = in.values[i * in.n + s];
    switch (pass) {
        case Pass::LeastSquares: least_squares_columns(z, d, f, in.fbar[i], c); return 1.0;
        case Pass::Meat: meat_columns(z, d, f, in.fbar[i], in.gbar[i], in.zbar + i * d, in.v + i * d, c); return 1.0;
        case Pass::Stein: stein_columns(z, d, f, in.fbar[i], pt.scale, c); return 1.0;
        case Pass::LimeFit: return lime_fit_columns(pt, z, f, in.values[i * in.n], in.inv_width2, c);
        case Pass::LimeMeat:
            return lime_meat_columns(pt, z, f, in.values[i * in.n], in.inv_width2, in.coef + i * d, in.intercept[i], c);
    }
    return 1.0;
}

GRADLIME_HD inline GramEntry pass_entry(const PassShape& s, std::int64_t e) {
    return s.moments ? moment_entry(e, s.p) : gram_entry(e, s.p);
}

// The entry gains the sample's term.
template <class C>
GRADLIME_HD inline void pass_add(const PassShape& s, const GramEntry& g, C c, double w, double& entry) {
    if (!s.weighted) gram_add(g, c, entry);
    else entry = add_rn(entry, mul_rn(w, g.l >= 0 ? mul_rn(c[g.k], c[g.l]) : c[g.k]));
}

}  // namespace gradlime::device
