/*  dataset.c — the dataset object, shards and minibatch sampling. The loaders
    (dataset_idx.c, dataset_spam.c, dataset_synthetic.c) build on it; dataset_load.c picks
    the loader by name. */
#include "dataset.h"
#include "dataset_private.h"
#include "support/log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

// Streams of the shard generator, so iid and Dirichlet partitions of one seed are unrelated
// to the other uses of that seed (model init, sampling).
#define S_STREAM_IID       0x5348415244494944ULL // "SHARDIID"
#define S_STREAM_DIRICHLET 0x5348415244444952ULL // "SHARDDIR"
// Dirichlet draws are repeated (continuing the same stream) until no shard is empty.
#define S_DIRICHLET_ATTEMPTS 100

// Maps the pages of a large new set in one call rather than one page fault per 4 KB page
// as its rows are copied in: a worker's shard of a 20th of Fashion-MNIST is 2,300 pages.
// byzgd-simulate's start-up (20 contexts): 42,000 page faults -> 10,000, 322 -> 299 ms of
// CPU (mean of 4, loaded 2-core machine). Advice only: a kernel without
// MADV_POPULATE_WRITE (before Linux 5.14) faults the pages in as before.
static void
s_prefault(void *memory, size_t size)
{
#ifdef MADV_POPULATE_WRITE
    const uintptr_t page = 4096;
    uintptr_t first = ((uintptr_t)memory + page - 1) & ~(page - 1);
    uintptr_t last = ((uintptr_t)memory + size) & ~(page - 1);
    if (memory && size >= (1u << 20) && last > first)
        madvise((void *)first, last - first, MADV_POPULATE_WRITE);
#else
    (void)memory;
    (void)size;
#endif
}

byzgd_dataset_t *
byzgd_dataset_new(size_t count, size_t channels, size_t height, size_t width, size_t class_count,
                  const char *name)
{
    if (!name || strlen(name) >= sizeof(((byzgd_dataset_t *)0)->name))
        return NULL;
    if (channels == 0 || height == 0 || width == 0 || class_count == 0 || class_count > 256)
        return NULL;
    if (height > SIZE_MAX / width || channels > SIZE_MAX / (height * width))
        return NULL;
    size_t feature_count = channels * height * width;
    if (count && feature_count > SIZE_MAX / sizeof(float) / count)
        return NULL;
    byzgd_dataset_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->count = count;
    self->feature_count = feature_count;
    self->channels = channels;
    self->height = height;
    self->width = width;
    self->class_count = class_count;
    // calloc(…, 1) for empty sets so that a NULL always means failure.
    self->features = calloc(count ? count * feature_count : 1, sizeof(float));
    s_prefault(self->features, count * feature_count * sizeof(float));
    self->labels = calloc(count ? count : 1, 1);
    if (!self->features || !self->labels) {
        byzgd_dataset_destroy(&self);
        return NULL;
    }
    snprintf(self->name, sizeof self->name, "%s", name);
    return self;
}

void
byzgd_dataset_destroy(byzgd_dataset_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    byzgd_dataset_t *self = *self_p;
    if (self->mapping) {
        munmap(self->mapping, self->mapping_size);
        close(self->mapping_fd);
    } else {
        free(self->features);
        free(self->labels);
        free(self->view_rows);
    }
    free(self);
    *self_p = NULL;
}

// Row i of the set: its own, or (a view) the borrowed set's.
static inline const float *
s_row(const byzgd_dataset_t *self, size_t i)
{
    return self->view_rows ? self->view_features + self->view_rows[i] * self->feature_count
                           : self->features + i * self->feature_count;
}

// Copies row `index` of a mapped set with pread() from its file. Reading through the
// mapping instead would map every page of a large folio around each row (fault-around):
// a 20th of Fashion-MNIST's rows, spread over the file, would map nearly all of its
// 188 MB into this process and then cost as much again to unmap, while pread copies from
// the shared page cache and maps nothing: load + shard + unmap of a 20th of Fashion-MNIST
// took 15–16 ms of CPU through the mapping, 7 ms with pread (docs/DATASETS.md).
static bool
s_read_row(const byzgd_dataset_t *full, size_t index, float *row_out, size_t row_size)
{
    off_t offset = (off_t)((const uint8_t *)full->features - (const uint8_t *)full->mapping) +
                   (off_t)(index * row_size);
    return pread(full->mapping_fd, row_out, row_size, offset) == (ssize_t)row_size;
}

byzgd_dataset_t *
byzgd_dataset_select(const byzgd_dataset_t *full, const size_t *indices, size_t count)
{
    byzgd_dataset_t *self = byzgd_dataset_new(count, full->channels, full->height, full->width,
                                              full->class_count, full->name);
    if (!self)
        return NULL;
    size_t row_size = full->feature_count * sizeof(float);
    for (size_t i = 0; i < count; i++) {
        float *row = self->features + i * full->feature_count;
        if (!full->mapping || !s_read_row(full, indices[i], row, row_size))
            memcpy(row, s_row(full, indices[i]), row_size);
        self->labels[i] = full->labels[indices[i]];
    }
    return self;
}

int
byzgd_dataset_read_file(uint8_t **data_out, size_t *size_out, const char *path, size_t max_size,
                        char *error, size_t error_size)
{
    *data_out = NULL;
    *size_out = 0;
    FILE *file = fopen(path, "rb");
    if (!file)
        return byzgd_set_error(error, error_size, "%s: %s", path, strerror(errno));
    struct stat info;
    uint8_t *data = NULL;
    if (fstat(fileno(file), &info) != 0) {
        byzgd_set_error(error, error_size, "%s: %s", path, strerror(errno));
        goto failure;
    }
    if (!S_ISREG(info.st_mode)) {
        byzgd_set_error(error, error_size, "%s: not a regular file", path);
        goto failure;
    }
    if ((uint64_t)info.st_size > max_size) {
        byzgd_set_error(error, error_size, "%s: %lld bytes, more than the %zu accepted", path,
                        (long long)info.st_size, max_size);
        goto failure;
    }
    size_t size = (size_t)info.st_size;
    // One spare byte so text files can be NUL-terminated by the caller.
    data = malloc(size + 1);
    if (!data) {
        byzgd_set_error(error, error_size, "%s: out of memory for %zu bytes", path, size);
        goto failure;
    }
    if (size && fread(data, 1, size, file) != size) {
        byzgd_set_error(error, error_size, "%s: short read (%s)", path,
                        ferror(file) ? strerror(errno) : "file shrank while reading");
        goto failure;
    }
    data[size] = 0;
    fclose(file);
    *data_out = data;
    *size_out = size;
    return 0;
failure:
    free(data);
    fclose(file);
    return -1;
}

static void
s_partition_iid(size_t *shard_of_out, size_t *order, size_t total, size_t count, uint64_t seed)
{
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, seed, S_STREAM_IID);
    for (size_t i = 0; i < total; i++)
        order[i] = i;
    byzgd_rng_shuffle(&rng, order, total);
    // Shard s gets positions [s·N/count, (s+1)·N/count) of the permutation: sizes differ by
    // at most one and the parts tile 0..N exactly.
    for (size_t s = 0; s < count; s++) {
        size_t begin = (size_t)((unsigned __int128)s * total / count);
        size_t end = (size_t)((unsigned __int128)(s + 1) * total / count);
        for (size_t p = begin; p < end; p++)
            shard_of_out[order[p]] = s;
    }
}

// One Dirichlet draw for every label. Returns the number of empty shards.
static size_t
s_partition_dirichlet_once(size_t *shard_of_out, size_t *order, double *weights,
                           size_t *shard_sizes, const byzgd_dataset_t *full, size_t count,
                           double alpha, byzgd_rng_t *rng)
{
    memset(shard_sizes, 0, count * sizeof *shard_sizes);
    for (size_t label = 0; label < full->class_count; label++) {
        size_t label_count = 0;
        for (size_t i = 0; i < full->count; i++)
            if (full->labels[i] == label)
                order[label_count++] = i;
        byzgd_rng_shuffle(rng, order, label_count);
        double sum = 0;
        for (size_t s = 0; s < count; s++) {
            weights[s] = byzgd_rng_gamma(rng, alpha);
            sum += weights[s];
        }
        // For tiny alpha every gamma deviate may underflow to 0: the limit of Dirichlet(α)
        // as α → 0 puts the whole label on one worker, so do that.
        if (!(sum > 0)) {
            size_t chosen = (size_t)byzgd_rng_below(rng, count);
            for (size_t s = 0; s < count; s++)
                weights[s] = s == chosen;
            sum = 1;
        }
        // Shard s gets positions [round(c_s·n), round(c_{s+1}·n)) of the shuffled label,
        // c_s the cumulative proportion; the last boundary is n exactly.
        double cumulative = 0;
        size_t begin = 0;
        for (size_t s = 0; s < count; s++) {
            cumulative += weights[s] / sum;
            size_t end = s + 1 == count ? label_count : (size_t)(cumulative * label_count + 0.5);
            if (end > label_count)
                end = label_count;
            if (end < begin)
                end = begin;
            for (size_t p = begin; p < end; p++)
                shard_of_out[order[p]] = s;
            shard_sizes[s] += end - begin;
            begin = end;
        }
    }
    size_t empty = 0;
    for (size_t s = 0; s < count; s++)
        empty += shard_sizes[s] == 0;
    return empty;
}

int
byzgd_dataset_partition(size_t *shard_of_out, const byzgd_dataset_t *full, size_t count,
                        double dirichlet_alpha, uint64_t seed, char *error, size_t error_size)
{
    if (count == 0)
        return byzgd_set_error(error, error_size, "shard count must be at least 1");
    if (full->count < count)
        return byzgd_set_error(error, error_size,
                               "%s has %zu examples, fewer than the %zu shards asked for",
                               full->name, full->count, count);
    if (!(dirichlet_alpha >= 0) || dirichlet_alpha > 1e6)
        return byzgd_set_error(error, error_size,
                               "Dirichlet alpha must be 0 (iid) or in (0, 1e6], got %g",
                               dirichlet_alpha);
    for (size_t i = 0; i < full->count; i++)
        if (full->labels[i] >= full->class_count)
            return byzgd_set_error(error, error_size,
                                   "%s: label %u of example %zu is not below %zu", full->name,
                                   full->labels[i], i, full->class_count);
    // Every entry is overwritten below; SIZE_MAX makes a missed one visible (no shard).
    for (size_t i = 0; i < full->count; i++)
        shard_of_out[i] = SIZE_MAX;
    size_t *order = malloc(full->count * sizeof *order);
    if (!order)
        return byzgd_set_error(error, error_size, "out of memory for %zu shard indices",
                               full->count);
    if (dirichlet_alpha == 0) {
        s_partition_iid(shard_of_out, order, full->count, count, seed);
        free(order);
        return 0;
    }
    int status = -1;
    double *weights = malloc(count * sizeof *weights);
    size_t *shard_sizes = malloc(count * sizeof *shard_sizes);
    if (!weights || !shard_sizes) {
        byzgd_set_error(error, error_size, "out of memory for %zu shards", count);
        goto cleanup;
    }
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, seed, S_STREAM_DIRICHLET);
    size_t empty = 0;
    for (int attempt = 0; attempt < S_DIRICHLET_ATTEMPTS; attempt++) {
        empty = s_partition_dirichlet_once(shard_of_out, order, weights, shard_sizes, full, count,
                                           dirichlet_alpha, &rng);
        if (empty == 0) {
            status = 0;
            goto cleanup;
        }
    }
    byzgd_set_error(error, error_size,
                    "Dirichlet(%g) shards of %s over %zu workers: %zu shards still empty after "
                    "%d draws; raise alpha or use fewer workers",
                    dirichlet_alpha, full->name, count, empty, S_DIRICHLET_ATTEMPTS);
cleanup:
    free(order);
    free(weights);
    free(shard_sizes);
    return status;
}

// The indices of shard `index` of `count` in `full`, in their original order: a malloc'ed
// array of *size_out entries (at least one), or NULL with a message.
static size_t *
s_shard_rows(const byzgd_dataset_t *full, size_t index, size_t count, double dirichlet_alpha,
             uint64_t seed, size_t *size_out, char *error, size_t error_size)
{
    if (index >= count) {
        byzgd_set_error(error, error_size, "shard index %zu out of range for %zu shards", index,
                        count);
        return NULL;
    }
    size_t total = full->count;
    size_t *shard_of = calloc(total ? total : 1, sizeof *shard_of);
    if (!shard_of) {
        byzgd_set_error(error, error_size, "out of memory for %zu shard indices", full->count);
        return NULL;
    }
    if (byzgd_dataset_partition(shard_of, full, count, dirichlet_alpha, seed, error, error_size) !=
        0) {
        free(shard_of);
        return NULL;
    }
    // Keep the shard's examples in their original order (reuse shard_of as the index list).
    size_t mine = 0;
    for (size_t i = 0; i < total; i++)
        if (shard_of[i] == index)
            shard_of[mine++] = i;
    *size_out = mine;
    return shard_of;
}

byzgd_dataset_t *
byzgd_dataset_shard(const byzgd_dataset_t *full, size_t index, size_t count, double dirichlet_alpha,
                    uint64_t seed, char *error, size_t error_size)
{
    size_t mine = 0;
    size_t *rows =
        s_shard_rows(full, index, count, dirichlet_alpha, seed, &mine, error, error_size);
    if (!rows)
        return NULL;
    byzgd_dataset_t *shard = byzgd_dataset_select(full, rows, mine);
    if (!shard)
        byzgd_set_error(error, error_size, "out of memory for a shard of %zu examples", mine);
    free(rows);
    return shard;
}

byzgd_dataset_t *
byzgd_dataset_shard_view(const byzgd_dataset_t *full, size_t index, size_t count,
                         double dirichlet_alpha, uint64_t seed, char *error, size_t error_size)
{
    size_t mine = 0;
    size_t *rows =
        s_shard_rows(full, index, count, dirichlet_alpha, seed, &mine, error, error_size);
    if (!rows)
        return NULL;
    byzgd_dataset_t *view = calloc(1, sizeof *view);
    uint8_t *labels = malloc(mine ? mine : 1);
    if (!view || !labels) {
        free(view);
        free(labels);
        free(rows);
        byzgd_set_error(error, error_size, "out of memory for a shard of %zu examples", mine);
        return NULL;
    }
    *view = *full;
    view->count = mine;
    view->features = NULL;
    view->labels = labels;
    for (size_t i = 0; i < mine; i++)
        labels[i] = full->labels[rows[i]];
    view->mapping = NULL;
    view->mapping_size = 0;
    view->mapping_fd = -1;
    view->view_features = full->view_features ? full->view_features : full->features;
    if (full->view_rows) // a view of a view reads the first set's rows
        for (size_t i = 0; i < mine; i++)
            rows[i] = full->view_rows[rows[i]];
    view->view_rows = rows;
    return view;
}

const float *
byzgd_dataset_rows(const byzgd_dataset_t *self, size_t first, size_t count, float *buffer)
{
    if (!self->view_rows)
        return self->features + first * self->feature_count;
    for (size_t i = 0; i < count; i++)
        memcpy(buffer + i * self->feature_count, s_row(self, first + i),
               self->feature_count * sizeof(float));
    return buffer;
}

void
byzgd_dataset_sample(const byzgd_dataset_t *self, byzgd_rng_t *rng, size_t batch_size,
                     float *features_out, uint8_t *labels_out)
{
    size_t row_size = self->feature_count * sizeof(float);
    for (size_t b = 0; b < batch_size; b++) {
        size_t i = (size_t)byzgd_rng_below(rng, self->count);
        memcpy(features_out + b * self->feature_count, s_row(self, i), row_size);
        labels_out[b] = self->labels[i];
    }
}

void
byzgd_dataset_class_counts(const byzgd_dataset_t *self, size_t *counts_out)
{
    memset(counts_out, 0, self->class_count * sizeof *counts_out);
    for (size_t i = 0; i < self->count; i++)
        if (self->labels[i] < self->class_count)
            counts_out[self->labels[i]]++;
}

byzgd_model_spec_t
byzgd_dataset_model_spec(const byzgd_dataset_t *self, const char *architecture,
                         const size_t hidden[2])
{
    byzgd_model_spec_t spec = {.architecture = architecture,
                               .channels = self->channels,
                               .height = self->height,
                               .width = self->width,
                               .class_count = self->class_count,
                               .hidden = {hidden[0], hidden[1]}};
    return spec;
}
