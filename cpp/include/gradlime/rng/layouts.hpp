// Where the draws go: the Philox blocks of a kind of draw laid out as the callers want them.
//
//   gaussian_row      one sample's d normals (the definition: block k of a row gives coordinates
//                     2k and 2k + 1, so a row's first coordinates do not depend on d)
//   gaussian_rows     rows [first, first + m), row-major; short rows share vector registers
//   gaussian_columns  the same, column-major (the layout of a network block)
//   uniform_rows      uniforms in (0, 1) from the same counters
//
// All are kernel draws (rng/counter_space.hpp): counter (coordinate pair, sample low, sample
// high, stream). Every layout and path gives gaussian_row's bits for every row.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "gradlime/rng/counter_space.hpp"
#include "gradlime/rng/normal.hpp"
#include "gradlime/rng/philox.hpp"
#include "gradlime/simd/isa.hpp"
#include "gradlime/simd/registers.hpp"

GRADLIME_SIMD_WARNINGS_OFF

namespace gradlime {

static_assert(counter_word(DrawKind::Kernel, 0) == 0,
              "the kernel draws' first counter word is the coordinate pair itself, counted in the lanes");

namespace detail {

// --- feature-major (gaussian_columns) ------------------------------------------------------------
// One lane per row: the lanes of a register hold the same coordinate pair of V::kBlocks consecutive
// samples, so a block's two normals land in two columns with plain stores and no shuffle. Each
// lane runs gaussian_row's arithmetic on its own counter, so the bits are gaussian_rows'.
template <class V, int kVecs>
inline void gaussian_columns_regs(const RowConstants<V>& rc, std::uint64_t sample0, long pair, long d,
                                  double* out, long ld) noexcept {
    using I = typename V::I;
    I c0[kVecs], c1[kVecs], c2[kVecs];
    for (int v = 0; v < kVecs; ++v) {
        c0[v] = V::set1(static_cast<std::uint64_t>(pair));
        c1[v] = V::add64(V::set1(sample0 + static_cast<std::uint64_t>(v * V::kBlocks)), V::iota());
        c2[v] = V::template srli<32>(c1[v]);
    }
    const bool second = 2 * pair + 1 < d;
    double* col0 = out + 2 * pair * ld;
    gaussian_vecs_store<V, kVecs>(rc, c0, c1, c2, [&](int v, typename V::D z0, typename V::D z1) {
        V::storeu(col0 + v * V::kBlocks, z0);
        if (second) V::storeu(col0 + ld + v * V::kBlocks, z1);
    });
}

// gaussian_columns_regs<V, n> for a run-time n = regs in 1 .. kVecs.
template <class V, int kVecs>
inline void gaussian_columns_tail(long regs, const RowConstants<V>& rc, std::uint64_t sample0, long pair,
                                  long d, double* out, long ld) noexcept {
    if constexpr (kVecs > 1) {
        if (regs < kVecs) return gaussian_columns_tail<V, kVecs - 1>(regs, rc, sample0, pair, d, out, ld);
    }
    gaussian_columns_regs<V, kVecs>(rc, sample0, pair, d, out, ld);
}

// Rows [first, first + m) in whole registers (m a multiple of V::kBlocks) into column-major out.
template <class V>
inline void gaussian_columns_vec(Key key, std::uint32_t stream, std::uint64_t first, long m, long d,
                                 double* out, long ld) noexcept {
    constexpr long kRows = V::kVecs * V::kBlocks;
    const RowConstants<V> rc(key, 0, 0, stream);
    const long P = (d + 1) / 2;
    for (long t = 0; t < m; t += kRows) {
        const long regs = std::min(kRows, m - t) / V::kBlocks;
        const std::uint64_t sample0 = first + static_cast<std::uint64_t>(t);
        for (long k = 0; k < P; ++k) gaussian_columns_tail<V, V::kVecs>(regs, rc, sample0, k, d, out + t, ld);
    }
}

// kVecs * V::kBlocks Philox blocks for the counters (k0 + i, s_lo, s_hi, stream), then Box-Muller,
// normals to out[0 .. 2 kVecs V::kBlocks).
template <class V, int kVecs>
inline void gaussian_vecs(const RowConstants<V>& rc, std::uint32_t k0, double* out) noexcept {
    using I = typename V::I;
    I c0[kVecs], c1[kVecs], c2[kVecs];
    const I base = V::add64(V::set1(k0), V::iota());  // low 32 bits: k0 + i mod 2^32
    const I step = V::set1(static_cast<std::uint64_t>(V::kBlocks));
    for (int v = 0; v < kVecs; ++v) {
        c0[v] = v == 0 ? base : V::add64(c0[v - 1], step);
        c1[v] = rc.s_lo;
        c2[v] = rc.s_hi;
    }
    gaussian_vecs_at<V, kVecs>(rc, c0, c1, c2, out);
}

// gaussian_vecs<V, n> for a run-time n = regs in 1 .. kVecs.
template <class V, int kVecs>
inline void gaussian_regs(long regs, const RowConstants<V>& rc, std::uint32_t k0,
                          double* out) noexcept {
    if constexpr (kVecs > 1) {
        if (regs < kVecs) return gaussian_regs<V, kVecs - 1>(regs, rc, k0, out);
    }
    gaussian_vecs<V, kVecs>(rc, k0, out);
}

// gaussian_row on the vector paths: batches of kVecs registers, then one batch of as many registers
// as the rest needs, through a buffer when d does not fill it.
template <class V, int kVecs = V::kVecs>
inline void gaussian_row_vec(Key key, std::uint32_t s_lo, std::uint32_t s_hi, std::uint32_t stream,
                             long d, double* z) noexcept {
    constexpr long kReg = 2 * V::kBlocks, kWide = kVecs * kReg;  // normals per register, per batch
    const RowConstants<V> rc(key, s_lo, s_hi, stream);
    long j = 0;  // next coordinate; always even
    for (; j + kWide <= d; j += kWide)
        gaussian_vecs<V, kVecs>(rc, static_cast<std::uint32_t>(j / 2), z + j);
    if (j == d) return;
    const long regs = (d - j + kReg - 1) / kReg;  // 1 .. kVecs
    const auto k0 = static_cast<std::uint32_t>(j / 2);
    if (j + regs * kReg == d) return gaussian_regs<V, kVecs>(regs, rc, k0, z + j);  // fills z
    double buf[kWide];
    gaussian_regs<V, kVecs>(regs, rc, k0, buf);
    for (long i = 0; j + i < d; ++i) z[j + i] = buf[i];
}

// --- several rows at once (gaussian_rows) ---------------------------------------------------------
// Rows of a short d are only ceil(d/2) blocks, so the row-by-row path leaves most lanes of its last
// register idle. Here the blocks of all rows are laid end to end, block g being the pair g mod P of
// sample first + g / P (P = ceil(d/2) blocks per row), and cut into batches of kLanes blocks; each
// lane carries its own (pair, sample) counter. A batch's normals form rows of 2P values, of which
// the first d are kept. Each lane runs gaussian_row's arithmetic on the same counter, so the bits
// are the same.
//
// The lane counters of the first batch, stepped by kLanes blocks from one batch to the next:
// pair += r, sample += q with kLanes = q P + r, then a pair >= P wraps into the next sample.
#if !defined(GRADLIME_RNG_ROWS_MAX_PAIRS)
#define GRADLIME_RNG_ROWS_MAX_PAIRS 63
#endif
constexpr long kRowsBatchedMaxPairs = GRADLIME_RNG_ROWS_MAX_PAIRS;  // longer rows go row by row

struct RowsStart {
    std::uint64_t q, r;
    RowsStart(long kLanes, long P) noexcept
        : q(static_cast<std::uint64_t>(kLanes / P)), r(static_cast<std::uint64_t>(kLanes % P)) {}
    static void lanes(std::uint64_t first, long P, long kLanes, std::uint64_t* pair,
                      std::uint64_t* sample) noexcept {
        std::uint64_t k = 0, t = first;
        for (long i = 0; i < kLanes; ++i) {
            pair[i] = k;
            sample[i] = t;
            if (static_cast<long>(++k) == P) {
                k = 0;
                ++t;
            }
        }
    }
};


// Lays the batches of gen out into rows: gen.next(out) writes the 2 kLanes normals of the next
// batch, gen.last(n, out) the first 2n of the last (n < kLanes blocks).
template <class Gen>
inline void gaussian_rows_batched(Gen& gen, long m, long d, double* out, long ld) noexcept {
    constexpr long kLanes = Gen::kLanes;
    const long P = (d + 1) / 2, width = 2 * P;  // blocks and normals per row
    const long total = m * P;                   // blocks
    // even d, rows packed: the batches' normals are the output itself
    const bool direct = width == d && ld == d;
    double buf[2 * kLanes];
    long t = 0, c = 0;  // row and column of the next normal to place
    const auto place = [&](long n) noexcept {  // buf[0 .. n) from (t, c) on
        for (long i = 0; i < n;) {
            const long len = width - c < n - i ? width - c : n - i;
            const long end = c + len < d ? c + len : d;
            simd::copy_short(buf + i, end - c, out + t * ld + c);
            i += len;
            c += len;
            if (c == width) {
                c = 0;
                ++t;
            }
        }
    };
    long g = 0;
    for (; g + kLanes <= total; g += kLanes) {
        gen.next(direct ? out + 2 * g : buf);
        if (!direct) place(2 * kLanes);
    }
    if (g < total) {
        if (direct) {
            t = 2 * g / width;
            c = 2 * g % width;
        }
        gen.last(total - g, buf);
        place(2 * (total - g));
    }
}

template <class V, int kVecs = V::kVecs>
struct RowsGenVec {
    using I = typename V::I;
    static constexpr long kLanes = kVecs * V::kBlocks;
    RowConstants<V> rc;
    I pair[kVecs], sample[kVecs], r, q, p;
    RowsGenVec(Key key, std::uint32_t stream, std::uint64_t first, long P) noexcept
        : rc(key, 0, 0, stream) {
        std::uint64_t k0[kLanes], s0[kLanes];
        RowsStart::lanes(first, P, kLanes, k0, s0);
        for (int v = 0; v < kVecs; ++v) {
            pair[v] = V::loadu(k0 + v * V::kBlocks);
            sample[v] = V::loadu(s0 + v * V::kBlocks);
        }
        const RowsStart step(kLanes, P);
        r = V::set1(step.r);
        q = V::set1(step.q);
        p = V::set1(static_cast<std::uint64_t>(P));
    }
    template <int n>
    void run(double* out) const noexcept {
        I hi[n];
        for (int v = 0; v < n; ++v) hi[v] = V::template srli<32>(sample[v]);
        gaussian_vecs_at<V, n>(rc, pair, sample, hi, out);
    }
    void next(double* out) noexcept {
        run<kVecs>(out);
        for (int v = 0; v < kVecs; ++v) V::advance(pair[v], sample[v], r, q, p);
    }
    template <int n = kVecs>
    void last_regs(long regs, double* out) const noexcept {
        if constexpr (n > 1) {
            if (regs < n) return last_regs<n - 1>(regs, out);
        }
        run<n>(out);
    }
    void last(long blocks, double* out) const noexcept {
        last_regs((blocks + V::kBlocks - 1) / V::kBlocks, out);
    }
};

struct RowsGenLanes {
    static constexpr long kLanes = 8, kNarrow = 4;
    Key key;
    std::uint32_t stream;
    std::uint64_t pair[kLanes], sample[kLanes], r, q, p;
    RowsGenLanes(Key key_, std::uint32_t stream_, std::uint64_t first, long P) noexcept
        : key(key_), stream(stream_) {
        RowsStart::lanes(first, P, kLanes, pair, sample);
        const RowsStart step(kLanes, P);
        r = step.r;
        q = step.q;
        p = static_cast<std::uint64_t>(P);
    }
    void next(double* out) noexcept {
        gaussian_lanes_at<kLanes>(key, pair, sample, stream, out);
        for (long i = 0; i < kLanes; ++i) {
            pair[i] += r;
            sample[i] += q;
            const std::uint64_t wrap = pair[i] >= p ? 1 : 0;
            pair[i] -= wrap * p;
            sample[i] += wrap;
        }
    }
    void last(long blocks, double* out) const noexcept {
        if (blocks <= kNarrow) return gaussian_lanes_at<kNarrow>(key, pair, sample, stream, out);
        gaussian_lanes_at<kLanes>(key, pair, sample, stream, out);
    }
};

}  // namespace detail

// Standard normals z[0..d) for one perturbation row.
//
// The Philox counter is (coordinate pair, sample low, sample high, stream), the key is the seed.
// Each block gives, through Box-Muller (detail::box_muller), the coordinates 2k and 2k+1. The first
// coordinates of a row therefore do not depend on d.
inline void gaussian_row(std::uint64_t seed, std::uint32_t stream, std::uint64_t sample, long d,
                         double* z) noexcept {
    const Key key = key_from_seed(seed);
    const auto s_lo = static_cast<std::uint32_t>(sample);
    const auto s_hi = static_cast<std::uint32_t>(sample >> 32);
#if GRADLIME_SIMD_AVX512
    detail::gaussian_row_vec<simd::Avx512>(key, s_lo, s_hi, stream, d, z);
#elif GRADLIME_SIMD_AVX2
    detail::gaussian_row_vec<simd::Avx2>(key, s_lo, s_hi, stream, d, z);
#else
    constexpr long kWide = 8, kNarrow = 4;  // blocks per batch: bulk, then the tail
    long j = 0;                              // next coordinate; always even
    for (; j + 2 * kWide <= d; j += 2 * kWide)
        detail::gaussian_lanes<kWide>(key, static_cast<std::uint32_t>(j / 2), s_lo, s_hi, stream,
                                      z + j);
    for (; j + 2 * kNarrow <= d; j += 2 * kNarrow)
        detail::gaussian_lanes<kNarrow>(key, static_cast<std::uint32_t>(j / 2), s_lo, s_hi, stream,
                                        z + j);
    if (j < d) {
        double tail[2 * kNarrow];
        detail::gaussian_lanes<kNarrow>(key, static_cast<std::uint32_t>(j / 2), s_lo, s_hi, stream,
                                        tail);
        for (long i = 0; j + i < d; ++i) z[j + i] = tail[i];
    }
#endif
}

// Rows [first, first + m) of one stream: row t goes to out + t * ld (ld >= d). Bit-identical to
// calling gaussian_row for each row (sample first + t, mod 2^64).
//
// For short rows the blocks of consecutive rows share the vector registers (see
// detail::gaussian_rows_batched); long rows go row by row, where the idle lanes of a row's last
// register are few.
inline void gaussian_rows(std::uint64_t seed, std::uint32_t stream, std::uint64_t first, long m, long d,
                          double* out, long ld) noexcept {
    if (m <= 0 || d <= 0) return;
    const long P = (d + 1) / 2;
    const Key key = key_from_seed(seed);
#if GRADLIME_SIMD_AVX512
    using Gen = detail::RowsGenVec<simd::Avx512>;
#elif GRADLIME_SIMD_AVX2
    using Gen = detail::RowsGenVec<simd::Avx2>;
#else
    using Gen = detail::RowsGenLanes;
#endif
    if (m == 1 || P > detail::kRowsBatchedMaxPairs) {
        for (long t = 0; t < m; ++t)
            gaussian_row(seed, stream, first + static_cast<std::uint64_t>(t), d, out + t * ld);
        return;
    }
    Gen gen(key, stream, first, P);
    detail::gaussian_rows_batched(gen, m, d, out, ld);
}

// gaussian_rows laid out by column: coordinate j of row t goes to out[j * ld + t] (ld >= m), the
// layout of a network block. The same bits as gaussian_rows (the vector paths give every lane its
// own row; the others draw rows and transpose).
inline void gaussian_columns(std::uint64_t seed, std::uint32_t stream, std::uint64_t first, long m, long d,
                             double* out, long ld) {
    if (m <= 0 || d <= 0) return;
    long t = 0;
#if GRADLIME_SIMD_AVX512 || GRADLIME_SIMD_AVX2
#if GRADLIME_SIMD_AVX512
    using V = simd::Avx512;
#else
    using V = simd::Avx2;
#endif
    t = m - m % V::kBlocks;
    detail::gaussian_columns_vec<V>(key_from_seed(seed), stream, first, t, d, out, ld);
#endif
    if (t == m) return;
    std::vector<double> rows(static_cast<size_t>((m - t) * d));
    gaussian_rows(seed, stream, first + static_cast<std::uint64_t>(t), m - t, d, rows.data(), d);
    for (long i = 0; t + i < m; ++i)
        for (long j = 0; j < d; ++j) out[j * ld + t + i] = rows[static_cast<size_t>(i * d + j)];
}

// Uniform numbers in the open interval (0, 1) for rows [first, first + m) of one stream, from
// the same counters as gaussian_rows: block k of a row gives coordinates 2k and 2k+1, 53 bits
// each. Scalar Philox; the non-Gaussian kernels (uniform, Laplace) are drawn from these.
inline void uniform_rows(std::uint64_t seed, std::uint32_t stream, std::uint64_t first, long m, long d,
                         double* out, long ld) noexcept {
    const Key key = key_from_seed(seed);
    for (long t = 0; t < m; ++t) {
        const std::uint64_t sample = first + static_cast<std::uint64_t>(t);
        double* row = out + t * ld;
        for (long k = 0; 2 * k < d; ++k) {
            double u0, u1;
            uniform_pair(key, counter_word(DrawKind::Kernel, static_cast<std::uint32_t>(k)), sample, stream, u0, u1);
            row[2 * k] = u0;
            if (2 * k + 1 < d) row[2 * k + 1] = u1;
        }
    }
}

}  // namespace gradlime

GRADLIME_SIMD_WARNINGS_ON
