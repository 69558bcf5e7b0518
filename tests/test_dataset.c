/*  test_dataset.c — IDX, SpamAssassin and synthetic loaders, shards and sampling.
    Fixtures in tests/fixtures/ come from tests/fixtures/make-fixtures.py; the IDX fixture's
    pixels and labels follow a formula recomputed here. Tests that read the real datasets
    pass without checking anything when the data is not installed. */
#include "learning/dataset.h"
#include "test.h"

#include <dirent.h>

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

// ---- helpers

static const char *
s_fixture(const char *relative)
{
    static char path[4096];
    const char *root = getenv("BYZGD_ROOT");
    snprintf(path, sizeof path, "%s/tests/fixtures/%s", root ? root : ".", relative);
    return path;
}

static uint8_t *
s_read(const char *path, size_t *size_out)
{
    FILE *file = fopen(path, "rb");
    ASSERT_MSG(file, "cannot open %s", path);
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    uint8_t *data = malloc(size ? (size_t)size : 1);
    ASSERT(data);
    ASSERT_EQ_INT(fread(data, 1, (size_t)size, file), size);
    fclose(file);
    *size_out = (size_t)size;
    return data;
}

static void
s_write(const char *path, const uint8_t *data, size_t size)
{
    FILE *file = fopen(path, "wb");
    ASSERT_MSG(file, "cannot create %s", path);
    ASSERT_EQ_INT(fwrite(data, 1, size, file), size);
    fclose(file);
}

// The fixture formula of make-fixtures.py.
static void
s_check_idx_fixture(const byzgd_dataset_t *data, size_t count)
{
    ASSERT_EQ_INT(data->count, count);
    ASSERT_EQ_INT(data->channels, 1);
    ASSERT_EQ_INT(data->height, 4);
    ASSERT_EQ_INT(data->width, 3);
    ASSERT_EQ_INT(data->feature_count, 12);
    ASSERT_EQ_INT(data->class_count, 10);
    for (size_t i = 0; i < count; i++) {
        ASSERT_EQ_INT(data->labels[i], i % 10);
        for (size_t r = 0; r < 4; r++)
            for (size_t c = 0; c < 3; c++) {
                float expected = (float)((31 * i + 7 * r + 13 * c) % 256) / 255.0f;
                ASSERT_NEAR(data->features[i * 12 + r * 3 + c], expected, 0);
            }
    }
}

// Builds an in-memory IDX pair of `count` images rows × cols, pattern as the fixture.
static uint8_t *
s_idx_images(size_t count, size_t rows, size_t cols, size_t *size_out)
{
    size_t size = 16 + count * rows * cols;
    uint8_t *data = malloc(size);
    ASSERT(data);
    const uint8_t header[16] = {0,
                                0,
                                8,
                                3,
                                (uint8_t)(count >> 24),
                                (uint8_t)(count >> 16),
                                (uint8_t)(count >> 8),
                                (uint8_t)count,
                                0,
                                0,
                                0,
                                (uint8_t)rows,
                                0,
                                0,
                                0,
                                (uint8_t)cols};
    memcpy(data, header, 16);
    for (size_t i = 0; i < count * rows * cols; i++)
        data[16 + i] = (uint8_t)(i * 7);
    *size_out = size;
    return data;
}

static uint8_t *
s_idx_labels(size_t count, size_t *size_out)
{
    size_t size = 8 + count;
    uint8_t *data = malloc(size);
    ASSERT(data);
    const uint8_t header[8] = {0,
                               0,
                               8,
                               1,
                               (uint8_t)(count >> 24),
                               (uint8_t)(count >> 16),
                               (uint8_t)(count >> 8),
                               (uint8_t)count};
    memcpy(data, header, 8);
    for (size_t i = 0; i < count; i++)
        data[8 + i] = (uint8_t)(i % 10);
    *size_out = size;
    return data;
}

static uint8_t *
s_gzip(const uint8_t *data, size_t size, size_t *size_out)
{
    z_stream stream;
    memset(&stream, 0, sizeof stream);
    ASSERT_EQ_INT(deflateInit2(&stream, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t capacity = deflateBound(&stream, size) + 64;
    uint8_t *out = malloc(capacity);
    ASSERT(out);
    stream.next_in = (Bytef *)data;
    stream.avail_in = (uInt)size;
    stream.next_out = out;
    stream.avail_out = (uInt)capacity;
    ASSERT_EQ_INT(deflate(&stream, Z_FINISH), Z_STREAM_END);
    *size_out = capacity - stream.avail_out;
    deflateEnd(&stream);
    return out;
}

static int
s_datasets_equal(const byzgd_dataset_t *a, const byzgd_dataset_t *b)
{
    return a->count == b->count && a->feature_count == b->feature_count &&
           memcmp(a->labels, b->labels, a->count) == 0 &&
           memcmp(a->features, b->features, a->count * a->feature_count * sizeof(float)) == 0;
}

// ---- IDX

TEST(idx_plain_fixture_directory)
{
    char error[512];
    byzgd_dataset_options_t options = {.data_dir = s_fixture("idx")};
    byzgd_dataset_t *data = byzgd_dataset_load("mnist", &options, error, sizeof error);
    ASSERT_MSG(data, "%s", error);
    ASSERT_STR_EQ(data->name, "mnist");
    s_check_idx_fixture(data, 20);
    byzgd_dataset_destroy(&data);
    ASSERT(data == NULL);
}

TEST(idx_gzip_fixture_directory)
{
    char error[512];
    byzgd_dataset_options_t options = {.data_dir = s_fixture("idx"), .split = BYZGD_SPLIT_TEST};
    byzgd_dataset_t *data = byzgd_dataset_load("fashion-mnist", &options, error, sizeof error);
    ASSERT_MSG(data, "%s", error);
    s_check_idx_fixture(data, 12);
    byzgd_dataset_destroy(&data);
    options.limit = 5;
    data = byzgd_dataset_load("fashion-mnist", &options, error, sizeof error);
    ASSERT_MSG(data, "%s", error);
    s_check_idx_fixture(data, 5);
    byzgd_dataset_destroy(&data);
}

TEST(idx_gzip_and_plain_buffers_agree)
{
    size_t images_size, labels_size, images_gz_size, labels_gz_size;
    uint8_t *images = s_idx_images(37, 5, 6, &images_size);
    uint8_t *labels = s_idx_labels(37, &labels_size);
    uint8_t *images_gz = s_gzip(images, images_size, &images_gz_size);
    uint8_t *labels_gz = s_gzip(labels, labels_size, &labels_gz_size);
    char error[256];
    byzgd_dataset_t *plain =
        byzgd_idx_parse(images, images_size, labels, labels_size, "x", error, sizeof error);
    ASSERT_MSG(plain, "%s", error);
    byzgd_dataset_t *packed = byzgd_idx_parse(images_gz, images_gz_size, labels_gz, labels_gz_size,
                                              "x", error, sizeof error);
    ASSERT_MSG(packed, "%s", error);
    ASSERT_EQ_INT(plain->height, 5);
    ASSERT_EQ_INT(plain->width, 6);
    ASSERT(s_datasets_equal(plain, packed));
    ASSERT_NEAR(plain->features[1], 7.0 / 255.0, 1e-7);
    // Two concatenated gzip members decode like one (as gunzip does).
    size_t half = images_size / 2, first_size, second_size;
    uint8_t *first = s_gzip(images, half, &first_size);
    uint8_t *second = s_gzip(images + half, images_size - half, &second_size);
    uint8_t *both = malloc(first_size + second_size);
    memcpy(both, first, first_size);
    memcpy(both + first_size, second, second_size);
    byzgd_dataset_t *members = byzgd_idx_parse(both, first_size + second_size, labels, labels_size,
                                               "x", error, sizeof error);
    ASSERT_MSG(members, "%s", error);
    ASSERT(s_datasets_equal(plain, members));
    byzgd_dataset_destroy(&members);
    byzgd_dataset_destroy(&plain);
    byzgd_dataset_destroy(&packed);
    free(images), free(labels), free(images_gz), free(labels_gz);
    free(first), free(second), free(both);
}

TEST(idx_rejects_bad_headers)
{
    size_t images_size, labels_size, bad_size, wrong_count_size;
    uint8_t *images = s_idx_images(20, 4, 3, &images_size);
    uint8_t *labels = s_idx_labels(20, &labels_size);
    char error[256];
    // Wrong magic (first bytes not zero).
    images[0] = 'P';
    ASSERT(!byzgd_idx_parse(images, images_size, labels, labels_size, "x", error, sizeof error));
    ASSERT_STR_CONTAINS(error, "not an IDX file");
    images[0] = 0;
    // Wrong element type (committed fixture: float elements).
    uint8_t *bad = s_read(s_fixture("idx-bad/wrong-type-images"), &bad_size);
    ASSERT(!byzgd_idx_parse(bad, bad_size, labels, labels_size, "x", error, sizeof error));
    ASSERT_STR_CONTAINS(error, "element type 0x0d");
    free(bad);
    // Images given where labels belong: wrong dimension count.
    ASSERT(!byzgd_idx_parse(images, images_size, images, images_size, "x", error, sizeof error));
    ASSERT_STR_CONTAINS(error, "3 dimensions, expected 1");
    // 20 images, 19 labels (committed fixture).
    uint8_t *wrong_count = s_read(s_fixture("idx-bad/mismatch-labels"), &wrong_count_size);
    ASSERT(!byzgd_idx_parse(images, images_size, wrong_count, wrong_count_size, "x", error,
                            sizeof error));
    ASSERT_STR_CONTAINS(error, "20 images but 19 labels");
    free(wrong_count);
    // A label outside 0..9.
    labels[8 + 5] = 10;
    ASSERT(!byzgd_idx_parse(images, images_size, labels, labels_size, "x", error, sizeof error));
    ASSERT_STR_CONTAINS(error, "label 10 at index 5");
    labels[8 + 5] = 5;
    // Trailing bytes after the announced pixels.
    uint8_t *longer = malloc(images_size + 1);
    memcpy(longer, images, images_size);
    longer[images_size] = 0;
    ASSERT(
        !byzgd_idx_parse(longer, images_size + 1, labels, labels_size, "x", error, sizeof error));
    ASSERT_STR_CONTAINS(error, "trailing data");
    free(longer);
    // Zero-sized images.
    images[15] = 0;
    ASSERT(!byzgd_idx_parse(images, images_size, labels, labels_size, "x", error, sizeof error));
    ASSERT_STR_CONTAINS(error, "implausible image size");
    free(images), free(labels);
}

TEST(idx_truncated_at_every_length)
{
    size_t images_size, labels_size, gz_size;
    uint8_t *images = s_idx_images(20, 4, 3, &images_size);
    uint8_t *labels = s_idx_labels(20, &labels_size);
    char error[256];
    for (size_t cut = 0; cut < images_size; cut++) {
        // An exact-size copy, so ASan sees any read past the cut.
        uint8_t *part = malloc(cut ? cut : 1);
        memcpy(part, images, cut);
        error[0] = 0;
        ASSERT_MSG(!byzgd_idx_parse(part, cut, labels, labels_size, "x", error, sizeof error),
                   "accepted %zu of %zu bytes", cut, images_size);
        ASSERT_MSG(strstr(error, "truncated") || strstr(error, "not an IDX"), "cut %zu: %s", cut,
                   error);
        free(part);
    }
    for (size_t cut = 0; cut < labels_size; cut++) {
        uint8_t *part = malloc(cut ? cut : 1);
        memcpy(part, labels, cut);
        ASSERT(!byzgd_idx_parse(images, images_size, part, cut, "x", error, sizeof error));
        free(part);
    }
    uint8_t *gz = s_gzip(images, images_size, &gz_size);
    for (size_t cut = 2; cut < gz_size; cut++) {
        uint8_t *part = malloc(cut);
        memcpy(part, gz, cut);
        error[0] = 0;
        ASSERT_MSG(!byzgd_idx_parse(part, cut, labels, labels_size, "x", error, sizeof error),
                   "accepted gzip cut at %zu of %zu", cut, gz_size);
        ASSERT_MSG(error[0], "no message for gzip cut at %zu", cut);
        free(part);
    }
    // The committed truncated gzip, through the file loader's message path.
    size_t truncated_size;
    uint8_t *truncated = s_read(s_fixture("idx-bad/truncated-images.gz"), &truncated_size);
    ASSERT(
        !byzgd_idx_parse(truncated, truncated_size, labels, labels_size, "x", error, sizeof error));
    ASSERT_STR_CONTAINS(error, "gzip");
    free(truncated), free(gz), free(images), free(labels);
}

TEST(idx_huge_header_allocates_nothing_big)
{
    // 2^32 − 1 images of 4096 × 4096 announced, 12 bytes present: refused from the sizes
    // alone (ASan would abort on a multi-terabyte allocation request).
    size_t images_size, labels_size;
    uint8_t *images = s_read(s_fixture("idx-bad/huge-images"), &images_size);
    const uint8_t labels[8] = {0, 0, 8, 1, 0xff, 0xff, 0xff, 0xff};
    labels_size = sizeof labels;
    char error[256];
    ASSERT(!byzgd_idx_parse(images, images_size, labels, labels_size, "x", error, sizeof error));
    ASSERT_STR_CONTAINS(error, "truncated");
    free(images);
}

TEST(idx_missing_directory_says_what_to_install)
{
    char error[512];
    byzgd_dataset_options_t options = {.data_dir = "/nonexistent/byzgd"};
    ASSERT(!byzgd_dataset_load("fashion-mnist", &options, error, sizeof error));
    ASSERT_STR_CONTAINS(error, "/nonexistent/byzgd/train-images-idx3-ubyte");
    ASSERT_STR_CONTAINS(error, "dataset-fashion-mnist");
    // A corrupt file in an otherwise complete directory names the file.
    char directory[512];
    snprintf(directory, sizeof directory, "%s", byzgd_test_tmpdir());
    char path[600];
    size_t size;
    uint8_t *data = s_read(s_fixture("idx-bad/truncated-images.gz"), &size);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", directory);
    s_write(path, data, size);
    free(data);
    data = s_read(s_fixture("idx/train-labels-idx1-ubyte"), &size);
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", directory);
    s_write(path, data, size);
    free(data);
    options.data_dir = directory;
    ASSERT(!byzgd_dataset_load("fashion-mnist", &options, error, sizeof error));
    ASSERT_STR_CONTAINS(error, "train-images-idx3-ubyte.gz");
    ASSERT_STR_CONTAINS(error, "truncated gzip");
}

// True when the Debian package's Fashion-MNIST is there; otherwise says the test skips.
static bool
s_fashion_mnist_installed(void)
{
    struct stat info;
    if (stat("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", &info) == 0)
        return true;
    printf("skip: Fashion-MNIST not installed\n");
    return false;
}

TEST(idx_real_fashion_mnist_if_installed)
{
    if (!s_fashion_mnist_installed())
        return;
    char error[512];
    byzgd_dataset_options_t options = {.split = BYZGD_SPLIT_TEST};
    byzgd_dataset_t *data = byzgd_dataset_load("fashion-mnist", &options, error, sizeof error);
    ASSERT_MSG(data, "%s", error);
    ASSERT_EQ_INT(data->count, 10000);
    ASSERT_EQ_INT(data->height, 28);
    ASSERT_EQ_INT(data->width, 28);
    size_t counts[10];
    byzgd_dataset_class_counts(data, counts);
    for (int c = 0; c < 10; c++)
        ASSERT_EQ_INT(counts[c], 1000);
    double sum = 0, max = 0;
    for (size_t i = 0; i < data->count * data->feature_count; i++) {
        sum += data->features[i];
        max = data->features[i] > max ? data->features[i] : max;
    }
    ASSERT_NEAR(sum / (double)(data->count * data->feature_count), 0.2868, 0.002);
    ASSERT_NEAR(max, 1.0, 0);
    byzgd_dataset_destroy(&data);
}

TEST(idx_cache_is_mapped_shared_and_rebuilt_when_corrupt)
{
    // The first load decodes and writes the cache, then maps it; the second maps it
    // without decoding; both hold the same bytes. A corrupted cache is decoded again and
    // replaced; `limit` cuts a mapped set too.
    if (!s_fashion_mnist_installed())
        return;
    char error[512];
    byzgd_dataset_options_t options = {.split = BYZGD_SPLIT_TEST, .cache_dir = byzgd_test_tmpdir()};
    byzgd_dataset_t *first = byzgd_dataset_load("fashion-mnist", &options, error, sizeof error);
    ASSERT_MSG(first, "%s", error);
    ASSERT(first->mapping);
    byzgd_dataset_t *second = byzgd_dataset_load("fashion-mnist", &options, error, sizeof error);
    ASSERT_MSG(second, "%s", error);
    ASSERT(second->mapping && second->mapping != first->mapping);
    ASSERT_EQ_INT(second->count, 10000);
    ASSERT(memcmp(first->features, second->features, 10000 * 784 * sizeof(float)) == 0);
    ASSERT(memcmp(first->labels, second->labels, 10000) == 0);
    byzgd_dataset_destroy(&second);
    // Corrupt a label byte of the cache file (the only file in the directory).
    char path[4096];
    DIR *directory = opendir(options.cache_dir);
    ASSERT(directory);
    struct dirent *entry;
    while ((entry = readdir(directory)))
        if (strstr(entry->d_name, ".f32"))
            snprintf(path, sizeof path, "%s/%s", options.cache_dir, entry->d_name);
    closedir(directory);
    FILE *file = fopen(path, "r+b");
    ASSERT(file);
    ASSERT_EQ_INT(fseek(file, -1, SEEK_END), 0);
    ASSERT_EQ_INT(fputc(200, file), 200);
    ASSERT_EQ_INT(fclose(file), 0);
    options.limit = 123;
    second = byzgd_dataset_load("fashion-mnist", &options, error, sizeof error);
    ASSERT_MSG(second, "%s", error);
    ASSERT_EQ_INT(second->count, 123);
    ASSERT(second->mapping); // rebuilt and mapped
    ASSERT(memcmp(first->features, second->features, 123 * 784 * sizeof(float)) == 0);
    ASSERT(second->labels[9999] < 10); // the corrupted byte, decoded again
    byzgd_dataset_destroy(&second);
    byzgd_dataset_destroy(&first);
}

// The kB of resident memory smaps reports for the mapping that starts at `start`.
static long
s_mapping_rss_kb(const void *start)
{
    FILE *smaps = fopen("/proc/self/smaps", "r");
    ASSERT(smaps);
    char line[512], wanted[32];
    snprintf(wanted, sizeof wanted, "%lx-", (unsigned long)(uintptr_t)start);
    bool inside = false;
    long rss = -1;
    while (rss < 0 && fgets(line, sizeof line, smaps)) {
        if (strncmp(line, wanted, strlen(wanted)) == 0)
            inside = true;
        else if (inside && sscanf(line, "Rss: %ld kB", &rss) == 1)
            break;
    }
    fclose(smaps);
    return rss;
}

TEST(idx_cache_mapping_is_read_only_and_a_shard_maps_none_of_it)
{
    // The cache is mapped read-only (no process can write the shared pages), and a shard
    // reads its rows from the file: cutting a 20th of the set leaves the mapping's resident
    // size at the pages of the header and labels, instead of (fault-around) most of the
    // file. The rows equal those of the same set held in ordinary memory.
    if (!s_fashion_mnist_installed())
        return;
    char error[512];
    byzgd_dataset_options_t options = {.split = BYZGD_SPLIT_TEST, .cache_dir = byzgd_test_tmpdir()};
    byzgd_dataset_t *mapped = byzgd_dataset_load("fashion-mnist", &options, error, sizeof error);
    ASSERT_MSG(mapped, "%s", error);
    ASSERT(mapped->mapping);
    FILE *maps = fopen("/proc/self/maps", "r");
    ASSERT(maps);
    char line[512], wanted[32], permissions[8] = "";
    snprintf(wanted, sizeof wanted, "%lx-", (unsigned long)(uintptr_t)mapped->mapping);
    while (fgets(line, sizeof line, maps))
        if (strncmp(line, wanted, strlen(wanted)) == 0)
            sscanf(line, "%*s %7s", permissions);
    fclose(maps);
    ASSERT_MSG(strncmp(permissions, "r--", 3) == 0, "cache mapped with %s", permissions);

    byzgd_dataset_t *plain = byzgd_dataset_new(mapped->count, 1, mapped->height, mapped->width,
                                               mapped->class_count, mapped->name);
    ASSERT(plain);
    memcpy(plain->features, mapped->features,
           mapped->count * mapped->feature_count * sizeof(float));
    memcpy(plain->labels, mapped->labels, mapped->count);
    // The copy above touched every page: map the set again for the shard.
    byzgd_dataset_destroy(&mapped);
    mapped = byzgd_dataset_load("fashion-mnist", &options, error, sizeof error);
    ASSERT_MSG(mapped && mapped->mapping, "%s", error);
    byzgd_dataset_t *from_file = byzgd_dataset_shard(mapped, 3, 20, 0, 7, error, sizeof error);
    ASSERT_MSG(from_file, "%s", error);
    long rss_kb = s_mapping_rss_kb(mapped->mapping);
    long size_kb = (long)(mapped->mapping_size / 1024);
    ASSERT_MSG(rss_kb >= 0 && rss_kb < size_kb / 8, "mapping resident %ld of %ld kB", rss_kb,
               size_kb);
    byzgd_dataset_t *from_memory = byzgd_dataset_shard(plain, 3, 20, 0, 7, error, sizeof error);
    ASSERT_MSG(from_memory, "%s", error);
    ASSERT_EQ_INT(from_file->count, from_memory->count);
    ASSERT(memcmp(from_file->features, from_memory->features,
                  from_file->count * from_file->feature_count * sizeof(float)) == 0);
    ASSERT(memcmp(from_file->labels, from_memory->labels, from_file->count) == 0);
    byzgd_dataset_destroy(&from_memory);
    byzgd_dataset_destroy(&from_file);
    byzgd_dataset_destroy(&plain);
    byzgd_dataset_destroy(&mapped);
}

// ---- SpamAssassin: JSON extraction

TEST(spam_json_decodes_escapes)
{
    const char *json = " {\"id\":\"7\",\"checksum\":{\"type\":\"MD5\",\"v\":[1,-2.5e3,true,"
                       "null,false,{}]},\"te\\u0078t\":\"a\\n\\t\\\"q\\\"\\\\\\/\\u00e9\\u20ac"
                       "\\ud83d\\ude00\\u0000z\",\"tail\":0} \n";
    char *text = NULL;
    size_t size = 0;
    char error[256];
    ASSERT_MSG(
        byzgd_spam_json_field(&text, &size, json, strlen(json), "text", error, sizeof error) == 0,
        "%s", error);
    const char expected[] = "a\n\t\"q\"\\/\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\0z";
    ASSERT_EQ_INT(size, sizeof expected - 1);
    ASSERT(memcmp(text, expected, size) == 0);
    ASSERT_EQ_INT(text[size], 0);
    free(text);
    // Raw UTF-8 passes through unchanged.
    const char *raw = "{\"text\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}";
    ASSERT(byzgd_spam_json_field(&text, &size, raw, strlen(raw), "text", error, sizeof error) == 0);
    ASSERT_STR_EQ(text, "caf\xc3\xa9 \xf0\x9f\x98\x80");
    free(text);
}

TEST(spam_json_refuses_malformed_fixtures)
{
    const struct {
        const char *file, *message;
    } cases[] = {
        {"missing-text.json", "no \"text\" field"}, {"text-not-string.json", "not a string"},
        {"duplicate-text.json", "appears twice"},   {"unterminated.json", "unterminated string"},
        {"bad-escape.json", "unknown escape"},      {"lone-surrogate.json", "high surrogate"},
        {"control-char.json", "control character"}, {"trailing.json", "trailing characters"},
        {"bad-utf8.json", "invalid UTF-8"},         {"not-object.json", "expected an object"},
        {"deep.json", "nested too deeply"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[600];
        snprintf(path, sizeof path, "spam-bad/%s", cases[i].file);
        size_t size;
        uint8_t *data = s_read(s_fixture(path), &size);
        char *text = (char *)1;
        size_t text_size = 99;
        char error[256] = "";
        ASSERT_MSG(byzgd_spam_json_field(&text, &text_size, (const char *)data, size, "text", error,
                                         sizeof error) == -1,
                   "%s accepted", cases[i].file);
        ASSERT_MSG(strstr(error, cases[i].message), "%s: \"%s\" lacks \"%s\"", cases[i].file, error,
                   cases[i].message);
        ASSERT(text == NULL && text_size == 0);
        free(data);
    }
    // Every proper prefix of a valid mail is refused too.
    const char *json = "{\"id\":\"1\",\"n\":[1.5,{\"a\":null}],\"text\":\"x\\u00e9y\"}";
    size_t length = strlen(json);
    for (size_t cut = 0; cut < length; cut++) {
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, json, cut);
        char *text = NULL;
        size_t text_size;
        char error[256];
        ASSERT_MSG(
            byzgd_spam_json_field(&text, &text_size, copy, cut, "text", error, sizeof error) == -1,
            "prefix of %zu bytes accepted", cut);
        free(copy);
    }
}

TEST(spam_json_fixture_mails)
{
    size_t size;
    uint8_t *data = s_read(s_fixture("spam/data/spam-1/00002.json"), &size);
    char *text;
    size_t text_size;
    char error[256];
    ASSERT_MSG(byzgd_spam_json_field(&text, &text_size, (const char *)data, size, "text", error,
                                     sizeof error) == 0,
               "%s", error);
    ASSERT_STR_EQ(text, "Subject: Cheap meds\n\nCheap meds online, no prescription, click now "
                        "\xf0\x9f\x98\x80");
    free(text);
    free(data);
}

// ---- SpamAssassin: features

static uint64_t
s_fnv(const char *text)
{
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (; *text; text++)
        hash = (hash ^ (uint8_t)*text) * 0x100000001b3ULL;
    return hash;
}

TEST(spam_features_follow_the_recipe)
{
    enum { D = 4096 };
    float *features = malloc(D * sizeof *features);
    float *expected = calloc(D, sizeof *expected);
    // Subject tokens hash with the "s:" prefix, body tokens without; case folds; "a" (too
    // short) and a 33-character run (too long) are dropped; other headers are ignored.
    const char *text = "From: Someone <x@y>\nSUBJECT: Hello\n World\nX-Other: hello\n\n"
                       "Hello, hello WORLD a 123456789012345678901234567890123 tab\tend";
    byzgd_spam_features(features, text, strlen(text), D);
    expected[s_fnv("s:hello") % D] += 1;
    expected[s_fnv("s:world") % D] += 1;
    expected[s_fnv("hello") % D] += 2;
    expected[s_fnv("world") % D] += 1;
    expected[s_fnv("tab") % D] += 1;
    expected[s_fnv("end") % D] += 1;
    double norm_sq = 0;
    for (int j = 0; j < D; j++) {
        expected[j] = (float)log1p(expected[j]);
        norm_sq += (double)expected[j] * expected[j];
    }
    double check = 0;
    for (int j = 0; j < D; j++) {
        ASSERT_NEAR(features[j], expected[j] / sqrt(norm_sq), 1e-6);
        check += (double)features[j] * features[j];
    }
    ASSERT_NEAR(check, 1.0, 1e-6);
    // No tokens at all: the zero vector (no division by zero).
    byzgd_spam_features(features, "Subject: !\n\n?? ..", 17, D);
    for (int j = 0; j < D; j++)
        ASSERT_EQ_INT(features[j], 0);
    free(features);
    free(expected);
}

// ---- SpamAssassin: corpus, cache, split

TEST(spam_fixture_corpus_and_cache)
{
    char error[512];
    byzgd_dataset_options_t options = {.data_dir = s_fixture("spam"),
                                       .cache_dir = byzgd_test_tmpdir(),
                                       .spam_feature_count = 64,
                                       .seed = 3};
    byzgd_dataset_t *train = byzgd_dataset_load("spam", &options, error, sizeof error);
    ASSERT_MSG(train, "%s", error);
    ASSERT_STR_EQ(train->name, "spam");
    ASSERT_EQ_INT(train->feature_count, 64);
    ASSERT_EQ_INT(train->class_count, 2);
    // 5 ham and 5 spam: round(20 %) = 1 of each label is test.
    size_t counts[2];
    byzgd_dataset_class_counts(train, counts);
    ASSERT_EQ_INT(counts[0], 4);
    ASSERT_EQ_INT(counts[1], 4);
    options.split = BYZGD_SPLIT_TEST;
    byzgd_dataset_t *test = byzgd_dataset_load("spam", &options, error, sizeof error);
    ASSERT_MSG(test, "%s", error);
    byzgd_dataset_class_counts(test, counts);
    ASSERT_EQ_INT(counts[0], 1);
    ASSERT_EQ_INT(counts[1], 1);
    // The second load came from the cache: equal to a fresh build.
    char cache[600];
    snprintf(cache, sizeof cache, "%s/cache-D64.bin", byzgd_test_tmpdir());
    struct stat info;
    ASSERT(stat(cache, &info) == 0);
    // Corrupt the cache: the next load warns, rebuilds, and gives the same examples.
    size_t size;
    uint8_t *data = s_read(cache, &size);
    data[size / 2] ^= 0x40;
    s_write(cache, data, size);
    free(data);
    options.split = BYZGD_SPLIT_TRAIN;
    byzgd_dataset_t *again = byzgd_dataset_load("spam", &options, error, sizeof error);
    ASSERT_MSG(again, "%s", error);
    ASSERT(s_datasets_equal(train, again));
    data = s_read(cache, &size);
    byzgd_dataset_t *corpus = byzgd_spam_cache_parse(data, size, 1, error, sizeof error);
    ASSERT_MSG(corpus, "rebuilt cache: %s", error);
    ASSERT_EQ_INT(corpus->count, 10);
    // Canonical order: easy-ham-1 (3), hard-ham-1 (2), spam-1 (2), spam-2 (3).
    const uint8_t labels[10] = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1};
    ASSERT(memcmp(corpus->labels, labels, 10) == 0);
    // Every mail has tokens, so every row has unit norm.
    for (size_t i = 0; i < corpus->count; i++) {
        double norm_sq = 0;
        for (size_t j = 0; j < 64; j++)
            norm_sq += (double)corpus->features[i * 64 + j] * corpus->features[i * 64 + j];
        ASSERT_NEAR(norm_sq, 1.0, 1e-5);
    }
    free(data);
    byzgd_dataset_destroy(&corpus);
    // Another seed: another split of the same corpus.
    options.seed = 4;
    options.limit = 3;
    byzgd_dataset_t *limited = byzgd_dataset_load("spam", &options, error, sizeof error);
    ASSERT_MSG(limited, "%s", error);
    ASSERT_EQ_INT(limited->count, 3);
    byzgd_dataset_destroy(&limited);
    byzgd_dataset_destroy(&train);
    byzgd_dataset_destroy(&test);
    byzgd_dataset_destroy(&again);
}

TEST(spam_cache_concurrent_builders)
{
    // Four processes start on an empty cache directory at once (as 20 workers do): each
    // builds, writes its own temporary file and renames it; all succeed, no temporary file
    // is left and the cache that remains is sound.
    const char *directory = byzgd_test_tmpdir(); // created before forking, shared by all
    pid_t children[4];
    for (int c = 0; c < 4; c++) {
        children[c] = fork();
        ASSERT(children[c] >= 0);
        if (children[c] == 0) {
            char error[512];
            byzgd_dataset_options_t options = {
                .data_dir = s_fixture("spam"), .cache_dir = directory, .spam_feature_count = 32};
            byzgd_dataset_t *data = byzgd_dataset_load("spam", &options, error, sizeof error);
            int ok = data && data->count == 8;
            byzgd_dataset_destroy(&data);
            _exit(ok ? 0 : 1);
        }
    }
    for (int c = 0; c < 4; c++) {
        int status;
        ASSERT(waitpid(children[c], &status, 0) == children[c]);
        ASSERT_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "builder %d failed", c);
    }
    char command[700];
    snprintf(command, sizeof command, "test $(ls -A '%s' | wc -l) -eq 1", directory);
    ASSERT_MSG(system(command) == 0, "temporary files left in the cache directory");
    char cache[600];
    snprintf(cache, sizeof cache, "%s/cache-D32.bin", directory);
    size_t size;
    uint8_t *data = s_read(cache, &size);
    char error[256];
    byzgd_dataset_t *corpus = byzgd_spam_cache_parse(data, size, 1, error, sizeof error);
    ASSERT_MSG(corpus, "%s", error);
    ASSERT_EQ_INT(corpus->count, 10);
    byzgd_dataset_destroy(&corpus);
    free(data);
}

TEST(spam_missing_corpus_says_run_install_deps)
{
    char error[512];
    byzgd_dataset_options_t options = {.data_dir = "/nonexistent/spam",
                                       .cache_dir = byzgd_test_tmpdir()};
    ASSERT(!byzgd_dataset_load("spam", &options, error, sizeof error));
    ASSERT_STR_CONTAINS(error, "deploy/install-deps.sh");
    ASSERT_STR_CONTAINS(error, "/nonexistent/spam/data");
    options.spam_feature_count = 8;
    ASSERT(!byzgd_dataset_load("spam", &options, error, sizeof error));
    ASSERT_STR_CONTAINS(error, "feature dimension 8");
}

TEST(spam_cache_round_trip_and_corruption)
{
    byzgd_dataset_t *corpus = byzgd_dataset_new(13, 1, 1, 32, 2, "spam");
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 5, 0);
    for (size_t i = 0; i < corpus->count; i++) {
        corpus->labels[i] = (uint8_t)(i % 3 == 0);
        for (size_t j = 0; j < 32; j++)
            if (byzgd_rng_uniform(&rng) < 0.3)
                corpus->features[i * 32 + j] = (float)byzgd_rng_uniform(&rng) + 1e-3f;
    }
    // One all-zero row (a mail without tokens) must survive too.
    memset(corpus->features + 4 * 32, 0, 32 * sizeof(float));
    uint8_t *data;
    size_t size;
    char error[256];
    ASSERT_MSG(byzgd_spam_cache_encode(&data, &size, corpus, error, sizeof error) == 0, "%s",
               error);
    byzgd_dataset_t *back = byzgd_spam_cache_parse(data, size, 1, error, sizeof error);
    ASSERT_MSG(back, "%s", error);
    ASSERT(s_datasets_equal(corpus, back));
    byzgd_dataset_destroy(&back);
    // Any flipped bit is caught by the checksum (or, in the CRC itself, by the mismatch).
    for (size_t i = 0; i < size; i++) {
        data[i] ^= 0x10;
        error[0] = 0;
        back = byzgd_spam_cache_parse(data, size, 1, error, sizeof error);
        ASSERT_MSG(!back, "flipped byte %zu accepted", i);
        ASSERT_MSG(error[0], "no message for flipped byte %zu", i);
        data[i] ^= 0x10;
    }
    for (size_t cut = 0; cut < size; cut++) {
        uint8_t *part = malloc(cut ? cut : 1);
        memcpy(part, data, cut);
        ASSERT_MSG(!byzgd_spam_cache_parse(part, cut, 0, error, sizeof error),
                   "truncated at %zu accepted", cut);
        free(part);
    }
    free(data);
    // Negative or non-finite features cannot be encoded.
    corpus->features[3] = -1;
    ASSERT(byzgd_spam_cache_encode(&data, &size, corpus, error, sizeof error) == -1);
    byzgd_dataset_destroy(&corpus);
}

TEST(spam_split_is_stratified_and_seeded)
{
    byzgd_dataset_t *corpus = byzgd_dataset_new(150, 1, 1, 1, 2, "spam");
    for (size_t i = 0; i < 150; i++)
        corpus->labels[i] = i >= 100;
    uint8_t a[150], b[150], c[150];
    byzgd_spam_split(a, corpus, 1);
    byzgd_spam_split(b, corpus, 1);
    byzgd_spam_split(c, corpus, 2);
    ASSERT(memcmp(a, b, 150) == 0);
    ASSERT(memcmp(a, c, 150) != 0);
    size_t test_ham = 0, test_spam = 0;
    for (size_t i = 0; i < 150; i++) {
        test_ham += a[i] && i < 100;
        test_spam += a[i] && i >= 100;
    }
    ASSERT_EQ_INT(test_ham, 20);
    ASSERT_EQ_INT(test_spam, 10);
    byzgd_dataset_destroy(&corpus);
}

TEST(spam_real_corpus_if_installed)
{
    const char *home = getenv("HOME");
    char path[600];
    snprintf(path, sizeof path, "%s/.local/share/byzgd/spam-assassin/data/spam-1",
             home ? home : "/nonexistent");
    struct stat info;
    if (stat(path, &info) != 0) {
        printf("skip: SpamAssassin corpus not installed\n");
        return;
    }
    // Build into the private directory (not the shared cache), with a small D for speed.
    char error[512];
    char root[600];
    snprintf(root, sizeof root, "%s/.local/share/byzgd/spam-assassin", home);
    byzgd_dataset_options_t options = {
        .data_dir = root, .cache_dir = byzgd_test_tmpdir(), .spam_feature_count = 64};
    byzgd_dataset_t *train = byzgd_dataset_load("spam", &options, error, sizeof error);
    ASSERT_MSG(train, "%s", error);
    options.split = BYZGD_SPLIT_TEST;
    byzgd_dataset_t *test = byzgd_dataset_load("spam", &options, error, sizeof error);
    ASSERT_MSG(test, "%s", error);
    size_t train_counts[2], test_counts[2];
    byzgd_dataset_class_counts(train, train_counts);
    byzgd_dataset_class_counts(test, test_counts);
    // 4150 ham (easy-ham-1/2, hard-ham-1) and 1896 spam JSON mails.
    ASSERT_EQ_INT(train_counts[0] + test_counts[0], 4150);
    ASSERT_EQ_INT(train_counts[1] + test_counts[1], 1896);
    ASSERT_EQ_INT(test_counts[0], 830);
    ASSERT_EQ_INT(test_counts[1], 379);
    byzgd_dataset_destroy(&train);
    byzgd_dataset_destroy(&test);
}

// ---- synthetic

TEST(synthetic_is_deterministic_and_separable)
{
    char error[256];
    byzgd_dataset_options_t options = {.seed = 11,
                                       .synthetic_count = 600,
                                       .synthetic_feature_count = 16,
                                       .synthetic_class_count = 4,
                                       .synthetic_separation = 4.0};
    byzgd_dataset_t *a = byzgd_dataset_load("synthetic", &options, error, sizeof error);
    byzgd_dataset_t *b = byzgd_dataset_load("synthetic", &options, error, sizeof error);
    ASSERT_MSG(a && b, "%s", error);
    ASSERT(s_datasets_equal(a, b));
    options.split = BYZGD_SPLIT_TEST;
    byzgd_dataset_t *test = byzgd_dataset_load("synthetic", &options, error, sizeof error);
    options.split = BYZGD_SPLIT_TRAIN;
    options.seed = 12;
    byzgd_dataset_t *other = byzgd_dataset_load("synthetic", &options, error, sizeof error);
    ASSERT(test && other);
    ASSERT(!s_datasets_equal(a, test));
    ASSERT(!s_datasets_equal(a, other));
    // Train and test share the mixture: class means estimated on train classify test well.
    double means[4][16] = {{0}};
    size_t counts[4];
    byzgd_dataset_class_counts(a, counts);
    for (size_t i = 0; i < a->count; i++)
        for (size_t j = 0; j < 16; j++)
            means[a->labels[i]][j] += a->features[i * 16 + j] / (double)counts[a->labels[i]];
    size_t correct = 0;
    for (size_t i = 0; i < test->count; i++) {
        size_t best = 0;
        double best_distance = INFINITY;
        for (size_t c = 0; c < 4; c++) {
            double distance = 0;
            for (size_t j = 0; j < 16; j++) {
                double diff = test->features[i * 16 + j] - means[c][j];
                distance += diff * diff;
            }
            if (distance < best_distance)
                best_distance = distance, best = c;
        }
        correct += best == test->labels[i];
    }
    ASSERT_MSG(correct > 0.85 * (double)test->count, "nearest mean: %zu of %zu", correct,
               test->count);
    for (size_t c = 0; c < 4; c++)
        ASSERT_MSG(counts[c] > 100, "class %zu has %zu examples", c, counts[c]);
    byzgd_dataset_destroy(&a);
    byzgd_dataset_destroy(&b);
    byzgd_dataset_destroy(&test);
    byzgd_dataset_destroy(&other);
}

TEST(synthetic_shapes_and_errors)
{
    char error[256];
    byzgd_dataset_t *data = byzgd_dataset_load("synthetic", NULL, error, sizeof error);
    ASSERT_MSG(data, "%s", error);
    ASSERT_EQ_INT(data->count, 1000);
    ASSERT_EQ_INT(data->feature_count, 20);
    ASSERT_EQ_INT(data->class_count, 2);
    byzgd_dataset_destroy(&data);
    byzgd_dataset_options_t options = {.synthetic_height = 8, .synthetic_class_count = 10};
    data = byzgd_dataset_load("synthetic", &options, error, sizeof error);
    ASSERT_MSG(data, "%s", error);
    ASSERT_EQ_INT(data->channels, 1);
    ASSERT_EQ_INT(data->height, 8);
    ASSERT_EQ_INT(data->width, 8);
    ASSERT_EQ_INT(data->feature_count, 64);
    byzgd_dataset_destroy(&data);
    options.synthetic_class_count = 1;
    ASSERT(!byzgd_dataset_load("synthetic", &options, error, sizeof error));
    ASSERT_STR_CONTAINS(error, "class count 1");
    options.synthetic_class_count = 2;
    options.synthetic_count = (size_t)1 << 40;
    ASSERT(!byzgd_dataset_load("synthetic", &options, error, sizeof error));
    ASSERT(!byzgd_dataset_load("cifar", NULL, error, sizeof error));
    ASSERT_STR_CONTAINS(error, "unknown dataset 'cifar'");
}

// ---- shards and sampling

static byzgd_dataset_t *
s_labelled(size_t count, size_t class_count)
{
    byzgd_dataset_t *data = byzgd_dataset_new(count, 1, 1, 2, class_count, "t");
    for (size_t i = 0; i < count; i++) {
        data->labels[i] = (uint8_t)(i % class_count);
        data->features[2 * i] = (float)i; // identifies the example
        data->features[2 * i + 1] = -(float)i;
    }
    return data;
}

static void
s_check_cover(const byzgd_dataset_t *full, size_t count, double alpha, uint64_t seed,
              size_t *sizes_out)
{
    char error[256];
    uint8_t *seen = calloc(full->count, 1);
    for (size_t s = 0; s < count; s++) {
        byzgd_dataset_t *shard =
            byzgd_dataset_shard(full, s, count, alpha, seed, error, sizeof error);
        ASSERT_MSG(shard, "shard %zu: %s", s, error);
        ASSERT(shard->count > 0);
        for (size_t i = 0; i < shard->count; i++) {
            size_t original = (size_t)shard->features[2 * i];
            ASSERT(original < full->count);
            ASSERT_EQ_INT(seen[original], 0);
            ASSERT_EQ_INT(shard->labels[i], full->labels[original]);
            ASSERT_NEAR(shard->features[2 * i + 1], -(double)original, 0);
            seen[original] = 1;
        }
        if (sizes_out)
            sizes_out[s] = shard->count;
        byzgd_dataset_destroy(&shard);
    }
    for (size_t i = 0; i < full->count; i++)
        ASSERT_MSG(seen[i], "example %zu in no shard", i);
    free(seen);
}

TEST(shard_iid_covers_exactly_once)
{
    byzgd_dataset_t *full = s_labelled(1003, 10);
    size_t sizes[7];
    s_check_cover(full, 7, 0.0, 42, sizes);
    for (int s = 0; s < 7; s++)
        ASSERT_MSG(sizes[s] == 143 || sizes[s] == 144, "shard %d has %zu", s, sizes[s]);
    // Same seed, same partition; another seed, another one.
    size_t a[1003], b[1003], c[1003];
    char error[256];
    ASSERT(byzgd_dataset_partition(a, full, 7, 0.0, 42, error, sizeof error) == 0);
    ASSERT(byzgd_dataset_partition(b, full, 7, 0.0, 42, error, sizeof error) == 0);
    ASSERT(byzgd_dataset_partition(c, full, 7, 0.0, 43, error, sizeof error) == 0);
    ASSERT(memcmp(a, b, sizeof a) == 0);
    ASSERT(memcmp(a, c, sizeof a) != 0);
    // One shard is the whole set.
    s_check_cover(full, 1, 0.0, 1, sizes);
    ASSERT_EQ_INT(sizes[0], 1003);
    byzgd_dataset_destroy(&full);
}

// Mean over shards of the largest label fraction: 1/classes when balanced, 1 when each
// shard holds a single label.
static double
s_skew(const byzgd_dataset_t *full, size_t count, double alpha, uint64_t seed)
{
    size_t *shard_of = malloc(full->count * sizeof *shard_of);
    char error[256];
    ASSERT_MSG(byzgd_dataset_partition(shard_of, full, count, alpha, seed, error, sizeof error) ==
                   0,
               "%s", error);
    double total = 0;
    for (size_t s = 0; s < count; s++) {
        size_t per_label[10] = {0}, size = 0, largest = 0;
        for (size_t i = 0; i < full->count; i++)
            if (shard_of[i] == s)
                per_label[full->labels[i]]++, size++;
        for (int c = 0; c < 10; c++)
            largest = per_label[c] > largest ? per_label[c] : largest;
        total += (double)largest / (double)size;
    }
    free(shard_of);
    return total / (double)count;
}

TEST(shard_dirichlet_covers_once_and_skews)
{
    byzgd_dataset_t *full = s_labelled(2000, 10);
    s_check_cover(full, 10, 0.1, 7, NULL);
    s_check_cover(full, 10, 100.0, 7, NULL);
    s_check_cover(full, 20, 0.05, 8, NULL);
    double skewed = s_skew(full, 10, 0.1, 7), balanced = s_skew(full, 10, 100.0, 7);
    ASSERT_MSG(skewed > 0.5, "alpha 0.1: mean largest label share %.3f", skewed);
    ASSERT_MSG(balanced < 0.2, "alpha 100: mean largest label share %.3f", balanced);
    size_t a[2000], b[2000];
    char error[256];
    ASSERT(byzgd_dataset_partition(a, full, 10, 0.5, 3, error, sizeof error) == 0);
    ASSERT(byzgd_dataset_partition(b, full, 10, 0.5, 3, error, sizeof error) == 0);
    ASSERT(memcmp(a, b, sizeof a) == 0);
    byzgd_dataset_destroy(&full);
}

TEST(shard_errors)
{
    byzgd_dataset_t *full = s_labelled(5, 2);
    char error[256];
    ASSERT(!byzgd_dataset_shard(full, 3, 3, 0.0, 1, error, sizeof error));
    ASSERT_STR_CONTAINS(error, "out of range");
    ASSERT(!byzgd_dataset_shard(full, 0, 6, 0.0, 1, error, sizeof error));
    ASSERT_STR_CONTAINS(error, "fewer than the 6 shards");
    ASSERT(!byzgd_dataset_shard(full, 0, 2, -1.0, 1, error, sizeof error));
    ASSERT_STR_CONTAINS(error, "alpha");
    ASSERT(!byzgd_dataset_shard(full, 0, 0, 0.0, 1, error, sizeof error));
    // 5 examples over 5 workers with a tiny alpha: some worker stays empty.
    ASSERT(!byzgd_dataset_shard(full, 0, 5, 1e-3, 1, error, sizeof error));
    ASSERT_STR_CONTAINS(error, "still empty");
    byzgd_dataset_destroy(&full);
}

// byzgd-simulate's contexts view the shared training set instead of copying their shards:
// a view holds the copied shard's labels, gives its rows and samples exactly what it
// samples; a view of a view reads the first set's rows.
TEST(shard_view_samples_what_the_copied_shard_samples)
{
    byzgd_dataset_t *full = s_labelled(101, 3);
    char error[256];
    for (int dirichlet = 0; dirichlet < 2; dirichlet++) {
        double alpha = dirichlet ? 0.5 : 0.0;
        byzgd_dataset_t *copied = byzgd_dataset_shard(full, 2, 4, alpha, 9, error, sizeof error);
        byzgd_dataset_t *view = byzgd_dataset_shard_view(full, 2, 4, alpha, 9, error, sizeof error);
        ASSERT_MSG(copied && view, "%s", error);
        ASSERT_EQ_INT(view->count, copied->count);
        ASSERT(view->features == NULL);
        ASSERT(memcmp(view->labels, copied->labels, copied->count) == 0);
        float gathered[101 * 2];
        const float *rows = byzgd_dataset_rows(view, 1, view->count - 1, gathered);
        ASSERT(memcmp(rows, copied->features + 2, (copied->count - 1) * 2 * sizeof(float)) == 0);
        ASSERT(byzgd_dataset_rows(copied, 1, 2, gathered) == copied->features + 2);
        float features_a[40 * 2], features_b[40 * 2];
        uint8_t labels_a[40], labels_b[40];
        byzgd_rng_t rng_a, rng_b;
        byzgd_rng_seed(&rng_a, 5, 1);
        byzgd_rng_seed(&rng_b, 5, 1);
        byzgd_dataset_sample(copied, &rng_a, 40, features_a, labels_a);
        byzgd_dataset_sample(view, &rng_b, 40, features_b, labels_b);
        ASSERT(memcmp(features_a, features_b, sizeof features_a) == 0);
        ASSERT(memcmp(labels_a, labels_b, sizeof labels_a) == 0);
        // Shard 1 of 2 of the view: the same examples as shard 1 of 2 of the copy.
        byzgd_dataset_t *of_view = byzgd_dataset_shard_view(view, 1, 2, 0, 3, error, sizeof error);
        byzgd_dataset_t *of_copy = byzgd_dataset_shard(copied, 1, 2, 0, 3, error, sizeof error);
        ASSERT_MSG(of_view && of_copy, "%s", error);
        ASSERT_EQ_INT(of_view->count, of_copy->count);
        rows = byzgd_dataset_rows(of_view, 0, of_view->count, gathered);
        ASSERT(memcmp(rows, of_copy->features, of_copy->count * 2 * sizeof(float)) == 0);
        // A copy selected from a view copies the viewed rows.
        byzgd_dataset_t *copy_of_view = byzgd_dataset_shard(view, 1, 2, 0, 3, error, sizeof error);
        ASSERT_MSG(copy_of_view, "%s", error);
        ASSERT(memcmp(copy_of_view->features, of_copy->features,
                      of_copy->count * 2 * sizeof(float)) == 0);
        byzgd_dataset_destroy(&copy_of_view);
        byzgd_dataset_destroy(&of_view);
        byzgd_dataset_destroy(&of_copy);
        byzgd_dataset_destroy(&view);
        byzgd_dataset_destroy(&copied);
    }
    ASSERT(!byzgd_dataset_shard_view(full, 4, 4, 0.0, 1, error, sizeof error));
    ASSERT_STR_CONTAINS(error, "out of range");
    byzgd_dataset_destroy(&full);
}

TEST(sample_is_seeded_and_uniform)
{
    byzgd_dataset_t *full = s_labelled(50, 5);
    float features_a[64 * 2], features_b[64 * 2];
    uint8_t labels_a[64], labels_b[64];
    byzgd_rng_t rng_a, rng_b;
    byzgd_rng_seed(&rng_a, 9, 2);
    byzgd_rng_seed(&rng_b, 9, 2);
    byzgd_dataset_sample(full, &rng_a, 64, features_a, labels_a);
    byzgd_dataset_sample(full, &rng_b, 64, features_b, labels_b);
    ASSERT(memcmp(features_a, features_b, sizeof features_a) == 0);
    ASSERT(memcmp(labels_a, labels_b, sizeof labels_a) == 0);
    for (int b = 0; b < 64; b++) {
        size_t original = (size_t)features_a[2 * b];
        ASSERT(original < 50);
        ASSERT_EQ_INT(labels_a[b], original % 5);
        ASSERT_NEAR(features_a[2 * b + 1], -(double)original, 0);
    }
    byzgd_dataset_sample(full, &rng_a, 64, features_b, labels_b);
    ASSERT(memcmp(features_a, features_b, sizeof features_a) != 0);
    // Uniform over examples: 50 000 draws, each example near 1000.
    size_t hits[50] = {0};
    for (int round = 0; round < 50000 / 64 + 1; round++) {
        byzgd_dataset_sample(full, &rng_a, 64, features_a, labels_a);
        for (int b = 0; b < 64; b++)
            hits[(size_t)features_a[2 * b]]++;
    }
    for (int i = 0; i < 50; i++)
        ASSERT_MSG(hits[i] > 850 && hits[i] < 1170, "example %d drawn %zu times", i, hits[i]);
    byzgd_dataset_destroy(&full);
}

static const byzgd_test_case_t cases[] = {
    TEST_CASE(idx_plain_fixture_directory),
    TEST_CASE(idx_gzip_fixture_directory),
    TEST_CASE(idx_gzip_and_plain_buffers_agree),
    TEST_CASE(idx_rejects_bad_headers),
    TEST_CASE(idx_truncated_at_every_length),
    TEST_CASE(idx_huge_header_allocates_nothing_big),
    TEST_CASE(idx_missing_directory_says_what_to_install),
    TEST_CASE(idx_real_fashion_mnist_if_installed),
    TEST_CASE(idx_cache_is_mapped_shared_and_rebuilt_when_corrupt),
    TEST_CASE(idx_cache_mapping_is_read_only_and_a_shard_maps_none_of_it),
    TEST_CASE(spam_json_decodes_escapes),
    TEST_CASE(spam_json_refuses_malformed_fixtures),
    TEST_CASE(spam_json_fixture_mails),
    TEST_CASE(spam_features_follow_the_recipe),
    TEST_CASE(spam_fixture_corpus_and_cache),
    TEST_CASE(spam_cache_concurrent_builders),
    TEST_CASE(spam_missing_corpus_says_run_install_deps),
    TEST_CASE(spam_cache_round_trip_and_corruption),
    TEST_CASE(spam_split_is_stratified_and_seeded),
    TEST_CASE_TIMEOUT(spam_real_corpus_if_installed, 120),
    TEST_CASE(synthetic_is_deterministic_and_separable),
    TEST_CASE(synthetic_shapes_and_errors),
    TEST_CASE(shard_iid_covers_exactly_once),
    TEST_CASE(shard_dirichlet_covers_once_and_skews),
    TEST_CASE(shard_errors),
    TEST_CASE(shard_view_samples_what_the_copied_shard_samples),
    TEST_CASE(sample_is_seeded_and_uniform),
};
BYZGD_TEST_MAIN(cases)
