/*  byzgd-cluster — starts a whole byzgd cluster on this machine (keys, one server, honest
    and Byzantine workers), streams its progress from RUN_DIR/metrics.jsonl, and stops every
    process it started on success, failure, timeout or Ctrl-C.

    byzgd-cluster --workers 20 --byzantine 6 --attack gaussian --rule multi-krum \
                  --model mlp --dataset fashion-mnist --rounds 150 --run-dir runs/demo

    Across machines (docs/DEPLOY.md) the same program starts one side only:
    byzgd-cluster --serve -f 6 --workers 20 ... --keys K --endpoint tcp://0.0.0.0:5555 \
                  --advertise tcp://10.0.0.1:5555 --run-dir S     (the server host)
    byzgd-cluster --join tcp://10.0.0.1:5555 --bundle h2.tar --byzantine 6 \
                  --attack gaussian --run-dir W2                   (each worker host)

    Exit status: 0 the server finished every round and wrote metrics; 1 the run failed
    (server error, all workers gone, timeout, no metrics); 2 bad flags or configuration,
    or a run directory already holding a run; 3 the model diverged (a result: the metrics
    and the summary say "diverged"); 128 + signal when interrupted.

    The launcher knows the roles, the server does not: it writes RUN_DIR/byzantine-slots
    and, once the server has ended, adds "selected_byzantine" to the metrics lines
    (byzantine_slots.h). */
#include "byzantine_slots.h"
#include "cluster_config.h"
#include "launcher.h"
#include "support/clock.h"
#include "support/files.h"
#include "metrics_line.h"
#include "learning/attack.h"
#include "server/server.h"
#include "worker/worker.h"
#include "support/log.h"
#include "wire/keybundle.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_PATH_MAX             4096
#define S_ENDPOINT_WAIT_MS     120000 // server start-up: dataset load, ASan builds
#define S_WORKER_GRACE_MS      10000  // workers leave by themselves once told to stop
#define S_STOP_GRACE_MS        3000   // after SIGTERM, before SIGKILL
#define S_PROGRESS_INTERVAL_MS 5000   // a progress line at least this often
#define S_METRICS_LINE_MAX     65536  // longer metrics lines are skipped
#define S_CHECKPOINT_EVERY     10     // supervised default: a restart repeats < 10 rounds
#define S_MEMORY_BASE_MB       2048   // dataset, allocator and sanitizer headroom
#define S_MEMORY_PER_WORKER_MB 8      // (4 + 4) queued tensors of 4 d bytes, d <= 2^18
#define S_EXIT_DIVERGED        3      // byzgd-server's BYZGD_SERVER_EXIT_DIVERGED

// Everything one run needs; lives in main's frame.
typedef struct {
    byzgd_cluster_config_t *config;
    byzgd_launcher_t *launcher;
    char bin_dir[1024];
    char run_dir[1024];
    char endpoint[1024];       // the server's endpoint as workers on this host dial it
    char advertise[1024];      // --serve: what remote workers dial (RUN_DIR/endpoint)
    char keys_dir[S_PATH_MAX]; // server.cert, workers/, allowed/ (or the extracted bundle)
    int server;                // launcher index of the server
    bool quiet;
    // metrics.jsonl follower
    FILE *metrics;
    char pending[S_METRICS_LINE_MAX]; // the beginning of a line not yet complete
    size_t pending_size;
    bool overlong;          // the pending line outgrew `pending`: skip it
    bool replaying;         // reading lines written before this launch: count them, print nothing
    char *resume_overrides; // resume: the `name = value` lines of DIR/config.resume
    long long rounds_target;
    double last_round, last_print_round;
    double final_accuracy, best_accuracy, last_train_loss, last_rejected_total;
    size_t lines;
    bool diverged; // a metrics line says "status":"diverged"
    double started_s, last_print_s;
} s_run_t;

// The command-line spelling of an option: -f and -m as byzgd-server spells them.
static void
s_flag_spelling(char *flag, size_t size, const char *name)
{
    snprintf(flag, size, "%s%s", strlen(name) == 1 ? "-" : "--", name);
}

// Parses argv into config. Returns 0, 1 after --help or --version, -1 with a message.
static int
s_parse_arguments(byzgd_cluster_config_t *config, int argc, char **argv, char *error,
                  size_t error_size)
{
    const byzgd_option_section_t *sections[8] = {NULL};
    void *states[8];
    size_t count = 0;
    for (const byzgd_option_section_t *const *section = byzgd_cluster_sections(); *section;
         section++)
        sections[count++] = *section;
    sections[count++] = &byzgd_cluster_config_file_section;
    for (size_t i = 0; i < count; i++)
        states[i] = config;
    const byzgd_program_t program = {
        "byzgd-cluster",
        "[--config FILE] [--NAME VALUE ...]",
        "starts a local byzgd cluster: keys, a server, honest and Byzantine workers",
        sections,
        "Every option is also a `NAME = VALUE` line of a --config file; the effective "
        "configuration is\nwritten to RUN_DIR/config, so `byzgd-cluster --config RUN_DIR/config` "
        "repeats a run.\n",
        "Exit status: 0 run finished, 1 run failed, 2 usage error, 128+N signal N.\n",
        0,
        0,
    };
    return byzgd_options_parse(&program, argc, argv, states, NULL, error, error_size);
}

static bool
s_exists(const char *dir, const char *name)
{
    char path[S_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

// Writes text to dir/name atomically and durably (support/files.h).
static int
s_write_file(const char *dir, const char *name, const char *text, char *error, size_t error_size)
{
    char path[S_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return byzgd_atomic_write(path, 0644, text, strlen(text), error, error_size);
}

// A growing argv.
typedef struct {
    char **items;
    size_t count, capacity;
} s_argv_t;

static void s_argv_add(s_argv_t *argv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
s_argv_add(s_argv_t *argv, const char *fmt, ...)
{
    if (argv->count + 2 > argv->capacity) {
        argv->capacity = argv->capacity ? 2 * argv->capacity : 32;
        argv->items = realloc(argv->items, argv->capacity * sizeof *argv->items);
        if (!argv->items)
            abort();
    }
    va_list args;
    va_start(args, fmt);
    if (vasprintf(&argv->items[argv->count], fmt, args) < 0)
        abort();
    va_end(args);
    argv->items[++argv->count] = NULL;
}

static void
s_argv_free(s_argv_t *argv)
{
    for (size_t i = 0; i < argv->count; i++)
        free(argv->items[i]);
    free(argv->items);
    memset(argv, 0, sizeof *argv);
}

// Appends every option with a value whose tags include `destination`.
static void
s_forward_options(s_argv_t *argv, const byzgd_cluster_config_t *config, unsigned destination)
{
    const byzgd_option_section_t *const *sections = byzgd_cluster_sections();
    for (size_t s = 0; sections[s]; s++)
        for (size_t i = 0; i < sections[s]->count; i++) {
            const byzgd_option_t *option = &sections[s]->options[i];
            if (!((option->tags | sections[s]->tags) & destination))
                continue;
            const char *value = byzgd_cluster_config_get(config, option->name);
            if (!value)
                continue;
            char flag[80];
            s_flag_spelling(flag, sizeof flag, option->name);
            if (option->type == BYZGD_OPTION_FLAG) {
                if (strcmp(value, "true") == 0)
                    s_argv_add(argv, "%s", flag);
            } else {
                s_argv_add(argv, "%s", flag);
                s_argv_add(argv, "%s", value);
            }
        }
}

// Prints the last `count` lines of a log file to stderr, indented.
static void
s_print_tail(const char *path, int count)
{
    FILE *file = fopen(path, "r");
    if (!file)
        return;
    char lines[16][512];
    int total = 0;
    while (fgets(lines[total % 16], sizeof lines[0], file))
        total++;
    fclose(file);
    if (count > 16)
        count = 16;
    int first = total > count ? total - count : 0;
    for (int i = first; i < total; i++) {
        const char *line = lines[i % 16];
        fprintf(stderr, "    %s%s", line, line[strlen(line) - 1] == '\n' ? "" : "\n");
    }
}

static void
s_log_path(char *path, size_t size, const s_run_t *run, const char *name)
{
    snprintf(path, size, "%s/logs/%s.log", run->run_dir, name);
}

// Waits for the child `index` to end, handling signals. Returns 0 if it succeeded, -1 if
// it failed, or 128+signal when interrupted (children stopped).
static int
s_wait_for(s_run_t *run, int index)
{
    for (;;) {
        int ended = -1, signal_number = 0;
        byzgd_launcher_event_t event =
            byzgd_launcher_wait(run->launcher, 1000, &ended, &signal_number);
        if (event == BYZGD_LAUNCHER_SIGNALED) {
            byzgd_launcher_stop_all(run->launcher, S_STOP_GRACE_MS);
            return 128 + signal_number;
        }
        if (event == BYZGD_LAUNCHER_CHILD_ENDED && ended == index)
            return byzgd_launcher_succeeded(run->launcher, index) ? 0 : -1;
    }
}

// ---- metrics follower

static void
s_print_progress(s_run_t *run, const byzgd_metrics_line_t *line, bool evaluated)
{
    // The rate over the rounds since the previous line (start-up excluded after the first).
    double now = byzgd_monotonic_s();
    double seconds = now - run->last_print_s;
    double done = line->round - run->last_print_round;
    double rate = seconds > 0 && done > 0 ? done / seconds : NAN;
    char accuracy[64] = "", ratio[32] = "";
    if (evaluated)
        snprintf(accuracy, sizeof accuracy, "  test accuracy %.4f  test loss %.4f",
                 line->test_accuracy, line->test_loss);
    if (!isnan(line->resilience_ratio))
        snprintf(ratio, sizeof ratio, "  ratio %.2f", line->resilience_ratio);
    printf("round %4.0f/%lld%s  train loss %.4f  %.2f rounds/s  rejected %.0f%s\n", line->round,
           run->rounds_target, accuracy, line->train_loss, rate, run->last_rejected_total, ratio);
    fflush(stdout);
    run->last_print_s = now;
    run->last_print_round = line->round;
}

static void
s_consume_line(s_run_t *run, const char *text, size_t length)
{
    byzgd_metrics_line_t line;
    if (length == 0)
        return;
    if (byzgd_metrics_line_parse(&line, text, length) != 0 || isnan(line.round)) {
        byzgd_warn("metrics.jsonl: skipping a malformed line");
        return;
    }
    if (run->lines++ == 0)
        run->last_print_round = line.round - 1;
    static const char diverged[] = "\"status\":\"diverged\"";
    if (memmem(text, length, diverged, sizeof diverged - 1))
        run->diverged = true;
    run->last_round = line.round;
    run->last_train_loss = line.train_loss;
    run->last_rejected_total += line.rejected;
    bool evaluated = !isnan(line.test_accuracy);
    if (evaluated) {
        run->final_accuracy = line.test_accuracy;
        if (isnan(run->best_accuracy) || line.test_accuracy > run->best_accuracy)
            run->best_accuracy = line.test_accuracy;
    }
    if (!run->quiet && !run->replaying &&
        (evaluated || (byzgd_monotonic_s() - run->last_print_s) * 1000 >= S_PROGRESS_INTERVAL_MS))
        s_print_progress(run, &line, evaluated);
}

// Keeps the beginning of a line whose end has not been written yet.
static void
s_pending_append(s_run_t *run, const char *data, size_t size)
{
    if (run->overlong || run->pending_size + size > sizeof run->pending) {
        run->overlong = true;
        return;
    }
    memcpy(run->pending + run->pending_size, data, size);
    run->pending_size += size;
}

// Forgets what the follower read (the file is read again from its start).
static void
s_reset_metrics_summary(s_run_t *run)
{
    run->pending_size = 0;
    run->overlong = false;
    run->replaying = true;
    run->lines = 0;
    run->last_round = run->final_accuracy = run->best_accuracy = NAN;
    run->last_rejected_total = 0;
}

// Reads the complete lines appended to metrics.jsonl since the last call.
static void
s_follow_metrics(s_run_t *run)
{
    if (!run->metrics) {
        char path[S_PATH_MAX];
        snprintf(path, sizeof path, "%s/metrics.jsonl", run->run_dir);
        run->metrics = fopen(path, "r");
        if (!run->metrics)
            return;
    }
    // A resumed server first cuts the lines past its checkpoint (they are trained again):
    // read the file again from its start, quietly up to where it ends now.
    struct stat info;
    long offset = ftell(run->metrics);
    if (fstat(fileno(run->metrics), &info) == 0 && offset > info.st_size) {
        s_reset_metrics_summary(run);
        rewind(run->metrics);
    }
    char buffer[65536];
    size_t got;
    clearerr(run->metrics);
    while ((got = fread(buffer, 1, sizeof buffer, run->metrics)) > 0) {
        size_t start = 0;
        for (size_t i = 0; i < got; i++) {
            if (buffer[i] != '\n')
                continue;
            size_t piece = i - start;
            if (run->pending_size || run->overlong) {
                // A line split across reads: join it with the kept beginning.
                s_pending_append(run, buffer + start, piece);
                if (run->overlong)
                    byzgd_warn("metrics.jsonl: skipping a line longer than %d bytes",
                               S_METRICS_LINE_MAX);
                else
                    s_consume_line(run, run->pending, run->pending_size);
                run->pending_size = 0;
                run->overlong = false;
            } else {
                s_consume_line(run, buffer + start, piece);
            }
            start = i + 1;
        }
        if (got > start)
            s_pending_append(run, buffer + start, got - start);
    }
    run->replaying = false;
}

// ---- the run

// The file the server writes its endpoint to: RUN_DIR/endpoint, except with --serve, where
// that file holds the advertised endpoint and the server's own goes to server-endpoint.
static const char *
s_server_endpoint_file(const s_run_t *run)
{
    return byzgd_cluster_config_get_flag(run->config, "serve") ? "server-endpoint" : "endpoint";
}

// Waits until the server wrote its bound endpoint. Returns 0, -1 (failed) or 128+signal.
static int
s_wait_for_endpoint(s_run_t *run)
{
    char path[S_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", run->run_dir, s_server_endpoint_file(run));
    double deadline = byzgd_monotonic_s() + S_ENDPOINT_WAIT_MS / 1000.0;
    while (byzgd_monotonic_s() < deadline) {
        FILE *file = fopen(path, "r");
        if (file) {
            char text[sizeof run->endpoint] = "";
            bool complete = fgets(text, sizeof text, file) && strchr(text, '\n');
            fclose(file);
            // The server writes the file whole; a line without its newline is unfinished.
            if (complete) {
                text[strcspn(text, "\r\n")] = '\0';
                if (strstr(text, "://") && !strchr(text, '*')) {
                    snprintf(run->endpoint, sizeof run->endpoint, "%s", text);
                    return 0;
                }
            }
        }
        int ended = -1, signal_number = 0;
        byzgd_launcher_event_t event =
            byzgd_launcher_wait(run->launcher, 50, &ended, &signal_number);
        if (event == BYZGD_LAUNCHER_SIGNALED) {
            byzgd_launcher_stop_all(run->launcher, S_STOP_GRACE_MS);
            return 128 + signal_number;
        }
        if (event == BYZGD_LAUNCHER_CHILD_ENDED && ended == run->server) {
            char status[128], log[S_PATH_MAX];
            s_log_path(log, sizeof log, run, "server");
            byzgd_error("the server %s before it was ready; %s ends with:",
                        byzgd_launcher_describe(run->launcher, run->server, status, sizeof status),
                        log);
            s_print_tail(log, 10);
            return -1;
        }
    }
    byzgd_error("the server did not report its endpoint within %d s", S_ENDPOINT_WAIT_MS / 1000);
    return -1;
}

// Adds the transport flags every worker shares.
static void
s_worker_common(s_run_t *run, s_argv_t *argv, size_t key_index)
{
    s_argv_add(argv, "--endpoint");
    s_argv_add(argv, "%s", run->endpoint);
    if (byzgd_cluster_config_get_flag(run->config, "insecure")) {
        // Without keys the worker names its slot; with keys the key's name is the slot.
        s_argv_add(argv, "--insecure");
        s_argv_add(argv, "--slot");
        s_argv_add(argv, "%zu", key_index);
    } else {
        s_argv_add(argv, "--cert");
        s_argv_add(argv, "%s/workers/worker-%03zu.cert", run->keys_dir, key_index);
        s_argv_add(argv, "--server-cert");
        s_argv_add(argv, "%s/server.cert", run->keys_dir);
    }
    s_forward_options(argv, run->config, BYZGD_CLUSTER_TO_WORKERS);
}

// The misbehaviour dealt to Byzantine worker `index` (NULL: none).
static const char *
s_misbehaviour(const s_run_t *run, size_t index, char *buffer, size_t size)
{
    const char *list = byzgd_cluster_config_get(run->config, "misbehave");
    if (!list)
        return NULL;
    size_t items = 1;
    for (const char *c = list; *c; c++)
        items += *c == ',';
    const char *item = list;
    for (size_t skip = index % items; skip > 0; skip--)
        item = strchr(item, ',') + 1;
    size_t length = strcspn(item, ",");
    snprintf(buffer, size, "%.*s", (int)length, item);
    return buffer;
}

static int
s_spawn(s_run_t *run, const char *name, s_argv_t *argv, const char *const *env)
{
    char log[S_PATH_MAX], error[512];
    s_log_path(log, sizeof log, run, name);
    int index = byzgd_launcher_spawn(run->launcher, name, (const char *const *)argv->items, env,
                                     log, error, sizeof error);
    if (index < 0)
        byzgd_error("%s", error);
    return index;
}

// Starts the worker holding key `slot`: Byzantine worker number `number` when
// is_byzantine (holding `identities` consecutive keys from `slot` on), honest otherwise.
// Returns 0 or -1.
static int
s_start_worker(s_run_t *run, const char *name, size_t slot, bool is_byzantine, size_t number,
               size_t identities)
{
    // Many workers share few cores: one OpenMP thread each and no busy-waiting.
    static const char *const env[] = {"OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1",
                                      "OMP_WAIT_POLICY=passive", NULL};
    s_argv_t argv = {0};
    s_argv_add(&argv, "%s/byzgd-%s", run->bin_dir, is_byzantine ? "byzantine" : "worker");
    s_worker_common(run, &argv, slot);
    if (byzgd_cluster_config_get(run->config, "join")) {
        // A worker host may start before its server: wait as long as the host was told.
        s_argv_add(&argv, "--give-up-ms");
        s_argv_add(&argv, "%.0f",
                   1000 * byzgd_cluster_config_get_number(run->config, "join-timeout"));
    }
    if (is_byzantine) {
        s_forward_options(&argv, run->config, BYZGD_CLUSTER_TO_BYZANTINE);
        if (identities > 1) {
            s_argv_add(&argv, "--identities");
            s_argv_add(&argv, "%zu", identities);
        }
        char mode[64];
        if (s_misbehaviour(run, number, mode, sizeof mode)) {
            s_argv_add(&argv, "--misbehave");
            s_argv_add(&argv, "%s", mode);
        }
    }
    int index = s_spawn(run, name, &argv, env);
    s_argv_free(&argv);
    return index < 0 ? -1 : 0;
}

static int
s_start_workers(s_run_t *run)
{
    long long workers = byzgd_cluster_config_get_int(run->config, "workers");
    long long byzantine = byzgd_cluster_config_get_int(run->config, "byzantine");
    long long honest = workers - byzantine;
    int width = workers > 100 ? 3 : 2;
    // Slot i is key worker-i: the Byzantine workers hold the last slots (byzantine_slots.h).
    bool *roles = calloc((size_t)workers, sizeof *roles);
    if (!roles)
        abort();
    byzgd_byzantine_slots_assign(roles, (size_t)workers, (size_t)byzantine);
    char error[512];
    int written =
        byzgd_byzantine_slots_write(run->run_dir, roles, (size_t)workers, error, sizeof error);
    free(roles);
    if (written != 0) {
        byzgd_error("%s", error);
        return -1;
    }
    // Byzantine workers without a protocol misbehaviour run as one process holding all
    // their identities, so that the inputs they share are computed once per round.
    bool grouped = byzantine > 1 && !byzgd_cluster_config_get(run->config, "misbehave");
    for (long long i = 0; i < workers; i++) {
        bool is_byzantine = i >= honest;
        long long number = is_byzantine ? i - honest : i;
        if (grouped && is_byzantine && number > 0)
            break;
        char name[64];
        snprintf(name, sizeof name, "%s-%0*lld", is_byzantine ? "byzantine" : "worker", width,
                 number);
        if (s_start_worker(run, name, (size_t)i, is_byzantine, (size_t)number,
                           grouped && is_byzantine ? (size_t)byzantine : 1) != 0)
            return -1;
    }
    return 0;
}

static void s_server_argv(const s_run_t *run, s_argv_t *argv, const char *endpoint);

static int
s_check_programs(s_run_t *run, char *error, size_t error_size)
{
    s_argv_t argv = {0};
    s_server_argv(run, &argv, byzgd_cluster_config_get(run->config, "endpoint"));
    byzgd_server_config_t server;
    byzgd_server_config_init(&server);
    int status = byzgd_server_config_parse(&server, (int)argv.count, argv.items, error, error_size);
    s_argv_free(&argv);
    if (status == 0)
        status = byzgd_server_config_check_model(&server, NULL, error, error_size);
    if (status != 0)
        return -1;
    long long workers = byzgd_cluster_config_get_int(run->config, "workers");
    long long byzantine = byzgd_cluster_config_get_int(run->config, "byzantine");
    snprintf(run->endpoint, sizeof run->endpoint, "%s",
             byzgd_cluster_config_get(run->config, "endpoint"));
    // The honest command line, then each Byzantine one (they differ by --misbehave only).
    for (long long i = byzantine < workers ? -1 : 0; i < byzantine && status == 0; i++) {
        s_argv_add(&argv, "%s/byzgd-%s", run->bin_dir, i < 0 ? "worker" : "byzantine");
        s_worker_common(run, &argv, 0);
        byzgd_attack_config_t attack;
        byzgd_attack_config_init(&attack);
        if (i >= 0) {
            s_forward_options(&argv, run->config, BYZGD_CLUSTER_TO_BYZANTINE);
            char mode[64];
            if (s_misbehaviour(run, (size_t)i, mode, sizeof mode)) {
                s_argv_add(&argv, "--misbehave");
                s_argv_add(&argv, "%s", mode);
            }
        }
        // The sections byzgd-worker and byzgd-byzantine parse their command lines with.
        static const byzgd_option_section_t *const worker_sections[] = {
            &byzgd_worker_option_section, NULL};
        static const byzgd_option_section_t *const byzantine_sections[] = {
            &byzgd_worker_option_section, &byzgd_attack_option_section,
            &byzgd_misbehaviour_option_section, NULL};
        byzgd_program_t program = {
            i < 0 ? "byzgd-worker" : "byzgd-byzantine", "[options]", "", NULL, NULL, NULL, 0, 0};
        program.sections = i < 0 ? worker_sections : byzantine_sections;
        byzgd_worker_config_t worker;
        byzgd_worker_config_init(&worker);
        void *states[] = {&worker, &attack, &attack};
        status = byzgd_options_parse(&program, (int)argv.count, argv.items, states, NULL, error,
                                     error_size);
        if (status == 1) // --help or --version reached the command line: never forwarded
            status = byzgd_set_error(error, error_size, "%s: unexpected --help", program.name);
        if (status == 0)
            status = byzgd_worker_config_check(&worker, error, error_size);
        if (status == 0 && i >= 0)
            status = byzgd_attack_config_check(
                &attack, (size_t)workers, (size_t)byzgd_cluster_config_get_int(run->config, "f"),
                error, error_size);
        s_argv_free(&argv);
    }
    run->endpoint[0] = '\0';
    return status == 0 ? 0 : -1;
}

static int
s_write_pids(const s_run_t *run)
{
    size_t count = byzgd_launcher_count(run->launcher);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out)
        abort();
    fprintf(out, "byzgd-cluster %d\n", (int)getpid());
    for (size_t i = 0; i < count; i++)
        if (byzgd_launcher_running(run->launcher, (int)i))
            fprintf(out, "%s %d\n", byzgd_launcher_name(run->launcher, (int)i),
                    (int)byzgd_launcher_pid(run->launcher, (int)i));
    fclose(out);
    char error[512];
    int result = s_write_file(run->run_dir, "pids", text, error, sizeof error);
    if (result != 0)
        byzgd_warn("%s", error);
    free(text);
    return result;
}

// A restarted server must bind the endpoint the workers connect to, so a wildcard port
// `tcp://ADDRESS:*` (ADDRESS an IPv4 literal or *) becomes a concrete free port: bind port
// 0, read the port, close. Another process may take the port before the server binds it;
// the server then fails to start and the run fails: rare, and reported. Returns 0 or -1.
static int
s_concrete_endpoint(char *endpoint, size_t size, const char *configured)
{
    snprintf(endpoint, size, "%s", configured);
    size_t length = strlen(configured);
    if (strncmp(configured, "tcp://", 6) != 0 || length < 9 ||
        strcmp(configured + length - 2, ":*") != 0)
        return 0;
    char host[64];
    if (length - 8 >= sizeof host)
        return -1;
    memcpy(host, configured + 6, length - 8);
    host[length - 8] = '\0';
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    if (strcmp(host, "*") == 0)
        address.sin_addr.s_addr = htonl(INADDR_ANY);
    else if (inet_pton(AF_INET, host, &address.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    socklen_t address_size = sizeof address;
    int result = -1;
    if (bind(fd, (struct sockaddr *)&address, sizeof address) == 0 &&
        getsockname(fd, (struct sockaddr *)&address, &address_size) == 0) {
        snprintf(endpoint, size, "tcp://%s:%u", host, (unsigned)ntohs(address.sin_port));
        result = 0;
    }
    close(fd);
    return result;
}

// byzgd-server's command line (appended to argv), listening on `endpoint`.
static void
s_server_argv(const s_run_t *run, s_argv_t *argv, const char *endpoint)
{
    s_argv_add(argv, "%s/byzgd-server", run->bin_dir);
    s_argv_add(argv, "--endpoint");
    s_argv_add(argv, "%s", endpoint);
    s_argv_add(argv, "--endpoint-file");
    s_argv_add(argv, "%s/%s", run->run_dir, s_server_endpoint_file(run));
    s_argv_add(argv, "--metrics");
    s_argv_add(argv, "%s/metrics.jsonl", run->run_dir);
    s_argv_add(argv, "--checkpoint");
    s_argv_add(argv, "%s/checkpoint", run->run_dir);
    s_argv_add(argv, "--quiet");
    if (byzgd_cluster_config_get_flag(run->config, "resume"))
        s_argv_add(argv, "--resume");
    if (byzgd_cluster_config_get_flag(run->config, "insecure")) {
        s_argv_add(argv, "--insecure");
    } else {
        s_argv_add(argv, "--keys");
        if (run->keys_dir[0]) // --keys KEYS of a --serve run, or RUN_DIR/keys once made
            s_argv_add(argv, "%s", run->keys_dir);
        else
            s_argv_add(argv, "%s/keys", run->run_dir);
    }
    s_forward_options(argv, run->config, BYZGD_CLUSTER_TO_SERVER);
    if (!byzgd_cluster_config_get_flag(run->config, "no-supervise") &&
        !byzgd_cluster_config_is_set(run->config, "checkpoint-every")) {
        s_argv_add(argv, "--checkpoint-every");
        s_argv_add(argv, "%d", S_CHECKPOINT_EVERY);
    }
}

// The supervisor's command before the server's: restarts after a crash or the memory cap,
// with --resume once RUN_DIR/checkpoint exists (docs/SECURITY.md §4-§5).
static void
s_add_supervisor(s_run_t *run, s_argv_t *argv)
{
    long long memory_mb = byzgd_cluster_config_get_int(run->config, "server-memory-mb");
    if (memory_mb == 0)
        memory_mb = S_MEMORY_BASE_MB +
                    S_MEMORY_PER_WORKER_MB * byzgd_cluster_config_get_int(run->config, "workers");
    s_argv_add(argv, "%s/byzgd-supervise", run->bin_dir);
    s_argv_add(argv, "--memory-mb");
    s_argv_add(argv, "%lld", memory_mb);
    s_argv_add(argv, "--checkpoint");
    s_argv_add(argv, "%s/checkpoint", run->run_dir);
    s_argv_add(argv, "--max-restarts");
    s_argv_add(argv, "%s", byzgd_cluster_config_get(run->config, "max-restarts"));
    s_argv_add(argv, "--");
}

static int
s_start_server(s_run_t *run)
{
    char endpoint_path[S_PATH_MAX];
    snprintf(endpoint_path, sizeof endpoint_path, "%s/%s", run->run_dir,
             s_server_endpoint_file(run));
    unlink(endpoint_path);
    bool supervise = !byzgd_cluster_config_get_flag(run->config, "no-supervise");
    const char *configured = byzgd_cluster_config_get(run->config, "endpoint");
    char endpoint[1024];
    if (!supervise)
        snprintf(endpoint, sizeof endpoint, "%s", configured);
    else if (s_concrete_endpoint(endpoint, sizeof endpoint, configured) != 0) {
        byzgd_error("cannot choose a free port for %s", configured);
        return -1;
    } else if (strchr(endpoint, '*'))
        byzgd_warn("--endpoint %s: a restarted server may bind another port than the workers "
                   "use; give a concrete port",
                   endpoint);
    s_argv_t argv = {0};
    if (supervise)
        s_add_supervisor(run, &argv);
    s_server_argv(run, &argv, endpoint);
    run->server = s_spawn(run, "server", &argv, NULL);
    s_argv_free(&argv);
    return run->server < 0 ? -1 : 0;
}

// Uses --keys KEYS, or creates RUN_DIR/keys with byzgd-keygen unless a previous run left
// them.
static int
s_make_keys(s_run_t *run)
{
    if (byzgd_cluster_config_get_flag(run->config, "insecure"))
        return 0;
    const char *given = byzgd_cluster_config_get(run->config, "keys");
    if (given) {
        snprintf(run->keys_dir, sizeof run->keys_dir, "%s", given);
        if (!s_exists(run->keys_dir, "server.cert_secret")) {
            byzgd_error("--keys %s: no server.cert_secret (make the keys with byzgd-keygen %s "
                        "--workers N)",
                        given, given);
            return -1;
        }
        return 0;
    }
    snprintf(run->keys_dir, sizeof run->keys_dir, "%s/keys", run->run_dir);
    if (s_exists(run->keys_dir, "server.cert"))
        return 0;
    s_argv_t argv = {0};
    s_argv_add(&argv, "%s/byzgd-keygen", run->bin_dir);
    s_argv_add(&argv, "%s", run->keys_dir);
    s_argv_add(&argv, "--workers");
    s_argv_add(&argv, "%s", byzgd_cluster_config_get(run->config, "workers"));
    int index = s_spawn(run, "keygen", &argv, NULL);
    s_argv_free(&argv);
    if (index < 0)
        return -1;
    int status = s_wait_for(run, index);
    if (status == -1) {
        char log[S_PATH_MAX];
        s_log_path(log, sizeof log, run, "keygen");
        byzgd_error("byzgd-keygen failed; %s ends with:", log);
        s_print_tail(log, 10);
    }
    return status;
}

// Supervises the running cluster until the server ends. Returns 0 (server succeeded),
// -1 (failed) or 128+signal.
static int
s_supervise(s_run_t *run)
{
    double timeout = byzgd_cluster_config_get_number(run->config, "timeout");
    double join_timeout = byzgd_cluster_config_get_flag(run->config, "serve")
                              ? byzgd_cluster_config_get_number(run->config, "join-timeout")
                              : INFINITY;
    size_t worker_count = byzgd_launcher_count(run->launcher) - (size_t)run->server - 1;
    double workers_gone_s = 0; // when the last worker ended (0: some still run)
    size_t workers_done = 0;   // workers that left with status 0 (told BYE by the server)
    for (;;) {
        int ended = -1, signal_number = 0;
        byzgd_launcher_event_t event =
            byzgd_launcher_wait(run->launcher, 200, &ended, &signal_number);
        s_follow_metrics(run);
        if (event == BYZGD_LAUNCHER_SIGNALED) {
            fprintf(stderr, "byzgd-cluster: %s: stopping every process\n",
                    strsignal(signal_number));
            int killed = byzgd_launcher_stop_all(run->launcher, S_STOP_GRACE_MS);
            if (killed)
                byzgd_warn("%d process(es) had to be killed", killed);
            return 128 + signal_number;
        }
        if (event == BYZGD_LAUNCHER_CHILD_ENDED) {
            char status[128];
            byzgd_launcher_describe(run->launcher, ended, status, sizeof status);
            if (ended == run->server) {
                if (byzgd_launcher_succeeded(run->launcher, ended))
                    return 0;
                // Status 3 is a diverged run only when its metrics say so.
                int server_status = byzgd_launcher_status(run->launcher, ended);
                s_follow_metrics(run);
                if (WIFEXITED(server_status) && WEXITSTATUS(server_status) == S_EXIT_DIVERGED &&
                    run->diverged)
                    return S_EXIT_DIVERGED;
                char log[S_PATH_MAX];
                s_log_path(log, sizeof log, run, "server");
                byzgd_error("the server %s; %s ends with:", status, log);
                s_print_tail(log, 10);
                return -1;
            }
            // A worker leaves with status 0 when the server said BYE: the normal end.
            if (byzgd_launcher_succeeded(run->launcher, ended))
                workers_done++;
            else
                byzgd_warn("%s %s", byzgd_launcher_name(run->launcher, ended), status);
            size_t running_workers = byzgd_launcher_running_count(run->launcher) -
                                     (byzgd_launcher_running(run->launcher, run->server) ? 1 : 0);
            if (worker_count > 0 && running_workers == 0 && workers_gone_s == 0)
                workers_gone_s = byzgd_monotonic_s();
        }
        // With every worker gone the server cannot go on. If some left because the server
        // said BYE it is finishing: give it a grace period; if all failed, stop now.
        if (workers_gone_s > 0 &&
            (workers_done == 0 ||
             (byzgd_monotonic_s() - workers_gone_s) * 1000 > S_WORKER_GRACE_MS)) {
            byzgd_error("every worker has ended and the server did not finish");
            return -1;
        }
        if (timeout > 0 && byzgd_monotonic_s() - run->started_s > timeout) {
            byzgd_error("timed out after %g s", timeout);
            return -1;
        }
        if (run->lines == 0 && byzgd_monotonic_s() - run->started_s > join_timeout) {
            byzgd_error("no round finished within --join-timeout %g s: too few workers joined "
                        "(see %s/logs/server.log)",
                        join_timeout, run->run_dir);
            return -1;
        }
    }
}

// After the server finished: workers were told to stop; give them time, then insist.
static void
s_finish_workers(s_run_t *run)
{
    double deadline = byzgd_monotonic_s() + S_WORKER_GRACE_MS / 1000.0;
    while (byzgd_launcher_running_count(run->launcher) > 0 && byzgd_monotonic_s() < deadline) {
        int ended = -1, signal_number = 0;
        byzgd_launcher_event_t event =
            byzgd_launcher_wait(run->launcher, 100, &ended, &signal_number);
        if (event == BYZGD_LAUNCHER_SIGNALED)
            break;
        if (event == BYZGD_LAUNCHER_CHILD_ENDED &&
            !byzgd_launcher_succeeded(run->launcher, ended)) {
            char status[128];
            byzgd_warn("%s %s", byzgd_launcher_name(run->launcher, ended),
                       byzgd_launcher_describe(run->launcher, ended, status, sizeof status));
        }
    }
    int killed = byzgd_launcher_stop_all(run->launcher, S_STOP_GRACE_MS);
    if (killed)
        byzgd_warn("%d process(es) had to be killed", killed);
}

static void
s_default_run_dir(s_run_t *run)
{
    time_t now = time(NULL);
    struct tm local;
    localtime_r(&now, &local);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
    const char *attack = byzgd_cluster_config_get(run->config, "attack");
    snprintf(run->run_dir, sizeof run->run_dir, "runs/%s-%s-%s", stamp,
             byzgd_cluster_config_get(run->config, "rule"), attack ? attack : "none");
}

// Prepares RUN_DIR: creates it, refuses to mix two runs, writes the effective config.
static int
s_prepare_run_dir(s_run_t *run, char *error, size_t error_size)
{
    bool resume = byzgd_cluster_config_get_flag(run->config, "resume");
    if (resume && !s_exists(run->run_dir, "checkpoint"))
        return byzgd_set_error(error, error_size, "--resume: %s/checkpoint does not exist",
                               run->run_dir);
    if (!resume && (s_exists(run->run_dir, "metrics.jsonl") || s_exists(run->run_dir, "config")))
        return byzgd_set_error(error, error_size,
                               "%s already holds a run: choose a new --run-dir, or --resume",
                               run->run_dir);
    char logs[S_PATH_MAX];
    snprintf(logs, sizeof logs, "%s/logs", run->run_dir);
    if (byzgd_mkdir_parents(logs, 0755, error, error_size) != 0)
        return -1;
    if (resume) {
        // DIR/config stays as the run began; the options given with --resume are kept
        // beside it, all of them in force (README, "Resuming a run").
        if (!run->resume_overrides[0])
            return 0;
        char *text = NULL;
        if (asprintf(&text,
                     "# byzgd-cluster: options given with --resume, in force over %s/config.\n"
                     "# The run's configuration is both files, this one last:\n"
                     "#   byzgd-cluster --config %s/config --config %s/config.resume ...\n%s",
                     run->run_dir, run->run_dir, run->run_dir, run->resume_overrides) < 0)
            abort();
        int result = s_write_file(run->run_dir, "config.resume", text, error, error_size);
        free(text);
        return result;
    }
    static const char *const omit[] = {"run-dir", "resume", "bin-dir", "quiet", NULL};
    char *body = byzgd_cluster_config_format(run->config, omit);
    char *text = NULL;
    if (asprintf(&text,
                 "# byzgd-cluster effective configuration. Reproduce the run with\n"
                 "#   byzgd-cluster --config %s/config --run-dir NEW_DIR\n%s",
                 run->run_dir, body) < 0)
        abort();
    int result = s_write_file(run->run_dir, "config", text, error, error_size);
    free(text);
    free(body);
    return result;
}

// Options that only steer this launch: never part of a run's recorded configuration.
static const char *const s_launch_only[] = {"run-dir", "resume", "bin-dir", "quiet", NULL};

static bool
s_listed(const char *const *names, const char *name)
{
    for (size_t i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

static bool
s_same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

#define S_OPTIONS_MAX 256

// Every option of byzgd-cluster's sections, in --help order, into options[0..max).
// Returns the count.
static size_t
s_cluster_options(const byzgd_option_t **options, size_t max)
{
    size_t count = 0;
    for (const byzgd_option_section_t *const *section = byzgd_cluster_sections(); *section;
         section++)
        for (size_t i = 0; i < (*section)->count; i++) {
            assert(count < max);
            options[count++] = &(*section)->options[i];
        }
    return count;
}

// --resume: the run's configuration is DIR/config, then DIR/config.resume (the options of
// earlier resumes), then the flags given now. Replaces run->config with it and keeps the
// overrides for DIR/config.resume. Options that change the parameter vector (model,
// dataset, hidden) or its stream (seed) are refused: the checkpoint would not fit.
static int
s_resume_configuration(s_run_t *run, char *error, size_t error_size)
{
    const char *run_dir = byzgd_cluster_config_get(run->config, "run-dir");
    if (!run_dir)
        return byzgd_set_error(error, error_size, "--resume needs --run-dir DIR");
    char path[S_PATH_MAX];
    snprintf(path, sizeof path, "%s/config", run_dir);
    if (access(path, F_OK) != 0)
        return byzgd_set_error(error, error_size, "--resume: %s does not exist", path);
    byzgd_cluster_config_t *original = byzgd_cluster_config_new();
    byzgd_cluster_config_t *overrides = byzgd_cluster_config_new();
    byzgd_cluster_config_t *effective = byzgd_cluster_config_new();
    int result = -1;
    if (byzgd_cluster_config_load(original, path, error, error_size) != 0 ||
        byzgd_cluster_config_load(effective, path, error, error_size) != 0)
        goto cleanup;
    snprintf(path, sizeof path, "%s/config.resume", run_dir);
    if (access(path, F_OK) == 0 &&
        byzgd_cluster_config_load(overrides, path, error, error_size) != 0)
        goto cleanup;
    const byzgd_option_t *options[S_OPTIONS_MAX];
    size_t count = s_cluster_options(options, S_OPTIONS_MAX);
    for (size_t i = 0; i < count; i++) {
        const char *name = options[i]->name;
        if (!byzgd_cluster_config_is_set(run->config, name) || s_listed(s_launch_only, name))
            continue;
        // A flag repeating the run's value (e.g. `--config DIR/config --resume`) is no
        // override.
        const char *value = byzgd_cluster_config_get(run->config, name);
        const char *current = byzgd_cluster_config_is_set(overrides, name)
                                  ? byzgd_cluster_config_get(overrides, name)
                                  : byzgd_cluster_config_get(original, name);
        if (!s_same(value, current))
            byzgd_cluster_config_set(overrides, name, value, NULL, 0);
    }
    char *text = NULL;
    size_t size = 0;
    FILE *lines = open_memstream(&text, &size);
    if (!lines)
        abort();
    static const char *const fixed[] = {"model", "dataset", "hidden", "seed", NULL};
    for (size_t i = 0; i < count; i++) {
        const char *name = options[i]->name;
        const char *value = byzgd_cluster_config_is_set(overrides, name)
                                ? byzgd_cluster_config_get(overrides, name)
                                : NULL;
        if (!value && s_listed(s_launch_only, name) &&
            byzgd_cluster_config_is_set(run->config, name))
            byzgd_cluster_config_set(effective, name, byzgd_cluster_config_get(run->config, name),
                                     NULL, 0);
        if (!value)
            continue;
        if (s_listed(fixed, name) && !s_same(value, byzgd_cluster_config_get(original, name))) {
            const char *was = byzgd_cluster_config_get(original, name);
            byzgd_set_error(error, error_size,
                            "--resume cannot change --%s (the run has %s, the checkpoint "
                            "would not fit): start a new run instead",
                            name, was ? was : "its default");
            fclose(lines);
            free(text);
            goto cleanup;
        }
        byzgd_cluster_config_set(effective, name, value, NULL, 0);
        fprintf(lines, "%s = %s\n", name, value);
    }
    fclose(lines);
    free(run->resume_overrides);
    run->resume_overrides = text;
    byzgd_cluster_config_destroy(&run->config);
    run->config = effective;
    effective = NULL;
    result = 0;
cleanup:
    byzgd_cluster_config_destroy(&original);
    byzgd_cluster_config_destroy(&overrides);
    byzgd_cluster_config_destroy(&effective);
    return result;
}

// Adds "selected_byzantine" to the server's metrics lines (the server does not know the
// roles). A run without the file (an older run resumed) is left as it is.
static void
s_annotate_metrics(const s_run_t *run)
{
    size_t n = (size_t)byzgd_cluster_config_get_int(run->config, "workers");
    bool *is_byzantine = calloc(n, sizeof *is_byzantine);
    if (!is_byzantine)
        abort();
    char error[512], path[S_PATH_MAX];
    snprintf(path, sizeof path, "%s/metrics.jsonl", run->run_dir);
    if (byzgd_byzantine_slots_read(run->run_dir, is_byzantine, n, error, sizeof error) != 0 ||
        (s_exists(run->run_dir, "metrics.jsonl") &&
         byzgd_byzantine_slots_annotate(path, is_byzantine, n, error, sizeof error) < 0))
        byzgd_warn("selected_byzantine not added: %s", error);
    free(is_byzantine);
}

// A --serve run starts no worker: the roles are the --join hosts' business, so its summary
// names the tolerance the server was told (f) instead of an attack and a count it cannot know.
static void
s_summary(const s_run_t *run, const char *status, double seconds)
{
    const char *attack = byzgd_cluster_config_get(run->config, "attack");
    char roles[160];
    if (byzgd_cluster_config_get_flag(run->config, "serve"))
        snprintf(roles, sizeof roles, "f=%lld workers=%s",
                 byzgd_cluster_config_get_int(run->config, "f"),
                 byzgd_cluster_config_get(run->config, "workers"));
    else
        snprintf(roles, sizeof roles, "attack=%s workers=%s byzantine=%s", attack ? attack : "none",
                 byzgd_cluster_config_get(run->config, "workers"),
                 byzgd_cluster_config_get(run->config, "byzantine"));
    printf("summary: %s rule=%s %s rounds=%.0f final_accuracy=%.4f best_accuracy=%.4f "
           "seconds=%.1f run_dir=%s\n",
           status, byzgd_cluster_config_get(run->config, "rule"), roles,
           isnan(run->last_round) ? 0 : run->last_round, run->final_accuracy, run->best_accuracy,
           seconds, run->run_dir);
    fflush(stdout);
}

// True for an endpoint no other host can dial: a wildcard address.
static bool
s_wildcard_endpoint(const char *endpoint)
{
    return strncmp(endpoint, "tcp://0.0.0.0:", 14) == 0 || strncmp(endpoint, "tcp://*:", 8) == 0 ||
           strncmp(endpoint, "tcp://[::]:", 11) == 0;
}

// --advertise must be tcp://HOST:PORT with a concrete host and port. Returns 0 or -1.
static int
s_check_advertise(const char *advertise, char *error, size_t error_size)
{
    const char *colon = strrchr(advertise, ':');
    if (strncmp(advertise, "tcp://", 6) != 0 || !colon || colon < advertise + 7 ||
        s_wildcard_endpoint(advertise))
        return byzgd_set_error(error, error_size,
                               "--advertise %s: expected tcp://HOST:PORT with the address or "
                               "name workers dial (not 0.0.0.0)",
                               advertise);
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || port < 1 || port > 65535)
        return byzgd_set_error(error, error_size, "--advertise %s: the port must be 1..65535",
                               advertise);
    return 0;
}

// --serve: writes what remote workers dial to RUN_DIR/endpoint (never a wildcard).
static int
s_advertise(s_run_t *run)
{
    const char *advertise = byzgd_cluster_config_get(run->config, "advertise");
    snprintf(run->advertise, sizeof run->advertise, "%s", advertise ? advertise : run->endpoint);
    char error[512], text[sizeof run->advertise + 2];
    snprintf(text, sizeof text, "%s\n", run->advertise);
    if (s_write_file(run->run_dir, "endpoint", text, error, sizeof error) != 0) {
        byzgd_error("%s", error);
        return -1;
    }
    return 0;
}

static int
s_run(s_run_t *run)
{
    char error[1024];
    run->started_s = byzgd_monotonic_s();
    run->last_print_s = run->started_s;
    if (s_check_programs(run, error, sizeof error) != 0 ||
        s_prepare_run_dir(run, error, sizeof error) != 0) {
        byzgd_error("%s", error);
        return 2; // a run directory that cannot be used is a usage error
    }
    run->launcher = byzgd_launcher_new(error, sizeof error);
    if (!run->launcher) {
        byzgd_error("%s", error);
        return 1;
    }
    if (!run->quiet)
        printf("byzgd-cluster: run directory %s\n", run->run_dir);
    // A resumed run's earlier lines count in the summary but are not printed again.
    run->replaying = byzgd_cluster_config_get_flag(run->config, "resume");
    int status = s_make_keys(run);
    if (status == 0)
        status = s_start_server(run);
    if (status == 0)
        status = s_wait_for_endpoint(run);
    if (status == 0 && byzgd_cluster_config_get_flag(run->config, "serve")) {
        status = s_advertise(run);
        if (status == 0 && !run->quiet)
            printf("byzgd-cluster: server at %s, advertised as %s (RUN_DIR/endpoint); waiting "
                   "up to %s s for %s workers to join\n",
                   run->endpoint, run->advertise,
                   byzgd_cluster_config_get(run->config, "join-timeout"),
                   byzgd_cluster_config_get(run->config, "workers"));
        fflush(stdout);
        run->last_print_s = byzgd_monotonic_s();
    } else if (status == 0) {
        if (!run->quiet)
            printf("byzgd-cluster: server at %s; starting %s workers (%s Byzantine)\n",
                   run->endpoint, byzgd_cluster_config_get(run->config, "workers"),
                   byzgd_cluster_config_get(run->config, "byzantine"));
        fflush(stdout);
        run->last_print_s = byzgd_monotonic_s();
        status = s_start_workers(run);
    }
    s_write_pids(run);
    if (status == 0)
        status = s_supervise(run);
    if (status == 0 || status == S_EXIT_DIVERGED)
        s_finish_workers(run);
    else
        byzgd_launcher_stop_all(run->launcher, S_STOP_GRACE_MS);
    s_follow_metrics(run);
    byzgd_launcher_destroy(&run->launcher);
    s_annotate_metrics(run);

    bool diverged = status == S_EXIT_DIVERGED;
    bool complete = status == 0 && run->lines > 0 && run->last_round >= (double)run->rounds_target;
    if (status == 0 && !complete) {
        byzgd_error("the server ended but metrics.jsonl holds %s (round %.0f of %lld)",
                    run->lines ? "too few rounds" : "no round", run->last_round,
                    run->rounds_target);
    }
    if (diverged)
        printf("byzgd-cluster: the model diverged at round %.0f (see metrics.jsonl)\n",
               run->last_round);
    s_summary(run,
              diverged   ? "diverged"
              : complete ? "ok"
                         : "failed",
              byzgd_monotonic_s() - run->started_s);
    if (status > 128)
        return status;
    return diverged ? S_EXIT_DIVERGED : complete ? 0 : 1;
}

// ---- --join: the workers of one host

// Writes RUN_DIR/byzantine-slots (byzantine_slots.h, the format and function of the local
// launch and of byzgd-simulate): the first `byzantine` slots of the bundle attack.
static int
s_write_byzantine_slots(const s_run_t *run, const byzgd_key_bundle_t *bundle, size_t byzantine)
{
    size_t n = 0;
    for (size_t i = 0; i < byzgd_key_bundle_slot_count(bundle); i++)
        if (byzgd_key_bundle_slot(bundle, i) + 1 > n)
            n = byzgd_key_bundle_slot(bundle, i) + 1;
    bool *is_byzantine = calloc(n ? n : 1, sizeof *is_byzantine);
    if (!is_byzantine)
        abort();
    for (size_t i = 0; i < byzantine; i++)
        is_byzantine[byzgd_key_bundle_slot(bundle, i)] = true;
    char error[512];
    int result = byzgd_byzantine_slots_write(run->run_dir, is_byzantine, n, error, sizeof error);
    if (result != 0)
        byzgd_error("%s", error);
    free(is_byzantine);
    return result;
}

// Waits for every worker to end. Returns 0 when all left with status 0 (the server said
// BYE(done): the run finished), -1 when one failed or was told BYE(shutdown) (status
// BYZGD_WORKER_EXIT_STOPPED: the server was stopped or failed), 128+signal when
// interrupted.
static int
s_supervise_workers(s_run_t *run)
{
    double timeout = byzgd_cluster_config_get_number(run->config, "timeout");
    int failed = 0;
    while (byzgd_launcher_running_count(run->launcher) > 0) {
        int ended = -1, signal_number = 0;
        byzgd_launcher_event_t event =
            byzgd_launcher_wait(run->launcher, 500, &ended, &signal_number);
        if (event == BYZGD_LAUNCHER_SIGNALED) {
            fprintf(stderr, "byzgd-cluster: %s: stopping every process\n",
                    strsignal(signal_number));
            byzgd_launcher_stop_all(run->launcher, S_STOP_GRACE_MS);
            return 128 + signal_number;
        }
        if (event == BYZGD_LAUNCHER_CHILD_ENDED &&
            !byzgd_launcher_succeeded(run->launcher, ended)) {
            char status[128], log[S_PATH_MAX];
            const char *name = byzgd_launcher_name(run->launcher, ended);
            s_log_path(log, sizeof log, run, name);
            byzgd_warn("%s %s; %s ends with:", name,
                       byzgd_launcher_describe(run->launcher, ended, status, sizeof status), log);
            s_print_tail(log, 5);
            failed++;
        }
        if (timeout > 0 && byzgd_monotonic_s() - run->started_s > timeout) {
            byzgd_error("timed out after %g s", timeout);
            return -1;
        }
    }
    return failed ? -1 : 0;
}

static int
s_run_join(s_run_t *run)
{
    char error[1024];
    run->started_s = byzgd_monotonic_s();
    if (s_prepare_run_dir(run, error, sizeof error) != 0) {
        byzgd_error("%s", error);
        return 2;
    }
    const char *bundle_path = byzgd_cluster_config_get(run->config, "bundle");
    byzgd_key_bundle_t *bundle = byzgd_key_bundle_load(bundle_path, error, sizeof error);
    if (!bundle) {
        byzgd_error("--bundle %s", error);
        return 2;
    }
    size_t slots = byzgd_key_bundle_slot_count(bundle);
    size_t byzantine = (size_t)byzgd_cluster_config_get_int(run->config, "byzantine");
    int status = 0;
    if (byzantine > slots) {
        byzgd_error("--byzantine %zu exceeds the %zu slots of %s", byzantine, slots, bundle_path);
        status = 2;
    }
    snprintf(run->keys_dir, sizeof run->keys_dir, "%s/keys", run->run_dir);
    snprintf(run->endpoint, sizeof run->endpoint, "%s",
             byzgd_cluster_config_get(run->config, "join"));
    if (status == 0 && byzgd_key_bundle_extract(bundle, run->keys_dir, error, sizeof error) != 0) {
        byzgd_error("%s", error);
        status = 1;
    }
    if (status == 0 && s_write_byzantine_slots(run, bundle, byzantine) != 0)
        status = 1;
    if (status == 0) {
        run->launcher = byzgd_launcher_new(error, sizeof error);
        if (!run->launcher) {
            byzgd_error("%s", error);
            status = 1;
        }
    }
    if (status == 0 && !run->quiet) {
        printf("byzgd-cluster: run directory %s; joining %s with slots %zu-%zu (%zu workers, "
               "%zu Byzantine)\n",
               run->run_dir, run->endpoint, byzgd_key_bundle_slot(bundle, 0),
               byzgd_key_bundle_slot(bundle, slots - 1), slots, byzantine);
        fflush(stdout);
    }
    // The first `byzantine` slots of the bundle attack; names carry the slot number.
    for (size_t i = 0; status == 0 && i < slots; i++) {
        size_t slot = byzgd_key_bundle_slot(bundle, i);
        bool is_byzantine = i < byzantine;
        char name[64];
        snprintf(name, sizeof name, "%s-%03zu", is_byzantine ? "byzantine" : "worker", slot);
        if (s_start_worker(run, name, slot, is_byzantine, i, 1) != 0)
            status = 1;
    }
    if (run->launcher) {
        s_write_pids(run);
        if (status == 0)
            status = s_supervise_workers(run);
        byzgd_launcher_stop_all(run->launcher, S_STOP_GRACE_MS);
        byzgd_launcher_destroy(&run->launcher);
    }
    printf("summary: %s join=%s slots=%zu-%zu workers=%zu byzantine=%zu seconds=%.1f "
           "run_dir=%s\n",
           status == 0 ? "ok" : "failed", run->endpoint, byzgd_key_bundle_slot(bundle, 0),
           byzgd_key_bundle_slot(bundle, slots - 1), slots, byzantine,
           byzgd_monotonic_s() - run->started_s, run->run_dir);
    fflush(stdout);
    byzgd_key_bundle_destroy(&bundle);
    if (status > 1)
        return status;
    return status == 0 ? 0 : 1;
}

// Checks the options of --serve that need more than the table. Returns 0 or -1.
static int
s_check_serve(const byzgd_cluster_config_t *config, char *error, size_t error_size)
{
    const char *advertise = byzgd_cluster_config_get(config, "advertise");
    if (advertise)
        return s_check_advertise(advertise, error, error_size);
    if (s_wildcard_endpoint(byzgd_cluster_config_get(config, "endpoint")))
        return byzgd_set_error(error, error_size,
                               "--endpoint %s binds every interface: give --advertise "
                               "tcp://HOST:PORT, the address the workers dial",
                               byzgd_cluster_config_get(config, "endpoint"));
    return 0;
}

int
main(int argc, char **argv)
{
    char error[1024];
    int exit_code = 2;
    s_run_t run;
    memset(&run, 0, sizeof run);
    run.final_accuracy = run.best_accuracy = run.last_round = NAN;
    run.config = byzgd_cluster_config_new();
    int parsed = s_parse_arguments(run.config, argc, argv, error, sizeof error);
    if (parsed == 1) {
        exit_code = 0;
        goto cleanup;
    }
    if (parsed == 0 && byzgd_cluster_config_get_flag(run.config, "resume") &&
        s_resume_configuration(&run, error, sizeof error) != 0) {
        byzgd_error("%s", error);
        goto cleanup;
    }
    if (parsed != 0 || byzgd_cluster_config_check(run.config, error, sizeof error) != 0 ||
        (byzgd_cluster_config_get_flag(run.config, "serve") &&
         s_check_serve(run.config, error, sizeof error) != 0)) {
        byzgd_error("%s (see --help)", error);
        goto cleanup;
    }
    if (!byzgd_cluster_config_is_set(run.config, "f"))
        byzgd_cluster_config_set(run.config, "f", byzgd_cluster_config_get(run.config, "byzantine"),
                                 NULL, 0);
    const char *bin_dir = byzgd_cluster_config_get(run.config, "bin-dir");
    if (bin_dir)
        snprintf(run.bin_dir, sizeof run.bin_dir, "%s", bin_dir);
    else if (byzgd_own_directory(run.bin_dir, sizeof run.bin_dir, error, sizeof error) != 0) {
        byzgd_error("%s", error);
        exit_code = 1;
        goto cleanup;
    }
    const char *run_dir = byzgd_cluster_config_get(run.config, "run-dir");
    if (run_dir)
        snprintf(run.run_dir, sizeof run.run_dir, "%s", run_dir);
    else
        s_default_run_dir(&run);
    run.quiet = byzgd_cluster_config_get_flag(run.config, "quiet");
    run.rounds_target = byzgd_cluster_config_get_int(run.config, "rounds");
    exit_code = byzgd_cluster_config_get(run.config, "join") ? s_run_join(&run) : s_run(&run);
cleanup:
    if (run.metrics)
        fclose(run.metrics);
    free(run.resume_overrides);
    byzgd_cluster_config_destroy(&run.config);
    return exit_code;
}
