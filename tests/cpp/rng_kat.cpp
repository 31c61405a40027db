// Known answers for every random draw, on whichever SIMD path this program is compiled for.
//
// tests/test_rng_kat.py compiles it once per path the CPU can run (portable, SSE2, AVX2, AVX-512)
// and holds each to the same pinned answers (tests/cpp/rng_kat.txt), and holds the pinned answers
// to the installed _core, as Random123 runs one kat_vectors file through every backend. It needs
// only the rng headers: no Eigen, no Python.
//
// Output: a line "path NAME", then one line per answer, "what key=value ... -> answer". A digest
// is FNV-1a over 64-bit words (h = (h ^ w) * 0x100000001b3 from 0xcbf29ce484222325): a double
// counts as its bits, a mask bit as 0 or 1. Grids cross 2^32 and 2^64 in the sample counters.
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "gradlime/rng.hpp"

namespace {

using namespace gradlime;

struct Digest {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    void add(std::uint64_t w) { h = (h ^ w) * 0x100000001b3ULL; }
    void add(double x) { add(detail::double_to_bits(x)); }
};

constexpr std::uint64_t kSeed = 0x5EED1234ABCD0042ULL;
constexpr std::uint32_t kStream = 7;
constexpr std::uint64_t kFirsts[] = {0, (1ULL << 32) - 3, ~0ULL - 4};  // 2^32 - 3, 2^64 - 5
constexpr long kMs[] = {1, 2, 7, 24, 33};
// every batch/tail split of every path (2 to 48 normals per batch), around the switch to row by
// row at 126 coordinates, and long rows
constexpr long kDs[] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13,  14,  15,  16,  17,  18,  19,  20,
                        21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33,  34,  35,  36,  37,  38,  39,  40,
                        47, 48, 49, 63, 64, 65, 95, 96, 97, 125, 126, 127, 128, 129, 130, 200, 257};

template <class T, std::size_t N>
void print_list(const char* name, const T (&v)[N]) {
    std::printf(" %s=", name);
    for (std::size_t i = 0; i < N; ++i) std::printf(i ? ",%" PRIu64 : "%" PRIu64, static_cast<std::uint64_t>(v[i]));
}

// Random123's kat_vectors for philox4x32_10, one block at a time and through the lanes.
void philox_answers() {
    const Counter counters[] = {{0, 0, 0, 0},
                                {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                                {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}};
    const Key keys[] = {{0, 0}, {0xffffffffu, 0xffffffffu}, {0xa4093822u, 0x299f31d0u}};
    for (int v = 0; v < 3; ++v) {
        const Counter c = counters[v];
        const Key k = keys[v];
        const Counter r = philox4x32_10(c, k);
        std::uint64_t pair[8], sample[8], a[8], b[8];
        for (int i = 0; i < 8; ++i) {
            pair[i] = c[0];
            sample[i] = (static_cast<std::uint64_t>(c[2]) << 32) | c[1];
        }
        detail::philox_lanes_at<8>(k, pair, sample, c[3], a, b);
        bool same = true;  // every lane has the same counter
        for (int i = 1; i < 8; ++i) same = same && a[i] == a[0] && b[i] == b[0];
        const Counter lanes = {static_cast<std::uint32_t>(a[0] >> 32), static_cast<std::uint32_t>(a[0]),
                               static_cast<std::uint32_t>(b[0] >> 32), static_cast<std::uint32_t>(b[0])};
        const char* what[] = {"philox4x32_10", "philox_lanes"};
        for (int w = 0; w < 2; ++w) {
            const Counter& x = w == 0 ? r : lanes;
            std::printf("%s ctr=%08x,%08x,%08x,%08x key=%08x,%08x -> ", what[w], c[0], c[1], c[2], c[3], k[0], k[1]);
            if (w == 1 && !same) std::printf("lanes differ\n");
            else std::printf("%08x %08x %08x %08x\n", x[0], x[1], x[2], x[3]);
        }
    }
}

// Digests of gaussian_rows, gaussian_columns and uniform_rows for each d, over every (first, m).
void kernel_answers() {
    std::printf("grid seed=%" PRIu64 " stream=%u", kSeed, kStream);
    print_list("first", kFirsts);
    print_list("m", kMs);
    std::printf("\n");
    const char* what[] = {"gaussian_rows", "gaussian_columns", "uniform_rows"};
    for (int w = 0; w < 3; ++w) {
        for (long d : kDs) {
            Digest h;
            for (std::uint64_t first : kFirsts) {
                for (long m : kMs) {
                    std::vector<double> z(static_cast<size_t>(m * d));
                    if (w == 0) gaussian_rows(kSeed, kStream, first, m, d, z.data(), d);
                    if (w == 1) gaussian_columns(kSeed, kStream, first, m, d, z.data(), m);
                    if (w == 2) uniform_rows(kSeed, kStream, first, m, d, z.data(), d);
                    for (double x : z) h.add(x);
                }
            }
            std::printf("%s d=%ld -> %016" PRIx64 "\n", what[w], d, h.h);
        }
    }
    // a few normals in full (tests/test_rng.py pins the same)
    double z[7];
    gaussian_row(kSeed, 2, 123456789, 7, z);
    std::printf("gaussian_values seed=%" PRIu64 " stream=2 first=123456789 d=7 ->", kSeed);
    for (double x : z) std::printf(" %a", x);
    std::printf("\n");
}

// LIME's masks three ways (the definition, the raw words, the feature bytes of 8 samples).
void lime_answers() {
    constexpr std::uint32_t kPoints[] = {0, 0xffffffffu};
    constexpr long kMaskDs[] = {1, 5, 31, 32, 33, 64, 65, 100, 127, 128, 129, 200, 256, 257, 300};
    const Key key = key_from_seed(kSeed);
    for (std::uint32_t point : kPoints) {
        for (long d : kMaskDs) {
            Digest row, words, bytes;
            for (std::uint64_t first : kFirsts) {
                for (long m : kMs) {
                    const long W = lime_mask_blocks(d);
                    std::vector<std::uint8_t> z(static_cast<size_t>(d)), zb(static_cast<size_t>(d));
                    std::vector<std::uint32_t> wv(static_cast<size_t>(m * 4 * W));
                    lime_mask_words(key, point, first, m, W, wv.data());
                    for (long t = 0; t < m; ++t) {
                        const std::uint64_t sample = first + static_cast<std::uint64_t>(t);
                        lime_mask_row(key, point, sample, d, z.data());
                        if (d <= 128 && t % 8 == 0) lime_mask_bytes8(key, point, sample, d, zb.data(), 1);
                        for (long k = 0; k < d; ++k) {
                            row.add(std::uint64_t{z[static_cast<size_t>(k)]});
                            words.add(std::uint64_t{(wv[static_cast<size_t>(t * 4 * W + k / 32)] >> (k % 32)) & 1u});
                            if (d <= 128) bytes.add(std::uint64_t{(zb[static_cast<size_t>(k)] >> (t % 8)) & 1u});
                        }
                    }
                }
            }
            std::printf("lime_mask_row point=%u d=%ld -> %016" PRIx64 "\n", point, d, row.h);
            std::printf("lime_mask_words point=%u d=%ld -> %016" PRIx64 "\n", point, d, words.h);
            if (d <= 128) std::printf("lime_mask_bytes8 point=%u d=%ld -> %016" PRIx64 "\n", point, d, bytes.h);
        }
    }
}

// KernelSHAP's draws: uniform subsets (size 1 + j mod (d - 1) for draw j) and feature
// permutations of points 0 .. points - 1, then draws across 2^32 of the last point.
void shap_answers() {
    constexpr long kShapDs[] = {3, 4, 5, 7, 15, 16, 17, 40, 64, 65, 100};
    constexpr std::uint32_t kPoints = 8;
    constexpr std::uint64_t kDraws = 4, kFarDraws[] = {(1ULL << 32) - 1, 1ULL << 32, (1ULL << 63) - 1};
    const Key key = key_from_seed(kSeed);
    for (long d : kShapDs) {
        std::vector<std::uint8_t> z(static_cast<size_t>(d));
        std::vector<std::ptrdiff_t> perm(static_cast<size_t>(d));
        Digest near, far, perms;
        for (std::uint32_t p = 0; p < kPoints; ++p) {
            for (std::uint64_t j = 0; j < kDraws; ++j) {
                uniform_subset(key, p, j, d, static_cast<long>(1 + j % static_cast<std::uint64_t>(d - 1)), z.data());
                for (std::uint8_t b : z) near.add(std::uint64_t{b});
            }
            feature_permutation(key, p, d, perm.data());
            for (std::ptrdiff_t v : perm) perms.add(static_cast<std::uint64_t>(v));
        }
        for (std::uint64_t j : kFarDraws) {
            uniform_subset(key, 0xffffffffu, j, d, d / 2, z.data());
            for (std::uint8_t b : z) far.add(std::uint64_t{b});
        }
        std::printf("shap_subsets seed=%" PRIu64 " d=%ld points=%u draws=%" PRIu64 " -> %016" PRIx64 "\n", kSeed, d,
                    kPoints, kDraws, near.h);
        std::printf("shap_subsets_far seed=%" PRIu64 " d=%ld point=4294967295", kSeed, d);
        print_list("draw", kFarDraws);
        std::printf(" -> %016" PRIx64 "\n", far.h);
        std::printf("shap_permutations seed=%" PRIu64 " d=%ld points=%u -> %016" PRIx64 "\n", kSeed, d, kPoints,
                    perms.h);
    }
}

}  // namespace

int main() {
    std::printf("path %s\n", GRADLIME_SIMD_PATH);
    philox_answers();
    kernel_answers();
    lime_answers();
    shap_answers();
    return 0;
}
