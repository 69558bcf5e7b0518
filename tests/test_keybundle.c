/*  test_keybundle.c — key bundles: keygen creates missing parents; a bundle holds the
    server's public certificate and exactly the slots asked for (never the server's
    secret), mode 0600; extraction refuses to replace files; hostile tar files (links,
    "..", absolute names, directories, missing secrets, truncation) are refused. */
#include "test.h"
#include "wire/keybundle.h"
#include "wire/security.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *
s_corpus(const char *name)
{
    static char path[4096];
    const char *root = getenv("BYZGD_ROOT");
    snprintf(path, sizeof path, "%s/tests/fuzz/corpus/keybundle/%s", root ? root : ".", name);
    return path;
}

static bool
s_same_file(const char *a, const char *b)
{
    char text_a[8192] = "", text_b[8192] = "";
    FILE *file = fopen(a, "r");
    if (!file)
        return false;
    size_t size_a = fread(text_a, 1, sizeof text_a, file);
    fclose(file);
    file = fopen(b, "r");
    if (!file)
        return false;
    size_t size_b = fread(text_b, 1, sizeof text_b, file);
    fclose(file);
    return size_a == size_b && memcmp(text_a, text_b, size_a) == 0;
}

TEST(keygen_creates_missing_parents)
{
    char keys[512], cert[600];
    char error[512];
    snprintf(keys, sizeof keys, "%s/a/b/keys", byzgd_test_tmpdir());
    ASSERT_MSG(byzgd_keys_generate(keys, 2, false, error, sizeof error) == 0, "%s", error);
    snprintf(cert, sizeof cert, "%s/server.cert_secret", keys);
    struct stat info;
    ASSERT(stat(cert, &info) == 0 && (info.st_mode & 0777) == 0600);
}

TEST(bundle_round_trip)
{
    char keys[512], bundle_path[512], out[512], a[700], b[700], error[512];
    snprintf(keys, sizeof keys, "%s/keys", byzgd_test_tmpdir());
    snprintf(bundle_path, sizeof bundle_path, "%s/h2.tar", byzgd_test_tmpdir());
    snprintf(out, sizeof out, "%s/host/keys", byzgd_test_tmpdir());
    ASSERT_MSG(byzgd_keys_generate(keys, 12, false, error, sizeof error) == 0, "%s", error);
    ASSERT_MSG(byzgd_key_bundle_write(keys, 8, 11, bundle_path, false, error, sizeof error) == 0,
               "%s", error);
    struct stat info;
    ASSERT(stat(bundle_path, &info) == 0 && (info.st_mode & 0777) == 0600);
    // Not twice without force; a range beyond the keys is refused and writes nothing.
    ASSERT_EQ_INT(byzgd_key_bundle_write(keys, 8, 11, bundle_path, false, error, sizeof error), -1);
    char beyond[600];
    snprintf(beyond, sizeof beyond, "%s/beyond.tar", byzgd_test_tmpdir());
    ASSERT_EQ_INT(byzgd_key_bundle_write(keys, 10, 12, beyond, false, error, sizeof error), -1);
    ASSERT(access(beyond, F_OK) != 0);

    byzgd_key_bundle_t *bundle = byzgd_key_bundle_load(bundle_path, error, sizeof error);
    ASSERT_MSG(bundle, "%s", error);
    ASSERT_EQ_INT(byzgd_key_bundle_slot_count(bundle), 4);
    for (size_t i = 0; i < 4; i++)
        ASSERT_EQ_INT(byzgd_key_bundle_slot(bundle, i), 8 + i);
    ASSERT_MSG(byzgd_key_bundle_extract(bundle, out, error, sizeof error) == 0, "%s", error);
    snprintf(a, sizeof a, "%s/server.cert", keys);
    snprintf(b, sizeof b, "%s/server.cert", out);
    ASSERT(s_same_file(a, b));
    snprintf(b, sizeof b, "%s/server.cert_secret", out);
    ASSERT(access(b, F_OK) != 0); // the server's secret stays home
    snprintf(a, sizeof a, "%s/workers/worker-009.cert_secret", keys);
    snprintf(b, sizeof b, "%s/workers/worker-009.cert_secret", out);
    ASSERT(s_same_file(a, b));
    ASSERT(stat(b, &info) == 0 && (info.st_mode & 0777) == 0600);
    snprintf(b, sizeof b, "%s/workers/worker-007.cert", out);
    ASSERT(access(b, F_OK) != 0);
    // Extracting again would replace files: refused.
    ASSERT_EQ_INT(byzgd_key_bundle_extract(bundle, out, error, sizeof error), -1);
    byzgd_key_bundle_destroy(&bundle);
}

TEST(hostile_bundles_are_refused)
{
    static const char *const hostile[] = {
        "symlink.tar", "hardlink.tar",  "dotdot.tar",         "absolute.tar",
        "dir.tar",     "truncated.tar", "missing-secret.tar", NULL};
    char error[512];
    for (size_t i = 0; hostile[i]; i++) {
        byzgd_key_bundle_t *bundle =
            byzgd_key_bundle_load(s_corpus(hostile[i]), error, sizeof error);
        ASSERT_MSG(!bundle, "%s was accepted", hostile[i]);
    }
    byzgd_key_bundle_t *bundle = byzgd_key_bundle_load(s_corpus("ok-0-2.tar"), error, sizeof error);
    ASSERT_MSG(bundle, "%s", error);
    ASSERT_EQ_INT(byzgd_key_bundle_slot_count(bundle), 3);
    byzgd_key_bundle_destroy(&bundle);
    ASSERT(!byzgd_key_bundle_parse("", 0, error, sizeof error));
}

TEST(slot_ranges)
{
    size_t first = 99, last = 99;
    ASSERT_EQ_INT(byzgd_key_bundle_parse_range("0-9", &first, &last), 0);
    ASSERT(first == 0 && last == 9);
    ASSERT_EQ_INT(byzgd_key_bundle_parse_range("7", &first, &last), 0);
    ASSERT(first == 7 && last == 7);
    ASSERT_EQ_INT(byzgd_key_bundle_parse_range("9-0", &first, &last), -1);
    ASSERT_EQ_INT(byzgd_key_bundle_parse_range("-1", &first, &last), -1);
    ASSERT_EQ_INT(byzgd_key_bundle_parse_range("1-", &first, &last), -1);
    ASSERT_EQ_INT(byzgd_key_bundle_parse_range("1-2x", &first, &last), -1);
    ASSERT_EQ_INT(byzgd_key_bundle_parse_range("", &first, &last), -1);
}

static const byzgd_test_case_t cases[] = {
    TEST_CASE(keygen_creates_missing_parents),
    TEST_CASE(bundle_round_trip),
    TEST_CASE(hostile_bundles_are_refused),
    TEST_CASE(slot_ranges),
};
BYZGD_TEST_MAIN(cases)
