/*  npy.h — NumPy .npy files (format versions 1.0, 2.0 and 3.0): reads a 2-D float32 or
    float64 C-order array into float32, writes float32 vectors and matrices. The reader
    decodes outside bytes: the header is validated strictly (magic, version, length,
    dictionary keys, dtype, order, shape, exact payload size) before any allocation. */
#ifndef BYZGD_NPY_H
#define BYZGD_NPY_H

#include <stddef.h>
#include <stdint.h>

// Decodes a whole .npy file held in memory: a 2-D array of '<f4' or '<f8' (little-endian
// float32/float64), fortran_order False. float64 values are rounded to float32 (values
// beyond float range become ±Inf). On success *data_out (malloc'd, rows*cols floats, owned
// by the caller) and the shape are set and 0 is returned; otherwise -1 with a message.
int byzgd_npy_decode_matrix(const uint8_t *bytes, size_t size, float **data_out, size_t *rows_out,
                            size_t *cols_out, char *error, size_t error_size);

// Reads a file with byzgd_npy_decode_matrix(). Returns 0, or -1 with a message.
int byzgd_npy_read_matrix(const char *path, float **data_out, size_t *rows_out, size_t *cols_out,
                          char *error, size_t error_size);

// Writes a float32 array of shape (count,) (vector) or (rows, cols) (matrix) in format 1.0.
// Writes to a temporary file beside `path` and renames it, so a failed write leaves no
// file. Returns 0, or -1 with a message.
int byzgd_npy_write_vector(const char *path, const float *data, size_t count, char *error,
                           size_t error_size);
int byzgd_npy_write_matrix(const char *path, const float *data, size_t rows, size_t cols,
                           char *error, size_t error_size);

#endif
