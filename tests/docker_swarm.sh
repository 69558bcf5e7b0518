#!/usr/bin/env bash
# deploy/docker-compose.yml as a Docker Swarm stack: on a private dockerd made a one-node
# swarm (`docker swarm init --advertise-addr 127.0.0.1`), the stack runs n = 7, 2 Gaussian
# attackers, 30 rounds to completion over an overlay network; then the stack is removed,
# the swarm left and the daemon stopped. It reuses the image and base cached under
# build/docker/ by docker_compose.sh (which runs first). Skipped (77) without root or
# Docker, when a Docker daemon already runs (a user's daemon is never turned into a swarm
# manager), or when the daemon cannot become a swarm manager.
# test-timeout: 2700
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
[[ $(id -u) -eq 0 ]] || { echo "skipped: needs root for a private dockerd"; exit 77; }
command -v dockerd >/dev/null || { echo "skipped: needs docker.io (deploy/install-deps.sh)"; exit 77; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$root/deploy/compose.sh" swarm WORKERS=7 BYZANTINE=2 F=2 ROUNDS=30 RUN_NAME=swarm >"$out" 2>&1
status=$?
cat "$out"
((status == 77)) && { echo "skipped: $(grep '^compose: ' "$out" | tail -1)"; exit 77; }
((status == 0)) || { echo "FAIL: the stack did not finish ($status)"; exit 1; }
grep -q '^summary: ok .*workers=7 .*rounds=30 ' "$out" || { echo "FAIL: no ok summary of 30 rounds"; exit 1; }
[[ -z $(pgrep -a dockerd | grep -F "$root/build/docker") ]] || { echo "FAIL: the private dockerd still runs"; exit 1; }
! grep -qF "$root/build/docker/" /proc/mounts || { echo "FAIL: mounts left under build/docker"; exit 1; }
echo "swarm stack: 30 rounds, $(grep -o 'final_accuracy=[^ ]*' "$out" | tail -1)"
