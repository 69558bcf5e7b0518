/*  metrics_line.h — reads back the few numbers byzgd-cluster shows from one line of the
    server's metrics.jsonl (round, elapsed time, losses, accuracy, accepted and rejected
    counts). A strict, bounded JSON scanner: the file is local, but a torn or corrupted line
    must never crash the launcher, so every byte is checked and nesting is capped. */
#ifndef BYZGD_METRICS_LINE_H
#define BYZGD_METRICS_LINE_H

#include <stddef.h>

typedef struct {
    double round;         // NAN when absent
    double elapsed_s;     // NAN when absent
    double train_loss;    // NAN when absent or null
    double test_accuracy; // NAN unless the round was evaluated
    double test_loss;     // NAN unless the round was evaluated
    double accepted;      // NAN when absent
    double rejected;      // total: the number, or the sum of a {reason: count} object; 0 if absent
    double resilience_ratio; // NAN when absent or null (rules/resilience.h)
} byzgd_metrics_line_t;

// Parses one line (a JSON object, `length` bytes, not necessarily NUL-terminated) and
// fills *out from its top-level fields; other fields are skipped, "rejected_by_reason"
// is ignored in favour of "rejected". Returns 0, or -1 when the line is not one
// well-formed JSON object (nesting deeper than 16 counts as malformed).
int byzgd_metrics_line_parse(byzgd_metrics_line_t *out, const char *line, size_t length);

#endif
