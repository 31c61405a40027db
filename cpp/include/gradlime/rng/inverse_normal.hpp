// The standard normal quantile Phi^-1(u): Wichura's algorithm AS 241 (PPND16; Applied Statistics
// 37, 1988, 477-484): rational minimax approximations of degree 7/7 in three regions, relative
// error about 1e-16. The QMC scheme maps its uniforms through it (inversion keeps the low
// discrepancy of each coordinate, which Box-Muller's pairing of coordinates would not).
//
// Bitwise reproducibility: IEEE +, -, *, /, sqrt and the library's own log (rng/normal.hpp's
// log_unit), so the same bits on every platform that rounds to nearest without contracting.
#pragma once

#include "gradlime/rng/normal.hpp"
#include "gradlime/simd/registers.hpp"

namespace gradlime {

namespace detail::as241 {
// |u - 1/2| <= 0.425: q = u - 1/2, r = 0.180625 - q^2, Phi^-1 = q A(r) / B(r).
constexpr double A[] = {3.387132872796366608,  133.14166789178437745, 1971.5909503065514427,
                        13731.693765509461125, 45921.953931549871457, 67265.770927008700853,
                        33430.575583588128105, 2509.0809287301226727};
constexpr double B[] = {1.0,                   42.313330701600911252, 687.1870074920579083,
                        5394.1960214247511077, 21213.794301586595867, 39307.89580009271061,
                        28729.085735721942674, 5226.495278852545925};
// Otherwise r = sqrt(-log(min(u, 1 - u))); r <= 5: C(r - 1.6) / D(r - 1.6); beyond: E(r - 5) / F(r - 5).
constexpr double C[] = {1.42343711074968357734,  4.6303378461565452959,   5.7694972214606914055,
                        3.64784832476320460504,  1.27045825245236838258,  0.24178072517745061177,
                        0.0227238449892691845833, 7.7454501427834140764e-4};
constexpr double D[] = {1.0,                     2.05319162663775882187,  1.6763848301838038494,
                        0.68976733498510000455,  0.14810397642748007459,  0.0151986665636164571966,
                        5.475938084995344946e-4, 1.05075007164441684324e-9};
constexpr double E[] = {6.6579046435011037772,   5.4637849111641143699,   1.7848265399172913358,
                        0.29656057182850489123,  0.026532189526576123093, 0.0012426609473880784386,
                        2.71155556874348757815e-5, 2.01033439929228813265e-7};
constexpr double F[] = {1.0,                     0.59983220655588793769,  0.13692988092273580531,
                        0.0148753612908506148525, 7.868691311456132591e-4, 1.8463183175100546818e-5,
                        1.4215117583164458887e-7, 2.04426310338993978564e-15};

inline double poly(const double* c, double t) noexcept {
    return detail::horner<simd::Scalar>(t, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]);
}
}  // namespace detail::as241

// Phi^-1(u) for u in [2^-53, 1 - 2^-53] (the callers' uniforms never reach 0 or 1).
inline double inverse_normal_cdf(double u) noexcept {
    GRADLIME_NO_FP_CONTRACT
    using namespace detail::as241;
    const double q = u - 0.5;
    if ((q < 0.0 ? -q : q) <= 0.425) {
        const double r = 0.180625 - q * q;
        return q * poly(A, r) / poly(B, r);
    }
    const double tail = q < 0.0 ? u : 1.0 - u;  // exact: u >= 1/2 there (Sterbenz)
    double r = std::sqrt(-detail::log_unit<simd::Scalar>(tail));
    double z;
    if (r <= 5.0) {
        r -= 1.6;
        z = poly(C, r) / poly(D, r);
    } else {
        r -= 5.0;
        z = poly(E, r) / poly(F, r);
    }
    return q < 0.0 ? -z : z;
}

}  // namespace gradlime
