#!/usr/bin/python3
"""The PyTorch reference for bench/bench_model.c: the same mlp and convnet as
common/learning/model.c (docs/MODELS.md), forward+backward (cross-entropy, gradients of every
parameter) on random 1x28x28 inputs.

--check NAME=FILE  recompute a gradient byzgd wrote and print the difference.
--serve            read requests `ARCHITECTURE BATCH SECONDS` on stdin and answer each with
                   the samples per second of one timed run (bench_model alternates these
                   with its own runs); prints `ready` first.
Otherwise          print `ARCHITECTURE BATCH SAMPLES_PER_SECOND` for every case."""
import argparse
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64),
                         nn.ReLU(), nn.Linear(64, 10))


def convnet():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10))


CACHE = {}


def measure(name, batch, seconds, repeats):
    if (name, batch) not in CACHE:
        torch.manual_seed(1)
        model = {"mlp": mlp, "convnet": convnet}[name]()
        generator = torch.Generator().manual_seed(1)
        x = torch.rand(batch, 1, 28, 28, generator=generator)
        y = torch.randint(0, 10, (batch,), generator=generator)

        def step():
            for p in model.parameters():
                p.grad = None
            loss = F.cross_entropy(model(x), y)
            loss.backward()

        for _ in range(3):
            step()
        CACHE[(name, batch)] = step
    step = CACHE[(name, batch)]
    best = 0.0
    for _ in range(repeats):
        steps = 0
        start = time.perf_counter()
        while True:
            step()
            steps += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        best = max(best, steps * batch / elapsed)
    return best


def check(name, path):
    """Recomputes the gradient byzgd wrote to `path` and prints how far apart they are."""
    import numpy as np
    with open(path, "rb") as file:
        d, batch, features = np.fromfile(file, np.int32, 3)
        labels = np.fromfile(file, np.int32, batch)
        x = np.fromfile(file, np.float32, batch * features)
        params = np.fromfile(file, np.float32, d)
        gradient = np.fromfile(file, np.float32, d)
        loss = np.fromfile(file, np.float64, 1)[0]
    model = {"mlp": mlp, "convnet": convnet}[name]()
    assert sum(p.numel() for p in model.parameters()) == d, "different d"
    offset = 0
    with torch.no_grad():
        for p in model.parameters():  # weights then bias, layer by layer: byzgd's layout
            p.copy_(torch.from_numpy(params[offset:offset + p.numel()]).view_as(p))
            offset += p.numel()
    out = F.cross_entropy(model(torch.from_numpy(x).view(int(batch), 1, 28, 28)),
                          torch.from_numpy(labels).long())
    out.backward()
    reference = torch.cat([p.grad.flatten() for p in model.parameters()]).numpy()
    error = np.abs(reference - gradient).max() / np.abs(reference).max()
    print(f"check {name}: d={d} loss byzgd {loss:.6f} pytorch {out.item():.6f}, "
          f"gradient max |difference| / max |gradient| = {error:.2e}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--check", action="append", default=[], metavar="NAME=FILE")
    parser.add_argument("--serve", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for item in args.check:
        name, path = item.split("=", 1)
        check(name, path)
    if args.serve:
        print("ready", flush=True)
        for line in sys.stdin:
            name, batch, seconds = line.split()
            print(f"{measure(name, int(batch), float(seconds), 1):.1f}", flush=True)
        return
    for name in ("mlp", "convnet"):
        for batch in (32, 128):
            rate = measure(name, batch, args.seconds, args.repeats)
            print(f"{name} {batch} {rate:.1f}", flush=True)


if __name__ == "__main__":
    main()
