// What the engine needs from a model: fill a batch of inputs, get values and (maybe) gradients.
#pragma once

#include "gradlime/types.hpp"

namespace gradlime {

class NetworkModel;

struct ModelOutput {
    const double* values = nullptr;     // (m,)
    const double* gradients = nullptr;  // (m, d) row-major, or nullptr when not asked for
};

class BatchModel {
public:
    virtual ~BatchModel() = default;
    virtual bool has_gradient() const = 0;
    // A writable (m, d) row-major buffer for slot 0 or 1 that the engine fills with a batch's
    // inputs. Two slots let the engine draw the next batch while the model evaluates this one.
    // It stays valid until the next input_buffer() call for the same slot.
    virtual double* input_buffer(int slot, Index m, Index d) = 0;
    // Evaluate the batch in a slot. The pointers stay valid until the next evaluate(). Throws on
    // a model error; shapes are the model's to check.
    virtual ModelOutput evaluate(int slot, Index m, Index d, bool want_values, bool want_gradients) = 0;
    // Called between long steps; throws to abandon the computation (Ctrl-C).
    virtual void check_interrupt() {}
    // The native network behind this model, if any: the engine then runs it fused with the
    // drawing, block by block, instead of batch by batch.
    virtual const NetworkModel* as_network() const { return nullptr; }
};

}  // namespace gradlime
