/*  gar.h — gradient aggregation rules (GARs): Krum and its variants from Blanchard et al.
    (NeurIPS 2017) and the rules published since, applied to n proposals of d floats.

    Notation (used only in this module): n rows (proposals) of d float32 parameters, f the
    number of Byzantine rows the rule must tolerate, m the Multi-Krum selection count.

    byzgd_gar_config_t config;
    byzgd_gar_config_init(&config);                       // average, f = 0, defaults
    // (gar_options.h parses the options by name)
    byzgd_gar_config_parse_option(&config, "rule", "multi-krum", error, sizeof error);
    byzgd_gar_config_parse_option(&config, "f", "6", error, sizeof error);
    byzgd_gar_result_t *result = byzgd_gar_result_new(20, d); // reused every round
    if (byzgd_gar_apply(&config, result, rows, 20, d, error, sizeof error) == 0)
        use(result->aggregate, result->selected, result->selected_count);
    byzgd_gar_result_destroy(&result);

    Non-finite policy: a row holding any NaN or ±Inf is dropped (counted in
    result->dropped) before the pre-aggregators and the rule run; preconditions are checked
    on the remaining count; zero remaining rows is an error. The aggregate of finite rows
    is always finite (every sum is taken in double). See docs/RULES.md for every rule's
    definition, precondition, cost and how it differs from other libraries. */
#ifndef BYZGD_GAR_H
#define BYZGD_GAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gar_types.h"

// Checks that the rule (after the pre-aggregators) can aggregate `n` finite rows, e.g.
// "krum needs n > 2f+2, got n=6 f=2". Returns 0, or -1 with the message.
int byzgd_gar_check(const byzgd_gar_config_t *config, size_t n, char *error, size_t error_size);

// The rule takes the pairwise squared distances of its input rows as given: krum,
// multi-krum, medoid, 1-p-krum when it draws Krum for config->round, bulyan and mda without
// pre-aggregators, and nnm (the first pre-aggregator to use them) unless clipping changes
// the rows before it. A caller that computed them already hands them over
// (rules/gar_stream.h).
bool byzgd_gar_uses_distances(const byzgd_gar_config_t *config);

// A result with room for n <= max_n rows of d <= max_d floats. Returns NULL when out of
// memory.
byzgd_gar_result_t *byzgd_gar_result_new(size_t max_n, size_t max_d);
void byzgd_gar_result_destroy(byzgd_gar_result_t **self_p);

// Aggregates the n x d row-major matrix `rows` into result->aggregate. Rows with NaN/Inf
// are dropped first. Deterministic: equal inputs and config give bit-identical results.
// Returns 0, or -1 with a one-line message (violated precondition, no finite row, bad
// option combination); result contents are then unspecified.
int byzgd_gar_apply(const byzgd_gar_config_t *config, byzgd_gar_result_t *result, const float *rows,
                    size_t n, size_t d, char *error, size_t error_size);

#endif
