/*  test_cluster_config.c — byzgd-cluster's options: value checks, the strict config-file
    parser (errors name the line, nothing applied on error), the effective configuration
    round trip, cross-option checks; and the metrics.jsonl line reader. */
#include "cluster/cluster_config.h"
#include "cluster/metrics_line.h"
#include "test.h"

#include <math.h>

static int
s_parse(byzgd_cluster_config_t *config, const char *text, char *error, size_t error_size)
{
    return byzgd_cluster_config_parse(config, text, strlen(text), "test.conf", error, error_size);
}

TEST(defaults_and_typed_getters)
{
    byzgd_cluster_config_t *config = byzgd_cluster_config_new();
    ASSERT_EQ_INT(byzgd_cluster_config_get_int(config, "workers"), 20);
    ASSERT_EQ_INT(byzgd_cluster_config_get_int(config, "byzantine"), 0);
    ASSERT_STR_EQ(byzgd_cluster_config_get(config, "rule"), "multi-krum");
    ASSERT_NEAR(byzgd_cluster_config_get_number(config, "lr"), 0.05, 1e-12);
    ASSERT(!byzgd_cluster_config_get_flag(config, "insecure"));
    ASSERT(byzgd_cluster_config_get(config, "attack") == NULL);
    ASSERT(!byzgd_cluster_config_is_set(config, "workers"));
    char error[256];
    ASSERT_EQ_INT(byzgd_cluster_config_set(config, "insecure", "yes", error, sizeof error), 0);
    ASSERT(byzgd_cluster_config_get_flag(config, "insecure"));
    ASSERT_STR_EQ(byzgd_cluster_config_get(config, "insecure"), "true");
    ASSERT_EQ_INT(byzgd_cluster_config_set(config, "workers", "7", error, sizeof error), 0);
    ASSERT(byzgd_cluster_config_is_set(config, "workers"));
    byzgd_cluster_config_unset(config, "workers");
    ASSERT_EQ_INT(byzgd_cluster_config_get_int(config, "workers"), 20);
    byzgd_cluster_config_destroy(&config);
    ASSERT(config == NULL);
}

TEST(values_are_checked)
{
    byzgd_cluster_config_t *config = byzgd_cluster_config_new();
    char error[256];
    struct {
        const char *name, *value, *message;
    } bad[] = {
        {"workers", "abc", "--workers: 'abc' is not an integer"},
        {"workers", "0", "outside"},
        {"workers", "1001", "outside"},
        {"workers", "12 ", "not an integer"},
        {"workers", "0x10", "not an integer"},
        {"workers", "99999999999999999999999", "not an integer"},
        {"f", "-1", "-f: -1 is outside"},
        {"lr", "nan", "not a number"},
        {"lr", "inf", "not a number"},
        {"lr", "1e999", "not a number"},
        {"lr", "-0.1", "outside"},
        {"lr", "0x1p3", "not a number"},
        {"rule", "Multi-Krum", "not a name"},
        {"rule", "-krum", "not a name"},
        {"rule", "krum;rm", "not a name"},
        {"hidden", "128,,64", "not a comma-separated list"},
        {"hidden", ",64", "not a comma-separated list"},
        {"misbehave", "stale,", "not a comma-separated list"},
        {"insecure", "maybe", "not true or false"},
        {"run-dir", "a\tb", "control character"},
        {"run-dir", "", "empty"},
        {"bogus", "1", "unknown option 'bogus'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        error[0] = '\0';
        ASSERT_MSG(
            byzgd_cluster_config_set(config, bad[i].name, bad[i].value, error, sizeof error) == -1,
            "%s = '%s' accepted", bad[i].name, bad[i].value);
        ASSERT_STR_CONTAINS(error, bad[i].message);
    }
    // Nothing of the above was stored.
    ASSERT_EQ_INT(byzgd_cluster_config_get_int(config, "workers"), 20);
    ASSERT_EQ_INT(byzgd_cluster_config_set(config, "hidden", "128,64", error, sizeof error), 0);
    ASSERT_EQ_INT(byzgd_cluster_config_set(config, "lr", "5e-2", error, sizeof error), 0);
    ASSERT_EQ_INT(byzgd_cluster_config_set(config, "run-dir", "runs/my run", error, sizeof error),
                  0);
    byzgd_cluster_config_destroy(&config);
}

TEST(file_parser_accepts_comments_blanks_and_spacing)
{
    byzgd_cluster_config_t *config = byzgd_cluster_config_new();
    char error[256] = "";
    const char *text = "# a comment\n"
                       "\n"
                       "workers = 12\r\n"
                       "   byzantine=3   \n"
                       "\tattack =\tgaussian\n"
                       "run-dir = runs/with # hash\n"
                       "insecure = on"; // no final newline
    ASSERT_MSG(s_parse(config, text, error, sizeof error) == 0, "%s", error);
    ASSERT_EQ_INT(byzgd_cluster_config_get_int(config, "workers"), 12);
    ASSERT_EQ_INT(byzgd_cluster_config_get_int(config, "byzantine"), 3);
    ASSERT_STR_EQ(byzgd_cluster_config_get(config, "attack"), "gaussian");
    ASSERT_STR_EQ(byzgd_cluster_config_get(config, "run-dir"), "runs/with # hash");
    ASSERT(byzgd_cluster_config_get_flag(config, "insecure"));
    ASSERT_EQ_INT(s_parse(config, "", error, sizeof error), 0);
    byzgd_cluster_config_destroy(&config);
}

TEST(file_parser_errors_name_the_line_and_apply_nothing)
{
    struct {
        const char *text, *message;
    } bad[] = {
        {"workers = 4\nwokers = 3\n", "test.conf:2: unknown option 'wokers'"},
        {"workers = 4\nworkers = 5\n", "test.conf:2: 'workers' given twice"},
        {"workers\n", "test.conf:1: expected 'name = value'"},
        {"workers =\n", "test.conf:1: 'workers' has no value"},
        {"# ok\nrounds = ten\n", "test.conf:2: --rounds: 'ten' is not an integer"},
        {"rule = krum\x01\n", "test.conf:1: control character (byte 0x01)"},
        {"rule = kr\0um\n", "test.conf:1: control character (byte 0x00)"},
        {" = 3\n", "test.conf:1: unknown option ''"},
        {"config = other.conf\n", "unknown option 'config'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        byzgd_cluster_config_t *config = byzgd_cluster_config_new();
        char error[256] = "";
        size_t size = strlen(bad[i].text);
        if (i == 6)
            size = 13; // the embedded NUL
        ASSERT_EQ_INT(
            byzgd_cluster_config_parse(config, bad[i].text, size, "test.conf", error, sizeof error),
            -1);
        ASSERT_STR_CONTAINS(error, bad[i].message);
        ASSERT(!byzgd_cluster_config_is_set(config, "workers"));
        byzgd_cluster_config_destroy(&config);
    }
}

TEST(file_parser_limits)
{
    byzgd_cluster_config_t *config = byzgd_cluster_config_new();
    char error[256] = "";
    size_t size = BYZGD_CLUSTER_CONFIG_MAX_LINE + 40;
    char *text = malloc(size + 1);
    memcpy(text, "run-dir = ", 10);
    memset(text + 10, 'a', size - 10);
    text[size] = '\0';
    ASSERT_EQ_INT(byzgd_cluster_config_parse(config, text, size, "long", error, sizeof error), -1);
    ASSERT_STR_CONTAINS(error, "long:1: line longer than");
    free(text);
    size = BYZGD_CLUSTER_CONFIG_MAX_BYTES + 1;
    text = malloc(size);
    memset(text, '\n', size);
    ASSERT_EQ_INT(byzgd_cluster_config_parse(config, text, size, "big", error, sizeof error), -1);
    ASSERT_STR_CONTAINS(error, "big: larger than");
    free(text);
    // A missing file.
    ASSERT_EQ_INT(byzgd_cluster_config_load(config, "/nonexistent/x.conf", error, sizeof error),
                  -1);
    ASSERT_STR_CONTAINS(error, "/nonexistent/x.conf");
    ASSERT_EQ_INT(byzgd_cluster_config_load(config, "/", error, sizeof error), -1);
    byzgd_cluster_config_destroy(&config);
}

TEST(effective_configuration_round_trips)
{
    byzgd_cluster_config_t *config = byzgd_cluster_config_new();
    char error[256] = "";
    ASSERT_EQ_INT(s_parse(config,
                          "workers = 9\nbyzantine = 2\nattack = alie\nrun-dir = /tmp/x\n"
                          "hidden = 32,16\nlr = 0.1\nnnm = true\n",
                          error, sizeof error),
                  0);
    const char *omit[] = {"run-dir", NULL};
    char *text = byzgd_cluster_config_format(config, omit);
    ASSERT_STR_CONTAINS(text, "workers = 9\n");
    ASSERT_STR_CONTAINS(text, "rule = multi-krum\n"); // defaults are written too
    ASSERT_STR_CONTAINS(text, "# run-dir = /tmp/x\n");
    byzgd_cluster_config_t *again = byzgd_cluster_config_new();
    ASSERT_MSG(s_parse(again, text, error, sizeof error) == 0, "%s", error);
    const byzgd_option_section_t *const *sections = byzgd_cluster_sections();
    for (size_t s = 0; sections[s]; s++)
        for (size_t i = 0; i < sections[s]->count; i++) {
            const char *name = sections[s]->options[i].name;
            const char *a = byzgd_cluster_config_get(config, name);
            const char *b = byzgd_cluster_config_get(again, name);
            if (strcmp(name, "run-dir") == 0)
                ASSERT(b == NULL);
            else
                ASSERT_MSG((!a && !b) || (a && b && strcmp(a, b) == 0), "%s: %s vs %s", name,
                           a ? a : "(null)", b ? b : "(null)");
        }
    free(text);
    byzgd_cluster_config_destroy(&again);
    byzgd_cluster_config_destroy(&config);
}

TEST(cross_checks)
{
    struct {
        const char *text, *message; // message NULL: accepted
    } cases[] = {
        {"workers = 5\nbyzantine = 6\nattack = gaussian\n", "--byzantine 6 exceeds --workers 5"},
        {"workers = 5\nbyzantine = 2\n", "needs --attack NAME or --misbehave MODE"},
        {"attack = gaussian\n", "--attack needs --byzantine > 0"},
        {"byzantine = 2\nmisbehave = stale,typo\n", "unknown mode 'typo'"},
        {"workers = 5\nquorum = 6\n", "--quorum 6 exceeds"},
        {"workers = 5\nf = 6\n", "-f 6 exceeds"},
        {"byzantine = 1\nattack = gaussian\nsigma = 1\nvariance = 1\n", "exclude each other"},
        {"byzantine = 4\nmisbehave = duplicate,stale,wrong-dimension,garbage\n", NULL},
        {"byzantine = 6\nattack = gaussian\n", NULL},
        {"rule = krumm\n", "--rule: unknown rule 'krumm' (average, krum, multi-krum"},
        {"byzantine = 1\nattack = gaussain\n", "--attack: unknown attack 'gaussain'"},
        {"byzantine = 2\nmisbehave = wrong-dim,silent\n", NULL}, // the attack module's aliases
        {"rule = geomed\nbyzantine = 1\nattack = alie\n", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        byzgd_cluster_config_t *config = byzgd_cluster_config_new();
        char error[256] = "";
        ASSERT_MSG(s_parse(config, cases[i].text, error, sizeof error) == 0, "%s", error);
        int result = byzgd_cluster_config_check(config, error, sizeof error);
        if (cases[i].message) {
            ASSERT_EQ_INT(result, -1);
            ASSERT_STR_CONTAINS(error, cases[i].message);
        } else {
            ASSERT_MSG(result == 0, "case %zu: %s", i, error);
        }
        byzgd_cluster_config_destroy(&config);
    }
}

TEST(metrics_line_fields)
{
    byzgd_metrics_line_t line;
    const char *text = "{\"round\":12,\"elapsed_s\":3.5,\"collect_s\":0.1,\"accepted\":14,"
                       "\"rejected\":{\"stale\":2,\"duplicate\":1},\"selected\":[1,2,3],"
                       "\"train_loss\":0.42,\"deadline\":false,\"note\":\"a \\\"q\\\" }\","
                       "\"test_accuracy\":0.81,\"test_loss\":0.55}";
    ASSERT_EQ_INT(byzgd_metrics_line_parse(&line, text, strlen(text)), 0);
    ASSERT_NEAR(line.round, 12, 0);
    ASSERT_NEAR(line.elapsed_s, 3.5, 0);
    ASSERT_NEAR(line.accepted, 14, 0);
    ASSERT_NEAR(line.rejected, 3, 0);
    ASSERT_NEAR(line.train_loss, 0.42, 1e-12);
    ASSERT_NEAR(line.test_accuracy, 0.81, 1e-12);
    ASSERT_NEAR(line.test_loss, 0.55, 1e-12);
    const char *plain = " {\"round\": 3, \"rejected\": 5, \"rejected_by_reason\": {\"stale\": 5},"
                        " \"train_loss\": null} ";
    ASSERT_EQ_INT(byzgd_metrics_line_parse(&line, plain, strlen(plain)), 0);
    ASSERT_NEAR(line.rejected, 5, 0);
    ASSERT(isnan(line.train_loss));
    ASSERT(isnan(line.test_accuracy));
}

TEST(metrics_line_rejects_malformed)
{
    const char *bad[] = {
        "",
        "[1,2]",
        "{\"round\":1",
        "{\"round\":1,}",
        "{\"round\" 1}",
        "{\"round\":1} x",
        "{\"round\":\"unterminated}",
        "{\"round\":tru}",
        "{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}",
        "{\"round\":1e}",
        "{\"round\":--1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        byzgd_metrics_line_t line;
        ASSERT_MSG(byzgd_metrics_line_parse(&line, bad[i], strlen(bad[i])) == -1, "accepted: %s",
                   bad[i]);
    }
}

static const byzgd_test_case_t cases[] = {
    TEST_CASE(defaults_and_typed_getters),
    TEST_CASE(values_are_checked),
    TEST_CASE(file_parser_accepts_comments_blanks_and_spacing),
    TEST_CASE(file_parser_errors_name_the_line_and_apply_nothing),
    TEST_CASE(file_parser_limits),
    TEST_CASE(effective_configuration_round_trips),
    TEST_CASE(cross_checks),
    TEST_CASE(metrics_line_fields),
    TEST_CASE(metrics_line_rejects_malformed),
};
BYZGD_TEST_MAIN(cases)
