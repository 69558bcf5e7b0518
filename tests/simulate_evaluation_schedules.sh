#!/usr/bin/env bash
# byzgd-simulate computes its test-set evaluations in chunks on its round threads, beside
# the next rounds' proposals (simulate/main.c): the results do not depend on the thread
# count, an evaluation every round and one at a last round that is no multiple of
# --eval-every are all made, and --eval-every 0 (no evaluation) runs (it once divided by
# zero). The progress line of an evaluated round, printed when its evaluation is done a
# few rounds later, shows that round's train loss (it once showed the latest round's).
# Synthetic data, logistic regression, n = 6 with one Gaussian attacker, Krum, 7 rounds.
set -u
. "$(dirname "$0")/support/e2e_lib.bash"
e2e_need byzgd-simulate
settings=(--workers 6 --byzantine 1 --attack gaussian --rule krum --model logreg
          --dataset synthetic --rounds 7 --batch 8 --lr 0.1 --seed 2)
s_simulate() { # run_dir flags...
    local run=$1
    shift
    "$BYZGD_BIN/byzgd-simulate" --run-dir "$run" "${settings[@]}" "$@" >"$run.out" 2>&1
    e2e_expect_status $? 0 "$run.out"
    grep -q "^summary: ok .* rounds=7 " "$run.out" || e2e_fail "no summary line" "$run.out"
}
s_evaluated_rounds() { # run_dir
    e2e_metrics "$1" '" ".join(str(r["round"]) for r in rows if "test_accuracy" in r)'
}
s_simulate "$E2E_DIR/every-3-threads-1" --eval-every 3 --threads 1 --quiet
s_simulate "$E2E_DIR/every-3-threads-2" --eval-every 3 --threads 2 # with progress lines
s_simulate "$E2E_DIR/every-3-threads-3" --eval-every 3 --threads 3 --quiet
[[ $(s_evaluated_rounds "$E2E_DIR/every-3-threads-1") == "3 6 7" ]] ||
    e2e_fail "evaluations at rounds $(s_evaluated_rounds "$E2E_DIR/every-3-threads-1"), not 3 6 7"
e2e_same_metrics --rounds 7 "$E2E_DIR"/every-3-threads-{1,2,3}/metrics.jsonl ||
    e2e_fail "the thread count changed the metrics"
python3 - "$E2E_DIR/every-3-threads-2" <<'PY' || e2e_fail "progress lines" "$E2E_DIR/every-3-threads-2.out"
import json, re, sys
run = sys.argv[1]
losses = {r["round"]: r["train_loss"] for r in map(json.loads, open(f"{run}/metrics.jsonl"))}
shown = {}
for line in open(f"{run}.out"):
    match = re.match(r"round +(\d+)/7  test accuracy \S+  test loss \S+  train loss (\S+)  (\S+) rounds/s", line)
    if match:
        assert match.group(3) != "nan", line
        shown[int(match.group(1))] = match.group(2)
assert sorted(shown) == [3, 6, 7], shown
for round, loss in shown.items():
    assert loss == f"{losses[round]:.4f}", (round, loss, losses[round])
PY
s_simulate "$E2E_DIR/every-round" --eval-every 1 --threads 2 --quiet
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
s_simulate "$E2E_DIR/never" --eval-every 0 --threads 2 --quiet
[[ -z $(s_evaluated_rounds "$E2E_DIR/never") ]] || e2e_fail "--eval-every 0 evaluated"
echo "ok"
