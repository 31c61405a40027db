// Counter-based random numbers, one concern per header:
//
//   rng/counter_space.hpp  which kind of draw owns which Philox counters
//   rng/philox.hpp         Philox4x32-10: one block, and many at once (portable, SSE2, vector)
//   rng/normal.hpp         the Box-Muller transform to standard normals, once for every path
//   rng/layouts.hpp        gaussian_row(s), gaussian_columns, uniform_rows
//   rng/masks.hpp          LIME's masks and KernelSHAP's coalitions
//
// Every draw is a pure function of (seed, kind of draw, indices): results do not depend on threads,
// batches, chunks or the vector path (tests/test_rng.py and tests/test_rng_kat.py pin the bits).
#pragma once

#include "gradlime/rng/counter_space.hpp"
#include "gradlime/rng/layouts.hpp"
#include "gradlime/rng/masks.hpp"
#include "gradlime/rng/normal.hpp"
#include "gradlime/rng/philox.hpp"
