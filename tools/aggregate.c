/*  byzgd-aggregate — applies one aggregation rule to an n x d .npy matrix.

    byzgd-aggregate --rule RULE [-f F] [-m M] [--seed S] [--round T] [rule options] IN OUT

    Reads IN (float32 or float64, C order, 2-D), writes the d-vector to OUT as float32 .npy
    and prints one JSON line on stdout. Any error: exit status 2, one line on stderr, and
    OUT is not written. */
#include "rules/gar.h"
#include "support/json.h"
#include "support/log.h"
#include "support/npy.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
s_usage(FILE *stream)
{
    fprintf(stream,
            "usage: byzgd-aggregate --rule RULE [-f F] [-m M] [--seed S] [--round T]\n"
            "                       [rule options] IN.npy OUT.npy\n"
            "  IN.npy   n x d array, float32 or float64, C order\n"
            "  OUT.npy  the aggregate, a float32 vector of d values\n"
            "options:\n"
            "  --rule RULE        aggregation rule (default average)\n"
            "  -f, --f F          Byzantine rows tolerated (default 0)\n"
            "  -m, --m M          multi-krum: rows averaged (default n - f)\n"
            "  --seed S           1-p-krum and bucketing seed (default 0)\n"
            "  --round T          1-p-krum round, from 1 (p = 1/sqrt(T)); bucketing shuffle\n"
            "  --tolerance X      geomed stopping tolerance (default 1e-8)\n"
            "  --smoothing X      geomed smoothing nu (default 1e-6)\n"
            "  --iterations N     geomed iteration cap (default 1000), cclip iterations\n"
            "                     (default 1); alias --max-iterations\n"
            "  --tau X            cclip clipping radius (default 10)\n"
            "  --start WHERE      cclip start: median (default), average or zero\n"
            "  --clip C           pre-aggregator: clip each row to L2 norm <= C\n"
            "  --nnm              pre-aggregator: nearest-neighbour mixing\n"
            "  --bucket S         pre-aggregator: average shuffled buckets of S rows\n"
            "  -h, --help         this text\n"
            "rules:");
    for (const char *const *name = byzgd_gar_rule_names(); *name; name++)
        fprintf(stream, " %s", *name);
    fprintf(stream, "\nJSON on stdout: rule, n, d, f, dropped, used, selected, scores,\n"
                    "iterations, chose, ms (see docs/RULES.md).\n");
}

static double
s_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
}

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
    if (config->rule == BYZGD_GAR_MULTI_KRUM)
        byzgd_json_key_int(json, "m", (int64_t)result->selected_count);
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
    static const struct option options[] = {
        {"rule", required_argument, NULL, 'r'},
        {"f", required_argument, NULL, 'f'},
        {"m", required_argument, NULL, 'm'},
        {"seed", required_argument, NULL, 0},
        {"round", required_argument, NULL, 0},
        {"tolerance", required_argument, NULL, 0},
        {"smoothing", required_argument, NULL, 0},
        {"iterations", required_argument, NULL, 0},
        {"max-iterations", required_argument, NULL, 0},
        {"tau", required_argument, NULL, 0},
        {"start", required_argument, NULL, 0},
        {"clip", required_argument, NULL, 0},
        {"nnm", no_argument, NULL, 0},
        {"bucket", required_argument, NULL, 0},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    byzgd_gar_config_t config;
    byzgd_gar_config_init(&config);
    char error[512];
    opterr = 0;
    int option, index = 0;
    while ((option = getopt_long(argc, argv, ":f:m:h", options, &index)) != -1) {
        const char *name = NULL;
        switch (option) {
        case 'r':
            name = "rule";
            break;
        case 'f':
            name = "f";
            break;
        case 'm':
            name = "m";
            break;
        case 0:
            name = options[index].name;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        case ':':
            byzgd_error("option %s needs a value (see --help)", argv[optind - 1]);
            return 2;
        default:
            byzgd_error("unknown option %s (see --help)", argv[optind - 1]);
            return 2;
        }
        if (byzgd_gar_config_parse_option(&config, name, optarg, error, sizeof error) != 0) {
            byzgd_error("%s", error);
            return 2;
        }
    }
    if (argc - optind != 2) {
        byzgd_error("need IN.npy and OUT.npy, got %d path%s (see --help)", argc - optind,
                    argc - optind == 1 ? "" : "s");
        return 2;
    }
    const char *input = argv[optind], *output = argv[optind + 1];
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
    double start = s_now_ms();
    if (byzgd_gar_apply(&config, result, rows, n, d, error, sizeof error) != 0) {
        byzgd_error("%s", error);
        goto cleanup;
    }
    double ms = s_now_ms() - start;
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
