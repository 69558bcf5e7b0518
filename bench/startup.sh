#!/usr/bin/env bash
# Start-up of a secure local cluster: the wall time from launching byzgd-cluster to the
# first line of RUN_DIR/metrics.jsonl (round 1 closed and recorded: keys, server, n worker
# processes, CURVE handshakes, HELLO/CONFIG, data, the first PARAMS and proposals), and
# round 1's elapsed_s (counted by the server from its own start). The demo's settings:
# n = 20 of which 6 Gaussian attackers, Multi-Krum, the MLP on Fashion-MNIST, batch 16.
# One unmeasured run first warms the decoded dataset cache and the page cache.
#   bench/startup.sh [RUNS (5) [WORKERS (20) [BYZANTINE (6)]]]
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BYZGD_BIN:-$root/build/bin}
runs=${1:-5} workers=${2:-20} byzantine=${3:-6}
[[ -x "$bin/byzgd-cluster" ]] || { echo "no $bin/byzgd-cluster (make first)"; exit 1; }
if [[ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]]; then
    echo "skip: Fashion-MNIST not installed"
    exit 0
fi
work=$(mktemp -d /tmp/byzgd-startup-XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 - "$bin/byzgd-cluster" "$work" "$runs" "$workers" "$byzantine" <<'EOF'
import json, os, statistics, subprocess, sys, time
cluster, work, runs, workers, byzantine = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])

def launch(run_dir):
    """Seconds from launch to the first complete metrics line, and that line."""
    metrics = os.path.join(run_dir, "metrics.jsonl")
    started = time.monotonic()
    process = subprocess.Popen(
        [cluster, "--workers", str(workers), "--byzantine", str(byzantine), "--attack",
         "gaussian", "--rule", "multi-krum", "--model", "mlp", "--dataset", "fashion-mnist",
         "--rounds", "2", "--batch", "16", "--lr", "0.05", "--seed", "1", "--quiet",
         "--timeout", "120", "--run-dir", run_dir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = None
    # A 2 ms poll: the figure is rounded to 10 ms below, and stat() costs next to nothing.
    while first is None and process.poll() is None:
        try:
            with open(metrics) as file:
                line = file.readline()
            if line.endswith("\n"):
                first = time.monotonic() - started, json.loads(line)
        except FileNotFoundError:
            pass
        if first is None:
            time.sleep(0.002)
    status = process.wait()
    if first is None or status != 0:
        sys.exit(f"run {run_dir} failed (status {status}); see {run_dir}/logs")
    return first

launch(os.path.join(work, "warm-up"))
walls, elapsed = [], []
for i in range(runs):
    wall, line = launch(os.path.join(work, f"run-{i}"))
    walls.append(wall)
    elapsed.append(line["elapsed_s"])
print(f"startup secure n={workers} ({byzantine} Gaussian), MLP Fashion-MNIST: launch -> first "
      f"metrics line median {statistics.median(walls):.2f} s (min {min(walls):.2f}, max "
      f"{max(walls):.2f}; {runs} runs), round 1 elapsed_s median {statistics.median(elapsed):.2f} s")
EOF
