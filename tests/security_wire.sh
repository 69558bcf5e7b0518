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
    # Background hammers are the jobs themselves (no graceful exit needed); workers and the
    # server run under `timeout` or directly and stop on SIGTERM.
    [[ -n "$pids" ]] && kill $pids 2>/dev/null
    [[ -n "$pids" ]] && kill -KILL $pids 2>/dev/null
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
    --rounds $rounds --eval-every 10 --seed 7 --deadline-ms 500 --keys "$keys" \
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
    exec "$bin/byzgd-hammer" --endpoint "$endpoint" "$@" >"$tmp/hammer-$name.log" 2>&1
}
# Outsiders first, so that they hit the server while honest workers are joining.
hammer_bg plaintext --plaintext --count 200 garbage &
hammer_bg random-key --random-key --server-cert "$keys/server.cert" bombs &
hammer_bg wrong-server-key --cert "$(cert $n)" --server-cert "$(cert 0)" --count 5 garbage &

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
# Revocation of an open connection: once 80 rounds are done (observed in the metrics), the
# operator appends the Sybil's key to the deny-list. Its three connections stay open, but
# from the next message on nothing of it may be counted (checked below: no duplicate, and
# `denied` rejections instead). In the background, so that it happens at round 80 however
# long the hammers below take (a fast server used to finish all rounds before them).
sybil_key=$(sed -n 's/^ *public-key = "\(.*\)"$/\1/p' "$sybil")
(
    for _ in $(seq 1200); do
        (($(wc -l <"$tmp/metrics.jsonl" 2>/dev/null || echo 0) >= 80)) && break
        kill -0 $server 2>/dev/null || break
        sleep 0.05
    done
    wc -l <"$tmp/metrics.jsonl" >"$tmp/revoked_after"
    echo "$sybil_key # revoked by security_wire.sh" >>"$keys/denied.txt"
) &
revoker=$!
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
wait $revoker
revoked_after=$(cat "$tmp/revoked_after")
grep -q 'ERROR: AddressSanitizer\|runtime error' "$tmp/server.log" && fail "sanitizer report"

python3 - "$tmp/metrics.jsonl" $rounds $n $honest "$tmp/hammer-malformed.log" "$revoked_after" \
    <<'EOF' || fail "metrics"
import json, math, re, sys
path, rounds, n, honest, malformed_log = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
revoked_after = int(sys.argv[6])
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
# The revocation lands during round revoked_after + 1; from the round after, the Sybil's
# proposals are denied, never decoded: no duplicate, no stale round from it, `denied` > 0.
later = [l for l in lines if l["round"] > revoked_after + 1]
assert later, f"no round after the revocation ({revoked_after})"
later_reasons = {}
for l in later:
    for k, v in l["rejected_by_reason"].items():
        later_reasons[k] = later_reasons.get(k, 0) + v
assert later_reasons.get("duplicate", 0) == 0, f"revoked key still counted: {later_reasons}"
assert later_reasons.get("denied", 0) > 0, f"no denied message after revocation: {later_reasons}"
assert all(l["accepted"] <= honest + 1 for l in later), "a revoked key's proposal was accepted?"
print(f"revoked the Sybil after round {revoked_after}: later rejections {later_reasons}")
print(f"rounds {len(lines)} in {lines[-1]['elapsed_s']:.1f} s, rejections {total} {reasons}, max accepted "
      f"{max(l['accepted'] for l in lines)}, final accuracy {last['test_accuracy']:.3f}, "
      f"test loss {last['test_loss']:.4f}")
EOF
grep '^hammer' "$tmp"/hammer-*.log | sed "s|^$tmp/||"
echo "security_wire: ok"
