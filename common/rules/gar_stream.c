/*  gar_stream.c — rows arriving one by one, their distances computed on the stream's own
    thread (gar_stream.h).

    Shared with the thread under `lock`: count (rows added, arrival[0 .. count) their slots
    in order of arrival), done (arrivals whose pairs with every earlier arrival are
    computed), busy_s, stop. The thread takes the arrivals [done, count) as one batch: the
    pairs (i, j), done <= i < count, j < i, slice after slice, so that a slice of the earlier
    rows comes from memory once per batch and is reused from the cache for every new row of
    the batch (rows that arrive while the thread is busy are batched: the slower the thread,
    the cheaper each row). Pairs are accumulated in the later arrival's row of the matrix,
    mirrored at the end of the batch. While the caller collects, the thread computes alone,
    or with all but two of the caller's OpenMP threads when it has more than three (the
    other two are left to the caller and its transport); while the caller waits in drain
    (`hurry`), the rest of the batch is split among all of them. Threads split a batch by
    partner rows: each pair stays with one thread and its slices keep their order, so its
    bits do not change. */
#include "rules/gar_stream.h"

#include "rules/gar_internal.h"
#include "support/clock.h"
#include "support/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

struct byzgd_gar_stream_t {
    size_t max_n, d;
    byzgd_gar_config_t config; // this round's
    bool wanted;               // this round's rule takes the distances
    const float **rows;        // max_n: the row in each slot, NULL when empty
    size_t *arrival;           // max_n: the filled slots in order of arrival
    size_t count, done;
    int collect_threads; // OpenMP threads while the caller collects (from its reset)
    double busy_s;
    double *distances; // max_n x max_n by slot; valid between computed arrivals
    // The thread's scratch when it computes alone: partner slices and one call's results.
    const float **sliced; // max_n
    double *out;          // max_n
    // finish: the rows in slot order, their slots and their distances.
    const float **ordered; // max_n
    size_t *slots;         // max_n
    double *compact;       // max_n x max_n
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed; // count, done or stop changed
    bool stop;
    atomic_int hurry; // > 0 while a caller waits in drain: the threads it would use
};

// Pairs (i, j) of the batch [from, to) with partners j in [lo, hi), j < i, over slice
// `slice`, added to the matrix. `sliced` and `out` hold hi - lo entries.
static void
s_slice_pairs(byzgd_gar_stream_t *self, size_t from, size_t to, size_t lo, size_t hi, size_t slice,
              const float **sliced, double *out)
{
    size_t j0 = slice * BYZGD_GAR_STREAM_SLICE;
    size_t len = self->d - j0 < BYZGD_GAR_STREAM_SLICE ? self->d - j0 : BYZGD_GAR_STREAM_SLICE;
    for (size_t k = lo; k < hi; k++)
        sliced[k - lo] = self->rows[self->arrival[k]] + j0;
    for (size_t i = from > lo + 1 ? from : lo + 1; i < to; i++) {
        size_t partners = (i < hi ? i : hi) - lo;
        byzgd_gar_distances_to_rows(out, self->rows[self->arrival[i]] + j0, sliced, partners, len);
        double *row = self->distances + self->arrival[i] * self->max_n;
        for (size_t k = 0; k < partners; k++)
            row[self->arrival[lo + k]] += out[k];
    }
}

// The first partner of thread t of `threads` in the batch [from, to): partners j < to - 1
// weighted by their pairs in the batch, to - max(from, j + 1), cut into equal shares.
static size_t
s_share_start(size_t from, size_t to, int t, int threads)
{
    size_t total = 0;
    for (size_t j = 0; j + 1 < to; j++)
        total += to - (from > j + 1 ? from : j + 1);
    size_t target = total / (size_t)threads * (size_t)t, sum = 0, j = 0;
    for (; j + 1 < to && sum < target; j++)
        sum += to - (from > j + 1 ? from : j + 1);
    return t == 0 ? 0 : j;
}

static void
s_batch(byzgd_gar_stream_t *self, size_t from, size_t to, int collect_threads)
{
    size_t n = self->max_n,
           slices = (self->d + BYZGD_GAR_STREAM_SLICE - 1) / BYZGD_GAR_STREAM_SLICE;
    for (size_t i = from; i < to; i++)
        for (size_t j = 0; j < i; j++)
            self->distances[self->arrival[i] * n + self->arrival[j]] = 0;
    size_t slice = 0;
    if (collect_threads <= 1)
        for (; slice < slices && atomic_load(&self->hurry) <= 1; slice++)
            s_slice_pairs(self, from, to, 0, to, slice, self->sliced, self->out);
#ifdef _OPENMP
    if (slice < slices) {
        int hurry = atomic_load(&self->hurry);
#pragma omp parallel num_threads(hurry > collect_threads ? hurry : collect_threads)
        {
            int t = omp_get_thread_num(), threads = omp_get_num_threads();
            size_t lo = s_share_start(from, to, t, threads);
            size_t hi = t + 1 == threads ? to : s_share_start(from, to, t + 1, threads);
            const float **sliced = malloc((hi - lo + 1) * sizeof *sliced);
            double *out = malloc((hi - lo + 1) * sizeof *out);
            if (!sliced || !out)
                abort();
            for (size_t k = slice; k < slices; k++)
                s_slice_pairs(self, from, to, lo, hi, k, sliced, out);
            free(sliced);
            free(out);
        }
    }
#endif
    for (size_t i = from; i < to; i++) {
        size_t a = self->arrival[i];
        self->distances[a * n + a] = 0;
        for (size_t j = 0; j < i; j++) {
            size_t b = self->arrival[j];
            self->distances[b * n + a] = self->distances[a * n + b];
        }
    }
}

static void *
s_thread(void *arg)
{
    byzgd_gar_stream_t *self = arg;
#ifdef _OPENMP
    // The kernel's own parallel regions stay on this thread while the caller collects.
    omp_set_num_threads(1);
#endif
    pthread_mutex_lock(&self->lock);
    while (true) {
        while (!self->stop && self->done == self->count)
            pthread_cond_wait(&self->changed, &self->lock);
        if (self->stop)
            break;
        size_t from = self->done, to = self->count;
        int collect_threads = self->collect_threads;
        pthread_mutex_unlock(&self->lock);
        double started = byzgd_monotonic_s();
        s_batch(self, from, to, collect_threads);
        double spent = byzgd_monotonic_s() - started;
        pthread_mutex_lock(&self->lock);
        self->done = to;
        self->busy_s += spent;
        pthread_cond_broadcast(&self->changed);
    }
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

byzgd_gar_stream_t *
byzgd_gar_stream_new(size_t max_n, size_t d)
{
    if (max_n == 0 || max_n > ((size_t)1 << 16) || d == 0)
        return NULL;
    byzgd_gar_stream_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->max_n = max_n;
    self->d = d;
    byzgd_gar_config_init(&self->config);
    self->rows = calloc(max_n, sizeof *self->rows);
    self->arrival = malloc(max_n * sizeof *self->arrival);
    self->distances = malloc(max_n * max_n * sizeof *self->distances);
    self->sliced = malloc(max_n * sizeof *self->sliced);
    self->out = malloc(max_n * sizeof *self->out);
    self->ordered = malloc(max_n * sizeof *self->ordered);
    self->slots = malloc(max_n * sizeof *self->slots);
    self->compact = malloc(max_n * max_n * sizeof *self->compact);
    atomic_init(&self->hurry, 0);
    if (!self->rows || !self->arrival || !self->distances || !self->sliced || !self->out ||
        !self->ordered || !self->slots || !self->compact)
        goto failure;
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->changed, NULL);
    if (pthread_create(&self->thread, NULL, s_thread, self) != 0) {
        pthread_cond_destroy(&self->changed);
        pthread_mutex_destroy(&self->lock);
        goto failure;
    }
    return self;
failure:
    free(self->rows);
    free(self->arrival);
    free(self->distances);
    free(self->sliced);
    free(self->out);
    free(self->ordered);
    free(self->slots);
    free(self->compact);
    free(self);
    return NULL;
}

void
byzgd_gar_stream_destroy(byzgd_gar_stream_t **self_p)
{
    byzgd_gar_stream_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_lock(&self->lock);
    self->stop = true;
    pthread_cond_broadcast(&self->changed);
    pthread_mutex_unlock(&self->lock);
    pthread_join(self->thread, NULL);
    pthread_cond_destroy(&self->changed);
    pthread_mutex_destroy(&self->lock);
    free(self->rows);
    free(self->arrival);
    free(self->distances);
    free(self->sliced);
    free(self->out);
    free(self->ordered);
    free(self->slots);
    free(self->compact);
    free(self);
    *self_p = NULL;
}

void
byzgd_gar_stream_drain(byzgd_gar_stream_t *self)
{
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    pthread_mutex_lock(&self->lock);
    if (self->done < self->count) {
        atomic_store(&self->hurry, threads);
        while (self->done < self->count)
            pthread_cond_wait(&self->changed, &self->lock);
        atomic_store(&self->hurry, 0);
    }
    pthread_mutex_unlock(&self->lock);
}

void
byzgd_gar_stream_reset(byzgd_gar_stream_t *self, const byzgd_gar_config_t *config)
{
    byzgd_gar_stream_drain(self);
    pthread_mutex_lock(&self->lock);
    for (size_t k = 0; k < self->count; k++)
        self->rows[self->arrival[k]] = NULL;
    self->count = self->done = 0;
    self->busy_s = 0;
    self->config = *config;
    self->wanted = byzgd_gar_uses_distances(config);
    self->collect_threads = 1;
#ifdef _OPENMP
    int threads = omp_get_max_threads();
    self->collect_threads = threads > 3 ? threads - 2 : 1;
#endif
    pthread_mutex_unlock(&self->lock);
}

int
byzgd_gar_stream_add_row(byzgd_gar_stream_t *self, size_t slot, const float *row, char *error,
                         size_t error_size)
{
    if (slot >= self->max_n)
        return byzgd_set_error(error, error_size, "stream: slot %zu out of range (%zu slots)", slot,
                               self->max_n);
    pthread_mutex_lock(&self->lock);
    bool taken = self->rows[slot] != NULL;
    if (!taken) {
        self->rows[slot] = row;
        self->arrival[self->count++] = slot;
        if (self->wanted)
            pthread_cond_broadcast(&self->changed);
        else
            self->done = self->count; // nothing to compute
    }
    pthread_mutex_unlock(&self->lock);
    if (taken)
        return byzgd_set_error(error, error_size, "stream: slot %zu already holds a row", slot);
    return 0;
}

size_t
byzgd_gar_stream_count(const byzgd_gar_stream_t *self)
{
    // Only the driving thread changes count.
    return self->count;
}

double
byzgd_gar_stream_busy_s(byzgd_gar_stream_t *self)
{
    pthread_mutex_lock(&self->lock);
    double busy = self->busy_s;
    pthread_mutex_unlock(&self->lock);
    return busy;
}

size_t
byzgd_gar_stream_slot(const byzgd_gar_stream_t *self, size_t i)
{
    return self->slots[i];
}

int
byzgd_gar_stream_finish(byzgd_gar_stream_t *self, byzgd_gar_result_t *result, char *error,
                        size_t error_size)
{
    byzgd_gar_stream_drain(self);
    size_t n = 0;
    for (size_t slot = 0; slot < self->max_n; slot++)
        if (self->rows[slot]) {
            self->ordered[n] = self->rows[slot];
            self->slots[n++] = slot;
        }
    if (self->wanted)
        for (size_t a = 0; a < n; a++)
            for (size_t b = 0; b < n; b++)
                self->compact[a * n + b] =
                    self->distances[self->slots[a] * self->max_n + self->slots[b]];
    return byzgd_gar_apply_rows(&self->config, result, self->ordered,
                                self->wanted ? self->compact : NULL, n, self->d, error, error_size);
}
