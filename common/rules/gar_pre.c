/*  gar_pre.c — pre-aggregators that compose in front of any rule, applied in this order:
    static norm clipping (each row scaled to L2 norm <= clip_norm), nearest-neighbour
    mixing (Allouah et al. 2023: vector i becomes the mean of its n - f nearest vectors,
    itself included, ties by index) and bucketing (Karimireddy et al. 2022: a seeded
    shuffle, then the mean of each bucket of s consecutive vectors, the last one possibly
    smaller). Their output vectors live in two workspace buffers used alternately; the
    membership lists remember which input rows each vector stands for. */
#include "gar_internal.h"
#include "support/log.h"
#include "support/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// Buffer `which` with room for `count` floats; allocated on first use and when it grows.
static float *
s_buffer(byzgd_gar_workspace_t *ws, int which, size_t count)
{
    if (ws->buffer_count[which] < count) {
        free(ws->buffer[which]);
        ws->buffer[which] = malloc(count * sizeof(float));
        ws->buffer_count[which] = ws->buffer[which] ? count : 0;
    }
    return ws->buffer[which];
}

static void
s_clip(float *out, byzgd_gar_workspace_t *ws, double clip_norm, size_t n, size_t d)
{
#pragma omp parallel for schedule(static) if (n * d > 100000)
    for (size_t i = 0; i < n; i++) {
        const float *row = ws->rows[i];
        double norm = 0;
        for (size_t j = 0; j < d; j++)
            norm += (double)row[j] * (double)row[j];
        norm = sqrt(norm);
        double scale = norm > clip_norm ? clip_norm / norm : 1.0;
        float *target = out + i * d;
        for (size_t j = 0; j < d; j++)
            target[j] = (float)(row[j] * scale);
    }
    for (size_t i = 0; i < n; i++)
        ws->rows[i] = out + i * d;
}

static void
s_nnm(float *out, byzgd_gar_workspace_t *ws, size_t f, size_t n, size_t d)
{
    // Without clipping before it, the non-finite policy (or the caller, gar_stream.h) may
    // have the rows' distances ready.
    if (!ws->distances_ready)
        byzgd_gar_distances(ws->distances, ws->partial, ws->rows, n, d);
    size_t keep = n - f;
    for (size_t i = 0; i < n; i++) {
        byzgd_gar_order_by_score(ws->order, ws->distances + i * n, n);
        for (size_t q = 0; q < keep; q++)
            ws->subset[q] = ws->rows[ws->order[q]];
        byzgd_gar_mean(out + i * d, ws->sum, ws->subset, NULL, keep, d);
    }
    for (size_t i = 0; i < n; i++)
        ws->rows[i] = out + i * d;
}

static size_t
s_bucket(float *out, byzgd_gar_workspace_t *ws, const byzgd_gar_config_t *config, size_t n,
         size_t d)
{
    size_t s = config->bucket_size, buckets = (n + s - 1) / s, filled = 0;
    byzgd_rng_t rng;
    // A stream apart from 1-p Krum's draw; the shuffle changes with the round.
    byzgd_rng_seed(&rng, config->seed ^ 0x6275636b6574ULL, config->round);
    for (size_t i = 0; i < n; i++)
        ws->order[i] = i;
    byzgd_rng_shuffle(&rng, ws->order, n);
    for (size_t b = 0; b < buckets; b++) {
        size_t first = b * s, last = first + s < n ? first + s : n;
        ws->member_start2[b] = filled;
        for (size_t q = first; q < last; q++) {
            size_t v = ws->order[q];
            ws->subset[q - first] = ws->rows[v];
            for (size_t k = ws->member_start[v]; k < ws->member_start[v + 1]; k++) {
                // Insertion keeps each bucket's input indices ascending.
                size_t item = ws->members[k], at = filled++;
                while (at > ws->member_start2[b] && ws->members2[at - 1] > item) {
                    ws->members2[at] = ws->members2[at - 1];
                    at--;
                }
                ws->members2[at] = item;
            }
        }
        byzgd_gar_mean(out + b * d, ws->sum, ws->subset, NULL, last - first, d);
    }
    ws->member_start2[buckets] = filled;
    memcpy(ws->member_start, ws->member_start2, (buckets + 1) * sizeof(size_t));
    memcpy(ws->members, ws->members2, filled * sizeof(size_t));
    for (size_t b = 0; b < buckets; b++)
        ws->rows[b] = out + b * d;
    return buckets;
}

int
byzgd_gar_pre_aggregate(const byzgd_gar_config_t *config, byzgd_gar_workspace_t *ws, size_t *n,
                        size_t d, char *error, size_t error_size)
{
    size_t count = *n;
    int which = 0;
    float *out = NULL;
    if (config->clip_norm > 0) {
        if (!(out = s_buffer(ws, which, count * d)))
            goto out_of_memory;
        s_clip(out, ws, config->clip_norm, count, d);
        which ^= 1;
    }
    if (config->nnm) {
        if (!(out = s_buffer(ws, which, count * d)))
            goto out_of_memory;
        s_nnm(out, ws, config->f, count, d);
        ws->distances_ready = false; // they were the distances of the rows before mixing
        which ^= 1;
    }
    if (config->bucket_size > 1) {
        size_t buckets = (count + config->bucket_size - 1) / config->bucket_size;
        if (!(out = s_buffer(ws, which, buckets * d)))
            goto out_of_memory;
        count = s_bucket(out, ws, config, count, d);
    }
    *n = count;
    return 0;
out_of_memory:
    return byzgd_set_error(error, error_size, "pre-aggregation: out of memory for %zu x %zu", count,
                           d);
}
