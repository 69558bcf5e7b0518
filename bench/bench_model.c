/*  bench_model.c — forward+backward throughput (samples per second) of the mlp and the
    convnet on 28×28 inputs, 10 classes, at batch 32 and 128, and in the same run the
    identical PyTorch models (bench/model_torch.py, Debian's python3-torch under
    /usr/bin/python3) with the same thread count; prints the ratios.

    BYZGD_BENCH_THREADS (default 2) sets the thread count of both; BYZGD_BENCH_SECONDS
    (default 1.0) the time per measurement. The best of 3 measurements is kept on each side,
    because the machine is shared and a slow run says more about the neighbours. */
#include "model.h"
#include "rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_REPEATS 3

static double
s_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

static double
s_env_double(const char *name, double fallback)
{
    const char *text = getenv(name);
    double value = text ? strtod(text, NULL) : 0.0;
    return value > 0.0 ? value : fallback;
}

// Best samples per second of S_REPEATS runs of `seconds` each.
static double
s_measure(const char *architecture, size_t batch, int threads, double seconds)
{
    byzgd_model_spec_t spec = {
        .architecture = architecture, .channels = 1, .height = 28, .width = 28, .class_count = 10};
    char error[256];
    byzgd_model_t *model = byzgd_model_new(&spec, batch, error, sizeof error);
    if (!model) {
        fprintf(stderr, "bench_model: %s\n", error);
        return 0.0;
    }
    byzgd_model_set_threads(model, threads);
    size_t d = byzgd_model_dimension(model);
    float *params = malloc(d * sizeof *params), *gradient = malloc(d * sizeof *gradient);
    float *features = malloc(batch * 784 * sizeof *features);
    uint8_t *labels = malloc(batch);
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 1, 0);
    for (size_t i = 0; i < batch * 784; i++)
        features[i] = (float)byzgd_rng_uniform(&rng);
    for (size_t i = 0; i < batch; i++)
        labels[i] = (uint8_t)byzgd_rng_below(&rng, 10);
    byzgd_model_init(model, params, 1);
    for (int i = 0; i < 3; i++) // warm-up: page faults, OpenBLAS thread start
        byzgd_model_gradient(model, gradient, params, features, labels, batch);
    double best = 0.0, sink = 0.0;
    for (int repeat = 0; repeat < S_REPEATS; repeat++) {
        size_t steps = 0;
        double start = s_now(), elapsed;
        do {
            sink += byzgd_model_gradient(model, gradient, params, features, labels, batch);
            steps++;
            elapsed = s_now() - start;
        } while (elapsed < seconds);
        double rate = (double)(steps * batch) / elapsed;
        best = rate > best ? rate : best;
    }
    if (sink != sink)
        fprintf(stderr, "bench_model: non-finite loss\n");
    free(params);
    free(gradient);
    free(features);
    free(labels);
    byzgd_model_destroy(&model);
    return best;
}

// Writes what the PyTorch reference needs to recompute one gradient: int32 d, batch,
// feature_count; int32 labels[batch]; float32 features, params, gradient; float64 loss.
static int
s_write_check(const char *path, const char *architecture)
{
    enum { BATCH = 8 };
    byzgd_model_spec_t spec = {
        .architecture = architecture, .channels = 1, .height = 28, .width = 28, .class_count = 10};
    char error[256];
    byzgd_model_t *model = byzgd_model_new(&spec, BATCH, error, sizeof error);
    if (!model)
        return -1;
    size_t d = byzgd_model_dimension(model);
    float *params = malloc(d * sizeof *params), *gradient = malloc(d * sizeof *gradient);
    float features[BATCH * 784];
    int32_t header[3] = {(int32_t)d, BATCH, 784}, labels32[BATCH];
    uint8_t labels[BATCH];
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 2, 0);
    for (size_t i = 0; i < BATCH * 784; i++)
        features[i] = (float)byzgd_rng_uniform(&rng);
    for (int i = 0; i < BATCH; i++)
        labels32[i] = labels[i] = (uint8_t)byzgd_rng_below(&rng, 10);
    byzgd_model_init(model, params, 2);
    double loss = byzgd_model_gradient(model, gradient, params, features, labels, BATCH);
    FILE *file = fopen(path, "wb");
    int rc = -1;
    if (file && fwrite(header, sizeof header, 1, file) == 1 &&
        fwrite(labels32, sizeof labels32, 1, file) == 1 &&
        fwrite(features, sizeof features, 1, file) == 1 &&
        fwrite(params, sizeof *params, d, file) == d &&
        fwrite(gradient, sizeof *gradient, d, file) == d &&
        fwrite(&loss, sizeof loss, 1, file) == 1)
        rc = 0;
    if (file && fclose(file) != 0)
        rc = -1;
    free(params);
    free(gradient);
    byzgd_model_destroy(&model);
    return rc;
}

typedef struct {
    const char *architecture;
    size_t batch;
    double ours, torch;
} s_row_t;

// Runs the PyTorch reference and fills rows[].torch. Returns 0, or -1 with a note printed.
static int
s_run_torch(s_row_t *rows, size_t row_count, int threads, double seconds)
{
    const char *root = getenv("BYZGD_ROOT");
    char directory[] = "/tmp/byzgd-bench-XXXXXX", mlp[64], convnet[64], command[1024];
    if (!mkdtemp(directory))
        return -1;
    snprintf(mlp, sizeof mlp, "%s/mlp.bin", directory);
    snprintf(convnet, sizeof convnet, "%s/convnet.bin", directory);
    if (s_write_check(mlp, "mlp") < 0 || s_write_check(convnet, "convnet") < 0)
        fprintf(stderr, "bench_model: could not write the gradient check files\n");
    snprintf(command, sizeof command,
             "/usr/bin/python3 -c 'import torch' >/dev/null 2>&1 && "
             "/usr/bin/python3 '%s/bench/model_torch.py' --threads %d --seconds %g --repeats %d "
             "--check mlp=%s --check convnet=%s",
             root ? root : ".", threads, seconds, S_REPEATS, mlp, convnet);
    FILE *pipe = popen(command, "r");
    if (!pipe)
        return -1;
    char line[256];
    int seen = 0;
    while (fgets(line, sizeof line, pipe)) {
        if (strncmp(line, "check ", 6) == 0) { // the gradient cross-check, verbatim
            fputs(line, stdout);
            continue;
        }
        char name[32];
        size_t batch;
        double rate;
        if (sscanf(line, "%31s %zu %lf", name, &batch, &rate) != 3)
            continue;
        for (size_t i = 0; i < row_count; i++)
            if (strcmp(rows[i].architecture, name) == 0 && rows[i].batch == batch) {
                rows[i].torch = rate;
                seen++;
            }
    }
    int status = pclose(pipe);
    remove(mlp);
    remove(convnet);
    rmdir(directory);
    return status == 0 && seen ? 0 : -1;
}

int
main(void)
{
    int threads = (int)s_env_double("BYZGD_BENCH_THREADS", 2);
    double seconds = s_env_double("BYZGD_BENCH_SECONDS", 1.0);
    s_row_t rows[] = {
        {"mlp", 32, 0, 0},
        {"mlp", 128, 0, 0},
        {"convnet", 32, 0, 0},
        {"convnet", 128, 0, 0},
    };
    const size_t row_count = sizeof rows / sizeof rows[0];
    printf("forward+backward, 1x28x28 inputs, 10 classes, %d threads, best of %d x %.1f s\n",
           threads, S_REPEATS, seconds);
    for (size_t i = 0; i < row_count; i++)
        rows[i].ours = s_measure(rows[i].architecture, rows[i].batch, threads, seconds);
    int have_torch = s_run_torch(rows, row_count, threads, seconds) == 0;
    printf("%-8s %6s %14s %14s %8s\n", "model", "batch", "byzgd/s", "pytorch/s", "ratio");
    for (size_t i = 0; i < row_count; i++) {
        if (have_torch && rows[i].torch > 0)
            printf("%-8s %6zu %14.0f %14.0f %8.2f\n", rows[i].architecture, rows[i].batch,
                   rows[i].ours, rows[i].torch, rows[i].ours / rows[i].torch);
        else
            printf("%-8s %6zu %14.0f %14s %8s\n", rows[i].architecture, rows[i].batch, rows[i].ours,
                   "-", "-");
    }
    if (!have_torch)
        printf("PyTorch comparison skipped: /usr/bin/python3 cannot import torch (install "
               "python3-torch: deploy/install-deps.sh --bench)\n");
    else
        printf("ratio = byzgd / PyTorch samples per second (goal: mlp >= 1, convnet >= 0.67)\n");
    return 0;
}
