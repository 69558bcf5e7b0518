#!/usr/bin/env bash
# The container image and deploy/docker-compose.yml for real: builds the image (provisioning
# a private dockerd and the base image when none is there), runs a short compose run
# (n = 7, 2 Gaussian attackers, Multi-Krum, 30 rounds) to completion, checks its summary,
# that the 7 replicas claimed 7 distinct slots, that its metrics equal byzgd-simulate's for
# the same settings value for value (the image is built without -march=native, and the
# containers start at their own pace), and leaves no container, network or volume of its
# own, nor a daemon it started. The base image and layers stay cached under
# build/docker/ (about 2.5 minutes from nothing on a loaded 2-core machine, well under a
# minute cached). Skipped (77) when the infrastructure is missing: not root, no Docker, no
# dockerd can start, the Debian mirror unreachable; byzgd misbehaving in containers fails.
# test-timeout: 2700
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
[[ $(id -u) -eq 0 ]] || { echo "skipped: needs root for a private dockerd"; exit 77; }
command -v dockerd >/dev/null && command -v docker-compose >/dev/null ||
    { echo "skipped: needs docker.io and docker-compose (deploy/install-deps.sh)"; exit 77; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$root/deploy/compose.sh" run test WORKERS=7 BYZANTINE=2 F=2 ROUNDS=30 RUN_NAME=test >"$out" 2>&1
status=$?
cat "$out"
((status == 77)) && { echo "skipped: $(grep '^compose: ' "$out" | tail -1)"; exit 77; }
((status == 0)) || { echo "FAIL: the compose run exited with $status"; exit 1; }
log=$(sed -n 's/^compose: logs in \([^,]*\).*$/\1/p' "$out" | tail -1)
summary=$(grep '^summary: ' "$out" | tail -1)
python3 - "$summary" "$log" <<'PY' || exit 1
import re, sys
summary, log = sys.argv[1], open(sys.argv[2]).read()
fields = dict(f.split("=", 1) for f in summary.split()[2:] if "=" in f)
assert summary.startswith("summary: ok "), summary
assert fields["workers"] == "7" and fields["rounds"] == "30", fields
assert float(fields["final_accuracy"]) > 0.3, f"accuracy {fields['final_accuracy']}"
claims = re.findall(r"byzgd-entrypoint: (worker|byzantine) on slot (\d+)", log)
honest = sorted(int(s) for r, s in claims if r == "worker")
byzantine = sorted(int(s) for r, s in claims if r == "byzantine")
assert honest == [0, 1, 2, 3, 4] and byzantine == [5, 6], claims
print(f"ok compose run: 30 rounds, slots {honest} honest and {byzantine} Byzantine, "
      f"final accuracy {fields['final_accuracy']}")
PY
# The run the containers made is the run one process makes.
run_dir=$(sed -n 's/^compose: .*the run directory in \(.*\)$/\1/p' "$out" | tail -1)
[[ -f "$run_dir/metrics.jsonl" ]] || { echo "FAIL: the compose run's metrics were not kept"; exit 1; }
simulated=$(mktemp -d)
trap 'rm -rf "$out" "$simulated" "$run_dir"' EXIT
"$root/build/bin/byzgd-simulate" --workers 7 --byzantine 2 -f 2 --attack gaussian \
    --rule multi-krum --model mlp --dataset fashion-mnist --rounds 30 --batch 16 --lr 0.05 \
    --seed 1 --threads 2 --quiet --run-dir "$simulated/run" >"$simulated/out" 2>&1 ||
    { echo "FAIL: byzgd-simulate"; cat "$simulated/out"; exit 1; }
# (The server of a --serve run does not know the roles: no selected_byzantine.)
python3 "$root/tests/support/same_metrics.py" --ignore selected_byzantine --rounds 30 \
    "$run_dir/metrics.jsonl" "$simulated/run/metrics.jsonl" ||
    { echo "FAIL: the containers' run differs from byzgd-simulate's"; exit 1; }
[[ -z $(pgrep -a dockerd | grep -F "$root/build/docker") ]] || { echo "FAIL: the private dockerd still runs"; exit 1; }
! grep -qF "$root/build/docker/" /proc/mounts || { echo "FAIL: mounts left under build/docker"; exit 1; }
