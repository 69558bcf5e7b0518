/*  bench_gar.c — median milliseconds of every aggregation rule for n in {10, 20, 50, 100}
    and d in {1e5, 1e6}, with a memory-bound floor measured in the same run (reading the
    n x d matrix once) and Krum's ratio to it; then Krum at d = 1e6 against NumPy's X.X^T
    (OpenBLAS, python3-numpy) on the same-shaped matrix, alternating three times in one
    run, with the ratios' min and median; then Krum on gradient-like rows, clean and with
    the Gaussian attack (far rows must cost nothing); then streamed aggregation
    (rules/gar_stream.h): the time from the last row's arrival to the aggregate (its
    distances plus the rule), for Krum and Multi-Krum at n = 20 and 100, d = 1e6, beside the
    plain average. Targets at d = 1e6 on 2 cores: Krum <= 6 ms (n = 20) and <= 0.65 x
    NumPy's X.X^T (n = 100); median <= 30 ms (n = 20). BYZGD_BENCH_QUICK=1 runs d = 1e5
    only; BYZGD_BENCH_RULES=krum,median and BYZGD_BENCH_N=100 select rules and n (the name
    "stream" selects the streamed figures). f = (n - 3) / 4, valid for every rule. */
#include "rules/gar.h"
#include "rules/gar_options.h"
#include "rules/gar_stream.h"
#include "support/clock.h"
#include "support/rng.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

// NumPy's median wall and CPU milliseconds for X @ X.T on an n x d float32 matrix over
// `repeats` runs (NAN when python3-numpy is missing).
static void
s_numpy_gram_ms(size_t n, size_t d, size_t repeats, double *wall, double *cpu)
{
    char command[512];
    snprintf(command, sizeof command,
             "/usr/bin/python3 -c 'import time, numpy as np\n"
             "x = np.random.default_rng(1).uniform(-1, 1, (%zu, %zu)).astype(np.float32)\n"
             "t, c = [], []\n"
             "for _ in range(%zu):\n"
             "    s, p = time.perf_counter(), time.process_time(); g = x @ x.T\n"
             "    t.append(time.perf_counter() - s); c.append(time.process_time() - p)\n"
             "print(1e3 * float(np.median(t)), 1e3 * float(np.median(c)))' 2>/dev/null",
             n, d, repeats);
    FILE *pipe = popen(command, "r");
    *wall = *cpu = NAN;
    if (pipe) {
        if (fscanf(pipe, "%lf %lf", wall, cpu) != 2)
            *wall = *cpu = NAN;
        pclose(pipe);
    }
}

// n x d values uniform in [-1, 1) from seed (1, n): the same rows for every rule at (n, d).
static float *
s_uniform_rows(size_t n, size_t d)
{
    float *rows = malloc(n * d * sizeof *rows);
    if (!rows) {
        fprintf(stderr, "bench_gar: out of memory for n=%zu d=%zu\n", n, d);
        exit(1);
    }
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 1, n);
    for (size_t k = 0; k < n * d; k++)
        rows[k] = (float)(byzgd_rng_uniform(&rng) * 2 - 1);
    return rows;
}

// Krum's median milliseconds at (n, d) against NumPy's X.X^T, alternated `rounds` times;
// prints each pair and the ratios' min and median. Returns the median ratio.
static double
s_krum_vs_numpy(size_t n, size_t d, size_t rounds)
{
    float *rows = s_uniform_rows(n, d);
    byzgd_gar_result_t *result = byzgd_gar_result_new(n, d);
    if (!result) {
        fprintf(stderr, "bench_gar: out of memory for n=%zu d=%zu\n", n, d);
        exit(1);
    }
    byzgd_gar_config_t config;
    byzgd_gar_config_init(&config);
    char error[256], value[32];
    byzgd_gar_config_parse_option(&config, "rule", "krum", error, sizeof error);
    snprintf(value, sizeof value, "%zu", (n - 3) / 4);
    byzgd_gar_config_parse_option(&config, "f", value, error, sizeof error);
    double ratios[16], cpu_ratios[16];
    for (size_t r = 0; r < rounds; r++) {
        double times[5], cpu_times[5];
        for (size_t k = 0; k < 5; k++) {
            double start = 1e3 * byzgd_monotonic_s(), cpu_start = 1e3 * byzgd_cpu_s();
            if (byzgd_gar_apply(&config, result, rows, n, d, error, sizeof error) != 0) {
                fprintf(stderr, "bench_gar: %s\n", error);
                exit(1);
            }
            times[k] = 1e3 * byzgd_monotonic_s() - start;
            cpu_times[k] = 1e3 * byzgd_cpu_s() - cpu_start;
        }
        double krum = s_median(times, 5), krum_cpu = s_median(cpu_times, 5), numpy, numpy_cpu;
        s_numpy_gram_ms(n, d, 5, &numpy, &numpy_cpu);
        ratios[r] = krum / numpy;
        cpu_ratios[r] = krum_cpu / numpy_cpu;
        printf("krum-vs-numpy  %5zu %8zu  krum %.2f ms (cpu %.1f), numpy X.X^T %.2f ms (cpu %.1f), "
               "ratio %.3f (cpu %.3f)\n",
               n, d, krum, krum_cpu, numpy, numpy_cpu, ratios[r], cpu_ratios[r]);
        fflush(stdout);
    }
    double median = s_median(ratios, rounds), cpu_median = s_median(cpu_ratios, rounds);
    printf("krum-vs-numpy  %5zu %8zu  wall ratio min %.3f median %.3f (target <= 0.65), cpu "
           "ratio min %.3f median %.3f\n",
           n, d, ratios[0], median, cpu_ratios[0], cpu_median);
    byzgd_gar_result_destroy(&result);
    free(rows);
    return median;
}

// Krum's median milliseconds at (n, d) on gradient-like rows, clean and attacked: n rows
// around a common vector (uniform in [-1, 1)) with 1 % noise, then the same with the last
// f = (n - 3) / 4 rows replaced by the Gaussian attack (sigma = sqrt(200), its default).
// Far rows must not slow the distances down (they once dragged the Gram kernel's centre
// away from every honest row, and every honest pair was recomputed from its differences).
static void
s_krum_attacked(size_t n, size_t d, size_t repeats)
{
    float *rows = malloc(n * d * sizeof *rows), *common = malloc(d * sizeof *common);
    byzgd_gar_result_t *result = byzgd_gar_result_new(n, d);
    if (!rows || !common || !result) {
        fprintf(stderr, "bench_gar: out of memory for n=%zu d=%zu\n", n, d);
        exit(1);
    }
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 2, n);
    for (size_t j = 0; j < d; j++)
        common[j] = (float)(byzgd_rng_uniform(&rng) * 2 - 1);
    size_t f = (n - 3) / 4;
    byzgd_gar_config_t config;
    byzgd_gar_config_init(&config);
    char error[256], value[32];
    byzgd_gar_config_parse_option(&config, "rule", "krum", error, sizeof error);
    snprintf(value, sizeof value, "%zu", f);
    byzgd_gar_config_parse_option(&config, "f", value, error, sizeof error);
    double ms[2];
    for (int attacked = 0; attacked < 2; attacked++) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++)
                rows[i * d + j] = attacked && i >= n - f
                                      ? (float)(sqrt(200.0) * byzgd_rng_gaussian(&rng))
                                      : common[j] + (float)(0.01 * (byzgd_rng_uniform(&rng) - 0.5));
        double times[16];
        for (size_t k = 0; k < repeats; k++) {
            double start = 1e3 * byzgd_monotonic_s();
            if (byzgd_gar_apply(&config, result, rows, n, d, error, sizeof error) != 0) {
                fprintf(stderr, "bench_gar: %s\n", error);
                exit(1);
            }
            times[k] = 1e3 * byzgd_monotonic_s() - start;
        }
        ms[attacked] = s_median(times, repeats);
    }
    printf("krum-attacked  %5zu %8zu  clean %.2f ms, %zu Gaussian attackers %.2f ms (%.2f x)\n", n,
           d, ms[0], f, ms[1], ms[1] / ms[0]);
    fflush(stdout);
    byzgd_gar_result_destroy(&result);
    free(common);
    free(rows);
}

// Median milliseconds of "add the last row, finish" over `repeats` rounds of a stream
// whose thread has computed the other n - 1 rows' distances, for `rule`; of "add all n
// rows at once, finish" (what byzgd-simulate does); and of byzgd_gar_apply on the rows.
static void
s_stream_after_last(size_t n, size_t d, size_t repeats)
{
    float *rows = s_uniform_rows(n, d);
    byzgd_gar_result_t *result = byzgd_gar_result_new(n, d);
    byzgd_gar_stream_t *stream = byzgd_gar_stream_new(n, d);
    if (!result || !stream) {
        fprintf(stderr, "bench_gar: out of memory for n=%zu d=%zu\n", n, d);
        exit(1);
    }
    const char *rules[] = {"average", "krum", "multi-krum"};
    for (int r = 0; r < 3; r++) {
        byzgd_gar_config_t config;
        byzgd_gar_config_init(&config);
        char error[256], value[32];
        byzgd_gar_config_parse_option(&config, "rule", rules[r], error, sizeof error);
        snprintf(value, sizeof value, "%zu", (n - 3) / 4);
        byzgd_gar_config_parse_option(&config, "f", value, error, sizeof error);
        double times[16], batch[16], at_once[16];
        for (size_t k = 0; k < repeats; k++) {
            double start = 1e3 * byzgd_monotonic_s();
            if (byzgd_gar_apply(&config, result, rows, n, d, error, sizeof error) != 0) {
                fprintf(stderr, "bench_gar: %s\n", error);
                exit(1);
            }
            batch[k] = 1e3 * byzgd_monotonic_s() - start;
            byzgd_gar_stream_reset(stream, &config);
            for (size_t i = 0; i + 1 < n; i++)
                byzgd_gar_stream_add_row(stream, i, rows + i * d, error, sizeof error);
            byzgd_gar_stream_drain(stream);
            start = 1e3 * byzgd_monotonic_s();
            byzgd_gar_stream_add_row(stream, n - 1, rows + (n - 1) * d, error, sizeof error);
            if (byzgd_gar_stream_finish(stream, result, error, sizeof error) != 0) {
                fprintf(stderr, "bench_gar: %s\n", error);
                exit(1);
            }
            times[k] = 1e3 * byzgd_monotonic_s() - start;
            byzgd_gar_stream_reset(stream, &config);
            start = 1e3 * byzgd_monotonic_s();
            for (size_t i = 0; i < n; i++)
                byzgd_gar_stream_add_row(stream, i, rows + i * d, error, sizeof error);
            if (byzgd_gar_stream_finish(stream, result, error, sizeof error) != 0) {
                fprintf(stderr, "bench_gar: %s\n", error);
                exit(1);
            }
            at_once[k] = 1e3 * byzgd_monotonic_s() - start;
        }
        printf("stream         %5zu %8zu  %-10s after the last arrival %.2f ms, all rows at once "
               "%.2f ms (batch %.2f ms)\n",
               n, d, rules[r], s_median(times, repeats), s_median(at_once, repeats),
               s_median(batch, repeats));
        fflush(stdout);
    }
    byzgd_gar_stream_destroy(&stream);
    byzgd_gar_result_destroy(&result);
    free(rows);
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
            float *rows = s_uniform_rows(n, d);
            byzgd_gar_result_t *result = byzgd_gar_result_new(n, d);
            if (!result) {
                fprintf(stderr, "bench_gar: out of memory for n=%zu d=%zu\n", n, d);
                return 1;
            }
            double times[16], sink = 0;
            for (size_t r = 0; r < repeats; r++) {
                double start = 1e3 * byzgd_monotonic_s();
                sink += s_floor_pass(rows, n * d);
                times[r] = 1e3 * byzgd_monotonic_s() - start;
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
                    double start = 1e3 * byzgd_monotonic_s(), cpu_start = 1e3 * byzgd_cpu_s();
                    failed = byzgd_gar_apply(&config, result, rows, n, d, error, sizeof error);
                    times[r] = 1e3 * byzgd_monotonic_s() - start;
                    cpu_times[r] = 1e3 * byzgd_cpu_s() - cpu_start;
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
    if (!quick) {
        const char *only = getenv("BYZGD_BENCH_RULES"), *only_n = getenv("BYZGD_BENCH_N");
        double ratio = NAN;
        if ((!only || s_listed(only, "krum")) && (!only_n || strtoul(only_n, NULL, 10) == 100))
            ratio = s_krum_vs_numpy(100, 1000000, 3);
        for (size_t k = 0; k < 2; k++)
            if ((!only || s_listed(only, "krum")) &&
                (!only_n || strtoul(only_n, NULL, 10) == (k ? 100 : 20)))
                s_krum_attacked(k ? 100 : 20, 1000000, 5);
        if (!only || s_listed(only, "stream"))
            for (size_t k = 0; k < 2; k++)
                s_stream_after_last(k ? 100 : 20, 1000000, 3);
        printf("targets at d = 1e6: krum n=20 %.2f ms (<= 6), krum n=100 %.2f ms = %.3f x "
               "NumPy's X.X^T (<= 0.65), median n=20 %.2f ms (<= 30)\n",
               krum20, krum100, ratio, median20);
    }
    return 0;
}
