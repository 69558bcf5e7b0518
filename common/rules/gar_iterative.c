/*  gar_iterative.c — the rules computed by iteration: the geometric median (smoothed
    Weiszfeld, as in Pillutla et al.'s RFA) and centered clipping (Karimireddy et al. 2021).
    Iterates are kept in double; each row's distance is summed by one thread in a fixed
    order, so results do not depend on the thread count. */
#include "gar_internal.h"
#include "support/log.h"

#include <math.h>
#include <string.h>

#define GEOMED_DEFAULT_ITERATIONS 1000
#define CCLIP_DEFAULT_ITERATIONS  1

// |a - b| in double, with eight independent accumulators so that the loop vectorises.
static double
s_row_distance(const float *a, const float *b, size_t d)
{
    double lanes[8] = {0};
    size_t j = 0;
    for (; j + 8 <= d; j += 8)
        for (int l = 0; l < 8; l++) {
            double t = (double)a[j + l] - (double)b[j + l];
            lanes[l] += t * t;
        }
    double total = 0;
    for (int l = 0; l < 8; l++)
        total += lanes[l];
    for (; j < d; j++)
        total += ((double)a[j] - (double)b[j]) * ((double)a[j] - (double)b[j]);
    return sqrt(total);
}

// values[i] = |rows[i] - point| for i < n.
static void
s_distances_to(double *values, const float *const *rows, const double *point, size_t n, size_t d)
{
#pragma omp parallel for schedule(static) if (n * d > 100000)
    for (size_t i = 0; i < n; i++)
        values[i] = byzgd_gar_distance_to(rows[i], point, d);
}

void
byzgd_gar_geomed(const byzgd_gar_config_t *config, byzgd_gar_result_t *result,
                 byzgd_gar_workspace_t *ws, size_t n, size_t d)
{
    // z minimises sum_i max(nu, |x_i - z|) approximately: z <- sum_i b_i x_i / sum_i b_i,
    // b_i = 1 / max(nu, |x_i - z|), started at the average, until the step is at most
    // tolerance * (1 + |z|) or the iteration cap is reached; then the nearest row is tested
    // as an exact minimiser.
    size_t cap = config->iterations ? config->iterations : GEOMED_DEFAULT_ITERATIONS;
    double *z = ws->sum2, *next = ws->sum, *weights = ws->values;
    byzgd_gar_weighted_sum(z, ws->rows, NULL, n, d);
    for (size_t j = 0; j < d; j++)
        z[j] /= (double)n;
    size_t iteration = 0;
    while (iteration < cap) {
        iteration++;
        s_distances_to(weights, ws->rows, z, n, d);
        double total = 0;
        for (size_t i = 0; i < n; i++) {
            weights[i] = 1.0 / fmax(config->smoothing, weights[i]);
            total += weights[i];
        }
        byzgd_gar_weighted_sum(next, ws->rows, weights, n, d);
        // Eight lanes per sum so that the loop vectorises, in a fixed order.
        double step_lanes[8] = {0}, norm_lanes[8] = {0}, step = 0, norm = 0;
        size_t j = 0;
        for (; j + 8 <= d; j += 8)
            for (int l = 0; l < 8; l++) {
                double value = next[j + l] / total;
                step_lanes[l] += (value - z[j + l]) * (value - z[j + l]);
                norm_lanes[l] += value * value;
                z[j + l] = value;
            }
        for (; j < d; j++) {
            double value = next[j] / total;
            step += (value - z[j]) * (value - z[j]);
            norm += value * value;
            z[j] = value;
        }
        for (int l = 0; l < 8; l++) {
            step += step_lanes[l];
            norm += norm_lanes[l];
        }
        if (sqrt(step) <= config->tolerance * (1 + sqrt(norm)))
            break;
    }
    result->iterations = iteration;
    for (size_t j = 0; j < d; j++)
        result->aggregate[j] = (float)z[j];
    // Weiszfeld creeps towards a minimiser that is one of the rows (e.g. n = 3 with a wide
    // angle) and stops short. Test the row nearest the iterate with the exact optimality
    // condition (Vardi and Zhang): row k minimises sum_i |x_i - z| iff
    // |sum_{x_i != x_k} (x_i - x_k) / |x_i - x_k|| <= #{i : x_i = x_k}.
    s_distances_to(weights, ws->rows, z, n, d);
    double objective_iterate = 0, objective_row = 0;
    for (size_t i = 0; i < n; i++)
        objective_iterate += weights[i];
    size_t nearest = 0;
    for (size_t i = 1; i < n; i++)
        if (weights[i] < weights[nearest])
            nearest = i;
    const float *candidate = ws->rows[nearest];
    double *pull = next;
    size_t copies = 0;
#pragma omp parallel for schedule(static) if (n * d > 100000)
    for (size_t i = 0; i < n; i++)
        weights[i] = s_row_distance(ws->rows[i], candidate, d);
    for (size_t i = 0; i < n; i++) {
        objective_row += weights[i];
        copies += weights[i] == 0;
        weights[i] = weights[i] == 0 ? 0 : 1 / weights[i];
    }
    // pull = sum_i w_i (x_i - x_k), per coordinate over blocks, rows in order.
    const size_t block = 2048;
#pragma omp parallel for schedule(static) if (n * d > 100000)
    for (size_t j0 = 0; j0 < d; j0 += block) {
        size_t len = d - j0 < block ? d - j0 : block;
        double *target = pull + j0;
        const float *centre = candidate + j0;
        for (size_t l = 0; l < len; l++)
            target[l] = 0;
        for (size_t i = 0; i < n; i++) {
            const float *row = ws->rows[i] + j0;
            double w = weights[i];
            for (size_t l = 0; l < len; l++)
                target[l] += w * ((double)row[l] - (double)centre[l]);
        }
    }
    double pull_norm = 0;
    for (size_t j = 0; j < d; j++)
        pull_norm += pull[j] * pull[j];
    // The row is taken when it is optimal and strictly better than the iterate: when the
    // minimisers form a segment (e.g. two rows) the iterate, started at the mean, is as
    // good and stays.
    if (sqrt(pull_norm) <= (double)copies * (1 + 1e-9) &&
        objective_row < objective_iterate * (1 - 1e-12))
        memcpy(result->aggregate, candidate, d * sizeof(float));
}

int
byzgd_gar_cclip(const byzgd_gar_config_t *config, byzgd_gar_result_t *result,
                byzgd_gar_workspace_t *ws, size_t n, size_t d, char *error, size_t error_size)
{
    // v <- v + (1/n) sum_i min(1, tau / |x_i - v|) (x_i - v), `iterations` times.
    size_t iterations = config->iterations ? config->iterations : CCLIP_DEFAULT_ITERATIONS;
    double *v = ws->sum2, *sum = ws->sum, *weights = ws->values;
    switch (config->start) {
    case BYZGD_GAR_START_GIVEN:
        for (size_t j = 0; j < d; j++) {
            if (!isfinite(config->centre[j]))
                return byzgd_set_error(error, error_size,
                                       "cclip: the given centre is not finite at %zu", j);
            v[j] = config->centre[j];
        }
        break;
    case BYZGD_GAR_START_ZERO:
        memset(v, 0, d * sizeof *v);
        break;
    case BYZGD_GAR_START_AVERAGE:
        byzgd_gar_weighted_sum(v, ws->rows, NULL, n, d);
        for (size_t j = 0; j < d; j++)
            v[j] /= (double)n;
        break;
    default:
        byzgd_gar_coordinate(result->aggregate, ws, ws->rows, BYZGD_GAR_COORD_MEDIAN, 0, n, d);
        for (size_t j = 0; j < d; j++)
            v[j] = result->aggregate[j];
        break;
    }
    for (size_t l = 0; l < iterations; l++) {
        s_distances_to(weights, ws->rows, v, n, d);
        double total = 0;
        for (size_t i = 0; i < n; i++) {
            weights[i] = weights[i] > config->tau ? config->tau / weights[i] : 1.0;
            total += weights[i];
        }
        byzgd_gar_weighted_sum(sum, ws->rows, weights, n, d);
        for (size_t j = 0; j < d; j++)
            v[j] = v[j] + (sum[j] - total * v[j]) / (double)n;
    }
    result->iterations = iterations;
    for (size_t j = 0; j < d; j++)
        result->aggregate[j] = (float)v[j];
    return 0;
}
