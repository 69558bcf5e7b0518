/*  checkpoint.c — atomic, durable save (support/files.h) and checked load. */
#include "checkpoint.h"
#include "support/bytes.h"
#include "support/files.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/log.h"

#define S_MAGIC   "BYZGDCKP"
#define S_VERSION 2u
// Version 1 ended after the CRC; version 2 adds the elapsed time.
#define S_HEADER_V1_SIZE (8 + 4 + 4 + 8 + 8 + 8 + 4)
#define S_HEADER_SIZE    (S_HEADER_V1_SIZE + 8)

int
byzgd_checkpoint_save(const char *path, const byzgd_checkpoint_info_t *info, const float *params,
                      size_t d, char *error, size_t error_size)
{
    size_t description_size = strlen(info->description);
    uint8_t header[S_HEADER_SIZE];
    memcpy(header, S_MAGIC, 8); // NOLINT(bugprone-not-null-terminated-result): 8 bytes, no NUL
    byzgd_le_put_u32(header + 8, S_VERSION);
    byzgd_le_put_u32(header + 12, (uint32_t)description_size);
    byzgd_le_put_u64(header + 16, info->round);
    byzgd_le_put_u64(header + 24, info->seed);
    byzgd_le_put_u64(header + 32, d);
    byzgd_le_put_u32(header + 40, byzgd_crc32(params, d * sizeof *params));
    uint64_t elapsed_bits;
    memcpy(&elapsed_bits, &info->elapsed_s, sizeof elapsed_bits);
    byzgd_le_put_u64(header + 44, elapsed_bits);
    byzgd_atomic_file_t *file = byzgd_atomic_file_open(path, 0644, error, error_size);
    if (!file)
        return -1;
    // The parameters go as they are in memory: byzgd runs on little-endian hosts only.
    byzgd_atomic_file_write(file, header, sizeof header);
    byzgd_atomic_file_write(file, info->description, description_size);
    byzgd_atomic_file_write(file, params, d * sizeof *params);
    return byzgd_atomic_file_commit(&file, error, error_size);
}

int
byzgd_checkpoint_load(const char *path, const byzgd_checkpoint_info_t *expected, float *params,
                      size_t d, uint64_t *round_out, double *elapsed_out, char *error,
                      size_t error_size)
{
    int status = -1;
    char *description = NULL;
    float *values = NULL;
    FILE *file = fopen(path, "rb");
    if (!file)
        return byzgd_set_error(error, error_size, "cannot open checkpoint %s: %s", path,
                               strerror(errno));
    uint8_t header[S_HEADER_SIZE] = {0};
    if (fread(header, 1, S_HEADER_V1_SIZE, file) != S_HEADER_V1_SIZE) {
        byzgd_set_error(error, error_size, "%s: truncated checkpoint header", path);
        goto cleanup;
    }
    if (memcmp(header, S_MAGIC, 8) != 0) {
        byzgd_set_error(error, error_size, "%s: not a byzgd checkpoint", path);
        goto cleanup;
    }
    uint32_t version = byzgd_le_get_u32(header + 8);
    if (version != 1 && version != S_VERSION) {
        byzgd_set_error(error, error_size, "%s: checkpoint version %u, expected 1 or %u", path,
                        version, S_VERSION);
        goto cleanup;
    }
    double elapsed_s = 0;
    if (version >= 2) {
        if (fread(header + S_HEADER_V1_SIZE, 1, 8, file) != 8) {
            byzgd_set_error(error, error_size, "%s: truncated checkpoint header", path);
            goto cleanup;
        }
        uint64_t elapsed_bits = byzgd_le_get_u64(header + 44);
        memcpy(&elapsed_s, &elapsed_bits, sizeof elapsed_s);
        if (!isfinite(elapsed_s) || elapsed_s < 0) {
            byzgd_set_error(error, error_size, "%s: corrupt checkpoint header", path);
            goto cleanup;
        }
    }
    uint32_t description_size = byzgd_le_get_u32(header + 12);
    if (description_size > 4096) {
        byzgd_set_error(error, error_size, "%s: corrupt checkpoint header", path);
        goto cleanup;
    }
    uint64_t round = byzgd_le_get_u64(header + 16), seed = byzgd_le_get_u64(header + 24);
    uint64_t file_d = byzgd_le_get_u64(header + 32);
    uint32_t crc = byzgd_le_get_u32(header + 40);
    description = calloc(1, description_size + 1);
    if (!description)
        abort();
    if (fread(description, 1, description_size, file) != description_size) {
        byzgd_set_error(error, error_size, "%s: truncated checkpoint", path);
        goto cleanup;
    }
    if (strcmp(description, expected->description) != 0) {
        byzgd_set_error(error, error_size, "%s: checkpoint of model \"%s\", this run is \"%s\"",
                        path, description, expected->description);
        goto cleanup;
    }
    if (seed != expected->seed) {
        byzgd_set_error(error, error_size,
                        "%s: checkpoint of a run with seed %llu, this run has seed %llu", path,
                        (unsigned long long)seed, (unsigned long long)expected->seed);
        goto cleanup;
    }
    if (file_d != d) {
        byzgd_set_error(error, error_size, "%s: checkpoint has d = %llu, model has d = %zu", path,
                        (unsigned long long)file_d, d);
        goto cleanup;
    }
    values = malloc(d * sizeof *values + 1);
    if (!values)
        abort();
    if (fread(values, sizeof *values, d, file) != d) {
        byzgd_set_error(error, error_size, "%s: truncated checkpoint", path);
        goto cleanup;
    }
    if (fgetc(file) != EOF) {
        byzgd_set_error(error, error_size, "%s: trailing bytes after the parameters", path);
        goto cleanup;
    }
    if (byzgd_crc32(values, d * sizeof *values) != crc) {
        byzgd_set_error(error, error_size, "%s: checksum mismatch", path);
        goto cleanup;
    }
    memcpy(params, values, d * sizeof *values);
    *round_out = round;
    if (elapsed_out)
        *elapsed_out = elapsed_s;
    status = 0;
cleanup:
    free(values);
    free(description);
    fclose(file);
    return status;
}
