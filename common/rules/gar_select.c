/*  gar_select.c — the rules that select input vectors from their pairwise distances:
    Krum, Multi-Krum, Medoid, 1-p Krum (Blanchard et al. 2017), Bulyan (El Mhamdi et al.
    2018) and MDA (minimum-diameter averaging). All ties go to the smallest index. */
#include "gar_internal.h"
#include "support/log.h"
#include "support/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int
byzgd_gar_compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void
byzgd_gar_krum_scores(double *scores, double *values, const double *distances, const size_t *subset,
                      size_t count, size_t neighbours, size_t n)
{
    for (size_t a = 0; a < count; a++) {
        size_t row = subset ? subset[a] : a, others = 0;
        for (size_t b = 0; b < count; b++)
            if (b != a)
                values[others++] = distances[row * n + (subset ? subset[b] : b)];
        qsort(values, others, sizeof *values, byzgd_gar_compare_double);
        double score = 0;
        for (size_t q = 0; q < neighbours && q < others; q++)
            score += values[q];
        scores[a] = score;
    }
}

// Orders indices by (score, index) for qsort_r.
static int
s_compare_by_score(const void *a, const void *b, void *context)
{
    const double *scores = context;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (scores[i] != scores[j])
        return scores[i] < scores[j] ? -1 : 1;
    return (i > j) - (i < j);
}

void
byzgd_gar_order_by_score(size_t *order, const double *scores, size_t count)
{
    for (size_t i = 0; i < count; i++)
        order[i] = i;
    qsort_r(order, count, sizeof *order, s_compare_by_score, (void *)scores);
}

// The index of the smallest score; ties go to the smallest index.
static size_t
s_argmin(const double *scores, size_t count)
{
    size_t best = 0;
    for (size_t i = 1; i < count; i++)
        if (scores[i] < scores[best])
            best = i;
    return best;
}

// Computes the distances of the rule's vectors unless the caller already did.
static void
s_ensure_distances(byzgd_gar_workspace_t *ws, size_t n, size_t d)
{
    if (!ws->distances_ready)
        byzgd_gar_distances(ws->distances, ws->partial, ws->rows, n, d);
    ws->distances_ready = true;
}

// Krum (docs/RULES.md, the paper's definition): scores with n - f - 2 neighbours, pick the argmin.
static void
s_krum(byzgd_gar_result_t *result, byzgd_gar_workspace_t *ws, size_t f, size_t n, size_t d,
       size_t *picked_count)
{
    s_ensure_distances(ws, n, d);
    byzgd_gar_krum_scores(ws->scores, ws->values, ws->distances, NULL, n, n - f - 2, n);
    ws->picked[0] = s_argmin(ws->scores, n);
    *picked_count = 1;
    memcpy(result->aggregate, ws->rows[ws->picked[0]], d * sizeof(float));
}

// Searches kept subsets in lexicographic order (include-first depth-first search), pruning
// any partial subset whose diameter already reaches the best one: the first subset of the
// minimum diameter is kept.
typedef struct {
    const double *distances;
    size_t n, keep;
    size_t *current, *best;
    double best_diameter;
} s_mda_search_t;

static void
s_mda_search(s_mda_search_t *search, size_t next, size_t chosen, double diameter)
{
    if (chosen == search->keep) {
        if (diameter < search->best_diameter) {
            search->best_diameter = diameter;
            memcpy(search->best, search->current, chosen * sizeof(size_t));
        }
        return;
    }
    if (search->n - next < search->keep - chosen)
        return;
    double with = diameter;
    for (size_t q = 0; q < chosen; q++) {
        double distance = search->distances[search->current[q] * search->n + next];
        if (distance > with)
            with = distance;
    }
    if (with < search->best_diameter) {
        search->current[chosen] = next;
        s_mda_search(search, next + 1, chosen + 1, with);
    }
    s_mda_search(search, next + 1, chosen, diameter);
}

bool
byzgd_gar_one_p_averages(const byzgd_gar_config_t *config)
{
    // One draw per (seed, round): the same pair always makes the same choice.
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, config->seed, config->round);
    return byzgd_rng_uniform(&rng) < 1.0 / sqrt((double)config->round);
}

int
byzgd_gar_select(const byzgd_gar_config_t *config, byzgd_gar_result_t *result,
                 byzgd_gar_workspace_t *ws, size_t n, size_t d, size_t *picked_count,
                 bool *scores_set, char *error, size_t error_size)
{
    size_t f = config->f;
    *picked_count = 0;
    *scores_set = false;
    switch (config->rule) {
    case BYZGD_GAR_KRUM:
        s_krum(result, ws, f, n, d, picked_count);
        *scores_set = true;
        return 0;
    case BYZGD_GAR_ONE_P_KRUM: {
        if (byzgd_gar_one_p_averages(config)) {
            result->chose = "average";
            byzgd_gar_mean(result->aggregate, ws->sum, ws->rows, NULL, n, d);
            return 0;
        }
        result->chose = "krum";
        s_krum(result, ws, f, n, d, picked_count);
        *scores_set = true;
        return 0;
    }
    case BYZGD_GAR_MULTI_KRUM: {
        size_t m = config->m ? config->m : n - f;
        s_ensure_distances(ws, n, d);
        byzgd_gar_krum_scores(ws->scores, ws->values, ws->distances, NULL, n, n - f - 2, n);
        byzgd_gar_order_by_score(ws->picked, ws->scores, n);
        for (size_t q = 0; q < m; q++)
            ws->subset[q] = ws->rows[ws->picked[q]];
        byzgd_gar_mean(result->aggregate, ws->sum, ws->subset, NULL, m, d);
        *picked_count = m;
        *scores_set = true;
        return 0;
    }
    case BYZGD_GAR_MEDOID:
        s_ensure_distances(ws, n, d);
        for (size_t a = 0; a < n; a++) {
            double total = 0;
            for (size_t b = 0; b < n; b++)
                total += sqrt(ws->distances[a * n + b]);
            ws->scores[a] = total;
        }
        ws->picked[0] = s_argmin(ws->scores, n);
        *picked_count = 1;
        *scores_set = true;
        memcpy(result->aggregate, ws->rows[ws->picked[0]], d * sizeof(float));
        return 0;
    case BYZGD_GAR_BULYAN: {
        // Krum repeatedly on the remaining vectors (with the remaining count, f fixed),
        // removing each pick, until theta = n - 2f are picked; then per coordinate the
        // mean of the beta = theta - 2f values closest to the selection's median.
        size_t theta = n - 2 * f, remaining = n;
        s_ensure_distances(ws, n, d);
        for (size_t i = 0; i < n; i++)
            ws->order[i] = i;
        for (size_t s = 0; s < theta; s++) {
            size_t neighbours = remaining > f + 2 ? remaining - f - 2 : 0;
            // The first round's scores are reported; later rounds score into
            // result->scores, which apply() overwrites afterwards.
            double *scores = s == 0 ? ws->scores : result->scores;
            byzgd_gar_krum_scores(scores, ws->values, ws->distances, ws->order, remaining,
                                  neighbours, n);
            size_t best = s_argmin(scores, remaining);
            ws->picked[s] = ws->order[best];
            memmove(ws->order + best, ws->order + best + 1,
                    (remaining - best - 1) * sizeof(size_t));
            remaining--;
        }
        // The coordinate-wise stage sees the picks in index order, so that its ties go
        // to the smallest row index like every other tie.
        memcpy(ws->order, ws->picked, theta * sizeof(size_t));
        for (size_t q = 1; q < theta; q++)
            for (size_t p = q; p > 0 && ws->order[p - 1] > ws->order[p]; p--) {
                size_t swap = ws->order[p];
                ws->order[p] = ws->order[p - 1];
                ws->order[p - 1] = swap;
            }
        for (size_t q = 0; q < theta; q++)
            ws->subset[q] = ws->rows[ws->order[q]];
        byzgd_gar_coordinate(result->aggregate, ws, ws->subset, BYZGD_GAR_COORD_CLOSEST,
                             theta - 2 * f, theta, d);
        *picked_count = theta;
        *scores_set = true;
        return 0;
    }
    case BYZGD_GAR_MDA: {
        s_ensure_distances(ws, n, d);
        s_mda_search_t search = {
            .distances = ws->distances,
            .n = n,
            .keep = n - f,
            .current = ws->order,
            .best = ws->picked,
            .best_diameter = INFINITY,
        };
        s_mda_search(&search, 0, 0, 0.0);
        for (size_t q = 0; q < n - f; q++)
            ws->subset[q] = ws->rows[ws->picked[q]];
        byzgd_gar_mean(result->aggregate, ws->sum, ws->subset, NULL, n - f, d);
        *picked_count = n - f;
        return 0;
    }
    default:
        return byzgd_set_error(error, error_size, "%s is not a selection rule",
                               byzgd_gar_rule_name(config->rule));
    }
}
