#!/usr/bin/env bash
# byzgd-sweep end to end (runs by byzgd-simulate, its default; the grid's transport options
# are ignored): two rules × two attacks × two seeds on synthetic data (n = 5, one
# attacker, 4 rounds) → results.csv with one row per run and every column, metrics.jsonl per
# run; a second call runs nothing; a bad grid exits 2 and creates nothing; byzgd-plot turns
# the sweep into valid PNG and SVG files; a call with other settings runs every run again.
set -u
. "$(dirname "$0")/support/e2e_lib.bash"
e2e_need byzgd-sweep byzgd-plot byzgd-simulate
command -v gnuplot >/dev/null || e2e_skip "gnuplot is not installed (deploy/install-deps.sh)"

cat >"$E2E_DIR/small.grid" <<'EOF'
# two rules × two attacks × two seeds
workers = 5
byzantine = 1
model = logreg
dataset = synthetic
rounds = 4
batch = 8
eval-every = 2
insecure = true
timeout = 300
rule = average, krum
attack = gaussian, signflip
seeds = 1,2
EOF
out=$E2E_DIR/sweep
"$BYZGD_BIN/byzgd-sweep" --grid "$E2E_DIR/small.grid" --out "$out" -j 2 >"$E2E_DIR/first.out" 2>&1
e2e_expect_status $? 0 "$E2E_DIR/first.out"
grep -q '^sweep: 8/8 runs done (0 skipped, 0 failed), 0 running, .* ETA' "$E2E_DIR/first.out" ||
    e2e_fail "no final progress line" "$E2E_DIR/first.out"
header=$(head -1 "$out/results.csv")
[[ $header == "id,rule,attack,seed,status,final_accuracy,best_accuracy,rounds,seconds,byzantine_selected_fraction" ]] ||
    e2e_fail "results.csv header: $header"
[[ $(tail -n +2 "$out/results.csv" | wc -l) == 8 ]] || e2e_fail "not 8 rows" "$out/results.csv"
python3 - "$out" <<'PY' || exit 1
import csv, json, os, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(out, "results.csv"))))
seen = {(r["rule"], r["attack"], r["seed"]) for r in rows}
assert seen == {(rule, attack, seed) for rule in ("average", "krum")
                for attack in ("gaussian", "signflip") for seed in ("1", "2")}, seen
for r in rows:
    assert r["status"] == "ok" and r["rounds"] == "4", r
    assert 0 <= float(r["final_accuracy"]) <= float(r["best_accuracy"]) <= 1, r
    assert float(r["seconds"]) >= 0, r  # filled (the simulator runs these in well under 0.1 s)
    metrics = [json.loads(line) for line in open(os.path.join(out, "runs", r["id"], "metrics.jsonl"))]
    assert [m["round"] for m in metrics] == [1, 2, 3, 4], r["id"]
    assert abs(metrics[-1]["test_accuracy"] - float(r["final_accuracy"])) < 6e-5, r["id"]
    # The column is filled only from metrics that say which rows were Byzantine.
    assert (r["byzantine_selected_fraction"] == "") == all("selected_byzantine" not in m for m in metrics), r
print("results.csv: 8 rows, every combination, metrics agree")
PY

stamp=$(stat -c %Y "$out"/runs/*/metrics.jsonl | sort | tail -1)
"$BYZGD_BIN/byzgd-sweep" --grid "$E2E_DIR/small.grid" --out "$out" -j 2 >"$E2E_DIR/second.out" 2>&1
e2e_expect_status $? 0 "$E2E_DIR/second.out"
grep -q '^sweep: 8 runs (8 finished before)' "$E2E_DIR/second.out" || e2e_fail "second call" "$E2E_DIR/second.out"
grep -q '^sweep: ok ' "$E2E_DIR/second.out" && e2e_fail "second call ran something" "$E2E_DIR/second.out"
[[ $(stat -c %Y "$out"/runs/*/metrics.jsonl | sort | tail -1) == "$stamp" ]] || e2e_fail "a metrics file changed"
[[ $(tail -n +2 "$out/results.csv" | wc -l) == 8 ]] || e2e_fail "second call lost rows" "$out/results.csv"

# --distributed runs byzgd-cluster; for the same seed its metrics equal the simulator's.
e2e_need byzgd-cluster byzgd-server byzgd-worker byzgd-byzantine
"$BYZGD_BIN/byzgd-sweep" --grid "$E2E_DIR/small.grid" --out "$E2E_DIR/distributed" --distributed \
    --set rule=krum --set attack=gaussian --set seeds=1 >"$E2E_DIR/distributed.out" 2>&1
e2e_expect_status $? 0 "$E2E_DIR/distributed.out"
python3 - "$out" "$E2E_DIR/distributed" <<'PY' || exit 1
import csv, json, os, sys
def metrics(out, pick):
    rows = [r for r in csv.DictReader(open(os.path.join(out, "results.csv"))) if pick(r)]
    assert len(rows) == 1, rows
    return [json.loads(line) for line in open(os.path.join(out, "runs", rows[0]["id"], "metrics.jsonl"))]
simulated = metrics(sys.argv[1], lambda r: (r["rule"], r["attack"], r["seed"]) == ("krum", "gaussian", "1"))
distributed = metrics(sys.argv[2], lambda r: True)
fields = ("round", "accepted", "selected", "selected_byzantine", "train_loss", "test_accuracy")
for a, b in zip(simulated, distributed, strict=True):
    assert all(a.get(k) == b.get(k) for k in fields), (a, b)
print("--distributed (byzgd-cluster) and the default (byzgd-simulate) agree")
PY

# A grid with one bad combination is refused as a whole before anything is created.
printf 'workers = 5\nbyzantine = 2\nattack = gaussian\nrule = average, krum\n' >"$E2E_DIR/bad.grid"
"$BYZGD_BIN/byzgd-sweep" --grid "$E2E_DIR/bad.grid" --out "$E2E_DIR/bad" >"$E2E_DIR/bad.out" 2>&1
e2e_expect_status $? 2 "$E2E_DIR/bad.out"
grep -q 'run rule-krum_seed-1: krum needs n > 2f+2' "$E2E_DIR/bad.out" || e2e_fail "message" "$E2E_DIR/bad.out"
[[ ! -e $E2E_DIR/bad ]] || e2e_fail "a refused grid created its directory"

"$BYZGD_BIN/byzgd-plot" rounds "$out" --curve rule,attack --output "$E2E_DIR/plots/accuracy" ||
    e2e_fail "byzgd-plot rounds"
"$BYZGD_BIN/byzgd-plot" final "$out" --x seed --output "$E2E_DIR/plots/final" || e2e_fail "byzgd-plot final"
"$BYZGD_BIN/byzgd-plot" rounds "$out" --field no_such_field --output "$E2E_DIR/plots/none" 2>/dev/null
e2e_expect_status $? 1
[[ ! -e $E2E_DIR/plots/none.png ]] || e2e_fail "an empty plot was written"
python3 - "$E2E_DIR/plots" <<'PY' || exit 1
import os, struct, sys, xml.dom.minidom
for base in ("accuracy", "final"):
    data = open(os.path.join(sys.argv[1], base + ".png"), "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", base
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (960, 600) and data[-8:-4] == b"IEND", (base, width, height)
    svg = xml.dom.minidom.parse(os.path.join(sys.argv[1], base + ".svg"))
    assert svg.documentElement.tagName == "svg", base
print("PNG and SVG files are valid")
PY
# A finished run whose settings changed keeps its id (rounds does not vary in the grid): the
# sweep runs it again instead of reporting the 4-round result as the 3-round one.
"$BYZGD_BIN/byzgd-sweep" --grid "$E2E_DIR/small.grid" --out "$out" -j 2 --set rounds=3 \
    >"$E2E_DIR/changed.out" 2>&1
e2e_expect_status $? 0 "$E2E_DIR/changed.out"
[[ $(grep -c 'finished with other settings (its sweep.conf differs); running it again' "$E2E_DIR/changed.out") == 8 ]] ||
    e2e_fail "changed settings did not rerun every run" "$E2E_DIR/changed.out"
[[ $(tail -n +2 "$out/results.csv" | cut -d, -f8 | sort -u) == 3 ]] ||
    e2e_fail "results.csv does not hold the 3-round runs" "$out/results.csv"
echo "ok"
