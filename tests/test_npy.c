/*  test_npy.c — the .npy decoder on hand-written headers (good variants and every kind of
    malformed one) and the writer's round trip. */
#include "support/npy.h"
#include "test.h"

#include <stdint.h>

// Builds a version 1.0 file from header text (padded, '\n' appended) and a payload.
static size_t
s_file(uint8_t *out, const char *header, const void *payload, size_t payload_size)
{
    size_t length = strlen(header);
    size_t padded = length + 1;
    while ((10 + padded) % 16)
        padded++;
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (uint8_t)(padded & 0xff);
    out[9] = (uint8_t)(padded >> 8);
    memcpy(out + 10, header, length);
    memset(out + 10 + length, ' ', padded - length - 1);
    out[10 + padded - 1] = '\n';
    memcpy(out + 10 + padded, payload, payload_size);
    return 10 + padded + payload_size;
}

TEST(decode_good_headers)
{
    const float values[6] = {1, 2, 3, 4, 5, 6};
    const char *headers[] = {
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}",
        "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,3)}",
        "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",
        "{ 'descr' : '<f4' , 'fortran_order' : False , 'shape' : ( 2 , 3 , ) , }",
    };
    uint8_t file[512];
    for (size_t h = 0; h < sizeof headers / sizeof headers[0]; h++) {
        size_t size = s_file(file, headers[h], values, sizeof values);
        float *data = NULL;
        size_t rows = 0, cols = 0;
        char error[256] = "";
        ASSERT_MSG(byzgd_npy_decode_matrix(file, size, &data, &rows, &cols, error, sizeof error) ==
                       0,
                   "header %zu: %s", h, error);
        ASSERT_EQ_INT(rows, 2);
        ASSERT_EQ_INT(cols, 3);
        ASSERT(memcmp(data, values, sizeof values) == 0);
        free(data);
    }
    // float64 is rounded to float32.
    const double doubles[2] = {0.1, -3.5};
    size_t size = s_file(file, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }",
                         doubles, sizeof doubles);
    float *data = NULL;
    size_t rows = 0, cols = 0;
    ASSERT_EQ_INT(byzgd_npy_decode_matrix(file, size, &data, &rows, &cols, NULL, 0), 0);
    ASSERT(data[0] == 0.1f && data[1] == -3.5f);
    free(data);
}

TEST(decode_bad_headers)
{
    const float values[6] = {1, 2, 3, 4, 5, 6};
    struct {
        const char *header;
        size_t payload; // bytes of `values` appended
        const char *message;
    } cases[] = {
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24, "unsupported dtype"},
        {"{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", 24, "unsupported dtype"},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }", 24, "unsupported dtype"},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 3), }", 24, "descr"},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24, "Fortran"},
        {"{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }", 24, "fortran_order"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", 24, "2-D"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }", 24, "2-D"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4, "2-D"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6), }", 24, "shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", 24, "shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", 0, "empty"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20, "payload"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24 + 4, "payload"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999, 99999999), }", 24,
         "payload"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (9999999999999999999, 3), }", 24,
         "shape"},
        {"{'descr': '<f4', 'fortran_order': False}", 24, "needs descr"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", 24,
         "unexpected key"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", 24, "unexpected key"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} x", 24, "after"},
        {"['descr', '<f4']", 24, "dictionary"},
        {"{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3)}", 24, "malformed"},
        {"{'descr: '<f4', 'fortran_order': False, 'shape': (2, 3)}", 24, "malformed"},
    };
    uint8_t file[512];
    uint8_t payload[64] = {0};
    memcpy(payload, values, sizeof values);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t size = s_file(file, cases[c].header, payload, cases[c].payload);
        float *data = (float *)1;
        size_t rows = 0, cols = 0;
        char error[256] = "";
        ASSERT_MSG(byzgd_npy_decode_matrix(file, size, &data, &rows, &cols, error, sizeof error) ==
                       -1,
                   "case %zu accepted", c);
        ASSERT(data == NULL);
        ASSERT_MSG(strstr(error, cases[c].message), "case %zu: '%s' lacks '%s'", c, error,
                   cases[c].message);
    }
    // Framing: magic, version, header length, missing newline, every truncation.
    size_t size = s_file(file, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                         values, sizeof values);
    char error[256];
    float *data = NULL;
    size_t rows, cols;
    for (size_t cut = 0; cut < size; cut++)
        ASSERT_EQ_INT(byzgd_npy_decode_matrix(file, cut, &data, &rows, &cols, error, sizeof error),
                      -1);
    file[6] = 4;
    ASSERT_EQ_INT(byzgd_npy_decode_matrix(file, size, &data, &rows, &cols, error, sizeof error),
                  -1);
    ASSERT_STR_CONTAINS(error, "version");
    file[6] = 1;
    file[0] = 0x92;
    ASSERT_EQ_INT(byzgd_npy_decode_matrix(file, size, &data, &rows, &cols, error, sizeof error),
                  -1);
    ASSERT_STR_CONTAINS(error, "magic");
    file[0] = 0x93;
    file[8] = 0xff;
    file[9] = 0xff;
    ASSERT_EQ_INT(byzgd_npy_decode_matrix(file, size, &data, &rows, &cols, error, sizeof error),
                  -1);
    ASSERT_STR_CONTAINS(error, "truncated");
}

TEST(write_and_read_back)
{
    char path[512];
    snprintf(path, sizeof path, "%s/m.npy", byzgd_test_tmpdir());
    const float values[6] = {1.5f, -2, 3e-38f, 4, 5, 6};
    char error[256];
    ASSERT_EQ_INT(byzgd_npy_write_matrix(path, values, 3, 2, error, sizeof error), 0);
    float *data = NULL;
    size_t rows = 0, cols = 0;
    ASSERT_MSG(byzgd_npy_read_matrix(path, &data, &rows, &cols, error, sizeof error) == 0, "%s",
               error);
    ASSERT_EQ_INT(rows, 3);
    ASSERT_EQ_INT(cols, 2);
    ASSERT(memcmp(data, values, sizeof values) == 0);
    free(data);
    // A vector is 1-D and refused as a matrix; a missing directory fails cleanly.
    ASSERT_EQ_INT(byzgd_npy_write_vector(path, values, 6, error, sizeof error), 0);
    ASSERT_EQ_INT(byzgd_npy_read_matrix(path, &data, &rows, &cols, error, sizeof error), -1);
    ASSERT_STR_CONTAINS(error, "2-D");
    snprintf(path, sizeof path, "%s/none/m.npy", byzgd_test_tmpdir());
    ASSERT_EQ_INT(byzgd_npy_write_vector(path, values, 6, error, sizeof error), -1);
    ASSERT_EQ_INT(byzgd_npy_read_matrix(path, &data, &rows, &cols, error, sizeof error), -1);
}

static const byzgd_test_case_t cases[] = {
    TEST_CASE(decode_good_headers),
    TEST_CASE(decode_bad_headers),
    TEST_CASE(write_and_read_back),
};
BYZGD_TEST_MAIN(cases)
