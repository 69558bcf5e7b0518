/*  gar_internal.h — kernels and workspace shared by the gar*.c files (not installed).
    Every kernel takes its rows as an array of n row pointers, so dropping non-finite rows
    and pre-aggregation never copy the input. */
#ifndef BYZGD_GAR_INTERNAL_H
#define BYZGD_GAR_INTERNAL_H

#include "gar_types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct byzgd_gar_workspace_t {
    size_t max_n, max_d;
    const float **rows;      // max_n: the vectors the rule sees
    const float **subset;    // max_n: scratch row pointers (a selection of rows)
    const float **inputs;    // max_n: byzgd_gar_apply's row pointers
    size_t *member_start;    // max_n + 1: vector v stands for input rows
    size_t *members;         // max_n:     members[member_start[v] .. member_start[v + 1])
    size_t *member_start2;   // max_n + 1: scratch for re-grouping
    size_t *members2;        // max_n
    double *distances;       // max_n * max_n squared L2 distances (allocated on first use)
    double *partial;         // byzgd_gar_distance_scratch(max_n) doubles, with it
    bool distances_ready;    // distances already hold the rule's vectors' distances
    double *scores;          // max_n scores of the rule's vectors
    double *values;          // max_n scratch
    size_t *order;           // max_n scratch
    size_t *picked;          // max_n vector indices picked by the rule, in order
    unsigned char *flags;    // max_n scratch
    double *sum;             // max_d doubles
    double *sum2;            // max_d doubles
    uint16_t *network;       // comparator pairs of the sorting network
    size_t network_capacity; // pairs
    float *buffer[2];        // pre-aggregated vectors, allocated on first use
    size_t buffer_count[2];  // floats
};

// byzgd_gar_apply on the n rows rows[i]; `distances` (n x n, NULL to compute them) are the
// rows' squared distances when the caller computed them already (gar_stream.c).
int byzgd_gar_apply_rows(const byzgd_gar_config_t *config, byzgd_gar_result_t *result,
                         const float *const *rows, const double *distances, size_t n, size_t d,
                         char *error, size_t error_size);

// Coordinate-wise kernels (gar_coordinate.c).
typedef enum {
    BYZGD_GAR_COORD_MEDIAN,  // median; even count: mean of the two middle values
    BYZGD_GAR_COORD_TRIMMED, // mean after dropping `k` lowest and `k` highest
    BYZGD_GAR_COORD_CLOSEST, // mean of the `k` values closest to the median
} byzgd_gar_coord_t;

// out[j] for j < d from the n values rows[i][j]; uses the workspace's network buffer.
void byzgd_gar_coordinate(float *out, byzgd_gar_workspace_t *ws, const float *const *rows,
                          byzgd_gar_coord_t mode, size_t k, size_t n, size_t d);

// Distance kernels (gar_distance.c).
#define BYZGD_GAR_DISTANCE_SEGMENTS 8
// Above this many rows the n x n segment matrices cost more memory than they save time:
// one segment is used.
#define BYZGD_GAR_SEGMENTED_MAX_N 512
// distances[a * n + b] = sum_j (rows[a][j] - rows[b][j])^2 in double (diagonal 0), within
// about 1e-7 relative of the exact value (gar_distance.c says how). `scratch` holds
// byzgd_gar_distance_scratch(n) doubles.
void byzgd_gar_distances(double *distances, double *scratch, const float *const *rows, size_t n,
                         size_t d);
size_t byzgd_gar_distance_scratch(size_t n);
// out[k] = sum_j (row[j] - others[k][j])^2 for k < count, each pair summed exactly as the
// direct kernel does (so out[k] does not depend on count, on the order of `others` or on
// which of the two rows is `row`).
void byzgd_gar_distances_to_rows(double *out, const float *row, const float *const *others,
                                 size_t count, size_t d);
// out[j] = sum_i weights[i] * rows[i][j] / weight_total in double, rounded to float
// (weights NULL: all 1).
void byzgd_gar_mean(float *out, double *sum, const float *const *rows, const double *weights,
                    size_t n, size_t d);
// sum[j] = sum_i weights[i] * rows[i][j] (weights NULL: all 1), in double.
void byzgd_gar_weighted_sum(double *sum, const float *const *rows, const double *weights, size_t n,
                            size_t d);
// Euclidean distance between a float row and a double vector, accumulated in double.
double byzgd_gar_distance_to(const float *row, const double *point, size_t d);

// Selection rules (gar_select.c). `picked` receives vector indices in selection order.
// Krum scores of `count` vectors listed in `subset` (indices into distances, stride n),
// each the sum of its `neighbours` smallest squared distances to the other listed vectors.
void byzgd_gar_krum_scores(double *scores, double *values, const double *distances,
                           const size_t *subset, size_t count, size_t neighbours, size_t n);
// Sorts order[0..count) by (scores[order[i]], order[i]).
void byzgd_gar_order_by_score(size_t *order, const double *scores, size_t count);
// 1-p Krum's choice for (seed, round): true to average (probability 1/sqrt(round)).
bool byzgd_gar_one_p_averages(const byzgd_gar_config_t *config);
int byzgd_gar_select(const byzgd_gar_config_t *config, byzgd_gar_result_t *result,
                     byzgd_gar_workspace_t *ws, size_t n, size_t d, size_t *picked_count,
                     bool *scores_set, char *error, size_t error_size);

// Iterative rules (gar_iterative.c).
void byzgd_gar_geomed(const byzgd_gar_config_t *config, byzgd_gar_result_t *result,
                      byzgd_gar_workspace_t *ws, size_t n, size_t d);
// Returns 0, or -1 with a message when the caller's centre is not finite.
int byzgd_gar_cclip(const byzgd_gar_config_t *config, byzgd_gar_result_t *result,
                    byzgd_gar_workspace_t *ws, size_t n, size_t d, char *error, size_t error_size);

// Pre-aggregators (gar_pre.c). Each replaces ws->rows[0..*n) and the membership lists.
// Returns 0, or -1 when out of memory.
int byzgd_gar_pre_aggregate(const byzgd_gar_config_t *config, byzgd_gar_workspace_t *ws, size_t *n,
                            size_t d, char *error, size_t error_size);

// qsort comparison of two doubles, ascending (NaN compares equal to everything).
int byzgd_gar_compare_double(const void *a, const void *b);

// n choose k, saturated at SIZE_MAX.
size_t byzgd_gar_binomial(size_t n, size_t k);

#endif
