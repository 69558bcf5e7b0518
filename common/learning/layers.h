/*  layers.h — the numeric kernels the models are built of: each layer a forward/backward
    pair with its shapes in the comment. Outputs first, then const inputs, then sizes.
    No kernel allocates; scratch comes from the caller (the model owns it).

    Activation layouts. Dense layers and the loss work batch-major: x[B][n]. Convolutions
    write channel-major x[C][B][H][W] ("CBHW"), so one sgemm covers many examples without
    a transpose; a convolution reads either layout (batch-major NCHW input images, or the
    CBHW output of the previous convolution). ReLU and max-pooling do not care: they treat
    the data as planes. flatten turns CBHW into batch-major [B][C·H·W] (PyTorch's order). */
#ifndef BYZGD_LAYERS_H
#define BYZGD_LAYERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// ---- dense: y = x·Wᵀ + b
//
// threads: the kernels split their work into that many parts run by OpenMP, each calling a
// single-threaded sgemm (the model keeps OpenBLAS at one thread: its own spinning pool and
// OpenMP's fought over the cores and ran 5× slower). Results are deterministic for a given
// thread count.

// y[B][out] = x[B][in] · w[out][in]ᵀ + bias[out]
void byzgd_dense_forward(float *y, const float *x, const float *w, const float *bias, size_t batch,
                         size_t in, size_t out, int threads);

// dw[out][in] = dyᵀ·x, dbias[out] = Σ_b dy (both overwritten); dx[B][in] = dy·w when dx
// is not NULL (the first layer needs no input gradient).
void byzgd_dense_backward(float *dx, float *dw, float *dbias, const float *dy, const float *x,
                          const float *w, size_t batch, size_t in, size_t out, int threads);

// ---- ReLU: y = max(x, 0), any layout

// y[count] = max(x, 0)
void byzgd_relu_forward(float *y, const float *x, size_t count);

// dx[count] = dy where y > 0, else 0 (y is the forward output). dx may equal dy.
void byzgd_relu_backward(float *dx, const float *dy, const float *y, size_t count);

// ---- conv2d (im2col + sgemm)

typedef struct {
    size_t in_channels, in_height, in_width;
    size_t out_channels, kernel, stride, padding;
    size_t out_height, out_width; // filled by byzgd_conv2d_shape_init
} byzgd_conv2d_shape_t;

// Computes out_height/out_width = (in + 2·padding − kernel) / stride + 1. Returns -1 if
// the kernel does not fit or a size is zero.
int byzgd_conv2d_shape_init(byzgd_conv2d_shape_t *shape);

// Floats of im2col scratch needed for one example: (in_channels·k·k) × (out_h·out_w).
size_t byzgd_conv2d_col_per_example(const byzgd_conv2d_shape_t *shape);

// y[Cout][B][Ho][Wo] = w[Cout][Cin][k][k] ⊛ x + bias[Cout]. x is batch-major
// x[B][Cin][H][W] when input_batch_major, else x[Cin][B][H][W]. The batch is split into
// `threads` contiguous parts; each part uses col_capacity / threads floats of the scratch
// col (at least one example's worth) and runs its examples through sgemm in chunks that fit.
void byzgd_conv2d_forward(float *y, float *col, const float *x, const float *w, const float *bias,
                          const byzgd_conv2d_shape_t *shape, size_t batch, bool input_batch_major,
                          size_t col_capacity, int threads);

// dw[Cout][Cin][k][k] and dbias[Cout] overwritten with the gradients; dx (same layout as x,
// overwritten) when not NULL. dy[Cout][B][Ho][Wo]. col as in forward; partial is scratch of
// threads × Cout·Cin·k·k floats for the per-part weight gradients, summed in part order.
void byzgd_conv2d_backward(float *dx, float *dw, float *dbias, float *col, float *partial,
                           const float *dy, const float *x, const float *w,
                           const byzgd_conv2d_shape_t *shape, size_t batch, bool input_batch_major,
                           size_t col_capacity, int threads);

// ---- 2×2 max-pooling, stride 2 (odd trailing rows/columns are dropped, as in PyTorch)

// y[planes][H/2][W/2] = max over each 2×2 window of x[planes][H][W]; argmax[planes][H/2][W/2]
// records the winning position (0..3, first maximum wins) for backward.
void byzgd_maxpool2_forward(float *y, uint8_t *argmax, const float *x, size_t planes, size_t height,
                            size_t width, int threads);

// dx[planes][H][W] (overwritten) receives dy at each window's argmax, zero elsewhere.
void byzgd_maxpool2_backward(float *dx, const float *dy, const uint8_t *argmax, size_t planes,
                             size_t height, size_t width, int threads);

// ---- flatten: CBHW → batch-major

// y[B][C·plane] = x[C][B][plane] (plane = H·W)
void byzgd_flatten_forward(float *y, const float *x, size_t channels, size_t batch, size_t plane);

// dx[C][B][plane] = dy[B][C·plane]
void byzgd_flatten_backward(float *dx, const float *dy, size_t channels, size_t batch,
                            size_t plane);

// ---- softmax cross-entropy

// Mean over the batch of −log softmax(logits[b])[labels[b]], accumulated in double; when
// dlogits is not NULL, dlogits[B][classes] = (softmax − onehot) / B (the gradient of the
// mean). labels must be < classes.
double byzgd_softmax_cross_entropy(float *dlogits, const float *logits, const uint8_t *labels,
                                   size_t batch, size_t classes);

// predictions[B] = argmax of logits[b] (first maximum wins).
void byzgd_argmax_rows(uint8_t *predictions, const float *logits, size_t batch, size_t classes);

#endif
