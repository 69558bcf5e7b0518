/*  gar_options.c — the rule options: one table shared by every program that takes them
    (byzgd-server, byzgd-aggregate, byzgd-cluster's configuration) and their parser. */
#include "gar_options.h"
#include "support/log.h"

#include <stdlib.h>

#define S_COUNT_MAX 1099511627776.0 // 2^40: a count no machine reaches

static const char *const *
s_start_names(void)
{
    static const char *const names[] = {"median", "average", "zero", NULL};
    return names;
}

// --clip C: a largest norm of 0 would zero every row, so C must be > 0.
static int
s_clip(void *state, const byzgd_option_t *option, const char *value, char *error, size_t error_size)
{
    if (!(strtod(value, NULL) > 0))
        return byzgd_set_error(error, error_size,
                               "--clip needs a largest norm > 0 (0 would zero every row)");
    return byzgd_option_store(option, state, value, error, error_size);
}

// --start: the enum store, with the message the rule's users know.
static int
s_start(void *state, const byzgd_option_t *option, const char *value, char *error,
        size_t error_size)
{
    if (byzgd_option_store(option, state, value, error, error_size) == 0)
        return 0;
    return byzgd_set_error(error, error_size, "--start must be median, average or zero, got '%s'",
                           value);
}

#define S_FIELD(field) BYZGD_OPTION_FIELD(byzgd_gar_config_t, field)

// The rule defaults to average (the zero value of the configuration).
// clang-format off
static const byzgd_option_t s_options[] = {
    {"rule", BYZGD_OPTION_NAME, 0, 0, NULL, 0, "aggregation rule", "NAME", byzgd_gar_rule_names,
     S_FIELD(rule)},
    {"m", BYZGD_OPTION_INT, 1, S_COUNT_MAX, NULL, 0,
     "multi-krum: vectors averaged (default n - f)", "M", NULL, S_FIELD(m)},
    {"tau", BYZGD_OPTION_NUMBER, 0, 1e30, "10", 0, "cclip: clipping radius", "T", NULL,
     S_FIELD(tau)},
    {"iterations", BYZGD_OPTION_INT, 1, S_COUNT_MAX, NULL, 0,
     "geomed: iteration cap (default 1000); cclip: iterations (default 1)", "K", NULL,
     S_FIELD(iterations)},
    {"max-iterations", BYZGD_OPTION_INT, 1, S_COUNT_MAX, NULL, 0, NULL, "K", NULL,
     S_FIELD(iterations)},
    {"tolerance", BYZGD_OPTION_NUMBER, 0, 1, "1e-8", 0,
     "geomed: stop when the step is <= E (1 + |z|)", "E", NULL, S_FIELD(tolerance)},
    {"smoothing", BYZGD_OPTION_NUMBER, 0, 1e30, "1e-6", 0,
     "geomed: Weiszfeld smoothing nu", "S", NULL, S_FIELD(smoothing)},
    {"start", BYZGD_OPTION_NAME, 0, 0, "median", 0,
     "cclip: starting point (default median)", "S", s_start_names, S_FIELD(start), s_start},
    {"bucket", BYZGD_OPTION_INT, 1, S_COUNT_MAX, NULL, 0,
     "bucketing pre-aggregator: average shuffled buckets of S rows (1: none)", "S", NULL,
     S_FIELD(bucket_size)},
    {"nnm", BYZGD_OPTION_FLAG, 0, 0, NULL, 0,
     "nearest-neighbour mixing pre-aggregator", NULL, NULL, S_FIELD(nnm)},
    {"clip", BYZGD_OPTION_NUMBER, 0, 1e30, NULL, 0,
     "static clipping pre-aggregator: scale each row to L2 norm <= C (C > 0)", "C", NULL,
     S_FIELD(clip_norm), s_clip},
};

// The settings every program declares in its own words (byzgd-aggregate's -f, the
// server's --seed), set by name through byzgd_gar_config_parse_option.
static const byzgd_option_t s_run_options[] = {
    {"f", BYZGD_OPTION_INT, 0, S_COUNT_MAX, "0", 0, NULL, NULL, NULL, S_FIELD(f)},
    {"seed", BYZGD_OPTION_INT, 0, 18446744073709551615.0, "0", 0, NULL, NULL, NULL,
     S_FIELD(seed)},
    {"round", BYZGD_OPTION_INT, 1, 18446744073709551615.0, "1", 0, NULL, NULL, NULL,
     S_FIELD(round)},
};
// clang-format on

const byzgd_option_section_t byzgd_gar_option_section =
    BYZGD_OPTION_SECTION("Rule options", s_options, NULL);
static const byzgd_option_section_t s_run_section = BYZGD_OPTION_SECTION(NULL, s_run_options, NULL);
static const byzgd_option_section_t *const s_sections[] = {&byzgd_gar_option_section,
                                                           &s_run_section, NULL};

void
byzgd_gar_config_init(byzgd_gar_config_t *config)
{
    *config = (byzgd_gar_config_t){0};
    void *const states[] = {config, config};
    byzgd_options_apply_defaults(s_sections, states);
}

int
byzgd_gar_config_parse_option(byzgd_gar_config_t *config, const char *name, const char *value,
                              char *error, size_t error_size)
{
    int status = byzgd_options_set(s_sections, config, name, value, error, error_size);
    if (status == 1)
        return byzgd_set_error(error, error_size, "unknown aggregation option --%s", name);
    return status;
}
