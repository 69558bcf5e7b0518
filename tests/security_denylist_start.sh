#!/usr/bin/env bash
# A server started with a deny-list it cannot read completely (20 MB, a directory, a
# malformed line) refuses to start with one clear error and leaves the file as it was.
# (Regression: a 20 MB list was ignored, revoked keys were admitted, and the first
# automatic ban rewrote the file as one line.)
set -u
. "$(dirname "$0")/support/e2e_lib.bash"
e2e_need byzgd-server byzgd-keygen

keys=$E2E_DIR/keys
"$BYZGD_BIN/byzgd-keygen" "$keys" --workers 2 >/dev/null 2>&1 || e2e_fail "keygen failed"
key=$(awk -F'"' '/public-key/ { print $2 }' "$keys/allowed/worker-000.cert")
[[ ${#key} -eq 40 ]] || e2e_fail "no worker key in $keys/allowed/worker-000.cert"

start_server() { # deny-list path, output file
    timeout 60 "$BYZGD_BIN/byzgd-server" --endpoint "ipc://$E2E_DIR/server.ipc" --workers 2 \
        --model logreg --dataset synthetic --rounds 5 --keys "$keys" --deny-list "$1" --quiet >"$2" 2>&1
}

big=$E2E_DIR/denied-big.txt
awk -v key="$key" 'BEGIN { for (i = 0; i < 312500; i++) printf "%s # revoked by the operator, line %08d\n", key, i }' >"$big"
(($(stat -c %s "$big") >= 20000000)) || e2e_fail "the big deny-list is too small"
sum_before=$(sha256sum <"$big")
stamp_before=$(stat -c %Y.%s "$big")
start_server "$big" "$E2E_DIR/big.out"
status=$?
((status != 0 && status != 124)) || e2e_fail "a server with a 20 MB deny-list did not refuse to start (status $status)" "$E2E_DIR/big.out"
grep -q "deny-list $big: .* bytes, more than the 16777216" "$E2E_DIR/big.out" || e2e_fail "no clear error" "$E2E_DIR/big.out"
[[ $(grep -c . "$E2E_DIR/big.out") -le 3 ]] || e2e_fail "more than one error" "$E2E_DIR/big.out"
[[ "$(sha256sum <"$big")" == "$sum_before" && "$(stat -c %Y.%s "$big")" == "$stamp_before" ]] ||
    e2e_fail "the refused deny-list was changed"

mkdir "$E2E_DIR/denied-dir"
start_server "$E2E_DIR/denied-dir" "$E2E_DIR/dir.out"
(($? != 0)) || e2e_fail "a directory as deny-list was accepted" "$E2E_DIR/dir.out"
grep -q "not a regular file (a directory)" "$E2E_DIR/dir.out" || e2e_fail "no clear error" "$E2E_DIR/dir.out"

printf '%s\nnot a key\n' "$key" >"$E2E_DIR/denied-bad.txt"
start_server "$E2E_DIR/denied-bad.txt" "$E2E_DIR/bad.out"
(($? != 0)) || e2e_fail "a malformed deny-list was accepted" "$E2E_DIR/bad.out"
grep -q "denied-bad.txt:2: neither" "$E2E_DIR/bad.out" || e2e_fail "no line number" "$E2E_DIR/bad.out"
