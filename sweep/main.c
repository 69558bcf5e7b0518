/*  byzgd-sweep — runs every combination of a grid file (sweep/grid.h) as its own child
    process, N at a time, and tabulates them in OUT/results.csv.

    byzgd-sweep --grid experiments/fig4.grid --out runs/fig4 -j 2

    OUT/runs/<id>/ is each run's directory (sweep.conf, output.log, metrics.jsonl, summary);
    OUT/results.csv has one row per finished run. A run is finished when its summary file
    says ok or diverged and its sweep.conf is the run's configuration in the grid as given
    now; a second call skips those and runs the rest again from scratch (failed, interrupted,
    or finished with other settings: a `--set rounds=20` check, an edited grid). The whole grid is
   checked before anything is created or started.

    Exit status: 0 every run finished ok or diverged; 1 some run failed; 2 bad flags or grid;
    128 + N after signal N (the running children get SIGTERM). */
#include "support/clock.h"
#include "sweep/grid.h"
#include "support/files.h"
#include "support/log.h"
#include "support/options.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_PATH_MAX       4096
#define S_OUT_DIR_MAX    1024 // leaves room for /runs/<id>/<file> in S_PATH_MAX
#define S_MAX_OVERRIDES  64
#define S_GRID_MAX_BYTES (64 * 1024)

// The program that runs ONE experiment, taken from the directory of byzgd-sweep. Every run
// goes through s_child_argv(), the only place that knows how a run is started. The
// simulator takes the same configuration file (it ignores the transport and process
// options a grid may hold) and writes the same metrics, summary and byzantine-slots; for
// the same seed its metrics equal the cluster's (docs/SIMULATE.md), in a fraction of the
// time.
#define S_SIMULATOR_PROGRAM   "byzgd-simulate"
#define S_DISTRIBUTED_PROGRAM "byzgd-cluster"

extern char **environ;

// Set by SIGINT / SIGTERM; the loop forwards it to the children.
static volatile sig_atomic_t s_interrupted = 0;

typedef struct {
    pid_t pid;       // > 0 while running
    bool finished;   // summary says ok or diverged (or failed after this call ran it)
    bool skipped;    // finished before this call
    char status[16]; // ok, diverged, failed
    double final_accuracy, best_accuracy, rounds, seconds; // NAN when unknown
    double byzantine_fraction; // NAN when metrics carry no selected_byzantine
    double started_s;
} s_result_t;

typedef struct {
    byzgd_grid_t *grid;
    s_result_t *results;
    char out_dir[S_OUT_DIR_MAX];
    char program[S_PATH_MAX];
    size_t jobs;
    size_t done, skipped, failed, running, ran_this_call;
    double ran_seconds; // wall time of the runs finished in this call
    double started_s;
} s_sweep_t;

static void
s_on_signal(int signal_number)
{
    s_interrupted = signal_number;
}

typedef struct {
    const char *grid_path, *out_dir;
    const char *overrides[S_MAX_OVERRIDES];
    size_t override_count;
    long jobs;
    bool distributed;
} s_options_t;

// --set NAME=VALUE, repeatable: collected in order.
static int
s_set(void *state, const byzgd_option_t *option, const char *value, char *error, size_t error_size)
{
    (void)option;
    s_options_t *options = state;
    if (options->override_count == S_MAX_OVERRIDES)
        return snprintf(error, error_size, "--set: at most %d", S_MAX_OVERRIDES), -1;
    options->overrides[options->override_count++] = value;
    return 0;
}

#define S_FIELD(field) BYZGD_OPTION_FIELD(s_options_t, field)

// clang-format off
static const byzgd_option_t s_table[] = {
    {"grid", BYZGD_OPTION_TEXT, 0, 0, NULL, 0, "the grid file (required)", "FILE", NULL,
     S_FIELD(grid_path)},
    {"out", BYZGD_OPTION_TEXT, 0, 0, NULL, 0, "where the runs and results.csv go (required)",
     "DIR", NULL, S_FIELD(out_dir)},
    {"j", BYZGD_OPTION_INT, 1, 256, "1", 0, "runs at the same time", "N", NULL, S_FIELD(jobs)},
    {"distributed", BYZGD_OPTION_FLAG, 0, 0, NULL, 0,
     "run each experiment with byzgd-cluster (separate processes over the network) instead of "
     "byzgd-simulate (one process)", NULL, NULL, S_FIELD(distributed)},
    {"set", BYZGD_OPTION_TEXT, 0, 0, NULL, 0,
     "replace option NAME everywhere in the grid, e.g. rounds=20 (repeatable)", "NAME=VALUE",
     NULL, {0}, s_set},
};
// clang-format on

// mkdir -p, the failure on stderr.
static int
s_mkdir_p(const char *path)
{
    char error[512];
    if (byzgd_mkdir_parents(path, 0755, error, sizeof error) != 0) {
        byzgd_error("%s", error);
        return -1;
    }
    return 0;
}

static int
s_remove_entry(const char *path, const struct stat *info, int type, struct FTW *ftw)
{
    (void)info, (void)type, (void)ftw;
    return remove(path);
}

static int
s_remove_tree(const char *path)
{
    if (access(path, F_OK) != 0)
        return 0;
    return nftw(path, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *
s_read_file(const char *path, size_t limit, size_t *size_out)
{
    FILE *file = fopen(path, "r");
    if (!file)
        return NULL;
    char *text = malloc(limit + 1);
    if (!text)
        abort();
    size_t size = fread(text, 1, limit + 1, file);
    fclose(file);
    if (size > limit) {
        free(text);
        errno = EFBIG;
        return NULL;
    }
    text[size] = '\0';
    *size_out = size;
    return text;
}

static int
s_write_file(const char *path, const char *text)
{
    char temporary[S_PATH_MAX + 8];
    snprintf(temporary, sizeof temporary, "%s.tmp", path);
    FILE *file = fopen(temporary, "w");
    if (!file)
        return -1;
    bool ok = fputs(text, file) >= 0;
    ok = fclose(file) == 0 && ok;
    if (!ok || rename(temporary, path) != 0) {
        unlink(temporary);
        return -1;
    }
    return 0;
}

static void
s_run_path(char *path, size_t size, const s_sweep_t *sweep, size_t index, const char *name)
{
    snprintf(path, size, "%s/runs/%s%s%s", sweep->out_dir, byzgd_grid_run(sweep->grid, index)->id,
             name ? "/" : "", name ? name : "");
}

// The value of `key=` in a summary line, or NAN.
static double
s_summary_number(const char *line, const char *key)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, " %s=", key);
    const char *found = strstr(line, pattern);
    if (!found)
        return NAN;
    char *end = NULL;
    double value = strtod(found + strlen(pattern), &end);
    return end == found + strlen(pattern) ? NAN : value;
}

// Fills result from a `summary: STATUS key=value ...` line. Returns 0, or -1 if the line is
// not a summary.
static int
s_parse_summary(s_result_t *result, const char *line)
{
    if (strncmp(line, "summary: ", 9) != 0)
        return -1;
    const char *status = line + 9;
    size_t length = strcspn(status, " \n");
    if (length == 0 || length >= sizeof result->status)
        return -1;
    memcpy(result->status, status, length);
    result->status[length] = '\0';
    result->final_accuracy = s_summary_number(line, "final_accuracy");
    result->best_accuracy = s_summary_number(line, "best_accuracy");
    result->rounds = s_summary_number(line, "rounds");
    result->seconds = s_summary_number(line, "seconds");
    return 0;
}

// The last summary line of a file, or an empty string.
static void
s_last_summary(char *summary, size_t size, const char *path)
{
    summary[0] = '\0';
    FILE *file = fopen(path, "r");
    if (!file)
        return;
    char *line = NULL;
    size_t capacity = 0;
    while (getline(&line, &capacity, file) > 0)
        if (strncmp(line, "summary: ", 9) == 0)
            snprintf(summary, size, "%s", line);
    free(line);
    fclose(file);
}

// The share of Byzantine rows among the rows the rule kept, over the whole run:
// Σ selected_byzantine / Σ |selected| (or Σ accepted on lines of rules that keep every
// row). NAN when no line of metrics.jsonl carries selected_byzantine.
static double
s_byzantine_fraction(const char *metrics_path)
{
    FILE *file = fopen(metrics_path, "r");
    if (!file)
        return NAN;
    char *line = NULL;
    size_t capacity = 0;
    double byzantine = 0, kept = 0;
    bool seen = false;
    while (getline(&line, &capacity, file) > 0) {
        const char *field = strstr(line, "\"selected_byzantine\":");
        if (!field)
            continue;
        char *end = NULL;
        double value = strtod(field + strlen("\"selected_byzantine\":"), &end);
        if (!end || end == field + strlen("\"selected_byzantine\":") || !isfinite(value))
            continue;
        const char *selected = strstr(line, "\"selected\":[");
        const char *accepted = strstr(line, "\"accepted\":");
        double count = NAN;
        if (selected) {
            const char *items = selected + strlen("\"selected\":[");
            const char *close = strchr(items, ']');
            if (close) {
                count = close > items ? 1 : 0;
                for (const char *c = items; c < close; c++)
                    count += *c == ',';
            }
        } else if (accepted) {
            count = strtod(accepted + strlen("\"accepted\":"), NULL);
        }
        if (!isfinite(count))
            continue;
        seen = true;
        byzantine += value;
        kept += count;
    }
    free(line);
    fclose(file);
    return seen && kept > 0 ? byzantine / kept : NAN;
}

static bool
s_finished_status(const char *status)
{
    return strcmp(status, "ok") == 0 || strcmp(status, "diverged") == 0;
}

static void
s_csv_field(FILE *out, const char *value)
{
    if (!strpbrk(value, ",\"\n")) {
        fputs(value, out);
        return;
    }
    fputc('"', out);
    for (const char *c = value; *c; c++) {
        if (*c == '"')
            fputc('"', out);
        fputc(*c, out);
    }
    fputc('"', out);
}

static void
s_csv_number(FILE *out, double value, int decimals)
{
    fputc(',', out);
    if (isfinite(value))
        fprintf(out, "%.*f", decimals, value);
}

// Rewrites OUT/results.csv (atomically) with one row per run that has a result.
static void
s_write_results(const s_sweep_t *sweep)
{
    char path[S_PATH_MAX], temporary[S_PATH_MAX + 8];
    snprintf(path, sizeof path, "%.1024s/results.csv", sweep->out_dir);
    snprintf(temporary, sizeof temporary, "%s.tmp", path);
    FILE *out = fopen(temporary, "w");
    if (!out) {
        byzgd_error("%s: %s", temporary, strerror(errno));
        return;
    }
    fputs("id", out);
    size_t columns = byzgd_grid_column_count(sweep->grid);
    for (size_t c = 0; c < columns; c++)
        fprintf(out, ",%s", byzgd_grid_column(sweep->grid, c));
    fputs(",seed,status,final_accuracy,best_accuracy,rounds,seconds,byzantine_selected_fraction\n",
          out);
    for (size_t r = 0; r < byzgd_grid_run_count(sweep->grid); r++) {
        const s_result_t *result = &sweep->results[r];
        if (!result->status[0])
            continue;
        const byzgd_grid_run_t *run = byzgd_grid_run(sweep->grid, r);
        s_csv_field(out, run->id);
        for (size_t c = 0; c < columns; c++) {
            fputc(',', out);
            s_csv_field(out, byzgd_grid_value(run, byzgd_grid_column(sweep->grid, c)));
        }
        fputc(',', out);
        s_csv_field(out, run->seed);
        fprintf(out, ",%s", result->status);
        s_csv_number(out, result->final_accuracy, 4);
        s_csv_number(out, result->best_accuracy, 4);
        s_csv_number(out, result->rounds, 0);
        s_csv_number(out, result->seconds, 1);
        s_csv_number(out, result->byzantine_fraction, 4);
        fputc('\n', out);
    }
    if (fclose(out) != 0 || rename(temporary, path) != 0) {
        byzgd_error("cannot write %s", path);
        unlink(temporary);
    }
}

static void
s_format_duration(char *text, size_t size, double seconds)
{
    if (!isfinite(seconds) || seconds < 0)
        snprintf(text, size, "?");
    else if (seconds >= 3600)
        snprintf(text, size, "%dh%02dm", (int)(seconds / 3600), (int)fmod(seconds / 60, 60));
    else
        snprintf(text, size, "%dm%02ds", (int)(seconds / 60), (int)fmod(seconds, 60));
}

static void
s_progress(const s_sweep_t *sweep)
{
    size_t total = byzgd_grid_run_count(sweep->grid);
    double mean = sweep->ran_this_call ? sweep->ran_seconds / (double)sweep->ran_this_call : NAN;
    size_t remaining = total - sweep->done;
    size_t lanes = sweep->jobs < remaining ? sweep->jobs : remaining;
    char elapsed[32], eta[32];
    s_format_duration(elapsed, sizeof elapsed, byzgd_monotonic_s() - sweep->started_s);
    s_format_duration(eta, sizeof eta,
                      remaining == 0 ? 0 : mean * (double)remaining / (double)(lanes ? lanes : 1));
    printf("sweep: %zu/%zu runs done (%zu skipped, %zu failed), %zu running, %s elapsed, ETA %s\n",
           sweep->done, total, sweep->skipped, sweep->failed, sweep->running, elapsed, eta);
    fflush(stdout);
}

// The command of one experiment: the only place that knows how a run is started.
static void
s_child_argv(char **argv, const char *program, const char *config, const char *run_dir)
{
    argv[0] = (char *)program;
    argv[1] = (char *)"--config";
    argv[2] = (char *)config;
    argv[3] = (char *)"--run-dir";
    argv[4] = (char *)run_dir;
    argv[5] = (char *)"--quiet";
    argv[6] = NULL;
}

static int
s_start(s_sweep_t *sweep, size_t index)
{
    char run_dir[S_PATH_MAX], config[S_PATH_MAX], output[S_PATH_MAX];
    s_run_path(run_dir, sizeof run_dir, sweep, index, NULL);
    s_run_path(config, sizeof config, sweep, index, "sweep.conf");
    s_run_path(output, sizeof output, sweep, index, "output.log");
    if (s_remove_tree(run_dir) != 0 || s_mkdir_p(run_dir) != 0) {
        byzgd_error("cannot prepare %s", run_dir);
        return -1;
    }
    char *text = byzgd_grid_format_run(byzgd_grid_run(sweep->grid, index));
    int status = s_write_file(config, text);
    free(text);
    if (status != 0) {
        byzgd_error("cannot write %s", config);
        return -1;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output, O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    posix_spawn_file_actions_addclose(&actions, STDIN_FILENO);
    char *argv[8];
    s_child_argv(argv, sweep->program, config, run_dir);
    pid_t pid = 0;
    status = posix_spawn(&pid, sweep->program, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (status != 0) {
        byzgd_error("cannot start %s: %s", sweep->program, strerror(status));
        return -1;
    }
    s_result_t *result = &sweep->results[index];
    memset(result, 0, sizeof *result);
    result->pid = pid;
    result->started_s = byzgd_monotonic_s();
    sweep->running++;
    return 0;
}

// Records a finished child: its summary (or a failure of ours), the Byzantine fraction.
static void
s_finish(s_sweep_t *sweep, size_t index, int wait_status)
{
    s_result_t *result = &sweep->results[index];
    double wall_s = byzgd_monotonic_s() - result->started_s;
    char output[S_PATH_MAX], summary_path[S_PATH_MAX], metrics[S_PATH_MAX], line[2048];
    s_run_path(output, sizeof output, sweep, index, "output.log");
    s_run_path(summary_path, sizeof summary_path, sweep, index, "summary");
    s_run_path(metrics, sizeof metrics, sweep, index, "metrics.jsonl");
    s_last_summary(line, sizeof line, output);
    result->pid = 0;
    sweep->running--;
    if (s_parse_summary(result, line) != 0) {
        snprintf(line, sizeof line, "summary: failed (no summary line; %s %d) seconds=%.1f\n",
                 WIFSIGNALED(wait_status) ? "signal" : "exit status",
                 WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : WEXITSTATUS(wait_status),
                 wall_s);
        s_parse_summary(result, line);
    }
    if (!isfinite(result->seconds))
        result->seconds = wall_s;
    result->byzantine_fraction = s_byzantine_fraction(metrics);
    if (s_write_file(summary_path, line) != 0)
        byzgd_error("cannot write %s", summary_path);
    result->finished = true;
    sweep->done++;
    sweep->ran_this_call++;
    sweep->ran_seconds += wall_s;
    if (!s_finished_status(result->status))
        sweep->failed++;
    printf("sweep: %-8s %s  final %.4f  %.1f s%s%s\n", result->status,
           byzgd_grid_run(sweep->grid, index)->id, result->final_accuracy, wall_s,
           s_finished_status(result->status) ? "" : "  see ",
           s_finished_status(result->status) ? "" : output);
}

// Whether RUN_DIR/sweep.conf, written when the run was started, is the run's configuration
// in the grid as loaded now (overrides included).
static bool
s_same_configuration(const s_sweep_t *sweep, size_t index)
{
    char path[S_PATH_MAX];
    s_run_path(path, sizeof path, sweep, index, "sweep.conf");
    size_t size = 0;
    char *stored = s_read_file(path, 1 << 20, &size);
    char *current = byzgd_grid_format_run(byzgd_grid_run(sweep->grid, index));
    bool same = stored && strcmp(stored, current) == 0;
    free(stored);
    free(current);
    return same;
}

// Marks the runs a previous call finished with the same configuration.
static void
s_load_previous(s_sweep_t *sweep)
{
    for (size_t r = 0; r < byzgd_grid_run_count(sweep->grid); r++) {
        s_result_t *result = &sweep->results[r];
        result->final_accuracy = result->best_accuracy = result->rounds = result->seconds = NAN;
        result->byzantine_fraction = NAN;
        char path[S_PATH_MAX], metrics[S_PATH_MAX], line[2048];
        s_run_path(path, sizeof path, sweep, r, "summary");
        s_last_summary(line, sizeof line, path);
        if (s_parse_summary(result, line) != 0 || !s_finished_status(result->status)) {
            result->status[0] = '\0';
            continue;
        }
        // The id names only what varies across the grid, so a run finished with other
        // settings (a shorter `--set rounds=80` call, an edited grid) keeps its id: only its
        // sweep.conf tells. Such a run is run again rather than reported as this one.
        if (!s_same_configuration(sweep, r)) {
            printf("sweep: %s finished with other settings (its sweep.conf differs); "
                   "running it again\n",
                   byzgd_grid_run(sweep->grid, r)->id);
            result->status[0] = '\0';
            result->final_accuracy = result->best_accuracy = result->rounds = NAN;
            result->seconds = NAN;
            continue;
        }
        s_run_path(metrics, sizeof metrics, sweep, r, "metrics.jsonl");
        result->byzantine_fraction = s_byzantine_fraction(metrics);
        result->finished = result->skipped = true;
        sweep->done++;
        sweep->skipped++;
    }
}

static void
s_stop_children(s_sweep_t *sweep, int signal_number)
{
    for (size_t r = 0; r < byzgd_grid_run_count(sweep->grid); r++)
        if (sweep->results[r].pid > 0)
            kill(sweep->results[r].pid, SIGTERM);
    while (sweep->running > 0) {
        int wait_status = 0;
        pid_t pid = waitpid(-1, &wait_status, 0);
        if (pid < 0 && errno == ECHILD)
            break;
        for (size_t r = 0; pid > 0 && r < byzgd_grid_run_count(sweep->grid); r++)
            if (sweep->results[r].pid == pid) {
                sweep->results[r].pid = 0;
                sweep->results[r].status[0] = '\0'; // interrupted: not a result
                sweep->running--;
            }
    }
    fprintf(stderr, "byzgd-sweep: %s: stopped; call again to finish the sweep\n",
            strsignal(signal_number));
}

static int
s_run_all(s_sweep_t *sweep)
{
    size_t total = byzgd_grid_run_count(sweep->grid);
    size_t next = 0;
    s_progress(sweep);
    while (next < total || sweep->running > 0) {
        while (sweep->running < sweep->jobs && next < total && !s_interrupted) {
            size_t index = next++;
            if (sweep->results[index].finished)
                continue;
            if (s_start(sweep, index) != 0) {
                // Counted as failed: the next call tries it again.
                snprintf(sweep->results[index].status, sizeof sweep->results[index].status,
                         "failed");
                sweep->done++;
                sweep->failed++;
                s_progress(sweep);
            }
        }
        if (sweep->running == 0)
            continue;
        int wait_status = 0;
        pid_t pid = s_interrupted ? -1 : waitpid(-1, &wait_status, 0);
        if (s_interrupted) {
            for (size_t r = 0; pid > 0 && r < total; r++)
                if (sweep->results[r].pid == pid) {
                    sweep->results[r].pid = 0;
                    sweep->results[r].status[0] = '\0';
                    sweep->running--;
                }
            s_stop_children(sweep, s_interrupted);
            s_write_results(sweep);
            return 128 + s_interrupted;
        }
        if (pid < 0)
            continue;
        for (size_t r = 0; r < total; r++)
            if (sweep->results[r].pid == pid) {
                s_finish(sweep, r, wait_status);
                s_write_results(sweep);
                s_progress(sweep);
            }
    }
    s_write_results(sweep);
    return sweep->failed ? 1 : 0;
}

static const byzgd_program_t s_program = {
    "byzgd-sweep",
    "--grid FILE --out DIR [-j N] [--distributed] [--set NAME=VALUE]...",
    "runs every combination of a grid of byzgd experiments",
    BYZGD_OPTION_ONE_SECTION(s_table, NULL),
    "Runs every combination of a grid file (byzgd-cluster `name = value` lines where a\n"
    "value may be a comma-separated list, `seeds = 1,2,3`, optional [section] blocks)\n"
    "and writes DIR/results.csv and DIR/runs/<id>/metrics.jsonl. Finished runs are\n"
    "skipped when called again.\n",
    "Exit status: 0 all runs ok or diverged, 1 some run failed, 2 usage or grid error.\n",
    0,
    0,
};

int
main(int argc, char **argv)
{
    s_options_t options = {0};
    int parsed = byzgd_options_main_one(&s_program, argc, argv, &options, NULL);
    if (parsed != BYZGD_OPTIONS_CONTINUE)
        return parsed;
    if (!options.grid_path || !options.out_dir) {
        byzgd_error("--grid and --out are required (see --help)");
        return 2;
    }
    const char *grid_path = options.grid_path, *out_dir = options.out_dir;
    const char *const *overrides = options.overrides;
    size_t override_count = options.override_count;
    long jobs = options.jobs;
    bool distributed = options.distributed;
    s_sweep_t sweep;
    memset(&sweep, 0, sizeof sweep);
    sweep.jobs = (size_t)jobs;
    sweep.started_s = byzgd_monotonic_s();
    if (snprintf(sweep.out_dir, sizeof sweep.out_dir, "%s", out_dir) >= (int)sizeof sweep.out_dir) {
        byzgd_error("--out: path too long");
        return 2;
    }
    char bin_dir[S_OUT_DIR_MAX], error[1024];
    if (byzgd_own_directory(bin_dir, sizeof bin_dir, error, sizeof error) != 0) {
        byzgd_error("cannot find the directory of byzgd-sweep: %s", error);
        return 2;
    }
    snprintf(sweep.program, sizeof sweep.program, "%s/%s", bin_dir,
             distributed ? S_DISTRIBUTED_PROGRAM : S_SIMULATOR_PROGRAM);
    if (access(sweep.program, X_OK) != 0) {
        byzgd_error("%s: %s", sweep.program, strerror(errno));
        return 2;
    }
    size_t size = 0;
    char *text = s_read_file(grid_path, S_GRID_MAX_BYTES, &size);
    if (!text) {
        byzgd_error("%s: %s", grid_path, strerror(errno));
        return 2;
    }
    sweep.grid =
        byzgd_grid_new(text, size, grid_path, overrides, override_count, error, sizeof error);
    free(text);
    if (!sweep.grid) {
        byzgd_error("%s", error);
        return 2;
    }
    size_t total = byzgd_grid_run_count(sweep.grid);
    sweep.results = calloc(total, sizeof *sweep.results);
    if (!sweep.results)
        abort();
    char runs_dir[S_PATH_MAX];
    snprintf(runs_dir, sizeof runs_dir, "%s/runs", sweep.out_dir);
    int exit_code = 1;
    if (s_mkdir_p(runs_dir) != 0)
        goto cleanup;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = s_on_signal; // no SA_RESTART: waitpid returns on a signal
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    s_load_previous(&sweep);
    printf("sweep: %zu runs (%zu finished before), %zu at a time, with %s; results in "
           "%s/results.csv\n",
           total, sweep.skipped, sweep.jobs, sweep.program, sweep.out_dir);
    exit_code = s_run_all(&sweep);
cleanup:
    free(sweep.results);
    byzgd_grid_destroy(&sweep.grid);
    return exit_code;
}
