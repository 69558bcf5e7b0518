/*  lr_schedule.c — constant, inverse square root and step-decay learning rates. */
#include "lr_schedule.h"

#include "support/log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
byzgd_lr_schedule_parse(byzgd_lr_schedule_t *self, const char *text, double initial, char *error,
                        size_t error_size)
{
    static const char forms[] = "constant, inv-sqrt or step:EVERY:FACTOR (e.g. step:1000:0.5)";
    if (!(initial > 0.0) || !isfinite(initial))
        return byzgd_set_error(error, error_size, "learning rate %g: must be positive", initial);
    byzgd_lr_schedule_t parsed = {.kind = BYZGD_LR_CONSTANT, .initial = initial, .factor = 1.0};
    if (!text || strcmp(text, "constant") == 0) {
        *self = parsed;
        return 0;
    }
    if (strcmp(text, "inv-sqrt") == 0) {
        parsed.kind = BYZGD_LR_INV_SQRT;
        *self = parsed;
        return 0;
    }
    if (strncmp(text, "step:", 5) == 0) {
        const char *cursor = text + 5;
        char *end = NULL;
        errno = 0;
        unsigned long long every = strtoull(cursor, &end, 10);
        if (errno || end == cursor || *end != ':' || every == 0 || *cursor == '-')
            return byzgd_set_error(error, error_size,
                                   "learning-rate schedule \"%s\": EVERY must be a positive "
                                   "integer (%s)",
                                   text, forms);
        cursor = end + 1;
        errno = 0;
        double factor = strtod(cursor, &end);
        if (errno || end == cursor || *end != '\0' || !(factor > 0.0 && factor <= 1.0))
            return byzgd_set_error(error, error_size,
                                   "learning-rate schedule \"%s\": FACTOR must be in (0, 1] (%s)",
                                   text, forms);
        parsed.kind = BYZGD_LR_STEP;
        parsed.every = every;
        parsed.factor = factor;
        *self = parsed;
        return 0;
    }
    return byzgd_set_error(error, error_size, "unknown learning-rate schedule \"%s\": expected %s",
                           text, forms);
}

double
byzgd_lr_schedule_rate(const byzgd_lr_schedule_t *self, uint64_t step)
{
    if (step == 0)
        step = 1;
    switch (self->kind) {
    case BYZGD_LR_INV_SQRT:
        return self->initial / sqrt((double)step);
    case BYZGD_LR_STEP: {
        uint64_t decays = (step - 1) / self->every; // floor((t − 1) / EVERY), integer on purpose
        return self->initial * pow(self->factor, (double)decays);
    }
    case BYZGD_LR_CONSTANT:
    default:
        return self->initial;
    }
}

const char *
byzgd_lr_schedule_format(const byzgd_lr_schedule_t *self, char *buffer, size_t buffer_size)
{
    switch (self->kind) {
    case BYZGD_LR_INV_SQRT:
        snprintf(buffer, buffer_size, "inv-sqrt");
        break;
    case BYZGD_LR_STEP:
        snprintf(buffer, buffer_size, "step:%llu:%g", (unsigned long long)self->every,
                 self->factor);
        break;
    case BYZGD_LR_CONSTANT:
    default:
        snprintf(buffer, buffer_size, "constant");
        break;
    }
    return buffer;
}
