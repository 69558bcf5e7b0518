#!/usr/bin/env bash
# Wall time of the README's demo setting run two ways, side by side on this machine:
# byzgd-simulate (one process, --threads T) and byzgd-cluster --insecure (a server and n
# worker processes on loopback): n = 20, MLP, Fashion-MNIST, 150 rounds, 6 Gaussian
# attackers, Multi-Krum, seed 1. Both write the same metrics (value for value, times
# aside); the script checks that too and prints the ratio, and the ratio of their CPU
# times (the cluster's: its server's and workers' together), where the wall-time ratio
# settles when both keep the cores busy. REPEATS pairs run alternately (simulate,
# cluster, simulate, ...) so that a load change hits both; the median ratio is the figure.
#   bench/simulate_vs_cluster.sh  (env: ROUNDS=150 THREADS=2 ATTACK=gaussian RULE=multi-krum
#                                  REPEATS=3)
set -u
. "$(dirname "$0")/../tests/support/e2e_lib.bash" # E2E_DIR, e2e_bench_need, skips exit 77
e2e_bench_need byzgd-simulate byzgd-cluster byzgd-server byzgd-worker byzgd-byzantine
e2e_need_fashion_mnist
bin=$BYZGD_BIN
rounds=${ROUNDS:-150} threads=${THREADS:-2} attack=${ATTACK:-gaussian} rule=${RULE:-multi-krum}
repeats=${REPEATS:-3}
tmp=$E2E_DIR
settings=(--workers 20 --byzantine 6 --attack "$attack" --rule "$rule" --model mlp
          --dataset fashion-mnist --rounds "$rounds" --batch 16 --lr 0.05 --seed 1 --quiet)
s_time() { # label command...: runs it, prints "WALL CPU" (seconds; CPU = user + system of it
    # and every process it waited for: the cluster's server and workers too)
    local label=$1
    shift
    python3 - "$tmp/$label.out" "$@" <<'PY' || { echo "$label failed:" >&2; tail -5 "$tmp/$label.out" >&2; }
import resource, subprocess, sys, time
start = time.monotonic()
with open(sys.argv[1], "w") as out:
    status = subprocess.run(sys.argv[2:], stdout=out, stderr=subprocess.STDOUT).returncode
wall = time.monotonic() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{wall} {usage.ru_utime + usage.ru_stime}")
sys.exit(status != 0)
PY
}
ratios=()
for ((repeat = 1; repeat <= repeats; repeat++)); do
    rm -rf "$tmp/simulate" "$tmp/cluster"
    simulate=$(s_time simulate "$bin/byzgd-simulate" "${settings[@]}" --threads "$threads" --run-dir "$tmp/simulate")
    cluster=$(s_time cluster "$bin/byzgd-cluster" "${settings[@]}" --insecure --run-dir "$tmp/cluster")
    same=identical
    e2e_same_metrics "$tmp"/{simulate,cluster}/metrics.jsonl >/dev/null || same=DIFFER
    ratios+=("$(python3 - "$tmp" "$simulate" "$cluster" "$rounds" "$threads" "$same" <<'PY'
import json, sys
tmp, rounds, threads, same = sys.argv[1], int(sys.argv[4]), sys.argv[5], sys.argv[6]
(simulate, simulate_cpu), (cluster, cluster_cpu) = (map(float, a.split()) for a in sys.argv[2:4])
simulated = [json.loads(line) for line in open(f"{tmp}/simulate/metrics.jsonl")]
accuracy = [r for r in simulated if "test_accuracy" in r][-1]["test_accuracy"]
print(f"byzgd-simulate --threads {threads}: {simulate:5.2f} s ({rounds / simulate:5.1f} rounds/s, "
      f"CPU {simulate_cpu:4.2f} s), byzgd-cluster --insecure: {cluster:5.2f} s "
      f"({rounds / cluster:5.1f} rounds/s, CPU {cluster_cpu:4.2f} s), ratio {simulate / cluster:.3f} "
      f"(CPU {simulate_cpu / cluster_cpu:.3f}); final accuracy {accuracy:.4f}; metrics {same}",
      file=sys.stderr)
print(f"{simulate / cluster:.3f} {simulate_cpu / cluster_cpu:.3f}")
PY
)")
done
printf '%s\n' "${ratios[@]}" | python3 -c '
import statistics, sys
pairs = [tuple(map(float, line.split())) for line in sys.stdin if line.strip()]
wall, cpu = sorted(p[0] for p in pairs), [p[1] for p in pairs]
print(f"simulate / cluster wall time over {len(pairs)} alternating pairs: median {statistics.median(wall):.3f} "
      f"(min {wall[0]:.3f}, max {wall[-1]:.3f}; target <= 0.333); CPU time: median {statistics.median(cpu):.3f}")'
