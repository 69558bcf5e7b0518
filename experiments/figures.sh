#!/usr/bin/env bash
# `make figures`: reproduces the paper's Figures 2-5 and the attack table with byzgd-sweep,
# plots them with byzgd-plot and writes RESULTS.md with experiments/report.py.
#   FIGURES="fig2 fig3 fig4 fig5 attacks"  which ones (fig2 and fig3 share one sweep)
#   FIGURES_RUNS=runs/figures              sweep directories (resumable: finished runs stay)
#   FIGURES_DOCS=docs                      where RESULTS.md and figures/ go
#   FIGURES_JOBS=2                         runs at the same time
#   FIGURES_SET="rounds=20 seeds=1"        --set overrides for every grid (a quick check)
#   FIGURES_FLAGS=--distributed            more byzgd-sweep flags
#   BYZGD_BIN=build/bin                    the executables
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BYZGD_BIN:-$root/build/bin}
runs=${FIGURES_RUNS:-runs/figures}
docs=${FIGURES_DOCS:-docs}
jobs=${FIGURES_JOBS:-2}
figures=${FIGURES:-fig2 fig3 fig4 fig5 attacks}
read -r -a flags <<<"${FIGURES_FLAGS:-}"
set_args=()
for item in ${FIGURES_SET:-}; do set_args+=(--set "$item"); done

grids=()
for figure in $figures; do
    case $figure in
    fig2 | fig3) grid=fig2-3 ;;
    fig4 | fig5 | attacks) grid=$figure ;;
    *) echo "figures: unknown figure '$figure' (fig2 fig3 fig4 fig5 attacks)" >&2; exit 2 ;;
    esac
    [[ " ${grids[*]} " == *" $grid "* ]] || grids+=("$grid")
done

# The 1-minute load average every 30 s while a sweep runs: the report says how loaded the
# machine was, since the wall times depend on it.
sample_load() {
    while :; do
        cut -d' ' -f1 /proc/loadavg
        sleep 30
    done
}
sampler=
trap '[[ -z $sampler ]] || kill "$sampler" 2>/dev/null' EXIT

mkdir -p "$runs" "$docs/figures"
for grid in "${grids[@]}"; do
    echo "figures: $grid (experiments/$grid.grid)"
    out=$runs/$grid
    mkdir -p "$out"
    overrides=$(printf '%s\n' "${set_args[@]}" "${flags[@]}" | paste -sd' ')
    # Calls with other overrides ran other runs (byzgd-sweep runs again what changed): their
    # times and loads no longer describe the results.
    if [[ ! -e $out/overrides || $(<"$out/overrides") != "$overrides" ]]; then
        rm -f "$out/calls" "$out/load"
    fi
    echo "$overrides" >"$out/overrides"
    sample_load >>"$out/load" &
    sampler=$!
    status=0
    TIMEFORMAT='%R %U %S' # wall, user and system CPU seconds of byzgd-sweep and its runs
    { time "$bin/byzgd-sweep" --grid "$root/experiments/$grid.grid" --out "$out" -j "$jobs" \
        "${set_args[@]}" "${flags[@]}" 2>&4 || status=$?; } 4>&2 2>"$out/time"
    kill "$sampler" 2>/dev/null
    wait "$sampler" 2>/dev/null || true
    sampler=
    ((status == 0 || status == 1)) || exit "$status" # 1: some run failed; the report says so
    # One line per call: wall seconds, CPU seconds (user + system, the runs included).
    awk '{ print $1, $2 + $3 }' "$out/time" >>"$out/calls"
done

plot() { # name byzgd-plot arguments...: a missing field is reported, not fatal
    local name=$1 status=0
    shift
    "$bin/byzgd-plot" "$@" --output "$docs/figures/$name" || status=$?
    ((status == 0)) || rm -f "$docs/figures/$name".png "$docs/figures/$name".svg
    ((status <= 1)) || exit "$status"
}
for grid in "${grids[@]}"; do
    case $grid in
    fig2-3)
        plot fig2 rounds "$runs/fig2-3" --curve section,batch --where section=average,multi-krum \
            --title "Figure 2: ConvNet, n = 20: averaging without attacker, Multi-Krum facing 9 omniscient"
        plot fig3 final "$runs/fig2-3" --x batch --xlabel "batch size per worker" --logx --curve section \
            --where section=average,multi-krum \
            --title "Figure 3: final test accuracy against batch size (ConvNet, n = 20)"
        plot fig3-colluders final "$runs/fig2-3" --x batch --xlabel "batch size per worker" --logx \
            --curve section \
            --title "Beyond the paper: Multi-Krum told f = 8 facing 9 omniscient (sections of fig2-3.grid)"
        plot fig2-resilience rounds "$runs/fig2-3" --curve section,batch --where section=multi-krum \
            --field resilience_ratio --logy --hline 1 --ylabel "estimated eta sqrt(d) sigma / |aggregate|" \
            --title "Resilience ratio, Multi-Krum facing 9 omniscient workers" ;;
    fig4)
        plot fig4 rounds "$runs/fig4" --curve rule \
            --title "Figure 4: MLP on spam, batch 3, n = 20, no attacker" ;;
    fig5)
        plot fig5 rounds "$runs/fig5" --curve rule \
            --title "Figure 5: MLP on spam, batch 3, n = 20, 6 Gaussian workers (variance 200)"
        plot fig5-resilience rounds "$runs/fig5" --curve rule --where rule=krum \
            --field resilience_ratio --logy --hline 1 --ylabel "estimated eta sqrt(d) sigma / |aggregate|" \
            --title "Resilience ratio, Krum facing 6 Gaussian workers" ;;
    esac
done
python3 "$root/experiments/report.py" --runs "$runs" --docs "$docs" --elapsed "$SECONDS"
echo "figures: wrote $docs/RESULTS.md"
