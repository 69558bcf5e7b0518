/*  fuzz_image_cache.c — the image cache reader on arbitrary bytes: it must accept only a
    file whose size matches its header exactly and whose labels are all below 10, and
    report a message for everything else. */
#include "learning/dataset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char error[256] = "";
    size_t count = 0, height = 0, width = 0;
    int status = byzgd_image_cache_parse(data, size, &count, &height, &width, error, sizeof error);
    if (status != 0) {
        if (!error[0])
            abort();
        return 0;
    }
    if (count == 0 || height == 0 || width == 0 || height > 4096 || width > 4096 ||
        64 + count * height * width * sizeof(float) + count != size)
        abort();
    for (size_t i = 0; i < count; i++)
        if (data[size - count + i] >= 10)
            abort();
    return 0;
}
