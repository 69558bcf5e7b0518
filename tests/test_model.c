/*  test_model.c — layers and models: finite-difference gradient checks for every layer and
    every architecture, a direct-convolution reference, determinism, a loss that falls on
    synthetic data, parameter files (round trip and every refusal), learning-rate schedules.
    Shapes are tiny so the suite stays fast under the sanitizers. */
#include "learning/dataset.h"
#include "learning/layers.h"
#include "learning/lr_schedule.h"
#include "learning/model.h"
#include "support/param_file.h"
#include "support/rng.h"
#include "test.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

// ---- a generic finite-difference checker
//
// A layer under test maps (x, params) to y. With a fixed random r, the scalar
// L = Σ r·y has dL/dy = r, so backward(dy = r) must give dL/dx and dL/dparams; both are
// compared with central differences of L computed in double.

typedef struct s_problem_t s_problem_t;
struct s_problem_t {
    size_t x_count, param_count, y_count;
    void (*forward)(const s_problem_t *problem, float *y, const float *x, const float *params);
    void (*backward)(const s_problem_t *problem, float *dx, float *dparams, const float *dy,
                     const float *x, const float *params);
    void *context;
};

static void
s_fill_gaussian(float *values, size_t count, byzgd_rng_t *rng, double scale)
{
    for (size_t i = 0; i < count; i++)
        values[i] = (float)(scale * byzgd_rng_gaussian(rng));
}

static double
s_weighted_sum(const s_problem_t *problem, float *y, const float *x, const float *params,
               const float *r)
{
    problem->forward(problem, y, x, params);
    double sum = 0.0;
    for (size_t i = 0; i < problem->y_count; i++)
        sum += (double)r[i] * y[i];
    return sum;
}

// Compares analytic and numeric derivatives of every coordinate of `values` (x or params).
// Returns the number of coordinates outside atol + rtol·max(|a|, |n|).
static size_t
s_compare(const s_problem_t *problem, float *values, size_t count, const float *analytic, float *y,
          const float *x, const float *params, const float *r, float eps, double atol, double rtol,
          const char *what)
{
    size_t bad = 0;
    for (size_t i = 0; i < count; i++) {
        float saved = values[i];
        values[i] = saved + eps;
        double plus = s_weighted_sum(problem, y, x, params, r);
        values[i] = saved - eps;
        double minus = s_weighted_sum(problem, y, x, params, r);
        values[i] = saved;
        double numeric = (plus - minus) / (2.0 * ((double)(saved + eps) - (double)saved));
        double a = analytic[i];
        double scale = fabs(a) > fabs(numeric) ? fabs(a) : fabs(numeric);
        if (!(fabs(a - numeric) <= atol + rtol * scale)) {
            if (bad < 5)
                printf("  %s[%zu]: analytic %.6g numeric %.6g\n", what, i, a, numeric);
            bad++;
        }
    }
    return bad;
}

static void
s_check_problem(const s_problem_t *problem, float *x, float *params, uint64_t seed, float eps,
                double atol, double rtol)
{
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, seed, 99);
    float *y = malloc((problem->y_count + 1) * sizeof *y);
    float *r = malloc((problem->y_count + 1) * sizeof *r);
    float *dx = malloc((problem->x_count + 1) * sizeof *dx);
    float *dparams = malloc((problem->param_count + 1) * sizeof *dparams);
    s_fill_gaussian(r, problem->y_count, &rng, 1.0);
    // Poison the outputs: backward must overwrite every coordinate.
    for (size_t i = 0; i < problem->x_count; i++)
        dx[i] = NAN;
    for (size_t i = 0; i < problem->param_count; i++)
        dparams[i] = NAN;
    problem->forward(problem, y, x, params);
    problem->backward(problem, dx, dparams, r, x, params);
    size_t bad =
        s_compare(problem, x, problem->x_count, dx, y, x, params, r, eps, atol, rtol, "dx");
    bad += s_compare(problem, params, problem->param_count, dparams, y, x, params, r, eps, atol,
                     rtol, "dparams");
    ASSERT_MSG(bad == 0, "%zu derivatives disagree with finite differences", bad);
    free(y);
    free(r);
    free(dx);
    free(dparams);
}

// ---- dense

typedef struct {
    size_t batch, in, out;
} s_dense_t;

static void
s_dense_forward(const s_problem_t *problem, float *y, const float *x, const float *params)
{
    const s_dense_t *c = problem->context;
    byzgd_dense_forward(y, x, params, params + c->in * c->out, c->batch, c->in, c->out, 1);
}

static void
s_dense_backward(const s_problem_t *problem, float *dx, float *dparams, const float *dy,
                 const float *x, const float *params)
{
    const s_dense_t *c = problem->context;
    byzgd_dense_backward(dx, dparams, dparams + c->in * c->out, dy, x, params, c->batch, c->in,
                         c->out, 1);
}

TEST(dense_gradient)
{
    s_dense_t c = {3, 5, 4};
    s_problem_t problem = {c.batch * c.in,  c.in * c.out + c.out, c.batch * c.out,
                           s_dense_forward, s_dense_backward,     &c};
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 1, 0);
    float x[15], params[24];
    s_fill_gaussian(x, 15, &rng, 1.0);
    s_fill_gaussian(params, 24, &rng, 1.0);
    s_check_problem(&problem, x, params, 1, 1e-2f, 1e-3, 1e-3);
}

TEST(dense_forward_values)
{
    // y = x·Wᵀ + b on numbers small enough to check by hand.
    const float x[2 * 3] = {1, 2, 3, -1, 0, 2};
    const float w[2 * 3] = {1, 0, -1, 0.5f, 0.5f, 0.5f};
    const float bias[2] = {10, -1};
    float y[4];
    byzgd_dense_forward(y, x, w, bias, 2, 3, 2, 1);
    ASSERT_NEAR(y[0], 1 - 3 + 10, 1e-6);
    ASSERT_NEAR(y[1], 3 - 1, 1e-6);
    ASSERT_NEAR(y[2], -1 - 2 + 10, 1e-6);
    ASSERT_NEAR(y[3], 0.5 - 1, 1e-6);
}

// The dense backward pass zeroes its outputs itself and accumulates with beta 1 (faster
// than OpenBLAS's own beta = 0 pass): the same bits as cblas_sgemm with beta 0, on
// a weight gradient the size of the MLP's first layer (784 -> 128, batch 16), garbage in
// the outputs beforehand.
TEST(dense_backward_gives_the_bits_of_sgemm_with_beta_zero)
{
    enum { BATCH = 16, IN = 784, OUT = 128 };
    float *x = malloc(BATCH * IN * sizeof *x), *dy = malloc(BATCH * OUT * sizeof *dy);
    float *w = malloc(OUT * IN * sizeof *w), *dw = malloc(OUT * IN * sizeof *dw);
    float *dx = malloc(BATCH * IN * sizeof *dx), *expected_dw = malloc(OUT * IN * sizeof *dw);
    float *expected_dx = malloc(BATCH * IN * sizeof *dx), dbias[OUT];
    ASSERT(x && dy && w && dw && dx && expected_dw && expected_dx);
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 11, 0);
    s_fill_gaussian(x, BATCH * IN, &rng, 1.0);
    s_fill_gaussian(dy, BATCH * OUT, &rng, 0.1);
    s_fill_gaussian(w, OUT * IN, &rng, 0.05);
    for (size_t i = 0; i < OUT * IN; i++)
        dw[i] = expected_dw[i] = NAN;
    for (size_t i = 0; i < BATCH * IN; i++)
        dx[i] = expected_dx[i] = NAN;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OUT, IN, BATCH, 1.0f, dy, OUT, x, IN, 0.0f,
                expected_dw, IN);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BATCH, IN, OUT, 1.0f, dy, OUT, w, IN,
                0.0f, expected_dx, IN);
    for (int threads = 1; threads <= 2; threads++) {
        byzgd_dense_backward(dx, dw, dbias, dy, x, w, BATCH, IN, OUT, threads);
        ASSERT_MSG(memcmp(dw, expected_dw, OUT * IN * sizeof *dw) == 0, "dw, %d threads", threads);
        ASSERT_MSG(memcmp(dx, expected_dx, BATCH * IN * sizeof *dx) == 0, "dx, %d threads",
                   threads);
    }
    free(x);
    free(dy);
    free(w);
    free(dw);
    free(dx);
    free(expected_dw);
    free(expected_dx);
}

// ---- ReLU

static void
s_relu_forward(const s_problem_t *problem, float *y, const float *x, const float *params)
{
    (void)params;
    byzgd_relu_forward(y, x, problem->x_count);
}

static void
s_relu_backward(const s_problem_t *problem, float *dx, float *dparams, const float *dy,
                const float *x, const float *params)
{
    (void)dparams;
    (void)params;
    float *y = malloc(problem->x_count * sizeof *y);
    byzgd_relu_forward(y, x, problem->x_count);
    byzgd_relu_backward(dx, dy, y, problem->x_count);
    free(y);
}

TEST(relu_gradient)
{
    s_problem_t problem = {20, 0, 20, s_relu_forward, s_relu_backward, NULL};
    float x[20];
    for (int i = 0; i < 20; i++) // away from the kink at 0
        x[i] = (i % 2 ? 1.0f : -1.0f) * (0.1f + 0.05f * (float)i);
    s_check_problem(&problem, x, NULL, 2, 1e-2f, 1e-4, 1e-3);
}

// ---- conv2d

typedef struct {
    byzgd_conv2d_shape_t shape;
    size_t batch;
    bool batch_major;
    size_t col_capacity;
    int threads;
} s_conv_t;

static void
s_conv_forward(const s_problem_t *problem, float *y, const float *x, const float *params)
{
    const s_conv_t *c = problem->context;
    size_t weights =
        c->shape.out_channels * c->shape.in_channels * c->shape.kernel * c->shape.kernel;
    float *col = malloc(c->col_capacity * sizeof *col);
    byzgd_conv2d_forward(y, col, x, params, params + weights, &c->shape, c->batch, c->batch_major,
                         c->col_capacity, c->threads);
    free(col);
}

static void
s_conv_backward(const s_problem_t *problem, float *dx, float *dparams, const float *dy,
                const float *x, const float *params)
{
    const s_conv_t *c = problem->context;
    size_t weights =
        c->shape.out_channels * c->shape.in_channels * c->shape.kernel * c->shape.kernel;
    float *col = malloc(c->col_capacity * sizeof *col);
    float *partial = malloc((size_t)c->threads * weights * sizeof *partial);
    byzgd_conv2d_backward(dx, dparams, dparams + weights, col, partial, dy, x, params, &c->shape,
                          c->batch, c->batch_major, c->col_capacity, c->threads);
    free(col);
    free(partial);
}

// Direct convolution: y(co, b, oh, ow) = bias + Σ w(co, ci, ki, kj)·x(ci, b, ih, iw).
static float
s_conv_reference(const s_conv_t *c, const float *x, const float *params, size_t co, size_t b,
                 size_t oh, size_t ow)
{
    const byzgd_conv2d_shape_t *s = &c->shape;
    size_t k = s->kernel, weights = s->out_channels * s->in_channels * k * k;
    double sum = params[weights + co];
    for (size_t ci = 0; ci < s->in_channels; ci++)
        for (size_t ki = 0; ki < k; ki++)
            for (size_t kj = 0; kj < k; kj++) {
                long ih = (long)(oh * s->stride + ki) - (long)s->padding;
                long iw = (long)(ow * s->stride + kj) - (long)s->padding;
                if (ih < 0 || iw < 0 || ih >= (long)s->in_height || iw >= (long)s->in_width)
                    continue;
                size_t plane = s->in_height * s->in_width;
                size_t offset = c->batch_major ? (b * s->in_channels + ci) * plane
                                               : (ci * c->batch + b) * plane;
                sum += (double)params[((co * s->in_channels + ci) * k + ki) * k + kj] *
                       x[offset + (size_t)ih * s->in_width + (size_t)iw];
            }
    return (float)sum;
}

// threads parts of the batch (3 examples), each with scratch for one example per sgemm
// (one_example_chunks) or for the whole batch.
static void
s_check_conv(size_t stride, size_t padding, bool batch_major, bool one_example_chunks, int threads)
{
    s_conv_t c = {.shape = {.in_channels = 2,
                            .in_height = 5,
                            .in_width = 6,
                            .out_channels = 3,
                            .kernel = 3,
                            .stride = stride,
                            .padding = padding},
                  .batch = 3,
                  .batch_major = batch_major,
                  .threads = threads};
    ASSERT_EQ_INT(byzgd_conv2d_shape_init(&c.shape), 0);
    size_t per_example = byzgd_conv2d_col_per_example(&c.shape);
    c.col_capacity =
        (size_t)threads * (one_example_chunks ? per_example + 1 : per_example * c.batch);
    size_t n = c.shape.out_height * c.shape.out_width;
    size_t weights = 3 * 2 * 9;
    s_problem_t problem = {c.batch * 2 * 30, weights + 3,     c.batch * 3 * n,
                           s_conv_forward,   s_conv_backward, &c};
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 3, stride * 10 + padding);
    float *x = malloc(problem.x_count * sizeof *x);
    float *params = malloc(problem.param_count * sizeof *params);
    float *y = malloc(problem.y_count * sizeof *y);
    s_fill_gaussian(x, problem.x_count, &rng, 1.0);
    s_fill_gaussian(params, problem.param_count, &rng, 1.0);

    s_conv_forward(&problem, y, x, params);
    for (size_t co = 0; co < 3; co++)
        for (size_t b = 0; b < c.batch; b++)
            for (size_t i = 0; i < n; i++) {
                float expected = s_conv_reference(&c, x, params, co, b, i / c.shape.out_width,
                                                  i % c.shape.out_width);
                ASSERT_NEAR(y[(co * c.batch + b) * n + i], expected, 1e-4);
            }
    s_check_problem(&problem, x, params, 3, 1e-2f, 2e-3, 2e-3);
    free(x);
    free(params);
    free(y);
}

TEST(conv2d_shape)
{
    byzgd_conv2d_shape_t shape = {.in_channels = 1,
                                  .in_height = 28,
                                  .in_width = 28,
                                  .out_channels = 4,
                                  .kernel = 3,
                                  .stride = 2,
                                  .padding = 1};
    ASSERT_EQ_INT(byzgd_conv2d_shape_init(&shape), 0);
    ASSERT_EQ_INT(shape.out_height, 14);
    ASSERT_EQ_INT(shape.out_width, 14);
    shape.kernel = 31; // larger than the padded image
    ASSERT_EQ_INT(byzgd_conv2d_shape_init(&shape), -1);
}

TEST(conv2d_gradient_stride1_pad1)
{
    s_check_conv(1, 1, true, false, 1);
}

TEST(conv2d_gradient_stride2_pad1_channel_major)
{
    s_check_conv(2, 1, false, false, 2);
}

TEST(conv2d_gradient_stride2_pad0_chunked)
{
    s_check_conv(2, 0, true, true, 2);
}

TEST(conv2d_gradient_stride1_pad2_chunked_channel_major)
{
    s_check_conv(1, 2, false, true, 4);
}

// ---- max-pooling

typedef struct {
    size_t planes, height, width;
} s_pool_t;

static void
s_pool_forward(const s_problem_t *problem, float *y, const float *x, const float *params)
{
    (void)params;
    const s_pool_t *c = problem->context;
    uint8_t *argmax = malloc(problem->y_count);
    byzgd_maxpool2_forward(y, argmax, x, c->planes, c->height, c->width, 2);
    free(argmax);
}

static void
s_pool_backward(const s_problem_t *problem, float *dx, float *dparams, const float *dy,
                const float *x, const float *params)
{
    (void)dparams;
    (void)params;
    const s_pool_t *c = problem->context;
    uint8_t *argmax = malloc(problem->y_count);
    float *y = malloc(problem->y_count * sizeof *y);
    byzgd_maxpool2_forward(y, argmax, x, c->planes, c->height, c->width, 2);
    byzgd_maxpool2_backward(dx, dy, argmax, c->planes, c->height, c->width, 2);
    free(argmax);
    free(y);
}

TEST(maxpool_gradient_odd_size)
{
    s_pool_t c = {3, 5, 7}; // odd: the last row and column are dropped
    s_problem_t problem = {3 * 35, 0, 3 * 2 * 3, s_pool_forward, s_pool_backward, &c};
    float x[105];
    // Distinct values at least 0.1 apart, shuffled, so no window has a near tie.
    size_t order[105];
    for (size_t i = 0; i < 105; i++)
        order[i] = i;
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 4, 0);
    byzgd_rng_shuffle(&rng, order, 105);
    for (size_t i = 0; i < 105; i++)
        x[i] = 0.1f * (float)order[i] - 5.0f;
    s_check_problem(&problem, x, NULL, 4, 1e-2f, 1e-4, 1e-3);

    float y[18];
    uint8_t argmax[18];
    byzgd_maxpool2_forward(y, argmax, x, 3, 5, 7, 1);
    float expected = x[0];
    for (size_t q = 1; q < 4; q++) {
        float v = x[(q / 2) * 7 + q % 2];
        expected = v > expected ? v : expected;
    }
    ASSERT_NEAR(y[0], expected, 0);
}

// ---- flatten

typedef struct {
    size_t channels, batch, plane;
} s_flatten_t;

static void
s_flatten_forward(const s_problem_t *problem, float *y, const float *x, const float *params)
{
    (void)params;
    const s_flatten_t *c = problem->context;
    byzgd_flatten_forward(y, x, c->channels, c->batch, c->plane);
}

static void
s_flatten_backward(const s_problem_t *problem, float *dx, float *dparams, const float *dy,
                   const float *x, const float *params)
{
    (void)dparams;
    (void)params;
    (void)x;
    const s_flatten_t *c = problem->context;
    byzgd_flatten_backward(dx, dy, c->channels, c->batch, c->plane);
}

TEST(flatten_gradient_and_order)
{
    s_flatten_t c = {3, 2, 4};
    s_problem_t problem = {24, 0, 24, s_flatten_forward, s_flatten_backward, &c};
    float x[24], y[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i;
    byzgd_flatten_forward(y, x, 3, 2, 4);
    // y[b][c·4 + i] = x[c][b][i]
    ASSERT_NEAR(y[0 * 12 + 1 * 4 + 2], x[(1 * 2 + 0) * 4 + 2], 0);
    ASSERT_NEAR(y[1 * 12 + 2 * 4 + 3], x[(2 * 2 + 1) * 4 + 3], 0);
    s_check_problem(&problem, x, NULL, 5, 1e-2f, 1e-4, 1e-3);
}

// ---- softmax cross-entropy

TEST(softmax_cross_entropy_gradient)
{
    const size_t batch = 4, classes = 5;
    float logits[20], dlogits[20];
    uint8_t labels[4] = {0, 4, 2, 2};
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 6, 0);
    s_fill_gaussian(logits, 20, &rng, 2.0);
    double loss = byzgd_softmax_cross_entropy(dlogits, logits, labels, batch, classes);
    ASSERT(loss > 0);
    for (size_t i = 0; i < 20; i++) {
        float saved = logits[i];
        logits[i] = saved + 1e-2f;
        double plus = byzgd_softmax_cross_entropy(NULL, logits, labels, batch, classes);
        logits[i] = saved - 1e-2f;
        double minus = byzgd_softmax_cross_entropy(NULL, logits, labels, batch, classes);
        logits[i] = saved;
        ASSERT_NEAR(dlogits[i], (plus - minus) / 2e-2, 1e-4);
    }
    // Uniform logits: the loss is log(classes) whatever the labels.
    float zeros[20] = {0};
    ASSERT_NEAR(byzgd_softmax_cross_entropy(NULL, zeros, labels, batch, classes), log(5.0), 1e-9);
    // Huge logits do not overflow.
    float huge[5] = {1e30f, 0, 0, 0, -1e30f};
    uint8_t label = 0;
    ASSERT_NEAR(byzgd_softmax_cross_entropy(NULL, huge, &label, 1, 5), 0.0, 1e-9);
    uint8_t predictions[4];
    byzgd_argmax_rows(predictions, huge, 1, 5);
    ASSERT_EQ_INT(predictions[0], 0);
}

// ---- whole architectures

static byzgd_model_t *
s_tiny_model(const char *architecture)
{
    byzgd_model_spec_t spec = {
        .architecture = architecture, .channels = 1, .height = 8, .width = 6, .class_count = 3};
    if (strcmp(architecture, "mlp") == 0) {
        spec.hidden[0] = 7;
        spec.hidden[1] = 5;
    } else if (strcmp(architecture, "convnet") == 0) {
        spec.hidden[0] = 2;
        spec.hidden[1] = 3;
    }
    char error[256] = "";
    byzgd_model_t *model = byzgd_model_new(&spec, 4, error, sizeof error);
    ASSERT_MSG(model, "byzgd_model_new(%s): %s", architecture, error);
    return model;
}

static bool
s_agrees(double analytic, double numeric)
{
    double scale = fabs(analytic) > fabs(numeric) ? fabs(analytic) : fabs(numeric);
    return fabs(analytic - numeric) <= 2e-3 + 2e-2 * scale;
}

// Differences of the mean loss, in double, for every parameter: each derivative must agree
// with the central difference or, at a kink, with one of the one-sided differences.
static void
s_check_model(const char *architecture, int threads)
{
    byzgd_model_t *model = s_tiny_model(architecture);
    byzgd_model_set_threads(model, threads);
    size_t d = byzgd_model_dimension(model), features = byzgd_model_feature_count(model);
    const size_t batch = 3;
    float *params = malloc(d * sizeof *params), *gradient = malloc(d * sizeof *gradient);
    float *x = malloc(batch * features * sizeof *x);
    uint8_t labels[3] = {0, 2, 1};
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 8, 0);
    s_fill_gaussian(x, batch * features, &rng, 1.0);
    byzgd_model_init(model, params, 11);
    // Non-zero biases so every bias path is exercised.
    for (size_t i = 0; i < d; i++)
        params[i] += (float)(0.05 * byzgd_rng_gaussian(&rng));
    for (size_t i = 0; i < d; i++)
        gradient[i] = NAN;
    double loss = byzgd_model_gradient(model, gradient, params, x, labels, batch);
    ASSERT(isfinite(loss) && loss > 0);
    size_t bad = 0;
    const float eps = 1e-3f;
    float *scratch = malloc(d * sizeof *scratch);
    for (size_t i = 0; i < d; i++) {
        ASSERT_MSG(isfinite(gradient[i]), "gradient[%zu] not written", i);
        float saved = params[i];
        params[i] = saved + eps;
        double plus = byzgd_model_gradient(model, scratch, params, x, labels, batch);
        params[i] = saved - eps;
        double minus = byzgd_model_gradient(model, scratch, params, x, labels, batch);
        params[i] = saved;
        double numeric = (plus - minus) / (2.0 * eps);
        double a = gradient[i];
        // Where a perturbation crosses a ReLU or max-pool kink the central difference
        // averages two slopes; the side that stays on this piece must still agree.
        if (s_agrees(a, numeric) || s_agrees(a, (plus - loss) / eps) ||
            s_agrees(a, (loss - minus) / eps))
            continue;
        if (bad < 5)
            printf("  %s param %zu: analytic %.6g numeric %.6g (one-sided %.6g, %.6g)\n",
                   architecture, i, a, numeric, (plus - loss) / eps, (loss - minus) / eps);
        bad++;
    }
    ASSERT_MSG(bad == 0, "%s: %zu of %zu derivatives disagree", architecture, bad, d);
    free(scratch);
    free(params);
    free(gradient);
    free(x);
    byzgd_model_destroy(&model);
    ASSERT(model == NULL);
}

TEST(logreg_gradient)
{
    s_check_model("logreg", 1);
}

TEST(mlp_gradient)
{
    s_check_model("mlp", 1);
}

TEST(convnet_gradient)
{
    s_check_model("convnet", 1);
}

TEST(convnet_gradient_three_threads)
{
    s_check_model("convnet", 3);
}

// Splitting the batch over threads changes only the order of float sums.
TEST(threads_agree_with_one_thread)
{
    // The full-size convnet: a batch of 8 has enough work to be split over 2 threads (tiny
    // models always run as one part).
    byzgd_model_spec_t spec = {
        .architecture = "convnet", .channels = 1, .height = 28, .width = 28, .class_count = 10};
    char error[256];
    byzgd_model_t *model = byzgd_model_new(&spec, 8, error, sizeof error);
    ASSERT_MSG(model, "%s", error);
    size_t d = byzgd_model_dimension(model);
    float *params = malloc(d * sizeof *params), *one = malloc(d * sizeof *one);
    float *two = malloc(d * sizeof *two);
    float *x = malloc(8 * 784 * sizeof *x);
    uint8_t labels[8] = {2, 1, 0, 1, 9, 5, 3, 7};
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 4, 4);
    s_fill_gaussian(x, 8 * 784, &rng, 1.0);
    byzgd_model_init(model, params, 4);
    double loss_one = byzgd_model_gradient(model, one, params, x, labels, 8);
    byzgd_model_set_threads(model, 2);
    double loss_two = byzgd_model_gradient(model, two, params, x, labels, 8);
    ASSERT_NEAR(loss_one, loss_two, 1e-6);
    for (size_t i = 0; i < d; i++)
        ASSERT_NEAR(one[i], two[i], 1e-5 + 1e-4 * fabs(one[i]));
    // Forward-only passes split the same way.
    double eval_loss_two, accuracy_two, eval_loss_one, accuracy_one;
    uint8_t predictions_two[8], predictions_one[8];
    byzgd_model_evaluate_arrays(model, &eval_loss_two, &accuracy_two, params, x, labels, 8);
    byzgd_model_predict(model, predictions_two, params, x, 8);
    byzgd_model_set_threads(model, 1);
    byzgd_model_evaluate_arrays(model, &eval_loss_one, &accuracy_one, params, x, labels, 8);
    byzgd_model_predict(model, predictions_one, params, x, 8);
    ASSERT_NEAR(eval_loss_one, loss_one, 1e-6);
    ASSERT_NEAR(eval_loss_two, eval_loss_one, 1e-6);
    ASSERT_NEAR(accuracy_two, accuracy_one, 0);
    ASSERT(memcmp(predictions_one, predictions_two, 8) == 0);
    free(x);
    free(params);
    free(one);
    free(two);
    byzgd_model_destroy(&model);
}

TEST(dimensions_of_the_documented_architectures)
{
    // docs/MODELS.md quotes these numbers.
    char error[256];
    byzgd_model_spec_t spec = {
        .architecture = "mlp", .channels = 1, .height = 28, .width = 28, .class_count = 10};
    byzgd_model_t *model = byzgd_model_new(&spec, 1, error, sizeof error);
    ASSERT(model);
    ASSERT_EQ_INT(byzgd_model_dimension(model), 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10);
    ASSERT_STR_EQ(byzgd_model_description(model), "mlp 1x28x28 128,64 10");
    byzgd_model_destroy(&model);
    spec.architecture = "convnet";
    model = byzgd_model_new(&spec, 1, error, sizeof error);
    ASSERT(model);
    ASSERT_EQ_INT(byzgd_model_dimension(model), (16 * 9 + 16) + (16 * 16 * 9 + 16) +
                                                    (32 * 16 * 9 + 32) + (32 * 32 * 9 + 32) +
                                                    (32 * 7 * 7 * 10 + 10));
    byzgd_model_destroy(&model);
    spec.architecture = "logreg";
    model = byzgd_model_new(&spec, 1, error, sizeof error);
    ASSERT(model);
    ASSERT_EQ_INT(byzgd_model_dimension(model), 784 * 10 + 10);
    byzgd_model_destroy(&model);
}

TEST(model_new_refuses_bad_specs)
{
    char error[256];
    byzgd_model_spec_t spec = {
        .architecture = "resnet", .channels = 1, .height = 28, .width = 28, .class_count = 10};
    ASSERT(!byzgd_model_new(&spec, 8, error, sizeof error));
    ASSERT_STR_CONTAINS(error, "unknown architecture \"resnet\"");
    spec.architecture = "convnet";
    spec.height = 1;
    spec.width = 1000;
    ASSERT(!byzgd_model_new(&spec, 8, error, sizeof error));
    ASSERT_STR_CONTAINS(error, "convnet needs images");
    spec.architecture = "mlp";
    spec.class_count = 1;
    ASSERT(!byzgd_model_new(&spec, 8, error, sizeof error));
    ASSERT_STR_CONTAINS(error, "class count");
    spec.class_count = 2;
    ASSERT(!byzgd_model_new(&spec, 0, error, sizeof error));
    ASSERT_STR_CONTAINS(error, "max batch");
}

TEST(determinism_for_a_fixed_seed)
{
    byzgd_model_t *model = s_tiny_model("convnet");
    size_t d = byzgd_model_dimension(model), features = byzgd_model_feature_count(model);
    float *a = malloc(d * sizeof *a), *b = malloc(d * sizeof *b);
    float *ga = malloc(d * sizeof *ga), *gb = malloc(d * sizeof *gb);
    byzgd_model_init(model, a, 5);
    byzgd_model_init(model, b, 5);
    ASSERT(memcmp(a, b, d * sizeof *a) == 0);
    byzgd_model_init(model, b, 6);
    ASSERT(memcmp(a, b, d * sizeof *a) != 0);
    float x[4 * 48];
    uint8_t labels[4] = {0, 1, 2, 1};
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 1, 1);
    s_fill_gaussian(x, 4 * features, &rng, 1.0);
    double la = byzgd_model_gradient(model, ga, a, x, labels, 4);
    double lb = byzgd_model_gradient(model, gb, a, x, labels, 4);
    ASSERT(la == lb);
    ASSERT(memcmp(ga, gb, d * sizeof *ga) == 0);
    free(a);
    free(b);
    free(ga);
    free(gb);
    byzgd_model_destroy(&model);
}

// Three Gaussian blobs in 12 dimensions; SGD on an mlp must cut the loss and classify.
TEST(mlp_loss_falls_on_synthetic_data)
{
    enum { COUNT = 300, FEATURES = 12, CLASSES = 3, BATCH = 16 };
    byzgd_model_spec_t spec = {.architecture = "mlp",
                               .channels = 1,
                               .height = 1,
                               .width = FEATURES,
                               .class_count = CLASSES,
                               .hidden = {16, 8}};
    char error[256];
    byzgd_model_t *model = byzgd_model_new(&spec, COUNT, error, sizeof error);
    ASSERT_MSG(model, "%s", error);
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 21, 0);
    float means[CLASSES][FEATURES];
    for (int k = 0; k < CLASSES; k++)
        s_fill_gaussian(means[k], FEATURES, &rng, 1.0);
    float *x = malloc(COUNT * FEATURES * sizeof *x);
    uint8_t labels[COUNT];
    for (int i = 0; i < COUNT; i++) {
        labels[i] = (uint8_t)(i % CLASSES);
        for (int j = 0; j < FEATURES; j++)
            x[i * FEATURES + j] = means[labels[i]][j] + (float)(0.5 * byzgd_rng_gaussian(&rng));
    }
    size_t d = byzgd_model_dimension(model);
    float *params = malloc(d * sizeof *params), *gradient = malloc(d * sizeof *gradient);
    byzgd_model_init(model, params, 1);
    double loss0, accuracy0, loss1, accuracy1;
    byzgd_model_evaluate_arrays(model, &loss0, &accuracy0, params, x, labels, COUNT);
    float batch_x[BATCH * FEATURES];
    uint8_t batch_labels[BATCH];
    for (int step = 0; step < 300; step++) {
        for (int b = 0; b < BATCH; b++) {
            size_t i = byzgd_rng_below(&rng, COUNT);
            memcpy(batch_x + b * FEATURES, x + i * FEATURES, FEATURES * sizeof *x);
            batch_labels[b] = labels[i];
        }
        byzgd_model_gradient(model, gradient, params, batch_x, batch_labels, BATCH);
        for (size_t i = 0; i < d; i++)
            params[i] -= 0.1f * gradient[i];
    }
    byzgd_model_evaluate_arrays(model, &loss1, &accuracy1, params, x, labels, COUNT);
    printf("  loss %.4f -> %.4f, accuracy %.3f -> %.3f\n", loss0, loss1, accuracy0, accuracy1);
    ASSERT_MSG(loss1 < 0.3 * loss0, "loss %.4f -> %.4f", loss0, loss1);
    ASSERT_MSG(accuracy1 > 0.95, "accuracy %.3f", accuracy1);

    // predict agrees with the accuracy evaluate reports.
    uint8_t predictions[COUNT];
    byzgd_model_predict(model, predictions, params, x, COUNT);
    size_t correct = 0;
    for (int i = 0; i < COUNT; i++)
        correct += predictions[i] == labels[i];
    ASSERT_NEAR((double)correct / COUNT, accuracy1, 1e-12);
    free(x);
    free(params);
    free(gradient);
    byzgd_model_destroy(&model);
}

TEST(evaluate_in_batches_matches_one_batch)
{
    byzgd_model_t *small = s_tiny_model("convnet"); // max batch 4: 10 examples in 3 batches
    byzgd_model_spec_t spec = {.architecture = "convnet",
                               .channels = 1,
                               .height = 8,
                               .width = 6,
                               .class_count = 3,
                               .hidden = {2, 3}};
    char error[256];
    byzgd_model_t *large = byzgd_model_new(&spec, 10, error, sizeof error);
    ASSERT(large);
    size_t d = byzgd_model_dimension(small);
    float *params = malloc(d * sizeof *params);
    byzgd_model_init(small, params, 3);
    float x[10 * 48];
    uint8_t labels[10];
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 2, 2);
    s_fill_gaussian(x, 10 * 48, &rng, 1.0);
    for (int i = 0; i < 10; i++)
        labels[i] = (uint8_t)byzgd_rng_below(&rng, 3);
    double loss_a, accuracy_a, loss_b, accuracy_b;
    byzgd_model_evaluate_arrays(small, &loss_a, &accuracy_a, params, x, labels, 10);
    byzgd_model_evaluate_arrays(large, &loss_b, &accuracy_b, params, x, labels, 10);
    ASSERT_NEAR(loss_a, loss_b, 1e-5);
    ASSERT_NEAR(accuracy_a, accuracy_b, 1e-12);
    free(params);
    byzgd_model_destroy(&small);
    byzgd_model_destroy(&large);
}

// byzgd-simulate evaluates a test set in chunks on several threads, each with its own model,
// and adds the chunks' sums in order: the bits of one model going through all the chunks.
TEST(evaluate_chunks_apart_give_the_bits_of_one_pass)
{
    byzgd_model_spec_t spec = {
        .architecture = "mlp", .channels = 1, .height = 4, .width = 5, .class_count = 3};
    char error[256];
    byzgd_model_t *whole = byzgd_model_new(&spec, 4, error, sizeof error);
    byzgd_model_t *apart[2] = {byzgd_model_new(&spec, 4, error, sizeof error),
                               byzgd_model_new(&spec, 4, error, sizeof error)};
    ASSERT(whole && apart[0] && apart[1]);
    size_t d = byzgd_model_dimension(whole);
    float *params = malloc(d * sizeof *params);
    ASSERT(params);
    byzgd_model_init(whole, params, 7);
    enum { COUNT = 11 }; // chunks of 4, 4 and 3
    float x[COUNT * 20];
    uint8_t labels[COUNT];
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 4, 1);
    s_fill_gaussian(x, COUNT * 20, &rng, 1.0);
    for (int i = 0; i < COUNT; i++)
        labels[i] = (uint8_t)byzgd_rng_below(&rng, 3);
    double loss, accuracy;
    byzgd_model_evaluate_arrays(whole, &loss, &accuracy, params, x, labels, COUNT);
    double chunk_loss[3] = {0};
    size_t chunk_correct[3] = {0};
    for (int chunk = 2; chunk >= 0; chunk--) { // out of order, alternating models
        size_t first = (size_t)chunk * 4, count = COUNT - first < 4 ? COUNT - first : 4;
        byzgd_model_evaluate_add(apart[chunk % 2], &chunk_loss[chunk], &chunk_correct[chunk],
                                 params, x + first * 20, labels + first, count);
    }
    double loss_sum = 0;
    size_t correct = 0;
    for (int chunk = 0; chunk < 3; chunk++) {
        loss_sum += chunk_loss[chunk];
        correct += chunk_correct[chunk];
    }
    ASSERT_MSG(loss_sum / COUNT == loss, "%.17g != %.17g", loss_sum / COUNT, loss);
    ASSERT_MSG((double)correct / COUNT == accuracy, "accuracy %g != %g", (double)correct / COUNT,
               accuracy);
    ASSERT(loss > 0 && isfinite(loss));
    free(params);
    byzgd_model_destroy(&whole);
    byzgd_model_destroy(&apart[0]);
    byzgd_model_destroy(&apart[1]);
}

// ---- parameter files

static void
s_write_bytes(const char *path, const void *data, size_t size)
{
    FILE *file = fopen(path, "wb");
    ASSERT(file);
    ASSERT_EQ_INT(fwrite(data, 1, size, file), size);
    fclose(file);
}

static uint8_t *
s_read_bytes(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    ASSERT(file);
    fseek(file, 0, SEEK_END);
    *size = (size_t)ftell(file);
    fseek(file, 0, SEEK_SET);
    uint8_t *data = malloc(*size + 1);
    ASSERT_EQ_INT(fread(data, 1, *size, file), *size);
    fclose(file);
    return data;
}

// Writes `image` (possibly altered) to a file, tries to load it, expects a refusal whose
// message contains `why`, and checks params stayed untouched.
static void
s_expect_refusal(byzgd_model_t *model, const uint8_t *image, size_t size, const char *why)
{
    char path[512];
    snprintf(path, sizeof path, "%s/altered.params", byzgd_test_tmpdir());
    s_write_bytes(path, image, size);
    size_t d = byzgd_model_dimension(model);
    float *params = malloc(d * sizeof *params);
    for (size_t i = 0; i < d; i++)
        params[i] = 7.0f;
    char error[512] = "";
    ASSERT_EQ_INT(byzgd_param_file_load(path, byzgd_model_description(model), params,
                                        byzgd_model_dimension(model), error, sizeof error),
                  -1);
    ASSERT_STR_CONTAINS(error, why);
    for (size_t i = 0; i < d; i++)
        ASSERT(params[i] == 7.0f);
    free(params);
}

TEST(params_file_round_trip_and_refusals)
{
    byzgd_model_t *model = s_tiny_model("mlp");
    size_t d = byzgd_model_dimension(model);
    float *params = malloc(d * sizeof *params), *loaded = malloc(d * sizeof *loaded);
    byzgd_model_init(model, params, 9);
    params[0] = -0.0f;
    params[1] = 1e-40f; // a denormal survives
    char path[512], error[512] = "";
    snprintf(path, sizeof path, "%s/model.params", byzgd_test_tmpdir());
    ASSERT_MSG(byzgd_param_file_save(path, byzgd_model_description(model), params,
                                     byzgd_model_dimension(model), error, sizeof error) == 0,
               "%s", error);
    ASSERT_MSG(byzgd_param_file_load(path, byzgd_model_description(model), loaded,
                                     byzgd_model_dimension(model), error, sizeof error) == 0,
               "%s", error);
    ASSERT(memcmp(params, loaded, d * sizeof *params) == 0);

    size_t size;
    uint8_t *image = s_read_bytes(path, &size);
    size_t description = strlen(byzgd_model_description(model));
    ASSERT_EQ_INT(size, 28 + description + 4 * d);

    uint8_t *altered = malloc(size + 1);
    memcpy(altered, image, size);
    altered[0] = 'X';
    s_expect_refusal(model, altered, size, "wrong magic");

    memcpy(altered, image, size);
    altered[8] = 2;
    s_expect_refusal(model, altered, size, "version 2");

    memcpy(altered, image, size);
    altered[16 + 4] = '9'; // "mlp 1x28..." → "mlp 9x..." another architecture
    s_expect_refusal(model, altered, size, "wrong architecture");

    memcpy(altered, image, size);
    altered[16 + description] ^= 1; // d
    s_expect_refusal(model, altered, size, "d mismatch");

    memcpy(altered, image, size);
    altered[size - 3] ^= 0x40; // one parameter bit
    s_expect_refusal(model, altered, size, "checksum mismatch");

    s_expect_refusal(model, image, size - 5, "truncated");
    s_expect_refusal(model, image, 10, "truncated header");

    memcpy(altered, image, size);
    altered[size] = 0;
    s_expect_refusal(model, altered, size + 1, "trailing bytes");

    // A file from a different model is refused by name.
    byzgd_model_t *other = s_tiny_model("logreg");
    s_expect_refusal(other, image, size, "this model is \"logreg");
    byzgd_model_destroy(&other);

    ASSERT_EQ_INT(byzgd_param_file_load("/nonexistent/x.params", byzgd_model_description(model),
                                        loaded, byzgd_model_dimension(model), error, sizeof error),
                  -1);
    ASSERT_STR_CONTAINS(error, "No such file");
    free(altered);
    free(image);
    free(params);
    free(loaded);
    byzgd_model_destroy(&model);
}

// ---- learning-rate schedules

TEST(lr_schedules)
{
    byzgd_lr_schedule_t schedule;
    char error[256], text[64];
    ASSERT_EQ_INT(byzgd_lr_schedule_parse(&schedule, "constant", 0.1, error, sizeof error), 0);
    ASSERT_NEAR(byzgd_lr_schedule_rate(&schedule, 1), 0.1, 0);
    ASSERT_NEAR(byzgd_lr_schedule_rate(&schedule, 5000), 0.1, 0);
    ASSERT_EQ_INT(byzgd_lr_schedule_parse(&schedule, "inv-sqrt", 0.5, error, sizeof error), 0);
    ASSERT_NEAR(byzgd_lr_schedule_rate(&schedule, 1), 0.5, 1e-15);
    ASSERT_NEAR(byzgd_lr_schedule_rate(&schedule, 4), 0.25, 1e-15);
    ASSERT_NEAR(byzgd_lr_schedule_rate(&schedule, 0), 0.5, 1e-15);
    ASSERT_STR_EQ(byzgd_lr_schedule_format(&schedule, text, sizeof text), "inv-sqrt");
    ASSERT_EQ_INT(byzgd_lr_schedule_parse(&schedule, "step:1000:0.5", 0.2, error, sizeof error), 0);
    ASSERT_NEAR(byzgd_lr_schedule_rate(&schedule, 1), 0.2, 1e-15);
    ASSERT_NEAR(byzgd_lr_schedule_rate(&schedule, 1000), 0.2, 1e-15);
    ASSERT_NEAR(byzgd_lr_schedule_rate(&schedule, 1001), 0.1, 1e-15);
    ASSERT_NEAR(byzgd_lr_schedule_rate(&schedule, 3001), 0.025, 1e-15);
    ASSERT_STR_EQ(byzgd_lr_schedule_format(&schedule, text, sizeof text), "step:1000:0.5");

    const char *bad[] = {"step:0:0.5", "step:10:1.5",  "step:10",    "step:x:0.5",
                         "linear",     "step:10:0.5x", "step:-3:0.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        schedule.kind = BYZGD_LR_CONSTANT;
        ASSERT_MSG(byzgd_lr_schedule_parse(&schedule, bad[i], 0.1, error, sizeof error) == -1,
                   "accepted %s", bad[i]);
        ASSERT_STR_CONTAINS(error, "step:EVERY:FACTOR");
        ASSERT_EQ_INT(schedule.kind, BYZGD_LR_CONSTANT);
    }
    ASSERT_EQ_INT(byzgd_lr_schedule_parse(&schedule, "constant", 0.0, error, sizeof error), -1);
    ASSERT_STR_CONTAINS(error, "must be positive");
}

static const byzgd_test_case_t cases[] = {
    TEST_CASE(dense_gradient),
    TEST_CASE(dense_forward_values),
    TEST_CASE(dense_backward_gives_the_bits_of_sgemm_with_beta_zero),
    TEST_CASE(relu_gradient),
    TEST_CASE(conv2d_shape),
    TEST_CASE(conv2d_gradient_stride1_pad1),
    TEST_CASE(conv2d_gradient_stride2_pad1_channel_major),
    TEST_CASE(conv2d_gradient_stride2_pad0_chunked),
    TEST_CASE(conv2d_gradient_stride1_pad2_chunked_channel_major),
    TEST_CASE(maxpool_gradient_odd_size),
    TEST_CASE(flatten_gradient_and_order),
    TEST_CASE(softmax_cross_entropy_gradient),
    TEST_CASE(logreg_gradient),
    TEST_CASE(mlp_gradient),
    TEST_CASE(convnet_gradient),
    TEST_CASE(convnet_gradient_three_threads),
    TEST_CASE(threads_agree_with_one_thread),
    TEST_CASE(dimensions_of_the_documented_architectures),
    TEST_CASE(model_new_refuses_bad_specs),
    TEST_CASE(determinism_for_a_fixed_seed),
    TEST_CASE(mlp_loss_falls_on_synthetic_data),
    TEST_CASE(evaluate_in_batches_matches_one_batch),
    TEST_CASE(evaluate_chunks_apart_give_the_bits_of_one_pass),
    TEST_CASE(params_file_round_trip_and_refusals),
    TEST_CASE(lr_schedules),
};
BYZGD_TEST_MAIN(cases)
