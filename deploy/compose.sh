#!/usr/bin/env bash
# Runs byzgd in containers and provisions what that needs.
#   deploy/compose.sh demo                 the README demo (n = 20, 6 Gaussian attackers,
#                                          Multi-Krum then averaging), the table of make demo
#   deploy/compose.sh run NAME [VAR=V ...] one compose run with deploy/.env overridden by
#                                          VAR=V; prints the server's summary line
#   deploy/compose.sh swarm [VAR=V ...]    the same compose file as a stack on a one-node swarm
#   deploy/compose.sh image                only build the image byzgd:latest
#
# Provisioning: a Docker daemon that answers is used as it is. Otherwise a private dockerd
# runs under build/docker/ (its own data root, exec root, pidfile and socket; vfs storage,
# no iptables) and is stopped on exit; its data root stays, so the next run reuses the
# image layers. The base image debian:bookworm-slim is used when present, else made with
# debootstrap from the Debian mirror apt uses (rootfs cached as build/docker/bookworm.tar).
# Builds use --network host. Containers, networks and volumes of a run are removed after it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state=$root/build/docker
compose_file=$root/deploy/docker-compose.yml
image=${IMAGE:-byzgd:latest}
private_pid=""

s_log() { echo "compose: $*" >&2; }

s_stop_private() {
    [[ -n "$private_pid" ]] || return 0
    if [[ -n "${swarm_joined:-}" ]]; then docker swarm leave --force >/dev/null 2>&1 || true; fi
    kill -TERM "$private_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$private_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$private_pid" 2>/dev/null || true
    wait "$private_pid" 2>/dev/null || true
    s_log "stopped the private dockerd ($private_pid)"
    private_pid=""
}

s_daemon() {
    if [[ -z "${DOCKER_HOST:-}" ]] && docker info >/dev/null 2>&1; then
        s_log "using the running Docker daemon"
        return
    fi
    [[ $(id -u) -eq 0 ]] || { s_log "no Docker daemon answers and a private one needs root"; exit 77; }
    command -v dockerd >/dev/null || { s_log "dockerd is not installed (apt-get install docker.io)"; exit 77; }
    mkdir -p "$state/data" "$state/exec"
    export DOCKER_HOST="unix://$state/docker.sock"
    if docker info >/dev/null 2>&1; then
        s_log "a private dockerd of an earlier run still answers at $DOCKER_HOST: using it"
        return
    fi
    rm -f "$state/docker.sock" "$state/dockerd.pid"
    dockerd --data-root "$state/data" --exec-root "$state/exec" --pidfile "$state/dockerd.pid" \
        -H "$DOCKER_HOST" --storage-driver=vfs --iptables=false --ip6tables=false \
        --bridge=none >"$state/dockerd.log" 2>&1 &
    private_pid=$!
    trap 's_stop_private' EXIT
    for _ in $(seq 1 120); do
        docker info >/dev/null 2>&1 && break
        kill -0 "$private_pid" 2>/dev/null || { tail -20 "$state/dockerd.log" >&2; exit 1; }
        sleep 0.5
    done
    docker info >/dev/null 2>&1 || { s_log "the private dockerd did not start"; exit 1; }
    s_log "started a private dockerd ($private_pid) at $DOCKER_HOST"
}

s_base_image() {
    docker image inspect debian:bookworm-slim >/dev/null 2>&1 && return
    if docker pull -q debian:bookworm-slim >/dev/null 2>&1; then return; fi
    if [[ ! -f "$state/bookworm.tar" ]]; then
        command -v debootstrap >/dev/null || { s_log "debootstrap is not installed"; exit 77; }
        local mirror
        mirror=$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list \
            /etc/apt/sources.list.d/ 2>/dev/null | awk '{print $2}' | head -1)
        mirror=${mirror:-http://deb.debian.org/debian}
        s_log "making debian:bookworm-slim with debootstrap from $mirror (about a minute)"
        rm -rf "$state/rootfs"
        debootstrap --variant=minbase bookworm "$state/rootfs" "$mirror" >"$state/debootstrap.log" 2>&1
        tar -C "$state/rootfs" -cf "$state/bookworm.tar.tmp" . && mv "$state/bookworm.tar.tmp" "$state/bookworm.tar"
        rm -rf "$state/rootfs"
    fi
    docker import - debian:bookworm-slim <"$state/bookworm.tar" >/dev/null
}

s_image() {
    s_base_image
    # The SpamAssassin corpus lives outside the repository (deploy/install-deps.sh).
    local spam="${BYZGD_DATA_DIR:-$HOME/.local/share/byzgd}/spam-assassin"
    if [[ ! -f "$root/build/image-data/spam-assassin/.complete" ]]; then
        [[ -f "$spam/.complete" ]] || "$root/deploy/install-deps.sh"
        rm -rf "$root/build/image-data/spam-assassin"
        mkdir -p "$root/build/image-data/spam-assassin"
        cp -r "$spam/data" "$root/build/image-data/spam-assassin/"
        [[ -f "$spam/cache-D1024.bin" ]] && cp "$spam/cache-D1024.bin" "$root/build/image-data/spam-assassin/"
        touch "$root/build/image-data/spam-assassin/.complete"
    fi
    s_log "building $image"
    docker build -q --network host -f "$root/deploy/Dockerfile" -t "$image" "$root" >/dev/null
}

# Loads deploy/.env, then VAR=VALUE overrides; HONEST follows WORKERS - BYZANTINE.
s_settings() {
    set -a
    # shellcheck disable=SC1091
    . "$root/deploy/.env"
    local assignment
    for assignment in "$@"; do export "${assignment?}"; done
    HONEST=$((WORKERS - BYZANTINE))
    set +a
}

s_compose() { docker-compose -f "$compose_file" --env-file "$root/deploy/.env" -p "$project" "$@"; }

# One compose run; prints the server's summary line; returns the server's exit status.
s_run() { # name overrides...
    project="byzgd$$$1"
    shift
    s_settings "$@"
    local status=0 server log="$state/$project.log"
    mkdir -p "$state"
    : >"$log"
    s_compose run --rm -T keygen >>"$log" 2>&1 || { s_compose down -v >>"$log" 2>&1; s_log "keygen failed (see $log)"; return 1; }
    s_compose up -d --no-build --scale worker="$HONEST" --scale byzantine="$BYZANTINE" \
        server worker byzantine >>"$log" 2>&1 || { status=1; s_log "up failed (see $log)"; }
    server=$(s_compose ps -q server)
    if ((status == 0)) && [[ -n "$server" ]]; then
        status=$(docker wait "$server")
    fi
    s_compose logs --no-color server 2>/dev/null | grep -o 'summary: .*' | tail -1
    if ((status != 0)); then
        s_compose logs --no-color --tail 20 >>"$log" 2>&1 || true
        s_log "the server exited with $status (logs in $log)"
    fi
    # Workers leave once the server said BYE; give them the grace they need, then remove all.
    s_compose down -v --timeout 20 >/dev/null 2>&1 || true
    local label="label=com.docker.compose.project=$project" left
    left="$(docker ps -aq --filter "$label")$(docker network ls -q --filter "$label")$(docker volume ls -q --filter "$label")"
    if [[ -n "$left" ]]; then
        s_log "project $project left containers, networks or volumes behind: $left"
        return 1
    fi
    return "$status"
}

s_table_line() { # rule summary
    local summary=$2
    local final best seconds status
    final=$(grep -o 'final_accuracy=[^ ]*' <<<"$summary" | cut -d= -f2)
    best=$(grep -o 'best_accuracy=[^ ]*' <<<"$summary" | cut -d= -f2)
    seconds=$(grep -o 'seconds=[^ ]*' <<<"$summary" | cut -d= -f2)
    status=$(awk '{print $2}' <<<"$summary")
    printf '%-12s %-10s %-10s %-10s %-8s %s\n' "$1" "$ATTACK" "${final:-nan}" "${best:-nan}" \
        "${seconds:-0}" "${status:-failed}"
}

s_demo() {
    s_daemon
    s_image
    local krum average
    s_log "run 1/2: multi-krum"
    krum=$(s_run demok RULE=multi-krum RUN_NAME=multi-krum) || true
    s_log "run 2/2: average"
    average=$(s_run demoa RULE=average RUN_NAME=average) || true
    echo "Fashion-MNIST MLP, n = $WORKERS, $BYZANTINE Gaussian attackers, $ROUNDS rounds, in containers"
    printf '%-12s %-10s %-10s %-10s %-8s %s\n' rule attack final_acc best_acc seconds status
    s_table_line multi-krum "$krum"
    s_table_line average "$average"
    [[ "$krum" == "summary: ok"* && "$average" == "summary: ok"* ]]
}

# The compose file as a stack on a one-node swarm of the daemon (a private one: never
# turns a daemon of the user's into a swarm manager).
s_swarm() {
    s_daemon
    [[ -n "$private_pid" ]] || { s_log "swarm: only on a private daemon"; exit 77; }
    s_image
    s_settings "$@"
    docker swarm init --advertise-addr 127.0.0.1 >/dev/null
    swarm_joined=1
    local stack="byzgd$$" status=1 deadline=$((SECONDS + 900)) state
    docker stack deploy -c "$compose_file" "$stack" >/dev/null
    while ((SECONDS < deadline)); do
        state=$(docker service ps --no-trunc --format '{{.CurrentState}}' "${stack}_server" 2>/dev/null | head -1)
        case "$state" in
        Complete*) status=0; break ;;
        Failed* | Rejected* | Shutdown*) break ;;
        esac
        sleep 2
    done
    docker service logs --raw "${stack}_server" 2>/dev/null | grep -o 'summary: .*' | tail -1
    ((status == 0)) || docker service logs --raw --tail 20 "${stack}_server" >&2 2>/dev/null || true
    docker stack rm "$stack" >/dev/null
    for _ in $(seq 1 60); do
        [[ -z $(docker ps -aq --filter "label=com.docker.stack.namespace=$stack") ]] &&
            [[ -z $(docker network ls -q --filter "label=com.docker.stack.namespace=$stack") ]] && break
        sleep 1
    done
    docker volume ls -q --filter "label=com.docker.stack.namespace=$stack" | xargs -r docker volume rm >/dev/null
    docker swarm leave --force >/dev/null
    swarm_joined=""
    return $status
}

case "${1:-}" in
demo) s_demo ;;
run) shift; name=${1:?name}; shift; s_daemon; s_image; s_run "$name" "$@" ;;
swarm) shift; s_swarm "$@" ;;
image) s_daemon; s_image ;;
*) sed -n '2,16p' "$0"; exit 2 ;;
esac
