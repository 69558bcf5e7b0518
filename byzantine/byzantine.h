/*  byzantine.h — the Byzantine worker's hooks: the honest worker actor (worker.h) with an
    attack vector (common/learning/attack.h) in place of the honest gradient and, optionally, a
    protocol misbehaviour (duplicate, stale, wrong dimension, oversized, garbage, silence,
    slow) carried out by the worker's send path. No worker logic is copied here: the hooks
    only decide what to compute (through the worker context) and what to put on the wire. */
#ifndef BYZGD_BYZANTINE_H
#define BYZGD_BYZANTINE_H

#include <stddef.h>

#include "learning/attack.h"
#include "worker/worker.h"

// Fills *hooks for `attack` (copied). The hooks' state is freed by hooks->destroy, which
// the worker calls when it ends. Returns 0, or -1 with a message.
int byzgd_byzantine_hooks(byzgd_worker_hooks_t *hooks, const byzgd_attack_config_t *attack,
                          char *error, size_t error_size);

#endif
