#!/usr/bin/env bash
# A 100-worker secure cluster (30 Gaussian attackers, logistic regression on the synthetic
# mixture, 3 rounds) under the sanitizers: 100 keys, 100 handshakes, every worker accepted
# in every round, and nothing left behind. The ASan builds' quarantine is cut to 16 MB per
# process (the default 256 MB, a hundred times, would not fit next to other jobs).
set -u
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}:quarantine_size_mb=16
. "$(dirname "$0")/support/e2e_lib.bash"
e2e_need byzgd-cluster byzgd-server byzgd-worker byzgd-byzantine byzgd-keygen

run=$E2E_DIR/run
started=$SECONDS
e2e_cluster "$run" --workers 100 --byzantine 30 --attack gaussian --rule multi-krum \
    --model logreg --dataset synthetic --rounds 3 --batch 16 --lr 0.1 --seed 3 \
    --timeout 300 --quiet
status=$?
e2e_no_process_left "$run"
e2e_expect_status $status 0 "$run/logs/server.log"
e2e_no_sanitizer_report "$run"
python3 - "$run/metrics.jsonl" <<'PY' || exit 1
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
assert [r["round"] for r in rows] == [1, 2, 3], "rounds missing"
assert all(r["accepted"] == 100 for r in rows), [r["accepted"] for r in rows]
print(f"3 rounds with 100 workers; round 1 closed {rows[0]['elapsed_s']} s after launch")
PY
echo "finished in $((SECONDS - started)) s"
