/*  launcher.c — fork/execve children in their own process groups, PDEATHSIG, synchronous
    signal handling with sigtimedwait(), reaping, TERM-then-KILL shutdown. */
#include "launcher.h"
#include "support/clock.h"
#include "support/log.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

typedef struct {
    char name[64];
    pid_t pid;
    int status;    // wait status once ended
    bool running;  // not yet reaped
    bool reported; // its end was returned by byzgd_launcher_wait()
} s_child_t;

struct byzgd_launcher_t {
    s_child_t *children;
    size_t count, capacity;
    sigset_t watched;  // SIGCHLD, SIGINT, SIGTERM, SIGHUP
    sigset_t old_mask; // restored by destroy and in children
};

static int64_t
s_now_ms(void)
{
    return (int64_t)(1e3 * byzgd_monotonic_s());
}

byzgd_launcher_t *
byzgd_launcher_new(char *error, size_t error_size)
{
    byzgd_launcher_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    sigemptyset(&self->watched);
    sigaddset(&self->watched, SIGCHLD);
    sigaddset(&self->watched, SIGINT);
    sigaddset(&self->watched, SIGTERM);
    sigaddset(&self->watched, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &self->watched, &self->old_mask) != 0) {
        byzgd_set_error(error, error_size, "sigprocmask: %s", strerror(errno));
        free(self);
        return NULL;
    }
    return self;
}

// Records the end of every child that has ended, without blocking.
static void
s_reap(byzgd_launcher_t *self)
{
    for (size_t i = 0; i < self->count; i++) {
        s_child_t *child = &self->children[i];
        if (!child->running)
            continue;
        int status = 0;
        pid_t got = waitpid(child->pid, &status, WNOHANG);
        if (got == child->pid || (got < 0 && errno == ECHILD)) {
            child->running = false;
            child->status = got == child->pid ? status : 0;
            // Anything the child itself started is in its group: do not let it linger.
            kill(-child->pid, SIGKILL);
        }
    }
}

void
byzgd_launcher_destroy(byzgd_launcher_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    byzgd_launcher_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        s_child_t *child = &self->children[i];
        if (!child->running)
            continue;
        kill(-child->pid, SIGKILL);
        kill(child->pid, SIGKILL);
        while (waitpid(child->pid, &child->status, 0) < 0 && errno == EINTR)
            ;
        child->running = false;
    }
    // Signals that arrived while blocked are dropped, not delivered after the unblock:
    // a late SIGCHLD is harmless, but a late SIGINT would kill the caller by surprise.
    struct timespec zero = {0, 0};
    while (sigtimedwait(&self->watched, NULL, &zero) > 0)
        ;
    sigprocmask(SIG_SETMASK, &self->old_mask, NULL);
    free(self->children);
    free(self);
    *self_p = NULL;
}

// Builds environ with env_overrides replacing same-named entries. Returns a malloc'ed
// array of borrowed strings.
static char **
s_build_environment(const char *const env_overrides[])
{
    size_t base = 0, extra = 0;
    while (environ && environ[base])
        base++;
    while (env_overrides && env_overrides[extra])
        extra++;
    char **envp = calloc(base + extra + 1, sizeof *envp);
    if (!envp)
        abort();
    size_t count = 0;
    for (size_t i = 0; i < base; i++) {
        bool replaced = false;
        for (size_t j = 0; j < extra && !replaced; j++) {
            const char *equals = strchr(env_overrides[j], '=');
            size_t name_length = equals ? (size_t)(equals - env_overrides[j]) : 0;
            replaced = name_length && strncmp(environ[i], env_overrides[j], name_length) == 0 &&
                       environ[i][name_length] == '=';
        }
        if (!replaced)
            envp[count++] = environ[i];
    }
    for (size_t j = 0; j < extra; j++)
        envp[count++] = (char *)env_overrides[j];
    envp[count] = NULL;
    return envp;
}

// In the child between fork and execve: only async-signal-safe calls.
static void
s_child_exec(const byzgd_launcher_t *self, pid_t parent, const char *const argv[], char **envp,
             int stdin_fd, int log_fd, int report_fd)
{
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) // the launcher died before prctl took effect
        _exit(127);
    dup2(stdin_fd, STDIN_FILENO);
    if (log_fd >= 0) {
        dup2(log_fd, STDOUT_FILENO);
        dup2(log_fd, STDERR_FILENO);
    }
    struct sigaction default_action;
    memset(&default_action, 0, sizeof default_action);
    default_action.sa_handler = SIG_DFL;
    const int reset[] = {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE};
    for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++)
        sigaction(reset[i], &default_action, NULL);
    sigprocmask(SIG_SETMASK, &self->old_mask, NULL);
    execve(argv[0], (char *const *)argv, envp);
    int code = errno;
    if (write(report_fd, &code, sizeof code) < 0) {
        // Nothing more can be done: the parent sees a child that exited with 127.
    }
    _exit(127);
}

int
byzgd_launcher_spawn(byzgd_launcher_t *self, const char *name, const char *const argv[],
                     const char *const env_overrides[], const char *log_path, char *error,
                     size_t error_size)
{
    assert(self && name && argv && argv[0]);
    int result = -1, stdin_fd = -1, log_fd = -1, report[2] = {-1, -1};
    char **envp = NULL;

    if (self->count == self->capacity) {
        self->capacity = self->capacity ? 2 * self->capacity : 16;
        self->children = realloc(self->children, self->capacity * sizeof *self->children);
        if (!self->children)
            abort();
    }
    stdin_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (stdin_fd < 0) {
        byzgd_set_error(error, error_size, "/dev/null: %s", strerror(errno));
        goto cleanup;
    }
    if (log_path) {
        log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd < 0) {
            byzgd_set_error(error, error_size, "%s: %s", log_path, strerror(errno));
            goto cleanup;
        }
    }
    if (pipe2(report, O_CLOEXEC) != 0) {
        byzgd_set_error(error, error_size, "pipe: %s", strerror(errno));
        goto cleanup;
    }
    envp = s_build_environment(env_overrides);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        byzgd_set_error(error, error_size, "fork: %s", strerror(errno));
        goto cleanup;
    }
    if (pid == 0)
        s_child_exec(self, parent, argv, envp, stdin_fd, log_fd, report[1]);

    // Both sides call setpgid so the group exists before either side relies on it.
    setpgid(pid, pid);
    close(report[1]);
    report[1] = -1;
    int code = 0;
    ssize_t got;
    while ((got = read(report[0], &code, sizeof code)) < 0 && errno == EINTR)
        ;
    s_child_t *child = &self->children[self->count];
    memset(child, 0, sizeof *child);
    snprintf(child->name, sizeof child->name, "%s", name);
    child->pid = pid;
    child->running = true;
    if (got == (ssize_t)sizeof code) {
        // execve failed: the child is exiting with 127; reap it now, report the reason.
        while (waitpid(pid, &child->status, 0) < 0 && errno == EINTR)
            ;
        byzgd_set_error(error, error_size, "cannot start %s (%s): %s", name, argv[0],
                        strerror(code));
        goto cleanup;
    }
    result = (int)self->count++;
cleanup:
    free(envp);
    if (stdin_fd >= 0)
        close(stdin_fd);
    if (log_fd >= 0)
        close(log_fd);
    if (report[0] >= 0)
        close(report[0]);
    if (report[1] >= 0)
        close(report[1]);
    return result;
}

static int
s_next_unreported(byzgd_launcher_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        if (!self->children[i].running && !self->children[i].reported) {
            self->children[i].reported = true;
            return (int)i;
        }
    return -1;
}

byzgd_launcher_event_t
byzgd_launcher_wait(byzgd_launcher_t *self, int timeout_ms, int *index_out, int *signal_out)
{
    assert(self && timeout_ms >= 0);
    int64_t deadline = s_now_ms() + timeout_ms;
    for (;;) {
        s_reap(self);
        int index = s_next_unreported(self);
        if (index >= 0) {
            if (index_out)
                *index_out = index;
            return BYZGD_LAUNCHER_CHILD_ENDED;
        }
        int64_t remaining = deadline - s_now_ms();
        if (remaining < 0)
            remaining = 0;
        struct timespec wait_time = {(time_t)(remaining / 1000),
                                     (long)(remaining % 1000) * 1000000};
        int number = sigtimedwait(&self->watched, NULL, &wait_time);
        if (number == SIGINT || number == SIGTERM || number == SIGHUP) {
            if (signal_out)
                *signal_out = number;
            return BYZGD_LAUNCHER_SIGNALED;
        }
        if (number < 0 && errno == EAGAIN) {
            s_reap(self);
            index = s_next_unreported(self);
            if (index >= 0) {
                if (index_out)
                    *index_out = index;
                return BYZGD_LAUNCHER_CHILD_ENDED;
            }
            return BYZGD_LAUNCHER_TIMEOUT;
        }
        // SIGCHLD or EINTR: reap and look again.
    }
}

void
byzgd_launcher_signal(byzgd_launcher_t *self, int index, int signal_number)
{
    assert(self && index >= 0 && (size_t)index < self->count);
    const s_child_t *child = &self->children[index];
    if (child->running)
        kill(-child->pid, signal_number);
}

void
byzgd_launcher_signal_all(byzgd_launcher_t *self, int signal_number)
{
    for (size_t i = 0; i < self->count; i++)
        byzgd_launcher_signal(self, (int)i, signal_number);
}

// Waits until no child matching `only` (-1: any) runs, or deadline, or a stop signal.
static void
s_wait_stopped(byzgd_launcher_t *self, int only, int64_t deadline)
{
    for (;;) {
        s_reap(self);
        bool any = only >= 0 ? self->children[only].running : byzgd_launcher_running_count(self);
        int64_t remaining = deadline - s_now_ms();
        if (!any || remaining <= 0)
            return;
        struct timespec wait_time = {(time_t)(remaining / 1000),
                                     (long)(remaining % 1000) * 1000000};
        int number = sigtimedwait(&self->watched, NULL, &wait_time);
        if (number == SIGINT || number == SIGTERM || number == SIGHUP)
            return; // asked again: no more patience
    }
}

static int
s_kill_and_reap(byzgd_launcher_t *self, int index)
{
    s_child_t *child = &self->children[index];
    if (!child->running)
        return 0;
    kill(-child->pid, SIGKILL);
    kill(child->pid, SIGKILL);
    while (waitpid(child->pid, &child->status, 0) < 0 && errno == EINTR)
        ;
    child->running = false;
    return 1;
}

int
byzgd_launcher_stop_all(byzgd_launcher_t *self, int grace_ms)
{
    assert(self);
    byzgd_launcher_signal_all(self, SIGTERM);
    s_wait_stopped(self, -1, s_now_ms() + grace_ms);
    int killed = 0;
    for (size_t i = 0; i < self->count; i++)
        killed += s_kill_and_reap(self, (int)i);
    return killed;
}

int
byzgd_launcher_stop(byzgd_launcher_t *self, int index, int grace_ms)
{
    assert(self && index >= 0 && (size_t)index < self->count);
    byzgd_launcher_signal(self, index, SIGTERM);
    s_wait_stopped(self, index, s_now_ms() + grace_ms);
    return s_kill_and_reap(self, index);
}

size_t
byzgd_launcher_count(const byzgd_launcher_t *self)
{
    return self->count;
}

size_t
byzgd_launcher_running_count(const byzgd_launcher_t *self)
{
    size_t running = 0;
    for (size_t i = 0; i < self->count; i++)
        running += self->children[i].running;
    return running;
}

pid_t
byzgd_launcher_pid(const byzgd_launcher_t *self, int index)
{
    assert(index >= 0 && (size_t)index < self->count);
    return self->children[index].pid;
}

const char *
byzgd_launcher_name(const byzgd_launcher_t *self, int index)
{
    assert(index >= 0 && (size_t)index < self->count);
    return self->children[index].name;
}

bool
byzgd_launcher_running(const byzgd_launcher_t *self, int index)
{
    assert(index >= 0 && (size_t)index < self->count);
    return self->children[index].running;
}

int
byzgd_launcher_status(const byzgd_launcher_t *self, int index)
{
    assert(index >= 0 && (size_t)index < self->count);
    return self->children[index].status;
}

bool
byzgd_launcher_succeeded(const byzgd_launcher_t *self, int index)
{
    assert(index >= 0 && (size_t)index < self->count);
    const s_child_t *child = &self->children[index];
    return !child->running && WIFEXITED(child->status) && WEXITSTATUS(child->status) == 0;
}

const char *
byzgd_launcher_describe(const byzgd_launcher_t *self, int index, char *buffer, size_t buffer_size)
{
    assert(index >= 0 && (size_t)index < self->count && buffer && buffer_size);
    const s_child_t *child = &self->children[index];
    if (child->running)
        snprintf(buffer, buffer_size, "running");
    else if (WIFEXITED(child->status))
        snprintf(buffer, buffer_size, "exited with status %d", WEXITSTATUS(child->status));
    else if (WIFSIGNALED(child->status))
        snprintf(buffer, buffer_size, "killed by signal %d (%s)", WTERMSIG(child->status),
                 strsignal(WTERMSIG(child->status)));
    else
        snprintf(buffer, buffer_size, "ended with wait status %d", child->status);
    return buffer;
}
