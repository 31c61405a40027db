#include "gradlime/mlp.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "gradlime/float_math.hpp"
#include "gradlime/parallel.hpp"
#include "gradlime/simd/vectors.hpp"

namespace gradlime {

namespace {


const char* name_of(LayerKind k) {
    switch (k) {
        case LayerKind::Dense: return "Dense";
        case LayerKind::Relu: return "Relu";
        case LayerKind::LeakyRelu: return "LeakyRelu";
        case LayerKind::Elu: return "Elu";
        case LayerKind::Selu: return "Selu";
        case LayerKind::Sigmoid: return "Sigmoid";
        case LayerKind::Tanh: return "Tanh";
        case LayerKind::Softplus: return "Softplus";
        case LayerKind::Softmax: return "Softmax";
        case LayerKind::LogSoftmax: return "LogSoftmax";
    }
    return "?";
}

// Activation buffers are feature-major with a fixed stride of kBlockRows: x[k * kBlockRows + r]
// is feature k of row r. A short last block just leaves some lanes unused.
constexpr Index R = kNetworkBlock;
constexpr Index kBlockRows = kNetworkBlock;

// Register tiles of kLanes rows as GCC/Clang vector types: lowered to AVX-512, AVX2 or SSE, each
// lane doing the scalar arithmetic of its row (a tile is kept in registers across the k-sum
// instead of being loaded and stored at every step).
using Tile = simd::f32x16;
constexpr Index kLanes = sizeof(Tile) / sizeof(float);
static_assert(R % kLanes == 0, "blocks are whole tiles");

constexpr int kTiles = static_cast<int>(R / kLanes);

// J outputs of a dense map over tiles [t0, t0 + T) of one block: y_j = b_j + sum_k W_jk x_k (b = 0
// when null), for every row the k-sum in the same fixed order. J x T accumulators stay in registers
// across the k-sum, so the FMAs of different outputs and tiles overlap instead of waiting on each
// other; which outputs and tiles go together never changes a row's arithmetic.
template <int J, int T>
inline void dense_outputs(const float* w, Index ldw, const float* bias, const float* x, Index in, float* y,
                          int t0) {
    Tile acc[J][T];
    for (int j = 0; j < J; ++j)
        for (int t = 0; t < T; ++t) acc[j][t] = Tile{} + (bias ? bias[j] : 0.0f);
    for (Index k = 0; k < in; ++k) {
        Tile xt[T];
        for (int t = 0; t < T; ++t) xt[t] = simd::load<Tile>(x + k * R + (t0 + t) * kLanes);
        for (int j = 0; j < J; ++j) {
            const float wk = w[j * ldw + k];
            for (int t = 0; t < T; ++t) acc[j][t] += wk * xt[t];
        }
    }
    for (int j = 0; j < J; ++j)
        for (int t = 0; t < T; ++t) simd::store(y + j * R + (t0 + t) * kLanes, acc[j][t]);
}

// The register tile: 4 outputs x 4 tiles (16 accumulators of 16 floats) fill half of AVX-512's 32
// registers. On 16 registers of 8 floats (AVX2) they spilled: there 4 outputs x 1 tile (8
// registers) run over the block a tile at a time, measured 1.4x faster for paper 1's network
// (SmoothGrad 33 ms from 47, 200 points x 1000 samples; 2 x 2 and 4 x 2 were slower than 4 x 4).
#if GRADLIME_SIMD_AVX512
constexpr int kOutputs = 4, kTileGroup = kTiles;
#else
constexpr int kOutputs = 4, kTileGroup = 1;
#endif
static_assert(kTiles % kTileGroup == 0, "tile groups cover the block");

template <int J>
inline void dense_outputs_all(const float* w, Index ldw, const float* bias, const float* x, Index in, float* y) {
    for (int t0 = 0; t0 < kTiles; t0 += kTileGroup) dense_outputs<J, kTileGroup>(w, ldw, bias, x, in, y, t0);
}

// y = W x (+ b) for a row-major W (out, in), kOutputs outputs at a time.
void dense_map(const FloatRowMatrix& W, const float* bias, const float* x, float* y) {
    const Index out = W.rows(), in = W.cols(), ldw = W.cols();
    Index j = 0;
    for (; j + kOutputs <= out; j += kOutputs)
        dense_outputs_all<kOutputs>(W.row(j).data(), ldw, bias ? bias + j : nullptr, x, in, y + j * R);
    const float* w = W.data() + j * ldw;
    const float* b = bias ? bias + j : nullptr;
    switch (out - j) {
        case 3: dense_outputs_all<3>(w, ldw, b, x, in, y + j * R); break;
        case 2: dense_outputs_all<2>(w, ldw, b, x, in, y + j * R); break;
        case 1: dense_outputs_all<1>(w, ldw, b, x, in, y + j * R); break;
        default: break;
    }
}

// y_j = b_j + sum_k W_jk x_k.
void dense_forward(const Layer& L, const float* x, float* y) { dense_map(L.weight, L.bias.data(), x, y); }

// gx_k = sum_j W_jk gy_j, the j-sum in a fixed order.
void dense_backward(const Layer& L, const float* gy, float* gx) { dense_map(L.weight_t, nullptr, gy, gx); }

void elementwise_forward(const Layer& L, const float* x, float* y, Index size) {
    const float a = L.alpha, g = L.gamma;
    switch (L.kind) {
        case LayerKind::Relu:
            for (Index i = 0; i < size; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
            break;
        case LayerKind::LeakyRelu:
            for (Index i = 0; i < size; ++i) y[i] = x[i] > 0.0f ? x[i] : a * x[i];
            break;
        case LayerKind::Elu:  // both sides computed, then selected: branch-free, so it vectorises
            for (Index i = 0; i < size; ++i) {
                const float e = a * fmath::expm1(x[i] < 0.0f ? x[i] : 0.0f);
                y[i] = x[i] > 0.0f ? x[i] : e;
            }
            break;
        case LayerKind::Selu:
            for (Index i = 0; i < size; ++i) {
                const float e = a * fmath::expm1(x[i] < 0.0f ? x[i] : 0.0f);
                y[i] = g * (x[i] > 0.0f ? x[i] : e);
            }
            break;
        case LayerKind::Sigmoid:
            for (Index i = 0; i < size; ++i) y[i] = fmath::sigmoid(x[i]);
            break;
        case LayerKind::Tanh:
            for (Index i = 0; i < size; ++i) y[i] = fmath::tanh(x[i]);
            break;
        case LayerKind::Softplus:  // log(1 + e^x) without overflow
            for (Index i = 0; i < size; ++i) y[i] = fmath::softplus(x[i]);
            break;
        default:
            break;
    }
}

// gx = gy * act'(x), using the stored input x and output y.
void elementwise_backward(const Layer& L, const float* x, const float* y, const float* gy, float* gx, Index size) {
    const float a = L.alpha, g = L.gamma;
    switch (L.kind) {
        case LayerKind::Relu:
            for (Index i = 0; i < size; ++i) gx[i] = x[i] > 0.0f ? gy[i] : 0.0f;
            break;
        case LayerKind::LeakyRelu:
            for (Index i = 0; i < size; ++i) gx[i] = x[i] > 0.0f ? gy[i] : a * gy[i];
            break;
        // The slope is selected, then multiplied (1 * gy = gy exactly): a select of two products
        // makes GCC emulate a masked load through the stack.
        case LayerKind::Elu:  // d/dx a(e^x - 1) = y + a
            for (Index i = 0; i < size; ++i) {
                const float slope = x[i] > 0.0f ? 1.0f : y[i] + a;
                gx[i] = slope * gy[i];
            }
            break;
        case LayerKind::Selu:  // d/dx g a (e^x - 1) = y + g a
            for (Index i = 0; i < size; ++i) {
                const float slope = x[i] > 0.0f ? g : y[i] + g * a;
                gx[i] = slope * gy[i];
            }
            break;
        case LayerKind::Sigmoid:
            for (Index i = 0; i < size; ++i) gx[i] = y[i] * (1.0f - y[i]) * gy[i];
            break;
        case LayerKind::Tanh:
            for (Index i = 0; i < size; ++i) gx[i] = (1.0f - y[i] * y[i]) * gy[i];
            break;
        case LayerKind::Softplus:
            for (Index i = 0; i < size; ++i) gx[i] = fmath::sigmoid(x[i]) * gy[i];
            break;
        default:
            break;
    }
}

// Softmax and log-softmax over the K features of each row, with r innermost so the exp
// vectorises across rows.
void softmax_forward(const Layer& L, const float* x, float* y) {
    const Index K = L.out;
    float mx[R], sum[R];
    for (Index r = 0; r < R; ++r) {
        mx[r] = x[r];
        sum[r] = 0.0f;
    }
    for (Index j = 1; j < K; ++j)
        // a select, which vectorises (std::max does not)
        for (Index r = 0; r < R; ++r) mx[r] = x[j * R + r] > mx[r] ? x[j * R + r] : mx[r];
    for (Index j = 0; j < K; ++j)
        for (Index r = 0; r < R; ++r) {
            y[j * R + r] = fmath::exp(x[j * R + r] - mx[r]);
            sum[r] += y[j * R + r];
        }
    if (L.kind == LayerKind::Softmax) {
        for (Index j = 0; j < K; ++j)
            for (Index r = 0; r < R; ++r) y[j * R + r] /= sum[r];
    } else {
        for (Index r = 0; r < R; ++r) mx[r] += std::log(sum[r]);  // log-sum-exp
        for (Index j = 0; j < K; ++j)
            for (Index r = 0; r < R; ++r) y[j * R + r] = x[j * R + r] - mx[r];
    }
}

// Softmax: gx_j = s_j (gy_j - sum_l s_l gy_l). LogSoftmax: gx_j = gy_j - s_j sum_l gy_l, s = e^y.
void softmax_backward(const Layer& L, const float* y, const float* gy, float* gx) {
    const Index K = L.out;
    const bool log = L.kind == LayerKind::LogSoftmax;
    float dot[R] = {};
    for (Index j = 0; j < K; ++j)
        for (Index r = 0; r < R; ++r) dot[r] += log ? gy[j * R + r] : y[j * R + r] * gy[j * R + r];
    for (Index j = 0; j < K; ++j)
        for (Index r = 0; r < R; ++r) {
            const Index i = j * R + r;
            gx[i] = log ? gy[i] - fmath::exp(y[i]) * dot[r] : y[i] * (gy[i] - dot[r]);
        }
}

}  // namespace

FeedForwardNetwork::FeedForwardNetwork(Index input_dim) : input_dim_(input_dim) {
    if (input_dim < 1) throw std::invalid_argument("a network needs at least one input feature");
}

void FeedForwardNetwork::add_dense(const Matrix& weight, const Vector& bias) {
    const Index in = output_dim();
    if (weight.cols() != in)
        throw std::invalid_argument("dense layer expects " + std::to_string(weight.cols()) +
                                    " inputs but the previous layer gives " + std::to_string(in));
    if (bias.size() != weight.rows())
        throw std::invalid_argument("dense layer bias has " + std::to_string(bias.size()) + " entries for " +
                                    std::to_string(weight.rows()) + " outputs");
    if (!weight.allFinite() || !bias.allFinite()) throw std::invalid_argument("network weights contain NaN or inf");
    Layer L;
    L.kind = LayerKind::Dense;
    L.in = in;
    L.out = weight.rows();
    L.weight = weight.cast<float>();
    L.weight_t = L.weight.transpose();
    L.bias = bias.cast<float>();
    max_width_ = std::max(max_width_, L.out);
    layers_.push_back(std::move(L));
}

void FeedForwardNetwork::add_activation(LayerKind kind, double alpha, double gamma) {
    if (kind == LayerKind::Dense) throw std::invalid_argument("use add_dense for dense layers");
    if (!std::isfinite(alpha) || !std::isfinite(gamma)) throw std::invalid_argument("activation parameters must be finite");
    Layer L;
    L.kind = kind;
    L.in = L.out = output_dim();
    L.alpha = static_cast<float>(alpha);
    L.gamma = static_cast<float>(gamma);
    layers_.push_back(std::move(L));
}

std::string FeedForwardNetwork::describe() const {
    std::string s = std::to_string(input_dim_);
    for (const Layer& L : layers_) {
        s += " -> ";
        s += name_of(L.kind);
        if (L.kind == LayerKind::Dense) s += "(" + std::to_string(L.out) + ")";
    }
    return s;
}

void FeedForwardNetwork::evaluate(const double* A, Index m, Index target, double* values, double* gradients) const {
    if (target < 0 || target >= output_dim())
        throw std::invalid_argument("target " + std::to_string(target) + " is out of range for " +
                                    std::to_string(output_dim()) + " outputs");
    const Index blocks = (m + kBlockRows - 1) / kBlockRows;
    const Index d = input_dim_;
    parallel_for(blocks, [&](Index b) {
        const Index r0 = b * kBlockRows, rows = std::min(kBlockRows, m - r0);
        evaluate_rows(A + r0 * d, rows, target, values + r0, gradients ? gradients + r0 * d : nullptr);
    });
}

void FeedForwardNetwork::evaluate_block(const float* x, Index target, float* values, float* grad) const {
    const Index n_layers = static_cast<Index>(layers_.size());
    // acts[i] is the output of layer i - 1 (acts[0] unused: the input is x); sized once per thread
    // and network shape, then reused.
    thread_local std::vector<std::vector<float>> acts;
    thread_local std::vector<float> g, gx;
    acts.resize(static_cast<size_t>(n_layers + 1));
    auto input_of = [&](Index i) { return i == 0 ? x : acts[static_cast<size_t>(i)].data(); };
    for (Index i = 0; i < n_layers; ++i) {
        const Layer& L = layers_[static_cast<size_t>(i)];
        auto& y = acts[static_cast<size_t>(i + 1)];
        y.resize(static_cast<size_t>(L.out * R));
        const float* in = input_of(i);
        if (L.kind == LayerKind::Dense) dense_forward(L, in, y.data());
        else if (L.kind == LayerKind::Softmax || L.kind == LayerKind::LogSoftmax) softmax_forward(L, in, y.data());
        else elementwise_forward(L, in, y.data(), L.out * R);
    }
    const float* out = n_layers ? acts.back().data() : x;
    if (values) std::copy(out + target * R, out + (target + 1) * R, values);
    if (!grad) return;

    // Reverse mode from the target output.
    const Index width = std::max(input_dim_, max_width_);
    g.resize(static_cast<size_t>(width * R));
    gx.resize(static_cast<size_t>(width * R));
    std::fill(g.begin(), g.begin() + output_dim() * R, 0.0f);
    std::fill(g.begin() + target * R, g.begin() + (target + 1) * R, 1.0f);
    for (Index i = n_layers - 1; i >= 0; --i) {
        const Layer& L = layers_[static_cast<size_t>(i)];
        const float* in = input_of(i);
        const float* y = acts[static_cast<size_t>(i + 1)].data();
        if (L.kind == LayerKind::Dense) dense_backward(L, g.data(), gx.data());
        else if (L.kind == LayerKind::Softmax || L.kind == LayerKind::LogSoftmax) softmax_backward(L, y, g.data(), gx.data());
        else elementwise_backward(L, in, y, g.data(), gx.data(), L.out * R);
        g.swap(gx);
    }
    std::copy(g.begin(), g.begin() + input_dim_ * R, grad);
}

void FeedForwardNetwork::evaluate_rows(const double* A, Index rows, Index target, double* values,
                                       double* gradients) const {
    const Index d = input_dim_;
    thread_local std::vector<float> x, y, grad;
    x.assign(static_cast<size_t>(d * R), 0.0f);  // lanes past `rows` stay 0: computed and ignored
    y.resize(static_cast<size_t>(R));
    if (gradients) grad.resize(static_cast<size_t>(d * R));
    using FloatColMap = Eigen::Map<Eigen::MatrixXf, 0, Eigen::OuterStride<>>;  // (rows, d), column k at k * R
    FloatColMap(x.data(), rows, d, Eigen::OuterStride<>(R)) = ConstRowMatrixMap(A, rows, d).cast<float>();
    evaluate_block(x.data(), target, y.data(), gradients ? grad.data() : nullptr);
    for (Index r = 0; r < rows; ++r) values[r] = static_cast<double>(y[static_cast<size_t>(r)]);
    if (gradients)
        RowMatrixMap(gradients, rows, d) = FloatColMap(grad.data(), rows, d, Eigen::OuterStride<>(R)).cast<double>();
}

NetworkModel::NetworkModel(const FeedForwardNetwork& net, Index target) : net_(net), target_(target) {
    if (target < 0 || target >= net.output_dim())
        throw std::invalid_argument("target " + std::to_string(target) + " is out of range for " +
                                    std::to_string(net.output_dim()) + " outputs");
}

double* NetworkModel::input_buffer(int slot, Index m, Index d) {
    inputs_[slot].resize(m, d);
    return inputs_[slot].data();
}

ModelOutput NetworkModel::evaluate(int slot, Index m, Index d, bool /*want_values*/, bool want_gradients) {
    values_.resize(m);
    if (want_gradients) gradients_.resize(m, d);
    net_.evaluate(inputs_[slot].data(), m, target_, values_.data(), want_gradients ? gradients_.data() : nullptr);
    return {values_.data(), want_gradients ? gradients_.data() : nullptr};  // values always come
}

}  // namespace gradlime
