/*  param_file.h — parameter files: a model's d float32 parameters with the description of
    the architecture they belong to, written by byzgd-train --save and read by --load.

    The file is a header (magic, version, description, d, CRC-32 of the data) and the floats
    in little-endian; it is written atomically and durably (files.h). A server checkpoint
    (server/checkpoint.h) is a separate format because it is run state, not a model: it
    also records the round and the run's seed, and only the run that wrote it may resume
    from it, while a parameter file can start any run of the same architecture.

    byzgd_param_file_save(path, byzgd_model_description(model), params, d, error, size);
    byzgd_param_file_load(path, byzgd_model_description(model), params, d, error, size); */
#ifndef BYZGD_PARAM_FILE_H
#define BYZGD_PARAM_FILE_H

#include <stddef.h>

// Saves params[d] under `description` (1 to 95 bytes). Returns 0, or -1 with a message.
int byzgd_param_file_save(const char *path, const char *description, const float *params, size_t d,
                          char *error, size_t error_size);

// Loads params[d] from a file saved with the same description and d. Refuses, with a
// message saying why, a wrong magic or version, another architecture, a different d, a
// truncated or overlong file, or a checksum mismatch; params is untouched then.
// Returns 0 or -1.
int byzgd_param_file_load(const char *path, const char *description, float *params, size_t d,
                          char *error, size_t error_size);

#endif
