/*  param_file.c — the parameter file format of param_file.h.

    offset 0   8 bytes  magic "BYZGDPRM"
           8   u32      format version (1)
           12  u32      L, length of the model description (1 .. 95)
           16  L bytes  the description (the model's, byzgd_model_description), no terminator
           16+L u64     d
           24+L u32     CRC-32 (zlib) of the data bytes
           28+L d × f32 parameters
    All integers and floats little-endian. */
#include "param_file.h"
#include "bytes.h"
#include "files.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char s_magic[8] = {'B', 'Y', 'Z', 'G', 'D', 'P', 'R', 'M'};
#define S_FORMAT_VERSION 1u

// Parameters as little-endian bytes (a plain copy on little-endian hosts).
static void
s_floats_to_bytes(uint8_t *out, const float *values, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, &values[i], sizeof bits);
        byzgd_le_put_u32(out + 4 * i, bits);
    }
}

static void
s_bytes_to_floats(float *out, const uint8_t *bytes, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        uint32_t bits = byzgd_le_get_u32(bytes + 4 * i);
        memcpy(&out[i], &bits, sizeof bits);
    }
}

#define S_DESCRIPTION_MAX 96

int
byzgd_param_file_save(const char *path, const char *description, const float *params, size_t d,
                      char *error, size_t error_size)
{
    size_t description_size = strlen(description);
    if (description_size == 0 || description_size >= S_DESCRIPTION_MAX)
        return byzgd_set_error(error, error_size, "%s: description of %zu bytes (1 .. %d)", path,
                               description_size, S_DESCRIPTION_MAX - 1);
    size_t data_size = d * 4;
    size_t header_size = 28 + description_size;
    uint8_t *image = malloc(header_size + data_size);
    if (!image)
        return byzgd_set_error(error, error_size, "%s: out of memory", path);
    memcpy(image, s_magic, 8);
    byzgd_le_put_u32(image + 8, S_FORMAT_VERSION);
    byzgd_le_put_u32(image + 12, (uint32_t)description_size);
    // The format stores the description without a terminator.
    // NOLINTNEXTLINE(bugprone-not-null-terminated-result)
    memcpy(image + 16, description, description_size);
    byzgd_le_put_u64(image + 16 + description_size, d);
    s_floats_to_bytes(image + header_size, params, d);
    byzgd_le_put_u32(image + 24 + description_size, byzgd_crc32(image + header_size, data_size));
    int rc = byzgd_atomic_write(path, 0644, image, header_size + data_size, error, error_size);
    free(image);
    return rc;
}

int
byzgd_param_file_load(const char *path, const char *description_expected, float *params, size_t d,
                      char *error, size_t error_size)
{
    int rc = -1;
    uint8_t *data = NULL;
    FILE *file = fopen(path, "rb");
    if (!file)
        return byzgd_set_error(error, error_size, "%s: %s", path, strerror(errno));
    uint8_t header[16];
    size_t got = fread(header, 1, sizeof header, file);
    if (got >= 8 && memcmp(header, s_magic, 8) != 0) {
        byzgd_set_error(error, error_size, "%s: not a byzgd parameter file (wrong magic)", path);
        goto cleanup;
    }
    if (got < sizeof header) {
        byzgd_set_error(error, error_size, "%s: truncated header (%zu bytes)", path, got);
        goto cleanup;
    }
    uint32_t version = byzgd_le_get_u32(header + 8);
    if (version != S_FORMAT_VERSION) {
        byzgd_set_error(error, error_size,
                        "%s: parameter file version %u, this build reads version %u", path, version,
                        S_FORMAT_VERSION);
        goto cleanup;
    }
    uint32_t description_size = byzgd_le_get_u32(header + 12);
    char description[S_DESCRIPTION_MAX];
    uint8_t tail[12];
    if (description_size == 0 || description_size >= sizeof description) {
        byzgd_set_error(error, error_size, "%s: corrupt header (description length %u)", path,
                        description_size);
        goto cleanup;
    }
    if (fread(description, 1, description_size, file) != description_size ||
        fread(tail, 1, sizeof tail, file) != sizeof tail) {
        byzgd_set_error(error, error_size, "%s: truncated header", path);
        goto cleanup;
    }
    description[description_size] = '\0';
    if (strcmp(description, description_expected) != 0) {
        byzgd_set_error(error, error_size,
                        "%s: wrong architecture: the file holds \"%s\", this model is \"%s\"", path,
                        description, description_expected);
        goto cleanup;
    }
    uint64_t dimension = byzgd_le_get_u64(tail);
    if (dimension != d) {
        byzgd_set_error(error, error_size,
                        "%s: d mismatch: the file holds %llu parameters, the model has %zu", path,
                        (unsigned long long)dimension, d);
        goto cleanup;
    }
    uint32_t expected_crc = byzgd_le_get_u32(tail + 8);
    size_t data_size = d * 4;
    data = malloc(data_size ? data_size : 1);
    if (!data) {
        byzgd_set_error(error, error_size, "%s: out of memory", path);
        goto cleanup;
    }
    got = fread(data, 1, data_size, file);
    if (got != data_size) {
        byzgd_set_error(error, error_size, "%s: truncated: %zu of %zu data bytes", path, got,
                        data_size);
        goto cleanup;
    }
    if (fgetc(file) != EOF) {
        byzgd_set_error(error, error_size, "%s: trailing bytes after the %zu parameters", path, d);
        goto cleanup;
    }
    uint32_t crc = byzgd_crc32(data, data_size);
    if (crc != expected_crc) {
        byzgd_set_error(error, error_size,
                        "%s: checksum mismatch (CRC-32 %08x, header says %08x): file corrupted",
                        path, crc, expected_crc);
        goto cleanup;
    }
    s_bytes_to_floats(params, data, d);
    rc = 0;
cleanup:
    free(data);
    fclose(file);
    return rc;
}
