/*  layers.c — forward/backward kernels: dense and conv2d through OpenBLAS sgemm, ReLU,
    2×2 max-pooling, flatten, softmax cross-entropy. Reductions that feed the loss are in
    double; everything that travels stays float32. */
#include "layers.h"

#include <assert.h>
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <string.h>

// Part t of `count` items split into `parts` contiguous ranges: [*first, *first + *size).
static void
s_part(size_t *first, size_t *size, size_t count, size_t parts, size_t t)
{
    size_t begin = count * t / parts, end = count * (t + 1) / parts;
    *first = begin;
    *size = end - begin;
}

// Splitting a small product costs more than it saves: below this many multiply-adds a
// dense kernel runs on one thread.
#define S_DENSE_PARALLEL_MIN ((size_t)1 << 24)

static int
s_dense_threads(size_t batch, size_t in, size_t out, int threads)
{
    return batch * in * out >= S_DENSE_PARALLEL_MIN ? threads : 1;
}

// C[m][n] (row stride ldc) = A·B, what cblas_sgemm computes with alpha 1 and beta 0: C is
// zeroed here and accumulated with beta 1. OpenBLAS's beta = 0 pass zeroes C one element at
// a time (a 128 × 784 weight gradient of a batch of 16: 86–94 µs against 57–74 µs this
// way); its kernel adds the same products to the same zeros either way: the same bits.
static void
s_sgemm_overwrite(CBLAS_TRANSPOSE transpose_a, CBLAS_TRANSPOSE transpose_b, size_t m, size_t n,
                  size_t k, const float *a, size_t lda, const float *b, size_t ldb, float *c,
                  size_t ldc)
{
    if (ldc == n)
        memset(c, 0, m * n * sizeof *c);
    else
        for (size_t row = 0; row < m; row++)
            memset(c + row * ldc, 0, n * sizeof *c);
    cblas_sgemm(CblasRowMajor, transpose_a, transpose_b, (int)m, (int)n, (int)k, 1.0f, a, (int)lda,
                b, (int)ldb, 1.0f, c, (int)ldc);
}

// ---- dense

void
byzgd_dense_forward(float *y, const float *x, const float *w, const float *bias, size_t batch,
                    size_t in, size_t out, int threads)
{
    const int parts = s_dense_threads(batch, in, out, threads);
#pragma omp parallel for num_threads(parts) if (parts > 1) schedule(static, 1)
    for (int t = 0; t < parts; t++) {
        size_t first, rows;
        s_part(&first, &rows, batch, (size_t)parts, (size_t)t);
        if (!rows)
            continue;
        for (size_t b = first; b < first + rows; b++)
            memcpy(y + b * out, bias, out * sizeof *y);
        // y[rows][out] += x[rows][in] · w[out][in]ᵀ
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)out, (int)in, 1.0f,
                    x + first * in, (int)in, w, (int)in, 1.0f, y + first * out, (int)out);
    }
}

void
byzgd_dense_backward(float *dx, float *dw, float *dbias, const float *dy, const float *x,
                     const float *w, size_t batch, size_t in, size_t out, int threads)
{
    const int parts = s_dense_threads(batch, in, out, threads);
#pragma omp parallel for num_threads(parts) if (parts > 1) schedule(static, 1)
    for (int t = 0; t < parts; t++) {
        // Weight gradient split by output rows: no reduction across threads.
        size_t first, rows;
        s_part(&first, &rows, out, (size_t)parts, (size_t)t);
        if (rows) {
            // dw[rows][in] = dy[B][first .. first+rows)ᵀ · x[B][in]
            s_sgemm_overwrite(CblasTrans, CblasNoTrans, rows, in, batch, dy + first, out, x, in,
                              dw + first * in, in);
            for (size_t o = first; o < first + rows; o++) {
                float sum = 0.0f;
                for (size_t b = 0; b < batch; b++)
                    sum += dy[b * out + o];
                dbias[o] = sum;
            }
        }
        if (!dx)
            continue;
        // Input gradient split by examples: dx[rows][in] = dy[rows][out] · w[out][in]
        s_part(&first, &rows, batch, (size_t)parts, (size_t)t);
        if (rows)
            s_sgemm_overwrite(CblasNoTrans, CblasNoTrans, rows, in, out, dy + first * out, out, w,
                              in, dx + first * in, in);
    }
}

// ---- ReLU

void
byzgd_relu_forward(float *y, const float *x, size_t count)
{
    for (size_t i = 0; i < count; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void
byzgd_relu_backward(float *dx, const float *dy, const float *y, size_t count)
{
    for (size_t i = 0; i < count; i++)
        dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

// ---- conv2d

int
byzgd_conv2d_shape_init(byzgd_conv2d_shape_t *shape)
{
    if (!shape->in_channels || !shape->in_height || !shape->in_width || !shape->out_channels ||
        !shape->kernel || !shape->stride)
        return -1;
    size_t padded_h = shape->in_height + 2 * shape->padding;
    size_t padded_w = shape->in_width + 2 * shape->padding;
    if (shape->kernel > padded_h || shape->kernel > padded_w)
        return -1;
    shape->out_height = (padded_h - shape->kernel) / shape->stride + 1;
    shape->out_width = (padded_w - shape->kernel) / shape->stride + 1;
    return 0;
}

size_t
byzgd_conv2d_col_per_example(const byzgd_conv2d_shape_t *shape)
{
    return shape->in_channels * shape->kernel * shape->kernel * shape->out_height *
           shape->out_width;
}

// Where example b, channel c starts in x, for either input layout.
typedef struct {
    size_t channel_stride, example_stride;
} s_layout_t;

static s_layout_t
s_layout(const byzgd_conv2d_shape_t *shape, size_t batch, bool input_batch_major)
{
    size_t plane = shape->in_height * shape->in_width;
    if (input_batch_major)
        return (s_layout_t){plane, shape->in_channels * plane};
    return (s_layout_t){batch * plane, plane};
}

// The output columns ow whose input column ow·s + kj − p lies inside [0, width):
// [*low, *high).
static void
s_valid_columns(size_t *low, size_t *high, size_t kj, const byzgd_conv2d_shape_t *shape)
{
    const size_t stride = shape->stride, padding = shape->padding, wo = shape->out_width;
    size_t lo = padding > kj ? (padding - kj + stride - 1) / stride : 0;
    size_t limit = shape->in_width + padding; // ow·s + kj < limit
    size_t hi = limit > kj ? (limit - kj + stride - 1) / stride : 0;
    hi = hi < wo ? hi : wo;
    *low = lo < hi ? lo : hi;
    *high = hi;
}

// Stride 1 and padding (k − 1)/2: the output plane has the input's size, so the valid
// part of an im2col row is the input plane shifted by a constant — one block copy instead
// of a loop per image row (im2col was 20 % of a convnet step).
static bool
s_same_size(const byzgd_conv2d_shape_t *shape)
{
    return shape->stride == 1 && 2 * shape->padding + 1 == shape->kernel;
}

// Output rows oh whose input row oh + ki − p lies inside the image: [*low, *high).
static void
s_valid_rows_same(size_t *low, size_t *high, size_t ki, const byzgd_conv2d_shape_t *shape)
{
    const size_t padding = shape->padding, height = shape->in_height;
    *low = padding > ki ? padding - ki : 0;
    *high = height + padding - ki < height ? height + padding - ki : height;
}

// Zeroes columns [0, low) and [high, width) of `rows` rows of `width` floats at block: the
// padding columns of a same-size im2col row.
static void
s_zero_outside_columns(float *block, size_t rows, size_t width, size_t low, size_t high)
{
    for (size_t row = 0; row < rows; row++) {
        float *line = block + row * width;
        for (size_t j = 0; j < low; j++)
            line[j] = 0.0f;
        for (size_t j = high; j < width; j++)
            line[j] = 0.0f;
    }
}

// One im2col row of one example for a same-size convolution: out[H·W] = the plane shifted
// by (ki − p) rows and `shift` columns, zero where that falls outside. Columns
// [low, high) of each row are the valid ones.
static void
s_im2col_same(float *out, const float *plane, const byzgd_conv2d_shape_t *shape, size_t ki,
              size_t low, size_t high, long shift)
{
    const size_t width = shape->in_width, height = shape->in_height;
    size_t row_low, row_high;
    s_valid_rows_same(&row_low, &row_high, ki, shape);
    memset(out, 0, row_low * width * sizeof *out);
    memset(out + row_high * width, 0, (height - row_high) * width * sizeof *out);
    if (row_high <= row_low)
        return;
    // Between the first valid element of the first row and the last valid element of the
    // last row, every output element reads the input at the same offset; the elements
    // that wrap across a row edge are padding and are zeroed after the copy.
    float *block = out + row_low * width;
    const long base = (long)((row_low + ki - shape->padding) * width) + shift; // ≥ −low
    size_t end = (row_high - row_low) * width - (width - high);
    memcpy(block + low, plane + base + (long)low, (end - low) * sizeof *out);
    s_zero_outside_columns(block, row_high - row_low, width, low, high);
}

// The adjoint of s_im2col_same: dx plane += the shifted block of in (an im2col row of one
// example). The entries of `in` at padding columns are zeroed first (they would otherwise
// land on the neighbouring row's edge); `in` is scratch.
static void
s_col2im_same(float *plane, float *in, const byzgd_conv2d_shape_t *shape, size_t ki, size_t low,
              size_t high, long shift)
{
    const size_t width = shape->in_width;
    size_t row_low, row_high;
    s_valid_rows_same(&row_low, &row_high, ki, shape);
    if (row_high <= row_low)
        return;
    float *block = in + row_low * width;
    s_zero_outside_columns(block, row_high - row_low, width, low, high);
    const long base = (long)((row_low + ki - shape->padding) * width) + shift; // ≥ −low
    size_t end = (row_high - row_low) * width - (width - high);
    float *target = plane + base + (long)low;
    const float *add = block + low;
    for (size_t i = 0; i < end - low; i++)
        target[i] += add[i];
}

// col[K][count·N] for examples first .. first+count−1, K = Cin·k·k, N = Ho·Wo:
// col[(c·k + ki)·k + kj][e·N + oh·Wo + ow] = x(c, first + e, oh·s + ki − p, ow·s + kj − p)
// (zero outside the image).
static void
s_im2col(float *col, const float *x, const byzgd_conv2d_shape_t *shape, s_layout_t layout,
         size_t first, size_t count)
{
    const size_t k = shape->kernel, stride = shape->stride;
    const size_t rows = shape->in_channels * k * k;
    const size_t ho = shape->out_height, wo = shape->out_width, n = ho * wo;
    const long height = (long)shape->in_height;
    const long padding = (long)shape->padding;
    for (size_t r = 0; r < rows; r++) {
        const size_t c = r / (k * k), ki = (r / k) % k, kj = r % k;
        size_t low, high;
        s_valid_columns(&low, &high, kj, shape);
        const long shift = (long)kj - padding; // input column = ow·s + shift
        for (size_t e = 0; e < count; e++) {
            const float *plane =
                x + c * layout.channel_stride + (first + e) * layout.example_stride;
            float *out = col + r * (count * n) + e * n;
            if (s_same_size(shape)) {
                s_im2col_same(out, plane, shape, ki, low, high, shift);
                continue;
            }
            for (size_t oh = 0; oh < ho; oh++) {
                long ih = (long)(oh * stride + ki) - padding;
                float *out_row = out + oh * wo;
                if (ih < 0 || ih >= height) {
                    memset(out_row, 0, wo * sizeof *out_row);
                    continue;
                }
                const float *in_row = plane + ih * (long)shape->in_width;
                for (size_t ow = 0; ow < low; ow++)
                    out_row[ow] = 0.0f;
                if (stride == 1) {
                    // Rows are short (28 floats here): an inline loop beats a memcpy call.
                    const float *from = in_row + (long)low + shift;
                    for (size_t i = 0; i < high - low; i++)
                        out_row[low + i] = from[i];
                } else
                    for (size_t ow = low; ow < high; ow++)
                        out_row[ow] = in_row[(long)(ow * stride) + shift];
                for (size_t ow = high; ow < wo; ow++)
                    out_row[ow] = 0.0f;
            }
        }
    }
}

// The adjoint of s_im2col: dx(c, first + e, ·, ·) += the col entries that read it.
static void
s_col2im(float *dx, float *col, const byzgd_conv2d_shape_t *shape, s_layout_t layout, size_t first,
         size_t count)
{
    const size_t k = shape->kernel, stride = shape->stride;
    const size_t ho = shape->out_height, wo = shape->out_width, n = ho * wo;
    const long height = (long)shape->in_height;
    const long padding = (long)shape->padding;
    for (size_t c = 0; c < shape->in_channels; c++) {
        for (size_t e = 0; e < count; e++) {
            float *plane = dx + c * layout.channel_stride + (first + e) * layout.example_stride;
            for (size_t ki = 0; ki < k; ki++) {
                for (size_t kj = 0; kj < k; kj++) {
                    const size_t r = (c * k + ki) * k + kj;
                    float *in = col + r * (count * n) + e * n;
                    size_t low, high;
                    s_valid_columns(&low, &high, kj, shape);
                    const long shift = (long)kj - padding;
                    if (s_same_size(shape)) {
                        s_col2im_same(plane, in, shape, ki, low, high, shift);
                        continue;
                    }
                    for (size_t oh = 0; oh < ho; oh++) {
                        long ih = (long)(oh * stride + ki) - padding;
                        if (ih < 0 || ih >= height)
                            continue;
                        float *row = plane + ih * (long)shape->in_width;
                        const float *in_row = in + oh * wo;
                        if (stride == 1) {
                            // Contiguous: a loop the compiler vectorises.
                            float *out = row + (long)low + shift;
                            const float *add = in_row + low;
                            for (size_t i = 0; i < high - low; i++)
                                out[i] += add[i];
                        } else {
                            for (size_t ow = low; ow < high; ow++)
                                row[(long)(ow * stride) + shift] += in_row[ow];
                        }
                    }
                }
            }
        }
    }
}

// One step of a conv pass: examples first .. first+count-1, already im2col'ed into col (the
// part's own slice); first_of_part says whether they open the part.
typedef void (*s_conv_step_fn)(void *context, int part, float *col, size_t first, size_t count,
                               bool first_of_part);

// Runs a conv pass over the batch: `threads` parts take contiguous shares of the examples,
// each in chunks that fit its slice of col (col_capacity / threads floats); every chunk is
// im2col'ed and handed to step. Forward and backward differ only in their step.
static void
s_conv_pass(float *col, const float *x, const byzgd_conv2d_shape_t *shape, size_t batch,
            bool input_batch_major, size_t col_capacity, int threads, s_conv_step_fn step,
            void *context)
{
    const size_t capacity = col_capacity / (size_t)threads;
    const size_t per_example = byzgd_conv2d_col_per_example(shape);
    assert(capacity >= per_example);
    const size_t chunk = capacity / per_example;
    const s_layout_t layout = s_layout(shape, batch, input_batch_major);
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static, 1)
    for (int t = 0; t < threads; t++) {
        size_t begin, size;
        s_part(&begin, &size, batch, (size_t)threads, (size_t)t);
        float *my_col = col + (size_t)t * capacity;
        for (size_t first = begin; first < begin + size; first += chunk) {
            size_t count = begin + size - first < chunk ? begin + size - first : chunk;
            s_im2col(my_col, x, shape, layout, first, count);
            step(context, t, my_col, first, count, first == begin);
        }
    }
}

typedef struct {
    float *y;
    const float *w, *bias;
    const byzgd_conv2d_shape_t *shape;
    size_t batch;
} s_conv_forward_t;

static void
s_conv_forward_step(void *context, int part, float *col, size_t first, size_t count,
                    bool first_of_part)
{
    (void)part;
    (void)first_of_part;
    const s_conv_forward_t *pass = context;
    const byzgd_conv2d_shape_t *shape = pass->shape;
    const size_t n = shape->out_height * shape->out_width;
    const size_t rows = shape->in_channels * shape->kernel * shape->kernel;
    // y[Cout][first .. first+count)[N] = w[Cout][K] · col[K][count·N]
    s_sgemm_overwrite(CblasNoTrans, CblasNoTrans, shape->out_channels, count * n, rows, pass->w,
                      rows, col, count * n, pass->y + first * n, pass->batch * n);
    for (size_t co = 0; co < shape->out_channels; co++) {
        float *row = pass->y + co * pass->batch * n + first * n;
        for (size_t i = 0; i < count * n; i++)
            row[i] += pass->bias[co];
    }
}

void
byzgd_conv2d_forward(float *y, float *col, const float *x, const float *w, const float *bias,
                     const byzgd_conv2d_shape_t *shape, size_t batch, bool input_batch_major,
                     size_t col_capacity, int threads)
{
    s_conv_forward_t pass = {y, w, bias, shape, batch};
    s_conv_pass(col, x, shape, batch, input_batch_major, col_capacity, threads, s_conv_forward_step,
                &pass);
}

typedef struct {
    float *dx, *partial;
    const float *dy, *w;
    const byzgd_conv2d_shape_t *shape;
    size_t batch;
    s_layout_t layout;
} s_conv_backward_t;

static void
s_conv_backward_step(void *context, int part, float *col, size_t first, size_t count,
                     bool first_of_part)
{
    const s_conv_backward_t *pass = context;
    const byzgd_conv2d_shape_t *shape = pass->shape;
    const size_t n = shape->out_height * shape->out_width;
    const size_t rows = shape->in_channels * shape->kernel * shape->kernel;
    float *my_dw = pass->partial + (size_t)part * shape->out_channels * rows;
    const float *dy = pass->dy + first * n;
    const int dy_stride = (int)(pass->batch * n);
    // dw_t[Cout][K] (+)= dy[Cout][count·N] · col[K][count·N]ᵀ
    if (first_of_part)
        s_sgemm_overwrite(CblasNoTrans, CblasTrans, shape->out_channels, rows, count * n, dy,
                          (size_t)dy_stride, col, count * n, my_dw, rows);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)shape->out_channels, (int)rows,
                    (int)(count * n), 1.0f, dy, dy_stride, col, (int)(count * n), 1.0f, my_dw,
                    (int)rows);
    if (!pass->dx)
        return;
    // These examples of dx, which col2im accumulates into.
    const size_t plane = shape->in_height * shape->in_width;
    for (size_t c = 0; c < shape->in_channels; c++)
        for (size_t e = first; e < first + count; e++)
            memset(pass->dx + c * pass->layout.channel_stride + e * pass->layout.example_stride, 0,
                   plane * sizeof *pass->dx);
    // dcol[K][count·N] = w[Cout][K]ᵀ · dy[Cout][count·N], reusing col.
    s_sgemm_overwrite(CblasTrans, CblasNoTrans, rows, count * n, shape->out_channels, pass->w, rows,
                      dy, (size_t)dy_stride, col, count * n);
    s_col2im(pass->dx, col, shape, pass->layout, first, count);
}

void
byzgd_conv2d_backward(float *dx, float *dw, float *dbias, float *col, float *partial,
                      const float *dy, const float *x, const float *w,
                      const byzgd_conv2d_shape_t *shape, size_t batch, bool input_batch_major,
                      size_t col_capacity, int threads)
{
    const size_t n = shape->out_height * shape->out_width;
    const size_t weights = shape->out_channels * shape->in_channels * shape->kernel * shape->kernel;
    // A part without examples (batch < threads) adds zeros to the sum below.
    memset(partial, 0, (size_t)threads * weights * sizeof *partial);
    s_conv_backward_t pass = {
        dx, partial, dy, w, shape, batch, s_layout(shape, batch, input_batch_major)};
    s_conv_pass(col, x, shape, batch, input_batch_major, col_capacity, threads,
                s_conv_backward_step, &pass);
    // Sum the parts in a fixed order, so a thread count gives one answer.
    for (size_t i = 0; i < weights; i++) {
        float sum = partial[i];
        for (int t = 1; t < threads; t++)
            sum += partial[(size_t)t * weights + i];
        dw[i] = sum;
    }
    for (size_t co = 0; co < shape->out_channels; co++) {
        const float *row = dy + co * batch * n;
        double sum = 0.0;
        for (size_t i = 0; i < batch * n; i++)
            sum += row[i];
        dbias[co] = (float)sum;
    }
}

// ---- max-pooling

void
byzgd_maxpool2_forward(float *y, uint8_t *argmax, const float *x, size_t planes, size_t height,
                       size_t width, int threads)
{
    const size_t ho = height / 2, wo = width / 2;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
    for (size_t p = 0; p < planes; p++) {
        const float *in = x + p * height * width;
        float *out = y + p * ho * wo;
        uint8_t *arg = argmax + p * ho * wo;
        for (size_t i = 0; i < ho; i++) {
            const float *top = in + 2 * i * width, *bottom = top + width;
            for (size_t j = 0; j < wo; j++) {
                float window[4] = {top[2 * j], top[2 * j + 1], bottom[2 * j], bottom[2 * j + 1]};
                uint8_t best = 0;
                for (uint8_t q = 1; q < 4; q++)
                    if (window[q] > window[best])
                        best = q;
                out[i * wo + j] = window[best];
                arg[i * wo + j] = best;
            }
        }
    }
}

void
byzgd_maxpool2_backward(float *dx, const float *dy, const uint8_t *argmax, size_t planes,
                        size_t height, size_t width, int threads)
{
    const size_t ho = height / 2, wo = width / 2;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
    for (size_t p = 0; p < planes; p++) {
        float *out = dx + p * height * width;
        const float *in = dy + p * ho * wo;
        const uint8_t *arg = argmax + p * ho * wo;
        memset(out, 0, height * width * sizeof *out);
        for (size_t i = 0; i < ho; i++)
            for (size_t j = 0; j < wo; j++) {
                size_t q = arg[i * wo + j];
                out[(2 * i + q / 2) * width + 2 * j + q % 2] = in[i * wo + j];
            }
    }
}

// ---- flatten

void
byzgd_flatten_forward(float *y, const float *x, size_t channels, size_t batch, size_t plane)
{
    for (size_t c = 0; c < channels; c++)
        for (size_t b = 0; b < batch; b++)
            memcpy(y + (b * channels + c) * plane, x + (c * batch + b) * plane, plane * sizeof *y);
}

void
byzgd_flatten_backward(float *dx, const float *dy, size_t channels, size_t batch, size_t plane)
{
    for (size_t c = 0; c < channels; c++)
        for (size_t b = 0; b < batch; b++)
            memcpy(dx + (c * batch + b) * plane, dy + (b * channels + c) * plane,
                   plane * sizeof *dx);
}

// ---- loss

double
byzgd_softmax_cross_entropy(float *dlogits, const float *logits, const uint8_t *labels,
                            size_t batch, size_t classes)
{
    double total = 0.0;
    for (size_t b = 0; b < batch; b++) {
        const float *z = logits + b * classes;
        assert(labels[b] < classes);
        size_t top = 0;
        for (size_t k = 1; k < classes; k++)
            top = z[k] > z[top] ? k : top;
        const double max = z[top];
        double sum = 1.0; // the top logit's term, exp(0): sum ≥ 1, so log(sum) ≥ 0
        for (size_t k = 0; k < classes; k++)
            if (k != top)
                sum += exp((double)z[k] - max);
        double log_sum = log(sum);
        total += log_sum - ((double)z[labels[b]] - max);
        if (!dlogits)
            continue;
        float *g = dlogits + b * classes;
        for (size_t k = 0; k < classes; k++) {
            double p = exp((double)z[k] - max - log_sum);
            g[k] = (float)((p - (k == labels[b])) / (double)batch);
        }
    }
    return batch ? total / (double)batch : 0.0;
}

void
byzgd_argmax_rows(uint8_t *predictions, const float *logits, size_t batch, size_t classes)
{
    for (size_t b = 0; b < batch; b++) {
        const float *z = logits + b * classes;
        size_t best = 0;
        for (size_t k = 1; k < classes; k++)
            if (z[k] > z[best])
                best = k;
        predictions[b] = (uint8_t)best;
    }
}
