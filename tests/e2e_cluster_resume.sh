#!/usr/bin/env bash
# Resume from the run directory alone (issue: `--resume --run-dir DIR` ignored DIR/config
# and overwrote it): a run stopped with SIGINT and resumed with `--resume --run-dir DIR`
# finishes every round of its original configuration, DIR/config unchanged, metrics rounds
# 1..R exactly once each, elapsed_s continuing; a flag given with --resume is recorded in
# DIR/config.resume; a resume that would change the model is refused (exit 2). Bad flags
# and rule preconditions exit 2 before anything exists on disk.
set -u
. "$(dirname "$0")/support/e2e_lib.bash"
e2e_need byzgd-cluster byzgd-server byzgd-worker byzgd-byzantine byzgd-keygen byzgd-supervise

rounds_in() { grep -o '"round":[0-9]*' "$1/metrics.jsonl" | cut -d: -f2; }
expect_rounds() { # run_dir last
    local expected actual
    expected=$(seq 1 "$2")
    actual=$(rounds_in "$1")
    [[ "$actual" == "$expected" ]] || e2e_fail "metrics rounds are not 1..$2 exactly once: $(echo $actual | head -c 400)"
}

run=$E2E_DIR/run
"$BYZGD_BIN/byzgd-cluster" --run-dir "$run" --workers 5 --byzantine 1 --attack signflip \
    --rule multi-krum --model logreg --dataset synthetic --rounds 400 --batch 16 \
    --lr 0.1 --seed 4 --eval-every 7 --checkpoint-every 5 --timeout 200 \
    ${E2E_CLUSTER_FLAGS:-} >"$run.out" 2>&1 &
launcher=$!
e2e_wait_for 90 "the first rounds" e2e_metrics_rounds_at_least "$run" 30
kill -INT "$launcher"
wait "$launcher"
e2e_expect_status $? 130 "$run.out"
e2e_no_process_left "$run"
cp "$run/config" "$E2E_DIR/config.before"
stopped=$(e2e_metrics_lines "$run")
((stopped < 400)) || e2e_fail "the run finished before the interrupt"
before_elapsed=$(tail -1 "$run/metrics.jsonl" | grep -o '"elapsed_s":[0-9.e+-]*' | cut -d: -f2)

# A resume may not change what the checkpoint is a checkpoint of.
"$BYZGD_BIN/byzgd-cluster" --resume --run-dir "$run" --model mlp >"$run.refused" 2>&1
e2e_expect_status $? 2 "$run.refused"
grep -q "cannot change --model" "$run.refused" || e2e_fail "no refusal message" "$run.refused"
cmp -s "$run/config" "$E2E_DIR/config.before" || e2e_fail "a refused resume changed DIR/config"

"$BYZGD_BIN/byzgd-cluster" --resume --run-dir "$run" >"$run.resumed" 2>&1
e2e_expect_status $? 0 "$run.resumed"
e2e_no_process_left "$run"
e2e_no_sanitizer_report "$run"
cmp -s "$run/config" "$E2E_DIR/config.before" || e2e_fail "the resume changed DIR/config"
[[ ! -e "$run/config.resume" ]] || e2e_fail "config.resume written though no flag was given"
expect_rounds "$run" 400
grep -q "^summary: ok .*rounds=400 " "$run.resumed" || e2e_fail "summary" "$run.resumed"
first_resumed=$(sed -n "$((stopped + 1))p" "$run/metrics.jsonl" | grep -o '"elapsed_s":[0-9.e+-]*' | cut -d: -f2)
awk -v a="$before_elapsed" -v b="$first_resumed" 'BEGIN { exit !(b >= a) }' ||
    e2e_fail "elapsed_s restarted: $before_elapsed before the stop, $first_resumed after"

# Flags given with --resume override, and are recorded beside DIR/config.
"$BYZGD_BIN/byzgd-cluster" --resume --run-dir "$run" --rounds 420 >"$run.more" 2>&1
e2e_expect_status $? 0 "$run.more"
cmp -s "$run/config" "$E2E_DIR/config.before" || e2e_fail "the second resume changed DIR/config"
grep -qx "rounds = 420" "$run/config.resume" || e2e_fail "config.resume lacks the override" "$run/config.resume"
expect_rounds "$run" 420

# Every flag and the rule's precondition are checked before anything is created.
for flags in "--lr-schedule bogus" "--hidden 0,0" "--rule krum --workers 6 --byzantine 2 --attack gaussian" \
    "--model nosuch" "--rule multi-krum -m 0"; do
    bad=$E2E_DIR/bad
    # shellcheck disable=SC2086 # the flags are words on purpose
    "$BYZGD_BIN/byzgd-cluster" --run-dir "$bad" --dataset synthetic --model logreg $flags >"$bad.out" 2>&1
    e2e_expect_status $? 2 "$bad.out"
    [[ ! -e "$bad" ]] || e2e_fail "'$flags' still created the run directory"
done
