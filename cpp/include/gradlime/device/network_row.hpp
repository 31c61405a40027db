// One row of a native network, value and input gradient, written once for the host and the GPU
// (GRADLIME_HD): what one CUDA thread computes for one perturbation. The network is a flat view
// (plain arrays, no Eigen) of a FeedForwardNetwork (mlp.hpp), built by flatten (device/estimates.hpp).
//
// The arithmetic is mlp.cpp's for one row: a dense output is its bias plus sum_k W_jk x_k in k
// order, each term one fused multiply-add (fmaf: the instruction mlp.cpp's contracted loops use on
// hardware with FMA), the backward sums likewise in j order; activations by float_math.hpp. A
// host-compiled row matches the batched network to float rounding, not always bit for bit: the
// polynomial kernels' contraction is the compiler's.
#pragma once

#include <cmath>
#include <cstdint>

#include "gradlime/float_math.hpp"
#include "gradlime/hd.hpp"

namespace gradlime::device {

// Layer codes, in the order of LayerKind (mlp.hpp; device_host.cpp asserts it).
enum LayerCode : int {
    kDense = 0,
    kRelu,
    kLeakyRelu,
    kElu,
    kSelu,
    kSigmoid,
    kTanh,
    kSoftplus,
    kSoftmax,
    kLogSoftmax,
};

struct LayerView {
    int kind = kDense;
    int in = 0, out = 0;
    std::int64_t weight = 0, bias = 0;  // Dense: offsets of W (out, in, row-major) and b in params
    float alpha = 0.0f, gamma = 0.0f;
};

struct NetworkView {
    const LayerView* layers = nullptr;
    int n_layers = 0;
    const float* params = nullptr;
    int input_dim = 0;
    int max_width = 0;   // the widest of the input and every layer's output
    int activations = 0; // floats of every layer's input and output, the input first
};

// Floats of scratch one row needs: every layer's activations, and two gradient rows.
GRADLIME_HD inline int row_scratch(const NetworkView& net) { return net.activations + 2 * net.max_width; }

namespace detail {

GRADLIME_HD inline float activate(int kind, float x, float a, float g) {
    switch (kind) {
        case kRelu: return x > 0.0f ? x : 0.0f;
        case kLeakyRelu: return x > 0.0f ? x : a * x;
        case kElu: return x > 0.0f ? x : a * fmath::expm1(x < 0.0f ? x : 0.0f);
        case kSelu: return g * (x > 0.0f ? x : a * fmath::expm1(x < 0.0f ? x : 0.0f));
        case kSigmoid: return fmath::sigmoid(x);
        case kTanh: return fmath::tanh(x);
        case kSoftplus: return fmath::softplus(x);
        default: return x;
    }
}

// d act / dx at input x with output y (mlp.cpp's elementwise_backward), times gy.
GRADLIME_HD inline float activate_backward(int kind, float x, float y, float gy, float a, float g) {
    switch (kind) {
        case kRelu: return x > 0.0f ? gy : 0.0f;
        case kLeakyRelu: return x > 0.0f ? gy : a * gy;
        case kElu: return (x > 0.0f ? 1.0f : y + a) * gy;
        case kSelu: return (x > 0.0f ? g : y + g * a) * gy;
        case kSigmoid: return y * (1.0f - y) * gy;
        case kTanh: return (1.0f - y * y) * gy;
        case kSoftplus: return fmath::sigmoid(x) * gy;
        default: return gy;
    }
}

}  // namespace detail

// work[0 .. input_dim) holds the row's input. Returns output `target`; with grad non-null writes
// its gradient (input_dim floats). work: row_scratch(net) floats. Work and Grad: float* or
// device/strided.hpp's Strided<float>.
template <class Work, class Grad>
GRADLIME_HD inline float row_value_and_grad(const NetworkView& net, int target, Work work, Grad grad) {
    const float* P = net.params;
    int off = 0;  // the current layer's input in work
    for (int l = 0; l < net.n_layers; ++l) {
        const LayerView& L = net.layers[l];
        const Work x = work + off;
        const Work y = work + off + L.in;
        if (L.kind == kDense) {
            const float* W = P + L.weight;
            for (int j = 0; j < L.out; ++j) {
                float acc = P[L.bias + j];
                for (int k = 0; k < L.in; ++k) acc = fmaf(W[static_cast<std::int64_t>(j) * L.in + k], x[k], acc);
                y[j] = acc;
            }
        } else if (L.kind == kSoftmax || L.kind == kLogSoftmax) {
            float mx = x[0], sum = 0.0f;
            for (int j = 1; j < L.out; ++j) mx = x[j] > mx ? x[j] : mx;
            for (int j = 0; j < L.out; ++j) {
                y[j] = fmath::exp(x[j] - mx);
                sum += y[j];
            }
            if (L.kind == kSoftmax) {
                for (int j = 0; j < L.out; ++j) y[j] /= sum;
            } else {
                mx += logf(sum);
                for (int j = 0; j < L.out; ++j) y[j] = x[j] - mx;
            }
        } else {
            for (int j = 0; j < L.out; ++j) y[j] = detail::activate(L.kind, x[j], L.alpha, L.gamma);
        }
        off += L.in;
    }
    const int out_width = net.n_layers ? net.layers[net.n_layers - 1].out : net.input_dim;
    const float value = work[off + target];
    if (!grad) return value;
    // Reverse mode: gy holds d value / d (the current layer's output).
    Work gy = work + net.activations;
    Work gx = gy + net.max_width;
    for (int j = 0; j < out_width; ++j) gy[j] = j == target ? 1.0f : 0.0f;
    for (int l = net.n_layers - 1; l >= 0; --l) {
        const LayerView& L = net.layers[l];
        off -= L.in;
        const Work x = work + off;
        const Work y = x + L.in;
        if (L.kind == kDense) {
            const float* W = P + L.weight;
            for (int k = 0; k < L.in; ++k) {
                float acc = 0.0f;
                for (int j = 0; j < L.out; ++j) acc = fmaf(W[static_cast<std::int64_t>(j) * L.in + k], gy[j], acc);
                gx[k] = acc;
            }
        } else if (L.kind == kSoftmax || L.kind == kLogSoftmax) {
            const bool log = L.kind == kLogSoftmax;
            float dot = 0.0f;
            for (int j = 0; j < L.out; ++j) dot += log ? gy[j] : y[j] * gy[j];
            for (int j = 0; j < L.out; ++j) gx[j] = log ? gy[j] - fmath::exp(y[j]) * dot : y[j] * (gy[j] - dot);
        } else {
            for (int j = 0; j < L.out; ++j)
                gx[j] = detail::activate_backward(L.kind, x[j], y[j], gy[j], L.alpha, L.gamma);
        }
        const Work t = gy;
        gy = gx;
        gx = t;
    }
    for (int k = 0; k < net.input_dim; ++k) grad[k] = gy[k];
    return value;
}

}  // namespace gradlime::device
