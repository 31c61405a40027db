// Which vector instructions the library uses, decided here once for every header: the random draws
// (rng/), the LIME lanes (simd/lanes.hpp) and anything else with explicit intrinsics. The choice is
// made at compile time from the target ISA (-march); every path computes the same bits, so the
// choice is a matter of speed only.
//
//   GRADLIME_SIMD_SSE2      SSE2 (the x86-64 baseline)
//   GRADLIME_SIMD_AVX2      AVX2, when AVX-512 is not used
//   GRADLIME_SIMD_AVX512    AVX-512F
//   GRADLIME_SIMD_AVX512VL  AVX-512F with VL (the 8-lane masks of simd/lanes.hpp need 256-bit forms)
//
// Define GRADLIME_NO_SIMD (portable C++ only), GRADLIME_NO_AVX512 or GRADLIME_NO_AVX2 to step down,
// e.g. to hold each path to the same known answers (tests/test_rng_kat.py).
#pragma once

#if !defined(GRADLIME_SIMD_SSE2)
#if (defined(__SSE2__) || defined(_M_X64)) && !defined(GRADLIME_NO_SIMD)
#define GRADLIME_SIMD_SSE2 1
#else
#define GRADLIME_SIMD_SSE2 0
#endif
#endif

#if !defined(GRADLIME_SIMD_AVX512)
#if defined(__AVX512F__) && GRADLIME_SIMD_SSE2 && !defined(GRADLIME_NO_AVX512)
#define GRADLIME_SIMD_AVX512 1
#else
#define GRADLIME_SIMD_AVX512 0
#endif
#endif

#if !defined(GRADLIME_SIMD_AVX512VL)
#if GRADLIME_SIMD_AVX512 && defined(__AVX512VL__)
#define GRADLIME_SIMD_AVX512VL 1
#else
#define GRADLIME_SIMD_AVX512VL 0
#endif
#endif

#if !defined(GRADLIME_SIMD_AVX2)
#if defined(__AVX2__) && GRADLIME_SIMD_SSE2 && !GRADLIME_SIMD_AVX512 && !defined(GRADLIME_NO_AVX2)
#define GRADLIME_SIMD_AVX2 1
#else
#define GRADLIME_SIMD_AVX2 0
#endif
#endif

#if GRADLIME_SIMD_SSE2
#include <emmintrin.h>
#endif
#if GRADLIME_SIMD_AVX512 || GRADLIME_SIMD_AVX2
#include <immintrin.h>
#endif

// The name of the path in use, for the known-answer program and error reports.
#if GRADLIME_SIMD_AVX512
#define GRADLIME_SIMD_PATH "avx512"
#elif GRADLIME_SIMD_AVX2
#define GRADLIME_SIMD_PATH "avx2"
#elif GRADLIME_SIMD_SSE2
#define GRADLIME_SIMD_PATH "sse2"
#else
#define GRADLIME_SIMD_PATH "portable"
#endif

// Hot vector kernels are always inlined into their callers: left to the heuristics, GCC inlines a
// kernel in some callers and not others, and the row-batched draws then ran up to 30% slower or
// faster from one build to the next (measured on an AVX-512 EPYC).
#if defined(__GNUC__)
#define GRADLIME_ALWAYS_INLINE __attribute__((always_inline))
#else
#define GRADLIME_ALWAYS_INLINE
#endif

// Inside a function: a*b+c is never fused into one rounding. The build says -ffp-contract=off (and
// GCC in ISO mode does not contract); this keeps clang from contracting the reproducible kernels
// whatever the flags.
#if defined(__clang__)
#define GRADLIME_NO_FP_CONTRACT _Pragma("clang fp contract(off)")
#else
#define GRADLIME_NO_FP_CONTRACT
#endif

// GCC 12's AVX-512 intrinsics trip a false -W(maybe-)uninitialized (GCC bug 105593, fixed in 13).
// Headers with AVX-512 code open and close a region where it is silenced.
#if GRADLIME_SIMD_AVX512 && defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#define GRADLIME_SIMD_WARNINGS_OFF                                  \
    _Pragma("GCC diagnostic push")                                  \
    _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"")     \
    _Pragma("GCC diagnostic ignored \"-Wuninitialized\"")
#define GRADLIME_SIMD_WARNINGS_ON _Pragma("GCC diagnostic pop")
#else
#define GRADLIME_SIMD_WARNINGS_OFF
#define GRADLIME_SIMD_WARNINGS_ON
#endif
