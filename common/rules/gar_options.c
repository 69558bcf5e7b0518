/*  gar_options.c — the rule options: one table shared by every program that takes them
    (byzgd-server, byzgd-aggregate, byzgd-cluster's configuration) and their parser. */
#include "gar_options.h"
#include "support/log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_COUNT_MAX 1099511627776.0 // 2^40: a count no machine reaches

static const char *const *
s_start_names(void)
{
    static const char *const names[] = {"median", "average", "zero", NULL};
    return names;
}

// clang-format off
static const byzgd_option_t s_options[] = {
    {"rule", BYZGD_OPTION_NAME, 0, 0, NULL, 0, "aggregation rule", "NAME", byzgd_gar_rule_names},
    {"m", BYZGD_OPTION_INT, 1, S_COUNT_MAX, NULL, 0,
     "multi-krum: vectors averaged (default n - f)", "M", NULL},
    {"tau", BYZGD_OPTION_NUMBER, 0, 1e30, NULL, 0,
     "cclip: clipping radius (default 10)", "T", NULL},
    {"iterations", BYZGD_OPTION_INT, 1, S_COUNT_MAX, NULL, 0,
     "geomed: iteration cap (default 1000); cclip: iterations (default 1)", "K", NULL},
    {"max-iterations", BYZGD_OPTION_INT, 1, S_COUNT_MAX, NULL, 0, NULL, "K", NULL},
    {"tolerance", BYZGD_OPTION_NUMBER, 0, 1, NULL, 0,
     "geomed: stop when the step is <= E (1 + |z|) (default 1e-8)", "E", NULL},
    {"smoothing", BYZGD_OPTION_NUMBER, 0, 1e30, NULL, 0,
     "geomed: Weiszfeld smoothing nu (default 1e-6)", "S", NULL},
    {"start", BYZGD_OPTION_NAME, 0, 0, NULL, 0,
     "cclip: starting point (default median)", "S", s_start_names},
    {"bucket", BYZGD_OPTION_INT, 1, S_COUNT_MAX, NULL, 0,
     "bucketing pre-aggregator: average shuffled buckets of S rows (1: none)", "S", NULL},
    {"nnm", BYZGD_OPTION_FLAG, 0, 0, NULL, 0,
     "nearest-neighbour mixing pre-aggregator", NULL, NULL},
    {"clip", BYZGD_OPTION_NUMBER, 0, 1e30, NULL, 0,
     "static clipping pre-aggregator: scale each row to L2 norm <= C (C > 0)", "C", NULL},
};
// clang-format on

BYZGD_OPTION_APPLY_BY_NAME(s_apply, byzgd_gar_config_t, byzgd_gar_config_parse_option)

const byzgd_option_section_t byzgd_gar_option_section =
    BYZGD_OPTION_SECTION("Rule options", s_options, s_apply);

// Parses a whole decimal unsigned integer (no sign, no trailing text).
static int
s_parse_size(const char *value, uint64_t *out)
{
    if (!value || !*value || *value < '0' || *value > '9')
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long parsed = strtoull(value, &end, 10);
    if (errno || *end)
        return -1;
    *out = parsed;
    return 0;
}

// Parses a whole finite number.
static int
s_parse_double(const char *value, double *out)
{
    if (!value || !*value)
        return -1;
    errno = 0;
    char *end = NULL;
    double parsed = strtod(value, &end);
    if (errno || *end || !isfinite(parsed))
        return -1;
    *out = parsed;
    return 0;
}

int
byzgd_gar_config_parse_option(byzgd_gar_config_t *config, const char *name, const char *value,
                              char *error, size_t error_size)
{
    uint64_t integer = 0;
    double number = 0;
    if (!value)
        value = "";
    if (strcmp(name, "rule") == 0) {
        if (byzgd_gar_rule_from_name(value, &config->rule) != 0) {
            char names[256];
            byzgd_options_join(byzgd_gar_rule_names(), names, sizeof names);
            return byzgd_set_error(error, error_size, "unknown rule '%s' (%s)", value, names);
        }
        return 0;
    }
    if (strcmp(name, "nnm") == 0) {
        if (!*value || strcmp(value, "1") == 0 || strcmp(value, "true") == 0)
            config->nnm = true;
        else if (strcmp(value, "0") == 0 || strcmp(value, "false") == 0)
            config->nnm = false;
        else
            return byzgd_set_error(error, error_size,
                                   "--nnm takes no value, 1/true or 0/false, "
                                   "got '%s'",
                                   value);
        return 0;
    }
    if (strcmp(name, "start") == 0) {
        if (strcmp(value, "median") == 0)
            config->start = BYZGD_GAR_START_MEDIAN;
        else if (strcmp(value, "average") == 0)
            config->start = BYZGD_GAR_START_AVERAGE;
        else if (strcmp(value, "zero") == 0)
            config->start = BYZGD_GAR_START_ZERO;
        else
            return byzgd_set_error(error, error_size,
                                   "--start must be median, average or zero, got '%s'", value);
        return 0;
    }
    static const char *const size_options[] = {
        "f", "m", "seed", "round", "iterations", "max-iterations", "bucket"};
    for (size_t i = 0; i < sizeof size_options / sizeof size_options[0]; i++) {
        if (strcmp(name, size_options[i]) != 0)
            continue;
        if (s_parse_size(value, &integer) != 0)
            return byzgd_set_error(error, error_size, "--%s needs a non-negative integer, got '%s'",
                                   name, value);
        if (strcmp(name, "seed") == 0) {
            config->seed = integer;
            return 0;
        }
        if (strcmp(name, "round") == 0) {
            if (integer < 1)
                return byzgd_set_error(error, error_size, "--round counts from 1, got 0");
            config->round = integer;
            return 0;
        }
        if (integer > (uint64_t)1 << 40)
            return byzgd_set_error(error, error_size, "--%s is too large: %s", name, value);
        if (strcmp(name, "f") == 0)
            config->f = (size_t)integer;
        else if (strcmp(name, "m") == 0 && integer == 0)
            return byzgd_set_error(error, error_size, "multi-krum needs 1 <= m <= n, got m=0");
        else if (strcmp(name, "m") == 0)
            config->m = (size_t)integer;
        else if (strcmp(name, "bucket") == 0 && integer == 0)
            return byzgd_set_error(error, error_size,
                                   "--bucket needs a bucket size >= 1 (1: no bucketing), got 0");
        else if (strcmp(name, "bucket") == 0)
            config->bucket_size = (size_t)integer;
        else if (integer == 0)
            return byzgd_set_error(error, error_size, "--%s needs at least 1 iteration, got 0",
                                   name);
        else
            config->iterations = (size_t)integer;
        return 0;
    }
    static const char *const number_options[] = {"tolerance", "smoothing", "tau", "clip"};
    for (size_t i = 0; i < sizeof number_options / sizeof number_options[0]; i++) {
        if (strcmp(name, number_options[i]) != 0)
            continue;
        if (s_parse_double(value, &number) != 0 || number < 0)
            return byzgd_set_error(error, error_size,
                                   "--%s needs a finite non-negative number, got '%s'", name,
                                   value);
        if (strcmp(name, "clip") == 0 && number == 0)
            return byzgd_set_error(error, error_size,
                                   "--clip needs a largest norm > 0 (0 would zero every row)");
        if (strcmp(name, "tolerance") == 0)
            config->tolerance = number;
        else if (strcmp(name, "smoothing") == 0)
            config->smoothing = number;
        else if (strcmp(name, "tau") == 0)
            config->tau = number;
        else
            config->clip_norm = number;
        return 0;
    }
    return byzgd_set_error(error, error_size, "unknown aggregation option --%s", name);
}
