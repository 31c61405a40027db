// Randomised quasi-Monte Carlo: scrambled Sobol' points (Sobol' 1967; Bratley & Fox 1988) for the
// QMC sample scheme (sample_scheme.hpp).
//
// Generator matrices. Coordinate 0 is van der Corput's; coordinate k >= 1 takes the k-th
// primitive polynomial over GF(2) (by degree, then value) and initial direction numbers m_i (odd,
// < 2^i) chosen by search_initial_numbers: a greedy search, coordinate by coordinate, among
// candidates drawn from Philox with a fixed key, for the smallest t-values of the two-dimensional
// projections with every earlier coordinate for 2^4 .. 2^10 points (the criterion of Joe & Kuo,
// SIAM J. Sci. Comput. 30, 2008, computed here, not copied). The first kSobolTableDims coordinates
// use the table that scripts/sobol_directions.py generated with it (cpp/src/sobol_table.inc);
// later ones take the search's first candidate (valid Sobol' points, their projections not
// optimised).
//
// Scrambling: Matousek's random linear scramble with a digital shift (J. Complexity 14, 1998): in
// coordinate k of scramble r, the point's 32 binary digits x go to M x + s, M lower triangular
// with a unit diagonal and s uniform; each point is then uniform on the cube and the scrambled
// points keep the net's structure. M's columns and s come from Philox blocks in the QmcScrambles
// counter range: (counter_word(QmcScrambles, 9 k + b), scramble low, scramble high, stream),
// key = seed, b = 0..7 the columns (a word each), b = 8 the shift. A point is the XOR of the
// scrambled direction numbers of its index's set bits (no Gray code): a pure function of
// (seed, stream, scramble, index, coordinate), whatever the batching.
#pragma once

#include <cstdint>
#include <vector>

#include "gradlime/sample_scheme.hpp"
#include "gradlime/types.hpp"

namespace gradlime {

constexpr Index kMaxQmcDims = 2'000'000;  // the counter range allows ~29.8M; polynomials get slow

// The first `count` primitive polynomials of degree >= 1 over GF(2), as bits (x^s + ... + 1).
std::vector<std::uint32_t> primitive_polynomials(Index count);

// Initial direction numbers for coordinates 1 .. dims - 1, concatenated (degree-of-polynomial of
// them per coordinate): the greedy search over `candidates` candidates per coordinate.
std::vector<std::uint32_t> search_initial_numbers(Index dims, int candidates);

// The committed table (cpp/src/sobol_table.inc): its numbers, and how many coordinates and
// candidates the search that made it had.
std::vector<std::uint32_t> sobol_table(Index& dims, int& candidates);

// The t-value of the two-dimensional projection (coordinates a, b) of the first 2^m Sobol' points
// (unscrambled; scrambling keeps it), for coordinates given by their initial numbers.
int sobol_pair_t_value(Index a, Index b, int m);

// Draws of samples [first, first + m) of a stream under a QMC scheme: uniforms in (0, 1) on the
// 2^-32 grid's midpoints, mapped to standard normals when `gaussian` (inverse_normal.hpp; the
// mirror -z on the odd sample of an antithetic pair; 1 - u for uniforms). Coordinate k of sample first + t goes to
// out[t * row_step + k * col_step].
void qmc_draws(std::uint64_t seed, std::uint32_t stream, const SampleScheme& scheme, std::uint64_t first, Index m,
               Index d, bool gaussian, double* out, Index row_step, Index col_step);

}  // namespace gradlime
