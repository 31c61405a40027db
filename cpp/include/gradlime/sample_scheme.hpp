// How sample j of a point's stream is made from the counters (the sample-scheme seam), and which
// samples form the independent units that the standard errors count:
//
//   Monte Carlo        independent draws; each sample is a unit.
//   antithetic         sample 2k + 1 is the mirror of sample 2k (e and -e: -z for the Gaussian,
//                      1 - u for the uniform and Laplace kernels); each pair is a unit.
//   QMC (R scrambles)  randomised quasi-Monte Carlo (rng/sobol.hpp): sample j (or pair j / 2, when
//                      antithetic too) is point i = j / R of scramble r = j mod R of a scrambled
//                      Sobol' sequence; the R scrambles are independent and each is one unit
//                      (its points are dependent by design). Interleaving keeps every prefix of
//                      R i samples balanced: i points of each scramble.
#pragma once

#include <cstdint>

#include "gradlime/types.hpp"

namespace gradlime {

constexpr int kMaxQmcScrambles = 32;  // the stop rules look every 64 samples: whole rounds of 2 R

struct SampleScheme {
    bool antithetic = false;
    int scrambles = 0;  // > 0: randomised QMC with this many independent scrambles

    bool qmc() const { return scrambles > 0; }
    bool iid() const { return !antithetic && !qmc(); }
    // The draw that sample j reflects or is (a pair's first sample counts for both).
    static std::uint64_t unit_sample(std::uint64_t j, bool antithetic) { return antithetic ? j / 2 : j; }
    // Samples per round: the number after which every unit and scramble has its share again.
    Index round() const { return (antithetic ? 2 : 1) * (qmc() ? scrambles : 1); }
    // How many independent units ("clusters") the first n samples form.
    Index clusters(Index n) const { return qmc() ? scrambles : antithetic ? n / 2 : n; }
    // The cluster of sample j (j < n).
    Index cluster_of(Index j) const {
        const Index u = antithetic ? j / 2 : j;
        return qmc() ? u % scrambles : u;
    }
};

}  // namespace gradlime
