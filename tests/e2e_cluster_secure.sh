#!/usr/bin/env bash
# byzgd-cluster runs secure by default: it creates CURVE keys in RUN_DIR/keys with
# byzgd-keygen (the server's public certificate in a file named server.cert, secrets 0600),
# the server authenticates every worker by its key, and a run completes. With Byzantine
# workers too, since they hold keys like everybody else (authenticated insiders).
set -u
. "$(dirname "$0")/support/e2e_lib.bash"
e2e_need byzgd-cluster byzgd-server byzgd-worker byzgd-byzantine byzgd-keygen

run=$E2E_DIR/run
e2e_cluster "$run" --workers 6 --byzantine 1 --attack gaussian --rule krum --model logreg \
    --dataset synthetic --rounds 10 --batch 16 --lr 0.1 --seed 2 --eval-every 5 \
    --deadline-ms 5000 --timeout 90 --quiet
status=$?
e2e_no_process_left "$run"
e2e_expect_status $status 0 "$run/logs/server.log"
e2e_no_sanitizer_report "$run"
[[ -f $run/keys/server.cert && -f $run/keys/server.cert_secret ]] || e2e_fail "no server keys in RUN_DIR/keys"
[[ $(ls "$run"/keys/workers/*.cert_secret | wc -l) -eq 6 ]] || e2e_fail "expected 6 worker secrets"
for secret in "$run"/keys/server.cert_secret "$run"/keys/workers/*.cert_secret; do
    [[ $(stat -c %a "$secret") == 600 ]] || e2e_fail "$secret is not mode 0600"
done
grep -q -- "--keys $run/keys" "$run/config" && e2e_fail "keys leaked into the config"
grep -q '^insecure = false$' "$run/config" || e2e_fail "the run was not secure" "$run/config"
grep -qi "insecure" "$run/logs/server.log" && e2e_fail "the server ran insecure" "$run/logs/server.log"
python3 - "$run/metrics.jsonl" <<'PY' || exit 1
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
assert [r["round"] for r in rows] == list(range(1, 11)), "rounds missing"
rejected = sum(r["rejected"] if isinstance(r["rejected"], int) else sum(r["rejected"].values()) for r in rows)
assert all(r["accepted"] == 6 for r in rows), "every authenticated worker should be accepted each round"
print(f"10 rounds with 6 authenticated workers, {rejected} rejected, final accuracy {rows[-1]['test_accuracy']}")
PY
