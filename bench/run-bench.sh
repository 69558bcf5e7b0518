#!/usr/bin/env bash
# Runs every benchmark binary in BENCH_DIR, then the bench/*.sh scripts (exit 77: skipped,
# e.g. a program not built or a dataset not installed). Figures on stdout.
# Timings on a shared 2-core machine are noisy: compare ratios measured within one run.
set -u
dir=${1:?usage: run-bench.sh BENCH_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
export BYZGD_BIN="$root/build/bin" BYZGD_ROOT="$root"
status=0
for bench in "$dir"/bench_*; do
    [[ -x "$bench" && "$bench" != *.o && "$bench" != *.d ]] || continue
    echo "== ${bench##*/}"
    "$bench" || status=1
done
for script in "$root"/bench/*.sh; do
    [[ "$script" == */run-bench.sh ]] && continue
    echo "== ${script##*/}"
    bash "$script"
    result=$?
    ((result == 0 || result == 77)) || status=1
done
exit $status
