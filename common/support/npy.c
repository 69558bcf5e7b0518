/*  npy.c — NumPy .npy reader and writer. The reader is a strict recogniser of the header
    NumPy writes: magic, version 1.0/2.0/3.0, header length within the file, a Python dict
    literal with exactly the keys descr, fortran_order and shape, terminated by '\n'; the
    payload size must match the shape exactly. Nothing is allocated before all of that is
    checked, and allocation is bounded by the input size. */
#include "npy.h"
#include "files.h"
#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c assumes a little-endian host"
#endif

#define MAX_DIMENSIONS 8

typedef struct {
    const char *text;
    size_t length, at;
} s_cursor_t;

static void
s_skip_spaces(s_cursor_t *c)
{
    while (c->at < c->length && (c->text[c->at] == ' ' || c->text[c->at] == '\t'))
        c->at++;
}

static bool
s_accept(s_cursor_t *c, char expected)
{
    s_skip_spaces(c);
    if (c->at < c->length && c->text[c->at] == expected) {
        c->at++;
        return true;
    }
    return false;
}

// A quoted string of at most `size - 1` printable characters, no escapes.
static bool
s_string(s_cursor_t *c, char *out, size_t size)
{
    s_skip_spaces(c);
    if (c->at >= c->length || (c->text[c->at] != '\'' && c->text[c->at] != '"'))
        return false;
    char quote = c->text[c->at++];
    size_t used = 0;
    while (c->at < c->length && c->text[c->at] != quote) {
        char ch = c->text[c->at++];
        if (ch < 0x20 || ch > 0x7e || ch == '\\' || used + 1 >= size)
            return false;
        out[used++] = ch;
    }
    if (c->at >= c->length)
        return false;
    c->at++;
    out[used] = '\0';
    return true;
}

static bool
s_word(s_cursor_t *c, const char *word)
{
    s_skip_spaces(c);
    size_t length = strlen(word);
    if (c->length - c->at < length || memcmp(c->text + c->at, word, length) != 0)
        return false;
    c->at += length;
    return true;
}

// A non-negative decimal integer below 2^62.
static bool
s_integer(s_cursor_t *c, uint64_t *out)
{
    s_skip_spaces(c);
    uint64_t value = 0;
    size_t digits = 0;
    while (c->at < c->length && c->text[c->at] >= '0' && c->text[c->at] <= '9') {
        value = value * 10 + (uint64_t)(c->text[c->at++] - '0');
        if (++digits > 18)
            return false;
    }
    *out = value;
    return digits > 0;
}

// A tuple of integers: (), (a,), (a, b), (a, b,) ...
static bool
s_shape(s_cursor_t *c, uint64_t *dims, size_t *count)
{
    *count = 0;
    if (!s_accept(c, '('))
        return false;
    if (s_accept(c, ')'))
        return true;
    for (;;) {
        if (*count == MAX_DIMENSIONS || !s_integer(c, &dims[*count]))
            return false;
        (*count)++;
        bool comma = s_accept(c, ',');
        if (s_accept(c, ')'))
            return *count > 1 || comma; // (3) is an integer, not a tuple
        if (!comma)
            return false;
    }
}

int
byzgd_npy_decode_matrix(const uint8_t *bytes, size_t size, float **data_out, size_t *rows_out,
                        size_t *cols_out, char *error, size_t error_size)
{
    *data_out = NULL;
    if (size < 10 || memcmp(bytes, "\x93NUMPY", 6) != 0)
        return byzgd_set_error(error, error_size, "not a .npy file (bad magic)");
    uint8_t major = bytes[6], minor = bytes[7];
    size_t prefix, header_length;
    if (major == 1 && minor == 0) {
        prefix = 10;
        header_length = (size_t)bytes[8] | (size_t)bytes[9] << 8;
    } else if ((major == 2 || major == 3) && minor == 0) {
        if (size < 12)
            return byzgd_set_error(error, error_size, ".npy file truncated in its header");
        prefix = 12;
        header_length = (size_t)bytes[8] | (size_t)bytes[9] << 8 | (size_t)bytes[10] << 16 |
                        (size_t)bytes[11] << 24;
    } else {
        return byzgd_set_error(error, error_size, "unsupported .npy version %u.%u", major, minor);
    }
    if (header_length > size - prefix)
        return byzgd_set_error(error, error_size, ".npy file truncated in its header");
    if (header_length == 0 || bytes[prefix + header_length - 1] != '\n')
        return byzgd_set_error(error, error_size, ".npy header does not end with a newline");

    s_cursor_t c = {(const char *)bytes + prefix, header_length - 1, 0};
    char descr[16] = "";
    int fortran = -1;
    uint64_t dims[MAX_DIMENSIONS];
    size_t dimension_count = 0;
    bool have_descr = false, have_shape = false;
    if (!s_accept(&c, '{'))
        return byzgd_set_error(error, error_size, ".npy header is not a dictionary");
    while (!s_accept(&c, '}')) {
        char key[32];
        if (!s_string(&c, key, sizeof key) || !s_accept(&c, ':'))
            return byzgd_set_error(error, error_size, ".npy header: malformed dictionary");
        if (strcmp(key, "descr") == 0 && !have_descr) {
            if (!s_string(&c, descr, sizeof descr))
                return byzgd_set_error(error, error_size,
                                       ".npy header: descr is not a simple dtype string");
            have_descr = true;
        } else if (strcmp(key, "fortran_order") == 0 && fortran < 0) {
            if (s_word(&c, "False"))
                fortran = 0;
            else if (s_word(&c, "True"))
                fortran = 1;
            else
                return byzgd_set_error(error, error_size,
                                       ".npy header: fortran_order is not True or False");
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            if (!s_shape(&c, dims, &dimension_count))
                return byzgd_set_error(error, error_size, ".npy header: malformed shape");
            have_shape = true;
        } else {
            return byzgd_set_error(error, error_size, ".npy header: unexpected key '%s'", key);
        }
        if (!s_accept(&c, ',')) {
            if (!s_accept(&c, '}'))
                return byzgd_set_error(error, error_size, ".npy header: malformed dictionary");
            break;
        }
    }
    s_skip_spaces(&c);
    if (c.at != c.length)
        return byzgd_set_error(error, error_size, ".npy header: text after the dictionary");
    if (!have_descr || fortran < 0 || !have_shape)
        return byzgd_set_error(error, error_size,
                               ".npy header: needs descr, fortran_order and shape");
    size_t item_size;
    if (strcmp(descr, "<f4") == 0)
        item_size = 4;
    else if (strcmp(descr, "<f8") == 0)
        item_size = 8;
    else
        return byzgd_set_error(error, error_size,
                               "unsupported dtype '%s' (need float32 '<f4' or float64 '<f8')",
                               descr);
    if (fortran)
        return byzgd_set_error(error, error_size,
                               "Fortran-order arrays are refused (need C order)");
    if (dimension_count != 2)
        return byzgd_set_error(error, error_size,
                               "need a 2-D array (rows x dimension), got %zu dimension%s",
                               dimension_count, dimension_count == 1 ? "" : "s");
    if (dims[0] == 0 || dims[1] == 0)
        return byzgd_set_error(error, error_size, "empty array of shape (%llu, %llu)",
                               (unsigned long long)dims[0], (unsigned long long)dims[1]);
    size_t payload = size - prefix - header_length;
    // Both dimensions are below 2^62; compare the product without overflowing.
    if (dims[0] > payload / item_size || dims[1] > payload / item_size / dims[0] ||
        dims[0] * dims[1] * item_size != payload)
        return byzgd_set_error(
            error, error_size, ".npy payload is %zu bytes, shape (%llu, %llu) needs %s", payload,
            (unsigned long long)dims[0], (unsigned long long)dims[1],
            dims[0] > payload / item_size || dims[1] > payload / item_size / dims[0]
                ? "more"
                : "a different size");
    size_t count = (size_t)(dims[0] * dims[1]);
    float *data = malloc(count * sizeof *data);
    if (!data)
        return byzgd_set_error(error, error_size, "out of memory for %zu floats", count);
    const uint8_t *source = bytes + prefix + header_length;
    if (item_size == 4) {
        memcpy(data, source, count * sizeof *data);
    } else {
        for (size_t k = 0; k < count; k++) {
            double value;
            memcpy(&value, source + k * 8, sizeof value);
            data[k] = (float)value;
        }
    }
    *data_out = data;
    *rows_out = (size_t)dims[0];
    *cols_out = (size_t)dims[1];
    return 0;
}

int
byzgd_npy_read_matrix(const char *path, float **data_out, size_t *rows_out, size_t *cols_out,
                      char *error, size_t error_size)
{
    *data_out = NULL;
    int status = -1;
    uint8_t *bytes = NULL;
    FILE *file = fopen(path, "rb");
    if (!file)
        return byzgd_set_error(error, error_size, "%s: %s", path, strerror(errno));
    struct stat info;
    if (fstat(fileno(file), &info) != 0 || !S_ISREG(info.st_mode)) {
        byzgd_set_error(error, error_size, "%s: not a regular file", path);
        goto cleanup;
    }
    size_t size = (size_t)info.st_size;
    bytes = malloc(size ? size : 1);
    if (!bytes) {
        byzgd_set_error(error, error_size, "%s: out of memory for %zu bytes", path, size);
        goto cleanup;
    }
    if (size && fread(bytes, 1, size, file) != size) {
        byzgd_set_error(error, error_size, "%s: read failed", path);
        goto cleanup;
    }
    char message[256];
    if (byzgd_npy_decode_matrix(bytes, size, data_out, rows_out, cols_out, message,
                                sizeof message) != 0) {
        byzgd_set_error(error, error_size, "%s: %s", path, message);
        goto cleanup;
    }
    status = 0;
cleanup:
    free(bytes);
    fclose(file);
    return status;
}

// Writes a float32 array with the given shape text, through a temporary file.
static int
s_write(const char *path, const float *data, size_t count, const char *shape, char *error,
        size_t error_size)
{
    char header[256];
    int length = snprintf(header, sizeof header,
                          "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shape);
    // Pad with spaces so that magic + header end on a 64-byte boundary, as NumPy does.
    size_t total = 10 + (size_t)length + 1;
    size_t padded = (total + 63) / 64 * 64;
    if (padded - 10 > sizeof header - 1 || padded - 10 > 65535)
        return byzgd_set_error(error, error_size, "%s: header too long", path);
    memset(header + length, ' ', padded - total);
    header[padded - 10 - 1] = '\n';
    size_t header_length = padded - 10;
    uint8_t prefix[10] = {0x93,
                          'N',
                          'U',
                          'M',
                          'P',
                          'Y',
                          1,
                          0,
                          (uint8_t)(header_length & 0xff),
                          (uint8_t)(header_length >> 8)};
    byzgd_atomic_file_t *file = byzgd_atomic_file_open(path, 0644, error, error_size);
    if (!file)
        return -1;
    byzgd_atomic_file_write(file, prefix, sizeof prefix);
    byzgd_atomic_file_write(file, header, header_length);
    byzgd_atomic_file_write(file, data, count * sizeof(float));
    return byzgd_atomic_file_commit(&file, error, error_size);
}

int
byzgd_npy_write_vector(const char *path, const float *data, size_t count, char *error,
                       size_t error_size)
{
    char shape[64];
    snprintf(shape, sizeof shape, "(%zu,)", count);
    return s_write(path, data, count, shape, error, error_size);
}

int
byzgd_npy_write_matrix(const char *path, const float *data, size_t rows, size_t cols, char *error,
                       size_t error_size)
{
    char shape[64];
    snprintf(shape, sizeof shape, "(%zu, %zu)", rows, cols);
    return s_write(path, data, rows * cols, shape, error, error_size);
}
