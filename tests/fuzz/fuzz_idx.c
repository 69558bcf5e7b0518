/*  fuzz_idx.c — the IDX decoder (images + labels, gzip or plain) on arbitrary bytes.
    Input layout: 2 bytes little-endian n, then n bytes of image file, then the label file
    (n is clamped to what is there), so one input exercises both files and their pairing. */
#include "learning/dataset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t images_size = (size_t)data[0] | (size_t)data[1] << 8;
    data += 2, size -= 2;
    if (images_size > size)
        images_size = size;
    // Exact-size copies, so reads past either file's end are caught.
    uint8_t *images = malloc(images_size ? images_size : 1);
    uint8_t *labels = malloc(size - images_size ? size - images_size : 1);
    if (!images || !labels)
        abort();
    memcpy(images, data, images_size);
    memcpy(labels, data + images_size, size - images_size);
    char error[256];
    byzgd_dataset_t *dataset = byzgd_idx_parse(images, images_size, labels, size - images_size,
                                               "fuzz", error, sizeof error);
    if (dataset) {
        // What a loader promises: a consistent shape, pixels in [0, 1], labels < classes.
        if (dataset->feature_count != dataset->height * dataset->width)
            abort();
        for (size_t i = 0; i < dataset->count * dataset->feature_count; i++)
            if (!(dataset->features[i] >= 0 && dataset->features[i] <= 1))
                abort();
        for (size_t i = 0; i < dataset->count; i++)
            if (dataset->labels[i] >= dataset->class_count)
                abort();
    } else if (!error[0]) {
        abort(); // every refusal carries a message
    }
    byzgd_dataset_destroy(&dataset);
    free(images);
    free(labels);
    return 0;
}
