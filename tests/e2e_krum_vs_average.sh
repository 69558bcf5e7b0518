#!/usr/bin/env bash
# The paper's central claim as a regression test, with real processes on loopback: under
# Gaussian attackers (variance 200, the paper's) Multi-Krum learns and averaging does not.
# Fashion-MNIST, linear softmax, n = 7 workers of which f = 2 attack, 30 rounds, seed 1.
# Measured (ASan build): multi-krum 0.66 / 0.67, average 0.20 / 0.22 (seeds 1, 2).
# Secure transport (the default): keys in the run directory, so no process of another run on
# this machine can join this cluster through a reused port.
set -u
. "$(dirname "$0")/support/e2e_lib.bash"
e2e_need byzgd-cluster byzgd-server byzgd-worker byzgd-byzantine byzgd-keygen
e2e_need_fashion_mnist

settings=(--workers 7 --byzantine 2 --attack gaussian --model logreg --dataset fashion-mnist
          --rounds 30 --batch 16 --lr 0.05 --seed 1 --eval-every 10 --eval-examples 1000
          --timeout 120 --quiet)
declare -A accuracy
for rule in multi-krum average; do
    run=$E2E_DIR/$rule
    e2e_cluster "$run" "${settings[@]}" --rule "$rule"
    e2e_expect_status $? 0 "$run.out"
    e2e_no_process_left "$run"
    e2e_no_sanitizer_report "$run"
    [[ $(e2e_metrics "$run" 'rows[-1]["round"]') == 30 ]] || e2e_fail "$rule: not 30 rounds" "$run/metrics.jsonl"
    accuracy[$rule]=$(e2e_metrics "$run" '"%.4f" % [r["test_accuracy"] for r in rows if "test_accuracy" in r][-1]')
    echo "$rule: final test accuracy ${accuracy[$rule]}"
    grep -q "^summary: ok rule=$rule attack=gaussian workers=7 byzantine=2 rounds=30 final_accuracy=${accuracy[$rule]} " "$run.out" ||
        e2e_fail "summary line disagrees with metrics.jsonl" "$run.out"
done
python3 - "${accuracy[multi-krum]}" "${accuracy[average]}" <<'PY' || exit 1
import sys
krum, average = map(float, sys.argv[1:])
ok = krum >= 0.55 and average <= 0.40 and krum - average >= 0.25
print(f"multi-krum {krum:.4f} vs average {average:.4f}: {'ok' if ok else 'FAIL'} "
      "(need multi-krum >= 0.55, average <= 0.40, gap >= 0.25)")
sys.exit(0 if ok else 1)
PY
