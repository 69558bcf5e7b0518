/*  clock.c — monotonic and process CPU seconds (clock.h). */
#include "clock.h"

#include <time.h>

static double
s_seconds(clockid_t clock)
{
    struct timespec now;
    clock_gettime(clock, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

double
byzgd_monotonic_s(void)
{
    return s_seconds(CLOCK_MONOTONIC);
}

double
byzgd_cpu_s(void)
{
    return s_seconds(CLOCK_PROCESS_CPUTIME_ID);
}
