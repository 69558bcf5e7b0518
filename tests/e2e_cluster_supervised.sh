#!/usr/bin/env bash
# byzgd-cluster runs the server under byzgd-supervise by default: the byzgd-server process
# (not the supervisor) is killed with SIGKILL mid-run, as by a libzmq assertion or the
# memory cap (docs/SECURITY.md §4-§5); the supervisor restarts it with --resume on the same
# endpoint, the workers reconnect, and the run finishes with exit 0 and metrics past the
# kill point. Secure transport (the default), Byzantine workers included.
set -u
. "$(dirname "$0")/support/e2e_lib.bash"
e2e_need byzgd-cluster byzgd-server byzgd-worker byzgd-byzantine byzgd-keygen byzgd-supervise

rounds=5000
run=$E2E_DIR/run
"$BYZGD_BIN/byzgd-cluster" --run-dir "$run" --workers 8 --byzantine 1 --attack gaussian \
    --rule multi-krum --model logreg --dataset synthetic --rounds $rounds --batch 16 --lr 0.1 \
    --seed 5 --checkpoint-every 5 --eval-every 1000 --timeout 300 --quiet ${E2E_CLUSTER_FLAGS:-} \
    >"$run.out" 2>&1 &
launcher=$!
e2e_wait_for 60 "rounds past the first checkpoints" e2e_metrics_rounds_at_least "$run" 200
supervisor=$(e2e_pid "$run" server)
[[ -n "$supervisor" ]] || e2e_fail "no server in $run/pids" "$run/pids"
[[ $(cat "/proc/$supervisor/comm" 2>/dev/null) == byzgd-supervise ]] ||
    e2e_fail "the launcher's server is not byzgd-supervise" "$run/logs/server.log"
server=$(pgrep -P "$supervisor" -x byzgd-server)
[[ -n "$server" ]] || e2e_fail "no byzgd-server under the supervisor" "$run/logs/server.log"
endpoint=$(cat "$run/endpoint")
kill -KILL "$server"
killed_at=$(e2e_metrics_lines "$run")
((killed_at < rounds)) || e2e_fail "the run finished before the server was killed; kill earlier"
echo "killed byzgd-server $server after $killed_at metrics lines"

wait "$launcher"
e2e_expect_status $? 0 "$run.out"
e2e_no_process_left "$run"
s_e2e_alive "$server" && e2e_fail "the killed server $server is still there"
e2e_no_sanitizer_report "$run"
grep -q "^summary: ok " "$run.out" || e2e_fail "no successful summary" "$run.out"
grep -q "child $server ended abnormally (signal Killed" "$run/logs/server.log" &&
    grep -q "restart 1 in [0-9]* ms (.* of 10 restarts left) with --resume" "$run/logs/server.log" ||
    e2e_fail "the supervisor did not restart the server" "$run/logs/server.log"
[[ $(grep -c "listening on $endpoint\$" "$run/logs/server.log") -eq 2 ]] ||
    e2e_fail "the restarted server did not bind $endpoint again" "$run/logs/server.log"
resumed=$(sed -n 's/^byzgd-server: resuming after round \([0-9]*\) .*/\1/p' "$run/logs/server.log")
[[ -n "$resumed" ]] || e2e_fail "the restarted server did not resume" "$run/logs/server.log"
python3 - "$run/metrics.jsonl" "$resumed" "$rounds" "$killed_at" <<'PY' || exit 1
import json, sys
path, resumed, rounds, killed_at = sys.argv[1], *map(int, sys.argv[2:])
got = [json.loads(line) for line in open(path)]
numbers = [r["round"] for r in got]
# The restarted server cut the lines past its checkpoint and trained those rounds again:
# every round exactly once, in order (RELIABILITY.md).
print(f"killed after {killed_at} lines, resumed after the checkpoint of round {resumed}, up to {numbers[-1]}")
assert numbers == list(range(1, rounds + 1)), "metrics rounds are not 1..R exactly once"
assert killed_at - 15 < resumed <= killed_at + 1, "resumed far from the last checkpoint"
assert got[-1].get("test_accuracy", 0) >= 0.8, "the resumed run did not keep training"
PY
