// Functions written once for the host and the GPU: GRADLIME_HD marks them __host__ __device__
// when nvcc compiles a CUDA file (cpp/cuda/), and is empty for the host compiler. The random
// draws (rng/philox.hpp, rng/normal.hpp's scalar transform), the network's float functions
// (float_math.hpp) and the per-row network and per-point sums of cpp/include/gradlime/device/ are
// such functions: the host build compiles and tests them (CI has no GPU), the CUDA kernels run
// the same source.
#pragma once

#if defined(__CUDACC__)
#define GRADLIME_HD __host__ __device__
#else
#define GRADLIME_HD
#endif
