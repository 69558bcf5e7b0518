/*  test_util.c — the seeded generator and the JSON writer. */
#include "support/files.h"
#include "support/json.h"
#include "support/rng.h"
#include "test.h"

#include <dirent.h>
#include <sys/stat.h>

TEST(rng_same_seed_same_sequence)
{
    byzgd_rng_t a, b;
    byzgd_rng_seed(&a, 42, 3);
    byzgd_rng_seed(&b, 42, 3);
    for (int i = 0; i < 1000; i++)
        ASSERT_EQ_INT(byzgd_rng_next(&a), byzgd_rng_next(&b));
}

TEST(rng_streams_differ)
{
    byzgd_rng_t a, b;
    byzgd_rng_seed(&a, 42, 0);
    byzgd_rng_seed(&b, 42, 1);
    int equal = 0;
    for (int i = 0; i < 100; i++)
        equal += byzgd_rng_next(&a) == byzgd_rng_next(&b);
    ASSERT_EQ_INT(equal, 0);
}

TEST(rng_gaussian_moments)
{
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 7, 0);
    double sum = 0, sum_sq = 0;
    int count = 200000;
    for (int i = 0; i < count; i++) {
        double x = byzgd_rng_gaussian(&rng);
        sum += x;
        sum_sq += x * x;
    }
    ASSERT_NEAR(sum / count, 0.0, 0.01);
    ASSERT_NEAR(sum_sq / count, 1.0, 0.02);
}

// The ziggurat's layers, wedges and tail together give the normal distribution: the
// empirical CDF of 10^6 draws stays within the Kolmogorov–Smirnov bound of Phi (1.95 /
// sqrt(n): a 0.1 % level), and the mass beyond the tail's start R and beyond 4 matches.
static int
s_compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

TEST(rng_gaussian_distribution)
{
    enum { COUNT = 1000000 };
    double *x = malloc(COUNT * sizeof *x);
    ASSERT(x != NULL);
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 11, 3);
    size_t beyond_r = 0, beyond_4 = 0;
    for (size_t i = 0; i < COUNT; i++) {
        x[i] = byzgd_rng_gaussian(&rng);
        beyond_r += fabs(x[i]) > 3.442619855899;
        beyond_4 += fabs(x[i]) > 4.0;
    }
    qsort(x, COUNT, sizeof *x, s_compare_doubles);
    double worst = 0;
    for (size_t i = 0; i < COUNT; i++) {
        double phi = 0.5 * erfc(-x[i] / sqrt(2.0));
        double below = (double)i / COUNT, upto = (double)(i + 1) / COUNT;
        worst = fmax(worst, fmax(fabs(phi - below), fabs(upto - phi)));
    }
    free(x);
    ASSERT(worst < 1.95 / sqrt((double)COUNT));
    // P(|X| > R) = 5.76e-4 (576 expected, sd 24); P(|X| > 4) = 6.33e-5 (63, sd 8).
    ASSERT(beyond_r > 576 - 4 * 24 && beyond_r < 576 + 4 * 24);
    ASSERT(beyond_4 > 63 - 4 * 8 && beyond_4 < 63 + 4 * 8);
}

// FNV-1a over the floats' bytes (little-endian bit patterns): a fingerprint of a sequence.
static uint64_t
s_float_fingerprint(const float *values, size_t count)
{
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, &values[i], sizeof bits);
        for (int byte = 0; byte < 4; byte++) {
            hash ^= (bits >> (8 * byte)) & 0xff;
            hash *= 0x100000001b3ULL;
        }
    }
    return hash;
}

// The fill against byzgd_rng_gaussian one value at a time, converted as the fill converts:
// the same floats and the same generator state afterwards, for short fills of every length
// up to 50 on many seeds and for long ones (a million values meet the tail beyond R, about
// 0.06 % of trials, and the wedge's rejections, about 1.2 %).
TEST(rng_gaussian_fill_equals_draws)
{
    const double scales[] = {1.0, 200.0, 1e-3, 14.0};
    float filled[50];
    for (uint64_t seed = 0; seed < 40; seed++)
        for (size_t count = 0; count <= 50; count++) {
            double scale = scales[(seed + count) % 4];
            byzgd_rng_t a, b;
            byzgd_rng_seed(&a, seed, count);
            b = a;
            byzgd_rng_gaussian_fill(&a, filled, count, scale);
            for (size_t i = 0; i < count; i++)
                ASSERT(filled[i] == (float)(scale * byzgd_rng_gaussian(&b)));
            ASSERT(memcmp(&a, &b, sizeof a) == 0);
        }
    size_t count = 1000000, tail = 0;
    float *values = malloc(count * sizeof *values);
    ASSERT(values != NULL);
    for (int s = 0; s < 3; s++) {
        byzgd_rng_t a, b;
        byzgd_rng_seed(&a, 11 + (uint64_t)s, 4);
        b = a;
        byzgd_rng_gaussian_fill(&a, values, count, scales[s]);
        for (size_t i = 0; i < count; i++) {
            double value = byzgd_rng_gaussian(&b);
            ASSERT(values[i] == (float)(scales[s] * value));
            tail += fabs(value) > 3.442619855899; // R: drawn by the tail's own path
        }
        ASSERT(memcmp(&a, &b, sizeof a) == 0);
    }
    free(values);
    ASSERT(tail > 1000); // about 3 x 576: the tail path was exercised
}

// The sequence itself: values and fingerprints the fill gave before it was restructured for
// speed. Every stored result (the README's figures, docs/RESULTS.md) depends on it, so a
// change that moves one bit must fail here.
TEST(rng_gaussian_fill_known_values)
{
    const float first[8] = {0x1.0a9564p-1f,  0x1.c18a3ap-2f,  -0x1.877a08p+0f, -0x1.533266p-2f,
                            -0x1.112e68p-3f, -0x1.e3cabap-1f, -0x1.ae5012p+0f, 0x1.cc7f54p-1f};
    float head[8];
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 1, 0);
    byzgd_rng_gaussian_fill(&rng, head, 8, 1.0);
    for (int i = 0; i < 8; i++)
        ASSERT_MSG(head[i] == first[i], "value %d: %a, expected %a", i, (double)head[i],
                   (double)first[i]);
    const double scales[] = {1.0, 200.0, 1e-3};
    const uint64_t fingerprints[] = {0x35fb52fe3078bb8eULL, 0x2038f710e56a6483ULL,
                                     0x6e91243eb4fbe04dULL};
    size_t count = 1000000;
    float *values = malloc(count * sizeof *values);
    ASSERT(values != NULL);
    for (int s = 0; s < 3; s++) {
        byzgd_rng_seed(&rng, 7, 2);
        byzgd_rng_gaussian_fill(&rng, values, count, scales[s]);
        ASSERT_MSG(s_float_fingerprint(values, count) == fingerprints[s], "scale %g: %#llx",
                   scales[s], (unsigned long long)s_float_fingerprint(values, count));
        ASSERT(byzgd_rng_next(&rng) == 0x8d0e43270b6bb3eULL);
    }
    free(values);
}

TEST(rng_gamma_mean)
{
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 9, 0);
    const double shapes[] = {0.3, 1.0, 4.5};
    for (int s = 0; s < 3; s++) {
        double sum = 0;
        for (int i = 0; i < 100000; i++)
            sum += byzgd_rng_gamma(&rng, shapes[s]);
        ASSERT_NEAR(sum / 100000, shapes[s], 0.05 * shapes[s] + 0.01);
    }
}

TEST(rng_below_and_shuffle)
{
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 1, 0);
    int histogram[5] = {0};
    for (int i = 0; i < 50000; i++)
        histogram[byzgd_rng_below(&rng, 5)]++;
    for (int k = 0; k < 5; k++)
        ASSERT_NEAR(histogram[k], 10000, 400);
    size_t values[100];
    for (size_t i = 0; i < 100; i++)
        values[i] = i;
    byzgd_rng_shuffle(&rng, values, 100);
    int seen[100] = {0}, moved = 0;
    for (size_t i = 0; i < 100; i++) {
        seen[values[i]]++;
        moved += values[i] != i;
    }
    for (int i = 0; i < 100; i++)
        ASSERT_EQ_INT(seen[i], 1);
    ASSERT(moved > 50);
}

TEST(json_nesting_commas_and_escapes)
{
    byzgd_json_t *json = byzgd_json_new();
    byzgd_json_object_begin(json);
    byzgd_json_key_int(json, "round", 3);
    byzgd_json_key_array_begin(json, "selected");
    byzgd_json_int(json, 4);
    byzgd_json_int(json, 7);
    byzgd_json_array_end(json);
    byzgd_json_key_object_begin(json, "rejected");
    byzgd_json_key_int(json, "stale", 1);
    byzgd_json_object_end(json);
    byzgd_json_key_double(json, "loss", NAN);
    byzgd_json_key_string(json, "rule", "a\"b\\c\n");
    byzgd_json_key_bool(json, "ok", true);
    byzgd_json_object_end(json);
    ASSERT_STR_EQ(byzgd_json_text(json),
                  "{\"round\":3,\"selected\":[4,7],\"rejected\":{\"stale\":1},"
                  "\"loss\":null,\"rule\":\"a\\\"b\\\\c\\u000a\",\"ok\":true}");
    byzgd_json_reset(json);
    byzgd_json_array_begin(json);
    byzgd_json_double(json, 0.5);
    byzgd_json_array_end(json);
    ASSERT_STR_EQ(byzgd_json_text(json), "[0.5]");
    byzgd_json_destroy(&json);
    ASSERT(json == NULL);
}

TEST(crc32_check_value)
{
    ASSERT_EQ_INT(byzgd_crc32("123456789", 9), 0xCBF43926u); // the CRC-32 check value
    ASSERT_EQ_INT(byzgd_crc32("", 0), 0);
}

// Files in dir (excluding . and ..).
static int
s_entries(const char *dir)
{
    DIR *handle = opendir(dir);
    int count = 0;
    for (struct dirent *entry; handle && (entry = readdir(handle));)
        count += entry->d_name[0] != '.';
    if (handle)
        closedir(handle);
    return count;
}

static char *
s_read(const char *path)
{
    static char text[256];
    FILE *file = fopen(path, "rb");
    if (!file)
        return NULL;
    size_t size = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[size] = '\0';
    return text;
}

TEST(atomic_write_replaces_or_leaves_untouched)
{
    char path[512], error[256];
    snprintf(path, sizeof path, "%s/file", byzgd_test_tmpdir());
    ASSERT_MSG(byzgd_atomic_write(path, 0640, "first", 5, error, sizeof error) == 0, "%s", error);
    ASSERT_STR_EQ(s_read(path), "first");
    struct stat info;
    ASSERT_EQ_INT(stat(path, &info), 0);
    ASSERT_EQ_INT(info.st_mode & 0777, 0640);
    // Parts in order, then commit: the new content replaces the old.
    byzgd_atomic_file_t *file = byzgd_atomic_file_open(path, 0644, error, sizeof error);
    ASSERT(file);
    ASSERT_EQ_INT(byzgd_atomic_file_write(file, "sec", 3), 0);
    ASSERT_EQ_INT(s_entries(byzgd_test_tmpdir()), 2); // the target and the temporary file
    ASSERT_STR_EQ(s_read(path), "first");             // untouched until the commit
    ASSERT_EQ_INT(byzgd_atomic_file_write(file, "ond", 3), 0);
    ASSERT_EQ_INT(byzgd_atomic_file_commit(&file, error, sizeof error), 0);
    ASSERT(file == NULL);
    ASSERT_STR_EQ(s_read(path), "second");
    // Abort: the target keeps its content and no temporary file stays.
    file = byzgd_atomic_file_open(path, 0644, error, sizeof error);
    byzgd_atomic_file_write(file, "third", 5);
    byzgd_atomic_file_abort(&file);
    ASSERT_STR_EQ(s_read(path), "second");
    ASSERT_EQ_INT(s_entries(byzgd_test_tmpdir()), 1);
    // A directory that does not exist: an error naming the path, nothing written.
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no-such-dir/file", byzgd_test_tmpdir());
    ASSERT_EQ_INT(byzgd_atomic_write(missing, 0644, "x", 1, error, sizeof error), -1);
    ASSERT_STR_CONTAINS(error, "no-such-dir");
    ASSERT_EQ_INT(s_entries(byzgd_test_tmpdir()), 1);
}

static const byzgd_test_case_t cases[] = {
    TEST_CASE(rng_same_seed_same_sequence),
    TEST_CASE(rng_streams_differ),
    TEST_CASE(rng_gaussian_moments),
    TEST_CASE(rng_gaussian_distribution),
    TEST_CASE(rng_gaussian_fill_equals_draws),
    TEST_CASE(rng_gaussian_fill_known_values),
    TEST_CASE(rng_gamma_mean),
    TEST_CASE(rng_below_and_shuffle),
    TEST_CASE(json_nesting_commas_and_escapes),
    TEST_CASE(crc32_check_value),
    TEST_CASE(atomic_write_replaces_or_leaves_untouched),
};
BYZGD_TEST_MAIN(cases)
