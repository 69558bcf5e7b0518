/*  dataset.h — the training data of byzgd: Fashion-MNIST / MNIST (IDX files, gzip or plain),
    the SpamAssassin corpus (hashed bag of words, cached in a compact binary file) and a
    seeded Gaussian mixture; deterministic shards per worker (iid or Dirichlet(α) over
    labels) and seeded minibatch sampling. docs/DATASETS.md fixes every recipe.

    byzgd_dataset_options_t options = {0};          // zero = every default
    options.split = BYZGD_SPLIT_TRAIN;
    byzgd_dataset_t *full = byzgd_dataset_load("fashion-mnist", &options, error, sizeof error);
    byzgd_dataset_t *mine = byzgd_dataset_shard(full, worker_index, worker_count, 0.0, seed,
                                                error, sizeof error);
    byzgd_dataset_destroy(&full);
    byzgd_dataset_sample(mine, &rng, batch, features, labels);   // no allocation

    Every decoder of outside bytes (IDX, the spam cache, the spam JSON mails) has an entry
    point on a memory buffer, so fuzz targets call exactly what the file loaders call. */
#ifndef BYZGD_DATASET_H
#define BYZGD_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "learning/model.h"
#include "support/rng.h"

typedef struct {
    size_t count;                   // examples
    size_t feature_count;           // floats per example = channels * height * width
    size_t channels, height, width; // images: 1, 28, 28; vectors: 1, 1, feature_count
    size_t class_count;
    float *features; // count × feature_count, row-major, normalised (see docs/DATASETS.md);
                     // NULL in a view (byzgd_dataset_shard_view): read rows with
                     // byzgd_dataset_rows or byzgd_dataset_sample
    uint8_t *labels; // count, each < class_count
    char name[32];
    // Private: features and labels point into this read-only file mapping (the decoded
    // image cache, shared by every process through the page cache) of mapping_size bytes;
    // NULL when they are malloc'ed. mapping_fd: the mapped file, open while mapped (a
    // shard's rows are read from it, see byzgd_dataset_shard); meaningless without mapping.
    void *mapping;
    size_t mapping_size;
    int mapping_fd;
    // Private: a view's rows: row i is view_features + view_rows[i] × feature_count, in a
    // set it borrows (NULL when the set holds its own rows).
    const float *view_features;
    size_t *view_rows;
} byzgd_dataset_t;

typedef enum { BYZGD_SPLIT_TRAIN = 0, BYZGD_SPLIT_TEST = 1 } byzgd_dataset_split_t;

// All fields may stay zero: zero (or NULL) means the default written beside each field.
typedef struct {
    // Images: the directory holding the four IDX files (default
    // /usr/share/datasets/fashion-mnist or /usr/share/datasets/mnist).
    // Spam: the unpacked npm package root holding data/ (default
    // ${BYZGD_DATA_DIR:-$HOME/.local/share/byzgd}/spam-assassin).
    const char *data_dir;
    byzgd_dataset_split_t split;
    size_t limit;  // keep only the first `limit` examples of the split (0 = all)
    uint64_t seed; // synthetic mixture and spam train/test split (default 0 is a valid seed)

    // Synthetic Gaussian mixture.
    size_t synthetic_count;         // examples in the requested split (default 1000)
    size_t synthetic_feature_count; // default 20; ignored when synthetic_height > 0
    size_t synthetic_channels;      // image-shaped mixture: channels (default 1) ...
    size_t synthetic_height;        // ... height (0 = vectors) ...
    size_t synthetic_width;         // ... width (default = height)
    size_t synthetic_class_count;   // default 2, at most 256
    double synthetic_separation;    // norm of each class mean (default 3.0); noise is N(0, I)

    // SpamAssassin.
    size_t spam_feature_count; // hashing buckets D (default 1024, 16 .. 1 << 20)
    // Spam: where cache-D<D>.bin lives (default: data_dir). Images: where the decoded
    // images are cached (default ${BYZGD_DATA_DIR:-$HOME/.local/share/byzgd}/cache).
    const char *cache_dir;
} byzgd_dataset_options_t;

// Loads dataset `name` (fashion-mnist | mnist | spam | synthetic). options may be NULL
// (all defaults). Returns NULL with a one-line message (file, problem, what to install).
byzgd_dataset_t *byzgd_dataset_load(const char *name, const byzgd_dataset_options_t *options,
                                    char *error, size_t error_size);

// An empty dataset of the given shape with zeroed features and labels (for builders and
// tests). Returns NULL if a dimension is 0, sizes overflow, class_count is not in 1..256
// or name does not fit in 31 bytes.
byzgd_dataset_t *byzgd_dataset_new(size_t count, size_t channels, size_t height, size_t width,
                                   size_t class_count, const char *name);

void byzgd_dataset_destroy(byzgd_dataset_t **self_p);

// The model spec of `architecture` (borrowed) with hidden widths `hidden` (0: default)
// for this dataset's input shape and classes: one place that maps data to a model.
byzgd_model_spec_t byzgd_dataset_model_spec(const byzgd_dataset_t *self, const char *architecture,
                                            const size_t hidden[2]);

// Worker `index` of `count`'s part of `full`, as a new dataset. dirichlet_alpha = 0: iid,
// a seeded permutation cut into near-equal contiguous parts; alpha > 0: per label,
// Dirichlet(alpha) proportions over the workers. Every example lands in exactly one shard;
// equal (full, count, alpha, seed) give equal partitions. NULL if a shard would be empty.
byzgd_dataset_t *byzgd_dataset_shard(const byzgd_dataset_t *full, size_t index, size_t count,
                                     double dirichlet_alpha, uint64_t seed, char *error,
                                     size_t error_size);

// The same shard as a view of `full`, which must outlive it: its labels are copied, its
// rows are read from `full` (no copy of the features). For contexts sharing one training
// set in a process (byzgd-simulate): 20 copied shards of Fashion-MNIST took most of its
// start-up. Sampling a view draws and returns what sampling the copied shard does.
byzgd_dataset_t *byzgd_dataset_shard_view(const byzgd_dataset_t *full, size_t index, size_t count,
                                          double dirichlet_alpha, uint64_t seed, char *error,
                                          size_t error_size);

// Rows [first, first + count) of the set: its own memory when it holds them, else (a view)
// gathered into buffer[count × feature_count]. first + count ≤ self->count.
const float *byzgd_dataset_rows(const byzgd_dataset_t *self, size_t first, size_t count,
                                float *buffer);

// Fills shard_of_out[full->count] with the shard index of every example (the partition
// byzgd_dataset_shard() cuts from). Returns 0, or -1 with a message.
int byzgd_dataset_partition(size_t *shard_of_out, const byzgd_dataset_t *full, size_t count,
                            double dirichlet_alpha, uint64_t seed, char *error, size_t error_size);

// Draws batch_size examples uniformly with replacement (each draw one byzgd_rng_below()),
// copying them into caller buffers features_out[batch_size × feature_count] and
// labels_out[batch_size]. No allocation. self->count must be > 0.
void byzgd_dataset_sample(const byzgd_dataset_t *self, byzgd_rng_t *rng, size_t batch_size,
                          float *features_out, uint8_t *labels_out);

// Number of examples per label: counts_out[self->class_count].
void byzgd_dataset_class_counts(const byzgd_dataset_t *self, size_t *counts_out);

// ---- decoders on memory buffers (what the file loaders call; fuzzed)

// Checks a decoded image cache (docs/DATASETS.md): magic, version, shape, size and every
// label. Returns 0 with its shape, or -1 with a message. Fuzzed.
int byzgd_image_cache_parse(const uint8_t *data, size_t size, size_t *count_out, size_t *height_out,
                            size_t *width_out, char *error, size_t error_size);
// Decodes an IDX image file and its label file (each gzip or plain, detected by the gzip
// magic) into a dataset with pixels / 255 in [0, 1]. Sizes are checked against the bytes
// present before anything is allocated for them. Returns NULL with a message.
byzgd_dataset_t *byzgd_idx_parse(const uint8_t *images, size_t images_size, const uint8_t *labels,
                                 size_t labels_size, const char *name, char *error,
                                 size_t error_size);

// Extracts the top-level string field `field` of a JSON object (strict JSON, escapes
// including \uXXXX surrogate pairs decoded to UTF-8). *text_out is malloc'ed and
// NUL-terminated; *text_size_out excludes the NUL. Returns 0, or -1 with a message.
int byzgd_spam_json_field(char **text_out, size_t *text_size_out, const char *json,
                          size_t json_size, const char *field, char *error, size_t error_size);

// The feature recipe of docs/DATASETS.md: tokens of the Subject header and the body,
// hashed (FNV-1a 64) into feature_count buckets, log(1 + tf), L2-normalised.
void byzgd_spam_features(float *features_out, const char *text, size_t text_size,
                         size_t feature_count);

// Decodes a spam cache file (the whole corpus, canonical order, both splits) into a
// dataset. verify_checksum = 0 skips the CRC only (the fuzz target tests both ways).
byzgd_dataset_t *byzgd_spam_cache_parse(const uint8_t *data, size_t size, int verify_checksum,
                                        char *error, size_t error_size);

// Encodes a corpus dataset (features ≥ 0 stored sparsely) as a cache image. *data_out is
// malloc'ed. Returns 0, or -1 with a message.
int byzgd_spam_cache_encode(uint8_t **data_out, size_t *size_out, const byzgd_dataset_t *corpus,
                            char *error, size_t error_size);

// The stratified seeded split of docs/DATASETS.md: is_test_out[corpus->count] gets 1 for
// the ~20 % of each label that form the test split.
void byzgd_spam_split(uint8_t *is_test_out, const byzgd_dataset_t *corpus, uint64_t seed);

#endif
