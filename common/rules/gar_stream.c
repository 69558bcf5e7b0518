/*  gar_stream.c — rows arriving one by one, their distances computed on the stream's own
    thread (gar_stream.h).

    The pair (i, j) of arrivals j < i belongs to row i: its slices are computed in
    increasing order, and progress[i] counts the slices of row i's pairs already added to
    the matrix (row i of the matrix, by slot; mirrored when the row is complete). The
    thread works in sweeps over the slices: a sweep takes the rows not yet complete, and at
    slice s computes the pairs of every row whose progress is s, reading each earlier row's
    slice once for all of them (from the cache for every row after the first). A sweep is
    worth its memory traffic from about S_SWEEP_ROWS rows on (one slice of every earlier row
    read, against the kernel's work on the new rows' pairs), so the thread waits for that
    many, or for the caller to wait in drain (`hurry`). When that many more arrive during a
    sweep, or the caller starts waiting, the sweep stops at a slice boundary and a new one
    starts from slice 0 with the new rows: until it reaches the stopped rows' progress only
    the new rows take part. So the rows left at close cost one pass over the earlier rows,
    however many arrived last.

    While the caller collects, the thread computes alone, or with all but two of the
    caller's OpenMP threads when it has more than three (the other two are left to the
    caller and its transport); while the caller waits in drain, the rest of the sweep is
    split among all of them, by partner rows. Whichever sweep, thread or batch computes
    it, a pair's slices are each summed by the same kernel of the same two rows and added
    in increasing order: its bits never change.

    Shared with the thread under `lock`: rows, arrival, done (the complete rows are
    arrival[0 .. done)), busy_s, collect_threads, stop; count is atomic so that a sweep can
    look for new rows between slices. progress[i] and the matrix rows of incomplete rows
    are the thread's. */
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

// Rows worth a sweep of their own (see above): below this many the thread waits for more,
// or for the caller.
#define S_SWEEP_ROWS 4

struct byzgd_gar_stream_t {
    size_t max_n, d;
    byzgd_gar_config_t config; // this round's
    bool wanted;               // this round's rule takes the distances
    const float **rows;        // max_n: the row in each slot, NULL when empty
    size_t *arrival;           // max_n: the filled slots in order of arrival
    _Atomic size_t count;      // rows added, arrival[0 .. count) their slots
    size_t done;               // complete rows: arrival[0 .. done)
    size_t *progress;          // max_n: slices of arrival i's pairs added to the matrix
    int collect_threads;       // OpenMP threads while the caller collects (from its reset)
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

#ifdef _OPENMP
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
#endif

// The first of the rows [from, to) whose progress is at most `slice` (progress does not
// increase with the arrival index: a sweep's rows are older than the next sweep's).
static size_t
s_first_at(const byzgd_gar_stream_t *self, size_t from, size_t to, size_t slice)
{
    while (from < to && self->progress[from] > slice)
        from++;
    return from;
}

// One sweep over the incomplete rows [from, to), from the least advanced row's progress.
// Returns true when every row is complete, false when it stopped for newer rows.
static bool
s_sweep(byzgd_gar_stream_t *self, size_t from, size_t to, int collect_threads)
{
    size_t n = self->max_n,
           slices = (self->d + BYZGD_GAR_STREAM_SLICE - 1) / BYZGD_GAR_STREAM_SLICE;
    for (size_t i = from; i < to; i++)
        if (self->progress[i] == 0)
            for (size_t j = 0; j < i; j++)
                self->distances[self->arrival[i] * n + self->arrival[j]] = 0;
    size_t slice = self->progress[to - 1];
    if (collect_threads <= 1)
        for (; slice < slices; slice++) {
            int hurry = atomic_load(&self->hurry);
            size_t waiting = atomic_load(&self->count) - to;
            if (waiting >= S_SWEEP_ROWS || (hurry > 0 && waiting > 0))
                return false; // start again with the newer rows
            if (hurry > 1)
                break; // the rest on the caller's threads
            size_t first = s_first_at(self, from, to, slice);
            s_slice_pairs(self, first, to, 0, to, slice, self->sliced, self->out);
            for (size_t i = first; i < to; i++)
                self->progress[i] = slice + 1;
        }
#ifdef _OPENMP
    if (slice < slices) {
        int hurry = atomic_load(&self->hurry);
        size_t first = s_first_at(self, from, to, slice);
#pragma omp parallel num_threads(hurry > collect_threads ? hurry : collect_threads)
        {
            int t = omp_get_thread_num(), threads = omp_get_num_threads();
            size_t lo = s_share_start(first, to, t, threads);
            size_t hi = t + 1 == threads ? to : s_share_start(first, to, t + 1, threads);
            const float **sliced = malloc((hi - lo + 1) * sizeof *sliced);
            double *out = malloc((hi - lo + 1) * sizeof *out);
            if (!sliced || !out)
                abort();
            // progress is only read here, and written after the region.
            for (size_t k = slice; k < slices; k++)
                s_slice_pairs(self, s_first_at(self, from, to, k), to, lo, hi, k, sliced, out);
            free(sliced);
            free(out);
        }
        for (size_t i = from; i < to; i++)
            self->progress[i] = slices;
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
    return true;
}

// A sweep is due: enough new rows, a stopped sweep to go on with, or a caller waiting.
static bool
s_sweep_due(byzgd_gar_stream_t *self)
{
    size_t count = atomic_load(&self->count);
    return self->done < count && (count - self->done >= S_SWEEP_ROWS ||
                                  self->progress[self->done] > 0 || atomic_load(&self->hurry) > 0);
}

bool
byzgd_gar_stream_pays(size_t max_n, size_t d)
{
    // A sweep of S_SWEEP_ROWS rows reads every earlier row once, so a round of n rows reads
    // about n / (2 S_SWEEP_ROWS) times the bytes it receives from memory: beside a
    // transport moving ~2.4 GB/s, a memory bus of ~10 GB/s shared with it and the clients
    // keeps up up to n ~ 8 x 10 / 2.4 ~ 32 (bench_round: n = 20 gains, n = 100 loses).
    // Rows that fit the last-level cache together are not read from memory at all.
    return max_n <= BYZGD_GAR_STREAM_MAX_N || max_n * d <= BYZGD_GAR_STREAM_CACHED_VALUES;
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
        while (!self->stop && !s_sweep_due(self))
            pthread_cond_wait(&self->changed, &self->lock);
        if (self->stop)
            break;
        size_t from = self->done, to = atomic_load(&self->count);
        int collect_threads = self->collect_threads;
        pthread_mutex_unlock(&self->lock);
        double started = byzgd_monotonic_s();
        bool complete = s_sweep(self, from, to, collect_threads);
        double spent = byzgd_monotonic_s() - started;
        pthread_mutex_lock(&self->lock);
        if (complete)
            self->done = to;
        self->busy_s += spent;
        pthread_cond_broadcast(&self->changed);
    }
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

// Frees the stream's buffers and the stream itself (its thread already ended or never ran).
static void
s_free_buffers(byzgd_gar_stream_t *self)
{
    free(self->rows);
    free(self->arrival);
    free(self->progress);
    free(self->distances);
    free(self->sliced);
    free(self->out);
    free(self->ordered);
    free(self->slots);
    free(self->compact);
    free(self);
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
    self->progress = calloc(max_n, sizeof *self->progress);
    self->distances = malloc(max_n * max_n * sizeof *self->distances);
    self->sliced = malloc(max_n * sizeof *self->sliced);
    self->out = malloc(max_n * sizeof *self->out);
    self->ordered = malloc(max_n * sizeof *self->ordered);
    self->slots = malloc(max_n * sizeof *self->slots);
    self->compact = malloc(max_n * max_n * sizeof *self->compact);
    atomic_init(&self->hurry, 0);
    atomic_init(&self->count, 0);
    if (!self->rows || !self->arrival || !self->progress || !self->distances || !self->sliced ||
        !self->out || !self->ordered || !self->slots || !self->compact)
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
    s_free_buffers(self);
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
    s_free_buffers(self);
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
    if (self->done < atomic_load(&self->count)) {
        atomic_store(&self->hurry, threads);
        pthread_cond_broadcast(&self->changed);
        while (self->done < atomic_load(&self->count))
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
    size_t count = atomic_load(&self->count);
    for (size_t k = 0; k < count; k++) {
        self->rows[self->arrival[k]] = NULL;
        self->progress[k] = 0;
    }
    atomic_store(&self->count, 0);
    self->done = 0;
    self->busy_s = 0;
    self->config = *config;
    self->wanted = byzgd_gar_uses_distances(config) && byzgd_gar_stream_pays(self->max_n, self->d);
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
        size_t count = atomic_load(&self->count);
        self->rows[slot] = row;
        self->arrival[count] = slot;
        atomic_store(&self->count, count + 1);
        if (!self->wanted)
            self->done = count + 1; // nothing to compute
        else
            pthread_cond_broadcast(&self->changed); // the thread decides (s_sweep_due)
    }
    pthread_mutex_unlock(&self->lock);
    if (taken)
        return byzgd_set_error(error, error_size, "stream: slot %zu already holds a row", slot);
    return 0;
}

size_t
byzgd_gar_stream_count(const byzgd_gar_stream_t *self)
{
    return atomic_load(&self->count);
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
