/*  fuzz_metrics_line.c — the metrics.jsonl line reader of byzgd-cluster on arbitrary
    bytes (a torn or corrupted metrics file must not crash the launcher). */
#include "cluster/metrics_line.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    byzgd_metrics_line_t line;
    byzgd_metrics_line_parse(&line, (const char *)data, size);
    return 0;
}
