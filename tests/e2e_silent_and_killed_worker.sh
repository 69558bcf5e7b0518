#!/usr/bin/env bash
# A silent Byzantine worker (never proposes) and an honest worker killed with SIGKILL in
# the middle of the run do not stall the rounds: every round still completes, each within
# the deadline plus a slack for a loaded 2-core machine, and the run ends normally.
# Secure transport (the default): keys in the run directory, so no process of another run on
# this machine can join this cluster through a reused port.
set -u
. "$(dirname "$0")/support/e2e_lib.bash"
e2e_need byzgd-cluster byzgd-server byzgd-worker byzgd-byzantine byzgd-keygen

deadline_ms=400
slack_s=1.5
rounds=25
run=$E2E_DIR/run
# n = 8: 7 honest (one of them killed below) and 1 silent; the quorum stays n, so each
# round closes on its deadline. f = 1 keeps Multi-Krum's precondition with 6 proposals.
"$BYZGD_BIN/byzgd-cluster" --run-dir "$run" --workers 8 --byzantine 1 --misbehave silence -f 1 \
    --rule multi-krum --model logreg --dataset synthetic --rounds $rounds --batch 16 --lr 0.1 \
    --seed 3 --deadline-ms $deadline_ms --eval-every 5 --timeout 120 --quiet \
    ${E2E_CLUSTER_FLAGS:-} >"$run.out" 2>&1 &
launcher=$!
e2e_wait_for 60 "the first rounds" e2e_metrics_rounds_at_least "$run" 3
victim=$(e2e_pid "$run" worker-02)
[[ -n "$victim" ]] || e2e_fail "no worker-02 in $run/pids" "$run/pids"
kill -KILL "$victim"
killed_after=$(e2e_metrics_lines "$run")
wait "$launcher"
e2e_expect_status $? 0 "$run.out"
e2e_no_process_left "$run"
e2e_no_sanitizer_report "$run"
grep -q "worker-02 killed by signal 9" "$run.out" || e2e_fail "the kill was not reported" "$run.out"

python3 - "$run/metrics.jsonl" "$rounds" "$deadline_ms" "$slack_s" "$killed_after" <<'PY' || exit 1
import json, sys
path, rounds, deadline_ms, slack_s, killed_after = sys.argv[1:]
rows = [json.loads(line) for line in open(path)]
rounds, limit = int(rounds), int(deadline_ms) / 1000 + float(slack_s)
assert [r["round"] for r in rows] == list(range(1, rounds + 1)), "rounds missing or repeated"
# Round 1 includes the workers' start-up; every later round is bounded by the deadline.
durations = [b["elapsed_s"] - a["elapsed_s"] for a, b in zip(rows, rows[1:])]
worst = max(durations)
after_kill = [r["accepted"] for r in rows[int(killed_after) + 1:]]
print(f"{rounds} rounds, slowest {worst:.3f} s (limit {limit:.3f} s), "
      f"{sum(bool(r.get('deadline')) for r in rows)} closed on the deadline, "
      f"accepted after the kill: {sorted(set(after_kill))}")
assert worst <= limit, f"a round took {worst:.3f} s > {limit:.3f} s"
assert all(r.get("deadline") for r in rows[1:]), "rounds should close on their deadline (silent worker)"
assert max(r["accepted"] for r in rows) <= 7, "the silent worker's proposals were accepted"
assert after_kill and max(after_kill) <= 6, "proposals from the killed worker after its death"
acc = [r["test_accuracy"] for r in rows if "test_accuracy" in r]
assert acc and acc[-1] >= 0.8, f"training stalled: final accuracy {acc[-1] if acc else None}"
PY
