/*  byzgd-train — single-process minibatch SGD of one model on one dataset: the baseline
    the distributed runs are compared with, and the recipe check of docs/MODELS.md.

    byzgd-train --model mlp --dataset fashion-mnist --batch 32 --lr 0.05 --steps 2000 \
                --eval-every 500 --metrics runs/mlp.jsonl

    Progress on stderr; one JSON object per evaluation in the metrics file. Exit status 2
    for bad flags or missing data, 1 for a failure during training. */
#include "learning/dataset.h"
#include "support/clock.h"
#include "support/json.h"
#include "support/log.h"
#include "support/options.h"
#include "support/param_file.h"
#include "learning/lr_schedule.h"
#include "learning/model.h"
#include "support/rng.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

// --hidden A,B: two positive widths.
static int
s_hidden(void *state, const byzgd_option_t *option, const char *text, char *error,
         size_t error_size)
{
    (void)option;
    size_t *hidden = ((s_options_t *)state)->hidden;
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
    return byzgd_set_error(error, error_size,
                           "--hidden %s: expected two positive widths, e.g. 128,64", text);
}

static int
s_learning_rate(void *state, const byzgd_option_t *option, const char *value, char *error,
                size_t error_size)
{
    if (!(strtod(value, NULL) > 0))
        return byzgd_set_error(error, error_size, "--lr %s: expected a positive number", value);
    return byzgd_option_store(option, state, value, error, error_size);
}

#define S_FIELD(field) BYZGD_OPTION_FIELD(s_options_t, field)
#define S_U64_MAX      18446744073709551615.0
#define S_COUNT_MAX    1099511627776.0    // 2^40
#define S_EXACT_MAX    9007199254740992.0 // 2^53

// clang-format off
static const byzgd_option_t s_table[] = {
    {"model", BYZGD_OPTION_NAME, 0, 0, "mlp", 0, "logreg, mlp or convnet", "NAME", NULL,
     S_FIELD(model)},
    {"dataset", BYZGD_OPTION_NAME, 0, 0, "fashion-mnist", 0,
     "fashion-mnist, mnist, spam or synthetic", "NAME", NULL, S_FIELD(dataset)},
    {"data-dir", BYZGD_OPTION_TEXT, 0, 0, NULL, 0,
     "where the dataset lives (default: see docs/DATASETS.md)", "DIR", NULL, S_FIELD(data_dir)},
    {"batch", BYZGD_OPTION_INT, 1, 65536, "32", 0, "minibatch size", "N", NULL, S_FIELD(batch)},
    {"lr", BYZGD_OPTION_NUMBER, 0, 1e300, "0.05", 0, "initial learning rate (> 0)", "X", NULL,
     S_FIELD(lr), s_learning_rate},
    {"lr-schedule", BYZGD_OPTION_TEXT, 0, 0, "constant", 0,
     "constant, inv-sqrt or step:EVERY:FACTOR", "S", NULL, S_FIELD(lr_schedule)},
    {"steps", BYZGD_OPTION_INT, 0, S_COUNT_MAX, "2000", 0, "SGD steps", "N", NULL, S_FIELD(steps)},
    {"eval-every", BYZGD_OPTION_INT, 1, S_COUNT_MAX, "500", 0,
     "evaluate on the test split every N steps and at the end", "N", NULL, S_FIELD(eval_every)},
    {"metrics", BYZGD_OPTION_TEXT, 0, 0, NULL, 0, "JSON Lines, one object per evaluation", "FILE",
     NULL, S_FIELD(metrics_path)},
    {"seed", BYZGD_OPTION_INT, 0, S_U64_MAX, "1", 0, "initialisation and sampling seed", "N",
     NULL, S_FIELD(seed)},
    {"hidden", BYZGD_OPTION_TEXT, 0, 0, NULL, 0,
     "mlp hidden units / convnet channels (defaults 128,64 / 16,32)", "A,B", NULL, {0}, s_hidden},
    {"threads", BYZGD_OPTION_INT, 1, 256, "2", 0, "threads for the model", "N", NULL,
     S_FIELD(threads)},
    {"train-limit", BYZGD_OPTION_INT, 1, S_EXACT_MAX, NULL, 0,
     "use only the first N training examples", "N", NULL, S_FIELD(train_limit)},
    {"test-limit", BYZGD_OPTION_INT, 1, S_EXACT_MAX, NULL, 0,
     "evaluate on the first N test examples only", "N", NULL, S_FIELD(test_limit)},
    {"spam-features", BYZGD_OPTION_INT, 16, 1 << 20, "1024", 0,
     "hashing buckets of the spam features", "D", NULL, S_FIELD(spam_features)},
    {"load", BYZGD_OPTION_TEXT, 0, 0, NULL, 0, "start from saved parameters instead of --seed's",
     "FILE", NULL, S_FIELD(load_path)},
    {"save", BYZGD_OPTION_TEXT, 0, 0, NULL, 0, "save the final parameters", "FILE", NULL,
     S_FIELD(save_path)},
};
// clang-format on

static const byzgd_program_t s_program = {
    "byzgd-train",
    "[options]",
    "single-process minibatch SGD of one model on one dataset (the baseline)",
    BYZGD_OPTION_ONE_SECTION(s_table, NULL),
    "Progress on stderr; one JSON object per evaluation in the --metrics file.\n",
    "Exit status: 0 done, 1 a failure during training, 2 bad flags or missing data.\n",
    0,
    0,
};

// Returns BYZGD_OPTIONS_CONTINUE, or the exit status (0 after --help/--version, 2).
static int
s_parse_options(s_options_t *options, int argc, char **argv)
{
    *options = (s_options_t){0};
    return byzgd_options_main_one(&s_program, argc, argv, options, NULL);
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
    byzgd_model_evaluate_arrays(model, &test_loss, &test_accuracy, params, test->features,
                                test->labels, test->count);
    double elapsed = byzgd_monotonic_s() - progress->start;
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
    int parsed = s_parse_options(&options, argc, argv);
    if (parsed != BYZGD_OPTIONS_CONTINUE)
        return parsed;
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
        if (byzgd_param_file_load(options.load_path, byzgd_model_description(model), params, d,
                                  error, sizeof error) < 0) {
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
    s_progress_t progress = {
        .start = byzgd_monotonic_s(), .metrics = metrics, .json = json, .d = d};
    if (options.steps == 0 && s_report(&progress, &options, model, params, test, 0, 0.0) < 0)
        goto cleanup;
    for (unsigned long long step = 1; step <= options.steps; step++) {
        double step_start = byzgd_monotonic_s();
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
        progress.train_seconds += byzgd_monotonic_s() - step_start;
        progress.loss_sum += loss;
        progress.losses++;
        if (step % options.eval_every != 0 && step != options.steps)
            continue;
        if (s_report(&progress, &options, model, params, test, step, rate) < 0)
            goto cleanup;
    }
    if (options.save_path) {
        if (byzgd_param_file_save(options.save_path, byzgd_model_description(model), params, d,
                                  error, sizeof error) < 0) {
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
