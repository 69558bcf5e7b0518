/*  resilience.h — a live estimate of the condition of Blanchard et al. (NeurIPS 2017),
    Proposition 1: Krum is (α, f)-Byzantine resilient when

        η(n, f) · √d · σ < ‖g‖,   η(n, f)² = 2 (n − f + (f (n − f − 2) + f² (n − f − 1))
                                                       / (n − 2f − 2)),

    where the n − f honest rows are i.i.d. with mean g and E‖V − g‖² = d σ², and then
    sin α = η √d σ / ‖g‖. The server sees neither σ nor g, only the n rows of a round (some
    of them Byzantine) and the aggregate it computed, so this module estimates both:

    - d σ² from the rows, with a Byzantine-resistant scale estimator: for i.i.d. honest rows
      E‖V_i − V_j‖² = 2 d σ², and we take half of med_i med_{j≠i} ‖V_i − V_j‖² (the S_n
      estimator of Rousseeuw and Croux, 1993, applied to squared Euclidean distances). While
      f < (n − 1) / 2, the inner median of an honest row lies between two of its distances
      to honest rows, and the outer median lies between two such honest values: the f
      Byzantine rows can move the estimate only within the range of honest distances, never
      to 0 (hiding a large spread) nor to infinity. The average of all distances has no such
      bound (one far row inflates it), and the median of all pairwise distances breaks at
      f = 6 of n = 20 already, where honest pairs (91 of 190) are a minority.
    - ‖g‖ by ‖aggregate‖. With noisy rows this overestimates ‖g‖ (E‖V‖² = ‖g‖² + d σ²), so
      the ratio below errs on the optimistic side when the spread dominates.

    Notation (this module only): n rows of d floats, f the declared number of Byzantine rows.
    Pure computation: no I/O, no allocation beyond an n × n table per call. */
#ifndef BYZGD_RESILIENCE_H
#define BYZGD_RESILIENCE_H

#include <stddef.h>

typedef struct {
    size_t rows;           // finite rows the estimate used (non-finite rows are skipped)
    double sigma;          // σ̂: estimated per-coordinate standard deviation of honest rows
    double eta;            // η(rows, f); NaN when rows ≤ 2f + 2 (Proposition 1 needs more)
    double bound;          // η · √d · σ̂; NaN with eta
    double aggregate_norm; // ‖aggregate‖
    double ratio;          // bound / aggregate_norm: < 1 means the condition holds as estimated
                           // (then it is sin α); +Inf for a zero aggregate; NaN with eta
} byzgd_resilience_t;

// η(n, f) of Proposition 1; NaN unless 2f + 2 < n.
double byzgd_resilience_eta(size_t n, size_t f);

// Estimates the condition from n row-major rows (n × d floats) and the round's aggregate
// (d floats). Rows holding NaN or ±Inf are skipped. Returns 0, or -1 when fewer than two
// finite rows remain, d is 0 or the aggregate is not finite (*out then holds NaNs).
int byzgd_resilience_estimate(byzgd_resilience_t *out, const float *rows, size_t n, size_t d,
                              size_t f, const float *aggregate);

#endif
