// A pointer whose elements lie `stride` apart: a thread's row in a block's tile in global memory,
// laid out feature-major (element k of thread t at k * kThreads + t, device/blocks.hpp), so that a
// warp's threads touching the same element touch consecutive addresses. The per-sample functions
// of device/ are templates over their arrays' pointer type: plain pointers on the host reference,
// Strided ones in the kernels; the same operations on the same numbers either way.
#pragma once

#include <cstdint>

#include "gradlime/hd.hpp"

namespace gradlime::device {

template <class T>
struct Strided {
    T* p = nullptr;
    std::int64_t stride = 1;
    GRADLIME_HD T& operator[](std::int64_t i) const { return p[i * stride]; }
    GRADLIME_HD Strided operator+(std::int64_t i) const { return {p + i * stride, stride}; }
    GRADLIME_HD explicit operator bool() const { return p != nullptr; }
};

}  // namespace gradlime::device
