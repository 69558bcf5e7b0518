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
# runs under build/docker/ (its own data root, exec root, pidfile and socket; no iptables,
# no default bridge; the storage driver dockerd picks: overlay2 where the kernel and the
# file system allow, else vfs) and is stopped on exit; its data root stays, so the next run
# reuses the image layers. The base image debian:bookworm-slim is used when present or
# pullable, else made with debootstrap from the Debian mirror apt uses, without apt lists,
# cached .debs and docs (the root file system is cached as build/docker/bookworm-minbase.tar).
# Builds use --network host and the classic builder. Containers, networks and volumes of a
# run are removed after it. Exit status 77: the infrastructure is missing (not root, no
# dockerd, no debootstrap, the Debian mirror unreachable); docs/DEPLOY.md.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state=$root/build/docker
mkdir -p "$state"
compose_file=$root/deploy/docker-compose.yml
image=${IMAGE:-byzgd:latest}
private_pid=""
# docker-compose's default of 60 s per API call is too short for container creation on a
# loaded machine (vfs copies the image for each container).
export COMPOSE_HTTP_TIMEOUT=${COMPOSE_HTTP_TIMEOUT:-900} DOCKER_BUILDKIT=0

s_log() { echo "compose: $*" >&2; }

# Network namespaces dockerd leaves mounted in its exec root (the swarm's "default"
# namespace stays after the daemon stops); unmounted so build/ can be removed.
s_unmount_leftovers() {
    local mount
    awk -v exec_root="$state/exec/" 'index($2, exec_root) == 1 {print $2}' /proc/mounts |
        sort -r | while read -r mount; do umount "$mount" 2>/dev/null || umount -l "$mount" || true; done
}

s_stop_private() {
    [[ -n "$private_pid" ]] || return 0
    if [[ -n "${swarm_joined:-}" ]]; then docker swarm leave --force >/dev/null 2>&1 || true; fi
    kill -TERM "$private_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$private_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$private_pid" 2>/dev/null || true
    wait "$private_pid" 2>/dev/null || true
    s_unmount_leftovers
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
    # One private daemon per machine at a time (other checkouts' included): two would share
    # the swarm ports on 127.0.0.1 and the default pool of bridge subnets.
    exec 9>"${BYZGD_DOCKER_LOCK:-/tmp/byzgd-private-dockerd.lock}"
    if ! flock -n 9; then
        s_log "waiting for another checkout's private dockerd session to end"
        flock -w 3600 9 || { s_log "another private dockerd session holds the lock for an hour"; exit 77; }
    fi
    export DOCKER_HOST="unix://$state/docker.sock"
    if docker info >/dev/null 2>&1; then
        s_log "a private dockerd of an earlier run still answers at $DOCKER_HOST: using it"
        return
    fi
    rm -f "$state/docker.sock" "$state/dockerd.pid"
    s_unmount_leftovers
    dockerd --data-root "$state/data" --exec-root "$state/exec" --pidfile "$state/dockerd.pid" \
        -H "$DOCKER_HOST" --iptables=false --ip6tables=false \
        --bridge=none >"$state/dockerd.log" 2>&1 9>&- &
    private_pid=$!
    trap 's_stop_private' EXIT
    for _ in $(seq 1 120); do
        docker info >/dev/null 2>&1 && break
        kill -0 "$private_pid" 2>/dev/null || { tail -20 "$state/dockerd.log" >&2; exit 1; }
        sleep 0.5
    done
    docker info >/dev/null 2>&1 || { tail -5 "$state/dockerd.log" >&2; s_log "the private dockerd did not start"; exit 77; }
    s_log "started a private dockerd ($private_pid) at $DOCKER_HOST, storage driver $(docker info -f '{{.Driver}}')"
}

s_base_image() {
    docker image inspect debian:bookworm-slim >/dev/null 2>&1 && return
    if timeout 60 docker pull -q debian:bookworm-slim >/dev/null 2>&1; then return; fi
    local tarball=$state/bookworm-minbase.tar
    if [[ ! -f "$tarball" ]]; then
        command -v debootstrap >/dev/null || { s_log "debootstrap is not installed (apt-get install debootstrap)"; exit 77; }
        local mirror rootfs=$state/rootfs
        mirror=$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list \
            /etc/apt/sources.list.d/ 2>/dev/null | awk '{print $2}' | head -1 || true)
        mirror=${mirror:-http://deb.debian.org/debian}
        s_log "making debian:bookworm-slim with debootstrap from $mirror (about 1.5 minutes)"
        rm -rf "$rootfs"
        if ! timeout 1800 debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$state/debootstrap.log" 2>&1; then
            rm -rf "$rootfs"
            tail -3 "$state/debootstrap.log" >&2
            s_log "debootstrap could not make the base image from $mirror (see $state/debootstrap.log)"
            exit 77
        fi
        # Slim like the registry's image: no package lists, cached .debs or docs, and dpkg
        # told to skip docs of later installs.
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
            "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
            "$rootfs"/usr/share/locale/*
        printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
            'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
            'path-exclude /usr/share/locale/*' >"$rootfs/etc/dpkg/dpkg.cfg.d/slim"
        tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
        rm -rf "$rootfs"
    fi
    docker import - debian:bookworm-slim <"$tarball" >/dev/null
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
    local started=$SECONDS
    if ! docker build --network host -f "$root/deploy/Dockerfile" -t "$image" "$root" >"$state/build.log" 2>&1; then
        tail -15 "$state/build.log" >&2
        # A mirror that cannot be reached is missing infrastructure; anything else is ours.
        if ! docker run --rm --network host debian:bookworm-slim apt-get update >/dev/null 2>&1; then
            s_log "the image build cannot reach the Debian mirror"
            exit 77
        fi
        s_log "the image build failed (see $state/build.log)"
        exit 1
    fi
    s_log "built $image in $((SECONDS - started)) s ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1 / 1e6}'))"
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
    server=$(s_compose ps -q server 2>>"$log")
    if ((status == 0)) && [[ -n "$server" ]]; then
        status=$(docker wait "$server")
    fi
    # Every container's output goes to the log (the entrypoints name the slots they claimed).
    s_compose logs --no-color >>"$log" 2>&1 || true
    # The server's run directory (config, metrics.jsonl, logs) outlives the volume: a
    # demo whose numbers vanish with its containers cannot be looked into.
    local kept="$state/$project-run"
    rm -rf "$kept"
    [[ -z "$server" ]] || docker cp "$server:/metrics/$RUN_NAME" "$kept" >>"$log" 2>&1 || true
    grep -o 'summary: .*' "$log" | tail -1
    ((status == 0)) || s_log "the server exited with $status"
    s_log "logs in $log${server:+, the run directory in $kept}"
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
    s_settings # the table's settings (each run is a subshell with its own)
    local krum average
    s_log "run 1/2: multi-krum"
    krum=$(s_run demok RULE=multi-krum RUN_NAME=multi-krum) || true
    s_log "run 2/2: average"
    average=$(s_run demoa RULE=average RUN_NAME=average) || true
    echo "Fashion-MNIST MLP, n = $WORKERS, $BYZANTINE Gaussian attackers, $ROUNDS rounds, batch 16, lr 0.05, seed 1, in containers"
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
    if ! docker swarm init --advertise-addr 127.0.0.1 >/dev/null; then
        s_log "swarm: this daemon cannot become a swarm manager"
        exit 77
    fi
    swarm_joined=1
    local stack="byzgd$$" status=1 deadline=$((SECONDS + 900)) task_state
    local log="$state/$stack.log" service left
    if ! docker stack deploy -c "$compose_file" "$stack" >"$log" 2>&1; then
        s_log "swarm: the stack deploy failed (see $log)"
        deadline=0
    fi
    while ((SECONDS < deadline)); do
        task_state=$(docker service ps --no-trunc --format '{{.CurrentState}}' "${stack}_server" 2>/dev/null | head -1)
        case "$task_state" in
        Complete*) status=0; break ;;
        Failed* | Rejected* | Shutdown*) break ;;
        esac
        sleep 2
    done
    for service in server worker byzantine; do
        docker service logs --raw "${stack}_$service" >>"$log" 2>&1 || true
    done
    grep -o 'summary: .*' "$log" | tail -1
    ((status == 0)) || s_log "swarm: the server task ended as '${task_state:-unknown}'"
    s_log "logs in $log"
    docker stack rm "$stack" >/dev/null
    for _ in $(seq 1 120); do
        left="$(docker ps -aq --filter "label=com.docker.stack.namespace=$stack")$(docker network ls -q --filter "label=com.docker.stack.namespace=$stack")"
        [[ -z "$left" ]] && break
        sleep 1
    done
    docker volume ls -q --filter "label=com.docker.stack.namespace=$stack" | xargs -r docker volume rm >/dev/null
    left="$left$(docker volume ls -q --filter "label=com.docker.stack.namespace=$stack")"
    [[ -z "$left" ]] || { s_log "swarm: the stack left containers, networks or volumes behind: $left"; status=1; }
    docker swarm leave --force >/dev/null
    swarm_joined=""
    return $status
}

# Whole in one function, read before it runs: editing this file during a run is harmless.
s_main() {
    case "${1:-}" in
    demo) s_demo ;;
    run) shift; name=${1:?name}; shift; s_daemon; s_image; s_run "$name" "$@" ;;
    swarm) shift; s_swarm "$@" ;;
    image) s_daemon; s_image ;;
    *) sed -n '2,/^set -euo pipefail$/{/^set/!p}' "$0"; exit 2 ;;
    esac
}
s_main "$@"; exit
