/*  fuzz_npy.c — the .npy decoder on arbitrary bytes; decoded small matrices are then fed to
    an aggregation rule chosen from the input size, which must give a finite aggregate
    whenever it accepts (the non-finite policy). */
#include "rules/gar.h"
#include "support/npy.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    float *rows = NULL;
    size_t n = 0, d = 0;
    char error[256];
    if (byzgd_npy_decode_matrix(data, size, &rows, &n, &d, error, sizeof error) != 0)
        return 0;
    if (n <= 64 && d <= 256) {
        byzgd_gar_config_t config;
        byzgd_gar_config_init(&config);
        config.rule = (byzgd_gar_rule_t)(size % BYZGD_GAR_RULE_COUNT);
        config.f = (n - 1) / 4;
        config.round = 1 + size % 7;
        config.nnm = size % 5 == 0;
        config.bucket_size = size % 3;
        config.iterations = 20;
        byzgd_gar_result_t *result = byzgd_gar_result_new(n, d);
        if (result && byzgd_gar_apply(&config, result, rows, n, d, error, sizeof error) == 0)
            for (size_t j = 0; j < d; j++)
                if (!isfinite(result->aggregate[j]))
                    abort();
        byzgd_gar_result_destroy(&result);
    }
    free(rows);
    return 0;
}
