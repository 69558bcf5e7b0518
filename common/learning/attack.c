/*  attack.c — Byzantine attack vectors, their options, the moments accumulator and the
    normal quantile used by ALIE. See attack.h and docs/ATTACKS.md. */
#include "attack.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/log.h"

// Separate random streams per use, so drawing minibatches never shifts the noise.
enum { S_PURPOSE_SAMPLING = 1, S_PURPOSE_NOISE = 2, S_PURPOSE_GARBAGE = 3 };

// NULL-terminated: the option tables list them.
static const char *const s_kind_names[BYZGD_ATTACK_KIND_COUNT + 1] = {
    [BYZGD_ATTACK_NONE] = "none",
    [BYZGD_ATTACK_GAUSSIAN] = "gaussian",
    [BYZGD_ATTACK_OMNISCIENT] = "omniscient",
    [BYZGD_ATTACK_SIGNFLIP] = "signflip",
    [BYZGD_ATTACK_ALIE] = "alie",
    [BYZGD_ATTACK_IPM] = "ipm",
    [BYZGD_ATTACK_LABELFLIP] = "labelflip",
    [BYZGD_ATTACK_MIMIC] = "mimic",
    [BYZGD_ATTACK_ZERO] = "zero",
    [BYZGD_ATTACK_NAN] = "nan",
    [BYZGD_ATTACK_INF] = "inf",
};

static const char *const s_misbehaviour_names[BYZGD_MISBEHAVE_KIND_COUNT + 1] = {
    [BYZGD_MISBEHAVE_NONE] = "none",
    [BYZGD_MISBEHAVE_DUPLICATE] = "duplicate",
    [BYZGD_MISBEHAVE_STALE] = "stale",
    [BYZGD_MISBEHAVE_WRONG_DIMENSION] = "wrong-dimension",
    [BYZGD_MISBEHAVE_OVERSIZED] = "oversized",
    [BYZGD_MISBEHAVE_GARBAGE] = "garbage",
    [BYZGD_MISBEHAVE_SILENCE] = "silence",
    [BYZGD_MISBEHAVE_SLOW] = "slow",
};

const char *
byzgd_attack_kind_name(byzgd_attack_kind_t kind)
{
    return (unsigned)kind < BYZGD_ATTACK_KIND_COUNT ? s_kind_names[kind] : NULL;
}

const char *
byzgd_misbehaviour_name(byzgd_misbehaviour_t misbehaviour)
{
    return (unsigned)misbehaviour < BYZGD_MISBEHAVE_KIND_COUNT ? s_misbehaviour_names[misbehaviour]
                                                               : NULL;
}

int
byzgd_attack_kind_from_name(const char *name, byzgd_attack_kind_t *kind_out)
{
    for (int k = 0; name && k < BYZGD_ATTACK_KIND_COUNT; k++)
        if (strcmp(name, s_kind_names[k]) == 0) {
            *kind_out = (byzgd_attack_kind_t)k;
            return 0;
        }
    return -1;
}

int
byzgd_misbehaviour_from_name(const char *name, byzgd_misbehaviour_t *misbehaviour_out)
{
    // Short spellings used by launcher configurations.
    if (name && strcmp(name, "wrong-dim") == 0)
        name = s_misbehaviour_names[BYZGD_MISBEHAVE_WRONG_DIMENSION];
    else if (name && strcmp(name, "silent") == 0)
        name = s_misbehaviour_names[BYZGD_MISBEHAVE_SILENCE];
    for (int k = 0; name && k < BYZGD_MISBEHAVE_KIND_COUNT; k++)
        if (strcmp(name, s_misbehaviour_names[k]) == 0) {
            *misbehaviour_out = (byzgd_misbehaviour_t)k;
            return 0;
        }
    return -1;
}

const char *const *
byzgd_attack_kind_names(void)
{
    return s_kind_names;
}

const char *const *
byzgd_misbehaviour_names(void)
{
    return s_misbehaviour_names;
}

static const char *const *
s_collude_names(void)
{
    static const char *const names[] = {"yes", "no", "auto", NULL};
    return names;
}

// --sigma S or --variance V (sigma = sqrt(V)): a number alone would be ambiguous (the paper
// quotes a variance), so only one of the two flags may appear.
static int
s_gaussian(void *state, const byzgd_option_t *option, const char *value, char *error,
           size_t error_size)
{
    byzgd_attack_config_t *config = state;
    bool is_variance = option->name[0] == 'v';
    if (is_variance ? config->sigma_given : config->variance_given)
        return byzgd_set_error(error, error_size,
                               "give either --sigma (standard deviation) or --variance, not both");
    double x = strtod(value, NULL);
    config->gaussian_sigma = is_variance ? sqrt(x) : x;
    config->sigma_given |= !is_variance;
    config->variance_given |= is_variance;
    return 0;
}

// A scale that must be > 0 (the table's range is inclusive).
static int
s_positive(void *state, const byzgd_option_t *option, const char *value, char *error,
           size_t error_size)
{
    if (!(strtod(value, NULL) > 0))
        return byzgd_set_error(error, error_size, "--%s must be positive, not %s", option->name,
                               value);
    return byzgd_option_store(option, state, value, error, error_size);
}

// --z and --attack-seed: stored, and remembered as given (else derived: from n and f, from
// the run seed).
static int
s_given(void *state, const byzgd_option_t *option, const char *value, char *error,
        size_t error_size)
{
    byzgd_attack_config_t *config = state;
    if (option->name[0] == 'z')
        config->alie_z_given = true;
    else
        config->seed_given = true;
    return byzgd_option_store(option, state, value, error, error_size);
}

static int
s_collude(void *state, const byzgd_option_t *option, const char *value, char *error,
          size_t error_size)
{
    (void)option;
    static const char *const yes[] = {"yes", "true", "1", "on"};
    static const char *const no[] = {"no", "false", "0", "off"};
    int *collude = &((byzgd_attack_config_t *)state)->collude;
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (strcmp(value, yes[i]) == 0)
            return *collude = 1, 0;
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (strcmp(value, no[i]) == 0)
            return *collude = 0, 0;
    if (strcmp(value, "auto") == 0)
        return *collude = -1, 0;
    return byzgd_set_error(error, error_size, "--collude: '%s' is not yes, no or auto", value);
}

// The misbehaviour names and their aliases (byzgd_misbehaviour_from_name).
static int
s_misbehave(void *state, const byzgd_option_t *option, const char *value, char *error,
            size_t error_size)
{
    (void)option;
    byzgd_attack_config_t *config = state;
    if (byzgd_misbehaviour_from_name(value, &config->misbehaviour) == 0)
        return 0;
    char names[256];
    byzgd_options_join(s_misbehaviour_names, names, sizeof names);
    return byzgd_set_error(error, error_size, "unknown misbehaviour '%s' (%s)", value, names);
}

#define S_EXACT_MAX    9007199254740992.0 // 2^53
#define S_U64_MAX      18446744073709551615.0
#define S_FIELD(field) BYZGD_OPTION_FIELD(byzgd_attack_config_t, field)

// clang-format off
static const byzgd_option_t s_attack_options[] = {
    {"attack", BYZGD_OPTION_NAME, 0, 0, "none", 0,
     "the attack (default none: honest)", "NAME", byzgd_attack_kind_names, S_FIELD(kind)},
    {"sigma", BYZGD_OPTION_NUMBER, 0, 1e30, NULL, 0,
     "gaussian: standard deviation S (exclusive with --variance)", "S", NULL, {0}, s_gaussian},
    {"variance", BYZGD_OPTION_NUMBER, 0, 1e30, "200", 0,
     "gaussian: variance V, i.e. sigma = sqrt(V)", "V", NULL, {0}, s_gaussian},
    {"kappa", BYZGD_OPTION_NUMBER, -1e30, 1e30, "10", 0,
     "omniscient: send -K times the full-training-set gradient", "K", NULL, S_FIELD(kappa),
     s_positive},
    {"signflip-scale", BYZGD_OPTION_NUMBER, -1e30, 1e30, "1", 0,
     "signflip: send -S times the own gradient", "S", NULL, S_FIELD(signflip_scale), s_positive},
    {"z", BYZGD_OPTION_NUMBER, -1e30, 1e30, NULL, 0,
     "alie: send mean - Z std (default: Baruch et al.'s z for n, f)", "Z", NULL, S_FIELD(alie_z),
     s_given},
    {"epsilon", BYZGD_OPTION_NUMBER, -1e30, 1e30, "0.1", 0,
     "ipm: send -E times the mean", "E", NULL, S_FIELD(ipm_epsilon), s_positive},
    {"estimate-batches", BYZGD_OPTION_INT, 2, 1e6, "8", 0,
     "alie, ipm: minibatch gradients behind mean and std", "K", NULL, S_FIELD(estimate_batches)},
    {"full-examples", BYZGD_OPTION_INT, 0, S_EXACT_MAX, "0", 0,
     "omniscient: examples for the true gradient (default 0: all)", "N", NULL,
     S_FIELD(full_examples)},
    {"collude", BYZGD_OPTION_NAME, 0, 0, "auto", 0,
     "colluders draw one stream and send identical vectors (default auto: yes for alie, ipm, "
     "mimic)", "WHEN", s_collude_names, {0}, s_collude},
    {"attack-seed", BYZGD_OPTION_INT, 0, S_U64_MAX, NULL, 0,
     "seed of the attack streams (default: the run seed)", "N", NULL, S_FIELD(seed), s_given},
};

static const byzgd_option_t s_misbehaviour_options[] = {
    {"misbehave", BYZGD_OPTION_NAME, 0, 0, "none", 0,
     "protocol misbehaviour (default none; aliases wrong-dim, silent)", "MODE",
     byzgd_misbehaviour_names, {0}, s_misbehave},
    {"misbehave-every", BYZGD_OPTION_INT, 1, S_U64_MAX, "1", 0,
     "misbehave only in rounds divisible by R", "R", NULL, S_FIELD(misbehave_every)},
    {"stale-rounds", BYZGD_OPTION_INT, 1, S_U64_MAX, "1", 0,
     "stale: label proposals R rounds old", "R", NULL, S_FIELD(stale_rounds)},
    {"slow-ms", BYZGD_OPTION_INT, 0, 86400000, "1000", 0,
     "slow: reply MS milliseconds late", "MS", NULL, S_FIELD(slow_ms)},
    {"oversized-bytes", BYZGD_OPTION_INT, 1, S_EXACT_MAX, "67108864", 0,
     "oversized: frame size in bytes", "B", NULL, S_FIELD(oversized_bytes)},
    {"garbage-bytes", BYZGD_OPTION_INT, 1, 1073741824, "64", 0,
     "garbage: random bytes per message", "B", NULL, S_FIELD(garbage_bytes)},
};
// clang-format on

const byzgd_option_section_t byzgd_attack_option_section =
    BYZGD_OPTION_SECTION("Attack options", s_attack_options, NULL);
const byzgd_option_section_t byzgd_misbehaviour_option_section =
    BYZGD_OPTION_SECTION("Protocol misbehaviour options", s_misbehaviour_options, NULL);

static const byzgd_option_section_t *const s_sections[] = {
    &byzgd_attack_option_section, &byzgd_misbehaviour_option_section, NULL};

void
byzgd_attack_config_init(byzgd_attack_config_t *config)
{
    assert(config);
    *config = (byzgd_attack_config_t){0};
    void *const states[] = {config, config};
    byzgd_options_apply_defaults(s_sections, states);
    config->variance_given = false; // the default variance leaves --sigma free
}

int
byzgd_attack_config_parse_option(byzgd_attack_config_t *config, const char *name, const char *value,
                                 char *error, size_t error_size)
{
    assert(config && name);
    return byzgd_options_set(s_sections, config, name, value, error, error_size);
}

bool
byzgd_attack_colludes(const byzgd_attack_config_t *config)
{
    if (config->collude >= 0)
        return config->collude == 1;
    // ALIE and IPM are defined as all attackers sending the same vector; mimic is collusion.
    return config->kind == BYZGD_ATTACK_ALIE || config->kind == BYZGD_ATTACK_IPM ||
           config->kind == BYZGD_ATTACK_MIMIC;
}

bool
byzgd_attack_needs_training_set(const byzgd_attack_config_t *config)
{
    unsigned needs = byzgd_attack_needs(config);
    unsigned drawn = BYZGD_ATTACK_NEEDS_OWN_GRADIENT | BYZGD_ATTACK_NEEDS_FLIPPED_GRADIENT |
                     BYZGD_ATTACK_NEEDS_MOMENTS;
    return (needs & BYZGD_ATTACK_NEEDS_FULL_GRADIENT) != 0 ||
           (byzgd_attack_colludes(config) && (needs & drawn) != 0);
}

int
byzgd_attack_config_check(const byzgd_attack_config_t *config, size_t n, size_t f, char *error,
                          size_t error_size)
{
    if (n == 0 || f > n)
        return byzgd_set_error(error, error_size,
                               "attack: need n >= 1 workers and f <= n Byzantine, got n=%zu "
                               "f=%zu",
                               n, f);
    if ((unsigned)config->kind >= BYZGD_ATTACK_KIND_COUNT ||
        (unsigned)config->misbehaviour >= BYZGD_MISBEHAVE_KIND_COUNT)
        return byzgd_set_error(error, error_size, "attack: invalid attack or misbehaviour");
    if (config->kind == BYZGD_ATTACK_MIMIC && config->collude == 0)
        return byzgd_set_error(error, error_size,
                               "mimic is a collusion: it cannot run with --collude no");
    if (config->kind == BYZGD_ATTACK_ALIE && !config->alie_z_given &&
        !isfinite(byzgd_attack_alie_z(n, f)))
        return byzgd_set_error(error, error_size,
                               "alie: z is undefined for n=%zu f=%zu (s = floor(n/2 + 1) - f "
                               "must lie in [1, n - 1]); give --z",
                               n, f);
    if (config->estimate_batches < 2 || config->misbehave_every < 1)
        return byzgd_set_error(error, error_size,
                               "attack: estimate-batches must be >= 2 and misbehave-every >= 1");
    return 0;
}

int
byzgd_attack_config_describe(const byzgd_attack_config_t *config, char *buffer, size_t buffer_size)
{
    char detail[96] = "";
    switch (config->kind) {
    case BYZGD_ATTACK_GAUSSIAN:
        snprintf(detail, sizeof detail, " sigma=%g (variance %g)", config->gaussian_sigma,
                 config->gaussian_sigma * config->gaussian_sigma);
        break;
    case BYZGD_ATTACK_OMNISCIENT:
        snprintf(detail, sizeof detail, " kappa=%g full_examples=%zu%s", config->kappa,
                 config->full_examples, config->full_examples ? "" : " (all)");
        break;
    case BYZGD_ATTACK_SIGNFLIP:
        snprintf(detail, sizeof detail, " scale=%g", config->signflip_scale);
        break;
    case BYZGD_ATTACK_ALIE:
        if (config->alie_z_given)
            snprintf(detail, sizeof detail, " z=%g estimate_batches=%zu", config->alie_z,
                     config->estimate_batches);
        else
            snprintf(detail, sizeof detail, " z=auto estimate_batches=%zu",
                     config->estimate_batches);
        break;
    case BYZGD_ATTACK_IPM:
        snprintf(detail, sizeof detail, " epsilon=%g estimate_batches=%zu", config->ipm_epsilon,
                 config->estimate_batches);
        break;
    default:
        break;
    }
    const char *misbehaviour = byzgd_misbehaviour_name(config->misbehaviour);
    return snprintf(
        buffer, buffer_size,
        "attack=%s%s collude=%s seed=%" PRIu64 " worker=%zu misbehave=%s"
        " every=%" PRIu64,
        byzgd_attack_kind_name(config->kind) ? byzgd_attack_kind_name(config->kind) : "?", detail,
        byzgd_attack_colludes(config) ? "yes" : "no", config->seed, config->worker_index,
        misbehaviour ? misbehaviour : "?", config->misbehave_every);
}

unsigned
byzgd_attack_needs(const byzgd_attack_config_t *config)
{
    switch (config->kind) {
    case BYZGD_ATTACK_NONE:
    case BYZGD_ATTACK_SIGNFLIP:
    case BYZGD_ATTACK_MIMIC:
        return BYZGD_ATTACK_NEEDS_OWN_GRADIENT;
    case BYZGD_ATTACK_OMNISCIENT:
        return BYZGD_ATTACK_NEEDS_FULL_GRADIENT;
    case BYZGD_ATTACK_ALIE:
    case BYZGD_ATTACK_IPM:
        return BYZGD_ATTACK_NEEDS_MOMENTS;
    case BYZGD_ATTACK_LABELFLIP:
        return BYZGD_ATTACK_NEEDS_FLIPPED_GRADIENT;
    default:
        return 0;
    }
}

static uint64_t
s_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// Seeds `rng` for one purpose and round. Colluders share member 0; others use index + 1.
static void
s_seed_stream(const byzgd_attack_config_t *config, unsigned purpose, uint64_t round,
              byzgd_rng_t *rng)
{
    uint64_t member = byzgd_attack_colludes(config) ? 0 : (uint64_t)config->worker_index + 1;
    uint64_t stream = s_mix(s_mix(s_mix(purpose) ^ round) ^ member);
    byzgd_rng_seed(rng, config->seed, stream);
}

void
byzgd_attack_sampling_rng(const byzgd_attack_config_t *config, uint64_t round, byzgd_rng_t *rng)
{
    s_seed_stream(config, S_PURPOSE_SAMPLING, round, rng);
}

// out = scale * in, in double before rounding (out may alias in).
static void
s_scale(float *out, const float *in, double scale, size_t d)
{
    for (size_t i = 0; i < d; i++)
        out[i] = (float)(scale * (double)in[i]);
}

static int
s_missing(const byzgd_attack_config_t *config, const char *input, char *error, size_t error_size)
{
    return byzgd_set_error(error, error_size, "attack %s: input '%s' was not computed",
                           byzgd_attack_kind_name(config->kind), input);
}

int
byzgd_attack_apply(const byzgd_attack_config_t *config, float *out,
                   const byzgd_attack_input_t *input, size_t d, char *error, size_t error_size)
{
    assert(config && out && input && d > 0);
    switch (config->kind) {
    case BYZGD_ATTACK_NONE:
    case BYZGD_ATTACK_MIMIC: // the own gradient, drawn from the colluders' shared stream
        if (!input->own_gradient)
            return s_missing(config, "own_gradient", error, error_size);
        memmove(out, input->own_gradient, d * sizeof *out);
        return 0;
    case BYZGD_ATTACK_LABELFLIP:
        if (!input->flipped_gradient)
            return s_missing(config, "flipped_gradient", error, error_size);
        memmove(out, input->flipped_gradient, d * sizeof *out);
        return 0;
    case BYZGD_ATTACK_GAUSSIAN: {
        byzgd_rng_t rng;
        s_seed_stream(config, S_PURPOSE_NOISE, input->round, &rng);
        byzgd_rng_gaussian_fill(&rng, out, d, config->gaussian_sigma);
        return 0;
    }
    case BYZGD_ATTACK_OMNISCIENT:
        if (!input->full_gradient)
            return s_missing(config, "full_gradient", error, error_size);
        s_scale(out, input->full_gradient, -config->kappa, d);
        return 0;
    case BYZGD_ATTACK_SIGNFLIP:
        if (!input->own_gradient)
            return s_missing(config, "own_gradient", error, error_size);
        s_scale(out, input->own_gradient, -config->signflip_scale, d);
        return 0;
    case BYZGD_ATTACK_IPM:
        if (!input->mean)
            return s_missing(config, "mean", error, error_size);
        s_scale(out, input->mean, -config->ipm_epsilon, d);
        return 0;
    case BYZGD_ATTACK_ALIE: {
        if (!input->mean || !input->stddev)
            return s_missing(config, input->mean ? "stddev" : "mean", error, error_size);
        double z = config->alie_z_given ? config->alie_z : byzgd_attack_alie_z(input->n, input->f);
        if (!isfinite(z))
            return byzgd_set_error(error, error_size,
                                   "alie: z is undefined for n=%zu f=%zu; give --z", input->n,
                                   input->f);
        for (size_t i = 0; i < d; i++)
            out[i] = (float)((double)input->mean[i] - z * (double)input->stddev[i]);
        return 0;
    }
    case BYZGD_ATTACK_ZERO:
        memset(out, 0, d * sizeof *out);
        return 0;
    case BYZGD_ATTACK_NAN:
        for (size_t i = 0; i < d; i++)
            out[i] = NAN;
        return 0;
    case BYZGD_ATTACK_INF:
        // First, middle and last coordinate: a check that samples a prefix or skips the
        // tail misses one of them, while the rest of the vector looks harmless.
        memset(out, 0, d * sizeof *out);
        out[0] = out[d / 2] = out[d - 1] = INFINITY;
        return 0;
    default:
        return byzgd_set_error(error, error_size, "attack: invalid kind %d", (int)config->kind);
    }
}

bool
byzgd_attack_misbehaves(const byzgd_attack_config_t *config, uint64_t round)
{
    return config->misbehaviour != BYZGD_MISBEHAVE_NONE && config->misbehave_every > 0 &&
           round % config->misbehave_every == 0;
}

void
byzgd_attack_garbage(const byzgd_attack_config_t *config, uint8_t *out, size_t size, uint64_t round)
{
    byzgd_rng_t rng;
    s_seed_stream(config, S_PURPOSE_GARBAGE, round, &rng);
    for (size_t i = 0; i < size; i += 8) {
        uint64_t bits = byzgd_rng_next(&rng);
        size_t count = size - i < 8 ? size - i : 8;
        memcpy(out + i, &bits, count);
    }
}

double
byzgd_attack_alie_z(size_t n, size_t f)
{
    // Baruch et al. 2019, §3: s workers must be won over for a majority; z bounds how far
    // below the mean the attackers may stay while still looking like the honest majority.
    if (n == 0 || f > n)
        return NAN;
    double s = floor((double)n / 2.0 + 1.0) - (double)f;
    double p = ((double)n - s) / (double)n;
    if (!(p > 0.0 && p < 1.0))
        return NAN;
    return byzgd_normal_quantile(p);
}

double
byzgd_normal_quantile(double p)
{
    // Wichura, M. J. (1988). Algorithm AS 241: The percentage points of the normal
    // distribution. Applied Statistics 37(3), 477–484 (PPND16).
    if (isnan(p) || p < 0.0 || p > 1.0)
        return NAN;
    if (p == 0.0)
        return -INFINITY;
    if (p == 1.0)
        return INFINITY;
    double q = p - 0.5, r, x;
    if (fabs(q) <= 0.425) {
        r = 0.180625 - q * q;
        return q *
               (((((((2509.0809287301226727 * r + 33430.575583588128105) * r +
                     67265.770927008700853) *
                        r +
                    45921.953931549871457) *
                       r +
                   13731.693765509461125) *
                      r +
                  1971.5909503065514427) *
                     r +
                 133.14166789178437745) *
                    r +
                3.387132872796366608) /
               (((((((5226.495278852545925 * r + 28729.085735721942674) * r +
                     39307.89580009271061) *
                        r +
                    21213.794301586595867) *
                       r +
                   5394.1960214247511077) *
                      r +
                  687.1870074920579083) *
                     r +
                 42.313330701600911252) *
                    r +
                1.0);
    }
    r = q < 0 ? p : 1.0 - p;
    r = sqrt(-log(r));
    if (r <= 5.0) {
        r -= 1.6;
        x = (((((((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r +
                  0.24178072517745061177) *
                     r +
                 1.27045825245236838258) *
                    r +
                3.64784832476320460504) *
                   r +
               5.7694972214606914055) *
                  r +
              4.6303378461565452959) *
                 r +
             1.42343711074968357734) /
            (((((((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r +
                  0.0151986665636164571966) *
                     r +
                 0.14810397642748007459) *
                    r +
                0.68976733498510000455) *
                   r +
               1.6763848301838038494) *
                  r +
              2.05319162663775882187) *
                 r +
             1.0);
    } else {
        r -= 5.0;
        x = (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r +
                  0.0012426609473880784386) *
                     r +
                 0.026532189526576123093) *
                    r +
                0.29656057182850489123) *
                   r +
               1.7848265399172913358) *
                  r +
              5.4637849111641143699) *
                 r +
             6.6579046435011037772) /
            (((((((2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r +
                  1.8463183175100546818e-5) *
                     r +
                 7.868691311456132591e-4) *
                    r +
                0.0148753612908506148525) *
                   r +
               0.13692988092273580531) *
                  r +
              0.59983220655588793769) *
                 r +
             1.0);
    }
    return q < 0 ? -x : x;
}

void
byzgd_attack_flip_labels(uint8_t *labels, size_t count, size_t class_count)
{
    assert(class_count >= 1 && class_count <= 256);
    for (size_t i = 0; i < count; i++) {
        assert(labels[i] < class_count);
        labels[i] = (uint8_t)(class_count - 1 - labels[i]);
    }
}

struct byzgd_attack_moments_t {
    size_t d, count;
    double *mean; // running mean per coordinate
    double *m2;   // running sum of squared deviations (Welford)
};

byzgd_attack_moments_t *
byzgd_attack_moments_new(size_t d)
{
    assert(d > 0);
    byzgd_attack_moments_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    self->d = d;
    self->mean = calloc(d, sizeof *self->mean);
    self->m2 = calloc(d, sizeof *self->m2);
    if (!self->mean || !self->m2)
        abort();
    return self;
}

void
byzgd_attack_moments_destroy(byzgd_attack_moments_t **self_p)
{
    if (self_p && *self_p) {
        free((*self_p)->mean);
        free((*self_p)->m2);
        free(*self_p);
        *self_p = NULL;
    }
}

void
byzgd_attack_moments_reset(byzgd_attack_moments_t *self)
{
    self->count = 0;
    memset(self->mean, 0, self->d * sizeof *self->mean);
    memset(self->m2, 0, self->d * sizeof *self->m2);
}

void
byzgd_attack_moments_add(byzgd_attack_moments_t *self, const float *gradient)
{
    self->count++;
    double inverse = 1.0 / (double)self->count;
    double *mean = self->mean, *m2 = self->m2;
    for (size_t i = 0; i < self->d; i++) {
        double x = gradient[i], delta = x - mean[i];
        mean[i] += delta * inverse;
        m2[i] += delta * (x - mean[i]);
    }
}

size_t
byzgd_attack_moments_count(const byzgd_attack_moments_t *self)
{
    return self->count;
}

void
byzgd_attack_moments_finish(const byzgd_attack_moments_t *self, float *mean, float *stddev)
{
    assert(self->count >= 1);
    double inverse = self->count > 1 ? 1.0 / (double)(self->count - 1) : 0.0;
    for (size_t i = 0; i < self->d; i++) {
        if (mean)
            mean[i] = (float)self->mean[i];
        if (stddev)
            stddev[i] = (float)sqrt(self->m2[i] * inverse);
    }
}
