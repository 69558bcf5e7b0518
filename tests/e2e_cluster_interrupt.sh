#!/usr/bin/env bash
# Ctrl-C (SIGINT to byzgd-cluster) in the middle of a real run: exit status 130, the
# server wrote its final checkpoint on the way out, and no process of the run remains.
# Also: a bad flag exits 2 at once and starts nothing.
# Secure transport (the default): keys in the run directory, so no process of another run on
# this machine can join this cluster through a reused port.
set -u
. "$(dirname "$0")/support/e2e_lib.bash"
e2e_need byzgd-cluster byzgd-server byzgd-worker byzgd-byzantine byzgd-keygen

run=$E2E_DIR/run
"$BYZGD_BIN/byzgd-cluster" --run-dir "$run" --workers 6 --byzantine 1 --attack signflip \
    --rule multi-krum --model logreg --dataset synthetic --rounds 1000000 --batch 16 \
    --lr 0.1 --seed 4 --timeout 120 ${E2E_CLUSTER_FLAGS:-} >"$run.out" 2>&1 &
launcher=$!
e2e_wait_for 60 "the first rounds" e2e_metrics_rounds_at_least "$run" 3
[[ $(wc -l <"$run/pids") -eq 8 ]] || e2e_fail "pids should list the launcher, the server and 6 workers" "$run/pids"
kill -INT "$launcher"
wait "$launcher"
e2e_expect_status $? 130 "$run.out"
e2e_no_process_left "$run"
e2e_no_sanitizer_report "$run"
grep -q "Interrupt: stopping every process" "$run.out" || e2e_fail "no interrupt message" "$run.out"
grep -q "^summary: failed " "$run.out" || e2e_fail "no summary" "$run.out"
[[ -s "$run/checkpoint" ]] || e2e_fail "the server wrote no checkpoint when stopped"

bad=$E2E_DIR/bad
"$BYZGD_BIN/byzgd-cluster" --run-dir "$bad" --workers 6 --rule multi-krum --roudns 5 >"$bad.out" 2>&1
e2e_expect_status $? 2 "$bad.out"
grep -q "unknown option --roudns" "$bad.out" || e2e_fail "bad flag message" "$bad.out"
[[ ! -e "$bad" ]] || e2e_fail "a bad flag still created the run directory"
