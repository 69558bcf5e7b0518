/*  bench_gar.c — median milliseconds of every aggregation rule for n in {10, 20, 50, 100}
    and d in {1e5, 1e6}, with a memory-bound floor measured in the same run (reading the
    n x d matrix once) and Krum's ratio to it. Targets at d = 1e6 on 2 cores: Krum <= 12 ms
    (n = 20) and <= 160 ms (n = 100); median <= 30 ms (n = 20).
    BYZGD_BENCH_QUICK=1 runs d = 1e5 only; BYZGD_BENCH_RULES=krum,median and
    BYZGD_BENCH_N=100 select rules and n. f = (n - 3) / 4, valid for every rule. */
#include "rules/gar.h"
#include "rules/gar_options.h"
#include "support/rng.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
s_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
}

// CPU time of the whole process (all threads): less sensitive than wall time to other
// processes sharing the two cores.
static double
s_cpu_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
}

static int
s_compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double
s_median(double *values, size_t count)
{
    qsort(values, count, sizeof *values, s_compare_double);
    return count % 2 ? values[count / 2] : (values[count / 2 - 1] + values[count / 2]) / 2;
}

// Reads every value once (16 independent lanes, both cores): the memory-bound floor.
static double
s_floor_pass(const float *rows, size_t count)
{
    double total = 0;
#pragma omp parallel for schedule(static) reduction(+ : total)
    for (size_t block = 0; block < count / 4096; block++) {
        float lanes[16] = {0};
        const float *x = rows + block * 4096;
        for (size_t j = 0; j < 4096; j += 16)
            for (int l = 0; l < 16; l++)
                lanes[l] += x[j + l];
        for (int l = 0; l < 16; l++)
            total += lanes[l];
    }
    return total;
}

// True if `name` is one of the comma-separated names of `list`.
static bool
s_listed(const char *list, const char *name)
{
    size_t length = strlen(name);
    for (const char *at = list; at && *at; at = strchr(at, ',') ? strchr(at, ',') + 1 : NULL)
        if (strncmp(at, name, length) == 0 && (at[length] == ',' || at[length] == '\0'))
            return true;
    return false;
}

int
main(void)
{
    const size_t ns[] = {10, 20, 50, 100};
    const size_t ds[] = {100000, 1000000};
    bool quick = getenv("BYZGD_BENCH_QUICK") != NULL;
    double krum20 = NAN, krum100 = NAN, median20 = NAN; // the targets at d = 1e6
    printf("%-14s %5s %8s %5s %10s %8s  %s\n", "rule", "n", "d", "f", "median_ms", "floor_x",
           "note");
    for (size_t di = 0; di < (quick ? 1 : 2); di++) {
        for (size_t ni = 0; ni < 4; ni++) {
            size_t n = ns[ni], d = ds[di], f = (n - 3) / 4;
            const char *only_n = getenv("BYZGD_BENCH_N");
            if (only_n && strtoul(only_n, NULL, 10) != n)
                continue;
            size_t repeats = d > 100000 ? 5 : 9;
            float *rows = malloc(n * d * sizeof *rows);
            byzgd_gar_result_t *result = byzgd_gar_result_new(n, d);
            if (!rows || !result) {
                fprintf(stderr, "bench_gar: out of memory for n=%zu d=%zu\n", n, d);
                return 1;
            }
            byzgd_rng_t rng;
            byzgd_rng_seed(&rng, 1, n);
            for (size_t k = 0; k < n * d; k++)
                rows[k] = (float)(byzgd_rng_uniform(&rng) * 2 - 1);
            double times[16], sink = 0;
            for (size_t r = 0; r < repeats; r++) {
                double start = s_now_ms();
                sink += s_floor_pass(rows, n * d);
                times[r] = s_now_ms() - start;
            }
            double floor_ms = s_median(times, repeats);
            printf("%-14s %5zu %8zu %5s %10.2f %8s  %.1f GB/s (sink %g)\n", "floor(read)", n, d,
                   "-", floor_ms, "1.0", (double)(n * d * 4) / floor_ms / 1e6,
                   sink > 0 ? 1.0 : 0.0);
            for (const char *const *name = byzgd_gar_rule_names(); *name; name++) {
                const char *only = getenv("BYZGD_BENCH_RULES");
                if (only && !s_listed(only, *name))
                    continue;
                byzgd_gar_config_t config;
                byzgd_gar_config_init(&config);
                char error[256], value[32];
                byzgd_gar_config_parse_option(&config, "rule", *name, error, sizeof error);
                snprintf(value, sizeof value, "%zu", f);
                byzgd_gar_config_parse_option(&config, "f", value, error, sizeof error);
                byzgd_gar_config_parse_option(&config, "round", "4", error, sizeof error);
                if (config.rule == BYZGD_GAR_GEOMED)
                    byzgd_gar_config_parse_option(&config, "iterations", "100", error,
                                                  sizeof error);
                if (byzgd_gar_check(&config, n, error, sizeof error) != 0) {
                    printf("%-14s %5zu %8zu %5zu %10s %8s  %s\n", *name, n, d, f, "-", "-", error);
                    continue;
                }
                int failed = 0;
                double cpu_times[16];
                for (size_t r = 0; r < repeats && !failed; r++) {
                    double start = s_now_ms(), cpu_start = s_cpu_ms();
                    failed = byzgd_gar_apply(&config, result, rows, n, d, error, sizeof error);
                    times[r] = s_now_ms() - start;
                    cpu_times[r] = s_cpu_ms() - cpu_start;
                }
                if (failed) {
                    printf("%-14s %5zu %8zu %5zu %10s %8s  error: %s\n", *name, n, d, f, "-", "-",
                           error);
                    continue;
                }
                double ms = s_median(times, repeats);
                if (d == 1000000 && config.rule == BYZGD_GAR_KRUM && n == 20)
                    krum20 = ms;
                if (d == 1000000 && config.rule == BYZGD_GAR_KRUM && n == 100)
                    krum100 = ms;
                if (d == 1000000 && config.rule == BYZGD_GAR_MEDIAN && n == 20)
                    median20 = ms;
                char ratio[32] = "";
                if (config.rule == BYZGD_GAR_KRUM || config.rule == BYZGD_GAR_MEDIAN)
                    snprintf(ratio, sizeof ratio, "%.1f", ms / floor_ms);
                char note[96];
                snprintf(note, sizeof note, "cpu %.1f ms", s_median(cpu_times, repeats));
                if (config.rule == BYZGD_GAR_GEOMED)
                    snprintf(note + strlen(note), sizeof note - strlen(note), ", %zu iterations",
                             result->iterations);
                if (config.rule == BYZGD_GAR_ONE_P_KRUM)
                    snprintf(note + strlen(note), sizeof note - strlen(note), ", round 4 chose %s",
                             result->chose);
                printf("%-14s %5zu %8zu %5zu %10.2f %8s  %s\n", *name, n, d, f, ms, ratio, note);
            }
            fflush(stdout);
            byzgd_gar_result_destroy(&result);
            free(rows);
        }
    }
    if (!quick)
        printf("targets at d = 1e6: krum n=20 %.2f ms (<= 12), krum n=100 %.2f ms (<= 160), "
               "median n=20 %.2f ms (<= 30)\n",
               krum20, krum100, median20);
    return 0;
}
