#!/usr/bin/env bash
# Byzantine workers that break the protocol: one sends its proposal twice per round, one
# labels it with a past round, one sends d + 1 floats, one sends random bytes. Each kind is
# rejected and counted by reason in metrics.jsonl, every round completes, and Krum still
# trains on the honest proposals.
# Secure transport (the default): keys in the run directory, so no process of another run on
# this machine can join this cluster through a reused port.
set -u
. "$(dirname "$0")/support/e2e_lib.bash"
e2e_need byzgd-cluster byzgd-server byzgd-worker byzgd-byzantine byzgd-keygen

rounds=20
run=$E2E_DIR/run
# n = 11 of which 4 misbehave. The duplicate's first copy is a valid proposal, so 8 valid
# proposals arrive per round. The quorum is 9, one more than can arrive, so every round
# stays open until its (adaptive) deadline and the duplicate's second copy always reaches
# an open round: with a quorum of 8 the round closes on the 8th proposal, and when that is
# the duplicate's first copy its second one is counted as stale instead (seen under load).
# The rule declares f = 2 so that Krum's precondition holds for 8 (8 > 2f + 2).
e2e_cluster "$run" --workers 11 --byzantine 4 --misbehave duplicate,stale,wrong-dimension,garbage \
    -f 2 --rule krum --quorum 9 --deadline-ms 2000 --model logreg --dataset synthetic --rounds $rounds \
    --batch 16 --lr 0.1 --seed 5 --eval-every 5 --timeout 120 --quiet
e2e_expect_status $? 0 "$run.out"
e2e_no_process_left "$run"
e2e_no_sanitizer_report "$run"

python3 - "$run/metrics.jsonl" "$rounds" <<'PY' || exit 1
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
rounds = int(sys.argv[2])
assert [r["round"] for r in rows] == list(range(1, rounds + 1)), "rounds missing or repeated"
totals = {}
for r in rows:
    by_reason = r.get("rejected_by_reason", r.get("rejected"))
    for reason, count in (by_reason if isinstance(by_reason, dict) else {}).items():
        totals[reason] = totals.get(reason, 0) + count
print("rejected by reason over the run:", totals)
# Reasons by substring, so "stale" matches "stale_round" and "dimension" "wrong_dimension".
for reason in ("duplicate", "stale", "dimension", "malformed"):
    count = sum(c for name, c in totals.items() if reason in name)
    assert count > 0, f"no '{reason}' rejection counted"
# In round 1 the stale worker has no past round to label its proposal with: it is valid.
assert all(r["accepted"] <= (9 if r["round"] == 1 else 8) for r in rows), \
    "more proposals accepted than valid senders"
acc = [r["test_accuracy"] for r in rows if "test_accuracy" in r]
print("final test accuracy", acc[-1])
assert acc[-1] >= 0.85, "Krum did not train on the honest proposals"
PY
