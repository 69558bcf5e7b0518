#!/usr/bin/env bash
# byzgd-train end to end on the synthetic dataset: metrics lines, a loss that falls, save and
# load, and exit status 2 with a useful message for bad flags, missing data and a parameter
# file of another model.
set -euo pipefail
bin=${BYZGD_BIN:?}/byzgd-train
[[ -x "$bin" ]] || { echo "byzgd-train not built"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$bin" --model mlp --dataset synthetic --batch 16 --lr 0.1 --steps 200 --eval-every 100 \
    --seed 3 --threads 2 --metrics "$tmp/m.jsonl" --save "$tmp/p.bin" 2>"$tmp/err" ||
    fail "training run failed: $(cat "$tmp/err")"
grep -q "d = " "$tmp/err" || fail "d not printed"
python3 - "$tmp/m.jsonl" <<'PY' || fail "metrics check"
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
assert [r["step"] for r in rows] == [100, 200], rows
for r in rows:
    for key in ("train_loss", "test_loss", "test_accuracy", "elapsed_s"):
        assert isinstance(r[key], float), (key, r)
assert rows[1]["train_loss"] < rows[0]["train_loss"] or rows[1]["test_loss"] < 0.3, rows
assert rows[1]["test_accuracy"] > 0.9, rows
PY

# The saved parameters evaluate to the final metrics line.
"$bin" --model mlp --dataset synthetic --steps 0 --load "$tmp/p.bin" --metrics "$tmp/l.jsonl" \
    2>"$tmp/err" || fail "load run failed: $(cat "$tmp/err")"
python3 - "$tmp/m.jsonl" "$tmp/l.jsonl" <<'PY' || fail "loaded parameters differ"
import json, sys
final = [json.loads(line) for line in open(sys.argv[1])][-1]
loaded = json.loads(open(sys.argv[2]).readline())
assert abs(final["test_loss"] - loaded["test_loss"]) < 1e-6, (final, loaded)
assert final["test_accuracy"] == loaded["test_accuracy"], (final, loaded)
PY

# Same seed, same run (single thread for bitwise equality of the metrics).
"$bin" --dataset synthetic --steps 50 --eval-every 50 --threads 1 --metrics "$tmp/a" 2>/dev/null
"$bin" --dataset synthetic --steps 50 --eval-every 50 --threads 1 --metrics "$tmp/b" 2>/dev/null
[[ $(cut -d, -f2-4 "$tmp/a") == $(cut -d, -f2-4 "$tmp/b") ]] || fail "not deterministic"

expect_2() { # expected-text args...
    local want=$1 status=0
    shift
    "$bin" "$@" >"$tmp/out" 2>&1 || status=$?
    [[ $status -eq 2 ]] || fail "$* exited $status, expected 2: $(cat "$tmp/out")"
    grep -q -- "$want" "$tmp/out" || fail "$*: no \"$want\" in: $(cat "$tmp/out")"
}
expect_2 "unknown option --frobnicate" --frobnicate
expect_2 "--batch: 0 is outside \[1, 65536\]" --batch 0
expect_2 "--batch: .x. is not an integer" --batch x
expect_2 "needs a value" --steps
expect_2 "unknown architecture" --model resnet --dataset synthetic
expect_2 "install" --dataset fashion-mnist --data-dir "$tmp/nowhere"
expect_2 "step:EVERY:FACTOR" --lr-schedule cosine
expect_2 "wrong architecture" --model logreg --dataset synthetic --steps 0 --load "$tmp/p.bin"
echo "train_cli: ok"
