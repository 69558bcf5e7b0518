/*  byzgd-aggregate — applies one aggregation rule to an n x d .npy matrix.

    byzgd-aggregate --rule RULE [-f F] [-m M] [--seed S] [--round T] [rule options] IN OUT

    Reads IN (float32 or float64, C order, 2-D), writes the d-vector to OUT as float32 .npy
    and prints one JSON line on stdout. Any error: exit status 2, one line on stderr, and
    OUT is not written. Options: support/options.h with the rule options of
    rules/gar_options.h. */
#include "rules/gar.h"
#include "rules/gar_options.h"
#include "support/clock.h"
#include "support/json.h"
#include "support/log.h"
#include "support/npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_U64_MAX 18446744073709551615.0

// The options of this tool beside the rule options of rules/gar_options.h.
#define S_FIELD(field) BYZGD_OPTION_FIELD(byzgd_gar_config_t, field)
// clang-format off
static const byzgd_option_t s_options[] = {
    {"f", BYZGD_OPTION_INT, 0, 1099511627776.0, "0", 0, "Byzantine rows tolerated", "F", NULL,
     S_FIELD(f)},
    {"seed", BYZGD_OPTION_INT, 0, S_U64_MAX, "0", 0, "1-p-krum and bucketing seed", "S", NULL,
     S_FIELD(seed)},
    {"round", BYZGD_OPTION_INT, 1, S_U64_MAX, "1", 0,
     "1-p-krum round (p = 1/sqrt(T)); bucketing shuffle", "T", NULL, S_FIELD(round)},
};
// clang-format on
static const byzgd_option_section_t s_section = BYZGD_OPTION_SECTION(NULL, s_options, NULL);
static const byzgd_option_section_t *const s_sections[] = {&s_section, &byzgd_gar_option_section,
                                                           NULL};
static const byzgd_program_t s_program = {
    "byzgd-aggregate",
    "--rule RULE [-f F] [-m M] [--seed S] [--round T] [rule options] IN.npy OUT.npy",
    "applies one aggregation rule to an n x d matrix",
    s_sections,
    "IN.npy is the n x d array of rows (float32 or float64, C order); OUT.npy receives the "
    "aggregate,\na float32 vector of d values. The rule defaults to average.\n",
    "JSON on stdout: rule, n, d, f, dropped, used, m (multi-krum: the m asked for, else n - f\n"
    "of the vectors the rule saw), selected, scores, iterations, chose, ms (see "
    "docs/RULES.md).\nExit status: 0 written, 2 any error (OUT is then not written).\n",
    2,
    2,
};

static void
s_print_json(const byzgd_gar_config_t *config, const byzgd_gar_result_t *result, double ms)
{
    byzgd_json_t *json = byzgd_json_new();
    byzgd_json_object_begin(json);
    byzgd_json_key_string(json, "rule", byzgd_gar_rule_name(config->rule));
    byzgd_json_key_int(json, "n", (int64_t)result->n);
    byzgd_json_key_int(json, "d", (int64_t)result->d);
    byzgd_json_key_int(json, "f", (int64_t)result->f);
    byzgd_json_key_int(json, "dropped", (int64_t)result->dropped);
    byzgd_json_key_int(json, "used", (int64_t)result->used);
    // The m asked for, else the default n - f over the vectors the rule saw (with --bucket,
    // `selected` lists the member rows of the m selected buckets, so it is longer).
    if (config->rule == BYZGD_GAR_MULTI_KRUM)
        byzgd_json_key_int(json, "m", (int64_t)(config->m ? config->m : result->used - result->f));
    if (config->rule == BYZGD_GAR_ONE_P_KRUM) {
        byzgd_json_key_int(json, "round", (int64_t)config->round);
        byzgd_json_key_string(json, "chose", result->chose);
    }
    bool selects = config->rule == BYZGD_GAR_KRUM || config->rule == BYZGD_GAR_MULTI_KRUM ||
                   config->rule == BYZGD_GAR_MEDOID || config->rule == BYZGD_GAR_BULYAN ||
                   config->rule == BYZGD_GAR_MDA ||
                   (config->rule == BYZGD_GAR_ONE_P_KRUM && result->selected_count > 0);
    if (selects) {
        byzgd_json_key_array_begin(json, "selected");
        for (size_t i = 0; i < result->selected_count; i++)
            byzgd_json_int(json, (int64_t)result->selected[i]);
        byzgd_json_array_end(json);
    }
    if (result->has_scores) {
        byzgd_json_key_array_begin(json, "scores");
        for (size_t i = 0; i < result->n; i++)
            byzgd_json_double(json, result->scores[i]);
        byzgd_json_array_end(json);
    }
    if (config->rule == BYZGD_GAR_GEOMED || config->rule == BYZGD_GAR_CCLIP)
        byzgd_json_key_int(json, "iterations", (int64_t)result->iterations);
    byzgd_json_key_double(json, "ms", ms);
    byzgd_json_object_end(json);
    puts(byzgd_json_text(json));
    byzgd_json_destroy(&json);
}

int
main(int argc, char **argv)
{
    byzgd_gar_config_t config;
    byzgd_gar_config_init(&config);
    void *states[] = {&config, &config};
    int first = 0;
    int parsed = byzgd_options_main(&s_program, argc, argv, states, &first);
    if (parsed != BYZGD_OPTIONS_CONTINUE)
        return parsed;
    char error[512];
    const char *input = argv[first], *output = argv[first + 1];
    float *rows = NULL;
    size_t n = 0, d = 0;
    if (byzgd_npy_read_matrix(input, &rows, &n, &d, error, sizeof error) != 0) {
        byzgd_error("%s", error);
        return 2;
    }
    int status = 2;
    byzgd_gar_result_t *result = byzgd_gar_result_new(n, d);
    if (!result) {
        byzgd_error("out of memory for n=%zu d=%zu", n, d);
        goto cleanup;
    }
    double start = 1e3 * byzgd_monotonic_s();
    if (byzgd_gar_apply(&config, result, rows, n, d, error, sizeof error) != 0) {
        byzgd_error("%s", error);
        goto cleanup;
    }
    double ms = 1e3 * byzgd_monotonic_s() - start;
    if (byzgd_npy_write_vector(output, result->aggregate, d, error, sizeof error) != 0) {
        byzgd_error("%s", error);
        goto cleanup;
    }
    s_print_json(&config, result, ms);
    status = 0;
cleanup:
    byzgd_gar_result_destroy(&result);
    free(rows);
    return status;
}
