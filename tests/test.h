/*  test.h — a small test framework: a table of named cases per module, each case run in
    its own forked process with a timeout, assertions that print both values.

    TEST(name) { ASSERT_EQ_INT(1 + 1, 2); }
    static const byzgd_test_case_t cases[] = { TEST_CASE(name), TEST_CASE_TIMEOUT(slow, 120) };
    BYZGD_TEST_MAIN(cases)

    Output: one line per case, `ok NAME` or `FAIL NAME: why`; tests/run-tests.sh counts them.
    `./test_x NAME` runs one case in-process (handy under gdb). */
#ifndef BYZGD_TEST_H
#define BYZGD_TEST_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    void (*run)(void);
    unsigned timeout_s; // 0: the default (BYZGD_TEST_TIMEOUT or 60 s)
} byzgd_test_case_t;

#define TEST(name) static void name(void)
#define TEST_CASE(name)                                                                            \
    {                                                                                              \
#name, name, 0                                                                             \
    }
#define TEST_CASE_TIMEOUT(name, seconds)                                                           \
    {                                                                                              \
#name, name, seconds                                                                       \
    }
#define BYZGD_TEST_MAIN(cases)                                                                     \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        return byzgd_test_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));               \
    }

int byzgd_test_main(int argc, char **argv, const byzgd_test_case_t *cases, size_t count);

// Reports a failure at file:line and ends the case's process. Never returns.
void byzgd_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

// A scratch directory private to this case (created on first use, removed after the case).
const char *byzgd_test_tmpdir(void);

#define ASSERT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond))                                                                               \
            byzgd_test_fail(__FILE__, __LINE__, "assertion failed: %s", #cond);                    \
    } while (0)
#define ASSERT_MSG(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            byzgd_test_fail(__FILE__, __LINE__, __VA_ARGS__);                                      \
    } while (0)
#define ASSERT_EQ_INT(a, b)                                                                        \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_)                                                                              \
            byzgd_test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_);         \
    } while (0)
#define ASSERT_NE_INT(a, b)                                                                        \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ == b_)                                                                              \
            byzgd_test_fail(__FILE__, __LINE__, "%s != %s: both %lld", #a, #b, a_);                \
    } while (0)
#define ASSERT_NEAR(a, b, tol)                                                                     \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);                             \
        if (!(fabs(a_ - b_) <= t_))                                                                \
            byzgd_test_fail(__FILE__, __LINE__, "%s ~= %s: %.9g vs %.9g (tol %g)", #a, #b, a_, b_, \
                            t_);                                                                   \
    } while (0)
#define ASSERT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                     \
            byzgd_test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,              \
                            a_ ? a_ : "(null)", b_ ? b_ : "(null)");                               \
    } while (0)
#define ASSERT_STR_CONTAINS(haystack, needle)                                                      \
    do {                                                                                           \
        const char *h_ = (haystack), *n_ = (needle);                                               \
        if (!h_ || !strstr(h_, n_))                                                                \
            byzgd_test_fail(__FILE__, __LINE__, "\"%s\" does not contain \"%s\"",                  \
                            h_ ? h_ : "(null)", n_);                                               \
    } while (0)

#endif
