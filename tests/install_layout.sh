#!/usr/bin/env bash
# `make install` into a scratch DESTDIR: every program but the test tools, a man page for
# each (generated from --help by help2man) and the docs.
set -euo pipefail
command -v help2man >/dev/null || { echo "help2man is not installed"; exit 77; }
root="${BYZGD_ROOT:-.}"
destdir=$(mktemp -d /tmp/byzgd-install-XXXXXX)
trap 'rm -rf "$destdir"' EXIT
make --no-print-directory -C "$root" install DESTDIR="$destdir" PREFIX=/usr >/dev/null
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
for program in byzgd-server byzgd-worker byzgd-byzantine byzgd-cluster byzgd-supervise \
               byzgd-aggregate byzgd-train byzgd-keygen; do
    [[ -x "$destdir/usr/bin/$program" ]] || fail "$program not installed"
    page="$destdir/usr/share/man/man1/$program.1"
    [[ -s "$page" ]] || { fail "no man page for $program"; continue; }
    grep -q 'print the version and exit' "$page" || fail "$program.1 does not document --version"
    grep -q "^$program \\\\- " "$page" || fail "$program.1 has no NAME line"
done
[[ ! -e "$destdir/usr/bin/byzgd-hammer" ]] || fail "the test tool byzgd-hammer is installed"
for doc in README.md ARCHITECTURE.md PROTOCOL.md SECURITY.md RULES.md; do
    [[ -s "$destdir/usr/share/doc/byzgd/$doc" ]] || fail "$doc not installed"
done
installed=$(find "$destdir/usr/bin" -type f | wc -l)
echo "$installed programs, $failures failures"
((failures == 0))
