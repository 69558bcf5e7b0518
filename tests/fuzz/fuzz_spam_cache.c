/*  fuzz_spam_cache.c — the spam cache decoder on arbitrary bytes, twice: as given (the CRC
    rejects almost everything) and with the CRC trailer recomputed, so the structural checks
    behind it (sizes, row counts, indices, values) are reached too. */
#include "learning/dataset.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_check(const byzgd_dataset_t *dataset, const char *error)
{
    if (!dataset) {
        if (!error[0])
            abort();
        return;
    }
    for (size_t i = 0; i < dataset->count * dataset->feature_count; i++)
        if (!(dataset->features[i] >= 0) || !isfinite(dataset->features[i]))
            abort();
    for (size_t i = 0; i < dataset->count; i++)
        if (dataset->labels[i] >= dataset->class_count)
            abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char error[256] = "";
    byzgd_dataset_t *dataset = byzgd_spam_cache_parse(data, size, 1, error, sizeof error);
    s_check(dataset, error);
    byzgd_dataset_destroy(&dataset);
    if (size < 4)
        return 0;
    uint8_t *copy = malloc(size);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), copy, (uInt)(size - 4));
    for (int i = 0; i < 4; i++)
        copy[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    error[0] = 0;
    dataset = byzgd_spam_cache_parse(copy, size, 1, error, sizeof error);
    s_check(dataset, error);
    // With a correct CRC, skipping the check must not change the verdict.
    char unchecked_error[256] = "";
    byzgd_dataset_t *unchecked =
        byzgd_spam_cache_parse(copy, size, 0, unchecked_error, sizeof unchecked_error);
    if (!dataset != !unchecked)
        abort();
    byzgd_dataset_destroy(&dataset);
    byzgd_dataset_destroy(&unchecked);
    free(copy);
    return 0;
}
