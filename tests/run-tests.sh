#!/usr/bin/env bash
# Runs every test of a sanitizer build and ends with `N passed, M failed`.
#   tests/run-tests.sh BUILD_DIR      (BUILD_DIR holds tests/, tests/fuzz/ and bin/)
# A test binary prints `ok NAME` / `FAIL NAME: why` per case; a binary that dies without
# reporting counts as one failure. Scripts tests/*.sh are one case each (exit 77: skipped).
# Fuzz replays run each target over its committed corpus. A script may declare its own
# time limit (`# test-timeout: SECONDS`, default 900). TESTS=pattern selects by name.
set -u
build=${1:?usage: run-tests.sh BUILD_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
export BYZGD_BIN="$root/$build/bin" BYZGD_ROOT="$root"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
log_dir="$root/$build/test-logs"
mkdir -p "$log_dir"
passed=0 failed=0 skipped=0

s_account() { # name status log
    local name=$1 status=$2 log=$3 ok fail
    ok=$(grep -c '^ok ' "$log")
    fail=$(grep -c '^FAIL ' "$log")
    grep -E '^(ok|FAIL) ' "$log" | sed "s|^|$name: |"
    if ((status != 0 && fail == 0)); then
        echo "FAIL $name: exited with status $status without reporting a failed case"
        tail -20 "$log" | sed 's/^/    /'
        fail=1
    elif ((fail)); then
        grep -A12 '^FAIL \|^  .*:[0-9]*: ' "$log" | grep -v '^ok ' | head -40 | sed 's/^/    /'
    fi
    passed=$((passed + ok)) failed=$((failed + fail))
}

for bin in "$root/$build"/tests/test_*; do
    [[ -x "$bin" && "$bin" != *.o && "$bin" != *.d ]] || continue
    name=$(basename "$bin")
    [[ -n "${TESTS:-}" && "$name" != *$TESTS* ]] && continue
    log="$log_dir/$name.log"
    (cd "$root" && timeout 1200 "$bin") >"$log" 2>&1
    s_account "$name" $? "$log"
done

for replay in "$root/$build"/tests/fuzz/replay_*; do
    [[ -x "$replay" && "$replay" != *.o && "$replay" != *.d ]] || continue
    target=${replay##*/replay_}
    name="fuzz-replay-$target"
    [[ -n "${TESTS:-}" && "$name" != *$TESTS* ]] && continue
    log="$log_dir/$name.log"
    corpus="$root/tests/fuzz/corpus/$target"
    if timeout 600 "$replay" "$corpus" >"$log" 2>&1; then
        echo "$name: ok ($(grep -c . "$log") inputs)"; passed=$((passed + 1))
    else
        echo "FAIL $name"; tail -20 "$log" | sed 's/^/    /'; failed=$((failed + 1))
    fi
done

for script in "$root"/tests/*.sh; do
    [[ -f "$script" ]] || continue
    name=$(basename "$script" .sh)
    [[ "$name" == run-tests ]] && continue
    [[ -n "${TESTS:-}" && "$name" != *$TESTS* ]] && continue
    log="$log_dir/$name.log"
    # A script may ask for a longer limit with a line `# test-timeout: SECONDS`.
    limit=$(sed -n 's/^# test-timeout: \([0-9]*\)$/\1/p' "$script" | head -1)
    (cd "$root" && timeout "${limit:-900}" bash "$script") >"$log" 2>&1
    status=$?
    if ((status == 0)); then
        echo "ok $name"; passed=$((passed + 1))
    elif ((status == 77)); then
        echo "skip $name: $(tail -1 "$log")"; skipped=$((skipped + 1))
    else
        echo "FAIL $name (status $status)"; tail -25 "$log" | sed 's/^/    /'; failed=$((failed + 1))
    fi
done

echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0 && passed > 0))
