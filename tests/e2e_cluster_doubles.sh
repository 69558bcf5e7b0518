#!/usr/bin/env bash
# byzgd-cluster's process management against TEST DOUBLES of byzgd-server/-worker/
# -byzantine/-keygen (small bash scripts written below, selected with --bin-dir; not shipped
# programs): the run directory, forwarded flags, progress and summary, exit statuses
# (0 ok, 1 failed, 2 usage, 130 Ctrl-C), --timeout, escalation to SIGKILL, and that no
# process survives a success, a failure, Ctrl-C or a `kill -9` of the launcher itself.
set -u
. "$(dirname "$0")/support/e2e_lib.bash"
e2e_need byzgd-cluster byzgd-supervise

doubles=$E2E_DIR/doubles
mkdir -p "$doubles"
# The server double: writes its endpoint and one metrics line per round.
# DOUBLE_MODE: ok | fail (exit 3 at the end) | forever | no-metrics.
cat >"$doubles/byzgd-server" <<'EOF'
#!/usr/bin/env bash
# TEST DOUBLE of byzgd-server (see tests/e2e_cluster_doubles.sh)
rounds=3 metrics= endpoint_file=
echo "server argv: $*"
while (($#)); do
    case $1 in
    --rounds) rounds=$2; shift ;;
    --metrics) metrics=$2; shift ;;
    --endpoint-file) endpoint_file=$2; shift ;;
    esac
    shift
done
echo "tcp://127.0.0.1:1$$" >"$endpoint_file.tmp" && mv "$endpoint_file.tmp" "$endpoint_file"
mode=${DOUBLE_MODE:-ok}
[[ $mode == forever ]] && rounds=1000000
# Like the real server, start the rounds once the workers are there (pids is written then).
until [[ -f ${metrics%/*}/pids ]]; do sleep 0.02; done
[[ $mode == no-metrics ]] && exit 0
for ((r = 1; r <= rounds; r++)); do
    if ((r % 2 == 0 || r == rounds)); then
        echo "{\"round\":$r,\"elapsed_s\":0.1,\"accepted\":5,\"rejected\":{\"stale\":1},\"train_loss\":0.5,\"test_accuracy\":0.5$r,\"test_loss\":0.4}" >>"$metrics"
    else
        echo "{\"round\":$r,\"elapsed_s\":0.1,\"accepted\":5,\"rejected\":0,\"train_loss\":0.5}" >>"$metrics"
    fi
    sleep 0.02
done
[[ $mode == fail ]] && { echo "double: failing on purpose" >&2; exit 3; }
exit 0
EOF
# The worker double: lives while the server double (pid in the endpoint's port) lives.
# DOUBLE_WORKER: ok | stubborn (ignores SIGTERM) | crash (exits 1 at once).
cat >"$doubles/byzgd-worker" <<'EOF'
#!/usr/bin/env bash
# TEST DOUBLE of byzgd-worker (see tests/e2e_cluster_doubles.sh)
echo "worker argv: $*"
[[ ${DOUBLE_WORKER:-ok} == crash ]] && exit 1
if [[ ${DOUBLE_WORKER:-ok} == stubborn ]]; then # ignores SIGTERM, never leaves by itself
    trap '' TERM
    echo "stubborn: ignoring SIGTERM"
    while :; do sleep 0.05; done
fi
while (($#)); do [[ $1 == --endpoint ]] && endpoint=$2; shift; done
server=${endpoint##*:1}
while kill -0 "$server" 2>/dev/null; do sleep 0.05; done
EOF
cp "$doubles/byzgd-worker" "$doubles/byzgd-byzantine"
cat >"$doubles/byzgd-keygen" <<'EOF'
#!/usr/bin/env bash
# TEST DOUBLE of byzgd-keygen
echo "keygen argv: $*"
mkdir -p "$1/workers" && echo "server cert" >"$1/server.cert"
EOF
chmod +x "$doubles"/byzgd-*
# The real supervisor (not a double): the launcher starts the server double under it.
ln -s "$BYZGD_BIN/byzgd-supervise" "$doubles/byzgd-supervise"
# The launcher checks the rule's precondition for n: the doubles' runs use few workers, so
# `average` unless a case names its rule.
cluster=("$BYZGD_BIN/byzgd-cluster" --bin-dir "$doubles" --rule average)

echo "== a run that succeeds"
run=$E2E_DIR/ok
"${cluster[@]}" --run-dir "$run" --workers 5 --byzantine 2 --attack gaussian --sigma 3 \
    --misbehave stale,garbage --rounds 6 --rule krum -f 1 -m 1 >"$E2E_DIR/ok.out" 2>&1
e2e_expect_status $? 0 "$E2E_DIR/ok.out"
e2e_no_process_left "$run"
grep -q '^summary: ok rule=krum attack=gaussian workers=5 byzantine=2 rounds=6 final_accuracy=0.5600 best_accuracy=0.5600' "$E2E_DIR/ok.out" ||
    e2e_fail "summary line wrong" "$E2E_DIR/ok.out"
grep -q '^round    4/6  test accuracy 0.5400' "$E2E_DIR/ok.out" || e2e_fail "no progress line" "$E2E_DIR/ok.out"
for name in server worker-00 worker-01 worker-02 byzantine-00 byzantine-01 keygen; do
    [[ -s $run/logs/$name.log ]] || e2e_fail "missing log $name"
done
[[ $(wc -l <"$run/pids") -eq 7 ]] || e2e_fail "pids should list the launcher and 6 children" "$run/pids"
[[ -f $run/keys/server.cert ]] || e2e_fail "keygen was not run into RUN_DIR/keys"
grep -q "keygen argv: $run/keys --workers 5" "$run/logs/keygen.log" || e2e_fail "keygen flags" "$run/logs/keygen.log"
server_log=$run/logs/server.log
for flag in "--endpoint tcp://127.0.0.1:[0-9][0-9]* " "--checkpoint-every 10" "--endpoint-file $run/endpoint" "--metrics $run/metrics.jsonl" \
    "--checkpoint $run/checkpoint" "--keys $run/keys" "--workers 5" "-f 1" "--rule krum" "-m 1" \
    "--rounds 6" "--batch 16" "--lr 0.05" "--seed 1" "--dataset fashion-mnist" "--model mlp"; do
    grep -q -- "$flag" "$server_log" || e2e_fail "server lacks '$flag'" "$server_log"
done
grep -q -- "--attack\|--sigma\|--misbehave" "$server_log" && e2e_fail "attack flags reached the server" "$server_log"
grep -q "memory cap 2088 MiB" "$server_log" || e2e_fail "the server is not supervised (2048 + 8 n MiB)" "$server_log"
grep -q -- "--endpoint tcp://127.0.0.1:1[0-9]* --cert $run/keys/workers/worker-000.cert --server-cert $run/keys/server.cert --threads 1$" \
    "$run/logs/worker-00.log" || e2e_fail "honest worker flags" "$run/logs/worker-00.log"
grep -q -- "worker-003.cert .* --attack gaussian --sigma 3 --misbehave stale$" "$run/logs/byzantine-00.log" ||
    e2e_fail "byzantine-00 flags" "$run/logs/byzantine-00.log"
grep -q -- "worker-004.cert .* --misbehave garbage$" "$run/logs/byzantine-01.log" ||
    e2e_fail "byzantine-01 flags" "$run/logs/byzantine-01.log"

echo "== the written configuration reproduces the run"
grep -q '^rule = krum$' "$run/config" && grep -q '^# run-dir = ' "$run/config" ||
    e2e_fail "config content" "$run/config"
"${cluster[@]}" --config "$run/config" --run-dir "$E2E_DIR/again" --quiet >"$E2E_DIR/again.out" 2>&1
e2e_expect_status $? 0 "$E2E_DIR/again.out"
diff <(grep -v '^#' "$run/config") <(grep -v '^#' "$E2E_DIR/again/config") ||
    e2e_fail "the reproduced run's configuration differs"
e2e_no_process_left "$E2E_DIR/again"

echo "== a run directory holding a run is refused; --insecure passes no keys"
"${cluster[@]}" --run-dir "$run" --workers 2 >"$E2E_DIR/reuse.out" 2>&1
e2e_expect_status $? 2 "$E2E_DIR/reuse.out"
grep -q "already holds a run" "$E2E_DIR/reuse.out" || e2e_fail "reuse message" "$E2E_DIR/reuse.out"
"${cluster[@]}" --run-dir "$E2E_DIR/insecure" --workers 2 --rounds 2 --insecure --quiet >"$E2E_DIR/insecure.out" 2>&1
e2e_expect_status $? 0 "$E2E_DIR/insecure.out"
grep -q -- "--insecure" "$E2E_DIR/insecure/logs/server.log" || e2e_fail "server not insecure"
grep -q -- "--endpoint tcp://127.0.0.1:[0-9]* --insecure --slot 0 --threads 1$" "$E2E_DIR/insecure/logs/worker-00.log" ||
    e2e_fail "worker not insecure" "$E2E_DIR/insecure/logs/worker-00.log"
[[ -e $E2E_DIR/insecure/keys ]] && e2e_fail "keys made for an insecure run"

echo "== --no-supervise runs the server directly, with the endpoint as given"
"${cluster[@]}" --run-dir "$E2E_DIR/direct" --workers 2 --rounds 2 --no-supervise --quiet >"$E2E_DIR/direct.out" 2>&1
e2e_expect_status $? 0 "$E2E_DIR/direct.out"
grep -q -- "--endpoint tcp://127.0.0.1:\* " "$E2E_DIR/direct/logs/server.log" && ! grep -q "memory cap" "$E2E_DIR/direct/logs/server.log" ||
    e2e_fail "--no-supervise still supervised" "$E2E_DIR/direct/logs/server.log"
grep -q -- "--checkpoint-every" "$E2E_DIR/direct/logs/server.log" && e2e_fail "--no-supervise changed the checkpoint period"

echo "== failures exit 1 and leave nothing behind"
DOUBLE_MODE=fail "${cluster[@]}" --run-dir "$E2E_DIR/fail" --workers 3 --rounds 3 >"$E2E_DIR/fail.out" 2>&1
e2e_expect_status $? 1 "$E2E_DIR/fail.out"
grep -q "the server exited with status 3" "$E2E_DIR/fail.out" && grep -q "failing on purpose" "$E2E_DIR/fail.out" ||
    e2e_fail "failure not reported with the server's log" "$E2E_DIR/fail.out"
e2e_no_process_left "$E2E_DIR/fail"
DOUBLE_MODE=no-metrics "${cluster[@]}" --run-dir "$E2E_DIR/nometrics" --workers 3 >"$E2E_DIR/nometrics.out" 2>&1
e2e_expect_status $? 1 "$E2E_DIR/nometrics.out"
grep -q "holds no round" "$E2E_DIR/nometrics.out" || e2e_fail "no-metrics message" "$E2E_DIR/nometrics.out"
DOUBLE_MODE=forever DOUBLE_WORKER=crash "${cluster[@]}" --run-dir "$E2E_DIR/crash" --workers 3 >"$E2E_DIR/crash.out" 2>&1
e2e_expect_status $? 1 "$E2E_DIR/crash.out"
grep -q "every worker has ended and the server did not finish" "$E2E_DIR/crash.out" || e2e_fail "all-workers-gone message" "$E2E_DIR/crash.out"
e2e_no_process_left "$E2E_DIR/crash"
DOUBLE_MODE=forever "${cluster[@]}" --run-dir "$E2E_DIR/timeout" --workers 3 --timeout 1 >"$E2E_DIR/timeout.out" 2>&1
e2e_expect_status $? 1 "$E2E_DIR/timeout.out"
grep -q "timed out after 1 s" "$E2E_DIR/timeout.out" || e2e_fail "timeout message" "$E2E_DIR/timeout.out"
e2e_no_process_left "$E2E_DIR/timeout"

echo "== Ctrl-C stops everything, a worker ignoring SIGTERM included"
DOUBLE_MODE=forever DOUBLE_WORKER=stubborn "${cluster[@]}" --run-dir "$E2E_DIR/int" --workers 3 \
    >"$E2E_DIR/int.out" 2>&1 &
launcher=$!
e2e_wait_for 30 "metrics of the interrupted run" e2e_metrics_rounds_at_least "$E2E_DIR/int" 3
s_stubborn_ready() { [[ $(cat "$E2E_DIR"/int/logs/worker-*.log 2>/dev/null | grep -c "ignoring SIGTERM") -eq 3 ]]; }
e2e_wait_for 30 "stubborn workers" s_stubborn_ready
kill -INT "$launcher"
wait "$launcher"
e2e_expect_status $? 130 "$E2E_DIR/int.out"
grep -q "Interrupt: stopping every process" "$E2E_DIR/int.out" && grep -q "3 process(es) had to be killed" "$E2E_DIR/int.out" ||
    e2e_fail "interrupt and escalation not reported" "$E2E_DIR/int.out"
e2e_no_process_left "$E2E_DIR/int"

echo "== kill -9 of the launcher takes its children along (PDEATHSIG)"
DOUBLE_MODE=forever "${cluster[@]}" --run-dir "$E2E_DIR/kill9" --workers 3 >"$E2E_DIR/kill9.out" 2>&1 &
launcher=$!
e2e_wait_for 30 "metrics of the killed run" e2e_metrics_rounds_at_least "$E2E_DIR/kill9" 3
kill -KILL "$launcher"
wait "$launcher" 2>/dev/null
e2e_no_process_left "$E2E_DIR/kill9"

echo "== usage errors exit 2"
for args in "--wokers 3" "--workers 3x" "--byzantine 3" "--workers" "stray" "--config /nonexistent.conf" \
    "--byzantine 1 --attack gaussian --misbehave typo"; do
    # shellcheck disable=SC2086
    "${cluster[@]}" $args >"$E2E_DIR/usage.out" 2>&1
    e2e_expect_status $? 2 "$E2E_DIR/usage.out"
done
printf 'workers = 4\nrounds = ten\n' >"$E2E_DIR/bad.conf"
"${cluster[@]}" --config "$E2E_DIR/bad.conf" >"$E2E_DIR/usage.out" 2>&1
e2e_expect_status $? 2 "$E2E_DIR/usage.out"
grep -q "bad.conf:2: --rounds: 'ten' is not an integer" "$E2E_DIR/usage.out" || e2e_fail "config error message" "$E2E_DIR/usage.out"
"${cluster[@]}" --help | grep -q -- "--misbehave" || e2e_fail "--help lacks --misbehave"
echo "all checks passed"
