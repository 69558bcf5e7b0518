/*  gar.c — configuration, preconditions, the non-finite policy and dispatch of the
    aggregation rules. The kernels live in gar_distance.c, gar_coordinate.c, gar_select.c,
    gar_iterative.c and gar_pre.c. */
#include "gar.h"
#include "gar_internal.h"
#include "support/log.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// isfinite() is what keeps NaN and Inf out of the model; -ffast-math and -Ofast make it
// return true for NaN (docs/ARCHITECTURE.md §7), so such a build must not exist.
#if defined(__FAST_MATH__) || (defined(__FINITE_MATH_ONLY__) && __FINITE_MATH_ONLY__)
#error "byzgd must not be built with -ffast-math or -Ofast: isfinite() would accept NaN"
#endif

size_t
byzgd_gar_binomial(size_t n, size_t k)
{
    if (k > n)
        return 0;
    if (k > n - k)
        k = n - k;
    size_t result = 1;
    for (size_t i = 1; i <= k; i++) {
        // result * (n - k + i) / i stays an integer at every step.
        size_t factor = n - k + i;
        if (result > SIZE_MAX / factor)
            return SIZE_MAX;
        result = result * factor / i;
    }
    return result;
}

// The number of vectors the rule sees after the pre-aggregators, for `n` finite rows.
static size_t
s_count_after_pre(const byzgd_gar_config_t *config, size_t n)
{
    if (config->bucket_size > 1)
        n = (n + config->bucket_size - 1) / config->bucket_size;
    return n;
}

// Checks the rule's precondition for `n` vectors; `context` tells how n was reached.
static int
s_check_rule(const byzgd_gar_config_t *config, size_t n, const char *context, char *error,
             size_t error_size)
{
    const char *name = byzgd_gar_rule_name(config->rule);
    size_t f = config->f;
    if (n == 0)
        return byzgd_set_error(error, error_size, "%s needs at least one row, got n=0%s", name,
                               context);
    switch (config->rule) {
    case BYZGD_GAR_KRUM:
    case BYZGD_GAR_MULTI_KRUM:
    case BYZGD_GAR_ONE_P_KRUM:
        if (!(n > 2 * f + 2))
            return byzgd_set_error(error, error_size, "%s needs n > 2f+2, got n=%zu f=%zu%s", name,
                                   n, f, context);
        if (config->rule == BYZGD_GAR_MULTI_KRUM && config->m > n)
            return byzgd_set_error(error, error_size,
                                   "multi-krum needs 1 <= m <= n, got m=%zu n=%zu%s", config->m, n,
                                   context);
        if (config->rule == BYZGD_GAR_ONE_P_KRUM && config->round < 1)
            return byzgd_set_error(error, error_size, "1-p-krum needs round >= 1, got 0");
        return 0;
    case BYZGD_GAR_BULYAN:
        if (!(n >= 4 * f + 3))
            return byzgd_set_error(error, error_size, "bulyan needs n >= 4f+3, got n=%zu f=%zu%s",
                                   n, f, context);
        return 0;
    case BYZGD_GAR_MEDIAN:
    case BYZGD_GAR_TRIMMED_MEAN:
    case BYZGD_GAR_MEAMED:
    case BYZGD_GAR_MDA:
        if (!(n >= 2 * f + 1))
            return byzgd_set_error(error, error_size, "%s needs n >= 2f+1, got n=%zu f=%zu%s", name,
                                   n, f, context);
        if (config->rule == BYZGD_GAR_MDA && byzgd_gar_binomial(n, f) > BYZGD_GAR_MDA_MAX_SUBSETS)
            return byzgd_set_error(error, error_size,
                                   "mda refuses C(n, f) > %u subsets, got C(%zu, %zu)%s",
                                   BYZGD_GAR_MDA_MAX_SUBSETS, n, f, context);
        return 0;
    case BYZGD_GAR_CCLIP:
        if (config->start == BYZGD_GAR_START_GIVEN && !config->centre)
            return byzgd_set_error(error, error_size, "cclip: start 'given' without a centre");
        if (!(config->tau > 0))
            return byzgd_set_error(error, error_size, "cclip needs tau > 0, got %g", config->tau);
        return 0;
    case BYZGD_GAR_GEOMED:
        if (!(config->tolerance >= 0) || !(config->smoothing > 0))
            return byzgd_set_error(error, error_size,
                                   "geomed needs tolerance >= 0 and smoothing > 0");
        return 0;
    default:
        return 0;
    }
}

// Checks the pre-aggregators for `n` finite rows.
static int
s_check_pre(const byzgd_gar_config_t *config, size_t n, const char *context, char *error,
            size_t error_size)
{
    if (config->nnm && !(n > config->f))
        return byzgd_set_error(error, error_size, "nnm needs n > f, got n=%zu f=%zu%s", n,
                               config->f, context);
    if (config->rule >= BYZGD_GAR_RULE_COUNT)
        return byzgd_set_error(error, error_size, "unknown rule number %d", (int)config->rule);
    return 0;
}

// Checks pre-aggregators and rule for `n` finite rows; `dropped` only words the message.
static int
s_check(const byzgd_gar_config_t *config, size_t n, size_t dropped, char *error, size_t error_size)
{
    char context[128] = "";
    if (dropped)
        snprintf(context, sizeof context, " (%zu non-finite row%s dropped)", dropped,
                 dropped == 1 ? "" : "s");
    if (s_check_pre(config, n, context, error, error_size) != 0)
        return -1;
    size_t after = s_count_after_pre(config, n);
    if (after != n) {
        size_t length = strlen(context);
        snprintf(context + length, sizeof context - length, " (after bucketing %zu rows by %zu)", n,
                 config->bucket_size);
    }
    return s_check_rule(config, after, context, error, error_size);
}

int
byzgd_gar_check(const byzgd_gar_config_t *config, size_t n, char *error, size_t error_size)
{
    return s_check(config, n, 0, error, error_size);
}

// Bytes of distance scratch that serve every n <= max_n (the segmented layout of n <= 512
// can need more than one segment at max_n > 512).
static size_t
s_distance_scratch_bytes(size_t max_n)
{
    size_t segmented = max_n < BYZGD_GAR_SEGMENTED_MAX_N ? max_n : BYZGD_GAR_SEGMENTED_MAX_N;
    size_t a = byzgd_gar_distance_scratch(max_n), b = byzgd_gar_distance_scratch(segmented);
    return (a > b ? a : b) * sizeof(double);
}

static void
s_workspace_free(byzgd_gar_workspace_t *ws)
{
    if (!ws)
        return;
    free(ws->rows);
    free(ws->subset);
    free(ws->inputs);
    free(ws->member_start);
    free(ws->members);
    free(ws->member_start2);
    free(ws->members2);
    free(ws->distances);
    free(ws->partial);
    free(ws->scores);
    free(ws->values);
    free(ws->order);
    free(ws->picked);
    free(ws->flags);
    free(ws->sum);
    free(ws->sum2);
    free(ws->network);
    free(ws->buffer[0]);
    free(ws->buffer[1]);
    free(ws);
}

// (Re)allocates everything sized by n and d. Returns 0, or -1 when out of memory.
static int
s_result_reserve(byzgd_gar_result_t *self, size_t max_n, size_t max_d)
{
    if (max_n <= self->capacity_n && max_d <= self->capacity_d && self->workspace)
        return 0;
    if (max_n < self->capacity_n)
        max_n = self->capacity_n;
    if (max_d < self->capacity_d)
        max_d = self->capacity_d;
    if (max_n == 0)
        max_n = 1;
    if (max_d == 0)
        max_d = 1;
    if (max_n > ((size_t)1 << 20) || max_d > SIZE_MAX / 2 / sizeof(double) / 2)
        return -1;
    byzgd_gar_workspace_t *ws = calloc(1, sizeof *ws);
    float *aggregate = malloc(max_d * sizeof *aggregate);
    size_t *selected = malloc(max_n * sizeof *selected);
    double *scores = malloc(max_n * sizeof *scores);
    if (!ws || !aggregate || !selected || !scores)
        goto failure;
    ws->max_n = max_n;
    ws->max_d = max_d;
    ws->rows = malloc(max_n * sizeof *ws->rows);
    ws->subset = malloc(max_n * sizeof *ws->subset);
    ws->inputs = malloc(max_n * sizeof *ws->inputs);
    ws->member_start = malloc((max_n + 1) * sizeof(size_t));
    ws->members = malloc(max_n * sizeof(size_t));
    ws->member_start2 = malloc((max_n + 1) * sizeof(size_t));
    ws->members2 = malloc(max_n * sizeof(size_t));
    ws->scores = malloc(max_n * sizeof(double));
    ws->values = malloc(max_n * sizeof(double));
    ws->order = malloc(max_n * sizeof(size_t));
    ws->picked = malloc(max_n * sizeof(size_t));
    ws->flags = malloc(max_n);
    ws->sum = malloc(max_d * sizeof(double));
    ws->sum2 = malloc(max_d * sizeof(double));
    if (!ws->rows || !ws->subset || !ws->inputs || !ws->member_start || !ws->members ||
        !ws->member_start2 || !ws->members2 || !ws->scores || !ws->values || !ws->order ||
        !ws->picked || !ws->flags || !ws->sum || !ws->sum2)
        goto failure;
    free(self->aggregate);
    free(self->selected);
    free(self->scores);
    s_workspace_free(self->workspace);
    self->aggregate = aggregate;
    self->selected = selected;
    self->scores = scores;
    self->workspace = ws;
    self->capacity_n = max_n;
    self->capacity_d = max_d;
    return 0;
failure:
    s_workspace_free(ws);
    free(aggregate);
    free(selected);
    free(scores);
    return -1;
}

byzgd_gar_result_t *
byzgd_gar_result_new(size_t max_n, size_t max_d)
{
    byzgd_gar_result_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (s_result_reserve(self, max_n, max_d) != 0) {
        free(self);
        return NULL;
    }
    return self;
}

void
byzgd_gar_result_destroy(byzgd_gar_result_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    byzgd_gar_result_t *self = *self_p;
    free(self->aggregate);
    free(self->selected);
    free(self->scores);
    s_workspace_free(self->workspace);
    free(self);
    *self_p = NULL;
}

// True if every value of the row is finite. Tests the exponent bits rather than the value,
// so the loop vectorises without reassociating floating-point sums.
static bool
s_row_finite(const float *row, size_t d)
{
    uint32_t bad = 0;
    for (size_t j = 0; j < d; j++) {
        uint32_t bits;
        memcpy(&bits, row + j, sizeof bits);
        bad |= (bits & 0x7f800000u) == 0x7f800000u;
    }
    return bad == 0;
}

// Non-finite policy: lists the finite rows in ws->rows (with their input indices as
// membership) and returns their count. `fuse_distances`: the rule (or NNM before it) needs
// the distances of the rows as given (byzgd_gar_uses_distances), and gets them ready in
// ws->distances. `fuse_average`: the rule is the
// plain average, left in result->aggregate with *averaged set when all rows are finite.
static size_t
s_gather_finite(const byzgd_gar_config_t *config, byzgd_gar_result_t *result,
                const float *const *rows, const double *given_distances, size_t n, size_t d,
                bool fuse_distances, bool fuse_average, bool *averaged)
{
    // Non-finite policy: drop rows holding NaN or ±Inf, keep their input indices. For the
    // distance rules without pre-aggregators (and NNM), the distances of all n rows are computed
    // first and reveal non-finite rows for free (a pair is finite exactly when both rows
    // are: double sums cannot overflow): one pass over the matrix instead of two. Only
    // when some distance is not finite are the rows scanned and the matrix compacted.
    byzgd_gar_workspace_t *ws = result->workspace;
    bool all_distances = false;
    size_t count = 0;
    if (fuse_distances && n >= 2 && s_check(config, n, 0, NULL, 0) == 0) {
        for (size_t i = 0; i < n; i++)
            ws->rows[i] = rows[i];
        if (given_distances)
            memcpy(ws->distances, given_distances, n * n * sizeof *ws->distances);
        else
            byzgd_gar_distances(ws->distances, ws->partial, ws->rows, n, d);
        all_distances = true;
        bool all_finite = true;
        for (size_t k = 0; k < n * n; k++)
            all_finite &= isfinite(ws->distances[k]) != 0;
        if (all_finite) {
            for (size_t i = 0; i < n; i++) {
                ws->member_start[i] = i;
                ws->members[i] = i;
            }
            count = n;
            ws->distances_ready = true;
        }
    }
    // Averaging without pre-aggregators likewise: the mean of all rows is finite exactly
    // when every row is (a NaN or Inf reaches its coordinate's sum), so the rows are only
    // scanned when it is not.
    if (fuse_average) {
        for (size_t i = 0; i < n; i++)
            ws->rows[i] = rows[i];
        byzgd_gar_mean(result->aggregate, ws->sum, ws->rows, NULL, n, d);
        if (s_row_finite(result->aggregate, d)) {
            for (size_t i = 0; i < n; i++) {
                ws->member_start[i] = i;
                ws->members[i] = i;
            }
            count = n;
            *averaged = true;
        }
    }
    if (!ws->distances_ready && !*averaged) {
        unsigned char *finite = ws->flags;
#pragma omp parallel for schedule(dynamic, 1) if (n * d > 100000)
        for (size_t i = 0; i < n; i++)
            finite[i] = s_row_finite(rows[i], d);
        for (size_t i = 0; i < n; i++) {
            if (!finite[i])
                continue;
            ws->rows[count] = rows[i];
            ws->member_start[count] = count;
            ws->members[count] = i;
            count++;
        }
        if (all_distances) {
            // Keep the kept rows' block; new positions never pass old ones, so in place.
            for (size_t a = 0; a < count; a++)
                for (size_t b = 0; b < count; b++)
                    ws->distances[a * count + b] =
                        ws->distances[ws->members[a] * n + ws->members[b]];
            ws->distances_ready = true;
        }
    }
    return count;
}

// The rule itself works on the distances of its vectors (1-p Krum only when it draws Krum).
static bool
s_distance_rule(const byzgd_gar_config_t *config)
{
    switch (config->rule) {
    case BYZGD_GAR_KRUM:
    case BYZGD_GAR_MULTI_KRUM:
    case BYZGD_GAR_MEDOID:
    case BYZGD_GAR_BULYAN:
    case BYZGD_GAR_MDA:
        return true;
    case BYZGD_GAR_ONE_P_KRUM:
        return !byzgd_gar_one_p_averages(config);
    default:
        return false;
    }
}

bool
byzgd_gar_uses_distances(const byzgd_gar_config_t *config)
{
    if (config->clip_norm > 0)
        return false; // the rows change before anything measures them
    if (config->nnm)
        return true;
    return config->bucket_size <= 1 && s_distance_rule(config);
}

int
byzgd_gar_apply(const byzgd_gar_config_t *config, byzgd_gar_result_t *result, const float *rows,
                size_t n, size_t d, char *error, size_t error_size)
{
    if (n > 0 && s_result_reserve(result, n, d) != 0)
        return byzgd_set_error(error, error_size, "%s: out of memory for n=%zu d=%zu",
                               byzgd_gar_rule_name(config->rule), n, d);
    for (size_t i = 0; i < n; i++)
        result->workspace->inputs[i] = rows + i * d;
    return byzgd_gar_apply_rows(config, result, result->workspace->inputs, NULL, n, d, error,
                                error_size);
}

int
byzgd_gar_apply_rows(const byzgd_gar_config_t *config, byzgd_gar_result_t *result,
                     const float *const *rows, const double *distances, size_t n, size_t d,
                     char *error, size_t error_size)
{
    const char *name = byzgd_gar_rule_name(config->rule);
    if (config->rule >= BYZGD_GAR_RULE_COUNT)
        return byzgd_set_error(error, error_size, "unknown rule number %d", (int)config->rule);
    if (n == 0)
        return byzgd_set_error(error, error_size, "%s: no rows to aggregate (n=0)", name);
    if (d == 0)
        return byzgd_set_error(error, error_size, "%s: rows are empty (d=0)", name);
    if (s_result_reserve(result, n, d) != 0)
        return byzgd_set_error(error, error_size, "%s: out of memory for n=%zu d=%zu", name, n, d);
    byzgd_gar_workspace_t *ws = result->workspace;
    result->n = n;
    result->d = d;
    result->f = config->f;
    result->selected_count = 0;
    result->has_scores = false;
    result->iterations = 0;
    result->chose = NULL;

    // The n x n distance matrix is allocated on first use, so that rules without
    // distances can aggregate very many rows.
    bool pre = config->nnm || config->bucket_size > 1 || config->clip_norm > 0;
    // 1-p Krum's draw depends only on (seed, round); when it averages, it is the average.
    bool one_p_averages = config->rule == BYZGD_GAR_ONE_P_KRUM && byzgd_gar_one_p_averages(config);
    bool distance_rule = s_distance_rule(config);
    if ((distance_rule || config->nnm) && (!ws->distances || !ws->partial)) {
        if (ws->max_n > SIZE_MAX / sizeof(double) / ws->max_n)
            return byzgd_set_error(error, error_size, "%s: n=%zu is too large", name, ws->max_n);
        if (!ws->distances)
            ws->distances = malloc(ws->max_n * ws->max_n * sizeof(double));
        if (!ws->partial)
            ws->partial = malloc(s_distance_scratch_bytes(ws->max_n));
        if (!ws->distances || !ws->partial)
            return byzgd_set_error(error, error_size,
                                   "%s: out of memory for the %zu x %zu distance matrix", name,
                                   ws->max_n, ws->max_n);
    }
    ws->distances_ready = false;

    bool averaged = false;
    size_t count =
        s_gather_finite(config, result, rows, distances, n, d, byzgd_gar_uses_distances(config),
                        (config->rule == BYZGD_GAR_AVERAGE || one_p_averages) && !pre, &averaged);
    ws->member_start[count] = count;
    result->dropped = n - count;
    if (count == 0)
        return byzgd_set_error(error, error_size, "%s: no finite row among n=%zu", name, n);
    if (s_check(config, count, result->dropped, error, error_size) != 0)
        return -1;
    if (byzgd_gar_pre_aggregate(config, ws, &count, d, error, error_size) != 0)
        return -1;
    result->used = count;

    size_t picked_count = 0;
    bool scores_set = false;
    const float *const *vectors = ws->rows;
    if (one_p_averages) {
        result->chose = "average";
        if (!averaged)
            byzgd_gar_mean(result->aggregate, ws->sum, vectors, NULL, count, d);
        return 0;
    }
    switch (config->rule) {
    case BYZGD_GAR_AVERAGE:
        if (!averaged)
            byzgd_gar_mean(result->aggregate, ws->sum, vectors, NULL, count, d);
        break;
    case BYZGD_GAR_MEDIAN:
        byzgd_gar_coordinate(result->aggregate, ws, vectors, BYZGD_GAR_COORD_MEDIAN, 0, count, d);
        break;
    case BYZGD_GAR_TRIMMED_MEAN:
        byzgd_gar_coordinate(result->aggregate, ws, vectors, BYZGD_GAR_COORD_TRIMMED, config->f,
                             count, d);
        break;
    case BYZGD_GAR_MEAMED:
        byzgd_gar_coordinate(result->aggregate, ws, vectors, BYZGD_GAR_COORD_CLOSEST,
                             count - config->f, count, d);
        break;
    case BYZGD_GAR_GEOMED:
        byzgd_gar_geomed(config, result, ws, count, d);
        break;
    case BYZGD_GAR_CCLIP:
        if (byzgd_gar_cclip(config, result, ws, count, d, error, error_size) != 0)
            return -1;
        break;
    default:
        if (byzgd_gar_select(config, result, ws, count, d, &picked_count, &scores_set, error,
                             error_size) != 0)
            return -1;
        break;
    }

    // Map the picked vectors and their scores back to input row indices.
    for (size_t p = 0; p < picked_count; p++) {
        size_t v = ws->picked[p];
        for (size_t k = ws->member_start[v]; k < ws->member_start[v + 1]; k++)
            result->selected[result->selected_count++] = ws->members[k];
    }
    if (scores_set) {
        for (size_t i = 0; i < n; i++)
            result->scores[i] = NAN;
        for (size_t v = 0; v < count; v++)
            for (size_t k = ws->member_start[v]; k < ws->member_start[v + 1]; k++)
                result->scores[ws->members[k]] = ws->scores[v];
        result->has_scores = true;
    }
    return 0;
}
