#!/usr/bin/env bash
# Soak benchmark (docs/RELIABILITY.md; a benchmark, not a test): one secure supervised
# cluster (n = 10, one Byzantine worker, multi-krum, an MLP on the synthetic dataset) runs
# for SOAK_SECONDS (600) while byzgd-server's resident memory is sampled every 10 s. The
# drift is the last sample against the one at 60 s (after warm-up); it must stay < 5 %.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BYZGD_BIN:-$root/build/bin}
seconds=${SOAK_SECONDS:-600}
work=$(mktemp -d /tmp/byzgd-soak-XXXXXX)
cleanup() {
    local status=$?
    pkill -KILL -f -- "$work/" 2>/dev/null
    if ((status == 0)); then rm -rf "$work"; else echo "kept $work for inspection"; fi
}
trap cleanup EXIT
run=$work/run
"$bin/byzgd-cluster" --run-dir "$run" --workers 10 --byzantine 1 --attack gaussian \
    --rule multi-krum --model mlp --dataset synthetic --rounds 10000000 --batch 16 --lr 0.05 \
    --seed 3 --eval-every 500 --quiet >"$run.out" 2>&1 &
launcher=$!
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
for _ in $(seq 600); do [[ -s "$run/pids" ]] && break; sleep 0.1; done
supervisor=$(awk '$1 == "server" { print $2 }' "$run/pids")
server=""
for _ in $(seq 600); do
    server=$(pgrep -P "$supervisor" -x byzgd-server) && break
    sleep 0.1
done
[[ -n "$server" ]] || { echo "FAIL: no byzgd-server"; exit 1; }
start=$SECONDS
baseline="" last="" samples=()
while ((SECONDS - start < seconds)); do
    sleep 10
    kill -0 "$server" 2>/dev/null || { echo "FAIL: byzgd-server $server ended"; tail "$run/logs/server.log"; exit 1; }
    last=$(rss_kib "$server")
    samples+=("$((SECONDS - start))s:$((last / 1024))MiB")
    ((SECONDS - start >= 60)) && [[ -z "$baseline" ]] && baseline=$last
done
rounds=$(wc -l <"$run/metrics.jsonl")
kill -INT $launcher
wait $launcher
echo "samples: ${samples[*]}"
awk -v b="$baseline" -v l="$last" -v r="$rounds" -v s="$seconds" 'BEGIN {
    drift = 100 * (l - b) / b
    printf "soak: %d s, %d rounds (%.1f rounds/s), server RSS %.1f MiB at 60 s, %.1f MiB at the end: drift %+.2f %% (limit 5 %%)\n", s, r, r / s, b / 1024, l / 1024, drift
    exit !(drift < 5 && drift > -5)
}'
