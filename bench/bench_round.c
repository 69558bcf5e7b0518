/*  bench_round.c — the parameter server's round with precomputed gradients (no model
    compute): the server actor (byzgd-server's, with its round engine) on loopback tcp and
    n client threads, each a real DEALER speaking the codec, answering every PARAMS with a
    fixed precomputed vector.

    Per setting (rule, n, d) it reports the median round time (PARAMS of round r to PARAMS
    of round r+1 as seen by client 0), the payload rate (bytes moved per round — n PARAMS
    out and n PROPOSALs in, 4·d bytes each — divided by the round time), the server's phase
    times from its metrics, and the round throughput relative to `average`. The rounds
    close on their quorum (all n), right after the last proposal arrives, so `aggregate`
    (the metrics' aggregate_s) is the aggregation left after the last arrival: the last
    rows' distances, the rule's selection and its average — the other distances were
    computed on the round engine's stream thread while the proposals arrived (`stream`,
    the metrics' stream_s; rules/gar_stream.h). Also: the process's CPU time per round
    (server, clients and the kernel's TCP work together), which depends less on the
    machine's load than the round time does.

    The model is an MLP 784-H-64-10, H = 1200 (d = 1 019 514 ≈ 10⁶) or H = 12000
    (d = 10 188 714 ≈ 10⁷); only its size matters here. Insecure transport (CURVE costs
    ~0.7 GB/s on this machine kind, docs/ARCHITECTURE.md §7).

    bench_round                      n = 20 and 100 at d ≈ 10⁶, n = 20 at d ≈ 10⁷;
                                     average, krum, multi-krum each
    bench_round N ROUNDS [H] [RULE…]  one setting (default H 1200, rules as above) */
#include <czmq.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "rules/gar_options.h"
#include "server/server.h"
#include "support/log.h"
#include "wire/msg.h"

typedef struct {
    char endpoint[256];
    size_t d;
    int index;
    const float *gradient;
    int64_t *arrivals_us; // client 0 only: when PARAMS of round r arrived, [rounds + 2]
    uint64_t rounds;
} s_client_args_t;

static void
s_client(zsock_t *pipe, void *arg)
{
    s_client_args_t *args = arg;
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    // A distinct routing id per client (ROUTER refuses a second peer with the same one).
    char id[17];
    snprintf(id, sizeof id, "bench-%010d", args->index);
    zmq_setsockopt(zsock_resolve(dealer), ZMQ_ROUTING_ID, id, strlen(id));
    int64_t unlimited = -1;
    zmq_setsockopt(zsock_resolve(dealer), ZMQ_MAXMSGSIZE, &unlimited, sizeof unlimited);
    zsock_set_linger(dealer, 0);
    zsock_connect(dealer, "%s", args->endpoint);
    zsock_signal(pipe, 0);
    byzgd_msg_t hello = {.type = BYZGD_MSG_HELLO};
    snprintf(hello.hello.software, sizeof hello.hello.software, "bench");
    uint8_t small[BYZGD_MSG_SMALL_MAX];
    size_t size = 0;
    char error[256];
    byzgd_msg_encode(small, sizeof small, &size, &hello, error, sizeof error);
    zmq_send(zsock_resolve(dealer), small, size, 0);
    uint64_t epoch = 0;
    zpoller_t *poller = zpoller_new(pipe, dealer, NULL);
    while (true) {
        void *which = zpoller_wait(poller, -1);
        if (which != dealer)
            break;
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, zsock_resolve(dealer), 0) < 0) {
            zmq_msg_close(&frame);
            break;
        }
        byzgd_msg_t msg;
        byzgd_msg_reject_t reason = byzgd_msg_decode(
            &msg, zmq_msg_data(&frame), zmq_msg_size(&frame), BYZGD_MSG_FROM_SERVER, args->d);
        int64_t now = zclock_usecs();
        if (reason == BYZGD_MSG_OK && msg.type == BYZGD_MSG_CONFIG)
            epoch = msg.epoch;
        else if (reason == BYZGD_MSG_OK && msg.type == BYZGD_MSG_PARAMS) {
            if (args->arrivals_us && msg.round <= args->rounds + 1)
                args->arrivals_us[msg.round] = now;
            byzgd_msg_t proposal = {.type = BYZGD_MSG_PROPOSAL, .epoch = epoch, .round = msg.round};
            proposal.proposal.train_loss = 1.0;
            proposal.proposal.gradient = args->gradient;
            proposal.proposal.dimension = args->d;
            void *buffer = byzgd_msg_encode_new(&proposal, &size, error, sizeof error);
            zmq_msg_t out;
            zmq_msg_init_data(&out, buffer, size, byzgd_msg_free_fn, NULL);
            if (zmq_msg_send(&out, zsock_resolve(dealer), 0) < 0)
                zmq_msg_close(&out);
        }
        zmq_msg_close(&frame);
    }
    zpoller_destroy(&poller);
    zsock_destroy(&dealer);
}

static int
s_compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double
s_median(double *values, size_t count)
{
    qsort(values, count, sizeof *values, s_compare);
    return count % 2 ? values[count / 2] : 0.5 * (values[count / 2 - 1] + values[count / 2]);
}

// Median of a numeric field ("aggregate_s", …) over the metrics lines of rounds > skip;
// its minimum in *minimum.
static double
s_median_field(const char *path, const char *name, uint64_t skip, double *minimum)
{
    char key[64];
    snprintf(key, sizeof key, "\"%s\":", name);
    FILE *file = fopen(path, "r");
    if (!file)
        return NAN;
    double values[4096];
    size_t count = 0;
    char line[8192];
    while (fgets(line, sizeof line, file) && count < 4096) {
        unsigned long long round = 0;
        const char *field = strstr(line, key);
        if (sscanf(line, "{\"round\":%llu", &round) == 1 && round > skip && field)
            values[count++] = strtod(field + strlen(key), NULL);
    }
    fclose(file);
    double median = count ? s_median(values, count) : NAN; // sorts
    *minimum = count ? values[0] : NAN;
    return median;
}

// Runs one rule; returns the median round time in seconds (NAN on failure).
static double
s_run(const char *rule, size_t n, uint64_t rounds, size_t hidden)
{
    byzgd_server_config_t config;
    byzgd_server_config_init(&config);
    snprintf(config.endpoint, sizeof config.endpoint, "tcp://127.0.0.1:*");
    snprintf(config.architecture, sizeof config.architecture, "mlp");
    snprintf(config.dataset, sizeof config.dataset, "fashion-mnist");
    config.hidden[0] = hidden;
    config.hidden[1] = 64;
    config.worker_count = n;
    // f = 30 % of n, at least 6 (the demo's 6 of 20; 30 of 100), at most what Krum accepts.
    size_t f = 3 * n / 10 > 6 ? 3 * n / 10 : 6;
    config.byzantine_count = strcmp(rule, "average") == 0 ? 0 : f < (n - 3) / 2 ? f : (n - 3) / 2;
    config.rounds = rounds + 1;
    config.eval_every = 0;
    config.eval_examples = 1;
    config.insecure = true;
    config.quiet = true;
    config.learning_rate.initial = 1e-9;
    snprintf(config.metrics, sizeof config.metrics, "/tmp/bench_round-%d.jsonl", (int)getpid());
    char error[512];
    if (byzgd_gar_config_parse_option(&config.gar, "rule", rule, error, sizeof error) != 0) {
        byzgd_error("%s", error);
        return NAN;
    }
    config.gar.f = config.byzantine_count;
    byzgd_server_t *server = byzgd_server_new(&config, error, sizeof error);
    if (!server) {
        byzgd_error("%s", error);
        return NAN;
    }
    size_t d = byzgd_server_dimension(server);
    // Distinct rows, as real proposals are (equal rows would all be each other's nearest).
    float *gradients = malloc(n * d * sizeof *gradients);
    if (!gradients)
        abort();
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            gradients[i * d + j] = (float)((j % 97) * 1e-3 + (double)((i * 31 + j) % 89) * 1e-5);
    int64_t *arrivals = calloc(rounds + 2, sizeof *arrivals);
    s_client_args_t *args = calloc(n, sizeof *args);
    zactor_t **clients = calloc(n, sizeof(zactor_t *));
    for (size_t i = 0; i < n; i++) {
        snprintf(args[i].endpoint, sizeof args[i].endpoint, "%s", byzgd_server_endpoint(server));
        args[i].d = d;
        args[i].index = (int)i;
        args[i].gradient = gradients + i * d;
        args[i].arrivals_us = i == 0 ? arrivals : NULL;
        args[i].rounds = rounds;
        clients[i] = zactor_new(s_client, &args[i]);
    }
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    int status = byzgd_server_wait(server, 600000);
    getrusage(RUSAGE_SELF, &after);
    for (size_t i = 0; i < n; i++)
        zactor_destroy(&clients[i]);
    byzgd_server_destroy(&server);
    double median = NAN;
    char tag[96];
    snprintf(tag, sizeof tag, "round_%s_n%zu_d%zu", rule, n, d);
    if (status == 0) {
        // Round r lasts from PARAMS(r) to PARAMS(r + 1); round 1 includes the joins.
        double times[4096];
        size_t count = 0;
        for (uint64_t r = 2; r <= rounds && count < 4096; r++)
            if (arrivals[r] && arrivals[r + 1])
                times[count++] = (double)(arrivals[r + 1] - arrivals[r]) / 1e6;
        if (count)
            median = s_median(times, count); // sorts
        // The machine is shared: the minimum is the round least disturbed by other jobs.
        printf("%s_median_ms %.2f (min %.2f)\n", tag, median * 1e3, count ? times[0] * 1e3 : NAN);
        printf("%s_payload_gb_per_s %.2f\n", tag, 2.0 * (double)n * 4.0 * (double)d / median / 1e9);
        const char *phases[] = {"collect", "stream", "aggregate", "update", "publish"};
        double aggregate = NAN, aggregate_min = NAN;
        for (int k = 0; k < 5; k++) {
            char field[32];
            double minimum = NAN;
            snprintf(field, sizeof field, "%s_s", phases[k]);
            double value = s_median_field(config.metrics, field, 1, &minimum);
            if (k == 2)
                aggregate = value, aggregate_min = minimum;
            printf("%s_%s_median_ms %.2f\n", tag, phases[k], value * 1e3);
        }
        printf("%s_after_last_arrival_ms %.2f = %.1f %% of the round (min %.2f)\n", tag,
               aggregate * 1e3, 100 * aggregate / median, aggregate_min * 1e3);
        // CPU time of the whole process (server, clients, kernel TCP work) per round: on a
        // shared machine the round time depends on the load, this figure less so; on an
        // idle 2-core machine the round takes at least half of it.
        double cpu_s = (double)(after.ru_utime.tv_sec - before.ru_utime.tv_sec) +
                       (double)(after.ru_stime.tv_sec - before.ru_stime.tv_sec) +
                       1e-6 * (double)(after.ru_utime.tv_usec - before.ru_utime.tv_usec +
                                       after.ru_stime.tv_usec - before.ru_stime.tv_usec);
        printf("%s_cpu_ms_per_round %.2f\n", tag, cpu_s * 1e3 / (double)(rounds + 1));
    } else
        printf("%s failed (status %d)\n", tag, status);
    unlink(config.metrics);
    fflush(stdout);
    free(gradients);
    free(arrivals);
    free(args);
    free(clients);
    return median;
}

// Runs every rule at one setting, with the throughput of the others relative to average.
static void
s_setting(size_t n, uint64_t rounds, size_t hidden, const char *const *rules, int rule_count)
{
    double average = NAN;
    for (int i = 0; i < rule_count; i++) {
        double median = s_run(rules[i], n, rounds, hidden);
        if (strcmp(rules[i], "average") == 0)
            average = median;
        else if (!isnan(average))
            printf("round_%s_n%zu_throughput_vs_average %.3f\n", rules[i], n, average / median);
        fflush(stdout);
    }
}

static bool
s_number(const char *text)
{
    return *text && strspn(text, "0123456789") == strlen(text);
}

int
main(int argc, char **argv)
{
    mallopt(M_MMAP_THRESHOLD, 256 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
    mallopt(M_TOP_PAD, 64 * 1024 * 1024);
    zsys_init();
    zsys_set_io_threads(2);
    const char *defaults[] = {"average", "krum", "multi-krum"};
    if (argc == 1) {
        s_setting(20, 30, 1200, defaults, 3);
        s_setting(100, 10, 1200, defaults, 3);
        s_setting(20, 8, 12000, defaults, 3);
        return 0;
    }
    int arg = 1;
    size_t numbers[3] = {20, 30, 1200};
    for (int k = 0; k < 3 && arg < argc && s_number(argv[arg]); k++, arg++)
        numbers[k] = (size_t)strtoul(argv[arg], NULL, 10);
    if (arg < argc)
        s_setting(numbers[0], numbers[1], numbers[2], (const char *const *)argv + arg, argc - arg);
    else
        s_setting(numbers[0], numbers[1], numbers[2], defaults, 3);
    return 0;
}
