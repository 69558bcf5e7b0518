/*  dataset_synthetic.c — a seeded Gaussian mixture for tests and demos with no data
    installed. Class c has mean μ_c = separation · u_c, u_c a uniformly random unit vector
    (a normalised N(0, I) draw); an example of class c is μ_c + N(0, I). Labels are uniform.
    The means come from one stream of the seed and each split from its own stream, so train
    and test share the mixture but not the examples. */
#include "dataset.h"
#include "dataset_private.h"
#include "support/log.h"

#include <math.h>
#include <stdlib.h>

#define S_STREAM_MEANS 0x53594e4d45414e53ULL // "SYNMEANS"
#define S_STREAM_TRAIN 0x53594e545241494eULL // "SYNTRAIN"
#define S_STREAM_TEST  0x53594e5445535421ULL // "SYNTEST!"

#define S_DEFAULT_COUNT         1000
#define S_DEFAULT_FEATURE_COUNT 20
#define S_DEFAULT_CLASS_COUNT   2
#define S_DEFAULT_SEPARATION    3.0
#define S_MAX_VALUES            ((size_t)1 << 28) // 1 GiB of floats

byzgd_dataset_t *
byzgd_dataset_load_synthetic(const byzgd_dataset_options_t *options, char *error, size_t error_size)
{
    size_t count = options->synthetic_count ? options->synthetic_count : S_DEFAULT_COUNT;
    if (options->limit && options->limit < count)
        count = options->limit;
    size_t channels = 1, height = 1, width;
    if (options->synthetic_height) {
        channels = options->synthetic_channels ? options->synthetic_channels : 1;
        height = options->synthetic_height;
        width = options->synthetic_width ? options->synthetic_width : height;
    } else {
        width = options->synthetic_feature_count ? options->synthetic_feature_count
                                                 : S_DEFAULT_FEATURE_COUNT;
    }
    size_t class_count =
        options->synthetic_class_count ? options->synthetic_class_count : S_DEFAULT_CLASS_COUNT;
    double separation =
        options->synthetic_separation != 0 ? options->synthetic_separation : S_DEFAULT_SEPARATION;
    if (class_count < 2 || class_count > 256) {
        byzgd_set_error(error, error_size, "synthetic: class count %zu not in 2..256", class_count);
        return NULL;
    }
    if (!(separation > 0) || !isfinite(separation)) {
        byzgd_set_error(error, error_size, "synthetic: separation must be positive, got %g",
                        separation);
        return NULL;
    }
    size_t most = count > class_count ? count : class_count;
    if (channels > S_MAX_VALUES || height > S_MAX_VALUES || width > S_MAX_VALUES ||
        channels * height > S_MAX_VALUES / width ||
        most > S_MAX_VALUES / (channels * height * width)) {
        byzgd_set_error(error, error_size,
                        "synthetic: %zu examples of %zu×%zu×%zu floats is more than %zu values",
                        count, channels, height, width, S_MAX_VALUES);
        return NULL;
    }
    byzgd_dataset_t *self =
        byzgd_dataset_new(count, channels, height, width, class_count, "synthetic");
    float *means = NULL;
    size_t d = channels * height * width;
    if (self)
        means = malloc(class_count * d * sizeof *means);
    if (!self || !means) {
        byzgd_set_error(error, error_size, "synthetic: out of memory");
        byzgd_dataset_destroy(&self);
        free(means);
        return NULL;
    }
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, options->seed, S_STREAM_MEANS);
    for (size_t c = 0; c < class_count; c++) {
        float *mean = means + c * d;
        double norm_sq = 0;
        for (size_t j = 0; j < d; j++) {
            double x = byzgd_rng_gaussian(&rng);
            mean[j] = (float)x;
            norm_sq += x * x;
        }
        double scale = norm_sq > 0 ? separation / sqrt(norm_sq) : 0;
        for (size_t j = 0; j < d; j++)
            mean[j] = (float)(mean[j] * scale);
    }
    byzgd_rng_seed(&rng, options->seed,
                   options->split == BYZGD_SPLIT_TEST ? S_STREAM_TEST : S_STREAM_TRAIN);
    for (size_t i = 0; i < count; i++) {
        size_t label = (size_t)byzgd_rng_below(&rng, class_count);
        self->labels[i] = (uint8_t)label;
        float *row = self->features + i * d;
        const float *mean = means + label * d;
        for (size_t j = 0; j < d; j++)
            row[j] = mean[j] + (float)byzgd_rng_gaussian(&rng);
    }
    free(means);
    return self;
}
