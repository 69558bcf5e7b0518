#!/usr/bin/env bash
# Attacks over the wire against the real server (sanitizer build) with byzgd-hammer, while
# five honest workers train: outsiders (plaintext, random key, wrong server key), msgpack
# bombs and garbage, the table of malformed messages from an authenticated worker, a Sybil
# key with three connections sending NaN/±Inf/huge/denormal proposals, and a zero-prefixed
# routing id. Then: the server ended cleanly (ASan/UBSan would abort it), every round
# completed, no round accepted more than n proposals (nor more than one per identity), the
# malformed messages were all rejected and counted, the model is finite and still learns.
set -u
bin=${BYZGD_BIN:-build/asan/bin}
for program in byzgd-server byzgd-worker byzgd-keygen byzgd-hammer; do
    [[ -x "$bin/$program" ]] || { echo "no $bin/$program (the server is not built yet)"; exit 77; }
done
tmp=$(mktemp -d)
main_shell=$BASHPID
cleanup() {
    # Background functions are subshells that inherit this trap: only the main shell cleans.
    [[ $BASHPID == "$main_shell" ]] || return 0
    local pids
    pids=$(jobs -pr)
    [[ -n "$pids" ]] && kill $pids 2>/dev/null
    wait 2>/dev/null
    [[ -n "${KEEP:-}" ]] || rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$tmp"/*.log; do echo "== $f"; tail -15 "$f"; done; exit 1; }

honest=5 attackers=4 rounds=100
n=$((honest + attackers))
keys=$tmp/keys
"$bin/byzgd-keygen" "$keys" --workers $((n + 1)) >/dev/null 2>&1 || fail "keygen"
cert() { printf '%s/workers/worker-%03d.cert' "$keys" "$1"; }

# Quorum = the honest workers + 1, so that a Sybil counted twice would close rounds with
# fewer honest proposals (and be seen in `accepted`); Krum with f = 1 (2f + 2 < 6).
"$bin/byzgd-server" --endpoint 'tcp://127.0.0.1:*' --endpoint-file "$tmp/endpoint" \
    --workers $n -f 1 --quorum $((honest + 1)) --rule krum --model logreg --dataset synthetic \
    --rounds $rounds --eval-every 10 --seed 7 --deadline-ms 3000 --keys "$keys" \
    --metrics "$tmp/metrics.jsonl" --quiet >"$tmp/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do [[ -s "$tmp/endpoint" ]] && break; sleep 0.1; done
[[ -s "$tmp/endpoint" ]] || fail "the server did not bind"
endpoint=$(cat "$tmp/endpoint")

hammer() { # log-name args...
    local name=$1
    shift
    timeout 60 "$bin/byzgd-hammer" --endpoint "$endpoint" "$@" >"$tmp/hammer-$name.log" 2>&1
}
# In the background: `hammer_bg NAME ARGS... &` makes the job the hammer process itself, so
# that killing the job stops the hammer (SIGTERM: it prints its summary and exits).
hammer_bg() {
    local name=$1
    shift
    exec timeout 300 "$bin/byzgd-hammer" --endpoint "$endpoint" "$@" >"$tmp/hammer-$name.log" 2>&1
}
# Outsiders first, so that they hit the server while honest workers are joining.
hammer_bg plaintext --plaintext --count 200 garbage &
hammer_bg random-key --random-key --server-cert "$keys/server.cert" bombs &
hammer_bg wrong-server-key --cert "$(cert $n)" --server-cert "$(cert 0)" --count 50 garbage &

for i in $(seq 0 $((honest - 1))); do
    timeout 300 "$bin/byzgd-worker" --endpoint "$endpoint" --cert "$(cert "$i")" \
        --server-cert "$keys/server.cert" >"$tmp/worker-$i.log" 2>&1 &
done

# Insiders (the server sends PARAMS to the latest connection of a key, so each long-lived
# role has its own key): `insider` sends bombs, the malformed table and, later, anonymous
# connections; `sybil` has three connections sending plausible proposals every round;
# `extreme` sends NaN/±Inf/huge/denormal proposals every round; `planter` holds open
# connections with zero-prefixed routing ids.
insider=$(cert $honest) sybil=$(cert $((honest + 1))) extreme=$(cert $((honest + 2)))
planter=$(cert $((honest + 3)))
hammer_bg sybil --cert "$sybil" --server-cert "$keys/server.cert" --connections 3 --seconds 300 \
    proposals &
sybil_pid=$!
hammer_bg nonfinite --cert "$extreme" --server-cert "$keys/server.cert" --seconds 300 nonfinite &
nonfinite_pid=$!
hammer bombs --cert "$insider" --server-cert "$keys/server.cert" bombs
hammer malformed --cert "$insider" --server-cert "$keys/server.cert" malformed ||
    fail "malformed hammer: $(tail -2 "$tmp/hammer-malformed.log")"
hammer zero-id --cert "$planter" --server-cert "$keys/server.cert" --routing-id 0000000001 \
    --count 100 garbage
# The collision sequence: zero-prefixed ids planted by one key (held open), then anonymous
# connections of another key, whose ids the ROUTER generates as 0x00 + counter. The counter
# is secret (byzgd_security_new seeds it), so the server must survive.
for i in 1 2 3 4 5 6; do
    hammer_bg plant-$i --cert "$planter" --server-cert "$keys/server.cert" \
        --routing-id "$(printf '00%08x' $((i * 715827882)))" --seconds 300 stall &
done
for i in 1 2 3 4 5 6; do
    hammer anonymous-$i --cert "$insider" --server-cert "$keys/server.cert" --anonymous \
        --count 5 garbage
done

wait $server
status=$?
kill $sybil_pid $nonfinite_pid 2>/dev/null
wait $sybil_pid $nonfinite_pid 2>/dev/null
((status == 0)) || fail "the server exited with status $status"
grep -q 'ERROR: AddressSanitizer\|runtime error' "$tmp/server.log" && fail "sanitizer report"

python3 - "$tmp/metrics.jsonl" $rounds $n $honest "$tmp/hammer-malformed.log" <<'EOF' || fail "metrics"
import json, math, re, sys
path, rounds, n, honest, malformed_log = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
lines = [json.loads(line) for line in open(path)]
assert len(lines) == rounds, f"{len(lines)} rounds of {rounds}"
assert [l["round"] for l in lines] == list(range(1, rounds + 1)), "rounds out of order"
for l in lines:
    # Five honest identities plus at most one per proposing attacker key (sybil, extreme):
    # the Sybil's three connections count once.
    assert l["accepted"] <= min(n, honest + 2), f"round {l['round']} accepted {l['accepted']}"
sent = int(re.search(r"malformed messages sent: (\d+)", open(malformed_log).read()).group(1))
assert sent >= 40, f"only {sent} malformed messages"
reasons = {}
for l in lines:
    for k, v in l["rejected_by_reason"].items():
        reasons[k] = reasons.get(k, 0) + v
total = sum(reasons.values())
assert total >= sent, f"{total} rejections counted < {sent} malformed messages sent"
assert reasons.get("unauthenticated", 0) == 0, "an unauthenticated message reached the server"
evaluated = [l for l in lines if "test_accuracy" in l]
assert evaluated, "no evaluation"
last = evaluated[-1]
assert isinstance(last["test_loss"], (int, float)) and math.isfinite(last["test_loss"]), last
assert last["test_accuracy"] > 0.75, f"accuracy {last['test_accuracy']}"
assert reasons.get("non_finite", 0) >= 10, f"too few non-finite proposals reached the server: {reasons}"
duplicates = reasons.get("duplicate", 0)
assert duplicates > 0, "the Sybil's extra connections never sent a duplicate (did it join?)"
print(f"rounds {len(lines)} in {lines[-1]['elapsed_s']:.1f} s, rejections {total} {reasons}, max accepted "
      f"{max(l['accepted'] for l in lines)}, final accuracy {last['test_accuracy']:.3f}, "
      f"test loss {last['test_loss']:.4f}")
EOF
grep '^hammer' "$tmp"/hammer-*.log | sed "s|^$tmp/||"
echo "security_wire: ok"
