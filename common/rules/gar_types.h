/*  gar_types.h — the aggregation rules' vocabulary, shared by the dispatcher (gar.h) and
    the kernels (gar_*.c): the rule enum and its name table, the configuration, the result
    and its workspace. Nothing here runs a rule. */
#ifndef BYZGD_GAR_TYPES_H
#define BYZGD_GAR_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    BYZGD_GAR_AVERAGE,
    BYZGD_GAR_KRUM,
    BYZGD_GAR_MULTI_KRUM,
    BYZGD_GAR_MEDOID,
    BYZGD_GAR_ONE_P_KRUM,
    BYZGD_GAR_GEOMED,
    BYZGD_GAR_MEDIAN,
    BYZGD_GAR_TRIMMED_MEAN,
    BYZGD_GAR_MEAMED,
    BYZGD_GAR_BULYAN,
    BYZGD_GAR_MDA,
    BYZGD_GAR_CCLIP,
    BYZGD_GAR_RULE_COUNT
} byzgd_gar_rule_t;

// Where centered clipping starts its iterations.
typedef enum {
    BYZGD_GAR_START_MEDIAN, // coordinate-wise median of the rows (default)
    BYZGD_GAR_START_AVERAGE,
    BYZGD_GAR_START_ZERO,
    BYZGD_GAR_START_GIVEN, // config->centre (for example the previous aggregate)
} byzgd_gar_start_t;

// MDA enumerates subsets; it refuses when C(n, f) exceeds this many.
#define BYZGD_GAR_MDA_MAX_SUBSETS 1000000u

typedef struct {
    byzgd_gar_rule_t rule;
    size_t f;       // Byzantine rows tolerated
    size_t m;       // multi-krum: rows averaged; 0 = n - f (after dropping)
    uint64_t round; // 1-p-krum: round t >= 1, p_t = 1/sqrt(t)
    uint64_t seed;  // 1-p-krum and bucketing
    // geomed: smoothed Weiszfeld; stops when the step is <= tolerance * (1 + |z|)
    double tolerance;  // default 1e-8
    double smoothing;  // nu, default 1e-6
    size_t iterations; // geomed: cap (default 1000); cclip: iterations (default 1); 0 = default
    double tau;        // cclip radius, default 10
    byzgd_gar_start_t start; // cclip starting point
    const float *centre;     // cclip with BYZGD_GAR_START_GIVEN: d floats, borrowed
    // Pre-aggregators, applied in this order after dropping non-finite rows.
    double clip_norm;   // > 0: scale each row to L2 norm <= clip_norm (static clipping)
    bool nnm;           // nearest-neighbour mixing: row i -> mean of its n - f nearest rows
    size_t bucket_size; // > 1: shuffle (seed, round) and average buckets of this many rows
} byzgd_gar_config_t;

typedef struct byzgd_gar_workspace_t byzgd_gar_workspace_t;

// The outcome of one aggregation. Create once for the largest n and d expected and reuse:
// byzgd_gar_apply() allocates nothing while n and d stay within the capacities (the
// distance matrices, the pre-aggregators' buffers and the sorting network are allocated on
// first use and kept; coordinate-wise rules above 256 rows allocate a column buffer per
// thread per call).
typedef struct {
    float *aggregate; // d floats
    size_t n;         // rows given
    size_t d;         // dimension
    size_t f;         // f used
    size_t dropped;   // rows with NaN or ±Inf, ignored
    size_t used;      // vectors the rule saw (after dropping and pre-aggregation)
    // Input row indices (0-based, counting dropped rows) of the vectors the rule selected,
    // in selection order: krum/medoid one index; multi-krum by (score, index); bulyan in
    // pick order; mda ascending; 1-p-krum the Krum pick when Krum was chosen. With NNM,
    // mixed vector i stands for row i; with bucketing, a selected bucket lists its members.
    size_t *selected;
    size_t selected_count;
    // krum, multi-krum, 1-p-krum (when Krum was chosen), medoid, bulyan (first Krum
    // round): scores[i] for input row i (NAN for dropped rows). has_scores says if set.
    double *scores;
    bool has_scores;
    size_t iterations; // geomed and cclip: iterations used
    const char *chose; // 1-p-krum: "average" or "krum"; NULL otherwise (static string)
    size_t capacity_n; // private from here on
    size_t capacity_d;
    byzgd_gar_workspace_t *workspace;
} byzgd_gar_result_t;

// Fills `config` with the defaults of the rule option table (gar_options.c, the one place
// they are written): average, f = 0, round 1, seed 0, geomed tolerance 1e-8, smoothing
// 1e-6, cclip tau 10 started at the median, no pre-aggregators.
void byzgd_gar_config_init(byzgd_gar_config_t *config);

// The command-line names of the rules, indexed by byzgd_gar_rule_t, NULL-terminated.
const char *const *byzgd_gar_rule_names(void);
// The command-line name of `rule` (borrowed).
const char *byzgd_gar_rule_name(byzgd_gar_rule_t rule);
// Looks a rule up by command-line name. Returns 0, or -1 if no rule has this name.
int byzgd_gar_rule_from_name(const char *name, byzgd_gar_rule_t *rule);

#endif
