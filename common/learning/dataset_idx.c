/*  dataset_idx.c — IDX files (MNIST, Fashion-MNIST), gzip'ed or plain.
    IDX: two zero bytes, a type byte (0x08 = unsigned byte), a dimension count, then one
    big-endian uint32 per dimension, then the values. Images are 3-dimensional
    (count, rows, columns), labels 1-dimensional (count). Every size in a header is checked
    against the bytes actually present before anything is allocated for it. */
#include "dataset.h"
#include "dataset_private.h"
#include "support/log.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

// Largest compressed file read, and largest decompressed IDX accepted: far above
// Fashion-MNIST's 47 MB of training images, far below what would hurt a 20-worker host.
#define S_MAX_FILE_SIZE   ((size_t)512 << 20)
#define S_MAX_DECODED     ((size_t)1 << 30)
#define S_IDX_TYPE_UBYTE  0x08
#define S_IDX_CLASS_COUNT 10

// The decoded image cache: a 64-byte header (magic, version, count, height, width, the
// identity of the two source files), count x height x width little-endian floats, then
// count label bytes. Each process maps it read-only: one copy in the page cache however
// many workers read it, and each touches only the pages of the examples it uses.
static const uint8_t s_cache_magic[8] = {'B', 'Y', 'Z', 'G', 'D', 'I', 'M', 'G'};
#define S_CACHE_VERSION 1u
#define S_CACHE_HEADER  64
// Image files below this size (test fixtures) decode in no time: they are not cached.
#define S_CACHE_MIN_SOURCE ((size_t)1 << 20)

static uint32_t
s_be32(const uint8_t *bytes)
{
    return (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 | bytes[3];
}

static int
s_is_gzip(const uint8_t *data, size_t size)
{
    return size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

// Inflates a gzip stream (several members allowed, as gunzip does) into a malloc'ed buffer
// that grows by doubling up to S_MAX_DECODED. Returns 0, or -1 with a message.
static int
s_gunzip(uint8_t **out, size_t *out_size, const uint8_t *data, size_t size, const char *what,
         char *error, size_t error_size)
{
    *out = NULL;
    *out_size = 0;
    // The gzip trailer's ISIZE (length mod 2^32) is only a hint for the first allocation.
    size_t capacity = 1 << 16;
    if (size >= 18) {
        size_t hint = s_be32(
            (const uint8_t[]){data[size - 1], data[size - 2], data[size - 3], data[size - 4]});
        if (hint > capacity && hint <= S_MAX_DECODED && hint / 1032 <= size)
            capacity = hint;
    }
    uint8_t *buffer = malloc(capacity);
    if (!buffer)
        return byzgd_set_error(error, error_size, "%s: out of memory", what);
    z_stream stream;
    memset(&stream, 0, sizeof stream);
    if (inflateInit2(&stream, 15 + 16) != Z_OK) {
        free(buffer);
        return byzgd_set_error(error, error_size, "%s: zlib initialisation failed", what);
    }
    stream.next_in = (Bytef *)data;
    size_t used = 0, remaining_in = size;
    int status = -1;
    for (;;) {
        if (used == capacity) {
            if (capacity >= S_MAX_DECODED) {
                byzgd_set_error(error, error_size,
                                "%s: decompresses to more than %zu bytes, not an IDX file", what,
                                S_MAX_DECODED);
                goto cleanup;
            }
            size_t grown = capacity * 2 > S_MAX_DECODED ? S_MAX_DECODED : capacity * 2;
            uint8_t *bigger = realloc(buffer, grown);
            if (!bigger) {
                byzgd_set_error(error, error_size, "%s: out of memory", what);
                goto cleanup;
            }
            buffer = bigger;
            capacity = grown;
        }
        // zlib counts in uInt: feed and drain at most 1 GiB per call.
        uInt in_chunk = remaining_in > (1u << 30) ? (1u << 30) : (uInt)remaining_in;
        uInt out_chunk = capacity - used > (1u << 30) ? (1u << 30) : (uInt)(capacity - used);
        stream.avail_in = in_chunk;
        stream.next_out = buffer + used;
        stream.avail_out = out_chunk;
        int result = inflate(&stream, Z_NO_FLUSH);
        remaining_in -= in_chunk - stream.avail_in;
        used += out_chunk - stream.avail_out;
        if (result == Z_STREAM_END) {
            if (remaining_in == 0)
                break;
            // Another gzip member follows.
            if (inflateReset(&stream) != Z_OK) {
                byzgd_set_error(error, error_size, "%s: zlib reset failed", what);
                goto cleanup;
            }
            continue;
        }
        if (result == Z_BUF_ERROR && remaining_in == 0 && stream.avail_out > 0) {
            byzgd_set_error(error, error_size, "%s: truncated gzip data", what);
            goto cleanup;
        }
        if (result != Z_OK && result != Z_BUF_ERROR) {
            byzgd_set_error(error, error_size, "%s: corrupt gzip data (%s)", what,
                            stream.msg ? stream.msg : "zlib error");
            goto cleanup;
        }
        if (remaining_in == 0 && stream.avail_out > 0) {
            byzgd_set_error(error, error_size, "%s: truncated gzip data", what);
            goto cleanup;
        }
    }
    status = 0;
cleanup:
    inflateEnd(&stream);
    if (status != 0) {
        free(buffer);
        return -1;
    }
    *out = buffer;
    *out_size = used;
    return 0;
}

// Plain bytes pass through as a borrowed pointer; gzip is inflated into *owned.
static int
s_decode(const uint8_t **plain, size_t *plain_size, uint8_t **owned, const uint8_t *data,
         size_t size, const char *what, char *error, size_t error_size)
{
    *owned = NULL;
    if (!s_is_gzip(data, size)) {
        *plain = data;
        *plain_size = size;
        return 0;
    }
    if (s_gunzip(owned, plain_size, data, size, what, error, error_size) != 0)
        return -1;
    *plain = *owned;
    return 0;
}

// Checks an IDX header of `dimensions` ubyte dimensions; fills sizes[] and returns the
// payload offset, or 0 with a message.
static size_t
s_idx_header(uint32_t *sizes, const uint8_t *data, size_t size, unsigned dimensions,
             const char *what, char *error, size_t error_size)
{
    size_t header_size = 4 + 4 * (size_t)dimensions;
    if (size < 4) {
        byzgd_set_error(error, error_size, "%s: truncated IDX file (%zu bytes, no header)", what,
                        size);
        return 0;
    }
    if (data[0] != 0 || data[1] != 0) {
        byzgd_set_error(error, error_size,
                        "%s: not an IDX file (magic %02x %02x %02x %02x, expected 00 00 08 %02x)",
                        what, data[0], data[1], data[2], data[3], dimensions);
        return 0;
    }
    if (data[2] != S_IDX_TYPE_UBYTE) {
        byzgd_set_error(error, error_size,
                        "%s: IDX element type 0x%02x, only unsigned bytes (0x08) are supported",
                        what, data[2]);
        return 0;
    }
    if (data[3] != dimensions) {
        byzgd_set_error(error, error_size, "%s: IDX file has %u dimensions, expected %u", what,
                        data[3], dimensions);
        return 0;
    }
    if (size < header_size) {
        byzgd_set_error(error, error_size, "%s: truncated IDX header (%zu of %zu bytes)", what,
                        size, header_size);
        return 0;
    }
    for (unsigned i = 0; i < dimensions; i++)
        sizes[i] = s_be32(data + 4 + 4 * i);
    return header_size;
}

static byzgd_dataset_t *
s_idx_parse(const uint8_t *images_data, size_t images_data_size, const uint8_t *labels_data,
            size_t labels_data_size, const char *name, size_t limit, char *error, size_t error_size)
{
    const uint8_t *images, *labels;
    size_t images_size, labels_size;
    uint8_t *images_owned = NULL, *labels_owned = NULL;
    byzgd_dataset_t *self = NULL;
    char what[64];
    if (!images_data || !labels_data) {
        byzgd_set_error(error, error_size, "%s: no image or label bytes", name);
        return NULL;
    }
    snprintf(what, sizeof what, "%s images", name);
    if (s_decode(&images, &images_size, &images_owned, images_data, images_data_size, what, error,
                 error_size) != 0)
        goto cleanup;
    uint32_t image_dims[3];
    size_t image_offset = s_idx_header(image_dims, images, images_size, 3, what, error, error_size);
    if (!image_offset)
        goto cleanup;
    snprintf(what, sizeof what, "%s labels", name);
    if (s_decode(&labels, &labels_size, &labels_owned, labels_data, labels_data_size, what, error,
                 error_size) != 0)
        goto cleanup;
    uint32_t label_dims[1];
    size_t label_offset = s_idx_header(label_dims, labels, labels_size, 1, what, error, error_size);
    if (!label_offset)
        goto cleanup;

    size_t count = image_dims[0], height = image_dims[1], width = image_dims[2];
    if (height == 0 || width == 0 || height > 4096 || width > 4096) {
        byzgd_set_error(error, error_size, "%s images: implausible image size %zu×%zu", name,
                        height, width);
        goto cleanup;
    }
    if (label_dims[0] != count) {
        byzgd_set_error(error, error_size, "%s: %zu images but %u labels", name, count,
                        label_dims[0]);
        goto cleanup;
    }
    // 64-bit products: count ≤ 2^32 and height·width ≤ 2^24.
    uint64_t pixels = (uint64_t)count * height * width;
    if (images_size - image_offset != pixels) {
        byzgd_set_error(error, error_size,
                        "%s images: header announces %zu images of %zu×%zu (%llu bytes) but "
                        "%zu bytes follow the header (%s)",
                        name, count, height, width, (unsigned long long)pixels,
                        images_size - image_offset,
                        images_size - image_offset < pixels ? "truncated file" : "trailing data");
        goto cleanup;
    }
    if (labels_size - label_offset != count) {
        byzgd_set_error(error, error_size,
                        "%s labels: header announces %zu labels but %zu bytes follow (%s)", name,
                        count, labels_size - label_offset,
                        labels_size - label_offset < count ? "truncated file" : "trailing data");
        goto cleanup;
    }
    // The analyzer loses track of s_gunzip's success path and assumes a NULL buffer here.
    const uint8_t *label_bytes = labels + label_offset;
    if (!label_bytes)
        goto cleanup;
    for (size_t i = 0; i < count; i++)
        if (label_bytes[i] >= S_IDX_CLASS_COUNT) {
            byzgd_set_error(error, error_size, "%s labels: label %u at index %zu is not in 0..%d",
                            name, label_bytes[i], i, S_IDX_CLASS_COUNT - 1);
            goto cleanup;
        }
    if (limit && limit < count)
        count = limit;
    // Sizes are now backed by bytes actually present, so this allocation is bounded.
    self = byzgd_dataset_new(count, 1, height, width, S_IDX_CLASS_COUNT, name);
    if (!self) {
        byzgd_set_error(error, error_size, "%s: out of memory for %zu images", name, count);
        goto cleanup;
    }
    const uint8_t *pixel_bytes = images + image_offset;
    size_t total = count * self->feature_count;
    // Pixels / 255 in [0, 1]; division (not multiplication by 1/255) keeps 255 → 1 exact.
    for (size_t i = 0; i < total; i++)
        self->features[i] = (float)pixel_bytes[i] / 255.0f;
    memcpy(self->labels, label_bytes, count);
cleanup:
    free(images_owned);
    free(labels_owned);
    return self;
}

byzgd_dataset_t *
byzgd_idx_parse(const uint8_t *images, size_t images_size, const uint8_t *labels,
                size_t labels_size, const char *name, char *error, size_t error_size)
{
    return s_idx_parse(images, images_size, labels, labels_size, name ? name : "idx", 0, error,
                       error_size);
}

// Finds `<prefix>-<kind>-idx<n>-ubyte[.gz]` (or the `<prefix>-<kind>.idx<n>-ubyte` spelling
// of some MNIST mirrors) in directory. Returns 0 with the path, -1 if none exists.
static int
s_find_file(char *path, size_t path_size, const char *directory, const char *prefix,
            const char *kind, int dimensions)
{
    // {separator before "idx", extension}, in order of preference.
    const char *spellings[][2] = {{"-", ".gz"}, {"-", ""}, {".", ".gz"}, {".", ""}};
    for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
        int length = snprintf(path, path_size, "%s/%s-%s%sidx%d-ubyte%s", directory, prefix, kind,
                              spellings[i][0], dimensions, spellings[i][1]);
        if (length < 0 || (size_t)length >= path_size)
            return -1;
        FILE *file = fopen(path, "rb");
        if (file) {
            fclose(file);
            return 0;
        }
    }
    snprintf(path, path_size, "%s/%s-%s-idx%d-ubyte[.gz]", directory, prefix, kind, dimensions);
    return -1;
}

static uint64_t
s_le64(const uint8_t *bytes)
{
    uint64_t value = 0;
    for (int k = 7; k >= 0; k--)
        value = value << 8 | bytes[k];
    return value;
}

static void
s_put_le64(uint8_t *bytes, uint64_t value)
{
    for (int k = 0; k < 8; k++)
        bytes[k] = (uint8_t)(value >> (8 * k));
}

int
byzgd_image_cache_parse(const uint8_t *data, size_t size, size_t *count_out, size_t *height_out,
                        size_t *width_out, char *error, size_t error_size)
{
    if (size < S_CACHE_HEADER || memcmp(data, s_cache_magic, sizeof s_cache_magic) != 0)
        return byzgd_set_error(error, error_size, "not a byzgd image cache (%zu bytes)", size);
    if (s_le64(data + 8) != S_CACHE_VERSION)
        return byzgd_set_error(error, error_size, "image cache version %llu, expected %u",
                               (unsigned long long)s_le64(data + 8), S_CACHE_VERSION);
    uint64_t count = s_le64(data + 16), height = s_le64(data + 24), width = s_le64(data + 32);
    if (count == 0 || count > ((uint64_t)1 << 32) || height == 0 || width == 0 || height > 4096 ||
        width > 4096)
        return byzgd_set_error(
            error, error_size, "image cache: implausible shape %llu x %llu x %llu",
            (unsigned long long)count, (unsigned long long)height, (unsigned long long)width);
    // 64-bit products: count <= 2^32, height * width <= 2^24.
    uint64_t expected = S_CACHE_HEADER + count * height * width * sizeof(float) + count;
    if (expected != size)
        return byzgd_set_error(error, error_size, "image cache: %zu bytes, header implies %llu",
                               size, (unsigned long long)expected);
    const uint8_t *labels = data + size - count;
    for (uint64_t i = 0; i < count; i++)
        if (labels[i] >= S_IDX_CLASS_COUNT)
            return byzgd_set_error(error, error_size, "image cache: label %u of example %llu",
                                   labels[i], (unsigned long long)i);
    *count_out = count;
    *height_out = height;
    *width_out = width;
    return 0;
}

// The identity of a source file, so that a cache never outlives the files it decodes.
static uint64_t
s_file_identity(const char *path)
{
    struct stat info;
    if (stat(path, &info) != 0)
        return 0;
    return (uint64_t)info.st_size * 0x9E3779B97F4A7C15ULL ^ (uint64_t)info.st_mtime << 20 ^
           (uint64_t)info.st_ino;
}

// Maps the cache at `path` when it is sound and decodes `images_path`/`labels_path`.
static byzgd_dataset_t *
s_map_cache(const char *path, const char *name, uint64_t images_id, uint64_t labels_id)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat info;
    void *mapping = MAP_FAILED;
    if (fstat(fd, &info) == 0 && info.st_size >= S_CACHE_HEADER)
        // Read-only: every page stays the shared page cache's; nothing may write a loaded set.
        mapping = mmap(NULL, (size_t)info.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (mapping == MAP_FAILED) {
        close(fd);
        return NULL;
    }
    const uint8_t *data = mapping;
    size_t size = (size_t)info.st_size, count = 0, height = 0, width = 0;
    char error[256];
    if (byzgd_image_cache_parse(data, size, &count, &height, &width, error, sizeof error) != 0 ||
        s_le64(data + 40) != images_id || s_le64(data + 48) != labels_id) {
        munmap(mapping, size);
        close(fd);
        return NULL;
    }
    byzgd_dataset_t *self = calloc(1, sizeof *self);
    if (!self) {
        munmap(mapping, size);
        close(fd);
        return NULL;
    }
    self->count = count;
    self->channels = 1;
    self->height = height;
    self->width = width;
    self->feature_count = height * width;
    self->class_count = S_IDX_CLASS_COUNT;
    self->features = (float *)(void *)((uint8_t *)mapping + S_CACHE_HEADER);
    self->labels = (uint8_t *)mapping + size - count;
    self->mapping = mapping;
    self->mapping_size = size;
    self->mapping_fd = fd;
    snprintf(self->name, sizeof self->name, "%s", name);
    return self;
}

// Writes the cache atomically (a unique temporary file, then rename): concurrent workers
// never see a half-written cache, and the last of several writers wins with equal bytes.
static int
s_write_cache(const char *path, const byzgd_dataset_t *set, uint64_t images_id, uint64_t labels_id)
{
    char temporary[4200];
    snprintf(temporary, sizeof temporary, "%s.XXXXXX", path);
    int fd = mkstemp(temporary);
    if (fd < 0)
        return -1;
    uint8_t header[S_CACHE_HEADER] = {0};
    memcpy(header, s_cache_magic, sizeof s_cache_magic);
    s_put_le64(header + 8, S_CACHE_VERSION);
    s_put_le64(header + 16, set->count);
    s_put_le64(header + 24, set->height);
    s_put_le64(header + 32, set->width);
    s_put_le64(header + 40, images_id);
    s_put_le64(header + 48, labels_id);
    FILE *file = fdopen(fd, "wb");
    if (!file) {
        close(fd);
        unlink(temporary);
        return -1;
    }
    // Floats are written in the host's order: the cache is local to this machine kind
    // (x86-64 and arm64 are both little-endian, which the header's integers fix).
    bool ok = fwrite(header, 1, sizeof header, file) == sizeof header &&
              fwrite(set->features, sizeof(float), set->count * set->feature_count, file) ==
                  set->count * set->feature_count &&
              fwrite(set->labels, 1, set->count, file) == set->count;
    ok = (fchmod(fd, 0644) == 0) & ok;
    ok = (fclose(file) == 0) & ok;
    if (!ok || rename(temporary, path) != 0) {
        unlink(temporary);
        return -1;
    }
    return 0;
}

// The cache file's path for (name, prefix, the sources' identity), or -1 when no directory
// is known.
static int
s_cache_path(char *path, size_t path_size, const byzgd_dataset_options_t *options, const char *name,
             const char *prefix, uint64_t identity)
{
    char directory[2048];
    int length;
    if (options->cache_dir) {
        length = snprintf(directory, sizeof directory, "%s", options->cache_dir);
    } else {
        const char *base = getenv("BYZGD_DATA_DIR"), *home = getenv("HOME");
        if (base && *base)
            length = snprintf(directory, sizeof directory, "%s/cache", base);
        else if (home && *home)
            length = snprintf(directory, sizeof directory, "%s/.local/share/byzgd/cache", home);
        else
            return -1;
    }
    if (length < 0 || (size_t)length >= sizeof directory)
        return -1;
    // Create the directory and its parents (all but an existing last one may fail).
    for (char *slash = strchr(directory + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(directory, 0755);
        *slash = '/';
    }
    if (mkdir(directory, 0755) != 0 && errno != EEXIST)
        return -1;
    length = snprintf(path, path_size, "%s/%s-%s-%016llx.f32", directory, name, prefix,
                      (unsigned long long)identity);
    return length < 0 || (size_t)length >= path_size ? -1 : 0;
}

byzgd_dataset_t *
byzgd_dataset_load_idx(const char *name, const byzgd_dataset_options_t *options, char *error,
                       size_t error_size)
{
    int fashion = strcmp(name, "fashion-mnist") == 0;
    const char *directory = options->data_dir ? options->data_dir
                            : fashion         ? "/usr/share/datasets/fashion-mnist"
                                              : "/usr/share/datasets/mnist";
    const char *prefix = options->split == BYZGD_SPLIT_TEST ? "t10k" : "train";
    const char *hint = fashion ? "install the Debian package dataset-fashion-mnist "
                                 "(deploy/install-deps.sh) or pass the directory holding the "
                                 "IDX files"
                               : "pass the directory holding the MNIST IDX files";
    char images_path[4096], labels_path[4096];
    if (s_find_file(images_path, sizeof images_path, directory, prefix, "images", 3) != 0 ||
        s_find_file(labels_path, sizeof labels_path, directory, prefix, "labels", 1) != 0) {
        byzgd_set_error(error, error_size, "%s: %s not found: %s", name,
                        access(images_path, 0) == 0 ? labels_path : images_path, hint);
        return NULL;
    }
    // The decoded images, from the shared cache when it is there and matches the files.
    uint64_t images_id = s_file_identity(images_path), labels_id = s_file_identity(labels_path);
    char cache_path[4096];
    struct stat source;
    bool cached = stat(images_path, &source) == 0 && (size_t)source.st_size >= S_CACHE_MIN_SOURCE &&
                  s_cache_path(cache_path, sizeof cache_path, options, name, prefix,
                               images_id ^ labels_id * 31) == 0;
    if (cached) {
        byzgd_dataset_t *mapped = s_map_cache(cache_path, name, images_id, labels_id);
        if (mapped) {
            if (options->limit && options->limit < mapped->count)
                mapped->count = options->limit;
            return mapped;
        }
    }
    uint8_t *images = NULL, *labels = NULL;
    size_t images_size = 0, labels_size = 0;
    byzgd_dataset_t *self = NULL;
    if (byzgd_dataset_read_file(&images, &images_size, images_path, S_MAX_FILE_SIZE, error,
                                error_size) != 0 ||
        byzgd_dataset_read_file(&labels, &labels_size, labels_path, S_MAX_FILE_SIZE, error,
                                error_size) != 0)
        goto cleanup;
    // Name the files in messages: the parser only knows the dataset's name.
    char parse_error[512] = "";
    self = s_idx_parse(images, images_size, labels, labels_size, name, cached ? 0 : options->limit,
                       parse_error, sizeof parse_error);
    if (!self)
        byzgd_set_error(error, error_size, "%s (files %s, %s)", parse_error, images_path,
                        labels_path);
    // Write the cache and use it, so that this process shares its pages too. A cache that
    // cannot be written (read-only directory) only costs this process its private copy.
    if (self && cached && s_write_cache(cache_path, self, images_id, labels_id) == 0) {
        byzgd_dataset_t *mapped = s_map_cache(cache_path, name, images_id, labels_id);
        if (mapped) {
            byzgd_dataset_destroy(&self);
            self = mapped;
        }
    }
    if (self && options->limit && options->limit < self->count)
        self->count = options->limit;
cleanup:
    free(images);
    free(labels);
    return self;
}
