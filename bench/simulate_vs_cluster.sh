#!/usr/bin/env bash
# Wall time of the README's demo setting run two ways, side by side on this machine:
# byzgd-simulate (one process, --threads T) and byzgd-cluster --insecure (a server and n
# worker processes on loopback): n = 20, MLP, Fashion-MNIST, 150 rounds, 6 Gaussian
# attackers, Multi-Krum, seed 1. Both write the same metrics (value for value, times
# aside); the script checks that too and prints the ratio. REPEATS pairs run alternately
# (simulate, cluster, simulate, ...) so that a load change hits both; the median ratio is
# the figure.
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
s_time() { # label command...
    local label=$1 start end
    shift
    start=$EPOCHREALTIME
    "$@" >"$tmp/$label.out" 2>&1 || { echo "$label failed:" >&2; tail -5 "$tmp/$label.out" >&2; }
    end=$EPOCHREALTIME
    python3 -c "print($end - $start)"
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
tmp, simulate, cluster, rounds, threads, same = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
simulated = [json.loads(line) for line in open(f"{tmp}/simulate/metrics.jsonl")]
accuracy = [r for r in simulated if "test_accuracy" in r][-1]["test_accuracy"]
print(f"byzgd-simulate --threads {threads}: {simulate:6.1f} s ({rounds / simulate:5.2f} rounds/s), "
      f"byzgd-cluster --insecure: {cluster:6.1f} s ({rounds / cluster:5.2f} rounds/s), "
      f"ratio {simulate / cluster:.3f}; final accuracy {accuracy:.4f}; "
      f"metrics {same}", file=sys.stderr)
print(f"{simulate / cluster:.3f}")
PY
)")
done
printf '%s\n' "${ratios[@]}" | sort -n | awk -v n="$repeats" '{r[NR] = $1} END {
    printf "simulate / cluster wall time over %d alternating pairs: median %.3f (min %.3f, max %.3f; target <= 0.333)\n",
        n, r[int((NR + 1) / 2)], r[1], r[NR]}'
