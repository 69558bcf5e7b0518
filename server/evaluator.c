/*  evaluator.c — the evaluation actor. Pipe grammar (private to this file):
      server → actor  "EVAL" round(8) params(p, ownership passes to the actor)
      actor → server  "RESULT" round(8) loss(s) accuracy(s)   (doubles as %.17g text) */
#include "evaluator.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#include "support/log.h"

struct byzgd_evaluator_t {
    zactor_t *actor;
    size_t dimension;
    size_t outstanding;
};

typedef struct {
    byzgd_model_t *model;
    byzgd_dataset_t *test_set;
} s_args_t;

static void
s_evaluate(byzgd_model_t *model, const byzgd_dataset_t *test_set, const float *params,
           double *loss_out, double *accuracy_out)
{
    byzgd_model_evaluate_arrays(model, loss_out, accuracy_out, params, test_set->features,
                                test_set->labels, test_set->count);
}

static void
s_actor(zsock_t *pipe, void *arg)
{
    s_args_t *args = arg;
    zsock_signal(pipe, 0);
    while (true) {
        char *command = NULL;
        uint64_t round = 0;
        void *params = NULL;
        if (zsock_recv(pipe, "s8p", &command, &round, &params) != 0)
            break; // interrupted
        if (!command) {
            free(params);
            continue;
        }
        if (streq(command, "$TERM")) {
            zstr_free(&command);
            break;
        }
        if (streq(command, "EVAL") && params) {
            double loss = 0, accuracy = 0;
            s_evaluate(args->model, args->test_set, params, &loss, &accuracy);
            char loss_text[64], accuracy_text[64];
            snprintf(loss_text, sizeof loss_text, "%.17g", loss);
            snprintf(accuracy_text, sizeof accuracy_text, "%.17g", accuracy);
            zsock_send(pipe, "s8ss", "RESULT", round, loss_text, accuracy_text);
        }
        free(params);
        zstr_free(&command);
    }
    byzgd_model_destroy(&args->model);
    byzgd_dataset_destroy(&args->test_set);
    free(args);
}

byzgd_evaluator_t *
byzgd_evaluator_new(const byzgd_model_spec_t *spec, byzgd_dataset_t **test_set_p, char *error,
                    size_t error_size)
{
    byzgd_model_t *model = byzgd_model_new(spec, BYZGD_EVAL_CHUNK, error, error_size);
    if (!model)
        return NULL;
    if (byzgd_model_feature_count(model) != (*test_set_p)->feature_count) {
        byzgd_set_error(error, error_size, "model expects %zu features, test set has %zu",
                        byzgd_model_feature_count(model), (*test_set_p)->feature_count);
        byzgd_model_destroy(&model);
        return NULL;
    }
    byzgd_model_set_threads(model, 1);
    byzgd_evaluator_t *self = calloc(1, sizeof *self);
    s_args_t *args = calloc(1, sizeof *args);
    if (!self || !args)
        abort();
    self->dimension = byzgd_model_dimension(model);
    args->model = model;
    args->test_set = *test_set_p;
    *test_set_p = NULL;
    self->actor = zactor_new(s_actor, args);
    if (!self->actor)
        abort();
    return self;
}

void
byzgd_evaluator_destroy(byzgd_evaluator_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    byzgd_evaluator_t *self = *self_p;
    zactor_destroy(&self->actor);
    free(self);
    *self_p = NULL;
}

int
byzgd_evaluator_submit(byzgd_evaluator_t *self, uint64_t round, const float *params, size_t d)
{
    if (d != self->dimension)
        return -1;
    float *copy = malloc(d * sizeof *copy);
    if (!copy)
        abort();
    memcpy(copy, params, d * sizeof *copy);
    if (zsock_send(self->actor, "s8p", "EVAL", round, (void *)copy) != 0) {
        free(copy);
        return -1;
    }
    self->outstanding++;
    return 0;
}

void *
byzgd_evaluator_socket(byzgd_evaluator_t *self)
{
    return self->actor;
}

int
byzgd_evaluator_recv(byzgd_evaluator_t *self, uint64_t *round_out, double *loss_out,
                     double *accuracy_out)
{
    char *command = NULL, *loss = NULL, *accuracy = NULL;
    uint64_t round = 0;
    if (zsock_recv(self->actor, "s8ss", &command, &round, &loss, &accuracy) != 0 || !command ||
        !loss || !accuracy) {
        zstr_free(&command);
        zstr_free(&loss);
        zstr_free(&accuracy);
        return -1;
    }
    *round_out = round;
    *loss_out = strtod(loss, NULL);
    *accuracy_out = strtod(accuracy, NULL);
    zstr_free(&command);
    zstr_free(&loss);
    zstr_free(&accuracy);
    if (self->outstanding > 0)
        self->outstanding--;
    return 0;
}

size_t
byzgd_evaluator_outstanding(const byzgd_evaluator_t *self)
{
    return self->outstanding;
}
