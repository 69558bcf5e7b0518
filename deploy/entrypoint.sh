#!/bin/sh
# byzgd-entrypoint — the container roles of deploy/docker-compose.yml; any other command
# runs as given (`docker run byzgd byzgd-cluster --join ...`).
#
#   keygen     makes the keys of BYZGD_WORKERS slots in /keys (once per volume)
#   server     byzgd-cluster --serve on tcp://0.0.0.0:5555, advertised as tcp://server:5555,
#              run directory /metrics/BYZGD_RUN_NAME
#   worker     claims a free honest slot, runs byzgd-worker with its key
#   byzantine  claims a free Byzantine slot, runs byzgd-byzantine --attack BYZGD_ATTACK
#
# Slots: the honest slots are 0 .. n-b-1 and the Byzantine ones n-b .. n-1 (n =
# BYZGD_WORKERS, b = BYZGD_BYZANTINE). A replica claims the first free slot of its range by
# creating /keys/claims/NNN with mkdir, which is atomic on the shared volume, so scaled
# replicas never share a key (and so a data shard and a random stream).
set -eu
keys=/keys
n=${BYZGD_WORKERS:-20}
b=${BYZGD_BYZANTINE:-0}
server=${BYZGD_SERVER:-tcp://server:5555}

wait_for_keys() {
    waited=0
    until [ -f "$keys/ready" ]; do
        [ $waited -lt 600 ] || { echo "byzgd-entrypoint: no keys in $keys after 600 s" >&2; exit 1; }
        sleep 1
        waited=$((waited + 1))
    done
}

claim_slot() { # first last
    slot=$1
    while [ "$slot" -le "$2" ]; do
        if mkdir "$keys/claims/$slot" 2>/dev/null; then
            hostname >"$keys/claims/$slot/by"
            echo "$slot"
            return 0
        fi
        slot=$((slot + 1))
    done
    echo "byzgd-entrypoint: every slot of $1..$2 is taken (more replicas than slots?)" >&2
    return 1
}

role=${1:-}
case "$role" in
keygen)
    if [ ! -f "$keys/ready" ]; then
        byzgd-keygen "$keys" --workers "$n"
        mkdir -p "$keys/claims"
        touch "$keys/ready"
    fi
    ;;
server)
    shift
    wait_for_keys
    exec byzgd-cluster --serve --keys "$keys" --workers "$n" -f "${BYZGD_F:-$b}" \
        --rule "${BYZGD_RULE:-multi-krum}" --model "${BYZGD_MODEL:-mlp}" \
        --dataset "${BYZGD_DATASET:-fashion-mnist}" --rounds "${BYZGD_ROUNDS:-150}" \
        --batch "${BYZGD_BATCH:-16}" --lr "${BYZGD_LR:-0.05}" --seed "${BYZGD_SEED:-1}" \
        --deadline-ms "${BYZGD_DEADLINE_MS:-60000}" \
        --endpoint tcp://0.0.0.0:5555 --advertise "$server" \
        --run-dir "/metrics/${BYZGD_RUN_NAME:-run}" ${BYZGD_SERVER_FLAGS:-} "$@"
    ;;
worker | byzantine)
    shift
    wait_for_keys
    if [ "$role" = worker ]; then
        slot=$(claim_slot 0 $((n - b - 1)))
        set -- byzgd-worker "$@"
    else
        slot=$(claim_slot $((n - b)) $((n - 1)))
        set -- byzgd-byzantine --attack "${BYZGD_ATTACK:-gaussian}" "$@"
    fi
    echo "byzgd-entrypoint: $role on slot $slot"
    exec "$@" --endpoint "$server" --cert "$keys/workers/worker-$(printf %03d "$slot").cert" \
        --server-cert "$keys/server.cert" --give-up-ms 600000
    ;;
*)
    exec "$@"
    ;;
esac
