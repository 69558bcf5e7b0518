#!/usr/bin/env bash
# byzgd-supervise budgets restarts per time window (SECURITY.md §5), on a schedule scaled
# down 20 times (the defaults are 10 restarts at once, one more per 6 s, back-off 500 to
# 3000 ms; here one more per 0.3 s, back-off 25 to 150 ms):
# - 15 forced restarts spread over the scaled two minutes (a server killed every 0.4 s,
#   like 15 endless multipart messages spread over 2 min) do not end the run: the 16th start
#   finishes with status 0 (regression: 11 forced restarts in 25 s ended a run);
# - a crash loop (a server that dies at once) still ends it, with the supervisor's error.
set -u
. "$(dirname "$0")/support/e2e_lib.bash"
e2e_need byzgd-supervise

budget=(--max-restarts 10 --restart-every 0.3 --backoff-ms 25,150)
starts=$E2E_DIR/starts
# Each start counts itself; the first 15 are killed (SIGKILL, as the memory cap does) after
# 0.4 s of work, the 16th ends normally.
cat >"$E2E_DIR/server.sh" <<SCRIPT
#!/bin/sh
echo start >>"$starts"
[ "\$(wc -l <"$starts")" -gt 15 ] && exit 0
sleep 0.4
kill -KILL \$\$
SCRIPT
chmod +x "$E2E_DIR/server.sh"
started=$SECONDS
timeout 120 "$BYZGD_BIN/byzgd-supervise" "${budget[@]}" --no-resume-flag -- "$E2E_DIR/server.sh" \
    >"$E2E_DIR/spread.out" 2>&1
e2e_expect_status $? 0 "$E2E_DIR/spread.out"
[[ $(wc -l <"$starts") -eq 16 ]] || e2e_fail "expected 16 starts, got $(wc -l <"$starts")" "$E2E_DIR/spread.out"
grep -q "giving up" "$E2E_DIR/spread.out" && e2e_fail "the supervisor gave up" "$E2E_DIR/spread.out"
echo "15 spread restarts survived in $((SECONDS - started)) s"

# A crash loop: every start dies at once.
printf '#!/bin/sh\necho start >>"%s/loop"\nkill -KILL $$\n' "$E2E_DIR" >"$E2E_DIR/loop.sh"
chmod +x "$E2E_DIR/loop.sh"
timeout 120 "$BYZGD_BIN/byzgd-supervise" "${budget[@]}" --no-resume-flag -- "$E2E_DIR/loop.sh" \
    >"$E2E_DIR/loop.out" 2>&1
e2e_expect_status $? $((128 + 9)) "$E2E_DIR/loop.out"
grep -q "giving up after .* restarts" "$E2E_DIR/loop.out" || e2e_fail "no give-up message" "$E2E_DIR/loop.out"
loops=$(wc -l <"$E2E_DIR/loop")
((loops >= 11 && loops <= 40)) || e2e_fail "the crash loop ran $loops times" "$E2E_DIR/loop.out"
