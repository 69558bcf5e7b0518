/*  test_options.c — the option parser of support/options.h: command lines, configuration
    lines, value checks, sections with their own state, and the embedded rule section. */
#include "rules/gar.h"
#include "rules/gar_options.h"
#include "server/server.h"
#include "support/log.h"
#include "support/options.h"
#include "test.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

// A program state that records what was applied.
typedef struct {
    char log[512];
    int applied;
} s_record_t;

static int
s_record(void *state, const byzgd_option_section_t *section, const byzgd_option_t *option,
         const char *value, char *error, size_t error_size)
{
    (void)error;
    (void)error_size;
    s_record_t *record = state;
    size_t length = strlen(record->log);
    snprintf(record->log + length, sizeof record->log - length, "%s%s%s=%s",
             record->applied ? " " : "", section->title ? "[t]" : "", option->name, value);
    record->applied++;
    return 0;
}

static const byzgd_option_t s_table[] = {
    {"workers", BYZGD_OPTION_INT, 1, 1000, "20", 0, "n", "N", NULL},
    {"f", BYZGD_OPTION_INT, 0, 1000, NULL, 0, "f", "F", NULL},
    {"lr", BYZGD_OPTION_NUMBER, 0, 10, NULL, 0, "rate", "X", NULL},
    {"name", BYZGD_OPTION_NAME, 0, 0, NULL, 0, "a name", NULL, NULL},
    {"list", BYZGD_OPTION_LIST, 0, 0, NULL, 0, "a list", NULL, NULL},
    {"path", BYZGD_OPTION_TEXT, 0, 0, NULL, 0, "a path", NULL, NULL},
    {"quiet", BYZGD_OPTION_FLAG, 0, 0, NULL, 0, "a switch", NULL, NULL},
    {"seed", BYZGD_OPTION_INT, 0, 18446744073709551615.0, NULL, 0, "a seed", NULL, NULL},
};
static const byzgd_option_t s_other_table[] = {
    {"depth", BYZGD_OPTION_INT, 0, 9, NULL, 0, "in the other section", NULL, NULL},
};
static const byzgd_option_section_t s_section = BYZGD_OPTION_SECTION(NULL, s_table, s_record);
static const byzgd_option_section_t s_other =
    BYZGD_OPTION_SECTION("Other", s_other_table, s_record);
static const byzgd_option_section_t *const s_sections[] = {&s_section, &s_other, NULL};
static const byzgd_program_t s_program = {
    "byzgd-test", "[options] IN OUT", "a test program", s_sections, NULL, NULL, 0, 2};

// Parses a NULL-terminated argument list (argv[0] added) into two records.
static int
s_parse(s_record_t *mine, s_record_t *other, const char *const *args, int *first, char *error,
        size_t error_size, int *argc_out)
{
    static char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"byzgd-test";
    for (size_t i = 0; args[i]; i++)
        argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    *argc_out = argc;
    memset(mine, 0, sizeof *mine);
    memset(other, 0, sizeof *other);
    void *states[] = {mine, other};
    return byzgd_options_parse(&s_program, argc, argv, states, first, error, error_size);
}

TEST(command_line_spellings)
{
    s_record_t mine, other;
    char error[256];
    int first = 0, argc = 0;
    const char *args[] = {"--workers",  "7",       "-f", "2",   "--lr=0.5", "--quiet",
                          "--quiet=no", "--depth", "3",  "--f", "1",        NULL};
    ASSERT_EQ_INT(s_parse(&mine, &other, args, &first, error, sizeof error, &argc), 0);
    ASSERT_STR_EQ(mine.log, "workers=7 f=2 lr=0.5 quiet=true quiet=false f=1");
    ASSERT_STR_EQ(other.log, "[t]depth=3");
    ASSERT_EQ_INT(first, argc);
}

TEST(positionals_move_behind_the_options)
{
    s_record_t mine, other;
    char error[256];
    int first = 0, argc = 0;
    const char *args[] = {"in.npy", "--workers", "3", "--", "--out.npy", NULL};
    ASSERT_EQ_INT(s_parse(&mine, &other, args, &first, error, sizeof error, &argc), 0);
    ASSERT_EQ_INT(argc - first, 2);
    ASSERT_STR_EQ(mine.log, "workers=3");
    const char *extra[] = {"a", "b", "c", NULL};
    ASSERT_EQ_INT(s_parse(&mine, &other, extra, &first, error, sizeof error, &argc), -1);
    ASSERT_STR_CONTAINS(error, "unexpected argument 'c'");
}

TEST(positional_order_is_kept)
{
    const char *argv[] = {"byzgd-test", "one", "--workers", "3", "two", NULL};
    s_record_t mine = {0}, other = {0};
    void *states[] = {&mine, &other};
    int first = 0;
    char error[256];
    ASSERT_EQ_INT(
        byzgd_options_parse(&s_program, 5, (char **)argv, states, &first, error, sizeof error), 0);
    ASSERT_EQ_INT(first, 3);
    ASSERT_STR_EQ(argv[3], "one");
    ASSERT_STR_EQ(argv[4], "two");
}

TEST(usage_errors)
{
    static const struct {
        const char *args[4];
        const char *message;
    } cases[] = {
        {{"--bogus", NULL}, "unknown option --bogus"},
        {{"-workers", "3", NULL}, "unknown option -workers"},
        {{"--workers", NULL}, "--workers needs a value"},
        {{"-f", NULL}, "-f needs a value"},
        {{"--workers", "0", NULL}, "--workers: 0 is outside [1, 1000]"},
        {{"--workers", "3x", NULL}, "--workers: '3x' is not an integer"},
        {{"--workers", "0x10", NULL}, "is not an integer"},
        {{"--lr", "nan", NULL}, "--lr: 'nan' is not a number"},
        {{"--lr", "11", NULL}, "is outside"},
        {{"--name", "Big", NULL}, "is not a name"},
        {{"--list", "a,,b", NULL}, "is not a comma-separated list"},
        {{"--path", "", NULL}, "--path: empty"},
        {{"--path", "a\tb", NULL}, "control character"},
        {{"--quiet=maybe", NULL}, "is not true or false"},
        {{"--seed", "18446744073709551616", NULL}, "is not an integer"},
        {{"--depth", "10", NULL}, "--depth: 10 is outside [0, 9]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_record_t mine, other;
        char error[256] = "";
        int first = 0, argc = 0;
        ASSERT_EQ_INT(s_parse(&mine, &other, cases[i].args, &first, error, sizeof error, &argc),
                      -1);
        ASSERT_STR_CONTAINS(error, cases[i].message);
    }
}

TEST(largest_seed_is_accepted)
{
    s_record_t mine, other;
    char error[256];
    int first = 0, argc = 0;
    const char *args[] = {"--seed", "18446744073709551615", NULL};
    ASSERT_EQ_INT(s_parse(&mine, &other, args, &first, error, sizeof error, &argc), 0);
    ASSERT_STR_EQ(mine.log, "seed=18446744073709551615");
}

TEST(help_and_version_stop_parsing)
{
    // stdout is the test log; both print there and report 1 without applying anything.
    for (int i = 0; i < 3; i++) {
        const char *args[][3] = {
            {"--help", "--workers", NULL}, {"-h", NULL, NULL}, {"--version", "--bogus", NULL}};
        s_record_t mine, other;
        char error[256];
        int first = 0, argc = 0;
        ASSERT_EQ_INT(s_parse(&mine, &other, args[i], &first, error, sizeof error, &argc), 1);
        ASSERT_EQ_INT(mine.applied, 0);
    }
}

TEST(help_text_lists_every_option_and_choice)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    static const byzgd_option_section_t *const sections[] = {&byzgd_gar_option_section, NULL};
    static const byzgd_program_t program = {"byzgd-x", "[options]", "x", sections,
                                            NULL,      NULL,        0,   0};
    byzgd_options_print_help(&program, out);
    fclose(out);
    ASSERT_STR_CONTAINS(text, "Usage: byzgd-x [options]");
    ASSERT_STR_CONTAINS(text, "Rule options:");
    for (const char *const *rule = byzgd_gar_rule_names(); *rule; rule++)
        ASSERT_STR_CONTAINS(text, *rule);
    for (size_t i = 0; i < byzgd_gar_option_section.count; i++) {
        const byzgd_option_t *option = &byzgd_gar_option_section.options[i];
        char flag[80];
        snprintf(flag, sizeof flag, "%s%s", strlen(option->name) == 1 ? "-" : "--", option->name);
        if (option->help)
            ASSERT_STR_CONTAINS(text, flag);
    }
    ASSERT_STR_CONTAINS(text, "--version");
    ASSERT(!strstr(text, "--max-iterations")); // an alias, not listed
    free(text);
}

TEST(rule_section_applies_to_a_gar_config)
{
    static const byzgd_option_section_t *const sections[] = {&byzgd_gar_option_section, NULL};
    static const byzgd_program_t program = {"byzgd-x", "[options]", "x", sections,
                                            NULL,      NULL,        0,   0};
    const char *argv[] = {"byzgd-x", "--rule", "multi-krum", "-m", "3",
                          "--nnm",   "--clip", "2",          NULL};
    byzgd_gar_config_t config;
    byzgd_gar_config_init(&config);
    void *states[] = {&config};
    char error[256];
    ASSERT_EQ_INT(
        byzgd_options_parse(&program, 8, (char **)argv, states, NULL, error, sizeof error), 0);
    ASSERT_EQ_INT(config.rule, BYZGD_GAR_MULTI_KRUM);
    ASSERT_EQ_INT(config.m, 3);
    ASSERT(config.nnm);
    ASSERT_NEAR(config.clip_norm, 2.0, 0);
    static const char *const refused[][2] = {
        {"--clip", "0"}, {"--bucket", "0"}, {"--iterations", "0"}, {"-m", "0"}, {"--rule", "x"}};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        const char *bad[] = {"byzgd-x", refused[i][0], refused[i][1], NULL};
        ASSERT_EQ_INT(
            byzgd_options_parse(&program, 3, (char **)bad, states, NULL, error, sizeof error), -1);
    }
    ASSERT_STR_CONTAINS(error, "unknown rule 'x' (average, krum, multi-krum");
}

static int
s_lines(s_record_t *mine, s_record_t *other, const char *text, char *error, size_t error_size)
{
    memset(mine, 0, sizeof *mine);
    memset(other, 0, sizeof *other);
    void *states[] = {mine, other};
    return byzgd_options_parse_lines(s_sections, text, strlen(text), 4096, "t.conf", states, error,
                                     error_size);
}

TEST(configuration_lines)
{
    s_record_t mine, other;
    char error[256];
    ASSERT_EQ_INT(s_lines(&mine, &other,
                          "# comment\n\n  workers = 5 \r\nquiet = yes\n\tdepth=2\nf = 1", error,
                          sizeof error),
                  0);
    ASSERT_STR_EQ(mine.log, "workers=5 quiet=true f=1");
    ASSERT_STR_EQ(other.log, "[t]depth=2");
    static const struct {
        const char *text, *message;
    } bad[] = {
        {"wokers = 5\n", "t.conf:1: unknown option 'wokers'"},
        {"workers = 5\nworkers = 6\n", "t.conf:2: 'workers' given twice"},
        {"workers =\n", "t.conf:1: 'workers' has no value"},
        {"workers 5\n", "t.conf:1: expected 'name = value'"},
        {"\nworkers = 5\x01\n", "t.conf:2: control character (byte 0x01)"},
        {"workers = 5000\n", "t.conf:1: --workers: 5000 is outside"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_EQ_INT(s_lines(&mine, &other, bad[i].text, error, sizeof error), -1);
        ASSERT_STR_CONTAINS(error, bad[i].message);
    }
    char big[5000];
    memset(big, '#', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ASSERT_EQ_INT(s_lines(&mine, &other, big, error, sizeof error), -1);
    ASSERT_STR_CONTAINS(error, "larger than 4096 bytes");
}

TEST(join_truncates)
{
    static const char *const names[] = {"alpha", "beta", "gamma", NULL};
    char buffer[12];
    byzgd_options_join(names, buffer, sizeof buffer);
    ASSERT_STR_EQ(buffer, "alpha, beta");
    char whole[64];
    byzgd_options_join(names, whole, sizeof whole);
    ASSERT_STR_EQ(whole, "alpha, beta, gamma");
}

TEST(defaults_come_from_the_table_and_the_command_line_wins)
{
    s_record_t mine = {0}, other = {0};
    void *states[] = {&mine, &other};
    byzgd_options_apply_defaults(s_sections, states);
    ASSERT_STR_EQ(mine.log, "workers=20"); // the only option of s_table with a default
    ASSERT_EQ_INT(other.applied, 0);
    char *argv[] = {(char *)"byzgd-test", (char *)"--workers", (char *)"7", NULL};
    char error[256];
    ASSERT_EQ_INT(byzgd_options_parse(&s_program, 3, argv, states, NULL, error, sizeof error), 0);
    ASSERT_STR_EQ(mine.log, "workers=20 workers=7");
}

TEST(one_section_program_starts_from_its_defaults)
{
    const byzgd_program_t program = {
        "byzgd-x", "[options] IN", "x", BYZGD_OPTION_ONE_SECTION(s_table, s_record),
        NULL,      NULL,           1,   1};
    s_record_t record = {0};
    char *argv[] = {(char *)"byzgd-x", (char *)"in", (char *)"--workers", (char *)"7", NULL};
    int first = 0;
    ASSERT_EQ_INT(byzgd_options_main_one(&program, 4, argv, &record, &first),
                  BYZGD_OPTIONS_CONTINUE);
    ASSERT_STR_EQ(record.log, "workers=20 workers=7");
    ASSERT_EQ_INT(first, 3);
    ASSERT_STR_EQ(argv[first], "in");
}

// A state stored by the table alone: one field of every kind, an enum, a hook.
typedef enum { S_COLOUR_RED, S_COLOUR_GREEN, S_COLOUR_BLUE } s_colour_t;
typedef struct {
    int count;
    long offset;
    size_t size;
    uint64_t seed;
    double rate;
    bool quiet;
    const char *path;
    s_colour_t colour;
    double twice; // by the hook: 2 x the value
} s_stored_t;

static const char *const *
s_colours(void)
{
    static const char *const names[] = {"red", "green", "blue", NULL};
    return names;
}

static int
s_double_it(void *state, const byzgd_option_t *option, const char *value, char *error,
            size_t error_size)
{
    (void)option;
    if (strcmp(value, "13") == 0)
        return byzgd_set_error(error, error_size, "--twice: not 13");
    ((s_stored_t *)state)->twice = 2 * strtod(value, NULL);
    return 0;
}

#define S_FIELD(field) BYZGD_OPTION_FIELD(s_stored_t, field)
// clang-format off
static const byzgd_option_t s_stored_table[] = {
    {"count", BYZGD_OPTION_INT, 1, 100, "10", 0, "c", NULL, NULL, S_FIELD(count)},
    {"offset", BYZGD_OPTION_INT, -5, 5, "-2", 0, "o", NULL, NULL, S_FIELD(offset)},
    {"size", BYZGD_OPTION_INT, 0, 1e12, NULL, 0, "s", NULL, NULL, S_FIELD(size)},
    {"seed", BYZGD_OPTION_INT, 0, 18446744073709551615.0, "7", 0, "s", NULL, NULL,
     S_FIELD(seed)},
    {"rate", BYZGD_OPTION_NUMBER, 0, 1, "0.5", 0, "r", NULL, NULL, S_FIELD(rate)},
    {"quiet", BYZGD_OPTION_FLAG, 0, 0, NULL, 0, "q", NULL, NULL, S_FIELD(quiet)},
    {"path", BYZGD_OPTION_TEXT, 0, 0, NULL, 0, "p", NULL, NULL, S_FIELD(path)},
    {"colour", BYZGD_OPTION_NAME, 0, 0, "green", 0, "c", NULL, s_colours, S_FIELD(colour)},
    {"twice", BYZGD_OPTION_NUMBER, 0, 100, "1", 0, "t", NULL, NULL, {0}, s_double_it},
};
// clang-format on
static const byzgd_option_section_t s_stored_section =
    BYZGD_OPTION_SECTION(NULL, s_stored_table, NULL);
static const byzgd_option_section_t *const s_stored_sections[] = {&s_stored_section, NULL};

TEST(fields_know_their_store_from_the_c_type)
{
    ASSERT_EQ_INT(s_stored_table[0].field.store, BYZGD_OPTION_STORE_SIGNED);
    ASSERT_EQ_INT(s_stored_table[1].field.store, BYZGD_OPTION_STORE_SIGNED);
    ASSERT_EQ_INT(s_stored_table[2].field.store, BYZGD_OPTION_STORE_UNSIGNED);
    ASSERT_EQ_INT(s_stored_table[3].field.store, BYZGD_OPTION_STORE_UNSIGNED);
    ASSERT_EQ_INT(s_stored_table[4].field.store, BYZGD_OPTION_STORE_DOUBLE);
    ASSERT_EQ_INT(s_stored_table[5].field.store, BYZGD_OPTION_STORE_BOOL);
    ASSERT_EQ_INT(s_stored_table[6].field.store, BYZGD_OPTION_STORE_STRING);
    ASSERT_EQ_INT(s_stored_table[7].field.store, BYZGD_OPTION_STORE_UNSIGNED); // an enum
    ASSERT_EQ_INT(s_stored_table[8].field.store, BYZGD_OPTION_STORE_NONE);
    ASSERT_EQ_INT(s_stored_table[2].field.size, sizeof(size_t));
    ASSERT_EQ_INT(s_stored_table[1].field.offset, offsetof(s_stored_t, offset));
}

TEST(table_defaults_fill_the_state)
{
    s_stored_t stored;
    memset(&stored, 0xa5, sizeof stored);
    stored.size = 3, stored.quiet = false, stored.path = NULL;
    void *states[] = {&stored};
    byzgd_options_apply_defaults(s_stored_sections, states);
    ASSERT_EQ_INT(stored.count, 10);
    ASSERT_EQ_INT(stored.offset, -2);
    ASSERT_EQ_INT(stored.size, 3); // no default: untouched
    ASSERT(stored.seed == 7);
    ASSERT_NEAR(stored.rate, 0.5, 0);
    ASSERT(!stored.quiet);
    ASSERT(stored.path == NULL);
    ASSERT_EQ_INT(stored.colour, S_COLOUR_GREEN);
    ASSERT_NEAR(stored.twice, 2.0, 0); // defaults go through the hook too
}

TEST(command_line_stores_every_kind)
{
    s_stored_t stored = {0};
    char *argv[] = {(char *)"byzgd-x",  (char *)"--count=100",
                    (char *)"--offset", (char *)"-5",
                    (char *)"--size",   (char *)"1000000000000",
                    (char *)"--seed",   (char *)"18446744073709551615",
                    (char *)"--rate",   (char *)"0.25",
                    (char *)"--quiet",  (char *)"--path",
                    (char *)"a b/c",    (char *)"--colour",
                    (char *)"blue",     (char *)"--twice",
                    (char *)"21",       NULL};
    const byzgd_program_t program = {
        "byzgd-x", "[options]", "x", BYZGD_OPTION_ONE_SECTION(s_stored_table, NULL),
        NULL,      NULL,        0,   0};
    ASSERT_EQ_INT(byzgd_options_main_one(&program, 17, argv, &stored, NULL),
                  BYZGD_OPTIONS_CONTINUE);
    ASSERT_EQ_INT(stored.count, 100);
    ASSERT_EQ_INT(stored.offset, -5);
    ASSERT(stored.size == 1000000000000u);
    ASSERT(stored.seed == UINT64_MAX);
    ASSERT_NEAR(stored.rate, 0.25, 0);
    ASSERT(stored.quiet);
    ASSERT_STR_EQ(stored.path, "a b/c");
    ASSERT_EQ_INT(stored.colour, S_COLOUR_BLUE);
    ASSERT_NEAR(stored.twice, 42.0, 0);
}

TEST(by_name_setter_checks_and_stores)
{
    s_stored_t stored = {0};
    void *states[] = {&stored};
    byzgd_options_apply_defaults(s_stored_sections, states);
    char error[256] = "";
    ASSERT_EQ_INT(
        byzgd_options_set(s_stored_sections, &stored, "--count", "42", error, sizeof error), 0);
    ASSERT_EQ_INT(stored.count, 42);
    ASSERT_EQ_INT(byzgd_options_set(s_stored_sections, &stored, "quiet", NULL, error, sizeof error),
                  0);
    ASSERT(stored.quiet); // a FLAG without a value is true
    ASSERT_EQ_INT(
        byzgd_options_set(s_stored_sections, &stored, "quiet", "off", error, sizeof error), 0);
    ASSERT(!stored.quiet);
    ASSERT_EQ_INT(
        byzgd_options_set(s_stored_sections, &stored, "colour", "red", error, sizeof error), 0);
    ASSERT_EQ_INT(stored.colour, S_COLOUR_RED);

    // An unknown name: 1, nothing written, no message.
    s_stored_t before = stored;
    ASSERT_EQ_INT(
        byzgd_options_set(s_stored_sections, &stored, "colur", "red", error, sizeof error), 1);
    ASSERT(memcmp(&before, &stored, sizeof stored) == 0);
    ASSERT_STR_EQ(error, "");

    // Bad values: -1 with the command line's message, nothing written.
    static const struct {
        const char *name, *value, *message;
    } bad[] = {
        {"count", "0", "--count: 0 is outside [1, 100]"},
        {"count", "101", "--count: 101 is outside [1, 100]"},
        {"count", "1.5", "--count: '1.5' is not an integer"},
        {"offset", "-6", "--offset: -6 is outside [-5, 5]"},
        {"size", "-1", "--size: -1 is outside [0, 1000000000000]"},
        {"rate", "nan", "--rate: 'nan' is not a number"},
        {"rate", "2", "--rate: 2 is outside"},
        {"quiet", "maybe", "--quiet: 'maybe' is not true or false"},
        {"colour", "mauve", "unknown colour 'mauve' (red, green, blue)"},
        {"colour", "Red", "--colour: 'Red' is not a name"},
        {"path", "", "--path: empty"},
        {"twice", "13", "--twice: not 13"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_EQ_INT(byzgd_options_set(s_stored_sections, &stored, bad[i].name, bad[i].value,
                                        error, sizeof error),
                      -1);
        ASSERT_STR_CONTAINS(error, bad[i].message);
    }
    ASSERT(memcmp(&before, &stored, sizeof stored) == 0);
}

TEST(help_shows_the_default_column_once)
{
    static const byzgd_option_t table[] = {
        {"alpha", BYZGD_OPTION_INT, 0, 9, "3", 0, "plain", NULL, NULL},
        {"beta", BYZGD_OPTION_INT, 0, 9, "0", 0, "says it (default 0: none)", NULL, NULL},
    };
    const byzgd_program_t program = {
        "byzgd-x", "[options]", "x", BYZGD_OPTION_ONE_SECTION(table, NULL), NULL, NULL, 0, 0};
    char text[4096] = "";
    FILE *out = fmemopen(text, sizeof text - 1, "w");
    ASSERT(out != NULL);
    byzgd_options_print_help(&program, out);
    fclose(out);
    ASSERT_STR_CONTAINS(text, "plain (default 3)\n");
    ASSERT_STR_CONTAINS(text, "says it (default 0: none)\n");
}

// Regression: the server's defaults applied only the rule option rows, so round stayed 0
// and 1-p-krum refused every round.
TEST(server_config_starts_from_every_rule_default)
{
    byzgd_server_config_t config;
    byzgd_server_config_init(&config);
    byzgd_gar_config_t rule;
    byzgd_gar_config_init(&rule);
    ASSERT_EQ_INT(config.gar.round, 1);
    ASSERT(memcmp(&config.gar, &rule, sizeof rule) == 0);
    ASSERT_EQ_INT(config.worker_count, 1);
    ASSERT_EQ_INT(config.batch_size, 16);
    ASSERT_STR_EQ(config.endpoint, "tcp://127.0.0.1:5555");
    ASSERT_NEAR(config.learning_rate.initial, 0.05, 0);
    ASSERT_EQ_INT(config.learning_rate.kind, BYZGD_LR_CONSTANT);
}

static const byzgd_test_case_t cases[] = {
    TEST_CASE(command_line_spellings),
    TEST_CASE(positionals_move_behind_the_options),
    TEST_CASE(positional_order_is_kept),
    TEST_CASE(usage_errors),
    TEST_CASE(largest_seed_is_accepted),
    TEST_CASE(help_and_version_stop_parsing),
    TEST_CASE(help_text_lists_every_option_and_choice),
    TEST_CASE(rule_section_applies_to_a_gar_config),
    TEST_CASE(configuration_lines),
    TEST_CASE(join_truncates),
    TEST_CASE(defaults_come_from_the_table_and_the_command_line_wins),
    TEST_CASE(one_section_program_starts_from_its_defaults),
    TEST_CASE(fields_know_their_store_from_the_c_type),
    TEST_CASE(table_defaults_fill_the_state),
    TEST_CASE(command_line_stores_every_kind),
    TEST_CASE(by_name_setter_checks_and_stores),
    TEST_CASE(help_shows_the_default_column_once),
    TEST_CASE(server_config_starts_from_every_rule_default),
};

BYZGD_TEST_MAIN(cases)
