/*  byzgd-train — single-process minibatch SGD of one model on one dataset: the baseline
    the distributed runs are compared with, and the recipe check of docs/MODELS.md.

    byzgd-train --model mlp --dataset fashion-mnist --batch 32 --lr 0.05 --steps 2000 \
                --eval-every 500 --metrics runs/mlp.jsonl

    Progress on stderr; one JSON object per evaluation in the metrics file. Exit status 2
    for bad flags or missing data, 1 for a failure during training. */
#include "learning/dataset.h"
#include "support/json.h"
#include "support/log.h"
#include "learning/lr_schedule.h"
#include "learning/model.h"
#include "support/rng.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// Examples per forward pass when evaluating (the model's scratch is sized for the larger
// of this and the training batch).
#define S_EVAL_BATCH 256

typedef struct {
    const char *model;
    const char *dataset;
    const char *data_dir;
    const char *lr_schedule;
    const char *metrics_path;
    const char *save_path;
    const char *load_path;
    size_t batch;
    double lr;
    unsigned long long steps, eval_every, seed;
    size_t hidden[2];
    int threads;
    size_t train_limit, test_limit;
    size_t spam_features;
} s_options_t;

static void
s_usage(FILE *out)
{
    fprintf(out, "usage: byzgd-train [options]\n"
                 "  --model NAME          logreg | mlp | convnet (default mlp)\n"
                 "  --dataset NAME        fashion-mnist | mnist | spam | synthetic (default "
                 "fashion-mnist)\n"
                 "  --data-dir DIR        where the dataset lives (default: see docs/DATASETS.md)\n"
                 "  --batch N             minibatch size (default 32)\n"
                 "  --lr X                initial learning rate γ0 (default 0.05)\n"
                 "  --lr-schedule S       constant | inv-sqrt | step:EVERY:FACTOR (default "
                 "constant)\n"
                 "  --steps N             SGD steps (default 2000)\n"
                 "  --eval-every N        evaluate on the test split every N steps and at the end "
                 "(default 500)\n"
                 "  --metrics FILE        JSON Lines, one object per evaluation\n"
                 "  --seed N              initialisation and sampling seed (default 1)\n"
                 "  --hidden A,B          mlp hidden units / convnet channels (defaults 128,64 / "
                 "16,32)\n"
                 "  --threads N           threads for the model (default 2)\n"
                 "  --train-limit N       use only the first N training examples\n"
                 "  --test-limit N        evaluate on the first N test examples only\n"
                 "  --spam-features D     hashing buckets of the spam features (default 1024)\n"
                 "  --load FILE           start from saved parameters instead of --seed's\n"
                 "  --save FILE           save the final parameters\n");
}

// Parses a non-negative integer flag value. Returns 0 or -1 (message printed).
static int
s_parse_count(unsigned long long *out, const char *flag, const char *text, unsigned long long min,
              unsigned long long max)
{
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || value < min || value > max) {
        byzgd_error("%s %s: expected an integer in %llu .. %llu", flag, text, min, max);
        return -1;
    }
    *out = value;
    return 0;
}

static int
s_parse_hidden(size_t hidden[2], const char *text)
{
    char *end = NULL;
    errno = 0;
    unsigned long long first = strtoull(text, &end, 10);
    if (errno || end == text || *end != ',' || text[0] == '-')
        goto bad;
    const char *second_text = end + 1;
    unsigned long long second = strtoull(second_text, &end, 10);
    if (errno || end == second_text || *end || second_text[0] == '-' || first < 1 || second < 1 ||
        first > 65536 || second > 65536)
        goto bad;
    hidden[0] = (size_t)first;
    hidden[1] = (size_t)second;
    return 0;
bad:
    byzgd_error("--hidden %s: expected two positive widths, e.g. 128,64", text);
    return -1;
}

// Returns 0, or -1 after printing why (the caller exits with status 2).
static int
s_parse_options(s_options_t *options, int argc, char **argv)
{
    enum {
        O_MODEL = 256,
        O_DATASET,
        O_DATA_DIR,
        O_BATCH,
        O_LR,
        O_LR_SCHEDULE,
        O_STEPS,
        O_EVAL_EVERY,
        O_METRICS,
        O_SEED,
        O_HIDDEN,
        O_THREADS,
        O_TRAIN_LIMIT,
        O_TEST_LIMIT,
        O_SPAM_FEATURES,
        O_LOAD,
        O_SAVE,
        O_HELP,
    };
    static const struct option long_options[] = {
        {"model", required_argument, NULL, O_MODEL},
        {"dataset", required_argument, NULL, O_DATASET},
        {"data-dir", required_argument, NULL, O_DATA_DIR},
        {"batch", required_argument, NULL, O_BATCH},
        {"lr", required_argument, NULL, O_LR},
        {"lr-schedule", required_argument, NULL, O_LR_SCHEDULE},
        {"steps", required_argument, NULL, O_STEPS},
        {"eval-every", required_argument, NULL, O_EVAL_EVERY},
        {"metrics", required_argument, NULL, O_METRICS},
        {"seed", required_argument, NULL, O_SEED},
        {"hidden", required_argument, NULL, O_HIDDEN},
        {"threads", required_argument, NULL, O_THREADS},
        {"train-limit", required_argument, NULL, O_TRAIN_LIMIT},
        {"test-limit", required_argument, NULL, O_TEST_LIMIT},
        {"spam-features", required_argument, NULL, O_SPAM_FEATURES},
        {"load", required_argument, NULL, O_LOAD},
        {"save", required_argument, NULL, O_SAVE},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    *options = (s_options_t){
        .model = "mlp",
        .dataset = "fashion-mnist",
        .lr_schedule = "constant",
        .batch = 32,
        .lr = 0.05,
        .steps = 2000,
        .eval_every = 500,
        .seed = 1,
        .threads = 2,
    };
    unsigned long long value;
    int option;
    opterr = 0;
    while ((option = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        switch (option) {
        case O_MODEL:
            options->model = optarg;
            break;
        case O_DATASET:
            options->dataset = optarg;
            break;
        case O_DATA_DIR:
            options->data_dir = optarg;
            break;
        case O_BATCH:
            if (s_parse_count(&value, "--batch", optarg, 1, 65536) < 0)
                return -1;
            options->batch = (size_t)value;
            break;
        case O_LR: {
            char *end = NULL;
            errno = 0;
            options->lr = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(options->lr > 0) || !isfinite(options->lr)) {
                byzgd_error("--lr %s: expected a positive number", optarg);
                return -1;
            }
            break;
        }
        case O_LR_SCHEDULE:
            options->lr_schedule = optarg;
            break;
        case O_STEPS:
            if (s_parse_count(&options->steps, "--steps", optarg, 0, 1ULL << 40) < 0)
                return -1;
            break;
        case O_EVAL_EVERY:
            if (s_parse_count(&options->eval_every, "--eval-every", optarg, 1, 1ULL << 40) < 0)
                return -1;
            break;
        case O_METRICS:
            options->metrics_path = optarg;
            break;
        case O_SEED:
            if (s_parse_count(&options->seed, "--seed", optarg, 0, UINT64_MAX) < 0)
                return -1;
            break;
        case O_HIDDEN:
            if (s_parse_hidden(options->hidden, optarg) < 0)
                return -1;
            break;
        case O_THREADS:
            if (s_parse_count(&value, "--threads", optarg, 1, 256) < 0)
                return -1;
            options->threads = (int)value;
            break;
        case O_TRAIN_LIMIT:
            if (s_parse_count(&value, "--train-limit", optarg, 1, SIZE_MAX) < 0)
                return -1;
            options->train_limit = (size_t)value;
            break;
        case O_TEST_LIMIT:
            if (s_parse_count(&value, "--test-limit", optarg, 1, SIZE_MAX) < 0)
                return -1;
            options->test_limit = (size_t)value;
            break;
        case O_SPAM_FEATURES:
            if (s_parse_count(&value, "--spam-features", optarg, 16, 1 << 20) < 0)
                return -1;
            options->spam_features = (size_t)value;
            break;
        case O_LOAD:
            options->load_path = optarg;
            break;
        case O_SAVE:
            options->save_path = optarg;
            break;
        case O_HELP:
            s_usage(stdout);
            exit(0);
        default:
            if (optopt)
                byzgd_error("option %s needs a value (see --help)", argv[optind - 1]);
            else
                byzgd_error("unknown option %s (see --help)", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        byzgd_error("unexpected argument \"%s\" (see --help)", argv[optind]);
        return -1;
    }
    return 0;
}

static double
s_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

typedef struct {
    double start, train_seconds, loss_sum;
    unsigned long long losses; // training losses summed since the last report
    FILE *metrics;
    byzgd_json_t *json;
    size_t d;
} s_progress_t;

// Evaluates on the test split, prints a progress line and writes a metrics line. Returns 0,
// or -1 if the metrics file cannot be written.
static int
s_report(s_progress_t *progress, const s_options_t *options, byzgd_model_t *model,
         const float *params, const byzgd_dataset_t *test, unsigned long long step, double rate)
{
    double test_loss, test_accuracy;
    byzgd_model_evaluate(model, params, test, &test_loss, &test_accuracy);
    double elapsed = s_now() - progress->start;
    double train_loss = progress->losses ? progress->loss_sum / (double)progress->losses : NAN;
    byzgd_info("step %llu/%llu  train_loss %.4f  test_loss %.4f  test_accuracy %.4f  lr %.4g  "
               "%.1f s (%.1f s training)",
               step, options->steps, train_loss, test_loss, test_accuracy, rate, elapsed,
               progress->train_seconds);
    progress->loss_sum = 0.0;
    progress->losses = 0;
    if (!progress->metrics)
        return 0;
    byzgd_json_t *json = progress->json;
    byzgd_json_reset(json);
    byzgd_json_object_begin(json);
    byzgd_json_key_int(json, "step", (int64_t)step);
    byzgd_json_key_double(json, "train_loss", train_loss); // mean since the last evaluation
    byzgd_json_key_double(json, "test_loss", test_loss);
    byzgd_json_key_double(json, "test_accuracy", test_accuracy);
    byzgd_json_key_double(json, "elapsed_s", elapsed);
    byzgd_json_key_double(json, "train_s", progress->train_seconds); // without evaluations
    byzgd_json_key_double(json, "lr", rate);
    byzgd_json_key_int(json, "samples", (int64_t)(step * options->batch));
    byzgd_json_key_string(json, "model", options->model);
    byzgd_json_key_string(json, "dataset", options->dataset);
    byzgd_json_key_int(json, "d", (int64_t)progress->d);
    byzgd_json_object_end(json);
    if (fprintf(progress->metrics, "%s\n", byzgd_json_text(json)) < 0 ||
        fflush(progress->metrics) != 0) {
        byzgd_error("--metrics %s: write failed: %s", options->metrics_path, strerror(errno));
        return -1;
    }
    return 0;
}

static byzgd_dataset_t *
s_load(const s_options_t *options, byzgd_dataset_split_t split, size_t limit)
{
    byzgd_dataset_options_t dataset_options = {0};
    dataset_options.data_dir = options->data_dir;
    dataset_options.split = split;
    dataset_options.limit = limit;
    dataset_options.spam_feature_count = options->spam_features;
    char error[512];
    byzgd_dataset_t *data =
        byzgd_dataset_load(options->dataset, &dataset_options, error, sizeof error);
    if (!data)
        byzgd_error("%s (byzgd-train: --dataset NAME, --data-dir DIR)", error);
    else if (data->count == 0) {
        byzgd_error("dataset %s (%s split) is empty", options->dataset,
                    split == BYZGD_SPLIT_TRAIN ? "train" : "test");
        byzgd_dataset_destroy(&data);
    }
    return data;
}

int
main(int argc, char **argv)
{
    s_options_t options;
    if (s_parse_options(&options, argc, argv) < 0)
        return 2;
    char error[512];
    byzgd_lr_schedule_t schedule;
    if (byzgd_lr_schedule_parse(&schedule, options.lr_schedule, options.lr, error, sizeof error) <
        0) {
        byzgd_error("--lr-schedule: %s", error);
        return 2;
    }

    int status = 1;
    byzgd_dataset_t *train = NULL, *test = NULL;
    byzgd_model_t *model = NULL;
    float *params = NULL, *gradient = NULL, *features = NULL;
    uint8_t *labels = NULL;
    FILE *metrics = NULL;
    byzgd_json_t *json = NULL;

    if (options.metrics_path) {
        metrics = fopen(options.metrics_path, "w");
        if (!metrics) {
            byzgd_error("--metrics %s: %s", options.metrics_path, strerror(errno));
            status = 2;
            goto cleanup;
        }
    }
    train = s_load(&options, BYZGD_SPLIT_TRAIN, options.train_limit);
    test = train ? s_load(&options, BYZGD_SPLIT_TEST, options.test_limit) : NULL;
    if (!train || !test) {
        status = 2;
        goto cleanup;
    }

    byzgd_model_spec_t spec = {
        .architecture = options.model,
        .channels = train->channels,
        .height = train->height,
        .width = train->width,
        .class_count = train->class_count,
        .hidden = {options.hidden[0], options.hidden[1]},
    };
    size_t max_batch = options.batch > S_EVAL_BATCH ? options.batch : S_EVAL_BATCH;
    model = byzgd_model_new(&spec, max_batch, error, sizeof error);
    if (!model) {
        byzgd_error("--model %s: %s", options.model, error);
        status = 2;
        goto cleanup;
    }
    byzgd_model_set_threads(model, options.threads);
    size_t d = byzgd_model_dimension(model), feature_count = train->feature_count;
    char schedule_text[64];
    byzgd_info("model %s, d = %zu; dataset %s: %zu train / %zu test examples; batch %zu, "
               "lr %g (%s), %llu steps, seed %llu, %d threads",
               byzgd_model_description(model), d, train->name, train->count, test->count,
               options.batch, options.lr,
               byzgd_lr_schedule_format(&schedule, schedule_text, sizeof schedule_text),
               options.steps, options.seed, options.threads);

    params = malloc(d * sizeof *params);
    gradient = malloc(d * sizeof *gradient);
    features = malloc(options.batch * feature_count * sizeof *features);
    labels = malloc(options.batch);
    json = byzgd_json_new();
    if (!params || !gradient || !features || !labels || !json) {
        byzgd_error("out of memory (d = %zu, batch %zu)", d, options.batch);
        goto cleanup;
    }
    if (options.load_path) {
        if (byzgd_model_load(model, params, options.load_path, error, sizeof error) < 0) {
            byzgd_error("--load: %s", error);
            status = 2;
            goto cleanup;
        }
    } else {
        byzgd_model_init(model, params, options.seed);
    }

    // Stream 1 of the seed samples minibatches; stream 0 is the initialisation's.
    byzgd_rng_t rng;
    byzgd_rng_seed(&rng, options.seed, 1);
    s_progress_t progress = {.start = s_now(), .metrics = metrics, .json = json, .d = d};
    if (options.steps == 0 && s_report(&progress, &options, model, params, test, 0, 0.0) < 0)
        goto cleanup;
    for (unsigned long long step = 1; step <= options.steps; step++) {
        double step_start = s_now();
        byzgd_dataset_sample(train, &rng, options.batch, features, labels);
        double loss =
            byzgd_model_gradient(model, gradient, params, features, labels, options.batch);
        if (!isfinite(loss)) {
            byzgd_error("step %llu: the loss is %g; lower --lr (now %g)", step, loss, options.lr);
            goto cleanup;
        }
        float rate = (float)byzgd_lr_schedule_rate(&schedule, step);
        for (size_t i = 0; i < d; i++)
            params[i] -= rate * gradient[i];
        progress.train_seconds += s_now() - step_start;
        progress.loss_sum += loss;
        progress.losses++;
        if (step % options.eval_every != 0 && step != options.steps)
            continue;
        if (s_report(&progress, &options, model, params, test, step, rate) < 0)
            goto cleanup;
    }
    if (options.save_path) {
        if (byzgd_model_save(model, params, options.save_path, error, sizeof error) < 0) {
            byzgd_error("--save: %s", error);
            goto cleanup;
        }
        byzgd_info("saved %zu parameters to %s", d, options.save_path);
    }
    status = 0;
cleanup:
    if (metrics && fclose(metrics) != 0 && status == 0) {
        byzgd_error("--metrics %s: %s", options.metrics_path, strerror(errno));
        status = 1;
    }
    byzgd_json_destroy(&json);
    free(params);
    free(gradient);
    free(features);
    free(labels);
    byzgd_model_destroy(&model);
    byzgd_dataset_destroy(&train);
    byzgd_dataset_destroy(&test);
    return status;
}
