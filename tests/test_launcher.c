/*  test_launcher.c — process supervision of byzgd-cluster, with /bin/sh children as the
    supervised programs: exit statuses, exec failures, logs, environment, signals taken
    synchronously, TERM-then-KILL, no grandchild left behind, PDEATHSIG. */
#include "cluster/launcher.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int
s_spawn_sh(byzgd_launcher_t *launcher, const char *script, const char *log_path)
{
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    char error[256] = "";
    int index = byzgd_launcher_spawn(launcher, "sh", argv, NULL, log_path, error, sizeof error);
    ASSERT_MSG(index >= 0, "spawn failed: %s", error);
    return index;
}

// Waits (bounded) for the next child to end and returns its index.
static int
s_wait_child(byzgd_launcher_t *launcher)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        int index = -1;
        byzgd_launcher_event_t event = byzgd_launcher_wait(launcher, 100, &index, NULL);
        if (event == BYZGD_LAUNCHER_CHILD_ENDED)
            return index;
        ASSERT_MSG(event == BYZGD_LAUNCHER_TIMEOUT, "unexpected event %d", (int)event);
    }
    byzgd_test_fail(__FILE__, __LINE__, "no child ended within 10 s");
}

// True once pid is gone or a zombie (a reparented zombie is dead for our purposes).
static int
s_dead(pid_t pid)
{
    char path[64], stat_line[512] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *file = fopen(path, "r");
    if (!file)
        return 1;
    size_t got = fread(stat_line, 1, sizeof stat_line - 1, file);
    fclose(file);
    stat_line[got] = '\0';
    const char *paren = strrchr(stat_line, ')');
    return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

// The kernel finishes a SIGKILL asynchronously: wait for the condition, bounded.
static void
s_assert_dies(pid_t pid)
{
    for (int attempt = 0; attempt < 500 && !s_dead(pid); attempt++) {
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    ASSERT_MSG(s_dead(pid), "process %d still alive", (int)pid);
}

// Reads a line from fd (blocking) into buffer.
static void
s_read_line(int fd, char *buffer, size_t size)
{
    size_t length = 0;
    while (length + 1 < size) {
        char c;
        ssize_t got = read(fd, &c, 1);
        if (got < 0 && errno == EINTR)
            continue;
        ASSERT_MSG(got == 1, "read: end of input after %zu bytes", length);
        if (c == '\n')
            break;
        buffer[length++] = c;
    }
    buffer[length] = '\0';
}

// A FIFO as the child's log, so the test can wait for the child's "ready" line.
static int
s_open_fifo(const char *path)
{
    ASSERT_EQ_INT(mkfifo(path, 0600), 0);
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    ASSERT(fd >= 0);
    return fd;
}

static void
s_blocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    ASSERT_EQ_INT(fcntl(fd, F_SETFL, flags & ~O_NONBLOCK), 0);
}

TEST(exit_status_is_reported)
{
    char error[256];
    byzgd_launcher_t *launcher = byzgd_launcher_new(error, sizeof error);
    ASSERT(launcher);
    int a = s_spawn_sh(launcher, "exit 3", NULL);
    int index = s_wait_child(launcher);
    ASSERT_EQ_INT(index, a);
    ASSERT(!byzgd_launcher_running(launcher, a));
    ASSERT(!byzgd_launcher_succeeded(launcher, a));
    char text[128];
    ASSERT_STR_EQ(byzgd_launcher_describe(launcher, a, text, sizeof text), "exited with status 3");
    int b = s_spawn_sh(launcher, "exit 0", NULL);
    ASSERT_EQ_INT(s_wait_child(launcher), b);
    ASSERT(byzgd_launcher_succeeded(launcher, b));
    int c = s_spawn_sh(launcher, "kill -9 $$", NULL);
    ASSERT_EQ_INT(s_wait_child(launcher), c);
    ASSERT_STR_CONTAINS(byzgd_launcher_describe(launcher, c, text, sizeof text),
                        "killed by signal 9");
    // Each end is reported once.
    ASSERT_EQ_INT(byzgd_launcher_wait(launcher, 0, NULL, NULL), BYZGD_LAUNCHER_TIMEOUT);
    ASSERT_EQ_INT(byzgd_launcher_count(launcher), 3);
    ASSERT_EQ_INT(byzgd_launcher_running_count(launcher), 0);
    byzgd_launcher_destroy(&launcher);
    ASSERT(launcher == NULL);
}

TEST(exec_failure_is_an_error)
{
    char error[256] = "";
    byzgd_launcher_t *launcher = byzgd_launcher_new(error, sizeof error);
    const char *argv[] = {"/nonexistent/byzgd-server", NULL};
    ASSERT_EQ_INT(byzgd_launcher_spawn(launcher, "server", argv, NULL, NULL, error, sizeof error),
                  -1);
    ASSERT_STR_CONTAINS(error, "cannot start server");
    ASSERT_STR_CONTAINS(error, "No such file");
    ASSERT_EQ_INT(byzgd_launcher_count(launcher), 0);
    char log_path[512];
    snprintf(log_path, sizeof log_path, "%s/no/such/dir.log", byzgd_test_tmpdir());
    const char *sh[] = {"/bin/sh", "-c", "exit 0", NULL};
    ASSERT_EQ_INT(byzgd_launcher_spawn(launcher, "sh", sh, NULL, log_path, error, sizeof error),
                  -1);
    ASSERT_STR_CONTAINS(error, "dir.log");
    byzgd_launcher_destroy(&launcher);
}

TEST(output_goes_to_log_and_environment_is_overridden)
{
    char error[256], log_path[512];
    snprintf(log_path, sizeof log_path, "%s/child.log", byzgd_test_tmpdir());
    setenv("BYZGD_TEST_KEEP", "kept", 1);
    setenv("BYZGD_TEST_OVERRIDE", "old", 1);
    byzgd_launcher_t *launcher = byzgd_launcher_new(error, sizeof error);
    const char *argv[] = {"/bin/sh", "-c",
                          "echo out $BYZGD_TEST_KEEP $BYZGD_TEST_OVERRIDE $BYZGD_TEST_NEW; "
                          "echo err >&2; read line; echo stdin=[$line]",
                          NULL};
    const char *env[] = {"BYZGD_TEST_OVERRIDE=new", "BYZGD_TEST_NEW=added", NULL};
    int index = byzgd_launcher_spawn(launcher, "sh", argv, env, log_path, error, sizeof error);
    ASSERT(index >= 0);
    ASSERT_EQ_INT(s_wait_child(launcher), index);
    byzgd_launcher_destroy(&launcher);
    FILE *file = fopen(log_path, "r");
    ASSERT(file);
    char text[256] = "";
    size_t got = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[got] = '\0';
    ASSERT_STR_EQ(text, "out kept new added\nerr\nstdin=[]\n");
}

TEST(signals_are_taken_synchronously)
{
    char error[256];
    byzgd_launcher_t *launcher = byzgd_launcher_new(error, sizeof error);
    int index = s_spawn_sh(launcher, "exec sleep 30", NULL);
    ASSERT_EQ_INT(kill(getpid(), SIGINT), 0); // blocked: this process survives it
    int signal_number = 0;
    ASSERT_EQ_INT(byzgd_launcher_wait(launcher, 5000, NULL, &signal_number),
                  BYZGD_LAUNCHER_SIGNALED);
    ASSERT_EQ_INT(signal_number, SIGINT);
    ASSERT(byzgd_launcher_running(launcher, index));
    // The child did not receive the launcher's SIGINT (its own process group).
    ASSERT_EQ_INT(byzgd_launcher_wait(launcher, 50, NULL, NULL), BYZGD_LAUNCHER_TIMEOUT);
    pid_t pid = byzgd_launcher_pid(launcher, index);
    ASSERT_EQ_INT(getpgid(pid), pid);
    ASSERT_EQ_INT(byzgd_launcher_stop_all(launcher, 5000), 0); // sleep obeys SIGTERM
    char text[128];
    ASSERT_STR_CONTAINS(byzgd_launcher_describe(launcher, index, text, sizeof text),
                        "killed by signal 15");
    byzgd_launcher_destroy(&launcher);
}

TEST(stop_escalates_to_kill)
{
    char error[256], fifo[512], line[64];
    snprintf(fifo, sizeof fifo, "%s/ready", byzgd_test_tmpdir());
    int ready = s_open_fifo(fifo);
    byzgd_launcher_t *launcher = byzgd_launcher_new(error, sizeof error);
    int stubborn = s_spawn_sh(launcher, "trap '' TERM; echo ready; exec sleep 30", fifo);
    int polite = s_spawn_sh(launcher, "exec sleep 30", NULL);
    s_blocking(ready);
    s_read_line(ready, line, sizeof line);
    ASSERT_STR_EQ(line, "ready");
    ASSERT_EQ_INT(byzgd_launcher_stop_all(launcher, 300), 1);
    ASSERT_EQ_INT(byzgd_launcher_running_count(launcher), 0);
    ASSERT_EQ_INT(WTERMSIG(byzgd_launcher_status(launcher, stubborn)), SIGKILL);
    ASSERT_EQ_INT(WTERMSIG(byzgd_launcher_status(launcher, polite)), SIGTERM);
    close(ready);
    byzgd_launcher_destroy(&launcher);
}

TEST(stop_one_child)
{
    char error[256];
    byzgd_launcher_t *launcher = byzgd_launcher_new(error, sizeof error);
    int a = s_spawn_sh(launcher, "exec sleep 30", NULL);
    int b = s_spawn_sh(launcher, "exec sleep 30", NULL);
    ASSERT_EQ_INT(byzgd_launcher_stop(launcher, a, 5000), 0);
    ASSERT(!byzgd_launcher_running(launcher, a));
    ASSERT(byzgd_launcher_running(launcher, b));
    ASSERT_EQ_INT(s_wait_child(launcher), a);
    pid_t pid = byzgd_launcher_pid(launcher, b);
    byzgd_launcher_destroy(&launcher); // kills b
    s_assert_dies(pid);
}

TEST(grandchildren_do_not_survive)
{
    char error[256], fifo[512], line[64];
    snprintf(fifo, sizeof fifo, "%s/pid", byzgd_test_tmpdir());
    int channel = s_open_fifo(fifo);
    byzgd_launcher_t *launcher = byzgd_launcher_new(error, sizeof error);
    s_spawn_sh(launcher, "sleep 30 & echo $!; exit 0", fifo);
    s_blocking(channel);
    s_read_line(channel, line, sizeof line);
    pid_t grandchild = (pid_t)atoi(line);
    ASSERT(grandchild > 0);
    s_wait_child(launcher); // the shell exited: its leftover group is killed on reaping
    s_assert_dies(grandchild);
    close(channel);
    byzgd_launcher_destroy(&launcher);
}

TEST(children_die_with_the_launcher)
{
    int channel[2];
    ASSERT_EQ_INT(pipe(channel), 0);
    pid_t middle = fork();
    ASSERT(middle >= 0);
    if (middle == 0) {
        // A launcher process that dies abruptly, as under kill -9.
        char error[256];
        byzgd_launcher_t *launcher = byzgd_launcher_new(error, sizeof error);
        const char *argv[] = {"/bin/sleep", "30", NULL};
        int index = byzgd_launcher_spawn(launcher, "sleep", argv, NULL, NULL, error, sizeof error);
        pid_t pid = index >= 0 ? byzgd_launcher_pid(launcher, index) : 0;
        if (write(channel[1], &pid, sizeof pid) != (ssize_t)sizeof pid)
            _exit(2);
        _exit(0);
    }
    close(channel[1]);
    pid_t pid = 0;
    ASSERT_EQ_INT(read(channel[0], &pid, sizeof pid), sizeof pid);
    ASSERT(pid > 0);
    int status;
    ASSERT_EQ_INT(waitpid(middle, &status, 0), middle);
    s_assert_dies(pid);
    close(channel[0]);
}

static const byzgd_test_case_t cases[] = {
    TEST_CASE(exit_status_is_reported),
    TEST_CASE(exec_failure_is_an_error),
    TEST_CASE(output_goes_to_log_and_environment_is_overridden),
    TEST_CASE(signals_are_taken_synchronously),
    TEST_CASE(stop_escalates_to_kill),
    TEST_CASE(stop_one_child),
    TEST_CASE(grandchildren_do_not_survive),
    TEST_CASE(children_die_with_the_launcher),
};
BYZGD_TEST_MAIN(cases)
