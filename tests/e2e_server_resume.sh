#!/usr/bin/env bash
# The server is killed with SIGKILL in the middle of a run (its supervisor, which takes
# byzgd-server along, so nothing restarts it; the launcher then fails and
# stops the workers); `byzgd-cluster --config RUN_DIR/config --run-dir RUN_DIR --resume`
# restarts everything and the server continues from its last checkpoint: metrics.jsonl
# is cut back to the saved round, goes on at the saved round + 1 and reaches the last round,
# every round exactly once.
# Secure transport (the default): keys in the run directory, so no process of another run on
# this machine can join this cluster through a reused port.
set -u
. "$(dirname "$0")/support/e2e_lib.bash"
e2e_need byzgd-cluster byzgd-server byzgd-worker byzgd-byzantine byzgd-keygen

rounds=300
run=$E2E_DIR/run
"$BYZGD_BIN/byzgd-cluster" --run-dir "$run" --workers 5 --rule median --model logreg \
    --dataset synthetic --rounds $rounds --batch 16 --lr 0.1 --seed 9 --checkpoint-every 5 \
    --eval-every 50 --timeout 120 --quiet ${E2E_CLUSTER_FLAGS:-} >"$run.first.out" 2>&1 &
launcher=$!
e2e_wait_for 60 "rounds past the first checkpoints" e2e_metrics_rounds_at_least "$run" 12
server=$(e2e_pid "$run" server)
[[ -n "$server" ]] || e2e_fail "no server in $run/pids" "$run/pids"
kill -KILL "$server"
wait "$launcher"
e2e_expect_status $? 1 "$run.first.out"
grep -q "the server killed by signal 9" "$run.first.out" || e2e_fail "the server's death was not reported" "$run.first.out"
e2e_no_process_left "$run"
first_lines=$(e2e_metrics_lines "$run")
((first_lines < rounds)) || e2e_fail "the run finished before the server was killed; kill earlier"
saved=$(python3 -c '
import struct, sys
data = open(sys.argv[1], "rb").read(24)
assert data[:8] == b"BYZGDCKP", "not a checkpoint"
print(struct.unpack("<Q", data[16:24])[0])' "$run/checkpoint") || e2e_fail "cannot read the checkpoint"
echo "killed after $first_lines metrics lines; checkpoint at round $saved"
((saved >= 5 && saved <= first_lines && saved > first_lines - 15)) || e2e_fail "unexpected checkpoint round $saved"

"$BYZGD_BIN/byzgd-cluster" --config "$run/config" --run-dir "$run" --resume --quiet \
    ${E2E_CLUSTER_FLAGS:-} >"$run.second.out" 2>&1
e2e_expect_status $? 0 "$run.second.out"
e2e_no_process_left "$run"
e2e_no_sanitizer_report "$run"
python3 - "$run/metrics.jsonl" "$first_lines" "$saved" "$rounds" <<'PY' || exit 1
import json, sys
path, first_lines, saved, rounds = sys.argv[1], *map(int, sys.argv[2:])
rows = [json.loads(line) for line in open(path)]
numbers = [r["round"] for r in rows]
print(f"killed after {first_lines} lines, resumed after round {saved}: {len(numbers)} lines")
# The lines past the checkpoint were cut and those rounds trained again: each round once.
assert numbers == list(range(1, rounds + 1)), "metrics rounds are not 1..R exactly once"
assert rows[-1].get("test_accuracy", 0) >= 0.8, "the resumed run did not keep training"
PY
