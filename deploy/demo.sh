#!/usr/bin/env bash
# `make demo`: the paper's central claim on this machine. Two local clusters, each of
# n = 20 workers of which 6 (the paper's 33 %) send Gaussian vectors (variance 200), train
# the Fashion-MNIST MLP for 150 rounds (batch 16, lr 0.05, seed 1): one aggregates with
# Multi-Krum, the other averages. Progress streams while they run; a table of final and
# best test accuracies ends the demo. Run directories: runs/demo-<time>/{multi-krum,average}.
#   BYZGD_BIN   executables to use (default build/bin)
#   DEMO_DIR    where the two run directories go (default runs/demo-<time>)
#   DEMO_FLAGS  more byzgd-cluster flags for both runs (e.g. --insecure, --eval-every 5)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BYZGD_BIN:-$root/build/bin}
demo_dir=${DEMO_DIR:-$root/runs/demo-$(date +%Y%m%d-%H%M%S)}
[[ -x "$bin/byzgd-cluster" ]] || { echo "demo: $bin/byzgd-cluster is missing: run make" >&2; exit 1; }
mkdir -p "$demo_dir"

settings=(--workers 20 --byzantine 6 --attack gaussian --model mlp --dataset fashion-mnist
          --rounds 150 --batch 16 --lr 0.05 --seed 1)
rules=(multi-krum average)
status=0
for rule in "${rules[@]}"; do
    echo "== demo: $rule, 20 workers of which 6 send Gaussian vectors"
    # shellcheck disable=SC2086
    "$bin/byzgd-cluster" "${settings[@]}" --rule "$rule" --run-dir "$demo_dir/$rule" ${DEMO_FLAGS:-} |
        tee "$demo_dir/$rule.out"
    ((PIPESTATUS[0] == 0)) || { echo "demo: the $rule run failed (see $demo_dir/$rule/logs)"; status=1; }
done

# Reads key=value fields of a run's summary line.
s_field() { # output_file key
    sed -n "s/^summary: .*[ ]$2=\([^ ]*\).*/\1/p" "$1" | tail -1
}

echo
echo "Fashion-MNIST MLP, n = 20, 6 Gaussian attackers, 150 rounds, batch 16, lr 0.05, seed 1"
printf '%-12s %-10s %-10s %-10s %-8s %s\n' rule attack final_acc best_acc seconds status
for rule in "${rules[@]}"; do
    out="$demo_dir/$rule.out"
    state=$(sed -n 's/^summary: \([a-z]*\) .*/\1/p' "$out" | tail -1)
    printf '%-12s %-10s %-10s %-10s %-8s %s\n' "$rule" gaussian "$(s_field "$out" final_accuracy)" \
        "$(s_field "$out" best_accuracy)" "$(s_field "$out" seconds)" "${state:-failed}"
done
echo "run directories (config, logs/, metrics.jsonl, checkpoint): $demo_dir/{${rules[0]},${rules[1]}}"
exit $status
