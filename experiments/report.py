#!/usr/bin/env python3
"""report.py — writes DOCS/RESULTS.md from the sweeps of `make figures` (RUNS/<grid>/
results.csv and runs/<id>/metrics.jsonl). Every verdict is computed here from the measured
numbers by the criteria below, printed beside the numbers it used; nothing is hard-coded.

Measures (means over the seeds of a curve):
  final  — test accuracy after the last round (results.csv final_accuracy);
  speed  — the mean test accuracy over every evaluated round (the area under the accuracy
           curve divided by its length): higher means it learned faster.
Criteria:
  "about as good / as fast"  the two measures differ by at most TIE (0.02) for speed, or by
                             at most COMPARABLE (0.05) for the ConvNet figures;
  "no progress"              final accuracy at most PROGRESS (0.05) above the first
                             evaluation, and at least COLLAPSE (0.2) below Multi-Krum's;
  "breaks" / "holds"         final accuracy below BROKEN (0.5) / at least HOLDS (0.65)
                             (Fashion-MNIST: chance is 0.1, the clean MLP reaches ~0.8).
"""
import argparse
import csv
import datetime
import json
import os
import statistics

TIE = 0.02
COMPARABLE = 0.05
PROGRESS = 0.05
COLLAPSE = 0.2
BROKEN = 0.5
HOLDS = 0.65
FINISHED = ("ok", "diverged")
RULE_NAMES = {"average": "averaging", "krum": "Krum", "multi-krum": "Multi-Krum",
              "medoid": "Medoid", "1-p-krum": "1−p Krum", "median": "median",
              "trimmed-mean": "trimmed mean", "cclip": "CClip", "bulyan": "Bulyan (f = 4)",
              "nnm-krum": "NNM + Krum"}


class Sweep:
    def __init__(self, directory):
        self.directory = directory
        self.name = os.path.basename(os.path.normpath(directory))
        with open(os.path.join(directory, "results.csv"), newline="") as handle:
            self.rows = list(csv.DictReader(handle))
        self.finished = [r for r in self.rows if r["status"] in FINISHED]
        self.failed = [r for r in self.rows if r["status"] not in FINISHED]
        calls = read_text(os.path.join(directory, "wall_seconds")).split()
        self.wall_seconds = sum(float(s) for s in calls)  # every call of the sweep
        self.calls = len(calls)
        self.overrides = read_text(os.path.join(directory, "overrides"))

    def select(self, **conditions):
        return [r for r in self.finished
                if all(r.get(k.replace("_", "-") if k not in r else k) == v
                       for k, v in conditions.items())]

    def series(self, row, field="test_accuracy"):
        values = {}
        path = os.path.join(self.directory, "runs", row["id"], "metrics.jsonl")
        with open(path) as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record.get(field), (int, float)):
                    values[int(record["round"])] = float(record[field])
        return values

    def grid_value(self, key):
        """The value of `key` in the top section of experiments/NAME.grid (None if absent)."""
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), self.name + ".grid")
        for line in read_text(path).splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("["):
                break
            name, _, value = line.partition("=")
            if name.strip() == key:
                return value.strip()
        return None

    def summary(self):
        text = f"{len(self.finished)} of {len(self.rows)} runs finished"
        if self.failed:
            text += f" ({len(self.failed)} failed: {', '.join(r['id'] for r in self.failed[:4])})"
        if self.calls:
            text += (f"; the sweep took {self.wall_seconds / 60:.1f} min of wall time over "
                     f"{self.calls} call{'s' if self.calls > 1 else ''} of `make figures`")
        return text


def read_text(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return ""


class Measure:
    """final and speed of a group of runs (the seeds of one curve)."""

    def __init__(self, sweep, rows):
        self.count = len(rows)
        finals = [float(r["final_accuracy"]) for r in rows if r["final_accuracy"]]
        self.final = statistics.mean(finals) if finals else None
        self.final_min = min(finals) if finals else None
        self.final_max = max(finals) if finals else None
        speeds, firsts = [], []
        for row in rows:
            series = sweep.series(row)
            if series:
                speeds.append(statistics.mean(series.values()))
                firsts.append(series[min(series)])
        self.speed = statistics.mean(speeds) if speeds else None
        self.first = statistics.mean(firsts) if firsts else None

    def measured(self):
        return self.final is not None and self.speed is not None

    def text(self):
        if not self.measured():
            return "not measured"
        spread = f" [{self.final_min:.3f}–{self.final_max:.3f}]" if self.count > 1 else ""
        return f"final {self.final:.3f}{spread}, speed {self.speed:.3f} ({self.count} runs)"


def verdict(condition):
    if condition is None:
        return "– (not measured)"
    return "✔" if condition else "✘"


class Report:
    def __init__(self, runs, docs):
        self.runs, self.docs = runs, docs
        self.lines = []

    def add(self, text=""):
        self.lines.append(text)

    def sweep(self, name):
        path = os.path.join(self.runs, name)
        return Sweep(path) if os.path.exists(os.path.join(path, "results.csv")) else None

    def image(self, name, caption):
        if os.path.exists(os.path.join(self.docs, "figures", name + ".png")):
            self.add(f"![{caption}](figures/{name}.png)")
            self.add()
            return True
        return False

    def claim(self, text, condition, evidence):
        self.add(f"- {verdict(condition)} **{text}** — {evidence}")

    def settings(self, sweep, description):
        self.add(description)
        self.add()
        self.add(f"Measured: {sweep.summary()}.")
        ran_rounds = sorted({int(r["rounds"]) for r in sweep.finished if r["rounds"]})
        ran_seeds = len({r["seed"] for r in sweep.finished})
        grid_rounds, grid_seeds = sweep.grid_value("rounds"), sweep.grid_value("seeds")
        planned_seeds = len(grid_seeds.split(",")) if grid_seeds else None
        reduced = ([str(grid_rounds)] != [str(r) for r in ran_rounds]
                   or planned_seeds != ran_seeds)
        if sweep.overrides or reduced:
            self.add()
            rounds_text = ", ".join(str(r) for r in ran_rounds) or "no"
            self.add(f"**Reduced run**: {rounds_text} rounds and {ran_seeds} "
                     f"seed{'s' if ran_seeds != 1 else ''} per curve were run (`make figures` "
                     f"with `{sweep.overrides or 'no override'}`), where "
                     f"`experiments/{sweep.name}.grid` asks for {grid_rounds} rounds and "
                     f"{planned_seeds} seeds. The marks below are computed at the reduced "
                     "setting: they do not stand for the grid's (or the paper's) setting.")
        self.add()

    # ---- Figures 2 and 3
    def figures_2_3(self):
        sweep = self.sweep("fig2-3")
        self.add("## Figures 2 and 3 — ConvNet, Multi-Krum facing 45 % omniscient workers")
        self.add()
        if not sweep:
            self.add("Not run (`FIGURES=fig2 make figures`).")
            self.add()
            return
        self.settings(sweep, "`experiments/fig2-3.grid`: n = 20, ConvNet on Fashion-MNIST, "
                             "averaging without attackers against Multi-Krum with 9 omniscient "
                             "workers (declared f = 8), learning rate 0.05, 500 rounds, "
                             "three seeds per curve.")
        self.image("fig2", "Figure 2: accuracy against rounds")
        self.image("fig3", "Figure 3: final accuracy against batch size")
        batches = sorted({int(r["batch"]) for r in sweep.finished}, key=int)
        gaps, speed_gaps, evidence = {}, {}, []
        for batch in batches:
            average = Measure(sweep, sweep.select(section="average", batch=str(batch)))
            krum = Measure(sweep, sweep.select(section="multi-krum", batch=str(batch)))
            if average.measured() and krum.measured():
                gaps[batch] = average.final - krum.final
                speed_gaps[batch] = average.speed - krum.speed
                evidence.append(f"batch {batch}: averaging {average.text()}; Multi-Krum "
                                f"{krum.text()}")
        comparable = (all(abs(g) <= COMPARABLE for g in speed_gaps.values())
                      if speed_gaps else None)
        self.claim("Despite 45 % omniscient attackers, Multi-Krum learns about as well as "
                   "averaging without attackers (Figure 2)", comparable,
                   f"criterion: speed within {COMPARABLE} at every batch size; "
                   + "; ".join(f"gap at batch {b}: {g:+.3f}" for b, g in speed_gaps.items()))
        if len(gaps) >= 2:
            small, large = min(gaps), max(gaps)
            enough = [b for b in sorted(gaps) if gaps[b] <= COMPARABLE]
            holds = gaps[large] <= COMPARABLE and gaps[large] <= gaps[small]
            detail = (f"criterion: at the largest batch the final-accuracy gap is at most "
                      f"{COMPARABLE} and no larger than at the smallest; gaps "
                      + ", ".join(f"{b}: {g:+.3f}" for b, g in sorted(gaps.items()))
                      + (f"; the smallest batch within {COMPARABLE} is {enough[0]}"
                         if enough else ""))
        else:
            holds, detail = None, "needs two batch sizes"
        self.claim("A reasonably low batch size is enough for Multi-Krum under 45 % attackers "
                   "to match averaging without attackers (Figure 3)", holds, detail)
        self.add()
        for line in evidence:
            self.add(f"  - {line}")
        self.add()
        self.resilience(sweep, "fig2-resilience", "Multi-Krum facing 9 omniscient workers",
                        sweep.select(section="multi-krum"))

    # ---- Figures 4 and 5
    def rule_measures(self, sweep, rules):
        return {rule: Measure(sweep, sweep.select(rule=rule)) for rule in rules}

    def figure_4(self):
        sweep = self.sweep("fig4")
        self.add("## Figure 4 — the rules without attackers (MLP, spam, batch 3)")
        self.add()
        if not sweep:
            self.add("Not run (`FIGURES=fig4 make figures`).")
            self.add()
            return
        self.settings(sweep, "`experiments/fig4.grid`: n = 20, no attacker, rules configured "
                             "for f = 6, MLP on SpamAssassin, batch 3, learning rate 0.1, "
                             "500 rounds, three seeds per rule.")
        self.image("fig4", "Figure 4")
        m = self.rule_measures(sweep, ["average", "multi-krum", "1-p-krum", "krum", "medoid"])
        known = all(x.measured() for x in m.values())
        speed = {rule: x.speed for rule, x in m.items()}
        fast = abs(speed["multi-krum"] - speed["average"]) <= TIE if known else None
        self.claim("Multi-Krum is about as fast as averaging", fast,
                   f"criterion: speeds within {TIE}" + (
                       f"; Multi-Krum {speed['multi-krum']:.3f}, averaging "
                       f"{speed['average']:.3f}" if known else ""))
        if known:
            slowest = max(speed["krum"], speed["medoid"])
            next_ = (speed["1-p-krum"] <= min(speed["average"], speed["multi-krum"]) + TIE
                     and speed["1-p-krum"] >= slowest - TIE)
            last = slowest <= min(speed["average"], speed["multi-krum"], speed["1-p-krum"]) + TIE
        else:
            next_ = last = None
        self.claim("1−p Krum comes next", next_,
                   f"criterion: its speed lies between Krum/Medoid's and averaging/Multi-Krum's "
                   f"(± {TIE})" + (f"; 1−p Krum {speed['1-p-krum']:.3f}" if known else ""))
        self.claim("Krum and Medoid are the slowest", last,
                   f"criterion: both speeds at most the others' minimum + {TIE}" + (
                       f"; Krum {speed['krum']:.3f}, Medoid {speed['medoid']:.3f}"
                       if known else ""))
        self.add()
        for rule, x in m.items():
            self.add(f"  - {RULE_NAMES[rule]}: {x.text()}")
        self.add()

    def figure_5(self):
        sweep = self.sweep("fig5")
        self.add("## Figure 5 — the rules facing 33 % Gaussian workers (MLP, spam, batch 3)")
        self.add()
        if not sweep:
            self.add("Not run (`FIGURES=fig5 make figures`).")
            self.add()
            return
        self.settings(sweep, "`experiments/fig5.grid`: n = 20 of which 6 send Gaussian vectors "
                             "(variance 200), f = 6, MLP on SpamAssassin, batch 3, learning "
                             "rate 0.1, 500 rounds, three seeds per rule.")
        self.image("fig5", "Figure 5")
        m = self.rule_measures(sweep, ["average", "multi-krum", "1-p-krum", "krum", "medoid"])
        known = all(x.measured() for x in m.values())
        average, mk = m["average"], m["multi-krum"]
        if known:
            stalls = (average.final - average.first <= PROGRESS
                      and average.final <= mk.final - COLLAPSE)
            robust = [m[r].final for r in ("krum", "medoid", "1-p-krum")]
            similar = max(robust) - min(robust) <= COMPARABLE
            best = all(mk.speed > x.speed for r, x in m.items() if r != "multi-krum") and all(
                mk.final >= x.final - TIE for r, x in m.items() if r != "multi-krum")
        else:
            stalls = similar = best = None
        self.claim("Averaging makes no progress under 33 % Gaussian workers", stalls,
                   f"criterion: final ≤ first evaluation + {PROGRESS} and ≤ Multi-Krum's final "
                   f"− {COLLAPSE}" + (f"; averaging first {average.first:.3f}, final "
                                       f"{average.final:.3f}; Multi-Krum final {mk.final:.3f}"
                                       if known else ""))
        self.claim("Krum, Medoid and 1−p Krum are similarly robust", similar,
                   f"criterion: their finals within {COMPARABLE}" + (
                       "; " + ", ".join(f"{RULE_NAMES[r]} {m[r].final:.3f}"
                                        for r in ("krum", "medoid", "1-p-krum"))
                       if known else ""))
        self.claim("Multi-Krum outperforms every other rule tested", best,
                   f"criterion: the highest speed, and a final no lower than any other's − "
                   f"{TIE}")
        self.add()
        for rule, x in m.items():
            self.add(f"  - {RULE_NAMES[rule]}: {x.text()}")
        self.add()
        self.resilience(sweep, "fig5-resilience", "Krum facing 6 Gaussian workers",
                        sweep.select(rule="krum"))

    # ---- the diagnostic
    def resilience(self, sweep, image, what, rows):
        ratios = []
        for row in rows:
            ratios.extend(sweep.series(row, "resilience_ratio").values())
        self.add(f"**Resilience diagnostic, {what}.** ")
        if not ratios:
            self.add("Not available: these metrics carry no `resilience_ratio` (the round "
                     "engine does not report it yet).")
            self.add()
            return
        below = sum(1 for r in ratios if r < 1) / len(ratios)
        self.add(f"Median estimated ratio η(n, f)·√d·σ̂ / ‖aggregate‖ over {len(ratios)} "
                 f"rounds: {statistics.median(ratios):.3g}; below 1 (the sufficient "
                 f"condition of Proposition 1 holds as estimated) in {100 * below:.0f} % of "
                 "them. The ratio compares the spread of the honest gradients the server "
                 "saw (σ̂, a robust estimate) with the step it took: below 1 the paper's "
                 "sufficient condition for (α, f)-Byzantine resilience holds as estimated and "
                 "the ratio is the estimated sin α; above 1 the paper's guarantee does not "
                 "cover the round, which says nothing about whether the run learns (the "
                 "condition is sufficient, not necessary, and with small minibatches it "
                 "rarely holds). It is an estimate from one round's rows, not the truth: "
                 "docs/RULES.md gives the estimator and its limits.")
        self.add()
        self.image(image, f"resilience ratio, {what}")

    # ---- beyond the paper
    def attacks(self):
        sweep = self.sweep("attacks")
        self.add("## Beyond the paper — rules against later attacks (Fashion-MNIST MLP)")
        self.add()
        if not sweep:
            self.add("Not run (`FIGURES=attacks make figures`).")
            self.add()
            return
        self.settings(sweep, "`experiments/attacks.grid`: n = 20 of which 6 attack (f = 6; "
                             "Bulyan needs n ≥ 4f + 3 and is declared f = 4), MLP on "
                             "Fashion-MNIST, batch 16, learning rate 0.05, 150 rounds, three "
                             "seeds per cell. Each cell: mean final test accuracy [min–max].")
        attacks = ["alie", "ipm", "signflip", "labelflip", "mimic"]
        rules = [("rules", r) for r in ("average", "krum", "multi-krum", "median",
                                        "trimmed-mean", "cclip")]
        rules += [("bulyan", "bulyan"), ("nnm-krum", "krum")]
        self.add("| rule | " + " | ".join(attacks) + " |")
        self.add("|---" * (len(attacks) + 1) + "|")
        cells = {}
        for section, rule in rules:
            name = RULE_NAMES["nnm-krum" if section == "nnm-krum" else rule]
            row = []
            for attack in attacks:
                x = Measure(sweep, sweep.select(section=section, rule=rule, attack=attack))
                cells[(section, rule, attack)] = x
                if x.final is None:
                    row.append("–")
                else:
                    mark = " ✘" if x.final < BROKEN else ""
                    spread = (f" [{x.final_min:.2f}–{x.final_max:.2f}]" if x.count > 1 else "")
                    row.append(f"{x.final:.3f}{spread}{mark}")
            self.add(f"| {name} | " + " | ".join(row) + " |")
        self.add()
        self.add(f"✘ marks a cell below {BROKEN} (broken); chance is 0.1.")
        self.add()
        krum = [cells[("rules", "krum", a)] for a in ("alie", "ipm")]
        breaks = (all(x.final < BROKEN for x in krum)
                  if all(x.final is not None for x in krum) else None)
        self.claim("The literature: Krum breaks under ALIE and IPM", breaks,
                   f"criterion: Krum's final accuracy below {BROKEN} under both" + (
                       f"; ALIE {krum[0].final:.3f}, IPM {krum[1].final:.3f}"
                       if breaks is not None else ""))
        holding = []
        for section, rule in rules:
            finals = [cells[(section, rule, a)].final for a in attacks]
            if all(f is not None and f >= HOLDS for f in finals):
                holding.append(RULE_NAMES["nnm-krum" if section == "nnm-krum" else rule])
        self.add(f"- Rules that hold (final ≥ {HOLDS}) under all five attacks: "
                 + (", ".join(holding) if holding else "none") + ".")
        self.add()

    def timing(self):
        self.add("## How long `make figures` took here")
        self.add()
        total = 0.0
        for name in ("fig4", "fig5", "attacks", "fig2-3"):
            sweep = self.sweep(name)
            if not sweep:
                self.add(f"- `{name}`: not run.")
                continue
            total += sweep.wall_seconds
            self.add(f"- `{name}`: {sweep.wall_seconds / 60:.1f} min for {len(sweep.rows)} runs "
                     f"({'`' + sweep.overrides + '`' if sweep.overrides else 'the grid as written'}).")
        self.add(f"- In all: {total / 60:.1f} min, the sum of the grids' wall times (grids run "
                 "by separate calls at the same time overlap, so the elapsed time was less), on "
                 f"{os.cpu_count()} cores shared with other work (timings are noisy).")
        self.add()

    def write(self):
        self.add("# Results: the paper's experiments, measured")
        self.add()
        self.add(f"Generated by `make figures` (`experiments/report.py`) on "
                 f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on a "
                 f"{os.cpu_count()}-core machine. Each claim of the paper's supplementary "
                 "material is restated in our words and marked ✔ (measured as claimed), ✘ "
                 "(not measured as claimed) or – (not measured), with the criterion and the "
                 "numbers behind the mark. *final* is the test accuracy after the last round, "
                 "*speed* the mean test accuracy over the evaluated rounds (higher: learned "
                 "faster); both are means over the seeds, [min–max] across them. The criteria "
                 "are at the top of `experiments/report.py`.")
        self.add()
        self.figures_2_3()
        self.figure_4()
        self.figure_5()
        self.attacks()
        self.timing()
        self.add("## What differs from the paper, and why")
        self.add()
        for item in DIFFERENCES:
            self.add(f"- {item}")
        self.add()
        with open(os.path.join(self.docs, "RESULTS.md"), "w") as handle:
            handle.write("\n".join(self.lines))


DIFFERENCES = [
    "Fashion-MNIST replaces MNIST for the ConvNet (Debian ships Fashion-MNIST, not MNIST); "
    "it is a harder task, so absolute accuracies are lower than the paper's.",
    "Nine attackers of twenty cannot be declared to Multi-Krum (it needs n > 2f + 2); the rule "
    "is told f = 8 and faces 9, one more than it was configured for.",
    "The omniscient attackers estimate the true gradient on 200 training examples per round, "
    "not on the whole training set, and the ConvNet has 8 and 16 channels rather than "
    "byzgd's default 16 and 32: both keep `make figures` within its time budget on 2 cores.",
    "The paper gives no learning rate, no evaluation schedule and no exact architecture; the "
    "ones used are in the grid files and were chosen for plain SGD to converge in the round "
    "budget without attackers, not tuned per rule.",
    "Spam filtering uses the SpamAssassin corpus with hashed bag-of-words features "
    "(docs/DATASETS.md); the paper does not say which spam data set it used.",
    "Accuracy is measured on a fixed test sample (the grid's `eval-examples`) every "
    "`eval-every` rounds; the paper plots cross-validation accuracy.",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", required=True, help="directory of the sweeps")
    parser.add_argument("--docs", required=True, help="where RESULTS.md goes")
    args = parser.parse_args()
    Report(args.runs, args.docs).write()


if __name__ == "__main__":
    main()
