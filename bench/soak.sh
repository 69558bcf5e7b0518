#!/usr/bin/env bash
# Soak benchmark (docs/RELIABILITY.md; a benchmark, not a test): one secure supervised
# cluster (n = 10, one Byzantine worker, multi-krum, an MLP on the synthetic dataset) runs
# for SOAK_SECONDS (600) while byzgd-server's resident memory is sampled every 10 s. The
# drift is the last sample against the one at 60 s (after warm-up); it must stay < 5 %.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
BYZGD_BIN=${BYZGD_BIN:-$root/build/bin}
# E2E_DIR (every process mentioning it killed at exit; kept on failure), e2e_fail, e2e_pid.
. "$root/tests/support/e2e_lib.bash"
bin=$BYZGD_BIN
seconds=${SOAK_SECONDS:-600}
run=$E2E_DIR/run
"$bin/byzgd-cluster" --run-dir "$run" --workers 10 --byzantine 1 --attack gaussian \
    --rule multi-krum --model mlp --dataset synthetic --rounds 10000000 --batch 16 --lr 0.05 \
    --seed 3 --eval-every 500 --quiet >"$run.out" 2>&1 &
launcher=$!
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
for _ in $(seq 600); do [[ -s "$run/pids" ]] && break; sleep 0.1; done
supervisor=$(e2e_pid "$run" server)
server=""
for _ in $(seq 600); do
    server=$(pgrep -P "$supervisor" -x byzgd-server) && break
    sleep 0.1
done
[[ -n "$server" ]] || e2e_fail "no byzgd-server"
start=$SECONDS
baseline="" last="" samples=()
while ((SECONDS - start < seconds)); do
    sleep 10
    kill -0 "$server" 2>/dev/null || e2e_fail "byzgd-server $server ended" "$run/logs/server.log"
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
