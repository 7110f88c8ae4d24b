"""Measurements behind the speed claims: batched engine against the one-at-a-time loop, and peak.

Every figure is a ratio or rate measured side by side in one run on the same machine, so it means
the same on a laptop and on a GPU node.
"""
from __future__ import annotations

import copy
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from .models import MLP
from .train import BatchStream, fit
from .validation import resolve_device

__all__ = ["machine", "matmul_gflops", "loop_fit", "compare_training", "training_rate", "BENCHMARK_RESULTS",
           "benchmark_record", "save_benchmark", "shipped_benchmark"]


def machine(device="auto") -> str:
    """A short description of where the numbers were taken."""
    dev = resolve_device(device)
    if dev.type == "cuda":
        return f"{torch.cuda.get_device_name(dev)} (CUDA {torch.version.cuda}, torch {torch.__version__})"
    return (f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads "
            f"(torch {torch.__version__}, CPU)")


def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def matmul_gflops(n: int = 1024, repeats: int = 10, device="auto") -> float:
    """The machine's measured dense float32 matrix-product rate, GFLOP/s."""
    dev = resolve_device(device)
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    a @ b
    _sync(dev)
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(dev)
    return 2 * n ** 3 * repeats / (time.perf_counter() - t) / 1e9


def loop_fit(models, x, y, subsets, seeds, steps, batch_size, lr, device="auto"):
    """The idiomatic baseline: each network trained alone with ``torch.optim.Adam``, one after another."""
    dev = resolve_device(device)
    x, y = x.to(dev), y.to(dev)
    out = []
    for model, subset, seed in zip(models, subsets, seeds):
        model = copy.deepcopy(model).to(dev)
        opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
        for batch in BatchStream(subset, batch_size, seed).take(steps).to(dev):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[batch]), y[batch]).backward()
            opt.step()
        out.append(model)
    return out


def _train_flops(model: MLP, batch: int) -> float:
    """FLOPs of one step: 3 matrix products per layer (forward, input and weight gradients), except
    the first layer, whose input gradient nobody computes."""
    weights = [p.numel() for name, p in model.named_parameters() if name.endswith("weight")]
    return 2 * batch * (3 * sum(weights) - weights[0])


def _timed(fn, dev) -> float:
    _sync(dev)
    t = time.perf_counter()
    fn()
    _sync(dev)
    return time.perf_counter() - t


def compare_training(width: int, n_members: int, steps: int = 100, batch_size: int = 128,
                     depth: int = 4, in_dim: int = 64, n_data: int = 4096, repeats: int = 3,
                     device="auto") -> dict:
    """Train the same grid of MLPs with the loop and with the batched engine; return the ratios.

    The two are timed alternately ``repeats`` times and each keeps its fastest run, so that a
    busy moment of a shared machine does not land on one side only.
    """
    dev = resolve_device(device)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n_data, in_dim, generator=g)
    y = torch.randint(0, 10, (n_data,), generator=g)
    models = [MLP(in_dim, 10, width, depth, seed=i) for i in range(n_members)]
    subsets = [torch.randperm(n_data, generator=g)[:1024] for _ in range(n_members)]
    seeds = list(range(n_members))
    # warm both up: first calls pay for allocations and lazy initialisation
    loop_fit(models[:2], x, y, subsets[:2], seeds[:2], 3, batch_size, 1e-3, dev)
    fit(models[:2], x, y, subsets[:2], seeds[:2], steps=3, batch_size=batch_size, device=dev)
    loop_s = batched_s = float("inf")
    for _ in range(repeats):
        loop_s = min(loop_s, _timed(lambda: loop_fit(models, x, y, subsets, seeds, steps, batch_size,
                                                     1e-3, dev), dev))
        batched_s = min(batched_s, _timed(lambda: fit(models, x, y, subsets, seeds, steps=steps,
                                                      batch_size=batch_size, device=dev), dev))
    peak = matmul_gflops(device=dev)
    achieved = _train_flops(models[0], batch_size) * n_members * steps / batched_s / 1e9
    return {"width": width, "members": n_members, "steps": steps, "loop_s": loop_s,
            "batched_s": batched_s, "speedup": loop_s / batched_s, "batched_gflops": achieved,
            "matmul_gflops": peak, "fraction_of_peak": achieved / peak}


def training_rate(width: int, depth: int = 4, n_targets=(10, 20, 40, 80, 160, 320), per_size: int = 12,
                  steps: int = 100, per_network_steps: int = 500, in_dim: int = 64, batch_size: int = 128,
                  checkpoints: int = 0, n_eval: int = 1000, device="auto") -> dict:
    """Networks trained per second by the batched engine on a phase-map-like grid (``per_size``
    networks for each target size, as many steps each), counted as networks of ``per_network_steps``
    steps, the paper-scale target training. ``checkpoints``: every network is also scored on
    ``n_eval`` examples at that many evenly spaced steps (what early stopping costs)."""
    dev = resolve_device(device)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4096, in_dim, generator=g)
    y = torch.randint(0, 10, (4096,), generator=g)
    subsets = [torch.randperm(4096, generator=g)[:n] for n in n_targets for _ in range(per_size)]
    models = [MLP(in_dim, 10, width, depth, seed=i) for i in range(len(subsets))]
    seeds = list(range(len(subsets)))
    fit(models[:2], x, y, subsets[:2], seeds[:2], steps=3, batch_size=batch_size, device=dev)
    record = {}
    if checkpoints:
        at = [round(steps * i / checkpoints) for i in range(1, checkpoints + 1)]
        record = dict(checkpoints=at, evaluate={"val": (x[:n_eval], y[:n_eval])})
    seconds = _timed(lambda: fit(models, x, y, subsets, seeds, steps=steps, batch_size=batch_size,
                                 device=dev, **record), dev)
    return {"width": width, "depth": depth, "networks": len(models), "seconds": seconds,
            "networks_per_second": len(models) * steps / per_network_steps / seconds}


# The benchmark scripts' results the book quotes: results/benchmarks/NAME.json, one record per script,
# written by ``python benchmarks/NAME.py --json results/benchmarks/NAME.json`` (JSON, never pickle).
BENCHMARK_RESULTS = Path(__file__).resolve().parents[1] / "results" / "benchmarks"


def benchmark_record(name: str, results: dict, device="auto") -> dict:
    """What a benchmark script saves: its results with where, when and with what they were measured."""
    import sys
    from datetime import datetime, timezone

    from ._version import __version__

    return {"benchmark": name, "machine": machine(device), "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "tlcore": __version__, "torch": torch.__version__, "command": " ".join(["python", *sys.argv]),
            "results": {k: float(v) for k, v in results.items()}}


def save_benchmark(path, record: dict) -> None:
    """Write a benchmark record atomically (an interrupted run leaves the previous file whole)."""
    import json

    from .files import write_atomic

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, (json.dumps(record, indent=2) + "\n").encode())


def shipped_benchmark(name: str, folder=None) -> dict | None:
    """The shipped record of benchmark ``name`` (``results/benchmarks/NAME.json``), or None."""
    import json

    path = Path(folder or BENCHMARK_RESULTS) / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None
