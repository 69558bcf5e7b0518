/*  supervisor.c — run a server as a child process under a memory cap and restart it after
    an abnormal end (security.h; docs/SECURITY.md "endless multipart" and "routing ids").

    Why a parent process rather than setrlimit in the server: libzmq aborts on allocation
    failure anywhere, an address-space limit breaks sanitizer builds (ASan reserves terabytes
    of virtual memory), and the two events we must survive (a libzmq assertion, a peer
    filling memory with an endless multipart message) both end the process anyway. The
    parent polls the child's VmRSS, kills it above the cap, and starts it again with
    `--resume`, so it continues from its last checkpoint with the persisted deny-list. */
#include "supervisor.h"
#include "support/clock.h"
#include "support/log.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

size_t
byzgd_process_rss_bytes(int pid)
{
    char path[64];
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%d/status", pid);
    else
        snprintf(path, sizeof path, "/proc/self/status");
    FILE *file = fopen(path, "r");
    if (!file)
        return 0;
    char line[256];
    size_t kib = 0;
    while (fgets(line, sizeof line, file))
        if (sscanf(line, "VmRSS: %zu kB", &kib) == 1)
            break;
    fclose(file);
    return kib * 1024;
}

void
byzgd_restart_budget_init(byzgd_restart_budget_t *budget, const byzgd_supervisor_options_t *options,
                          double now_s)
{
    budget->tokens = options->max_restarts;
    budget->updated_s = now_s;
    budget->short_lives = 0;
}

int
byzgd_restart_budget_take(byzgd_restart_budget_t *budget, const byzgd_supervisor_options_t *options,
                          double now_s, double lived_s)
{
    if (options->restart_every_s > 0 && now_s > budget->updated_s) {
        budget->tokens += (now_s - budget->updated_s) / options->restart_every_s;
        if (budget->tokens > options->max_restarts)
            budget->tokens = options->max_restarts;
    }
    budget->updated_s = now_s;
    if (budget->tokens < 1.0)
        return -1;
    budget->tokens -= 1.0;
    // Only a child that ran for a while resets the back-off: one that dies at once, again
    // and again, is a crash loop and waits longer each time.
    if (lived_s * 1000 < options->backoff_max_ms)
        budget->short_lives++;
    else
        budget->short_lives = 1;
    if (options->backoff_min_ms <= 0)
        return 0;
    double delay = options->backoff_min_ms;
    for (unsigned i = 1; i < budget->short_lives && delay < options->backoff_max_ms; i++)
        delay *= 2;
    return delay > options->backoff_max_ms ? options->backoff_max_ms : (int)delay;
}

static bool
s_has_argument(char *const argv[], const char *argument)
{
    for (size_t i = 0; argv[i]; i++)
        if (strcmp(argv[i], argument) == 0)
            return true;
    return false;
}

int
byzgd_supervisor_run(char *const argv[], const byzgd_supervisor_options_t *options)
{
    assert(argv && argv[0] && options);
    int poll_ms = options->poll_interval_ms > 0 ? options->poll_interval_ms : 20;
    size_t argument_count = 0;
    while (argv[argument_count])
        argument_count++;
    char **resumed = calloc(argument_count + 2, sizeof *resumed);
    assert(resumed);
    memcpy(resumed, argv, argument_count * sizeof *resumed);
    if (options->resume_argument && !s_has_argument(argv, options->resume_argument))
        resumed[argument_count] = (char *)options->resume_argument;

    // Termination requests are taken synchronously (sigtimedwait doubles as the polling
    // sleep), forwarded to the child, and end the supervision.
    sigset_t stop_signals, previous;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    sigprocmask(SIG_BLOCK, &stop_signals, &previous);

    pid_t supervisor = getpid();
    int result = -1;
    bool stopping = false;
    byzgd_restart_budget_t budget;
    byzgd_restart_budget_init(&budget, options, byzgd_monotonic_s());
    for (unsigned start = 0;; start++) {
        double started_s = byzgd_monotonic_s();
        // A server that died before its first checkpoint starts afresh: `--resume` would
        // only fail for want of a file.
        bool resume =
            start > 0 && (!options->checkpoint_path || access(options->checkpoint_path, R_OK) == 0);
        char *const *child_argv = resume ? resumed : argv;
        pid_t pid = fork();
        if (pid < 0) {
            byzgd_error("fork: %s", strerror(errno));
            break;
        }
        if (pid == 0) {
            // A supervisor killed outright (kill -9, its own parent's PDEATHSIG) must not
            // leave the server running unsupervised.
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != supervisor)
                _exit(127);
            sigprocmask(SIG_SETMASK, &previous, NULL);
            execvp(child_argv[0], child_argv);
            fprintf(stderr, "%s: cannot run %s: %s\n", program_invocation_short_name, child_argv[0],
                    strerror(errno));
            _exit(127);
        }
        bool memory_killed = false;
        size_t peak = 0;
        int status = 0;
        for (;;) {
            pid_t done = waitpid(pid, &status, WNOHANG);
            if (done == pid)
                break;
            if (done < 0 && errno != EINTR) {
                byzgd_error("waitpid: %s", strerror(errno));
                goto out;
            }
            size_t rss = byzgd_process_rss_bytes(pid);
            if (rss > peak)
                peak = rss;
            if (options->memory_limit_bytes && rss > options->memory_limit_bytes &&
                !memory_killed) {
                byzgd_warn("child %d uses %zu MiB > cap %zu MiB: killing it", (int)pid, rss >> 20,
                           options->memory_limit_bytes >> 20);
                kill(pid, SIGKILL);
                memory_killed = true;
            }
            struct timespec wait = {.tv_sec = poll_ms / 1000,
                                    .tv_nsec = (long)(poll_ms % 1000) * 1000000L};
            int received = sigtimedwait(&stop_signals, NULL, &wait);
            if (received > 0) {
                stopping = true;
                kill(pid, received);
            }
        }
        // A stop request sent to the whole process group may end the child before the
        // supervisor took it: it still means stop, not restart.
        struct timespec no_wait = {0, 0};
        if (!stopping && sigtimedwait(&stop_signals, NULL, &no_wait) > 0)
            stopping = true;
        if (WIFEXITED(status) && !memory_killed) {
            result = WEXITSTATUS(status);
            break; // a normal end, successful or not (a config error would only repeat)
        }
        int signal_number = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        if (stopping) {
            result = signal_number ? 128 + signal_number : WEXITSTATUS(status);
            break;
        }
        byzgd_warn("child %d ended abnormally (%s%s, peak %zu MiB)", (int)pid,
                   memory_killed ? "memory cap" : "signal ",
                   memory_killed ? "" : strsignal(signal_number), peak >> 20);
        double now_s = byzgd_monotonic_s();
        int delay_ms = byzgd_restart_budget_take(&budget, options, now_s, now_s - started_s);
        if (delay_ms < 0) {
            byzgd_error("giving up after %u restarts: more than %u within the restart budget "
                        "(one more every %g s)",
                        start, options->max_restarts, options->restart_every_s);
            result = signal_number ? 128 + signal_number : 1;
            break;
        }
        byzgd_info("restart %u in %d ms (%.1f of %u restarts left)%s%s", start + 1, delay_ms,
                   budget.tokens, options->max_restarts, resumed[argument_count] ? " with " : "",
                   resumed[argument_count] ? resumed[argument_count] : "");
        // The back-off is a wait a stop request cuts short (and then ends the supervision).
        struct timespec backoff = {.tv_sec = delay_ms / 1000,
                                   .tv_nsec = (long)(delay_ms % 1000) * 1000000L};
        int received = delay_ms > 0 ? sigtimedwait(&stop_signals, NULL, &backoff) : -1;
        if (received > 0) {
            result = 128 + received;
            break;
        }
    }
out:
    sigprocmask(SIG_SETMASK, &previous, NULL);
    free(resumed);
    return result;
}
