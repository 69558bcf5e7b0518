#!/usr/bin/env bash
# Round time and payload rate of the real server, CURVE vs --insecure, n workers, d ≈ 10⁶
# (MLP 20-1000-980-2 on synthetic data). The workers are byzgd-hammer `proposals` clients
# sending one precomputed vector per round (packed once into a buffer of the right size and
# handed to libzmq without a copy, as the worker does), so the figures are the transport's,
# not the model's. Payload per round = n PROPOSALs in + n PARAMS out, 4·d bytes each.
#   bench/security_curve.sh            (env: N=20 ROUNDS=30 IO_THREADS="1 2")
# IO_THREADS are the server's ZeroMQ I/O threads (ZSYS_IO_THREADS; unset, the server takes
# one per core); each client holds one connection and keeps one.
#
# All processes share this machine's cores: the clients encrypt and decrypt too, so CURVE
# is paid twice here, and other jobs on a shared machine move the round times. The CPU
# time each side spends per round (from /proc, between round 3 and the last round) does not
# depend on that load: it is printed beside the times, with the busiest server thread,
# which bounds the round when the clients run elsewhere. With build/rel/bench/bench_msg
# (make bench), a last line turns libsodium's XSalsa20-Poly1305 rate into the crypto bound.
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
    local endpoint clients=()
    endpoint=$(cat "$tmp/endpoint")
    for i in $(seq 0 $((n - 1))); do
        local client_flags=(--cert "$(printf '%s/keys/workers/worker-%03d.cert' "$tmp" "$i")"
                            --server-cert "$tmp/keys/server.cert")
        [[ -n "$security" ]] && client_flags=(--plaintext)
        ZSYS_IO_THREADS=1 "$bin/byzgd-hammer" --endpoint "$endpoint" \
            "${client_flags[@]}" --seed "$i" --seconds 600 proposals >"$tmp/client-$i.log" 2>&1 &
        clients+=($!)
    done
    python3 - "$tmp/metrics.jsonl" "$label" "$n" "$d" "$rounds" "$server" "${clients[@]}" <<'EOF'
import json, os, statistics, sys, time
path, label = sys.argv[1], sys.argv[2]
n, d, rounds, server = (int(a) for a in sys.argv[3:7])
clients = [int(a) for a in sys.argv[7:]]
tick = os.sysconf("SC_CLK_TCK")

def lines():
    try:
        with open(path) as file:
            return [json.loads(l) for l in file if l.endswith("\n")]
    except FileNotFoundError:
        return []

def ticks(path):  # utime + stime of /proc/.../stat, in seconds
    with open(path) as file:
        fields = file.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick

def sample():
    threads = {}
    for tid in os.listdir(f"/proc/{server}/task"):
        try:
            with open(f"/proc/{server}/task/{tid}/comm") as file:
                threads[tid] = (file.read().strip(), ticks(f"/proc/{server}/task/{tid}/stat"))
        except OSError:
            pass
    return len(lines()), threads, sum(ticks(f"/proc/{c}/stat") for c in clients)

def wait_for(count):
    while len(lines()) < count:
        if not os.path.exists(f"/proc/{server}"):
            sys.exit(f"{label}: the server ended early (see its log)")
        time.sleep(0.02)

wait_for(3)
first = sample()
wait_for(rounds - 1)
last = sample()
done = last[0] - first[0]
cpu = {tid: (name, seconds - first[1].get(tid, (name, 0))[1]) for tid, (name, seconds) in last[1].items()}
server_cpu = sum(seconds for _, seconds in cpu.values()) / done
io = [seconds / done for name, seconds in cpu.values() if name.startswith("ZMQbg/IO")]
busiest = max(seconds for _, seconds in cpu.values()) / done
clients_cpu = (last[2] - first[2]) / done
while os.path.exists(f"/proc/{server}") and len(lines()) < rounds:
    time.sleep(0.02)
records = lines()
times = [b["elapsed_s"] - a["elapsed_s"] for a, b in zip(records, records[1:])][3:]
median = statistics.median(times)
payload = 2 * n * 4 * d
print(f"{label:30s} n={n} d={d}: median round {median * 1000:6.1f} ms, payload "
      f"{payload / median / 1e9:4.2f} GB/s ({len(times)} rounds); CPU per round: server "
      f"{server_cpu * 1000:4.0f} ms (I/O threads {sum(io) * 1000:4.0f}, busiest thread "
      f"{busiest * 1000:4.0f}: clients elsewhere ≤ {payload / busiest / 1e9:4.2f} GB/s), clients "
      f"{clients_cpu * 1000:4.0f} ms")
EOF
    wait "$server" 2>/dev/null
    kill "${clients[@]}" 2>/dev/null
    wait 2>/dev/null
}

for threads in ${IO_THREADS:-1 2}; do
    s_run "insecure, server io_threads=$threads" "$threads" --insecure
    s_run "CURVE, server io_threads=$threads" "$threads"
done

# The crypto bound: per round the server seals n PARAMS and opens n PROPOSALs, and the
# clients together do as much, each frame 4·d bytes and a few more.
bench_msg=$root/build/rel/bench/bench_msg
if [[ -x "$bench_msg" ]]; then
    "$bench_msg" >"$tmp/bench_msg.out"
    python3 - "$tmp/bench_msg.out" "$n" "$d" <<'EOF'
import os, re, sys
text = open(sys.argv[1]).read()
n, d, cores = int(sys.argv[2]), int(sys.argv[3]), os.cpu_count()
rates = dict(re.findall(r"CURVE (encrypt|decrypt), fastest\s+\S+ ms\s+(\S+) GB/s", text))
seal, unseal = float(rates["encrypt"]), float(rates["decrypt"])
side = n * 4 * d * (1 / seal + 1 / unseal) / 1e9  # seconds of crypto per side per round
payload = 2 * n * 4 * d
print(f"crypto bound (XSalsa20-Poly1305 at {seal} GB/s sealing, {unseal} opening, one core, "
      f"fastest of 60 in bench_msg): "
      f"{side * 1000:.0f} ms of crypto per side per round; all on these {cores} cores "
      f">= {2 * side / cores * 1000:.0f} ms (<= {payload / (2 * side / cores) / 1e9:.2f} GB/s) "
      f"before any other work; the server alone >= {side * 1000:.0f} ms with one I/O thread "
      f"(<= {payload / side / 1e9:.2f} GB/s), {side / cores * 1000:.0f} ms with {cores} "
      f"(<= {payload / (side / cores) / 1e9:.2f} GB/s)")
EOF
fi
