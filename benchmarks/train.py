"""Batched engine against the idiomatic one-network-at-a-time PyTorch loop, side by side.

Prints, per (width, grid size), the loop and batched wall times, the speedup, the batched engine's
achieved GFLOP/s and the machine's dense-matmul GFLOP/s measured in the same run, and their ratio.
Usage: python benchmarks/train.py [--steps 40] [--repeats 3] [--device auto]
"""
import argparse

from tlcore.benchmark import compare_training, machine, training_rate

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=40)
parser.add_argument("--repeats", type=int, default=3, help="alternate timings; each side keeps its fastest")
parser.add_argument("--device", default="auto")
args = parser.parse_args()

print(f"machine: {machine(args.device)}")
headline = {}
for width, members, batch in [(64, 64, 50), (64, 256, 50), (256, 64, 128), (256, 256, 128)]:
    r = compare_training(width, members, steps=args.steps, batch_size=batch, repeats=args.repeats,
                         device=args.device)
    print(f"width {width:4d}, {members:4d} networks, batch {batch:3d}: loop {r['loop_s']:.2f} s, "
          f"batched {r['batched_s']:.2f} s, {r['batched_gflops']:.0f} GFLOP/s of {r['matmul_gflops']:.0f}")
    headline[f"speedup_w{width}_n{members}"] = r["speedup"]
    headline[f"fraction_of_peak_w{width}_n{members}"] = r["fraction_of_peak"]
for name, value in headline.items():
    print(f"{name}: {value:.3f}")

# Throughput on a phase-map-like grid: how many paper-scale target networks (500 steps) per second.
for width in (32, 64, 128, 256):
    r = training_rate(width, device=args.device)
    print(f"networks_per_second_w{width}: {r['networks_per_second']:.2f}  "
          f"({r['networks']} networks of depth {r['depth']}, target sizes 10-320)")

# What early stopping costs: the same grid with every network scored on 1,000 validation examples at
# 8 evenly spaced steps (the phase maps' STOPPING_CHECKPOINTS), measured beside the plain run.
plain = training_rate(128, device=args.device)["networks_per_second"]
scored = training_rate(128, checkpoints=8, device=args.device)["networks_per_second"]
print(f"networks_per_second_w128_checkpoints8: {scored:.2f} (plain {plain:.2f}, ratio {scored / plain:.3f})")
