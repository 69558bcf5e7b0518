/*  lr_schedule.h — learning-rate schedules γ_t for SGD, shared by byzgd-train and the
    server. t counts steps (rounds) from 1. Parsed from a short string:
      constant          γ_t = γ0
      inv-sqrt          γ_t = γ0 / sqrt(t)            (the paper's decreasing schedule)
      step:EVERY:FACTOR γ_t = γ0 · FACTOR^floor((t − 1) / EVERY), e.g. step:1000:0.5 */
#ifndef BYZGD_LR_SCHEDULE_H
#define BYZGD_LR_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    BYZGD_LR_CONSTANT = 0,
    BYZGD_LR_INV_SQRT,
    BYZGD_LR_STEP,
} byzgd_lr_kind_t;

typedef struct {
    byzgd_lr_kind_t kind;
    double initial; // γ0 > 0
    uint64_t every; // step: steps per decay (≥ 1)
    double factor;  // step: multiplier per decay, in (0, 1]
} byzgd_lr_schedule_t;

// Parses `text` (see above) with initial rate γ0 into *self. Returns 0, or -1 with a
// message naming the accepted forms; *self is untouched on error.
int byzgd_lr_schedule_parse(byzgd_lr_schedule_t *self, const char *text, double initial,
                            char *error, size_t error_size);

// γ_t for step t ≥ 1 (t = 0 is treated as 1).
double byzgd_lr_schedule_rate(const byzgd_lr_schedule_t *self, uint64_t step);

// Writes the canonical text of the schedule ("constant", "inv-sqrt", "step:1000:0.5")
// into buffer. Returns buffer.
const char *byzgd_lr_schedule_format(const byzgd_lr_schedule_t *self, char *buffer,
                                     size_t buffer_size);

#endif
