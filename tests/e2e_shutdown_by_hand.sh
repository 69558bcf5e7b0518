#!/usr/bin/env bash
# Reliable shutdown (PROTOCOL.md §4.1): one byzgd-server and 20 byzgd-worker processes
# started by hand (no launcher, secure, logreg on synthetic data, 60 rounds). The server
# re-sends BYE until each worker answers, so every worker exits 0, within a few seconds
# of the server (issue: 9 of 20 used to miss their BYE and exit 1 after 60 s).
set -uo pipefail
source "$(dirname "$0")/support/e2e_lib.bash"
e2e_need byzgd-keygen byzgd-server byzgd-worker
n=20
"$BYZGD_BIN/byzgd-keygen" "$E2E_DIR/keys" --workers "$n" >/dev/null 2>&1 ||
    e2e_fail "byzgd-keygen failed"
"$BYZGD_BIN/byzgd-server" --endpoint "ipc://$E2E_DIR/server.ipc" --workers "$n" \
    --model logreg --dataset synthetic --rounds 60 --rule median --eval-every 0 \
    --keys "$E2E_DIR/keys" --quiet >"$E2E_DIR/server.log" 2>&1 &
server=$!
pids=()
for ((i = 0; i < n; i++)); do
    (
        "$BYZGD_BIN/byzgd-worker" --endpoint "ipc://$E2E_DIR/server.ipc" \
            --cert "$E2E_DIR/keys/workers/worker-$(printf %03d $i).cert" \
            --server-cert "$E2E_DIR/keys/server.cert" >"$E2E_DIR/worker-$i.log" 2>&1
        echo "$? $SECONDS" >"$E2E_DIR/worker-$i.end"
    ) &
    pids+=($!)
done
wait "$server"
server_status=$?
server_end=$SECONDS
wait "${pids[@]}"
e2e_expect_status "$server_status" 0 "$E2E_DIR/server.log"
grep -q "did not acknowledge BYE" "$E2E_DIR/server.log" &&
    e2e_fail "the server says a worker did not acknowledge BYE" "$E2E_DIR/server.log"
for ((i = 0; i < n; i++)); do
    read -r status end <"$E2E_DIR/worker-$i.end"
    ((status == 0)) || e2e_fail "worker $i exited $status" "$E2E_DIR/worker-$i.log"
    # Generous for a loaded machine; a missed BYE costs the 60 s give-up.
    ((end - server_end <= 15)) || e2e_fail "worker $i exited $((end - server_end)) s after the server"
done
echo "all $n workers exited 0"
