/*  gar_iterative.c — the rules computed by iteration: the geometric median (smoothed
    Weiszfeld, as in Pillutla et al.'s RFA) and centered clipping (Karimireddy et al. 2021).
    Iterates are kept in double; each row's distance is summed by one thread in a fixed
    order, so results do not depend on the thread count. */
#include "gar_internal.h"
#include "log.h"

#include <math.h>
#include <string.h>

#define GEOMED_DEFAULT_ITERATIONS 1000
#define CCLIP_DEFAULT_ITERATIONS  1

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
    // tolerance * (1 + |z|) or the iteration cap is reached.
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
        double step = 0, norm = 0;
        for (size_t j = 0; j < d; j++) {
            double value = next[j] / total;
            step += (value - z[j]) * (value - z[j]);
            norm += value * value;
            z[j] = value;
        }
        if (sqrt(step) <= config->tolerance * (1 + sqrt(norm)))
            break;
    }
    result->iterations = iteration;
    for (size_t j = 0; j < d; j++)
        result->aggregate[j] = (float)z[j];
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
