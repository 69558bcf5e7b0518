#!/usr/bin/env bash
# `make figures` and its report: the committed docs/RESULTS.md shows only images that exist
# and marks the claims of each of the paper's Figures 2-5; experiments/figures.sh, run on
# Figure 4 shortened (3 rounds, 2 seeds), writes a RESULTS.md that says the run was
# shortened (beside the marks and among the differences), records wall and CPU time per
# call, plots a valid PNG, and a second call runs nothing new.
set -u
. "$(dirname "$0")/support/e2e_lib.bash"
e2e_need byzgd-sweep byzgd-plot byzgd-simulate
command -v gnuplot >/dev/null || e2e_skip "gnuplot is not installed (deploy/install-deps.sh)"

python3 - "$BYZGD_ROOT/docs" <<'PY' || exit 1
import os, re, sys
docs = sys.argv[1]
text = open(os.path.join(docs, "RESULTS.md")).read()
images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
assert images, "RESULTS.md shows no image"
for image in images:
    data = open(os.path.join(docs, image), "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[-8:-4] == b"IEND", image
marked = [line for line in text.splitlines() if re.match(r"- [✔✘–] \*\*", line)]
for figure in ("(Figure 2)", "(Figure 3)"):
    assert any(figure in line for line in marked), f"no marked claim for {figure}"
sections = re.split(r"^## ", text, flags=re.M)
for figure in ("Figure 4", "Figure 5"):
    section = [s for s in sections if s.startswith(figure)]
    assert section and re.search(r"^- [✔✘] \*\*", section[0], re.M), f"{figure}: no mark"
print(f"docs/RESULTS.md: {len(images)} images exist, Figures 2-5 marked")
PY

spam=${BYZGD_DATA_DIR:-$HOME/.local/share/byzgd}/spam-assassin/.complete
[[ -f $spam ]] || e2e_skip "the SpamAssassin corpus is not installed (deploy/install-deps.sh)"

export FIGURES=fig4 FIGURES_SET="rounds=3 seeds=1,2 eval-every=1" FIGURES_JOBS=2
export FIGURES_RUNS=$E2E_DIR/runs FIGURES_DOCS=$E2E_DIR/docs
"$BYZGD_ROOT/experiments/figures.sh" >"$E2E_DIR/first.out" 2>&1
e2e_expect_status $? 0 "$E2E_DIR/first.out"
python3 - "$E2E_DIR" <<'PY' || exit 1
import os, re, sys
base = sys.argv[1]
text = open(os.path.join(base, "docs", "RESULTS.md")).read()
assert "**Reduced run**: 3 rounds and 2 seeds per curve" in text, text
differences = text.split("## What differs from the paper")[1]
assert "Shortened: `fig4`: 3 rounds and 2 seeds" in differences, differences
assert re.search(r"^- [✔✘] \*\*Multi-Krum is about as fast as averaging", text, re.M), text
assert "Not run (`FIGURES=fig2 make figures`)" in text, "fig2-3 should be reported as not run"
calls = open(os.path.join(base, "runs", "fig4", "calls")).read().split()
assert len(calls) == 2 and all(float(x) >= 0 for x in calls), calls
data = open(os.path.join(base, "docs", "figures", "fig4.png"), "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[-8:-4] == b"IEND"
print("shortened run reported, time recorded, fig4.png valid")
PY

"$BYZGD_ROOT/experiments/figures.sh" >"$E2E_DIR/second.out" 2>&1
e2e_expect_status $? 0 "$E2E_DIR/second.out"
grep -q '^sweep: 10 runs (10 finished before)' "$E2E_DIR/second.out" ||
    e2e_fail "the second call ran something" "$E2E_DIR/second.out"
[[ $(wc -l <"$E2E_DIR/runs/fig4/calls") == 2 ]] || e2e_fail "second call not recorded"
echo "ok"
