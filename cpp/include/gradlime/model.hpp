// What the engine needs from a model: fill a batch of inputs, get values and (maybe) gradients.
#pragma once

#include "gradlime/types.hpp"

namespace gradlime {

struct ModelOutput {
    const double* values = nullptr;     // (m,)
    const double* gradients = nullptr;  // (m, d) row-major, or nullptr when not asked for
};

class BatchModel {
public:
    virtual ~BatchModel() = default;
    virtual bool has_gradient() const = 0;
    // A writable (m, d) row-major buffer the engine fills with the next batch's inputs. It stays
    // valid until the next call to input_buffer().
    virtual double* input_buffer(Index m, Index d) = 0;
    // Evaluate the batch last returned by input_buffer(). The pointers stay valid until the next
    // call. Throws on a model error; shapes are the model's to check.
    virtual ModelOutput evaluate(Index m, Index d, bool want_values, bool want_gradients) = 0;
    // Called between long steps; throws to abandon the computation (Ctrl-C).
    virtual void check_interrupt() {}
};

}  // namespace gradlime
