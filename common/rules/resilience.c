/*  resilience.c — η(n, f), the S_n spread estimate over squared distances and the ratio of
    Proposition 1 (see resilience.h for the estimator and why it resists Byzantine rows). */
#include "resilience.h"
#include "gar.h"
#include "gar_internal.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

double
byzgd_resilience_eta(size_t n, size_t f)
{
    if (2 * f + 2 >= n)
        return NAN;
    double nn = (double)n, ff = (double)f;
    double inner = nn - ff + (ff * (nn - ff - 2) + ff * ff * (nn - ff - 1)) / (nn - 2 * ff - 2);
    return sqrt(2 * inner);
}

// The lower median of values[0..count) (sorts them in place): an order statistic, so it is
// one of the values and a Byzantine minority cannot push it outside the honest ones.
static double
s_lower_median(double *values, size_t count)
{
    qsort(values, count, sizeof *values, byzgd_gar_compare_double);
    return values[(count - 1) / 2];
}

int
byzgd_resilience_estimate(byzgd_resilience_t *out, const float *rows, size_t n, size_t d, size_t f,
                          const float *aggregate)
{
    *out = (byzgd_resilience_t){0, NAN, NAN, NAN, NAN, NAN};
    if (d == 0 || n < 2 || !byzgd_gar_row_finite(aggregate, d))
        return -1;
    const float **used = malloc(n * sizeof *used);
    if (!used)
        abort();
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (byzgd_gar_row_finite(rows + i * d, d))
            used[m++] = rows + i * d;
    if (m < 2) {
        free(used);
        return -1;
    }
    double *distances = malloc(m * m * sizeof *distances);
    double *scratch = malloc(2 * m * sizeof *scratch); // one row's distances, then row medians
    if (!distances || !scratch)
        abort();
    // The rules' pair kernel (gar_internal.h): each row against the later ones, mirrored.
    for (size_t a = 0; a + 1 < m; a++) {
        byzgd_gar_distances_to_rows(distances + a * m + a + 1, used[a], used + a + 1, m - a - 1, d);
        for (size_t b = a + 1; b < m; b++)
            distances[b * m + a] = distances[a * m + b];
    }
    double *row_medians = scratch + m;
    for (size_t a = 0; a < m; a++) {
        size_t count = 0;
        for (size_t b = 0; b < m; b++)
            if (b != a)
                scratch[count++] = distances[a * m + b];
        row_medians[a] = s_lower_median(scratch, count);
    }
    double spread_squared = s_lower_median(row_medians, m) / 2; // d σ̂²
    double norm_squared = 0;
    for (size_t k = 0; k < d; k++)
        norm_squared += (double)aggregate[k] * (double)aggregate[k];
    out->rows = m;
    out->sigma = sqrt(spread_squared / (double)d);
    out->eta = byzgd_resilience_eta(m, f);
    out->bound = out->eta * sqrt(spread_squared);
    out->aggregate_norm = sqrt(norm_squared);
    if (isnan(out->eta))
        out->ratio = NAN;
    else
        out->ratio = out->aggregate_norm > 0 ? out->bound / out->aggregate_norm : INFINITY;
    free(used);
    free(distances);
    free(scratch);
    return 0;
}
