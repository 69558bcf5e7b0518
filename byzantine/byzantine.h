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

// What colluding attackers share: the inputs of their attack that do not depend on which
// of them computes them (the full-training-set gradient at x_t; for colluding attacks the
// moments estimated from their common stream) are computed once per round by whichever
// attacker gets there first and copied by the others. Thread-safe: the worker actors of one
// byzgd-byzantine process holding several identities, or byzgd-simulate's threads, share
// one. Reference-counted: each hook holding it releases it when destroyed.
typedef struct byzgd_collusion_t byzgd_collusion_t;
byzgd_collusion_t *byzgd_collusion_new(void);
// Inputs computed / copied so far (for the logs and the benchmarks).
void byzgd_collusion_counts(byzgd_collusion_t *self, unsigned long *computed,
                            unsigned long *shared);
// Drops the caller's reference (the hooks hold their own). NULL-safe.
void byzgd_collusion_release(byzgd_collusion_t **self_p);

// The data an attacker holds: none when its attack computes no gradient (gaussian, zero,
// nan, inf: it reports the loss ln C), its shard and the whole training set when the attack
// draws from that set (byzgd_attack_needs_training_set), else its shard. byzgd-byzantine
// and byzgd-simulate both ask here.
byzgd_worker_data_t byzgd_byzantine_data(const byzgd_attack_config_t *attack);

// Fills *hooks for `attack` (copied); collusion: NULL, or shared with the other attackers
// of this process (the hooks take a reference). The hooks' state is freed by hooks->destroy, which
// the worker calls when it ends. Returns 0, or -1 with a message.
int byzgd_byzantine_hooks(byzgd_worker_hooks_t *hooks, const byzgd_attack_config_t *attack,
                          byzgd_collusion_t *collusion, char *error, size_t error_size);

#endif
