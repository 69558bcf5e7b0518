/*  attack.h — what a Byzantine worker sends: the attack vectors (pure vector math, no
    ZeroMQ) and the names of the protocol misbehaviour modes.

    The Byzantine worker is the honest worker with an attack plugged in. Each round it asks
    byzgd_attack_needs() which inputs to compute, computes them with its ordinary model code
    on minibatches drawn with byzgd_attack_sampling_rng(), and calls byzgd_attack_apply():

        byzgd_attack_config_t attack;
        byzgd_attack_config_init(&attack);                      // defaults (gaussian σ² = 200)
        byzgd_attack_config_parse_option(&attack, "attack", "alie", error, sizeof error);
        attack.seed = run_seed; attack.worker_index = my_index; // shared by colluders
        ...
        unsigned needs = byzgd_attack_needs(&attack);
        byzgd_rng_t rng;
        byzgd_attack_sampling_rng(&attack, round, &rng);       // same stream for colluders
        if (needs & BYZGD_ATTACK_NEEDS_MOMENTS) {               // k gradients → mean, std
            byzgd_attack_moments_reset(moments);
            for (size_t k = 0; k < attack.estimate_batches; k++) {
                ... sample a minibatch with &rng, gradient into g ...
                byzgd_attack_moments_add(moments, g);
            }
            byzgd_attack_moments_finish(moments, mean, stddev);
        }
        byzgd_attack_input_t input = {.mean = mean, .stddev = stddev, .n = n, .f = f,
                                      .round = round};
        byzgd_attack_apply(&attack, proposal, &input, d, error, sizeof error);

    Data access (the paper's omniscient assumption, supplementary §"experiments"): the
    Byzantine worker may read the whole training set, so every estimate below is computed
    from minibatches the attacker draws itself — it never sees other workers' messages.
    Colluders draw from the whole training set, independent attackers from their shard.

    Collusion: with `collude` on, byzgd_attack_sampling_rng() and the noise of
    byzgd_attack_apply() use a stream derived from (seed, round) only, so colluders that run
    the same binary on the same data draw the same minibatches and produce bit-identical
    vectors. Without collusion the stream also mixes in worker_index. docs/ATTACKS.md
    explains each attack, its defaults and the references. */
#ifndef BYZGD_ATTACK_H
#define BYZGD_ATTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "support/options.h"
#include "support/rng.h"

// The attack vectors. BYZGD_ATTACK_NONE is an honest proposal (the own gradient).
typedef enum {
    BYZGD_ATTACK_NONE = 0,   // honest: send own_gradient unchanged
    BYZGD_ATTACK_GAUSSIAN,   // N(0, σ²) per coordinate; σ from --sigma or sqrt(--variance)
    BYZGD_ATTACK_OMNISCIENT, // −κ · (gradient on the whole training set)   [Blanchard 2017]
    BYZGD_ATTACK_SIGNFLIP,   // −scale · own_gradient
    BYZGD_ATTACK_ALIE,       // μ − z·σ per coordinate                        [Baruch 2019]
    BYZGD_ATTACK_IPM,        // −ε · μ                                        [Xie 2019]
    BYZGD_ATTACK_LABELFLIP,  // gradient on own minibatch with labels y → C − 1 − y
    BYZGD_ATTACK_MIMIC,      // all colluders send one shared honest-looking gradient
    BYZGD_ATTACK_ZERO,       // all zeros
    BYZGD_ATTACK_NAN,        // NaN in every coordinate
    BYZGD_ATTACK_INF,        // +Inf in coordinates 0, d/2 and d − 1, zero elsewhere
    BYZGD_ATTACK_KIND_COUNT
} byzgd_attack_kind_t;

/* Protocol misbehaviour modes, for testing the server. byzgd only names and parses them
   here; the worker actor (worker/, byzantine/) carries them out. Independent of the
   attack vector: a worker may send an ALIE vector twice per round, say. */
typedef enum {
    BYZGD_MISBEHAVE_NONE = 0,
    BYZGD_MISBEHAVE_DUPLICATE,       // sends its proposal twice in the same round
    BYZGD_MISBEHAVE_STALE,           // labels it round − stale_rounds (rounds > R)
    BYZGD_MISBEHAVE_WRONG_DIMENSION, // sends d + 1 floats instead of d
    BYZGD_MISBEHAVE_OVERSIZED,       // sends one frame of oversized_bytes bytes
    BYZGD_MISBEHAVE_GARBAGE,         // sends garbage_bytes random bytes (byzgd_attack_garbage)
    BYZGD_MISBEHAVE_SILENCE,         // stays connected, never proposes
    BYZGD_MISBEHAVE_SLOW,            // replies slow_ms milliseconds late
    BYZGD_MISBEHAVE_KIND_COUNT
} byzgd_misbehaviour_t;

/* Inputs an attack needs; byzgd_attack_needs() returns an OR of these. Each is computed by
   the worker on minibatches of the run's batch size drawn with byzgd_attack_sampling_rng()
   (from the whole training set when colluding, docs/ATTACKS.md); for NONE it is the honest
   gradient. */
enum {
    BYZGD_ATTACK_NEEDS_OWN_GRADIENT = 1u << 0,  // gradient on one minibatch (batch size as honest)
    BYZGD_ATTACK_NEEDS_FULL_GRADIENT = 1u << 1, // mean gradient over the training set
    BYZGD_ATTACK_NEEDS_MOMENTS = 1u << 2,       // per-coordinate mean/std of k minibatch grads
    BYZGD_ATTACK_NEEDS_FLIPPED_GRADIENT = 1u << 3, // gradient on a minibatch with flipped labels
};

typedef struct {
    byzgd_attack_kind_t kind;
    double gaussian_sigma; // standard deviation (default sqrt(200): the paper's variance 200)
    double kappa;          // omniscient scale κ (default 10)
    double signflip_scale; // sign flip sends −scale·g (default 1)
    double alie_z;         // used only when alie_z_given; else z from (n, f)
    bool alie_z_given;
    double ipm_epsilon;      // IPM ε (default 0.1)
    size_t estimate_batches; // k minibatch gradients for the moments (default 8, ≥ 2)
    size_t full_examples;    // examples for the omniscient estimate; 0 = whole training set
    int collude;             // −1: the attack's default, 0: no, 1: yes (byzgd_attack_colludes)
    uint64_t seed;           // set by the worker to the run seed unless --attack-seed is given
    bool seed_given;
    size_t worker_index; // set by the worker; mixed into the stream when not colluding
    byzgd_misbehaviour_t misbehaviour;
    uint64_t misbehave_every; // misbehave in rounds r with r % every == 0 (default 1: always)
    uint64_t stale_rounds;    // STALE: how many rounds behind (default 1)
    uint64_t slow_ms;         // SLOW: delay (default 1000)
    size_t oversized_bytes;   // OVERSIZED: frame size (default 64 MiB)
    size_t garbage_bytes;     // GARBAGE: byte count (default 64)
    // Which of the mutually exclusive Gaussian flags was given (parser bookkeeping).
    bool sigma_given, variance_given;
} byzgd_attack_config_t;

// Inputs computed by the worker; only those named by byzgd_attack_needs() are read.
// Vectors have d floats. `n` is the number of workers of the run, `f` the number of
// Byzantine ones (ALIE's z uses them).
typedef struct {
    const float *own_gradient;
    const float *full_gradient;
    const float *mean;
    const float *stddev;
    const float *flipped_gradient;
    size_t n, f;
    uint64_t round;
} byzgd_attack_input_t;

// Fills `config` with the defaults of the attack option tables (attack.c; kind NONE, no
// misbehaviour, sigma = sqrt(200)).
void byzgd_attack_config_init(byzgd_attack_config_t *config);

/* Applies one option (`name` with or without leading "--"), checked and stored by its table
   row as on the command line. Returns 0 when applied, 1 when `name` is not an attack option
   (config untouched, so the caller tries its other parsers), −1 with a message for a bad
   value, an unknown attack, or both --sigma and --variance.
   Options: attack, sigma, variance, kappa, z, epsilon, signflip-scale, estimate-batches,
   full-examples, collude, attack-seed, misbehave, misbehave-every, stale-rounds, slow-ms,
   oversized-bytes, garbage-bytes. */
int byzgd_attack_config_parse_option(byzgd_attack_config_t *config, const char *name,
                                     const char *value, char *error, size_t error_size);

// Checks the whole configuration against the run's n workers of which f are Byzantine
// (e.g. ALIE's z must be finite, mimic cannot run without collusion). Returns 0 or −1.
int byzgd_attack_config_check(const byzgd_attack_config_t *config, size_t n, size_t f, char *error,
                              size_t error_size);

// One line such as "attack=alie z=auto collude=yes estimate_batches=8 misbehave=none".
// Returns the length snprintf would have written.
int byzgd_attack_config_describe(const byzgd_attack_config_t *config, char *buffer,
                                 size_t buffer_size);

// The options above as two option sections (support/options.h) for the programs that take
// them (byzgd-byzantine, byzgd-cluster); their state is a byzgd_attack_config_t *.
// Attacks: attack ... attack-seed; misbehaviour: misbehave ...
extern const byzgd_option_section_t byzgd_attack_option_section;
extern const byzgd_option_section_t byzgd_misbehaviour_option_section;

// The attack and misbehaviour names, indexed by kind, NULL-terminated (static).
const char *const *byzgd_attack_kind_names(void);
const char *const *byzgd_misbehaviour_names(void);

// Names ("gaussian", "stale", …). Return NULL for an out-of-range value.
const char *byzgd_attack_kind_name(byzgd_attack_kind_t kind);
const char *byzgd_misbehaviour_name(byzgd_misbehaviour_t misbehaviour);
// Parses a name. Returns 0, or −1 if unknown. Misbehaviours also accept the aliases
// "wrong-dim" and "silent".
int byzgd_attack_kind_from_name(const char *name, byzgd_attack_kind_t *kind_out);
int byzgd_misbehaviour_from_name(const char *name, byzgd_misbehaviour_t *misbehaviour_out);

// Whether this configuration colludes (the explicit flag, else the attack's default:
// yes for alie, ipm, mimic; no for the others).
bool byzgd_attack_colludes(const byzgd_attack_config_t *config);
// Whether the attack reads the whole training set (the full gradient, or minibatches that
// colluders draw alike from the whole set) rather than only the worker's own shard. A
// Byzantine worker keeps the whole set (one mapped copy shared by every process) only then.
bool byzgd_attack_needs_training_set(const byzgd_attack_config_t *config);

// OR of BYZGD_ATTACK_NEEDS_* for the configured attack (0 for gaussian, zero, nan, inf).
unsigned byzgd_attack_needs(const byzgd_attack_config_t *config);

// Seeds `rng` for the worker's attack minibatches of `round`: one stream shared by all
// colluders, else one per worker_index. Draw needed inputs in this order: own or flipped
// gradient, then moments, then full gradient (each attack needs at most one of them).
void byzgd_attack_sampling_rng(const byzgd_attack_config_t *config, uint64_t round,
                               byzgd_rng_t *rng);

/* Writes the proposal of `round` into out[d] (out may alias an input). Randomness comes
   from a stream of (seed, round[, worker_index]) distinct from the sampling stream.
   Returns 0, or −1 with a message when a needed input is NULL or ALIE's z is undefined. */
int byzgd_attack_apply(const byzgd_attack_config_t *config, float *out,
                       const byzgd_attack_input_t *input, size_t d, char *error, size_t error_size);

// True when the misbehaviour is active in `round` (mode set and round % every == 0).
bool byzgd_attack_misbehaves(const byzgd_attack_config_t *config, uint64_t round);

// Fills out[size] with the random bytes of the GARBAGE mode for `round` (deterministic per
// seed, round and worker).
void byzgd_attack_garbage(const byzgd_attack_config_t *config, uint8_t *out, size_t size,
                          uint64_t round);

// ALIE's z for n workers of which f are Byzantine (Baruch et al. 2019):
// s = floor(n/2 + 1) − f, z = Φ⁻¹((n − s)/n). Returns NaN when (n − s)/n is not in (0, 1).
double byzgd_attack_alie_z(size_t n, size_t f);

// Φ⁻¹(p), the standard normal quantile (Wichura's AS241, ~1e−16 relative error).
// Returns −Inf at 0, +Inf at 1 and NaN outside [0, 1].
double byzgd_normal_quantile(double p);

// y → class_count − 1 − y for each label (every label must be < class_count).
void byzgd_attack_flip_labels(uint8_t *labels, size_t count, size_t class_count);

/* Per-coordinate mean and standard deviation of k gradients (Welford, in double; no
   allocation after new). The standard deviation is the sample one (divides by k − 1;
   0 when k = 1). */
typedef struct byzgd_attack_moments_t byzgd_attack_moments_t;

// Returns a new accumulator for d-vectors (aborts on out-of-memory).
byzgd_attack_moments_t *byzgd_attack_moments_new(size_t d);
void byzgd_attack_moments_destroy(byzgd_attack_moments_t **self_p);
// Forgets every gradient added so far.
void byzgd_attack_moments_reset(byzgd_attack_moments_t *self);
// Adds gradient[d].
void byzgd_attack_moments_add(byzgd_attack_moments_t *self, const float *gradient);
// Number of gradients added since the last reset.
size_t byzgd_attack_moments_count(const byzgd_attack_moments_t *self);
// Writes mean[d] and stddev[d] (either may be NULL). At least one gradient must be added.
void byzgd_attack_moments_finish(const byzgd_attack_moments_t *self, float *mean, float *stddev);

#endif
