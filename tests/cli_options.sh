#!/usr/bin/env bash
# Every byzgd-* program answers --version and --help (and -h) on stdout with exit 0, and an
# unknown flag or a flag without its value with one line on stderr and exit 2.
set -uo pipefail
bin_dir="${BYZGD_BIN:-build/bin}"
version=$(sed -n 's/^#define BYZGD_VERSION "\(.*\)"$/\1/p' common/support/version.h)
[[ -n "$version" ]] || { echo "no version in common/support/version.h"; exit 1; }
failures=0 programs=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
for program in "$bin_dir"/byzgd-*; do
    [[ -x "$program" ]] || continue
    name=$(basename "$program")
    programs=$((programs + 1))
    out=$("$program" --version 2>/dev/null) || fail "$name --version: status $?"
    [[ "$out" == "$name (byzgd) $version" ]] || fail "$name --version printed '$out'"
    for help in --help -h; do
        out=$("$program" "$help" 2>/dev/null) || fail "$name $help: status $?"
        [[ "$out" == "Usage: $name "* ]] || fail "$name $help: no usage line"
        grep -q -- '--version' <<<"$out" || fail "$name $help does not list --version"
    done
    err=$("$program" --no-such-option 2>&1 >/dev/null)
    status=$?
    ((status == 2)) || fail "$name --no-such-option: status $status"
    [[ "$err" == *"unknown option --no-such-option"* ]] || fail "$name: message '$err'"
    (($(wc -l <<<"$err") == 1)) || fail "$name: more than one line on stderr: $err"
done
# A flag that needs a value, given last, is a usage error too.
"$bin_dir/byzgd-server" --workers >/dev/null 2>&1
status=$?
((status == 2)) || fail "byzgd-server --workers (no value): status $status"
"$bin_dir/byzgd-train" --steps >/dev/null 2>&1
status=$?
((status == 2)) || fail "byzgd-train --steps (no value): status $status"
# The rule list of --help is the rule table's, not a copy.
for rule in average krum multi-krum medoid 1-p-krum geomed median trimmed-mean meamed bulyan mda cclip; do
    "$bin_dir/byzgd-server" --help | grep -q -- "$rule" || fail "byzgd-server --help lacks $rule"
done
((programs >= 9)) || fail "only $programs programs found in $bin_dir"
echo "$programs programs, $failures failures"
((failures == 0))
