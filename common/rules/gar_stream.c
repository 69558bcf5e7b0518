/*  gar_stream.c — rows arriving one by one, their distances computed on arrival. */
#include "rules/gar_stream.h"

#include "rules/gar_internal.h"
#include "support/log.h"

#include <stdlib.h>
#include <string.h>

struct byzgd_gar_stream_t {
    size_t max_n, d;
    const float **rows;    // max_n: the row in each slot, NULL when empty
    size_t *filled;        // max_n: the filled slots in order of arrival
    size_t count;          // filled slots
    double *distances;     // max_n x max_n by slot; valid between filled slots
    double *scratch;       // max_n: one arrival's distances
    const float **ordered; // max_n: rows in slot order, at finish
    size_t *slots;         // max_n: their slots
    double *compact;       // max_n x max_n: their distances
};

byzgd_gar_stream_t *
byzgd_gar_stream_new(size_t max_n, size_t d)
{
    if (max_n == 0 || max_n > ((size_t)1 << 16))
        return NULL;
    byzgd_gar_stream_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->max_n = max_n;
    self->d = d;
    self->rows = calloc(max_n, sizeof *self->rows);
    self->filled = malloc(max_n * sizeof *self->filled);
    self->distances = malloc(max_n * max_n * sizeof *self->distances);
    self->scratch = malloc(max_n * sizeof *self->scratch);
    self->ordered = malloc(max_n * sizeof *self->ordered);
    self->slots = malloc(max_n * sizeof *self->slots);
    self->compact = malloc(max_n * max_n * sizeof *self->compact);
    if (!self->rows || !self->filled || !self->distances || !self->scratch || !self->ordered ||
        !self->slots || !self->compact)
        byzgd_gar_stream_destroy(&self);
    return self;
}

void
byzgd_gar_stream_destroy(byzgd_gar_stream_t **self_p)
{
    byzgd_gar_stream_t *self = *self_p;
    if (!self)
        return;
    free(self->rows);
    free(self->filled);
    free(self->distances);
    free(self->scratch);
    free(self->ordered);
    free(self->slots);
    free(self->compact);
    free(self);
    *self_p = NULL;
}

void
byzgd_gar_stream_reset(byzgd_gar_stream_t *self)
{
    for (size_t k = 0; k < self->count; k++)
        self->rows[self->filled[k]] = NULL;
    self->count = 0;
}

int
byzgd_gar_stream_add_row(byzgd_gar_stream_t *self, size_t slot, const float *row, char *error,
                         size_t error_size)
{
    if (slot >= self->max_n)
        return byzgd_set_error(error, error_size, "stream: slot %zu out of range (%zu slots)", slot,
                               self->max_n);
    if (self->rows[slot])
        return byzgd_set_error(error, error_size, "stream: slot %zu already holds a row", slot);
    // The earlier rows in order of arrival (their pointers in ordered[] as scratch).
    for (size_t k = 0; k < self->count; k++)
        self->ordered[k] = self->rows[self->filled[k]];
    byzgd_gar_distances_to_rows(self->scratch, row, self->ordered, self->count, self->d);
    size_t n = self->max_n;
    for (size_t k = 0; k < self->count; k++) {
        size_t other = self->filled[k];
        self->distances[slot * n + other] = self->distances[other * n + slot] = self->scratch[k];
    }
    self->distances[slot * n + slot] = 0;
    self->rows[slot] = row;
    self->filled[self->count++] = slot;
    return 0;
}

size_t
byzgd_gar_stream_count(const byzgd_gar_stream_t *self)
{
    return self->count;
}

size_t
byzgd_gar_stream_slot(const byzgd_gar_stream_t *self, size_t i)
{
    return self->slots[i];
}

int
byzgd_gar_stream_finish(byzgd_gar_stream_t *self, const byzgd_gar_config_t *config,
                        byzgd_gar_result_t *result, char *error, size_t error_size)
{
    size_t n = 0;
    for (size_t slot = 0; slot < self->max_n; slot++)
        if (self->rows[slot]) {
            self->ordered[n] = self->rows[slot];
            self->slots[n++] = slot;
        }
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++)
            self->compact[a * n + b] =
                self->distances[self->slots[a] * self->max_n + self->slots[b]];
    return byzgd_gar_apply_rows(config, result, self->ordered, self->compact, n, self->d, error,
                                error_size);
}
