/*  bench_rng.c — cost per value of the Gaussian attack's draws: byzgd_rng_gaussian_fill
    over d = 109,386 values (the demo's MLP), call after call, against byzgd_rng_gaussian one
    value at a time (the reference the fill must equal bit for bit), in the same run.
    Prints the median and the fastest of REPEATS timings of CALLS fills each, and the load
    average: on a shared 2-core machine compare the ratio, not the absolute figures. */
#include "support/clock.h"
#include "support/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define DIMENSION 109386
#define CALLS     20
#define REPEATS   15

static int
s_compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// The loop the fill replaces, as the Gaussian attack would write it without the fill.
static void
s_fill_one_at_a_time(byzgd_rng_t *rng, float *out, size_t count, double scale)
{
    for (size_t i = 0; i < count; i++)
        out[i] = (float)(scale * byzgd_rng_gaussian(rng));
}

typedef void s_fill_t(byzgd_rng_t *rng, float *out, size_t count, double scale);

// Nanoseconds per value of CALLS fills of DIMENSION values from one generator.
static double
s_time(s_fill_t *fill, float *out, uint64_t seed)
{
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, seed, 0);
    double start = byzgd_monotonic_s();
    for (int call = 0; call < CALLS; call++)
        fill(&rng, out, DIMENSION, 200.0);
    return (byzgd_monotonic_s() - start) * 1e9 / ((double)CALLS * DIMENSION);
}

int
main(void)
{
    float *out = malloc(DIMENSION * sizeof *out);
    if (!out)
        return 1;
    s_fill_t *fills[] = {byzgd_rng_gaussian_fill, s_fill_one_at_a_time};
    const char *names[] = {"byzgd_rng_gaussian_fill", "byzgd_rng_gaussian, one at a time"};
    double times[2][REPEATS];
    for (int r = 0; r < REPEATS; r++) // interleaved: both see the same machine
        for (int f = 0; f < 2; f++)
            times[f][r] = s_time(fills[f], out, (uint64_t)r);
    printf("Gaussian draws, d = %d, %d calls per timing, %d timings:\n", DIMENSION, CALLS, REPEATS);
    double median[2];
    for (int f = 0; f < 2; f++) {
        qsort(times[f], REPEATS, sizeof times[f][0], s_compare);
        median[f] = times[f][REPEATS / 2];
        printf("  %-34s %6.2f ns per value (median), %6.2f (fastest)\n", names[f], median[f],
               times[f][0]);
    }
    printf("  fill / one at a time: %.2f\n", median[0] / median[1]);
    double load[3];
    if (getloadavg(load, 3) == 3)
        printf("load average during the run: %.2f (1 min), %.2f (5 min) on %ld cores\n", load[0],
               load[1], sysconf(_SC_NPROCESSORS_ONLN));
    free(out);
    return 0;
}
