#!/usr/bin/env bash
# Reliable shutdown at n = 20 (PROTOCOL.md §4.1): one byzgd-server and N (20) byzgd-worker
# processes started by hand, without the launcher, for a short secure run. Every worker
# must exit 0 within 2 s of the server's exit (README: BYE ends a worker). Prints how many
# did; exit status 0 only if all did. Runs the build in BYZGD_BIN (default build/bin).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BYZGD_BIN:-$root/build/bin}
n=${N:-20}
work=$(mktemp -d /tmp/byzgd-shutdown-XXXXXX)
cleanup() {
    local status=$?
    pkill -KILL -f -- "$work/" 2>/dev/null
    if ((status == 0)); then rm -rf "$work"; else echo "kept $work for inspection"; fi
}
trap cleanup EXIT
"$bin/byzgd-keygen" "$work/keys" --workers "$n" >/dev/null 2>&1 || exit 1
"$bin/byzgd-server" --endpoint "ipc://$work/server.ipc" --workers "$n" --model logreg \
    --dataset synthetic --rounds 60 --rule median --eval-every 0 --keys "$work/keys" \
    --quiet >"$work/server.log" 2>&1 &
server=$!
pids=()
for ((i = 0; i < n; i++)); do
    (
        "$bin/byzgd-worker" --endpoint "ipc://$work/server.ipc" \
            --cert "$work/keys/workers/worker-$(printf %03d $i).cert" \
            --server-cert "$work/keys/server.cert" >"$work/worker-$i.log" 2>&1
        echo "$? $(date +%s.%N)" >"$work/worker-$i.end"
    ) &
    pids+=($!)
done
wait $server
server_status=$?
server_end=$(date +%s.%N)
wait "${pids[@]}"
ok=0 late=0 failed=0
for ((i = 0; i < n; i++)); do
    read -r status end <"$work/worker-$i.end"
    if ((status != 0)); then
        failed=$((failed + 1))
    elif awk -v a="$end" -v b="$server_end" 'BEGIN { exit !(a - b > 2) }'; then
        late=$((late + 1))
    else
        ok=$((ok + 1))
    fi
done
echo "shutdown at n = $n: server exit $server_status; $ok workers exited 0 within 2 s, $late later, $failed with an error"
((server_status == 0 && ok == n))
