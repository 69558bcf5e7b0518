#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS each, starting from its committed corpus.
# New interesting inputs go to build/fuzz/corpus-NAME (not committed); crashes are written
# to build/fuzz/crashes/ and should be committed to tests/fuzz/corpus/NAME as regressions.
#   tests/fuzz/run-fuzz.sh FUZZ_BUILD_DIR SECONDS
set -u
dir=${1:?usage: run-fuzz.sh FUZZ_BUILD_DIR SECONDS} seconds=${2:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$dir/crashes"
status=0
for target in "$dir"/fuzz_*; do
    [[ -x "$target" && "$target" != *.o && "$target" != *.d ]] || continue
    name=${target##*/fuzz_}
    work="$dir/corpus-$name"
    mkdir -p "$work"
    echo "== fuzz $name for ${seconds}s" >&2
    dict="$root/tests/fuzz/$name.dict"
    dict_flag=()
    [[ -f "$dict" ]] && dict_flag=(-dict="$dict")
    "$target" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 \
        -artifact_prefix="$dir/crashes/$name-" "${dict_flag[@]}" \
        "$work" "$root/tests/fuzz/corpus/$name" 2>"$dir/$name.log" || status=1
    grep -E 'stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added' \
        "$dir/$name.log" | sed "s/^/  $name /"
    grep -E '^(==[0-9]+==ERROR|SUMMARY)' "$dir/$name.log" | sed "s/^/  $name /"
done
ls "$dir/crashes" | sed 's/^/  crash: /'
exit $status
