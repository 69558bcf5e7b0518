#!/usr/bin/env bash
# byzgd-simulate computes its test-set evaluations in chunks on its round threads, beside
# the next rounds' proposals (simulate/main.c): the results do not depend on the thread
# count, an evaluation every round and one at a last round that is no multiple of
# --eval-every are all made, and --eval-every 0 (no evaluation) runs (it once divided by
# zero). Synthetic data, logistic regression, n = 6 with one Gaussian attacker, Krum.
set -u
. "$(dirname "$0")/support/e2e_lib.bash"
e2e_need byzgd-simulate
settings=(--workers 6 --byzantine 1 --attack gaussian --rule krum --model logreg
          --dataset synthetic --rounds 7 --batch 8 --lr 0.1 --seed 2 --quiet)
s_simulate() { # run_dir flags...
    local run=$1
    shift
    "$BYZGD_BIN/byzgd-simulate" --run-dir "$run" "${settings[@]}" "$@" >"$run.out" 2>&1
    e2e_expect_status $? 0 "$run.out"
    grep -q "^summary: ok .* rounds=7 " "$run.out" || e2e_fail "no summary line" "$run.out"
}
s_evaluated_rounds() { # run_dir
    python3 -c 'import json, sys
print(" ".join(str(r["round"]) for r in map(json.loads, open(sys.argv[1])) if "test_accuracy" in r))' \
        "$1/metrics.jsonl"
}
for threads in 1 2 3; do
    s_simulate "$E2E_DIR/every-3-threads-$threads" --eval-every 3 --threads "$threads"
done
[[ $(s_evaluated_rounds "$E2E_DIR/every-3-threads-1") == "3 6 7" ]] ||
    e2e_fail "evaluations at rounds $(s_evaluated_rounds "$E2E_DIR/every-3-threads-1"), not 3 6 7"
e2e_same_metrics --rounds 7 "$E2E_DIR"/every-3-threads-{1,2,3}/metrics.jsonl ||
    e2e_fail "the thread count changed the metrics"
s_simulate "$E2E_DIR/every-round" --eval-every 1 --threads 2
[[ $(s_evaluated_rounds "$E2E_DIR/every-round") == "1 2 3 4 5 6 7" ]] ||
    e2e_fail "evaluations at rounds $(s_evaluated_rounds "$E2E_DIR/every-round")"
# The resilience diagnosis comes with the evaluations (every --eval-every rounds).
ignored=()
for key in test_accuracy test_loss aggregate_norm resilience_bound resilience_eta resilience_ratio \
    sigma_estimate; do
    ignored+=(--ignore "$key")
done
e2e_same_metrics --rounds 7 "${ignored[@]}" "$E2E_DIR"/{every-round,every-3-threads-1}/metrics.jsonl ||
    e2e_fail "evaluating more often changed the training"
s_simulate "$E2E_DIR/never" --eval-every 0 --threads 2
[[ -z $(s_evaluated_rounds "$E2E_DIR/never") ]] || e2e_fail "--eval-every 0 evaluated"
echo "ok"
