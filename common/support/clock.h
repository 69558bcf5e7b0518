/*  clock.h — the one reading of time for deadlines, progress lines and timings: seconds of
    the monotonic clock (never jumps with the wall clock), and the CPU seconds of the whole
    process (all threads; steadier than wall time when other processes share the cores). */
#ifndef BYZGD_CLOCK_H
#define BYZGD_CLOCK_H

// Seconds since an arbitrary fixed point (CLOCK_MONOTONIC), in nanosecond steps.
double byzgd_monotonic_s(void);

// CPU seconds this process has used so far (CLOCK_PROCESS_CPUTIME_ID).
double byzgd_cpu_s(void);

#endif
