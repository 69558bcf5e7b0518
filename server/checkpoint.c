/*  checkpoint.c — atomic save (tmp + fsync + rename + directory fsync) and checked load. */
#include "checkpoint.h"
#include "support/bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "support/log.h"

#define S_MAGIC   "BYZGDCKP"
#define S_VERSION 2u
// Version 1 ended after the CRC; version 2 adds the elapsed time.
#define S_HEADER_V1_SIZE (8 + 4 + 4 + 8 + 8 + 8 + 4)
#define S_HEADER_SIZE    (S_HEADER_V1_SIZE + 8)

// CRC-32 of a large buffer (zlib's length argument is a uInt).
static uint32_t
s_crc(const void *data, size_t size)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    const Bytef *bytes = data;
    while (size > 0) {
        uInt chunk = size > (1u << 30) ? (1u << 30) : (uInt)size;
        crc = crc32(crc, bytes, chunk);
        bytes += chunk;
        size -= chunk;
    }
    return (uint32_t)crc;
}

static int
s_write_all(int fd, const void *data, size_t size)
{
    const uint8_t *bytes = data;
    while (size > 0) {
        ssize_t written = write(fd, bytes, size);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            return -1;
        bytes += written;
        size -= (size_t)written;
    }
    return 0;
}

int
byzgd_checkpoint_save(const char *path, const byzgd_checkpoint_info_t *info, const float *params,
                      size_t d, char *error, size_t error_size)
{
    char tmp_path[PATH_MAX];
    if (snprintf(tmp_path, sizeof tmp_path, "%s.tmp", path) >= (int)sizeof tmp_path)
        return byzgd_set_error(error, error_size, "checkpoint path too long: %s", path);
    size_t description_size = strlen(info->description);
    uint8_t header[S_HEADER_SIZE];
    memcpy(header, S_MAGIC, 8);
    byzgd_le_put_u32(header + 8, S_VERSION);
    byzgd_le_put_u32(header + 12, (uint32_t)description_size);
    byzgd_le_put_u64(header + 16, info->round);
    byzgd_le_put_u64(header + 24, info->seed);
    byzgd_le_put_u64(header + 32, d);
    byzgd_le_put_u32(header + 40, s_crc(params, d * sizeof *params));
    uint64_t elapsed_bits;
    memcpy(&elapsed_bits, &info->elapsed_s, sizeof elapsed_bits);
    byzgd_le_put_u64(header + 44, elapsed_bits);

    int fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return byzgd_set_error(error, error_size, "cannot write %s: %s", tmp_path, strerror(errno));
    // The parameters go as they are in memory: byzgd runs on little-endian hosts only.
    if (s_write_all(fd, header, sizeof header) != 0 ||
        s_write_all(fd, info->description, description_size) != 0 ||
        s_write_all(fd, params, d * sizeof *params) != 0 || fsync(fd) != 0) {
        byzgd_set_error(error, error_size, "cannot write %s: %s", tmp_path, strerror(errno));
        close(fd);
        unlink(tmp_path);
        return -1;
    }
    if (close(fd) != 0 || rename(tmp_path, path) != 0) {
        byzgd_set_error(error, error_size, "cannot install %s: %s", path, strerror(errno));
        unlink(tmp_path);
        return -1;
    }
    // The rename is durable only once the directory entry is on disk.
    char dir_path[PATH_MAX];
    snprintf(dir_path, sizeof dir_path, "%s", path);
    int dir_fd = open(dirname(dir_path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
        fsync(dir_fd);
        close(dir_fd);
    }
    return 0;
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
    if (s_crc(values, d * sizeof *values) != crc) {
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
