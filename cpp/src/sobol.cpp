// Scrambled Sobol' points (rng/sobol.hpp): primitive polynomials, direction numbers, the search
// that chose the initial ones, and the scrambled draws.
#include "gradlime/rng/sobol.hpp"

#include <algorithm>
#include <array>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include "gradlime/rng/counter_space.hpp"
#include "gradlime/rng/inverse_normal.hpp"
#include "gradlime/rng/philox.hpp"

namespace gradlime {

namespace {

#include "sobol_table.inc"  // kSobolTableDims, kSobolTableCandidates, kSobolTable[]

constexpr int kBits = 32;
using Directions = std::array<std::uint32_t, kBits>;

int degree(std::uint32_t poly) { return 31 - __builtin_clz(poly); }

// a * b mod p over GF(2), p of degree s, a and b of degree < s.
std::uint32_t mulmod(std::uint32_t a, std::uint32_t b, std::uint32_t p, int s) {
    std::uint32_t r = 0;
    for (; b; b >>= 1) {
        if (b & 1u) r ^= a;
        a <<= 1;
        if (a >> s & 1u) a ^= p;
    }
    return r;
}

std::uint32_t pow_x(std::uint64_t e, std::uint32_t p, int s) {
    std::uint32_t r = 1, base = s > 1 ? 2u : (2u ^ p);
    for (; e; e >>= 1) {
        if (e & 1u) r = mulmod(r, base, p, s);
        base = mulmod(base, base, p, s);
    }
    return r;
}

// p is primitive iff x has order 2^s - 1 modulo p: x^(2^s - 1) = 1 and no x^((2^s - 1) / q) = 1
// for a prime q dividing 2^s - 1.
void append_primitive(int s, std::vector<std::uint32_t>& out) {
    const std::uint64_t order = (std::uint64_t{1} << s) - 1;
    std::vector<std::uint64_t> primes;
    std::uint64_t rest = order;
    for (std::uint64_t q = 3; q * q <= rest; q += 2)
        if (rest % q == 0) {
            primes.push_back(q);
            while (rest % q == 0) rest /= q;
        }
    if (rest > 1) primes.push_back(rest);
    for (std::uint32_t low = 1; low < (1u << s); low += 2) {
        const std::uint32_t p = (1u << s) | low;
        if (s > 1 && __builtin_popcount(p) % 2 == 0) continue;  // x + 1 divides it
        if (pow_x(order, p, s) != 1) continue;
        bool primitive = true;
        for (std::uint64_t q : primes) primitive = primitive && pow_x(order / q, p, s) != 1;
        if (primitive) out.push_back(p);
    }
}

// The direction numbers v_i = m_i 2^(31 - i) of a coordinate from its polynomial and initial m.
Directions directions_of(std::uint32_t poly, const std::uint32_t* initial) {
    const int s = degree(poly);
    std::array<std::uint32_t, kBits> m{};
    for (int i = 0; i < kBits; ++i) {
        if (i < s) {
            m[i] = initial[i];
            continue;
        }
        std::uint32_t v = m[i - s] ^ (m[i - s] << s);
        for (int k = 1; k < s; ++k)
            if (poly >> (s - k) & 1u) v ^= m[i - k] << k;
        m[i] = v;
    }
    Directions out;
    for (int i = 0; i < kBits; ++i) out[i] = m[i] << (31 - i);
    return out;
}

Directions van_der_corput() {
    Directions out;
    for (int i = 0; i < kBits; ++i) out[i] = 1u << (31 - i);
    return out;
}

// Candidate c of coordinate k's initial numbers: m_i = 2 (w_i mod 2^i) + 1 (odd, < 2^(i+1)),
// w_i word i % 4 of the Philox block (k, c, i / 4, 0) under a fixed key (not a user's seed).
void candidate(Index k, std::uint32_t c, int s, std::uint32_t* m) {
    const Key key = key_from_seed(0x536F626F6CULL);  // "Sobol"
    Counter r{};
    for (int i = 0; i < s; ++i) {
        if (i % 4 == 0) r = philox4x32_10({static_cast<std::uint32_t>(k), c, static_cast<std::uint32_t>(i / 4), 0u}, key);
        m[i] = ((r[static_cast<size_t>(i % 4)] & ((1u << i) - 1u)) << 1) | 1u;
    }
}

// Rows of a coordinate's generator matrix for the first kRowBits digits and columns: bit k of row
// r is digit r of v_k. Upper triangular with a unit diagonal (digit r of v_k is 0 for k < r).
constexpr int kRowBits = 10;
using Rows = std::array<std::uint32_t, kRowBits>;
Rows rows_of(const Directions& v) {
    Rows rows{};
    for (int r = 0; r < kRowBits; ++r)
        for (int k = 0; k < kRowBits; ++k) rows[r] |= ((v[k] >> (31 - r)) & 1u) << k;
    return rows;
}

// t of the 2-D projection of 2^m points: m - the largest q such that for every q1 + q2 = q the
// first q1 rows of A and the first q2 rows of B (m columns) are linearly independent.
int t_value(const Rows& A, const Rows& B, int m) {
    const std::uint32_t mask = (1u << m) - 1u;
    std::array<std::uint32_t, kRowBits> w{};
    for (int t = 0; t < m; ++t) w[t] = B[t] & mask;
    int best = m;  // running min over q1' <= q1 of q1' + (B's leading rows independent of A's first q1')
    int rho = 0;
    for (int q1 = 0; q1 <= m; ++q1) {
        if (q1 > 0)  // reduce the rows still needed by A's row q1 - 1 (its lowest bit is q1 - 1)
            for (int t = 0; t < m - q1; ++t)
                if (w[t] >> (q1 - 1) & 1u) w[t] ^= A[q1 - 1] & mask;
        std::array<std::uint32_t, kRowBits> pivot{};  // by lowest set bit
        int q2 = 0;
        for (; q2 < m - q1; ++q2) {
            std::uint32_t x = w[q2];
            while (x) {
                const int b = __builtin_ctz(x);
                if (!pivot[b]) break;
                x ^= pivot[b];
            }
            if (!x) break;
            pivot[__builtin_ctz(x)] = x;
        }
        best = std::min(best, q1 + q2);
        if (best < q1) break;  // q = q1 fails, and so does every larger q
        rho = q1;
    }
    return m - rho;
}

constexpr int kSearchMinBits = 4, kSearchMaxBits = 10;

// The greedy search (sobol.hpp), seeded with the coordinates already chosen.
void extend_search(std::vector<Directions>& dirs, std::vector<Rows>& rows, const std::vector<std::uint32_t>& polys,
                   Index dims, int candidates, std::vector<std::uint32_t>* chosen) {
    std::uint32_t m[kBits], best_m[kBits];
    for (Index k = static_cast<Index>(dirs.size()); k < dims; ++k) {
        const std::uint32_t poly = polys[static_cast<size_t>(k - 1)];
        const int s = degree(poly);
        double best = -1.0;
        for (int c = 0; c < candidates; ++c) {
            candidate(k, static_cast<std::uint32_t>(c), s, m);
            const Rows r = rows_of(directions_of(poly, m));
            double cost = 0.0;
            for (Index i = 0; i < k && (best < 0.0 || cost < best); ++i)
                for (int b = kSearchMinBits; b <= kSearchMaxBits; ++b)
                    cost += static_cast<double>(1u << (2 * t_value(rows[static_cast<size_t>(i)], r, b)));
            if (best < 0.0 || cost < best) {
                best = cost;
                std::copy(m, m + s, best_m);
            }
        }
        dirs.push_back(directions_of(poly, best_m));
        rows.push_back(rows_of(dirs.back()));
        if (chosen) chosen->insert(chosen->end(), best_m, best_m + s);
    }
}

std::mutex g_mutex;
std::vector<std::uint32_t> g_polys;
std::shared_ptr<const std::vector<Directions>> g_dirs;

// Whole degrees at a time, so that the list only ever grows at its end.
std::vector<std::uint32_t> polynomials_locked(Index count) {
    for (int s = g_polys.empty() ? 1 : degree(g_polys.back()) + 1; static_cast<Index>(g_polys.size()) < count; ++s)
        append_primitive(s, g_polys);
    return std::vector<std::uint32_t>(g_polys.begin(), g_polys.begin() + count);
}

// Direction numbers of coordinates [0, d): the table, then the search's first candidates.
std::shared_ptr<const std::vector<Directions>> directions(Index d) {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (g_dirs && static_cast<Index>(g_dirs->size()) >= d) return g_dirs;
    auto dirs = std::make_shared<std::vector<Directions>>(g_dirs ? *g_dirs : std::vector<Directions>{});
    const std::vector<std::uint32_t> polys = polynomials_locked(std::max<Index>(d - 1, 0));
    if (dirs->empty()) dirs->push_back(van_der_corput());
    std::size_t offset = 0;
    for (Index k = 1; k < static_cast<Index>(dirs->size()) && k < kSobolTableDims; ++k)
        offset += static_cast<std::size_t>(degree(polys[static_cast<size_t>(k - 1)]));
    std::uint32_t m[kBits];
    for (Index k = static_cast<Index>(dirs->size()); k < d; ++k) {
        const std::uint32_t poly = polys[static_cast<size_t>(k - 1)];
        const int s = degree(poly);
        if (k < kSobolTableDims) {
            std::copy(kSobolTable + offset, kSobolTable + offset + s, m);
            offset += static_cast<std::size_t>(s);
        } else {
            candidate(k, 0u, s, m);
        }
        dirs->push_back(directions_of(poly, m));
    }
    g_dirs = dirs;
    return g_dirs;
}

}  // namespace

std::vector<std::uint32_t> primitive_polynomials(Index count) {
    std::lock_guard<std::mutex> lock(g_mutex);
    return polynomials_locked(count);
}

std::vector<std::uint32_t> search_initial_numbers(Index dims, int candidates) {
    if (dims < 1 || candidates < 1) throw std::invalid_argument("search_initial_numbers: dims and candidates >= 1");
    const std::vector<std::uint32_t> polys = primitive_polynomials(dims - 1);
    std::vector<Directions> dirs{van_der_corput()};
    std::vector<Rows> rows{rows_of(dirs[0])};
    std::vector<std::uint32_t> chosen;
    extend_search(dirs, rows, polys, dims, candidates, &chosen);
    return chosen;
}

std::vector<std::uint32_t> sobol_table(Index& dims, int& candidates) {
    dims = kSobolTableDims;
    candidates = kSobolTableCandidates;
    return std::vector<std::uint32_t>(std::begin(kSobolTable), std::end(kSobolTable));
}

int sobol_pair_t_value(Index a, Index b, int m) {
    if (m < 1 || m > kRowBits) throw std::invalid_argument("sobol_pair_t_value: m in [1, 10]");
    const auto dirs = directions(std::max(a, b) + 1);
    return t_value(rows_of((*dirs)[static_cast<size_t>(a)]), rows_of((*dirs)[static_cast<size_t>(b)]), m);
}

void qmc_draws(std::uint64_t seed, std::uint32_t stream, const SampleScheme& scheme, std::uint64_t first, Index m,
               Index d, bool gaussian, double* out, Index row_step, Index col_step) {
    if (m <= 0) return;
    if (d > kMaxQmcDims) throw std::invalid_argument("qmc supports up to " + std::to_string(kMaxQmcDims) + " features");
    const auto dirs = directions(d);
    const Key key = key_from_seed(seed);
    const auto R = static_cast<std::uint64_t>(scheme.scrambles);
    const std::uint64_t last_unit = SampleScheme::unit_sample(first + static_cast<std::uint64_t>(m) - 1, scheme.antithetic);
    if (last_unit / R > 0xFFFFFFFFull) throw std::invalid_argument("qmc: at most 2^32 points per scramble");
    const auto top = static_cast<std::uint32_t>(last_unit / R);
    const int bits = top == 0 ? 1 : 32 - __builtin_clz(top);  // index bits any sample here uses
    std::vector<std::uint32_t> scrambled(static_cast<size_t>(R) * bits), shift(static_cast<size_t>(R));
    for (Index k = 0; k < d; ++k) {
        const Directions& v = (*dirs)[static_cast<size_t>(k)];
        for (std::uint64_t r = 0; r < R; ++r) {
            // Column u of M: digit u set, random digits below it (bits 31 - u - 1 .. 0).
            std::uint32_t col[kBits];
            Counter block{};
            const auto c = [&](std::uint32_t b) {
                return philox4x32_10({counter_word(DrawKind::QmcScrambles, static_cast<std::uint32_t>(9 * k) + b),
                                      static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(r >> 32), stream},
                                     key);
            };
            for (int u = 0; u < bits; ++u) {
                if (u % 4 == 0) block = c(static_cast<std::uint32_t>(u / 4));
                const std::uint32_t below = u == 31 ? 0u : (1u << (31 - u)) - 1u;
                col[u] = (1u << (31 - u)) | (block[static_cast<size_t>(u % 4)] & below);
            }
            shift[r] = c(8u)[0];
            // M v_i: the columns of the digits v_i has (digits 0 .. i).
            for (int i = 0; i < bits; ++i) {
                std::uint32_t x = 0;
                for (int u = 0; u <= i; ++u)
                    if (v[i] >> (31 - u) & 1u) x ^= col[u];
                scrambled[static_cast<size_t>(r) * bits + i] = x;
            }
        }
        for (Index t = 0; t < m; ++t) {
            const std::uint64_t j = first + static_cast<std::uint64_t>(t);
            const std::uint64_t unit = SampleScheme::unit_sample(j, scheme.antithetic);
            const auto r = static_cast<size_t>(unit % R);
            auto i = static_cast<std::uint32_t>(unit / R);
            std::uint32_t x = shift[r];
            for (const std::uint32_t* sv = scrambled.data() + r * bits; i; i >>= 1, ++sv)
                if (i & 1u) x ^= *sv;
            const double u = (static_cast<double>(x) + 0.5) * 0x1p-32;
            double z = gaussian ? inverse_normal_cdf(u) : u;
            if (scheme.antithetic && j % 2 == 1) z = gaussian ? -z : 1.0 - z;
            out[t * row_step + k * col_step] = z;
        }
    }
}

}  // namespace gradlime
