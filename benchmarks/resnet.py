"""The batched engine on the ResNet-18 shape against the one-network-at-a-time PyTorch loop.

A grid as the images chapter trains it: target networks initialised from one source ResNet under
every protocol (l, 0) and (l, l) of its 9 blocks, on 28x28 single-channel images, with small target
subsets. Both sides are timed alternately ``--repeats`` times and keep their fastest run; the
printed speedup is loop time / batched time, measured in the same run. The share of identical
predictions of the two sides' trained networks on 500 other images is printed too (the engine gives
each member the updates it would get alone, up to rounding; Adam's early steps move a parameter by
about the learning rate whatever the size of its gradient, so parameters are not compared directly).
Usage: python benchmarks/resnet.py [--steps 20] [--repeats 2] [--device auto]
"""
import argparse
import time

import torch

from tlcore.benchmark import loop_fit, machine
from tlcore.models import ResNet
from tlcore.train import fit
from tlcore.transfer import all_protocols, initialise_target
from tlcore.validation import resolve_device

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=20)
parser.add_argument("--repeats", type=int, default=2, help="alternate timings; each side keeps its fastest")
parser.add_argument("--device", default="auto")
args = parser.parse_args()
dev = resolve_device(args.device)


def timed(fn):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    start = time.perf_counter()
    out = fn()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return time.perf_counter() - start, out


print(f"machine: {machine(args.device)}")
g = torch.Generator().manual_seed(0)
x = torch.rand(2000, 1, 28, 28, generator=g)
y = torch.randint(0, 5, (2000,), generator=g)
for width, n_targets in [(4, (20, 60)), (8, (20, 60))]:
    source = ResNet(1, 5, width=width, depth=9, seed=0)
    protocols = all_protocols(9)
    models, subsets, seeds = [], [], []
    for n in n_targets:
        for p in protocols:
            models.append(initialise_target(source, p, 5, seed=1))
            subsets.append(torch.randperm(2000, generator=g)[:n])
            seeds.append(len(seeds))
    fit(models[:2], x, y, subsets[:2], seeds[:2], steps=2, batch_size=16, device=dev)  # warm-up
    loop_fit(models[:1], x, y, subsets[:1], seeds[:1], 2, 16, 3e-3, dev)
    loop_s = batched_s = float("inf")
    for _ in range(args.repeats):
        t, looped = timed(lambda: loop_fit(models, x, y, subsets, seeds, args.steps, 16, 3e-3, dev))
        loop_s = min(loop_s, t)
        t, ens = timed(lambda: fit(models, x, y, subsets, seeds, steps=args.steps, batch_size=16, lr=3e-3, device=dev))
        batched_s = min(batched_s, t)
    held_out = torch.rand(500, 1, 28, 28, generator=g)
    with torch.no_grad():
        loop_labels = torch.stack([m(held_out.to(dev)).argmax(1).cpu() for m in looped])
    same = float((ens.predict(held_out).cpu() == loop_labels).float().mean())
    print(f"width {width}, {len(models)} networks ({len(protocols)} protocols x sizes {list(n_targets)}), "
          f"{args.steps} steps, batch 16: loop {loop_s:.2f} s, batched {batched_s:.2f} s, "
          f"identical predictions {same:.3f}")
    print(f"speedup_resnet_w{width}: {loop_s / batched_s:.2f}")
