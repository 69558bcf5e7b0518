# Helpers of the end-to-end scripts tests/e2e_*.sh and of the bench/*.sh scripts that start
# real processes, sourced by them (a .bash file outside tests/*.sh, so the test runner does
# not count it as a test).
#   BYZGD_BIN   directory of the executables under test (default: the ASan build's bin/;
#               the bench scripts' e2e_bench_need: the release build's)
#   E2E_DIR     a fresh scratch directory, removed on success, kept on failure

BYZGD_ROOT=${BYZGD_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
s_e2e_bin_given=${BYZGD_BIN:-}
BYZGD_BIN=${BYZGD_BIN:-$BYZGD_ROOT/build/asan/bin}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
E2E_DIR=$(mktemp -d /tmp/byzgd-e2e-XXXXXX)
trap 'e2e_cleanup' EXIT

e2e_cleanup() {
    local status=$?
    # Whatever happened, nothing of this test may keep running.
    pkill -KILL -f -- "$E2E_DIR/" 2>/dev/null
    if ((status == 0 || status == 77)); then rm -rf "$E2E_DIR"; else echo "kept $E2E_DIR for inspection"; fi
}

e2e_fail() { # message [file to show]
    echo "FAIL: $1"
    if [[ -n "${2:-}" && -f "$2" ]]; then tail -30 "$2" | sed 's/^/    /'; fi
    exit 1
}

e2e_skip() {
    echo "$1"
    exit 77
}

e2e_need() { # programs that must exist in BYZGD_BIN
    local program
    for program in "$@"; do
        [[ -x "$BYZGD_BIN/$program" ]] || e2e_skip "$BYZGD_BIN/$program is not built"
    done
}

# For bench/*.sh: the release build (timings of sanitizer builds mean little) unless
# BYZGD_BIN names another, with the programs given (else skip, 77).
e2e_bench_need() { # programs
    BYZGD_BIN=${s_e2e_bin_given:-$BYZGD_ROOT/build/bin}
    e2e_need "$@"
}

e2e_need_fashion_mnist() { # else skip (77)
    [[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]] ||
        e2e_skip "Fashion-MNIST is not installed (deploy/install-deps.sh)"
}

e2e_expect_status() { # actual expected [output file]
    (($1 == $2)) || e2e_fail "exit status $1, expected $2" "${3:-}"
}

# Runs "$@" until it succeeds, for at most SECONDS (a bounded wait for a condition).
e2e_wait_for() { # seconds description command...
    local seconds=$1 description=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        ((SECONDS < deadline)) || e2e_fail "timed out waiting for $description"
        sleep 0.05
    done
}

# Number of lines in RUN_DIR/metrics.jsonl.
e2e_metrics_lines() {
    [[ -f "$1/metrics.jsonl" ]] && wc -l <"$1/metrics.jsonl" || echo 0
}

e2e_metrics_rounds_at_least() { # run_dir count
    (($(e2e_metrics_lines "$1") >= $2))
}

# The pid of a child (server, worker-00, ...) from RUN_DIR/pids.
e2e_pid() { # run_dir name
    awk -v name="$2" '$1 == name { print $2 }' "$1/pids"
}

s_e2e_alive() { # pid: running and not a zombie
    local state
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

# Fails unless every process listed in RUN_DIR/pids is gone and no process mentions
# RUN_DIR in its command line. The kernel ends killed processes asynchronously: wait a
# little (bounded) before judging.
e2e_no_process_left() { # run_dir
    local run=$1 pid name deadline=$((SECONDS + 10)) alive
    while :; do
        alive=""
        if [[ -f "$run/pids" ]]; then
            while read -r name pid; do
                s_e2e_alive "$pid" && alive+=" $name($pid)"
            done <"$run/pids"
        fi
        for pid in $(pgrep -f -- "$run" 2>/dev/null); do
            s_e2e_alive "$pid" && alive+=" $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80)"
        done
        [[ -z "$alive" ]] && return 0
        ((SECONDS < deadline)) || e2e_fail "processes left behind:$alive"
        sleep 0.1
    done
}

# Fails if any log of the run holds a sanitizer report.
e2e_no_sanitizer_report() { # run_dir
    local hits
    hits=$(grep -l -E 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$1"/logs/*.log 2>/dev/null)
    [[ -z "$hits" ]] || e2e_fail "sanitizer report in $hits" "$(echo "$hits" | head -1)"
}

# Prints a field of metrics.jsonl with python3: e2e_metrics RUN_DIR EXPRESSION, where the
# expression sees `rows` (the list of parsed lines).
e2e_metrics() { # run_dir expression
    python3 - "$1/metrics.jsonl" "$2" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
print(eval(sys.argv[2]))
EOF
}

# Checks that metrics.jsonl files agree value for value, times aside (tests/support/
# same_metrics.py: options --ignore KEY, --rounds N); prints one line, or the first difference.
e2e_same_metrics() { # [--ignore KEY] [--rounds N] first other...
    python3 "$BYZGD_ROOT/tests/support/same_metrics.py" "$@"
}

# Runs byzgd-cluster into RUN_DIR, its output in RUN_DIR.out; returns its exit status.
# E2E_CLUSTER_FLAGS (e.g. --insecure) is appended, for debugging a failing test by hand.
e2e_cluster() { # run_dir flags...
    local run=$1
    shift
    # shellcheck disable=SC2086
    "$BYZGD_BIN/byzgd-cluster" --run-dir "$run" "$@" ${E2E_CLUSTER_FLAGS:-} >"$run.out" 2>&1
}
