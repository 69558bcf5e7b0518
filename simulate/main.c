/*  byzgd-simulate — a whole byzgd run in one process: the flags and configuration files of
    byzgd-cluster (minus transport and process options), the workers' own code (worker
    contexts and the Byzantine hooks), the server's round engine and its evaluation, and the
    same RUN_DIR/metrics.jsonl, progress and `summary:` lines. No sockets: each round the n
    proposals are computed by --threads threads and offered to the engine as they are
    computed, like arrivals at a server; the rule takes them in slot order. The test-set
    evaluations run in chunks on the same threads, beside the next rounds' proposals.
    With the same seed and quorum n, its metrics equal byzgd-cluster's value for value
    (times aside); tests/e2e_runs_repeat_and_simulate_agrees.sh checks it.

    byzgd-simulate --workers 20 --byzantine 6 --attack gaussian --rule multi-krum \
                   --model mlp --dataset fashion-mnist --rounds 150 --threads 2 --run-dir R

    Every slot proposes in every round (a simulated network loses nothing), so --quorum and
    --deadline-ms have no effect; protocol misbehaviours (--misbehave) need a wire and are
    refused. Colluding attacks (omniscient, ALIE, IPM, mimic) are computed once per round
    and shared by the colluding slots, as they would be by one colluding adversary.

    Exit status: 0 every round done; 1 the run failed; 2 bad flags, or a run directory
    already holding a run; 3 the model diverged (summary "diverged"). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "byzantine/byzantine.h"
#include "cluster/byzantine_slots.h"
#include "cluster/cluster_config.h"
#include "learning/attack.h"
#include "learning/dataset.h"
#include "learning/model.h"
#include "server/metrics.h"
#include "server/round.h"
#include "server/server.h"
#include "simulate/evaluations.h"
#include "support/log.h"
#include "worker/worker.h"

#define S_PROGRESS_INTERVAL_S 5.0

typedef struct {
    byzgd_cluster_config_t *config;
    byzgd_server_config_t server; // what byzgd-server would have been given
    byzgd_attack_config_t attack;
    size_t n, byzantine, d;
    char run_dir[1024];
    bool quiet;
    int threads;
    bool *is_byzantine;
    byzgd_dataset_t *train_set;
    byzgd_worker_context_t **contexts;
    byzgd_worker_hooks_t *hooks; // per slot; zero for honest slots
    byzgd_round_t *engine;
    byzgd_evaluations_t *evaluations; // NULL when eval_every is 0
    byzgd_metrics_t *metrics;
    double started_s, last_print_s, last_print_round, last_rate;
    double final_accuracy, best_accuracy;
    uint64_t rounds_done;
} s_sim_t;

static double
s_now_s(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

// The option sections of byzgd-cluster (byzgd_cluster_sections()) as this program takes
// them: the same tables, but a BYZGD_CLUSTER_NETWORKED option is unlisted (no help line)
// and refused when given. Built once from the cluster's tables.
#define S_SECTIONS_MAX 8
#define S_OPTIONS_MAX  256

static byzgd_option_section_t s_sections[S_SECTIONS_MAX];
static const byzgd_option_section_t *s_section_list[S_SECTIONS_MAX + 2];
static byzgd_option_t s_options[S_OPTIONS_MAX];
static const byzgd_option_section_t *const *s_cluster_sections;

static int
s_apply(void *state, const byzgd_option_section_t *section, const byzgd_option_t *option,
        const char *value, char *error, size_t error_size)
{
    size_t index = (size_t)(section - s_sections);
    if ((option->tags | section->tags) & BYZGD_CLUSTER_NETWORKED)
        return byzgd_set_error(error, error_size,
                               "--%s is a transport or process option of byzgd-cluster; it has "
                               "no meaning in a simulation",
                               option->name);
    // The cluster's own store, through the cluster's section of the same index.
    const byzgd_option_section_t *cluster = s_cluster_sections[index];
    return cluster->apply(state, cluster, &cluster->options[option - section->options], value,
                          error, error_size);
}

static void
s_sections_build(void)
{
    s_cluster_sections = byzgd_cluster_sections();
    size_t used = 0, count = 0;
    for (; s_cluster_sections[count]; count++) {
        const byzgd_option_section_t *cluster = s_cluster_sections[count];
        if (count >= S_SECTIONS_MAX || used + cluster->count > S_OPTIONS_MAX)
            abort(); // the tables outgrew this program's arrays: raise the limits
        s_sections[count] = *cluster;
        s_sections[count].options = &s_options[used];
        s_sections[count].apply = s_apply;
        for (size_t i = 0; i < cluster->count; i++) {
            s_options[used + i] = cluster->options[i];
            if ((cluster->options[i].tags | cluster->tags) & BYZGD_CLUSTER_NETWORKED)
                s_options[used + i].help = NULL;
        }
        used += cluster->count;
        s_section_list[count] = &s_sections[count];
    }
    s_section_list[count] = &byzgd_cluster_config_file_section;
    s_section_list[count + 1] = NULL;
}

// Parses argv into config. Returns BYZGD_OPTIONS_CONTINUE, or the exit status after
// --help/--version (0) or a bad command line (2, message printed).
static int
s_parse_arguments(byzgd_cluster_config_t *config, int argc, char **argv)
{
    s_sections_build();
    void *states[S_SECTIONS_MAX + 2];
    for (size_t i = 0; s_section_list[i]; i++)
        states[i] = config;
    static const byzgd_program_t program = {
        "byzgd-simulate",
        "[--config FILE] [--NAME VALUE ...]",
        "runs a byzgd experiment in one process: byzgd-cluster's options, no network",
        s_section_list,
        "byzgd-cluster's options and configuration files, without its transport and process\n"
        "options (refused on the command line, ignored in a --config file, so a cluster's\n"
        "RUN_DIR/config runs here too); every slot proposes in every round. --threads N\n"
        "computes the proposals of a round on N threads.\n",
        "Exit status: 0 run finished, 1 run failed, 2 usage error, 3 the model diverged.\n",
        0,
        0,
    };
    return byzgd_options_main(&program, argc, argv, states, NULL);
}

// The server's and the attackers' settings come from the same parsers byzgd-cluster's
// children use, fed the same `--name value` pairs the cluster forwards to them.
static int
s_derive(s_sim_t *sim, char *error, size_t error_size)
{
    char *argv[S_OPTIONS_MAX * 2 + 2];
    char *flags[S_OPTIONS_MAX]; // the allocated flag strings, freed below
    int argc = 0, flag_count = 0;
    static char program[] = "byzgd-simulate", insecure[] = "--insecure";
    argv[argc++] = program;
    argv[argc++] = insecure; // the server's parser insists on a transport choice
    byzgd_attack_config_init(&sim->attack);
    int status = 0;
    const byzgd_option_section_t *const *sections = byzgd_cluster_sections();
    for (size_t s = 0; sections[s] && status == 0; s++)
        for (size_t i = 0; i < sections[s]->count && status == 0; i++) {
            const byzgd_option_t *option = &sections[s]->options[i];
            unsigned tags = option->tags | sections[s]->tags;
            const char *value = byzgd_cluster_config_get(sim->config, option->name);
            if (!value || (tags & BYZGD_CLUSTER_NETWORKED))
                continue;
            if (tags & BYZGD_CLUSTER_TO_BYZANTINE) {
                status = byzgd_attack_config_parse_option(&sim->attack, option->name, value, error,
                                                          error_size);
                continue;
            }
            if (!(tags & BYZGD_CLUSTER_TO_SERVER))
                continue;
            char *flag = NULL;
            if (asprintf(&flag, "%s%s", strlen(option->name) == 1 ? "-" : "--", option->name) < 0)
                abort();
            flags[flag_count++] = flag;
            if (option->type != BYZGD_OPTION_FLAG) {
                argv[argc++] = flag;
                argv[argc++] = (char *)value;
            } else if (strcmp(value, "true") == 0)
                argv[argc++] = flag;
        }
    argv[argc] = NULL;
    byzgd_server_config_init(&sim->server);
    if (status == 0)
        status = byzgd_server_config_parse(&sim->server, argc, argv, error, error_size);
    for (int i = 0; i < flag_count; i++)
        free(flags[i]);
    if (status != 0)
        return -1;
    sim->server.quorum = 0; // every slot proposes
    sim->server.gar.f = sim->server.byzantine_count;
    sim->server.gar.seed = sim->server.seed;
    return byzgd_server_config_check(&sim->server, error, error_size);
}

static int
s_mkdir_p(const char *path, char *error, size_t error_size)
{
    char partial[1024];
    snprintf(partial, sizeof partial, "%s", path);
    for (char *slash = partial + 1;; slash++) {
        if (*slash != '/' && *slash != '\0')
            continue;
        char saved = *slash;
        *slash = '\0';
        if (mkdir(partial, 0755) != 0 && errno != EEXIST)
            return byzgd_set_error(error, error_size, "mkdir %s: %s", partial, strerror(errno));
        *slash = saved;
        if (!saved)
            return 0;
    }
}

static int
s_prepare_run_dir(s_sim_t *sim, char *error, size_t error_size)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.jsonl", sim->run_dir);
    char config_path[1100];
    snprintf(config_path, sizeof config_path, "%s/config", sim->run_dir);
    if (access(path, F_OK) == 0 || access(config_path, F_OK) == 0)
        return byzgd_set_error(error, error_size, "%s already holds a run: choose a new --run-dir",
                               sim->run_dir);
    if (s_mkdir_p(sim->run_dir, error, error_size) != 0)
        return -1;
    static const char *const omit[] = {"run-dir", "quiet", NULL};
    char *body = byzgd_cluster_config_format(sim->config, omit);
    FILE *file = fopen(config_path, "w");
    if (!file) {
        free(body);
        return byzgd_set_error(error, error_size, "%s: %s", config_path, strerror(errno));
    }
    fprintf(file,
            "# byzgd-simulate effective configuration. Reproduce the run with\n"
            "#   byzgd-simulate --config %s/config --run-dir NEW_DIR\n%s",
            sim->run_dir, body);
    free(body);
    if (fclose(file) != 0)
        return byzgd_set_error(error, error_size, "cannot write %s", config_path);
    return byzgd_byzantine_slots_write(sim->run_dir, sim->is_byzantine, sim->n, error, error_size);
}

// Loads the data once, builds the n worker contexts (sharing the training set) and the
// engine with the x0 every server of this seed starts from.
static int
s_setup(s_sim_t *sim, char *error, size_t error_size)
{
    const byzgd_server_config_t *config = &sim->server;
    byzgd_model_spec_t spec;
    byzgd_dataset_t *test_set =
        byzgd_server_config_load_test_set(config, config->eval_examples, &spec, error, error_size);
    if (!test_set)
        return -1;
    byzgd_model_t *model = byzgd_model_new(&spec, 1, error, error_size);
    if (!model) {
        byzgd_dataset_destroy(&test_set);
        return -1;
    }
    sim->d = byzgd_model_dimension(model);
    float *x0 = malloc(sim->d * sizeof *x0);
    if (!x0)
        abort();
    byzgd_model_init(model, x0, config->seed);
    byzgd_model_destroy(&model);

    // The CONFIG a server would send (server.c), slot by slot.
    byzgd_msg_config_t session = {0};
    session.worker_count = (uint32_t)sim->n;
    session.byzantine_count = (uint32_t)config->byzantine_count;
    session.dimension = sim->d;
    snprintf(session.architecture, sizeof session.architecture, "%s", config->architecture);
    session.hidden[0] = (uint32_t)config->hidden[0];
    session.hidden[1] = (uint32_t)config->hidden[1];
    session.channels = (uint32_t)test_set->channels;
    session.height = (uint32_t)test_set->height;
    session.width = (uint32_t)test_set->width;
    session.class_count = (uint32_t)test_set->class_count;
    snprintf(session.dataset, sizeof session.dataset, "%s", config->dataset);
    session.shard_count = (uint32_t)sim->n;
    session.dirichlet_alpha = config->dirichlet_alpha;
    session.batch_size = (uint32_t)config->batch_size;
    session.seed = config->seed;

    int status = 0;
    byzgd_collusion_t *collusion = byzgd_collusion_new(); // the attackers' shared inputs
    if (config->eval_every > 0 &&
        !(sim->evaluations = byzgd_evaluations_new(&spec, &test_set, sim->threads,
                                                   config->eval_every, error, error_size)))
        status = -1;
    byzgd_dataset_destroy(&test_set);
    byzgd_dataset_options_t train_options = {0};
    train_options.data_dir = config->data_dir[0] ? config->data_dir : NULL;
    train_options.split = BYZGD_SPLIT_TRAIN;
    train_options.seed = config->seed;
    if (status == 0 &&
        !(sim->train_set = byzgd_dataset_load(config->dataset, &train_options, error, error_size)))
        status = -1;
    sim->contexts = calloc(sim->n, sizeof(byzgd_worker_context_t *));
    sim->hooks = calloc(sim->n, sizeof *sim->hooks);
    if (!sim->contexts || !sim->hooks)
        abort();
    // The contexts on --threads threads: each copies its shard of the training set, the
    // bulk of the start-up (docs/SIMULATE.md). A context depends on its slot alone.
    int n = (int)sim->n, failed_slot = -1;
    if (status == 0) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(sim->threads)
        for (int slot = 0; slot < n; slot++) {
            byzgd_msg_config_t own = session;
            own.slot = own.shard_index = (uint32_t)slot;
            char slot_error[1024];
            sim->contexts[slot] = byzgd_worker_context_new(&own, sim->train_set, NULL,
                                                           sim->is_byzantine[slot]
                                                               ? byzgd_byzantine_data(&sim->attack)
                                                               : BYZGD_WORKER_DATA_SHARD,
                                                           1, slot_error, sizeof slot_error);
            if (!sim->contexts[slot]) {
#pragma omp critical(s_setup_error)
                if (failed_slot < 0 || slot < failed_slot) {
                    failed_slot = slot;
                    snprintf(error, error_size, "%s", slot_error);
                }
            }
        }
        if (failed_slot >= 0)
            status = -1;
    }
    for (size_t slot = 0; slot < sim->n && status == 0; slot++)
        if (sim->is_byzantine[slot] && byzgd_byzantine_hooks(&sim->hooks[slot], &sim->attack,
                                                             collusion, error, error_size) != 0)
            status = -1;
    byzgd_collusion_release(&collusion);
    if (status == 0) {
        byzgd_round_config_t round_config = {.worker_count = sim->n,
                                             .dimension = sim->d,
                                             .quorum = sim->n,
                                             .gar = config->gar,
                                             .learning_rate = config->learning_rate,
                                             .resilience_every = config->eval_every};
        sim->engine = byzgd_round_new(&round_config, x0, 1, error, error_size);
        if (!sim->engine)
            status = -1;
    }
    free(x0);
    char metrics_path[1100];
    snprintf(metrics_path, sizeof metrics_path, "%s/metrics.jsonl", sim->run_dir);
    if (status == 0 && !(sim->metrics = byzgd_metrics_new(metrics_path, false, error, error_size)))
        status = -1;
    return status;
}

static void
s_teardown(s_sim_t *sim)
{
    for (size_t slot = 0; sim->contexts && slot < sim->n; slot++) {
        byzgd_worker_context_destroy(&sim->contexts[slot]);
        if (sim->hooks[slot].destroy)
            sim->hooks[slot].destroy(sim->hooks[slot].state);
    }
    free(sim->contexts);
    free(sim->hooks);
    free(sim->is_byzantine);
    byzgd_round_destroy(&sim->engine);
    byzgd_evaluations_destroy(&sim->evaluations);
    byzgd_metrics_destroy(&sim->metrics);
    byzgd_dataset_destroy(&sim->train_set);
}

// byzgd-cluster's progress line, from the same numbers: those of `round` (an evaluated
// round's line is printed when its evaluation is done, a few rounds later), the rate over
// the rounds done since the previous line.
static void
s_print_progress(s_sim_t *sim, uint64_t round, double train_loss, double ratio,
                 uint64_t rejected_total, bool evaluated, double loss, double accuracy)
{
    double now = s_now_s();
    double seconds = now - sim->last_print_s;
    double done = (double)sim->rounds_done - sim->last_print_round;
    // Two evaluations done together (the run's end) share the rate of the first.
    double rate = seconds > 0 && done > 0 ? done / seconds : sim->last_rate;
    sim->last_rate = rate;
    char evaluation[64] = "";
    if (evaluated)
        snprintf(evaluation, sizeof evaluation, "  test accuracy %.4f  test loss %.4f", accuracy,
                 loss);
    char ratio_text[32] = "";
    if (!isnan(ratio))
        snprintf(ratio_text, sizeof ratio_text, "  ratio %.2f", ratio);
    printf("round %4" PRIu64 "/%" PRIu64 "%s  train loss %.4f  %.2f rounds/s  rejected %" PRIu64
           "%s\n",
           round, sim->server.rounds, evaluation, train_loss, rate, rejected_total, ratio_text);
    fflush(stdout);
    sim->last_print_s = now;
    sim->last_print_round = (double)sim->rounds_done;
}

// Takes the complete evaluations (after a loop): completes their metrics lines and prints
// their progress lines. Returns 0, or -1 on a write error.
static int
s_take_evaluations(s_sim_t *sim)
{
    byzgd_evaluation_t done;
    while (sim->evaluations && byzgd_evaluations_next_complete(sim->evaluations, &done)) {
        if (byzgd_metrics_set_evaluation(sim->metrics, done.round, done.loss, done.accuracy) != 0) {
            byzgd_error("cannot write %s/metrics.jsonl", sim->run_dir);
            return -1;
        }
        sim->final_accuracy = done.accuracy;
        if (isnan(sim->best_accuracy) || done.accuracy > sim->best_accuracy)
            sim->best_accuracy = done.accuracy;
        if (!sim->quiet)
            s_print_progress(sim, done.round, done.train_loss, done.ratio, done.rejected_total,
                             true, done.loss, done.accuracy);
    }
    return 0;
}

// Computes every evaluation still waiting (the run's end) and takes it.
static int
s_evaluate_rest(s_sim_t *sim)
{
    if (!sim->evaluations)
        return 0;
    int tasks = (int)byzgd_evaluations_hand_out(sim->evaluations, true);
#pragma omp parallel for schedule(dynamic, 1) num_threads(sim->threads)
    for (int task = 0; task < tasks; task++)
        byzgd_evaluations_compute(sim->evaluations, (size_t)task, omp_get_thread_num());
    return s_take_evaluations(sim);
}

// Runs every round. Returns 0, 1 (failed) or 3 (diverged).
static int
s_run(s_sim_t *sim)
{
    uint64_t rejected_total = 0;
    for (uint64_t round = 1; round <= sim->server.rounds; round++) {
        const float *params = byzgd_round_params(sim->engine);
        double computed_start = s_now_s();
        int n = (int)sim->n;
        int tasks =
            n + (sim->evaluations ? (int)byzgd_evaluations_hand_out(sim->evaluations, false) : 0);
        byzgd_round_record_t record = {.round = round};
        // Each context is used by one thread at a time; hooks keep per-slot state. A row is
        // offered to the engine as soon as it is computed, as the server accepts arrivals:
        // the stream's thread computes its distances while the other proposals are being
        // computed, and its finiteness check runs on the thread that computed it. Arrival
        // order changes no bit: the rule takes the rows in slot order (round.h). The
        // evaluation chunks come last, where a thread would otherwise wait for the others.
#pragma omp parallel for schedule(dynamic, 1) num_threads(sim->threads)
        for (int task = 0; task < tasks; task++) {
            if (task >= n) {
                byzgd_evaluations_compute(sim->evaluations, (size_t)(task - n),
                                          omp_get_thread_num());
                continue;
            }
            int slot = task;
            float *row = byzgd_round_slot_row(sim->engine, (size_t)slot);
            double loss = NAN;
            if (byzgd_worker_context_propose(sim->contexts[slot], &sim->hooks[slot], round, params,
                                             row, &loss) != 0)
                continue; // the hook sent nothing
#pragma omp critical(s_engine)
            {
                byzgd_msg_reject_t reason =
                    byzgd_round_accept(sim->engine, (size_t)slot, round, row, sim->d, loss);
                if (reason != BYZGD_MSG_OK) {
                    record.rejected[reason]++;
                    rejected_total++;
                }
            }
        }
        record.collect_s = s_now_s() - computed_start;
        if (s_take_evaluations(sim) != 0)
            return 1;
        byzgd_round_outcome_t outcome;
        byzgd_round_status_t status = byzgd_round_close(sim->engine, &outcome);
        byzgd_metrics_record_outcome(&record, &outcome);
        if (outcome.selected)
            record.selected_byzantine = byzgd_byzantine_slots_count(
                outcome.selected, outcome.selected_count, sim->is_byzantine, sim->n);
        record.elapsed_s = s_now_s() - sim->started_s;
        if (status == BYZGD_ROUND_FAILED) {
            byzgd_error("round %" PRIu64 ": %s", round, outcome.message);
            byzgd_metrics_add(sim->metrics, &record, false);
            return 1;
        }
        bool last = round == sim->server.rounds || status == BYZGD_ROUND_DIVERGED;
        bool evaluate = sim->evaluations && (round % sim->server.eval_every == 0 || last);
        // Evaluations are computed during the next rounds, as the server's evaluator does;
        // their lines wait in the metrics queue (the last one is computed at once).
        if (evaluate) {
            byzgd_evaluation_t what = {.round = round,
                                       .train_loss = outcome.train_loss,
                                       .ratio = outcome.diagnosed ? outcome.resilience.ratio : NAN,
                                       .rejected_total = rejected_total};
            byzgd_evaluations_queue(sim->evaluations, &what, byzgd_round_params(sim->engine),
                                    sim->d);
        }
        if (byzgd_metrics_add(sim->metrics, &record, evaluate) != 0) {
            byzgd_error("cannot write %s/metrics.jsonl", sim->run_dir);
            return 1;
        }
        sim->rounds_done = round;
        if (last && s_evaluate_rest(sim) != 0)
            return 1;
        if (!sim->quiet && !evaluate && s_now_s() - sim->last_print_s >= S_PROGRESS_INTERVAL_S)
            s_print_progress(sim, round, outcome.train_loss,
                             outcome.diagnosed ? outcome.resilience.ratio : NAN, rejected_total,
                             false, NAN, NAN);
        if (status == BYZGD_ROUND_DIVERGED) {
            printf("byzgd-simulate: the model diverged at round %" PRIu64 " (%s)\n", round,
                   outcome.message);
            return 3;
        }
    }
    return 0;
}

int
main(int argc, char **argv)
{
    // libgomp reads OMP_WAIT_POLICY when it loads, before main: set it and start again.
    // Threads that spin between parallel regions take the cores the other thread and the
    // stream's thread need (measured: 30 rounds of the demo setting, 5.7 s -> 3.8 s wall).
    // OpenBLAS likewise starts its thread pool when it loads, and its idle threads yield in
    // a loop (about 3 % of the run's CPU time), though every model here calls it on one
    // thread: no pool, as byzgd-cluster starts its workers.
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        setenv("OPENBLAS_NUM_THREADS", "1", 0);
        execv("/proc/self/exe", argv); // on failure, run on with the busy-waiting default
    }
    char error[1024];
    s_sim_t sim;
    memset(&sim, 0, sizeof sim);
    sim.final_accuracy = sim.best_accuracy = sim.last_rate = NAN;
    sim.config = byzgd_cluster_config_new();
    int exit_code = 2;
    int parsed = s_parse_arguments(sim.config, argc, argv);
    if (parsed != BYZGD_OPTIONS_CONTINUE) {
        exit_code = parsed;
        goto cleanup;
    }
    if (byzgd_cluster_config_check(sim.config, error, sizeof error) != 0) {
        byzgd_error("%s (see --help)", error);
        goto cleanup;
    }
    if (byzgd_cluster_config_get(sim.config, "misbehave")) {
        byzgd_error("--misbehave: protocol misbehaviours need a wire; use byzgd-cluster");
        goto cleanup;
    }
    if (!byzgd_cluster_config_is_set(sim.config, "f"))
        byzgd_cluster_config_set(sim.config, "f", byzgd_cluster_config_get(sim.config, "byzantine"),
                                 NULL, 0);
    if (s_derive(&sim, error, sizeof error) != 0) {
        byzgd_error("%s (see --help)", error);
        goto cleanup;
    }
    sim.n = (size_t)byzgd_cluster_config_get_int(sim.config, "workers");
    sim.byzantine = (size_t)byzgd_cluster_config_get_int(sim.config, "byzantine");
    sim.threads = (int)byzgd_cluster_config_get_int(sim.config, "threads");
    sim.quiet = byzgd_cluster_config_get_flag(sim.config, "quiet");
    sim.is_byzantine = calloc(sim.n, sizeof *sim.is_byzantine);
    if (!sim.is_byzantine)
        abort();
    byzgd_byzantine_slots_assign(sim.is_byzantine, sim.n, sim.byzantine);
    const char *run_dir = byzgd_cluster_config_get(sim.config, "run-dir");
    if (run_dir)
        snprintf(sim.run_dir, sizeof sim.run_dir, "%s", run_dir);
    else {
        time_t now = time(NULL);
        struct tm local;
        localtime_r(&now, &local);
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
        const char *attack = byzgd_cluster_config_get(sim.config, "attack");
        snprintf(sim.run_dir, sizeof sim.run_dir, "runs/sim-%s-%s-%s", stamp,
                 byzgd_cluster_config_get(sim.config, "rule"), attack ? attack : "none");
    }
    if (s_prepare_run_dir(&sim, error, sizeof error) != 0) {
        byzgd_error("%s", error);
        goto cleanup;
    }
    sim.started_s = s_now_s();
    sim.last_print_s = sim.started_s;
    if (!sim.quiet)
        printf("byzgd-simulate: run directory %s; %zu workers (%zu Byzantine) on %d threads\n",
               sim.run_dir, sim.n, sim.byzantine, sim.threads);
    exit_code = 1;
    if (s_setup(&sim, error, sizeof error) != 0)
        byzgd_error("%s", error);
    else
        exit_code = s_run(&sim);
    byzgd_metrics_flush(sim.metrics);
    const char *attack = byzgd_cluster_config_get(sim.config, "attack");
    printf("summary: %s rule=%s attack=%s workers=%s byzantine=%s rounds=%.0f "
           "final_accuracy=%.4f best_accuracy=%.4f seconds=%.1f run_dir=%s\n",
           exit_code == 0   ? "ok"
           : exit_code == 3 ? "diverged"
                            : "failed",
           byzgd_cluster_config_get(sim.config, "rule"), attack ? attack : "none",
           byzgd_cluster_config_get(sim.config, "workers"),
           byzgd_cluster_config_get(sim.config, "byzantine"), (double)sim.rounds_done,
           sim.final_accuracy, sim.best_accuracy, s_now_s() - sim.started_s, sim.run_dir);
    fflush(stdout);
cleanup:
    s_teardown(&sim);
    byzgd_cluster_config_destroy(&sim.config);
    return exit_code;
}
