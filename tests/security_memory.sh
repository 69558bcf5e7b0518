#!/usr/bin/env bash
# Memory bounds of the real server under attack, with the release binaries (build/bin):
# sanitizer builds reserve terabytes of address space and inflate RSS, so memory figures
# are only meaningful without them (`make check` builds both).
#  1. a flooding insider and an insider that stops reading, while 4 honest workers train a
#     d ≈ 97 000 model: the server's peak VmRSS stays within byzgd_security_memory_bound
#     (printed), the flood is rate-limited, every round completes;
#  2. an endless multipart message under byzgd-supervise: the server is killed at its
#     memory cap, restarted with --resume from its checkpoint, and the run finishes. The
#     attacker writes raw ZMTP (a libzmq DEALER never sends an unfinished message), so this
#     part runs the server --insecure; libzmq stores the frames the same way under CURVE.
set -u
root=${BYZGD_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
bin=$root/build/bin
for program in byzgd-server byzgd-worker byzgd-keygen byzgd-hammer byzgd-supervise; do
    [[ -x "$bin/$program" ]] || { echo "no $bin/$program (run make all)"; exit 77; }
done
tmp=$(mktemp -d)
main_shell=$BASHPID
cleanup() {
    [[ $BASHPID == "$main_shell" ]] || return 0
    local pids
    pids=$(jobs -pr)
    [[ -n "$pids" ]] && kill $pids 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$tmp"/*.log; do echo "== $f"; tail -12 "$f"; done; exit 1; }
keys=$tmp/keys
"$bin/byzgd-keygen" "$keys" --workers 8 >/dev/null 2>&1 || fail "keygen"
cert() { printf '%s/workers/worker-%03d.cert' "$keys" "$1"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
wait_endpoint() {
    for _ in $(seq 150); do [[ -s "$1" ]] && return 0; sleep 0.1; done
    return 1
}
workers() { # endpoint count log-prefix [--insecure]
    for i in $(seq 0 $(($2 - 1))); do
        if [[ ${4:-} == --insecure ]]; then
            "$bin/byzgd-worker" --endpoint "$1" --insecure --give-up-ms 30000 \
                >"$tmp/$3-$i.log" 2>&1 &
        else
            "$bin/byzgd-worker" --endpoint "$1" --cert "$(cert "$i")" --server-cert \
                "$keys/server.cert" --give-up-ms 30000 >"$tmp/$3-$i.log" 2>&1 &
        fi
    done
}

# ---- 1. flood and stalled reader
# The server is given far more rounds than needed and stopped (SIGTERM: clean finish) once
# it has completed $rounds rounds AND rate-limited the flood: a fixed round count could end
# before the flood reaches the limit on a fast machine.
honest=4 n=6 rounds=30 hidden=300
d=$((20 * hidden + hidden + hidden * hidden + hidden + hidden * 2 + 2))
high_water=4
bound=$(((256 << 20) + (high_water + 4) * n * 4 * d))
"$bin/byzgd-server" --endpoint 'tcp://127.0.0.1:*' --endpoint-file "$tmp/endpoint1" \
    --workers $n --quorum $honest --rule median --model mlp --hidden $hidden,$hidden \
    --dataset synthetic --rounds 1000000 --eval-every 0 --deadline-ms 5000 --keys "$keys" \
    --metrics "$tmp/metrics1.jsonl" --quiet >"$tmp/server1.log" 2>&1 &
server=$!
wait_endpoint "$tmp/endpoint1" || fail "server 1 did not bind"
endpoint=$(cat "$tmp/endpoint1")
"$bin/byzgd-hammer" --endpoint "$endpoint" --cert "$(cert 4)" --server-cert "$keys/server.cert" \
    --seconds 120 stall >"$tmp/stall.log" 2>&1 &
"$bin/byzgd-hammer" --endpoint "$endpoint" --cert "$(cert 5)" --server-cert "$keys/server.cert" \
    --seconds 120 flood >"$tmp/flood.log" 2>&1 &
workers "$endpoint" $honest worker1
peak=0 stopped=0 give_up=$((SECONDS + 120))
# Sampling (not synchronisation): the server's RSS every 50 ms until it exits.
while kill -0 $server 2>/dev/null; do
    rss=$(rss_kib $server)
    ((rss > peak)) && peak=$rss
    if ((!stopped)) && grep -q 'messages/s' "$tmp/server1.log" &&
        (($(wc -l <"$tmp/metrics1.jsonl" 2>/dev/null || echo 0) >= rounds)); then
        kill -TERM $server
        stopped=1
    fi
    ((SECONDS > give_up)) && { kill -KILL $server; fail "no $rounds rounds with a limited flood in 120 s"; }
    sleep 0.05
done
wait $server || fail "server 1 exited with status $?"
peak_bytes=$((peak * 1024))
echo "flood + stall: d = $d, n = $n, peak server RSS $((peak_bytes >> 20)) MiB, bound $((bound >> 20)) MiB"
((peak_bytes > 0 && peak_bytes <= bound)) || fail "peak RSS $peak_bytes > bound $bound"
python3 - "$tmp/metrics1.jsonl" $rounds <<'EOF' || fail "metrics 1"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) >= int(sys.argv[2]), f"{len(lines)} rounds"
reasons = {}
for l in lines:
    for k, v in l["rejected_by_reason"].items():
        reasons[k] = reasons.get(k, 0) + v
limited = reasons.get("rate_limited", 0) + reasons.get("denied", 0)
assert limited > 0, f"the flood was never limited: {reasons}"
print(f"rounds {len(lines)} in {lines[-1]['elapsed_s']:.1f} s; flood messages limited/denied: {limited}")
EOF
kill %2 %3 2>/dev/null
wait

# ---- 2. endless multipart under the supervisor
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
endpoint=tcp://127.0.0.1:$port
cap_mb=128
rounds=400
"$bin/byzgd-supervise" --memory-mb $cap_mb --checkpoint "$tmp/checkpoint" --max-restarts 3 -- \
    "$bin/byzgd-server" --endpoint "$endpoint" --workers 5 --quorum 4 --rule median \
    --model logreg --dataset synthetic --rounds $rounds --eval-every 0 --deadline-ms 5000 \
    --heartbeat-ms 200 --heartbeat-timeout-ms 2000 --checkpoint "$tmp/checkpoint" \
    --checkpoint-every 1 --insecure --metrics "$tmp/metrics2.jsonl" --quiet \
    >"$tmp/supervisor.log" 2>&1 &
supervisor=$!
workers "$endpoint" 4 worker2 --insecure
for _ in $(seq 150); do [[ -s "$tmp/checkpoint" ]] && break; sleep 0.1; done
[[ -s "$tmp/checkpoint" ]] || fail "no checkpoint written"
"$bin/byzgd-hammer" --endpoint "$endpoint" --plaintext rawmultipart >"$tmp/multipart.log" 2>&1 &
multipart=$!
for _ in $(seq 900); do grep -q 'killing it' "$tmp/supervisor.log" && break; sleep 0.1; done
kill $multipart 2>/dev/null
grep -q 'killing it' "$tmp/supervisor.log" || fail "the server was never killed at its cap"
wait $supervisor || fail "the supervised server ended with status $?"
grep -q 'restart 1 in .* with --resume' "$tmp/supervisor.log" || fail "no restart"
python3 - "$tmp/metrics2.jsonl" $rounds <<'EOF' || fail "metrics 2"
import json, sys
rounds = [json.loads(l)["round"] for l in open(sys.argv[1])]
assert rounds and rounds[-1] == int(sys.argv[2]), f"last round {rounds[-1] if rounds else None}"
print(f"endless multipart: killed at the cap, resumed, finished round {rounds[-1]}")
EOF
grep -h 'killing it\|restart [0-9]* in ' "$tmp/supervisor.log"
echo "security_memory: ok"
