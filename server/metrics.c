/*  metrics.c — queued per-round JSON lines; see metrics.h for the ordering rule. */
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/json.h"
#include "support/log.h"

typedef struct {
    byzgd_round_record_t record;
    size_t *selected; // owned copy behind record.selected
    bool pending;
} s_queued_t;

struct byzgd_metrics_t {
    FILE *file; // NULL: no file
    byzgd_json_t *json;
    s_queued_t *queue; // FIFO in round order
    size_t queue_count, queue_capacity;
    char *last_line;
};

byzgd_metrics_t *
byzgd_metrics_new(const char *path, bool append, char *error, size_t error_size)
{
    byzgd_metrics_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    if (path) {
        self->file = fopen(path, append ? "a" : "w");
        if (!self->file) {
            byzgd_set_error(error, error_size, "cannot open metrics file %s: %s", path,
                            strerror(errno));
            free(self);
            return NULL;
        }
    }
    self->json = byzgd_json_new();
    self->last_line = strdup("");
    if (!self->last_line)
        abort();
    return self;
}

void
byzgd_metrics_record_outcome(byzgd_round_record_t *record, const byzgd_round_outcome_t *outcome)
{
    record->round = outcome->round;
    record->accepted = outcome->accepted;
    record->aggregate_s = outcome->aggregate_s;
    record->update_s = outcome->update_s;
    record->stream_s = outcome->stream_s;
    record->learning_rate = outcome->learning_rate;
    record->selected = outcome->selected;
    record->selected_count = outcome->selected_count;
    record->selected_byzantine = -1;
    record->non_finite = outcome->non_finite;
    record->train_loss = outcome->train_loss;
    record->diverged = outcome->status == BYZGD_ROUND_DIVERGED;
    record->diagnosed = outcome->diagnosed;
    record->resilience = outcome->resilience;
}

// The round of a metrics line ({"round":N,...}), or -1 when it does not start that way.
static long long
s_line_round(const char *line, size_t length)
{
    static const char prefix[] = "{\"round\":";
    size_t prefix_length = sizeof prefix - 1;
    if (length <= prefix_length || memcmp(line, prefix, prefix_length) != 0)
        return -1;
    long long round = 0;
    size_t i = prefix_length;
    for (; i < length && line[i] >= '0' && line[i] <= '9' && round < (1LL << 53); i++)
        round = round * 10 + (line[i] - '0');
    return i > prefix_length && i < length && line[i] == ',' ? round : -1;
}

int
byzgd_metrics_truncate_after(const char *path, uint64_t last_round, char *error, size_t error_size)
{
    FILE *file = fopen(path, "r+");
    if (!file)
        return errno == ENOENT ? 0
                               : byzgd_set_error(error, error_size, "metrics file %s: %s", path,
                                                 strerror(errno));
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    long keep = 0; // bytes of whole lines of rounds <= last_round
    while ((length = getline(&line, &capacity, file)) > 0) {
        long long round = s_line_round(line, (size_t)length);
        if (line[length - 1] != '\n' || round < 0 || (uint64_t)round > last_round)
            break;
        keep = ftell(file);
    }
    free(line);
    int status = 0;
    if (fflush(file) != 0 || ftruncate(fileno(file), keep) != 0 || fsync(fileno(file)) != 0)
        status = byzgd_set_error(error, error_size, "metrics file %s: %s", path, strerror(errno));
    fclose(file);
    return status;
}

static void
s_format(byzgd_json_t *json, const byzgd_round_record_t *record)
{
    byzgd_json_reset(json);
    byzgd_json_object_begin(json);
    byzgd_json_key_int(json, "round", (int64_t)record->round);
    byzgd_json_key_double(json, "elapsed_s", record->elapsed_s);
    byzgd_json_key_double(json, "collect_s", record->collect_s);
    byzgd_json_key_double(json, "aggregate_s", record->aggregate_s);
    byzgd_json_key_double(json, "update_s", record->update_s);
    byzgd_json_key_double(json, "publish_s", record->publish_s);
    byzgd_json_key_double(json, "stream_s", record->stream_s);
    byzgd_json_key_double(json, "learning_rate", record->learning_rate);
    byzgd_json_key_int(json, "accepted", (int64_t)record->accepted);
    uint64_t total = 0;
    for (int r = 1; r < BYZGD_MSG_REJECT_COUNT; r++)
        total += record->rejected[r];
    byzgd_json_key_int(json, "rejected", (int64_t)total);
    byzgd_json_key_object_begin(json, "rejected_by_reason");
    for (int r = 1; r < BYZGD_MSG_REJECT_COUNT; r++)
        if (record->rejected[r])
            byzgd_json_key_int(json, byzgd_msg_reject_name((byzgd_msg_reject_t)r),
                               (int64_t)record->rejected[r]);
    byzgd_json_object_end(json);
    if (record->selected) {
        byzgd_json_key_array_begin(json, "selected");
        for (size_t i = 0; i < record->selected_count; i++)
            byzgd_json_int(json, (int64_t)record->selected[i]);
        byzgd_json_array_end(json);
        if (record->selected_byzantine >= 0)
            byzgd_json_key_int(json, "selected_byzantine", record->selected_byzantine);
    }
    byzgd_json_key_double(json, "train_loss", record->train_loss);
    byzgd_json_key_bool(json, "deadline", record->deadline);
    byzgd_json_key_int(json, "non_finite", (int64_t)record->non_finite);
    byzgd_json_key_int(json, "disconnects", (int64_t)record->disconnects);
    if (record->diagnosed) {
        byzgd_json_key_double(json, "sigma_estimate", record->resilience.sigma);
        byzgd_json_key_double(json, "resilience_eta", record->resilience.eta);
        byzgd_json_key_double(json, "resilience_bound", record->resilience.bound);
        byzgd_json_key_double(json, "aggregate_norm", record->resilience.aggregate_norm);
        byzgd_json_key_double(json, "resilience_ratio", record->resilience.ratio);
    }
    if (record->evaluated) {
        byzgd_json_key_double(json, "test_loss", record->test_loss);
        byzgd_json_key_double(json, "test_accuracy", record->test_accuracy);
    }
    if (record->diverged)
        byzgd_json_key_string(json, "status", "diverged");
    byzgd_json_object_end(json);
}

// Writes queued lines from the front until one still waits for its evaluation
// (all of them when force is set).
static int
s_drain(byzgd_metrics_t *self, bool force)
{
    size_t written = 0;
    int status = 0;
    while (written < self->queue_count && (force || !self->queue[written].pending)) {
        s_queued_t *entry = &self->queue[written];
        s_format(self->json, &entry->record);
        if (self->file && fprintf(self->file, "%s\n", byzgd_json_text(self->json)) < 0)
            status = -1;
        free(self->last_line);
        self->last_line = strdup(byzgd_json_text(self->json));
        if (!self->last_line)
            abort();
        free(entry->selected);
        written++;
    }
    if (written > 0 && written < self->queue_count)
        memmove(self->queue, self->queue + written,
                (self->queue_count - written) * sizeof *self->queue);
    self->queue_count -= written;
    if (self->file && fflush(self->file) != 0)
        status = -1;
    return status;
}

void
byzgd_metrics_destroy(byzgd_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    byzgd_metrics_t *self = *self_p;
    s_drain(self, true);
    if (self->file) {
        fsync(fileno(self->file));
        fclose(self->file);
    }
    byzgd_json_destroy(&self->json);
    free(self->queue);
    free(self->last_line);
    free(self);
    *self_p = NULL;
}

int
byzgd_metrics_add(byzgd_metrics_t *self, const byzgd_round_record_t *record,
                  bool evaluation_pending)
{
    if (self->queue_count == self->queue_capacity) {
        self->queue_capacity = self->queue_capacity ? 2 * self->queue_capacity : 16;
        self->queue = realloc(self->queue, self->queue_capacity * sizeof *self->queue);
        if (!self->queue)
            abort();
    }
    s_queued_t *entry = &self->queue[self->queue_count++];
    entry->record = *record;
    entry->record.evaluated = false;
    entry->selected = NULL;
    if (record->selected) {
        entry->selected = malloc((record->selected_count + 1) * sizeof *entry->selected);
        if (!entry->selected)
            abort();
        memcpy(entry->selected, record->selected, record->selected_count * sizeof(size_t));
    }
    entry->record.selected = entry->selected;
    entry->pending = evaluation_pending;
    return s_drain(self, false);
}

int
byzgd_metrics_set_evaluation(byzgd_metrics_t *self, uint64_t round, double test_loss,
                             double test_accuracy)
{
    for (size_t i = 0; i < self->queue_count; i++) {
        s_queued_t *entry = &self->queue[i];
        if (entry->record.round == round && entry->pending) {
            entry->pending = false;
            entry->record.evaluated = true;
            entry->record.test_loss = test_loss;
            entry->record.test_accuracy = test_accuracy;
            break;
        }
    }
    return s_drain(self, false);
}

size_t
byzgd_metrics_pending(const byzgd_metrics_t *self)
{
    size_t count = 0;
    for (size_t i = 0; i < self->queue_count; i++)
        count += self->queue[i].pending;
    return count;
}

int
byzgd_metrics_flush(byzgd_metrics_t *self)
{
    int status = s_drain(self, false);
    if (self->file && fsync(fileno(self->file)) != 0 && errno != EINVAL)
        status = -1;
    return status;
}

const char *
byzgd_metrics_last_line(const byzgd_metrics_t *self)
{
    return self->last_line;
}
