/*  bench_model.c — forward+backward throughput (samples per second) of the mlp and the
    convnet on 28×28 inputs, 10 classes, at batch 32 and 128, beside the identical PyTorch
    models (bench/model_torch.py, Debian's python3-torch under /usr/bin/python3) with the
    same thread count; prints the ratios. Before timing, PyTorch recomputes one byzgd
    gradient of each model from the same parameters and batch and prints the difference.

    The machine is shared, so the two sides are measured alternately — byzgd, PyTorch,
    byzgd, PyTorch … for each case, PyTorch running as a co-process that answers one
    measurement request at a time — and the best of S_REPEATS is kept on each side: both
    then see the same neighbours. BYZGD_BENCH_THREADS (default 2) sets the thread count of
    both; BYZGD_BENCH_SECONDS (default 1.0) the time per measurement; BYZGD_BENCH_PYTHON
    (default /usr/bin/python3, Debian's, which python3-torch installs into) the interpreter. */
#include "learning/model.h"
#include "support/clock.h"
#include "support/rng.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_REPEATS 3

static double
s_env_double(const char *name, double fallback)
{
    const char *text = getenv(name);
    double value = text ? strtod(text, NULL) : 0.0;
    return value > 0.0 ? value : fallback;
}

typedef struct {
    byzgd_model_t *model;
    float *params, *gradient, *features;
    uint8_t *labels;
    size_t batch;
} s_case_t;

static int
s_case_open(s_case_t *self, const char *architecture, size_t batch, int threads)
{
    byzgd_model_spec_t spec = {
        .architecture = architecture, .channels = 1, .height = 28, .width = 28, .class_count = 10};
    char error[256];
    memset(self, 0, sizeof *self);
    self->model = byzgd_model_new(&spec, batch, error, sizeof error);
    if (!self->model) {
        fprintf(stderr, "bench_model: %s\n", error);
        return -1;
    }
    byzgd_model_set_threads(self->model, threads);
    size_t d = byzgd_model_dimension(self->model);
    self->batch = batch;
    self->params = malloc(d * sizeof *self->params);
    self->gradient = malloc(d * sizeof *self->gradient);
    self->features = malloc(batch * 784 * sizeof *self->features);
    self->labels = malloc(batch);
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, 1, 0);
    for (size_t i = 0; i < batch * 784; i++)
        self->features[i] = (float)byzgd_rng_uniform(&rng);
    for (size_t i = 0; i < batch; i++)
        self->labels[i] = (uint8_t)byzgd_rng_below(&rng, 10);
    byzgd_model_init(self->model, self->params, 1);
    for (int i = 0; i < 3; i++) // warm-up: page faults, thread start
        byzgd_model_gradient(self->model, self->gradient, self->params, self->features,
                             self->labels, batch);
    return 0;
}

static void
s_case_close(s_case_t *self)
{
    free(self->params);
    free(self->gradient);
    free(self->features);
    free(self->labels);
    byzgd_model_destroy(&self->model);
}

// Samples per second over one run of at least `seconds`.
static double
s_case_measure(s_case_t *self, double seconds)
{
    size_t steps = 0;
    double start = byzgd_monotonic_s(), elapsed, sink = 0.0;
    do {
        sink += byzgd_model_gradient(self->model, self->gradient, self->params, self->features,
                                     self->labels, self->batch);
        steps++;
        elapsed = byzgd_monotonic_s() - start;
    } while (elapsed < seconds);
    if (sink != sink)
        fprintf(stderr, "bench_model: non-finite loss\n");
    return (double)(steps * self->batch) / elapsed;
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

// The PyTorch co-process: requests go to `to`, answers come from `from`.
typedef struct {
    pid_t pid;
    FILE *to, *from;
} s_torch_t;

// Starts bench/model_torch.py --serve, which first prints the gradient checks and "ready".
// Returns 0, or -1 if /usr/bin/python3 cannot import torch (a note is printed by main).
static int
s_torch_start(s_torch_t *self, int threads, const char *mlp_check, const char *convnet_check)
{
    const char *python = getenv("BYZGD_BENCH_PYTHON");
    python = python && *python ? python : "/usr/bin/python3";
    char probe[600];
    snprintf(probe, sizeof probe, "'%s' -c 'import torch' >/dev/null 2>&1", python);
    if (system(probe) != 0)
        return -1;
    const char *root = getenv("BYZGD_ROOT");
    char script[1024], threads_text[16], mlp[600], convnet[600];
    snprintf(script, sizeof script, "%s/bench/model_torch.py", root ? root : ".");
    snprintf(threads_text, sizeof threads_text, "%d", threads);
    snprintf(mlp, sizeof mlp, "mlp=%s", mlp_check);
    snprintf(convnet, sizeof convnet, "convnet=%s", convnet_check);
    int request[2], answer[2];
    if (pipe(request) != 0 || pipe(answer) != 0)
        return -1;
    self->pid = fork();
    if (self->pid < 0)
        return -1;
    if (self->pid == 0) {
        dup2(request[0], STDIN_FILENO);
        dup2(answer[1], STDOUT_FILENO);
        close(request[1]);
        close(answer[0]);
        execl(python, "python3", script, "--serve", "--threads", threads_text, "--check", mlp,
              "--check", convnet, (char *)NULL);
        _exit(127);
    }
    close(request[0]);
    close(answer[1]);
    self->to = fdopen(request[1], "w");
    self->from = fdopen(answer[0], "r");
    char line[512];
    while (fgets(line, sizeof line, self->from)) {
        if (strncmp(line, "ready", 5) == 0)
            return 0;
        fputs(line, stdout); // the gradient checks
    }
    return -1;
}

// Samples per second of one PyTorch run, or 0 on failure.
static double
s_torch_measure(s_torch_t *self, const char *architecture, size_t batch, double seconds)
{
    char line[256];
    fprintf(self->to, "%s %zu %g\n", architecture, batch, seconds);
    fflush(self->to);
    if (!fgets(line, sizeof line, self->from))
        return 0.0;
    return strtod(line, NULL);
}

static void
s_torch_stop(s_torch_t *self)
{
    if (self->to)
        fclose(self->to); // end of input: the co-process exits
    if (self->from)
        fclose(self->from);
    if (self->pid > 0)
        waitpid(self->pid, NULL, 0);
}

int
main(void)
{
    int threads = (int)s_env_double("BYZGD_BENCH_THREADS", 2);
    double seconds = s_env_double("BYZGD_BENCH_SECONDS", 1.0);
    struct {
        const char *architecture;
        size_t batch;
        double ours, torch;
    } rows[] = {
        {"mlp", 32, 0, 0}, {"mlp", 128, 0, 0}, {"convnet", 32, 0, 0}, {"convnet", 128, 0, 0}};
    const size_t row_count = sizeof rows / sizeof rows[0];
    signal(SIGPIPE, SIG_IGN);

    char directory[] = "/tmp/byzgd-bench-XXXXXX", mlp_check[64], convnet_check[64];
    if (!mkdtemp(directory)) {
        perror("bench_model: mkdtemp");
        return 1;
    }
    snprintf(mlp_check, sizeof mlp_check, "%s/mlp.bin", directory);
    snprintf(convnet_check, sizeof convnet_check, "%s/convnet.bin", directory);
    if (s_write_check(mlp_check, "mlp") < 0 || s_write_check(convnet_check, "convnet") < 0)
        fprintf(stderr, "bench_model: could not write the gradient check files\n");

    printf("forward+backward, 1x28x28 inputs, 10 classes, %d threads, best of %d x %.1f s, "
           "byzgd and PyTorch alternating\n",
           threads, S_REPEATS, seconds);
    s_torch_t torch = {0};
    int have_torch = s_torch_start(&torch, threads, mlp_check, convnet_check) == 0;
    for (size_t i = 0; i < row_count; i++) {
        s_case_t bench;
        if (s_case_open(&bench, rows[i].architecture, rows[i].batch, threads) < 0)
            return 1;
        for (int repeat = 0; repeat < S_REPEATS; repeat++) {
            double ours = s_case_measure(&bench, seconds);
            rows[i].ours = ours > rows[i].ours ? ours : rows[i].ours;
            if (!have_torch)
                continue;
            double theirs = s_torch_measure(&torch, rows[i].architecture, rows[i].batch, seconds);
            rows[i].torch = theirs > rows[i].torch ? theirs : rows[i].torch;
        }
        s_case_close(&bench);
    }
    s_torch_stop(&torch);
    remove(mlp_check);
    remove(convnet_check);
    rmdir(directory);

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
        printf("PyTorch comparison skipped: the Python interpreter cannot import torch "
               "(install python3-torch: deploy/install-deps.sh --bench)\n");
    else
        printf("ratio = byzgd / PyTorch samples per second (goal: mlp >= 1, convnet >= 0.67)\n");
    double load[3];
    if (getloadavg(load, 3) == 3)
        printf("load average during the run: %.2f (1 min), %.2f (5 min) on %ld cores\n", load[0],
               load[1], sysconf(_SC_NPROCESSORS_ONLN));
    return 0;
}
