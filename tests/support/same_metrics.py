#!/usr/bin/env python3
"""Compares metrics.jsonl files value for value, times aside.

    same_metrics.py [--ignore KEY]... [--rounds N] FIRST OTHER...

Left out of every row: the *_s fields (elapsed_s, collect_s, aggregate_s, ...), which are
times, `disconnects` (connections the transport dropped, e.g. a CURVE handshake retried
while the server starts: a timing fact), and each --ignore KEY (for instance
selected_byzantine, which only a launcher that knows the roles writes). Exit 0 when every
file equals the first (and has N rows, with --rounds), printing one line; 1 with the first
difference on stderr."""
import argparse
import json
import sys


def load(path, ignored):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    for row in rows:
        for key in [k for k in row if k.endswith("_s") or k == "disconnects" or k in ignored]:
            del row[key]
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ignore", action="append", default=[])
    parser.add_argument("--rounds", type=int)
    parser.add_argument("first")
    parser.add_argument("others", nargs="+")
    args = parser.parse_args()
    first = load(args.first, args.ignore)
    for path in args.others:
        other = load(path, args.ignore)
        for a, b in zip(first, other):
            if a != b:
                keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                print(f"{path} differs from {args.first} in round {a.get('round')}: " +
                      ", ".join(f"{k} {a.get(k)} vs {b.get(k)}" for k in keys), file=sys.stderr)
                return 1
        if len(other) != len(first):
            print(f"{path} has {len(other)} rows, {args.first} {len(first)}", file=sys.stderr)
            return 1
    if args.rounds is not None and len(first) != args.rounds:
        print(f"{args.first} has {len(first)} rows, not {args.rounds}", file=sys.stderr)
        return 1
    accuracy = [r["test_accuracy"] for r in first if "test_accuracy" in r]
    print(f"{len(first)} rounds identical in the {1 + len(args.others)} runs; final accuracy "
          f"{accuracy[-1] if accuracy else 'not evaluated'}")
    return 0


sys.exit(main())
