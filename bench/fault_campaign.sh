#!/usr/bin/env bash
# Fault campaign (docs/RELIABILITY.md): real clusters on this machine, killed on purpose.
#
#   bench/fault_campaign.sh server-kills   kill -9 of byzgd-server at KILLS (20) random
#                                          points of one supervised run: every restart must
#                                          resume from a valid checkpoint, the run must
#                                          finish, metrics rounds 1..R exactly once each
#   bench/fault_campaign.sh worker-kills   kill -9 of f honest workers mid-run: every later
#                                          round closes by its deadline, the run finishes
#
# BYZGD_BIN (default build/bin) selects the build; KILLS, ROUNDS and SEED the campaign.
# Exit status 0 when every check held. tests/e2e_fault_server_kills.sh runs a short one.
set -u
mode=${1:?usage: fault_campaign.sh server-kills|worker-kills}
root=$(cd "$(dirname "$0")/.." && pwd)
BYZGD_BIN=${BYZGD_BIN:-$root/build/bin}
# E2E_DIR (every process mentioning it killed at exit; kept on failure), e2e_fail, e2e_pid.
. "$root/tests/support/e2e_lib.bash"
bin=$BYZGD_BIN
seed=${SEED:-$RANDOM}
RANDOM=$seed
run=$E2E_DIR/run

case $mode in
server-kills)
    kills=${KILLS:-20}
    rounds=${ROUNDS:-3000}
    # 20 kills in a few minutes are a crash storm by design: the restart budget is raised
    # so that it measures recovery, not the budget (SECURITY.md §5 tests the budget).
    "$bin/byzgd-cluster" --run-dir "$run" --workers 8 --byzantine 1 --attack signflip \
        --rule multi-krum --model logreg --dataset synthetic --rounds "$rounds" --batch 16 \
        --lr 0.1 --seed 11 --eval-every 100 --checkpoint-every 5 --max-restarts $((kills + 5)) \
        --timeout 1800 --quiet >"$run.out" 2>&1 &
    launcher=$!
    # Kill points: KILLS distinct random metrics line counts in [5, rounds - 50], sorted.
    points=$(for _ in $(seq $((kills * 4))); do echo $((5 + (RANDOM * 32768 + RANDOM) % (rounds - 55))); done |
        sort -n -u | shuf --random-source=<(yes "$seed") -n "$kills" | sort -n)
    echo "seed $seed; kill points (metrics lines): $(echo $points)"
    done_kills=0
    for point in $points; do
        deadline=$((SECONDS + 300))
        until (($(e2e_metrics_lines "$run") >= point)); do
            kill -0 $launcher 2>/dev/null || e2e_fail "the run ended before kill $((done_kills + 1))" "$run.out"
            ((SECONDS < deadline)) || e2e_fail "no progress to line $point" "$run/logs/server.log"
            sleep 0.02
        done
        supervisor=$(e2e_pid "$run" server)
        server=""
        until [[ -n "$server" ]]; do
            server=$(pgrep -P "$supervisor" -x byzgd-server)
            ((SECONDS < deadline)) || e2e_fail "no byzgd-server under the supervisor" "$run/logs/server.log"
            [[ -n "$server" ]] || sleep 0.02
        done
        kill -KILL "$server"
        done_kills=$((done_kills + 1))
        echo "kill $done_kills at line $(e2e_metrics_lines "$run") (pid $server)"
        # The next kill only once the restarted server has resumed from its checkpoint: a
        # kill during the supervisor's back-off would not be a kill of the server, and one
        # before it read the checkpoint (two kill points a few lines apart) would count as
        # a restart that did not resume.
        until (($(grep -c "resuming after round" "$run/logs/server.log") >= done_kills)); do
            kill -0 $launcher 2>/dev/null || e2e_fail "the run ended after kill $done_kills" "$run.out"
            ((SECONDS < deadline)) || e2e_fail "the server did not resume after kill $done_kills" "$run/logs/server.log"
            sleep 0.02
        done
    done
    wait $launcher
    status=$?
    ((status == 0)) || e2e_fail "byzgd-cluster exited with $status" "$run.out"
    log=$run/logs/server.log
    killed=$(grep -c "ended abnormally (signal Killed" "$log")
    resumed=$(grep -c "^byzgd-server: resuming after round" "$log")
    echo "server kills: $killed, resumed from a valid checkpoint: $resumed"
    ((killed == kills && resumed == kills)) || e2e_fail "$resumed of $kills restarts resumed" "$log"
    python3 - "$run/metrics.jsonl" "$rounds" <<'PY' || e2e_fail "metrics" "$run/metrics.jsonl"
import json, sys
numbers = [json.loads(line)["round"] for line in open(sys.argv[1])]
rounds = int(sys.argv[2])
assert numbers == list(range(1, rounds + 1)), "metrics rounds are not 1..R exactly once"
print(f"metrics: rounds 1..{rounds}, contiguous, none duplicated")
PY
    grep "^summary:" "$run.out"
    ;;
worker-kills)
    rounds=${ROUNDS:-100}
    deadline_ms=1000
    # n = 10 of which f = 2 are declared; q = n, so once f honest workers are dead every
    # round waits for its deadline and closes with n - f proposals (multi-krum needs > 2f+2).
    "$bin/byzgd-cluster" --run-dir "$run" --workers 10 -f 2 --rule multi-krum --model logreg \
        --dataset synthetic --rounds "$rounds" --batch 16 --lr 0.1 --seed 12 --eval-every 100 \
        --deadline-ms $deadline_ms --timeout 1800 --quiet >"$run.out" 2>&1 &
    launcher=$!
    until (($(e2e_metrics_lines "$run") >= 20)); do
        kill -0 $launcher 2>/dev/null || e2e_fail "the run ended early" "$run.out"
        sleep 0.05
    done
    for name in worker-03 worker-07; do
        kill -KILL "$(e2e_pid "$run" $name)"
    done
    killed_at=$(e2e_metrics_lines "$run")
    echo "killed worker-03 and worker-07 after $killed_at rounds"
    wait $launcher
    # The launcher reports the killed workers; the run itself must succeed.
    grep -q "^summary: ok " "$run.out" || e2e_fail "the run did not finish" "$run.out"
    python3 - "$run/metrics.jsonl" "$killed_at" "$deadline_ms" <<'PY' || e2e_fail "metrics" "$run/metrics.jsonl"
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
killed_at, deadline = int(sys.argv[2]), int(sys.argv[3]) / 1000
after = rows[killed_at + 1:]
late = [r["round"] for r in after if r["collect_s"] > deadline + 0.25]
short = [r["round"] for r in after if r["accepted"] != 8]
slowest = max(r["collect_s"] for r in after)
print(f"{len(after)} rounds after the kill: slowest collect {slowest:.3f} s (deadline {deadline} s), "
      f"{sum(r['deadline'] for r in after)} closed by the deadline with 8 of 10 proposals")
assert not late, f"rounds closed later than the deadline + 0.25 s: {late[:10]}"
assert not short, f"rounds without exactly 8 proposals: {short[:10]}"
PY
    ;;
*)
    echo "usage: fault_campaign.sh server-kills|worker-kills" >&2
    exit 2
    ;;
esac
