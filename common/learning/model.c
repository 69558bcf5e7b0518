/*  model.c — architectures as lists of layers over one flat parameter vector; forward and
    backward passes; seeded initialisation; parameter files. The layer kernels are in
    layers.c; this file only lays out the parameters and chains the activations. */
#include "model.h"
#include "support/bytes.h"

#include "layers.h"
#include "support/log.h"
#include "support/rng.h"

#include <assert.h>
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define S_MAX_LAYERS 16
// im2col scratch per thread: this many floats (1 MiB), or one example if that is larger;
// the convolutions run their sgemm over as many examples as fit. Small enough that the
// chunk stays in L2 between im2col and sgemm: 4 MiB ran 6 % slower, 16 MiB 25 %.
#define S_COL_BUDGET ((size_t)1 << 18)

typedef enum { S_DENSE, S_RELU, S_CONV, S_MAXPOOL, S_FLATTEN } s_kind_t;

typedef struct {
    s_kind_t kind;
    size_t in_count, out_count; // floats per example
    size_t param_offset, weight_count, bias_count;
    size_t fan_in;                  // for initialisation
    bool before_relu;               // He initialisation when a ReLU follows
    size_t in, out;                 // dense
    byzgd_conv2d_shape_t conv;      // conv
    bool input_batch_major;         // conv: NCHW input (else CBHW)
    size_t channels, height, width; // maxpool input planes / flatten channels
} s_layer_t;

// Everything one thread needs to run the layers over its part of a batch.
typedef struct {
    size_t capacity;                  // examples
    float *activations[S_MAX_LAYERS]; // output of each layer, capacity × out_count
    uint8_t *argmax[S_MAX_LAYERS];    // max-pooling winners
    float *delta[2];                  // ping-pong gradients w.r.t. activations
    float *col;                       // im2col scratch
    size_t col_capacity;
    float *partial;       // conv weight gradient scratch (one part)
    float *gradient;      // d: this part's gradient (part 0 writes the caller's)
    uint8_t *predictions; // capacity, for evaluate
    double loss;          // this part's result
    size_t correct;
} s_workspace_t;

struct byzgd_model_t {
    char description[96];
    s_layer_t layers[S_MAX_LAYERS];
    size_t layer_count;
    size_t dimension, feature_count, class_count, max_batch;
    size_t largest;             // floats per example of the widest activation
    size_t col_per_example_max; // floats of im2col scratch for one example (largest conv)
    size_t partial_count;       // largest conv weight count
    double work_per_example;    // forward multiply-adds, to decide when to split
    int threads;
    s_workspace_t *workspaces; // threads of them
};

// ---- building

typedef struct {
    size_t channels, height, width;
    bool batch_major; // NCHW (true) or CBHW (false) activations
} s_cursor_t;

static s_layer_t *
s_push(byzgd_model_t *self, s_kind_t kind, size_t in_count, size_t out_count)
{
    assert(self->layer_count < S_MAX_LAYERS);
    s_layer_t *layer = &self->layers[self->layer_count++];
    memset(layer, 0, sizeof *layer);
    layer->kind = kind;
    layer->in_count = in_count;
    layer->out_count = out_count;
    layer->param_offset = self->dimension;
    return layer;
}

static void
s_add_dense(byzgd_model_t *self, s_cursor_t *cursor, size_t out, bool before_relu)
{
    size_t in = cursor->channels * cursor->height * cursor->width;
    s_layer_t *layer = s_push(self, S_DENSE, in, out);
    layer->in = in;
    layer->out = out;
    layer->weight_count = in * out;
    layer->bias_count = out;
    layer->fan_in = in;
    layer->before_relu = before_relu;
    self->dimension += layer->weight_count + layer->bias_count;
    *cursor = (s_cursor_t){out, 1, 1, true};
}

static void
s_add_relu(byzgd_model_t *self, const s_cursor_t *cursor)
{
    size_t count = cursor->channels * cursor->height * cursor->width;
    s_push(self, S_RELU, count, count);
}

// 3×3 convolution, stride 1, padding 1: the spatial size is kept.
static void
s_add_conv3x3(byzgd_model_t *self, s_cursor_t *cursor, size_t out_channels)
{
    byzgd_conv2d_shape_t shape = {
        .in_channels = cursor->channels,
        .in_height = cursor->height,
        .in_width = cursor->width,
        .out_channels = out_channels,
        .kernel = 3,
        .stride = 1,
        .padding = 1,
    };
    int rc = byzgd_conv2d_shape_init(&shape);
    assert(rc == 0);
    (void)rc;
    size_t in = cursor->channels * cursor->height * cursor->width;
    s_layer_t *layer = s_push(self, S_CONV, in, out_channels * shape.out_height * shape.out_width);
    layer->conv = shape;
    layer->input_batch_major = cursor->batch_major;
    layer->weight_count = out_channels * cursor->channels * 9;
    layer->bias_count = out_channels;
    layer->fan_in = cursor->channels * 9;
    layer->before_relu = true;
    self->dimension += layer->weight_count + layer->bias_count;
    *cursor = (s_cursor_t){out_channels, shape.out_height, shape.out_width, false};
}

static void
s_add_maxpool(byzgd_model_t *self, s_cursor_t *cursor)
{
    size_t in = cursor->channels * cursor->height * cursor->width;
    size_t out = cursor->channels * (cursor->height / 2) * (cursor->width / 2);
    s_layer_t *layer = s_push(self, S_MAXPOOL, in, out);
    layer->channels = cursor->channels;
    layer->height = cursor->height;
    layer->width = cursor->width;
    cursor->height /= 2;
    cursor->width /= 2;
}

static void
s_add_flatten(byzgd_model_t *self, s_cursor_t *cursor)
{
    size_t count = cursor->channels * cursor->height * cursor->width;
    if (cursor->batch_major) // already [B][C·H·W]: nothing to do
        return;
    s_layer_t *layer = s_push(self, S_FLATTEN, count, count);
    layer->channels = cursor->channels;
    layer->height = cursor->height;
    layer->width = cursor->width;
    *cursor = (s_cursor_t){count, 1, 1, true};
}

static int
s_build(byzgd_model_t *self, const byzgd_model_spec_t *spec, char *error, size_t error_size)
{
    s_cursor_t cursor = {spec->channels, spec->height, spec->width, true};
    const char *name = spec->architecture;
    size_t classes = spec->class_count;
    if (strcmp(name, "logreg") == 0) {
        if (spec->hidden[0] || spec->hidden[1])
            return byzgd_set_error(error, error_size, "logreg has no hidden widths");
        s_add_flatten(self, &cursor);
        s_add_dense(self, &cursor, classes, false);
        snprintf(self->description, sizeof self->description, "logreg %zux%zux%zu - %zu",
                 spec->channels, spec->height, spec->width, classes);
    } else if (strcmp(name, "mlp") == 0) {
        size_t h1 = spec->hidden[0] ? spec->hidden[0] : 128;
        size_t h2 = spec->hidden[1] ? spec->hidden[1] : 64;
        if (h1 > 65536 || h2 > 65536)
            return byzgd_set_error(error, error_size, "mlp widths %zu,%zu: at most 65536", h1, h2);
        s_add_flatten(self, &cursor);
        s_add_dense(self, &cursor, h1, true);
        s_add_relu(self, &cursor);
        s_add_dense(self, &cursor, h2, true);
        s_add_relu(self, &cursor);
        s_add_dense(self, &cursor, classes, false);
        snprintf(self->description, sizeof self->description, "mlp %zux%zux%zu %zu,%zu %zu",
                 spec->channels, spec->height, spec->width, h1, h2, classes);
    } else if (strcmp(name, "convnet") == 0) {
        size_t c1 = spec->hidden[0] ? spec->hidden[0] : 16;
        size_t c2 = spec->hidden[1] ? spec->hidden[1] : 32;
        if (spec->height < 4 || spec->width < 4)
            return byzgd_set_error(error, error_size,
                                   "convnet needs images of at least 4x4 pixels, the input is "
                                   "%zux%zu (use mlp or logreg for feature vectors)",
                                   spec->height, spec->width);
        if (c1 > 1024 || c2 > 1024)
            return byzgd_set_error(error, error_size, "convnet channels %zu,%zu: at most 1024", c1,
                                   c2);
        s_add_conv3x3(self, &cursor, c1);
        s_add_relu(self, &cursor);
        s_add_conv3x3(self, &cursor, c1);
        s_add_relu(self, &cursor);
        s_add_maxpool(self, &cursor);
        s_add_conv3x3(self, &cursor, c2);
        s_add_relu(self, &cursor);
        s_add_conv3x3(self, &cursor, c2);
        s_add_relu(self, &cursor);
        s_add_maxpool(self, &cursor);
        s_add_flatten(self, &cursor);
        s_add_dense(self, &cursor, classes, false);
        snprintf(self->description, sizeof self->description, "convnet %zux%zux%zu %zu,%zu %zu",
                 spec->channels, spec->height, spec->width, c1, c2, classes);
    } else {
        return byzgd_set_error(error, error_size,
                               "unknown architecture \"%s\" (expected logreg, mlp or convnet)",
                               name);
    }
    return 0;
}

static void
s_workspace_free(s_workspace_t *workspace)
{
    for (size_t i = 0; i < S_MAX_LAYERS; i++) {
        free(workspace->activations[i]);
        free(workspace->argmax[i]);
    }
    free(workspace->delta[0]);
    free(workspace->delta[1]);
    free(workspace->col);
    free(workspace->partial);
    free(workspace->gradient);
    free(workspace->predictions);
    memset(workspace, 0, sizeof *workspace);
}

// Scratch for `capacity` examples. Returns 0 or -1 (out of memory; free what was made).
static int
s_workspace_allocate(s_workspace_t *workspace, const byzgd_model_t *self, size_t capacity)
{
    memset(workspace, 0, sizeof *workspace);
    workspace->capacity = capacity;
    for (size_t i = 0; i < self->layer_count; i++) {
        const s_layer_t *layer = &self->layers[i];
        workspace->activations[i] = malloc(capacity * layer->out_count * sizeof(float));
        if (!workspace->activations[i])
            return -1;
        if (layer->kind == S_MAXPOOL &&
            !(workspace->argmax[i] = malloc(capacity * layer->out_count)))
            return -1;
    }
    for (int k = 0; k < 2; k++)
        if (!(workspace->delta[k] = malloc(capacity * self->largest * sizeof(float))))
            return -1;
    if (self->col_per_example_max) {
        size_t examples = S_COL_BUDGET / self->col_per_example_max;
        examples = examples < 1 ? 1 : examples > capacity ? capacity : examples;
        workspace->col_capacity = examples * self->col_per_example_max;
        workspace->col = malloc(workspace->col_capacity * sizeof(float));
        workspace->partial = malloc(self->partial_count * sizeof(float));
        if (!workspace->col || !workspace->partial)
            return -1;
    }
    workspace->gradient = malloc(self->dimension * sizeof(float));
    workspace->predictions = malloc(capacity);
    return workspace->gradient && workspace->predictions ? 0 : -1;
}

// A part gets a thread only if it has at least this many multiply-adds of forward work:
// a fork/join costs microseconds on an idle machine but up to a scheduler quantum on a
// loaded one. (The mlp at batch 128, 14 M, runs on one thread; it takes ~0.5 ms.)
#define S_PART_MIN_WORK 16e6

// The largest batch that runs as one part (at most max_batch).
static size_t
s_single_part_limit(const byzgd_model_t *self)
{
    double limit =
        2.0 * S_PART_MIN_WORK / (self->work_per_example > 0 ? self->work_per_example : 1);
    return limit >= (double)self->max_batch ? self->max_batch : (size_t)limit;
}

// (Re)allocates one workspace per thread, each for ⌈max_batch / threads⌉ examples (the
// first for at least s_single_part_limit()).
// Returns 0, or -1 (out of memory; the old workspaces are kept then).
static int
s_allocate_workspaces(byzgd_model_t *self, int threads)
{
    s_workspace_t *workspaces = calloc((size_t)threads, sizeof *workspaces);
    if (!workspaces)
        return -1;
    size_t capacity = (self->max_batch + (size_t)threads - 1) / (size_t)threads;
    // The first workspace also holds any batch small enough to run as one part.
    size_t single = s_single_part_limit(self);
    size_t first_capacity = single > capacity ? single : capacity;
    for (int t = 0; t < threads; t++)
        if (s_workspace_allocate(&workspaces[t], self, t == 0 ? first_capacity : capacity) < 0) {
            for (int k = 0; k <= t; k++)
                s_workspace_free(&workspaces[k]);
            free(workspaces);
            return -1;
        }
    if (self->workspaces)
        for (int t = 0; t < self->threads; t++)
            s_workspace_free(&self->workspaces[t]);
    free(self->workspaces);
    self->workspaces = workspaces;
    self->threads = threads;
    return 0;
}

byzgd_model_t *
byzgd_model_new(const byzgd_model_spec_t *spec, size_t max_batch, char *error, size_t error_size)
{
    if (!spec || !spec->architecture) {
        byzgd_set_error(error, error_size, "no architecture given");
        return NULL;
    }
    if (!spec->channels || !spec->height || !spec->width || spec->channels > 4096 ||
        spec->height > 4096 || spec->width > 4096 ||
        spec->channels * spec->height * spec->width > ((size_t)1 << 24)) {
        byzgd_set_error(error, error_size, "input shape %zux%zux%zu is empty or too large",
                        spec->channels, spec->height, spec->width);
        return NULL;
    }
    if (spec->class_count < 2 || spec->class_count > 256) {
        byzgd_set_error(error, error_size, "class count %zu: expected 2 .. 256", spec->class_count);
        return NULL;
    }
    if (max_batch < 1 || max_batch > 65536) {
        byzgd_set_error(error, error_size, "max batch %zu: expected 1 .. 65536", max_batch);
        return NULL;
    }
    byzgd_model_t *self = calloc(1, sizeof *self);
    if (!self) {
        byzgd_set_error(error, error_size, "out of memory");
        return NULL;
    }
    self->feature_count = spec->channels * spec->height * spec->width;
    self->class_count = spec->class_count;
    self->max_batch = max_batch;
    self->threads = 1;
    // The model parallelises with OpenMP around single-threaded sgemm calls: an OpenBLAS
    // pool spinning beside OpenMP threads made the convnet 5× slower on 2 cores.
    openblas_set_num_threads(1);
    if (s_build(self, spec, error, error_size) < 0)
        goto failed;

    self->largest = self->feature_count;
    for (size_t i = 0; i < self->layer_count; i++) {
        const s_layer_t *layer = &self->layers[i];
        self->largest = layer->out_count > self->largest ? layer->out_count : self->largest;
        if (layer->kind == S_DENSE)
            self->work_per_example += (double)layer->in * (double)layer->out;
        if (layer->kind == S_CONV) {
            size_t per_example = byzgd_conv2d_col_per_example(&layer->conv);
            if (per_example > self->col_per_example_max)
                self->col_per_example_max = per_example;
            if (layer->weight_count > self->partial_count)
                self->partial_count = layer->weight_count;
            self->work_per_example += (double)layer->weight_count *
                                      (double)(layer->conv.out_height * layer->conv.out_width);
        }
    }
    if (s_allocate_workspaces(self, 1) < 0)
        goto out_of_memory;
    return self;

out_of_memory:
    byzgd_set_error(error, error_size, "out of memory for model scratch (max batch %zu)",
                    max_batch);
failed:
    byzgd_model_destroy(&self);
    return NULL;
}

void
byzgd_model_destroy(byzgd_model_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    byzgd_model_t *self = *self_p;
    if (self->workspaces)
        for (int t = 0; t < self->threads; t++)
            s_workspace_free(&self->workspaces[t]);
    free(self->workspaces);
    free(self);
    *self_p = NULL;
}

size_t
byzgd_model_dimension(const byzgd_model_t *self)
{
    return self->dimension;
}

size_t
byzgd_model_feature_count(const byzgd_model_t *self)
{
    return self->feature_count;
}

const char *
byzgd_model_description(const byzgd_model_t *self)
{
    return self->description;
}

void
byzgd_model_set_threads(byzgd_model_t *self, int count)
{
    assert(count >= 1);
    openblas_set_num_threads(1);
    if (count == self->threads)
        return;
    if (s_allocate_workspaces(self, count) < 0)
        abort(); // out of memory ends the process
}

void
byzgd_model_init(const byzgd_model_t *self, float *params, uint64_t seed)
{
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, seed, 0);
    for (size_t i = 0; i < self->layer_count; i++) {
        const s_layer_t *layer = &self->layers[i];
        if (!layer->weight_count)
            continue;
        double std = sqrt((layer->before_relu ? 2.0 : 1.0) / (double)layer->fan_in);
        float *w = params + layer->param_offset;
        for (size_t k = 0; k < layer->weight_count; k++)
            w[k] = (float)(std * byzgd_rng_gaussian(&rng));
        memset(w + layer->weight_count, 0, layer->bias_count * sizeof *w);
    }
}

// ---- passes
//
// A batch is split into contiguous parts, one per thread, and each thread runs every layer
// over its part with its own workspace and single-threaded kernels: one OpenMP region per
// call. (Splitting inside each layer instead cost a barrier per layer — 12 per convnet
// step — and, on a loaded 2-core machine, a scheduler quantum at each.) The parts'
// gradients are then averaged with weights count/batch, in part order.

static size_t
s_part_count(const byzgd_model_t *self, size_t batch)
{
    double by_work = (double)batch * self->work_per_example / S_PART_MIN_WORK;
    size_t parts = (size_t)self->threads;
    parts = parts < batch ? parts : batch;
    if (by_work < (double)parts)
        parts = by_work < 1.0 ? 1 : (size_t)by_work;
    if (parts <= 1 && batch <= self->workspaces[0].capacity)
        return 1;
    // The other workspaces hold ⌈max_batch / threads⌉ examples: never fewer parts than that
    // needs (at most threads, since threads × capacity ≥ max_batch ≥ batch).
    size_t capacity = self->workspaces[self->threads - 1].capacity;
    size_t needed = (batch + capacity - 1) / capacity;
    parts = parts > needed ? parts : needed;
    return parts > 1 ? parts : 2;
}

static void
s_part(size_t *first, size_t *count, size_t batch, size_t parts, size_t part)
{
    assert(parts > 0 && part < parts);
    *first = batch * part / parts;
    *count = batch * (part + 1) / parts - *first;
}

// Runs every layer over `batch` examples; returns the logits [batch][class_count].
static const float *
s_forward(const byzgd_model_t *self, s_workspace_t *workspace, const float *params,
          const float *features, size_t batch)
{
    const float *x = features;
    for (size_t i = 0; i < self->layer_count; i++) {
        const s_layer_t *layer = &self->layers[i];
        float *y = workspace->activations[i];
        const float *w = params + layer->param_offset;
        const float *bias = w + layer->weight_count;
        switch (layer->kind) {
        case S_DENSE:
            byzgd_dense_forward(y, x, w, bias, batch, layer->in, layer->out, 1);
            break;
        case S_RELU:
            byzgd_relu_forward(y, x, batch * layer->in_count);
            break;
        case S_CONV:
            byzgd_conv2d_forward(y, workspace->col, x, w, bias, &layer->conv, batch,
                                 layer->input_batch_major, workspace->col_capacity, 1);
            break;
        case S_MAXPOOL:
            byzgd_maxpool2_forward(y, workspace->argmax[i], x, layer->channels * batch,
                                   layer->height, layer->width, 1);
            break;
        case S_FLATTEN:
            byzgd_flatten_forward(y, x, layer->channels, batch, layer->height * layer->width);
            break;
        }
        x = y;
    }
    return x;
}

// Forward and backward over one part; writes gradient_out[d], returns the part's mean loss.
static double
s_forward_backward(const byzgd_model_t *self, s_workspace_t *workspace, float *gradient_out,
                   const float *params, const float *features, const uint8_t *labels, size_t batch)
{
    const float *logits = s_forward(self, workspace, params, features, batch);
    int current = 0;
    double loss = byzgd_softmax_cross_entropy(workspace->delta[current], logits, labels, batch,
                                              self->class_count);
    for (size_t i = self->layer_count; i-- > 0;) {
        const s_layer_t *layer = &self->layers[i];
        const float *x = i ? workspace->activations[i - 1] : features;
        const float *dy = workspace->delta[current];
        // The first layer's input gradient is never needed.
        float *dx = i ? workspace->delta[1 - current] : NULL;
        const float *w = params + layer->param_offset;
        float *dw = gradient_out + layer->param_offset;
        float *dbias = dw + layer->weight_count;
        switch (layer->kind) {
        case S_DENSE:
            byzgd_dense_backward(dx, dw, dbias, dy, x, w, batch, layer->in, layer->out, 1);
            break;
        case S_RELU:
            if (dx)
                byzgd_relu_backward(dx, dy, workspace->activations[i], batch * layer->in_count);
            break;
        case S_CONV:
            byzgd_conv2d_backward(dx, dw, dbias, workspace->col, workspace->partial, dy, x, w,
                                  &layer->conv, batch, layer->input_batch_major,
                                  workspace->col_capacity, 1);
            break;
        case S_MAXPOOL:
            if (dx)
                byzgd_maxpool2_backward(dx, dy, workspace->argmax[i], layer->channels * batch,
                                        layer->height, layer->width, 1);
            break;
        case S_FLATTEN:
            if (dx)
                byzgd_flatten_backward(dx, dy, layer->channels, batch,
                                       layer->height * layer->width);
            break;
        }
        current = 1 - current;
    }
    return loss;
}

double
byzgd_model_gradient(byzgd_model_t *self, float *gradient_out, const float *params,
                     const float *features, const uint8_t *labels, size_t batch_size)
{
    assert(batch_size >= 1 && batch_size <= self->max_batch);
    const size_t parts = s_part_count(self, batch_size);
    if (parts == 1)
        return s_forward_backward(self, &self->workspaces[0], gradient_out, params, features,
                                  labels, batch_size);
#pragma omp parallel for num_threads((int)parts) schedule(static, 1)
    for (size_t part = 0; part < parts; part++) {
        size_t first, count;
        s_part(&first, &count, batch_size, parts, part);
        s_workspace_t *workspace = &self->workspaces[part];
        workspace->loss =
            s_forward_backward(self, workspace, workspace->gradient, params,
                               features + first * self->feature_count, labels + first, count);
    }
    // The mean over the batch: parts weighted by their share of it.
    double loss = 0.0;
    for (size_t part = 0; part < parts; part++) {
        size_t first, count;
        s_part(&first, &count, batch_size, parts, part);
        loss += self->workspaces[part].loss * (double)count / (double)batch_size;
    }
    size_t first0, count0;
    s_part(&first0, &count0, batch_size, parts, 0);
    const float weight0 = (float)count0 / (float)batch_size;
    const float *g0 = self->workspaces[0].gradient;
    for (size_t i = 0; i < self->dimension; i++)
        gradient_out[i] = weight0 * g0[i];
    for (size_t part = 1; part < parts; part++) {
        size_t first, count;
        s_part(&first, &count, batch_size, parts, part);
        const float weight = (float)count / (float)batch_size;
        const float *g = self->workspaces[part].gradient;
        for (size_t i = 0; i < self->dimension; i++)
            gradient_out[i] += weight * g[i];
    }
    return loss;
}

// Forward over `count` examples in parts; fills each part's workspace predictions, loss
// (sum over its examples) and correct (when labels is not NULL).
static void
s_forward_parts(byzgd_model_t *self, size_t parts, const float *params, const float *features,
                const uint8_t *labels, size_t count)
{
#pragma omp parallel for num_threads((int)parts) if (parts > 1) schedule(static, 1)
    for (size_t part = 0; part < parts; part++) {
        size_t first, size;
        s_part(&first, &size, count, parts, part);
        s_workspace_t *workspace = &self->workspaces[part];
        const float *logits =
            s_forward(self, workspace, params, features + first * self->feature_count, size);
        byzgd_argmax_rows(workspace->predictions, logits, size, self->class_count);
        workspace->loss = 0.0;
        workspace->correct = 0;
        if (!labels)
            continue;
        workspace->loss =
            byzgd_softmax_cross_entropy(NULL, logits, labels + first, size, self->class_count) *
            (double)size;
        for (size_t b = 0; b < size; b++)
            workspace->correct += workspace->predictions[b] == labels[first + b];
    }
}

void
byzgd_model_predict(byzgd_model_t *self, uint8_t *predictions_out, const float *params,
                    const float *features, size_t batch_size)
{
    assert(batch_size >= 1 && batch_size <= self->max_batch);
    const size_t parts = s_part_count(self, batch_size);
    s_forward_parts(self, parts, params, features, NULL, batch_size);
    for (size_t part = 0; part < parts; part++) {
        size_t first, count;
        s_part(&first, &count, batch_size, parts, part);
        memcpy(predictions_out + first, self->workspaces[part].predictions, count);
    }
}

void
byzgd_model_evaluate_add(byzgd_model_t *self, double *loss_sum, size_t *correct,
                         const float *params, const float *features, const uint8_t *labels,
                         size_t count)
{
    assert(count >= 1 && count <= self->max_batch);
    const size_t parts = s_part_count(self, count);
    s_forward_parts(self, parts, params, features, labels, count);
    for (size_t part = 0; part < parts; part++) {
        *loss_sum += self->workspaces[part].loss;
        *correct += self->workspaces[part].correct;
    }
}

void
byzgd_model_evaluate_arrays(byzgd_model_t *self, double *loss_out, double *accuracy_out,
                            const float *params, const float *features, const uint8_t *labels,
                            size_t count)
{
    double loss_sum = 0.0;
    size_t correct = 0;
    for (size_t first = 0; first < count; first += self->max_batch) {
        size_t batch = count - first < self->max_batch ? count - first : self->max_batch;
        byzgd_model_evaluate_add(self, &loss_sum, &correct, params,
                                 features + first * self->feature_count, labels + first, batch);
    }
    *loss_out = count ? loss_sum / (double)count : 0.0;
    *accuracy_out = count ? (double)correct / (double)count : 0.0;
}
