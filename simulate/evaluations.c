/*  evaluations.c — byzgd-simulate's evaluations in chunks (evaluations.h). */
#include "simulate/evaluations.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "server/evaluator.h" // BYZGD_EVAL_CHUNK

typedef struct {
    byzgd_evaluation_t what;
    float *params;     // x_round, copied
    double *loss_sums; // per chunk
    size_t *corrects;  // per chunk
    size_t handed_out; // chunks given to a loop so far; a loop computes all it was given
} s_pending_t;

typedef struct {
    size_t pending; // index into self->pending (stable until the next take)
    size_t chunk;
} s_task_t;

struct byzgd_evaluations_t {
    byzgd_dataset_t *test_set;
    byzgd_model_t **models; // one per thread
    int threads;
    uint64_t every;
    size_t chunks; // per evaluation
    s_pending_t *pending;
    size_t pending_count;
    s_task_t *tasks;
    size_t task_capacity;
};

byzgd_evaluations_t *
byzgd_evaluations_new(const byzgd_model_spec_t *spec, byzgd_dataset_t **test_set_p, int threads,
                      uint64_t every, char *error, size_t error_size)
{
    assert(threads >= 1 && every >= 1);
    byzgd_evaluations_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    self->threads = threads;
    self->every = every;
    self->test_set = *test_set_p;
    *test_set_p = NULL;
    self->chunks = (self->test_set->count + BYZGD_EVAL_CHUNK - 1) / BYZGD_EVAL_CHUNK;
    self->models = calloc((size_t)threads, sizeof(byzgd_model_t *));
    if (!self->models)
        abort();
    for (int t = 0; t < threads; t++) {
        // As the server's evaluator builds its model: one thread, chunk-sized batches.
        self->models[t] = byzgd_model_new(spec, BYZGD_EVAL_CHUNK, error, error_size);
        if (!self->models[t]) {
            byzgd_evaluations_destroy(&self);
            return NULL;
        }
        byzgd_model_set_threads(self->models[t], 1);
    }
    return self;
}

static void
s_pending_free(s_pending_t *pending)
{
    free(pending->params);
    free(pending->loss_sums);
    free(pending->corrects);
}

void
byzgd_evaluations_destroy(byzgd_evaluations_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    byzgd_evaluations_t *self = *self_p;
    for (int t = 0; self->models && t < self->threads; t++)
        byzgd_model_destroy(&self->models[t]);
    free(self->models);
    for (size_t i = 0; i < self->pending_count; i++)
        s_pending_free(&self->pending[i]);
    free(self->pending);
    free(self->tasks);
    byzgd_dataset_destroy(&self->test_set);
    free(self);
    *self_p = NULL;
}

void
byzgd_evaluations_queue(byzgd_evaluations_t *self, const byzgd_evaluation_t *what,
                        const float *params, size_t d)
{
    s_pending_t *grown = realloc(self->pending, (self->pending_count + 1) * sizeof *grown);
    if (!grown)
        abort();
    self->pending = grown;
    s_pending_t *pending = &self->pending[self->pending_count++];
    *pending = (s_pending_t){.what = *what};
    pending->params = malloc(d * sizeof *pending->params);
    pending->loss_sums = calloc(self->chunks + 1, sizeof *pending->loss_sums);
    pending->corrects = calloc(self->chunks + 1, sizeof *pending->corrects);
    if (!pending->params || !pending->loss_sums || !pending->corrects)
        abort();
    memcpy(pending->params, params, d * sizeof *pending->params);
}

size_t
byzgd_evaluations_hand_out(byzgd_evaluations_t *self, bool all)
{
    size_t waiting = 0;
    for (size_t i = 0; i < self->pending_count; i++)
        waiting += self->chunks - self->pending[i].handed_out;
    // 1 / every of an evaluation, and whatever is more than one evaluation behind.
    size_t share = (size_t)((self->chunks + self->every - 1) / self->every);
    if (waiting > self->chunks)
        share += waiting - self->chunks;
    size_t count = all || share > waiting ? waiting : share;
    if (count > self->task_capacity) {
        s_task_t *grown = realloc(self->tasks, count * sizeof *grown);
        if (!grown)
            abort();
        self->tasks = grown;
        self->task_capacity = count;
    }
    size_t given = 0;
    for (size_t i = 0; i < self->pending_count && given < count; i++)
        while (self->pending[i].handed_out < self->chunks && given < count)
            self->tasks[given++] = (s_task_t){.pending = i, .chunk = self->pending[i].handed_out++};
    return given;
}

void
byzgd_evaluations_compute(byzgd_evaluations_t *self, size_t task, int thread)
{
    assert(thread >= 0 && thread < self->threads);
    const s_task_t *chosen = &self->tasks[task];
    s_pending_t *pending = &self->pending[chosen->pending];
    const byzgd_dataset_t *test_set = self->test_set;
    size_t first = chosen->chunk * BYZGD_EVAL_CHUNK;
    size_t count =
        test_set->count - first < BYZGD_EVAL_CHUNK ? test_set->count - first : BYZGD_EVAL_CHUNK;
    double loss_sum = 0;
    size_t correct = 0;
    byzgd_model_evaluate_add(self->models[thread], &loss_sum, &correct, pending->params,
                             test_set->features + first * test_set->feature_count,
                             test_set->labels + first, count);
    pending->loss_sums[chosen->chunk] = loss_sum;
    pending->corrects[chosen->chunk] = correct;
}

bool
byzgd_evaluations_next_complete(byzgd_evaluations_t *self, byzgd_evaluation_t *out)
{
    if (!self->pending_count || self->pending[0].handed_out < self->chunks)
        return false;
    s_pending_t *pending = &self->pending[0];
    // The sums of byzgd_model_evaluate_arrays: chunk by chunk, in order, from zero.
    double loss_sum = 0;
    size_t correct = 0, count = self->test_set->count;
    for (size_t chunk = 0; chunk < self->chunks; chunk++) {
        loss_sum += pending->loss_sums[chunk];
        correct += pending->corrects[chunk];
    }
    *out = pending->what;
    out->loss = count ? loss_sum / (double)count : 0.0;
    out->accuracy = count ? (double)correct / (double)count : 0.0;
    s_pending_free(pending);
    self->pending_count--;
    memmove(self->pending, self->pending + 1, self->pending_count * sizeof *self->pending);
    return true;
}

size_t
byzgd_evaluations_pending(const byzgd_evaluations_t *self)
{
    return self->pending_count;
}
