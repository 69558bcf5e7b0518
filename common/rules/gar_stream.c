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

#include <math.h>
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
// Slices whose values exceed this (or are not finite) are summed by the direct kernel for
// every pair they belong to: their float lanes of squares or products could overflow.
#define S_GRAM_LIMIT 1e15f
// A pair whose Gram distance is below this fraction of its two rows' squared norms (over
// their Gram slices) is recomputed from its differences: see s_recompute_close.
#define S_RECOMPUTE_RATIO (1.0 / 16)

struct byzgd_gar_stream_t {
    size_t max_n, d, slices;
    byzgd_gar_config_t config; // this round's
    const float *centre;       // this round's (d floats), NULL for the origin
    bool wanted;               // this round's rule takes the distances
    const float **rows;        // max_n: the row in each slot, NULL when empty
    size_t *arrival;           // max_n: the filled slots in order of arrival
    _Atomic size_t count;      // rows added, arrival[0 .. count) their slots
    size_t done;               // complete rows: arrival[0 .. done)
    size_t *progress;          // max_n: slices of arrival i's pairs added to the matrix
    int collect_threads;       // OpenMP threads while the caller collects (from its reset)
    // Per arrival i (the thread's): measured[i] once the following are computed;
    // norms[i * slices + s], the squared norm of its slice s; direct[i * slices + s], the
    // slice has a value above S_GRAM_LIMIT or a non-finite one; gram_norm[i], the sum of
    // its norms over the other slices.
    bool *measured;
    double *norms;
    unsigned char *direct;
    double *gram_norm;
    double busy_s;
    double *distances; // max_n x max_n by slot; valid between computed arrivals
    // The thread's scratch when it computes alone: partner slices and one call's results.
    const float **sliced; // max_n
    double *out;          // 4 max_n
    float *pack;          // max_n x BYZGD_GAR_STREAM_SLICE: centred slices
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

// `len` values of `row` minus the centre's at j0 in `into`, or `row` itself with no centre.
static const float *
s_centred(const byzgd_gar_stream_t *self, const float *row, size_t j0, size_t len, float *into)
{
    if (!self->centre)
        return row;
    const float *centre = self->centre + j0;
    for (size_t j = 0; j < len; j++)
        into[j] = row[j] - centre[j];
    return into;
}

// Adds arrival i's pairs with its partners lo, lo + 1, ... over slice `slice` to the
// matrix, from the centred slices' dot products `dots` (`partners` of them): (|a|^2 + |b|^2)
// - 2 a.b, or the direct kernel's sum of differences when either slice goes direct.
static void
s_add_pairs(byzgd_gar_stream_t *self, size_t i, size_t lo, size_t partners, size_t slice,
            const double *dots)
{
    size_t slices = self->slices, j0 = slice * BYZGD_GAR_STREAM_SLICE;
    size_t len = self->d - j0 < BYZGD_GAR_STREAM_SLICE ? self->d - j0 : BYZGD_GAR_STREAM_SLICE;
    const float *raw = self->rows[self->arrival[i]] + j0;
    double *row = self->distances + self->arrival[i] * self->max_n;
    double norm = self->norms[i * slices + slice];
    bool direct = self->direct[i * slices + slice];
    for (size_t k = 0; k < partners; k++) {
        size_t j = lo + k;
        double value;
        if (direct || self->direct[j * slices + slice]) {
            const float *other = self->rows[self->arrival[j]] + j0;
            byzgd_gar_distances_to_rows(&value, raw, &other, 1, len);
        } else
            value = (norm + self->norms[j * slices + slice]) - 2 * dots[k];
        row[self->arrival[j]] += value;
    }
}

// Pairs (i, j) of the batch [from, to) with partners j in [lo, hi), j < i, over slice
// `slice`, added to the matrix: the batch's rows four at a time against their common
// partners (byzgd_gar_dots_to_rows4: each partner's slice read once for the four), then
// each against the rest. `sliced` holds hi - lo entries, `out` 4 (hi - lo), `pack`
// (to - lo) slices.
static void
s_slice_pairs(byzgd_gar_stream_t *self, size_t from, size_t to, size_t lo, size_t hi, size_t slice,
              const float **sliced, double *out, float *pack)
{
    size_t j0 = slice * BYZGD_GAR_STREAM_SLICE;
    size_t len = self->d - j0 < BYZGD_GAR_STREAM_SLICE ? self->d - j0 : BYZGD_GAR_STREAM_SLICE;
    size_t first = from > lo + 1 ? from : lo + 1;
    if (first >= to)
        return;
    for (size_t k = lo; k < hi && k < to; k++)
        sliced[k - lo] = s_centred(self, self->rows[self->arrival[k]] + j0, j0, len,
                                   pack + (k - lo) * BYZGD_GAR_STREAM_SLICE);
    for (size_t i = first; i < to;) {
        size_t group = to - i >= 4 ? 4 : 1;
        const float *own[4];
        for (size_t r = 0; r < group; r++)
            own[r] = i + r < hi ? sliced[i + r - lo]
                                : s_centred(self, self->rows[self->arrival[i + r]] + j0, j0, len,
                                            pack + (i + r - lo) * BYZGD_GAR_STREAM_SLICE);
        size_t common = (i < hi ? i : hi) - lo;
        if (group == 4)
            byzgd_gar_dots_to_rows4(out, own, sliced, common, len);
        for (size_t r = 0; r < group; r++) {
            size_t partners = (i + r < hi ? i + r : hi) - lo;
            if (group == 1) {
                byzgd_gar_dots_to_rows(out, own[r], sliced, partners, len);
                s_add_pairs(self, i + r, lo, partners, slice, out);
                continue;
            }
            s_add_pairs(self, i + r, lo, common, slice, out + r * common);
            if (partners > common) { // the group's earlier rows
                double extra[3];
                byzgd_gar_dots_to_rows(extra, own[r], sliced + common, partners - common, len);
                s_add_pairs(self, i + r, lo + common, partners - common, slice, extra);
            }
        }
        i += group;
    }
}

// The squared norm of each centred slice of arrival i, which slices go direct, and the
// row's norm over the others. `scratch` holds a slice.
static void
s_measure(byzgd_gar_stream_t *self, size_t i, float *scratch)
{
    const float *row = self->rows[self->arrival[i]];
    double gram_norm = 0;
    for (size_t slice = 0; slice < self->slices; slice++) {
        size_t j0 = slice * BYZGD_GAR_STREAM_SLICE;
        size_t len = self->d - j0 < BYZGD_GAR_STREAM_SLICE ? self->d - j0 : BYZGD_GAR_STREAM_SLICE;
        const float *x = s_centred(self, row + j0, j0, len, scratch);
        int large = 0;
        for (size_t j = 0; j < len; j++)
            large |= !(fabsf(x[j]) <= S_GRAM_LIMIT);
        double *norm = self->norms + i * self->slices + slice;
        byzgd_gar_dots_to_rows(norm, x, &x, 1, len);
        self->direct[i * self->slices + slice] = (unsigned char)large;
        if (!large)
            gram_norm += *norm;
    }
    self->gram_norm[i] = gram_norm;
    self->measured[i] = true;
}

// Cancellation: |a|^2 + |b|^2 - 2 a.b loses the digits |a|^2 + |b|^2 has above |a - b|^2
// (each of the three carries ~1e-7 of |a|^2 + |b|^2). A pair of the complete rows
// [from, to) whose distance is below S_RECOMPUTE_RATIO of its rows' Gram norms (two rows
// much closer to each other than to the origin; duplicates for instance) is summed again
// from its differences by the direct kernel, slice by slice in increasing order, so that
// its relative error stays within 16 times the Gram sums' own. The decision and the sum
// depend on the two rows alone.
static void
s_recompute_close(byzgd_gar_stream_t *self, size_t from, size_t to)
{
    size_t n = self->max_n;
    for (size_t i = from; i < to; i++) {
        size_t a = self->arrival[i];
        for (size_t j = 0; j < i; j++) {
            size_t b = self->arrival[j];
            double *value = self->distances + a * n + b;
            if (!(*value < S_RECOMPUTE_RATIO * (self->gram_norm[i] + self->gram_norm[j])))
                continue;
            double total = 0;
            for (size_t slice = 0; slice < self->slices; slice++) {
                size_t j0 = slice * BYZGD_GAR_STREAM_SLICE;
                size_t len =
                    self->d - j0 < BYZGD_GAR_STREAM_SLICE ? self->d - j0 : BYZGD_GAR_STREAM_SLICE;
                const float *other = self->rows[b] + j0;
                double part;
                byzgd_gar_distances_to_rows(&part, self->rows[a] + j0, &other, 1, len);
                total += part;
            }
            *value = total;
        }
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
    size_t n = self->max_n, slices = self->slices;
#ifdef _OPENMP
    int measure_threads = atomic_load(&self->hurry);
    measure_threads = measure_threads > collect_threads ? measure_threads : collect_threads;
#pragma omp parallel for schedule(dynamic, 1) num_threads(measure_threads) if (measure_threads > 1)
#endif
    for (size_t i = from; i < to; i++)
        if (!self->measured[i]) {
            float *scratch = malloc(BYZGD_GAR_STREAM_SLICE * sizeof *scratch);
            if (!scratch)
                abort();
            s_measure(self, i, scratch);
            free(scratch);
        }
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
            s_slice_pairs(self, first, to, 0, to, slice, self->sliced, self->out, self->pack);
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
            double *out = malloc(4 * (hi - lo + 1) * sizeof *out);
            float *pack = malloc((to - lo + 1) * BYZGD_GAR_STREAM_SLICE * sizeof *pack);
            if (!sliced || !out || !pack)
                abort();
            // progress is only read here, and written after the region.
            for (size_t k = slice; k < slices; k++)
                s_slice_pairs(self, s_first_at(self, from, to, k), to, lo, hi, k, sliced, out,
                              pack);
            free(sliced);
            free(out);
            free(pack);
        }
        for (size_t i = from; i < to; i++)
            self->progress[i] = slices;
    }
#endif
    s_recompute_close(self, from, to);
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
    free(self->measured);
    free(self->norms);
    free(self->direct);
    free(self->gram_norm);
    free(self->distances);
    free(self->sliced);
    free(self->out);
    free(self->pack);
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
    self->slices = (d + BYZGD_GAR_STREAM_SLICE - 1) / BYZGD_GAR_STREAM_SLICE;
    byzgd_gar_config_init(&self->config);
    self->rows = calloc(max_n, sizeof *self->rows);
    self->arrival = malloc(max_n * sizeof *self->arrival);
    self->progress = calloc(max_n, sizeof *self->progress);
    self->measured = calloc(max_n, sizeof *self->measured);
    self->norms = malloc(max_n * self->slices * sizeof *self->norms);
    self->direct = malloc(max_n * self->slices * sizeof *self->direct);
    self->gram_norm = malloc(max_n * sizeof *self->gram_norm);
    self->distances = malloc(max_n * max_n * sizeof *self->distances);
    self->sliced = malloc(max_n * sizeof *self->sliced);
    self->out = malloc(4 * max_n * sizeof *self->out);
    self->pack = malloc(max_n * BYZGD_GAR_STREAM_SLICE * sizeof *self->pack);
    self->ordered = malloc(max_n * sizeof *self->ordered);
    self->slots = malloc(max_n * sizeof *self->slots);
    self->compact = malloc(max_n * max_n * sizeof *self->compact);
    atomic_init(&self->hurry, 0);
    atomic_init(&self->count, 0);
    if (!self->rows || !self->arrival || !self->progress || !self->measured || !self->norms ||
        !self->direct || !self->gram_norm || !self->distances || !self->sliced || !self->out ||
        !self->pack || !self->ordered || !self->slots || !self->compact)
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
        self->measured[k] = false;
    }
    atomic_store(&self->count, 0);
    self->done = 0;
    self->busy_s = 0;
    self->config = *config;
    self->centre = NULL;
    self->wanted = byzgd_gar_uses_distances(config);
    self->collect_threads = 1;
#ifdef _OPENMP
    int threads = omp_get_max_threads();
    self->collect_threads = threads > 3 ? threads - 2 : 1;
#endif
    pthread_mutex_unlock(&self->lock);
}

void
byzgd_gar_stream_set_centre(byzgd_gar_stream_t *self, const float *centre)
{
    pthread_mutex_lock(&self->lock);
    if (atomic_load(&self->count) == 0)
        self->centre = centre;
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
