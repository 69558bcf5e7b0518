#!/usr/bin/env bash
# A 100-worker secure cluster (30 Gaussian attackers, MLP on Fashion-MNIST, 20 rounds by
# default) with the summed proportional set size (PSS, /proc/PID/smaps_rollup: pages shared
# through the mapped dataset cache count once) of all its processes sampled every half
# second. Prints the peak summed PSS, the largest per-process PSS and RSS of each program,
# rounds/s and the run's status. Stops the run (SIGINT) if the machine's available memory
# falls below BYZGD_MIN_AVAILABLE_MB (default 3072).
#   bench/cluster_100.sh [WORKERS [BYZANTINE [ROUNDS [extra byzgd-cluster options...]]]]
set -u
workers=${1:-100} byzantine=${2:-30} rounds=${3:-20}
shift $(($# < 3 ? $# : 3))
min_available_mb=${BYZGD_MIN_AVAILABLE_MB:-3072}
. "$(dirname "$0")/../tests/support/e2e_lib.bash" # E2E_DIR, e2e_bench_need, skips exit 77
e2e_bench_need byzgd-cluster byzgd-server byzgd-worker byzgd-byzantine byzgd-keygen
e2e_need_fashion_mnist
bin=$BYZGD_BIN work=$E2E_DIR
"$bin/byzgd-cluster" --workers "$workers" --byzantine "$byzantine" --attack gaussian \
    --rule multi-krum --model mlp --dataset fashion-mnist --rounds "$rounds" --quiet \
    --timeout 900 --run-dir "$work/run" "$@" >"$work/out" 2>&1 &
cluster=$!

# Every process below $cluster (the launcher, the supervisor, the server and the workers),
# read with shell builtins only: forking per process would slow sampling to seconds on a
# loaded machine.
s_tree() {
    local frontier=("$1") next pid file children
    tree=("$1")
    while ((${#frontier[@]})); do
        next=()
        for pid in "${frontier[@]}"; do
            for file in /proc/"$pid"/task/*/children; do
                read -r -a children <"$file" 2>/dev/null || true
                next+=("${children[@]}")
                children=()
            done
        done
        tree+=("${next[@]}")
        frontier=("${next[@]}")
    done
}

peak_pss=0 peak_count=0 min_available=$((1 << 40)) samples=0 stopped=""
declare -A max_pss max_rss
while kill -0 "$cluster" 2>/dev/null; do
    s_tree "$cluster"
    files=() names=()
    for pid in "${tree[@]}"; do
        read -r name </proc/"$pid"/comm 2>/dev/null || continue
        files+=(/proc/"$pid"/smaps_rollup) names+=("$name")
    done
    total=0 count=0 k=0
    # One awk for all processes: "PSS RSS" per file, in order (0 0 for a vanished one).
    while read -r pss rss; do
        name=${names[$k]} k=$((k + 1))
        total=$((total + pss)) count=$((count + 1))
        ((pss > ${max_pss[$name]:-0})) && max_pss[$name]=$pss
        ((rss > ${max_rss[$name]:-0})) && max_rss[$name]=$rss
    done < <(awk 'FNR == 1 && NR > 1 {print p + 0, r + 0; p = r = 0}
                  /^Pss:/ {p = $2} /^Rss:/ {r = $2} END {print p + 0, r + 0}' \
                 "${files[@]}" 2>/dev/null)
    ((total > peak_pss)) && peak_pss=$total peak_count=$count
    read -r _ available _ < <(grep '^MemAvailable:' /proc/meminfo)
    ((available < min_available)) && min_available=$available
    if ((available < min_available_mb * 1024)) && [[ -z "$stopped" ]]; then
        stopped="available memory fell to $((available / 1024)) MB"
        kill -INT "$cluster"
    fi
    samples=$((samples + 1))
    sleep 0.5
done
wait "$cluster"
status=$?
summary=$(grep '^summary:' "$work/out" | tail -1)
metrics="$work/run/metrics.jsonl"
closed=0 first_s=0 last_s=0
if [[ -s "$metrics" ]]; then
    closed=$(grep -c '"round"' "$metrics")
    first_s=$(grep -m1 '"round"' "$metrics" | sed 's/.*"elapsed_s":\([0-9.]*\).*/\1/')
    last_s=$(grep '"round"' "$metrics" | tail -1 | sed 's/.*"elapsed_s":\([0-9.]*\).*/\1/')
fi
echo "cluster: $workers workers ($byzantine gaussian), $rounds rounds, secure, mlp on fashion-mnist"
echo "cluster: status $status; ${summary:-no summary line}"
[[ -n "$stopped" ]] && echo "cluster: STOPPED EARLY: $stopped"
awk -v closed="$closed" -v first="$first_s" -v last="$last_s" 'BEGIN {
    rate = (closed > 1 && last > first) ? (closed - 1) / (last - first) : 0
    printf "cluster: %d rounds closed; launch -> round 1 %.2f s; rounds/s after round 1 %.2f\n",
        closed, first, rate }'
echo "cluster: peak summed PSS $((peak_pss / 1024)) MiB over $peak_count processes" \
    "($samples samples); least available memory $((min_available / 1024)) MiB"
for name in "${!max_pss[@]}"; do
    echo "cluster:   $name: largest PSS $((max_pss[$name] / 1024)) MiB, RSS $((max_rss[$name] / 1024)) MiB"
done | sort
((status == 0)) && [[ -z "$stopped" ]]
