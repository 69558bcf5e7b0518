/*  model.h — the numeric models of byzgd: a list of layers over ONE flat float32 parameter
    vector of length d, and a gradient vector of exactly the same layout, so the gradient a
    worker computes is the vector that travels and that the aggregation rules combine.

    byzgd_model_spec_t spec = {.architecture = "mlp", .channels = 1, .height = 28,
                               .width = 28, .class_count = 10};
    byzgd_model_t *model = byzgd_model_new(&spec, 32, error, sizeof error);
    size_t d = byzgd_model_dimension(model);
    float *params = malloc(d * sizeof *params), *gradient = malloc(d * sizeof *gradient);
    byzgd_model_init(model, params, seed);
    double loss = byzgd_model_gradient(model, gradient, params, features, labels, 32);

    Architectures (docs/MODELS.md has every shape and d):
      logreg   flatten → dense(classes)                                  (linear softmax)
      mlp      dense(h1) → relu → dense(h2) → relu → dense(classes)      h = 128, 64
      convnet  conv3x3(c1) → relu → conv3x3(c1) → relu → maxpool2 →
               conv3x3(c2) → relu → conv3x3(c2) → relu → maxpool2 →
               flatten → dense(classes)          c = 16, 32; padding 1, stride 1
    hidden[0], hidden[1] are the two widths (mlp: units; convnet: channels), 0 = default.

    Parameter layout: layers in order; for each layer with parameters its weights, then
    its bias. dense weights are [out][in] row-major; conv2d weights are
    [out_channels][in_channels][k][k] (PyTorch's layouts, so a state dict maps 1:1).
    Inputs are batch-major: features[batch][channels][height][width] (= feature_count).
    The loss is softmax cross-entropy, averaged over the batch.

    A model owns scratch buffers for up to max_batch examples: gradient, predict and
    evaluate never allocate. A model is not thread-safe (one per thread); params and
    gradients are caller memory. */
#ifndef BYZGD_MODEL_H
#define BYZGD_MODEL_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *architecture;       // logreg | mlp | convnet (borrowed)
    size_t channels, height, width; // input shape; vectors: 1, 1, feature_count
    size_t class_count;             // 2 .. 256
    size_t hidden[2];               // mlp units / convnet channels, 0 = default
} byzgd_model_spec_t;

typedef struct byzgd_model_t byzgd_model_t;

// Builds the architecture named by spec with scratch for batches up to max_batch (≥ 1).
// Returns NULL with a one-line message on an unknown name or an impossible shape.
byzgd_model_t *byzgd_model_new(const byzgd_model_spec_t *spec, size_t max_batch, char *error,
                               size_t error_size);

// Frees the model and nulls *self_p. NULL or *self_p == NULL is a no-op.
void byzgd_model_destroy(byzgd_model_t **self_p);

// d: the length of the parameter and gradient vectors.
size_t byzgd_model_dimension(const byzgd_model_t *self);

// Floats per input example (channels × height × width).
size_t byzgd_model_feature_count(const byzgd_model_t *self);

// A canonical description, e.g. "mlp 1x28x28 128,64 10" — stored in parameter files so a
// file is only loaded into the model it was saved from. Borrowed.
const char *byzgd_model_description(const byzgd_model_t *self);

// Number of threads a pass uses: the batch is split into that many parts (fewer when a
// part would be too small to pay for a thread), each run through all layers by one OpenMP
// thread calling single-threaded sgemm. Sets OpenBLAS's process-wide thread count to 1, as
// byzgd_model_new does. Default 1. Deterministic for a given count. count ≥ 1.
void byzgd_model_set_threads(byzgd_model_t *self, int count);

// Writes seeded initial parameters params[d]: weights N(0, 2/fan_in) (He) before a ReLU,
// N(0, 1/fan_in) for the last layer, biases zero. Equal seeds give equal vectors.
void byzgd_model_init(const byzgd_model_t *self, float *params, uint64_t seed);

// Forward and backward pass over a batch (1 ≤ batch_size ≤ max_batch): overwrites every
// coordinate of gradient_out[d] with the gradient of the mean loss; returns the mean
// softmax cross-entropy. labels must be < class_count.
double byzgd_model_gradient(byzgd_model_t *self, float *gradient_out, const float *params,
                            const float *features, const uint8_t *labels, size_t batch_size);

// Forward pass only: predictions_out[batch_size] = argmax of the logits (ties → lowest
// class). 1 ≤ batch_size ≤ max_batch.
void byzgd_model_predict(byzgd_model_t *self, uint8_t *predictions_out, const float *params,
                         const float *features, size_t batch_size);

// Mean loss and accuracy over `count` examples (features[count][feature_count]), processed
// in batches of max_batch: the sums of byzgd_model_evaluate_add over the batches in order,
// divided by count. count = 0 gives loss 0 and accuracy 0.
void byzgd_model_evaluate_arrays(byzgd_model_t *self, double *loss_out, double *accuracy_out,
                                 const float *params, const float *features, const uint8_t *labels,
                                 size_t count);

// Adds the loss summed over `count` examples (1 ≤ count ≤ max_batch; each part's mean loss
// times its size, in part order) to *loss_sum and the number of correct predictions to
// *correct. On one thread (one part per batch), batches evaluated apart, by other models of
// the same spec and max_batch, each from sums of 0, and added in batch order give
// byzgd_model_evaluate_arrays' bits.
void byzgd_model_evaluate_add(byzgd_model_t *self, double *loss_sum, size_t *correct,
                              const float *params, const float *features, const uint8_t *labels,
                              size_t count);

#endif
