#!/usr/bin/env bash
# Round time and payload rate of the real server, CURVE vs --insecure, n workers, d ≈ 10⁶
# (MLP 20-1000-980-2 on synthetic data). The workers are byzgd-hammer `proposals` clients
# sending one precomputed vector per round, so the figures are the transport's, not the
# model's. Payload per round = n PROPOSALs in + n PARAMS out, 4·d bytes each.
#   bench/security_curve.sh            (env: N=20 ROUNDS=30 IO_THREADS="1 2")
# All processes share this machine's cores: clients encrypt too, so CURVE is paid twice here.
set -u
root=${BYZGD_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
bin=$root/build/bin
for program in byzgd-server byzgd-keygen byzgd-hammer; do
    [[ -x "$bin/$program" ]] || { echo "no $bin/$program (run make all)"; exit 0; }
done
n=${N:-20} rounds=${ROUNDS:-30} hidden=1000,980
d=$((20 * 1000 + 1000 + 1000 * 980 + 980 + 980 * 2 + 2))
tmp=$(mktemp -d)
trap 'kill $(jobs -pr) 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
"$bin/byzgd-keygen" "$tmp/keys" --workers "$n" >/dev/null 2>&1

s_run() { # label io-threads [--insecure]
    local label=$1 threads=$2 security=${3:-}
    rm -f "$tmp/endpoint" "$tmp/metrics.jsonl"
    local keys_flags=(--keys "$tmp/keys")
    [[ -n "$security" ]] && keys_flags=(--insecure)
    ZSYS_IO_THREADS=$threads "$bin/byzgd-server" --endpoint 'tcp://127.0.0.1:*' \
        --endpoint-file "$tmp/endpoint" --workers "$n" --rule average --model mlp \
        --hidden $hidden --dataset synthetic --rounds "$rounds" --eval-every 0 \
        --deadline-ms 60000 "${keys_flags[@]}" --metrics "$tmp/metrics.jsonl" --quiet \
        >"$tmp/server.log" 2>&1 &
    local server=$!
    for _ in $(seq 100); do [[ -s "$tmp/endpoint" ]] && break; sleep 0.1; done
    local endpoint
    endpoint=$(cat "$tmp/endpoint")
    for i in $(seq 0 $((n - 1))); do
        local client_flags=(--cert "$(printf '%s/keys/workers/worker-%03d.cert' "$tmp" "$i")"
                            --server-cert "$tmp/keys/server.cert")
        [[ -n "$security" ]] && client_flags=(--plaintext)
        ZSYS_IO_THREADS=$threads "$bin/byzgd-hammer" --endpoint "$endpoint" \
            "${client_flags[@]}" --seed "$i" --seconds 600 proposals >"$tmp/client-$i.log" 2>&1 &
    done
    wait $server
    python3 - "$tmp/metrics.jsonl" "$label" "$n" "$d" <<'EOF'
import json, statistics, sys
path, label, n, d = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lines = [json.loads(l) for l in open(path)]
times = [b["elapsed_s"] - a["elapsed_s"] for a, b in zip(lines, lines[1:])][3:]
median = statistics.median(times)
payload = 2 * n * 4 * d
print(f"{label:28s} n={n} d={d}: median round {median * 1000:7.1f} ms, "
      f"payload {payload / median / 1e9:5.2f} GB/s ({len(times)} rounds)")
EOF
    kill $(jobs -pr) 2>/dev/null
    wait 2>/dev/null
}

for threads in ${IO_THREADS:-1 2}; do
    s_run "insecure, io_threads=$threads" "$threads" --insecure
    s_run "CURVE, io_threads=$threads" "$threads"
done
