// A feed-forward network evaluated natively: values and exact input gradients (reverse mode) for
// whole batches, without Python, in float32 (the precision ONNX networks are stored in) with the
// engine accumulating in float64.
//
// Rows are processed in fixed blocks, feature-major inside a block, so every row's arithmetic is
// the same whatever the batch size or thread count: each output is a sum over its inputs in a
// fixed order, vectorised across rows, never across the summation.
#pragma once

#include <string>
#include <vector>

#include "gradlime/model.hpp"
#include "gradlime/types.hpp"

namespace gradlime {

enum class LayerKind {
    Dense,       // y = W x + b
    Relu,
    LeakyRelu,   // alpha
    Elu,         // alpha
    Selu,        // alpha, gamma
    Sigmoid,
    Tanh,
    Softplus,
    Softmax,     // over the features of a row
    LogSoftmax,
};

// Rows per block of the kernels: inside a block, activations are feature-major,
// x[k * kNetworkBlock + r] being feature k of row r.
constexpr Index kNetworkBlock = 64;

using FloatRowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct Layer {
    LayerKind kind = LayerKind::Dense;
    Index in = 0, out = 0;
    FloatRowMatrix weight;    // (out, in), Dense only
    FloatRowMatrix weight_t;  // its transpose (in, out), read by the backward pass
    Eigen::VectorXf bias;   // (out), Dense only
    float alpha = 0.0f, gamma = 0.0f;
};

class FeedForwardNetwork {
public:
    explicit FeedForwardNetwork(Index input_dim);
    // weight (out, in) with in = the current width; bias (out).
    void add_dense(const Matrix& weight, const Vector& bias);
    void add_activation(LayerKind kind, double alpha = 0.0, double gamma = 0.0);

    Index input_dim() const { return input_dim_; }
    Index output_dim() const { return layers_.empty() ? input_dim_ : layers_.back().out; }
    const std::vector<Layer>& layers() const { return layers_; }
    std::string describe() const;

    // Output `target` (values, (m,)) and optionally its gradient ((m, d) row-major) for the
    // row-major (m, d) inputs A. Parallel over fixed row blocks.
    void evaluate(const double* A, Index m, Index target, double* values, double* gradients) const;

    // One block of kNetworkBlock rows, feature-major float32 (x: input_dim() x kNetworkBlock):
    // output `target` of every row into values (kNetworkBlock, may be null) and, when grad is not
    // null, its gradient, feature-major like x. Every lane is computed, so lanes that hold no
    // row must still be finite (zero them). Thread-safe.
    void evaluate_block(const float* x, Index target, float* values, float* grad) const;

private:
    void evaluate_rows(const double* A, Index rows, Index target, double* values, double* gradients) const;
    Index input_dim_;
    Index max_width_ = 0;  // the widest layer
    std::vector<Layer> layers_;
};

// The network as a BatchModel: Python never enters the loop.
class NetworkModel final : public BatchModel {
public:
    NetworkModel(const FeedForwardNetwork& net, Index target);
    bool has_gradient() const override { return true; }
    double* input_buffer(int slot, Index m, Index d) override;
    ModelOutput evaluate(int slot, Index m, Index d, bool want_values, bool want_gradients) override;
    const NetworkModel* as_network() const override { return this; }
    const FeedForwardNetwork& network() const { return net_; }
    Index target() const { return target_; }

private:
    const FeedForwardNetwork& net_;
    Index target_;
    RowMatrix inputs_[2];
    Vector values_;
    RowMatrix gradients_;
};

}  // namespace gradlime
