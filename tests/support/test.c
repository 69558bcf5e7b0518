/*  test.c — runs a table of cases, each in a forked child with alarm() as its timeout. */
#include "tests/test.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

static char s_tmpdir[256];

void
byzgd_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fprintf(stdout, "  %s:%d: ", file, line);
    vfprintf(stdout, fmt, args);
    fputc('\n', stdout);
    va_end(args);
    fflush(stdout);
    _exit(1);
}

const char *
byzgd_test_tmpdir(void)
{
    if (!s_tmpdir[0]) {
        snprintf(s_tmpdir, sizeof s_tmpdir, "/tmp/byzgd-test-XXXXXX");
        if (!mkdtemp(s_tmpdir)) {
            perror("mkdtemp");
            _exit(1);
        }
    }
    return s_tmpdir;
}

static void
s_remove_tmpdir(void)
{
    if (s_tmpdir[0]) {
        char command[300];
        snprintf(command, sizeof command, "rm -rf '%s'", s_tmpdir);
        if (system(command) != 0)
            fprintf(stderr, "could not remove %s\n", s_tmpdir);
    }
}

static unsigned
s_default_timeout(void)
{
    const char *text = getenv("BYZGD_TEST_TIMEOUT");
    long value = text ? strtol(text, NULL, 10) : 0;
    return value > 0 ? (unsigned)value : 60;
}

// Runs one case in a child. Returns 1 if it passed.
static int
s_run_case(const byzgd_test_case_t *test_case)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        printf("FAIL %s: fork: %s\n", test_case->name, strerror(errno));
        return 0;
    }
    if (pid == 0) {
        setpgid(0, 0); // so a timed-out case's own children die with it
        alarm(test_case->timeout_s ? test_case->timeout_s : s_default_timeout());
        test_case->run();
        fflush(stdout);
        s_remove_tmpdir();
        _exit(0);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    kill(-pid, SIGKILL);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        printf("ok %s\n", test_case->name);
        return 1;
    }
    if (WIFSIGNALED(status))
        printf("FAIL %s: %s\n", test_case->name,
               WTERMSIG(status) == SIGALRM ? "timed out" : strsignal(WTERMSIG(status)));
    else
        printf("FAIL %s: exit status %d\n", test_case->name, WEXITSTATUS(status));
    return 0;
}

int
byzgd_test_main(int argc, char **argv, const byzgd_test_case_t *cases, size_t count)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1) { // one named case, in-process
        for (size_t i = 0; i < count; i++)
            if (strcmp(cases[i].name, argv[1]) == 0) {
                cases[i].run();
                s_remove_tmpdir();
                printf("ok %s\n", cases[i].name);
                return 0;
            }
        fprintf(stderr, "%s: no case named %s\n", argv[0], argv[1]);
        return 2;
    }
    size_t failed = 0;
    for (size_t i = 0; i < count; i++)
        failed += !s_run_case(&cases[i]);
    return failed ? 1 : 0;
}
