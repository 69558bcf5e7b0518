#!/usr/bin/env bash
# One byzgd-simulate run and two byzgd-cluster runs with the same flags, attackers
# included, write the same
# metrics.jsonl apart from time fields (*_s) and `disconnects` (connections the transport
# dropped, e.g. a CURVE handshake retried while the server starts: a timing fact): slots are bound to keys (worker-NNN → slot NNN, so
# shards and random streams do not follow join order) and rows enter the rule in slot
# order (quorum n); the simulator runs the same worker code and round engine in one
# process. The launcher records the Byzantine slots and adds selected_byzantine, the
# simulator writes it directly. A fourth run, the simulator of the release build, too.
# n = 7, 2 Gaussian attackers, Multi-Krum, MLP on Fashion-MNIST, 12 rounds. Evaluations at
# rounds 5, 10 and 12 on 2000 test examples: the simulator computes each in 8 chunks during
# the next rounds, and the one of round 10 is still pending when round 12's is queued.
set -u
. "$(dirname "$0")/support/e2e_lib.bash"
e2e_need byzgd-cluster byzgd-server byzgd-worker byzgd-byzantine byzgd-keygen byzgd-simulate
e2e_need_fashion_mnist

settings=(--workers 7 --byzantine 2 --attack gaussian --rule multi-krum --model mlp
          --dataset fashion-mnist --rounds 12 --batch 16 --lr 0.05 --seed 3 --eval-every 5
          --eval-examples 2000 --quiet)
for run in first second; do
    e2e_cluster "$E2E_DIR/$run" "${settings[@]}" --timeout 300
    e2e_expect_status $? 0 "$E2E_DIR/$run.out"
    e2e_no_process_left "$E2E_DIR/$run"
    e2e_no_sanitizer_report "$E2E_DIR/$run"
done
# Simulated: the same settings (the transport ones would be refused), two threads.
"$BYZGD_BIN/byzgd-simulate" --run-dir "$E2E_DIR/simulated" "${settings[@]}" --threads 2 \
    >"$E2E_DIR/simulated.out" 2>&1
e2e_expect_status $? 0 "$E2E_DIR/simulated.out"
grep -q "^summary: ok rule=multi-krum attack=gaussian workers=7 byzantine=2 rounds=12 " \
    "$E2E_DIR/simulated.out" || e2e_fail "no summary line" "$E2E_DIR/simulated.out"
# The release build (-O3 -march=native) must agree with the sanitizer build (-O1) to the
# last bit too: unit tests run only the latter, so a kernel whose result depends on the
# compiler's flags would otherwise show only in the benches.
release_bin=$BYZGD_ROOT/build/bin
[[ -x "$release_bin/byzgd-simulate" ]] || e2e_fail "the release build is missing ($release_bin)"
"$release_bin/byzgd-simulate" --run-dir "$E2E_DIR/release" "${settings[@]}" --threads 2 \
    >"$E2E_DIR/release.out" 2>&1
e2e_expect_status $? 0 "$E2E_DIR/release.out"
for run in first simulated; do
    [[ $(tr '\n' ' ' <"$E2E_DIR/$run/byzantine-slots") == "5 6 " ]] ||
        e2e_fail "$run: byzantine-slots should list slots 5 and 6" "$E2E_DIR/$run/byzantine-slots"
done
e2e_same_metrics --rounds 12 "$E2E_DIR"/{first,second,simulated,release}/metrics.jsonl ||
    e2e_fail "the four runs differ"
python3 - "$E2E_DIR/first/metrics.jsonl" <<'PY' || exit 1
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
for row in rows:
    assert row["accepted"] == 7 and "selected_byzantine" in row, row
    kept = sum(1 for slot in row["selected"] if slot >= 5)
    assert row["selected_byzantine"] == kept, row
print(f"Byzantine rows kept: {sum(r['selected_byzantine'] for r in rows)}")
PY
