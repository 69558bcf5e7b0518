/*  dataset_private.h — helpers shared by the dataset sources (dataset*.c only). */
#ifndef BYZGD_DATASET_PRIVATE_H
#define BYZGD_DATASET_PRIVATE_H

#include "dataset.h"

// Reads a whole file into a malloc'ed buffer; refuses files above max_size bytes.
// Returns 0, or -1 with a message naming the file.
int byzgd_dataset_read_file(uint8_t **data_out, size_t *size_out, const char *path, size_t max_size,
                            char *error, size_t error_size);

// A new dataset holding copies of full's examples indices[0 .. count), in that order.
byzgd_dataset_t *byzgd_dataset_select(const byzgd_dataset_t *full, const size_t *indices,
                                      size_t count);

// The per-source loaders behind byzgd_dataset_load(); options is never NULL.
byzgd_dataset_t *byzgd_dataset_load_idx(const char *name, const byzgd_dataset_options_t *options,
                                        char *error, size_t error_size);
byzgd_dataset_t *byzgd_dataset_load_spam(const byzgd_dataset_options_t *options, char *error,
                                         size_t error_size);
byzgd_dataset_t *byzgd_dataset_load_synthetic(const byzgd_dataset_options_t *options, char *error,
                                              size_t error_size);

#endif
