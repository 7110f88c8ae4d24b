"""tlcore.similarity against DADApy (neighbourhood overlap, information imbalance) and NumPy CKA.

DADApy runs in the reference environment the tests make (.reference-env, see tests/conftest.py),
as a subprocess timed around its own computation; every timing keeps the fastest of
``--repeats`` runs. Prints speedups and the largest absolute
difference of the results. ``overlap_bound`` is the speedup over DADApy that
an exact brute-force search could reach at best: DADApy's time over the time of computing the
distance rows alone (no neighbour selection), chunk by chunk as tlcore does. DADApy itself uses
scikit-learn's brute-force search at these dimensions.
Usage: python benchmarks/similarity.py [--sizes 2000 10000] [--k 10] [--device auto] [--reference dadapy|cpu]
"""
import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

import torch

from tlcore.benchmark import benchmark_record, machine, save_benchmark
from tlcore.cka import linear_cka
from tlcore.neighbours import information_imbalance, neighbourhood_overlap
from tlcore.validation import resolve_device

ROOT = Path(__file__).resolve().parents[1]


def _reference_python() -> str:
    """The DADApy environment's interpreter (made on first use by tests/reference/environment.py)."""
    out = subprocess.run([sys.executable, str(ROOT / "tests" / "reference" / "environment.py")],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def distances_only(*spaces, device="auto", rows=1024):
    """Every distance row of every space, computed and dropped: the floor of a brute-force search."""
    dev = resolve_device(device)
    for x in spaces:
        x = torch.as_tensor(x, dtype=torch.float64, device=dev)
        sq = x.square().sum(1)
        for a in range(0, len(x), rows):
            torch.addmm(sq.unsqueeze(0), x[a:a + rows], x.T, alpha=-2.0)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


DADAPY = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    from dadapy import MetricComparisons
    d = np.load(sys.argv[1]); x, y, k, repeats = d["x"], d["y"], int(d["k"]), int(d["repeats"])
    n = len(x)
    t_no = t_ii = float("inf")
    for _ in range(repeats):  # the fastest of several runs, as for tlcore
        t = time.perf_counter()
        no = MetricComparisons(coordinates=x, maxk=k).return_data_overlap(coordinates=y, k=k)
        t_no = min(t_no, time.perf_counter() - t)
        t = time.perf_counter()
        both = MetricComparisons(coordinates=np.hstack([x, y]), maxk=n - 1)
        ii = both.return_inf_imb_two_selected_coords(list(range(x.shape[1])), list(range(x.shape[1], x.shape[1] + y.shape[1])), k=k)
        t_ii = min(t_ii, time.perf_counter() - t)
    json.dump({"no": no, "t_no": t_no, "ii": list(ii), "t_ii": t_ii}, open(sys.argv[2], "w"))
""")


def fastest(fn, repeats=3):
    """The result of ``fn`` and its fastest wall time over ``repeats`` calls."""
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best


def numpy_linear_cka(x, y):
    x, y = x - x.mean(0), y - y.mean(0)
    return np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))


def reference_dadapy(x, y, k, repeats):
    """DADApy's results and timings, run in the reference environment the tests make."""
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(f"{tmp}/in.npz", x=x, y=y, k=k, repeats=repeats)
        Path(f"{tmp}/run.py").write_text(DADAPY)
        subprocess.run([str(_reference_python()), f"{tmp}/run.py", f"{tmp}/in.npz", f"{tmp}/out.json"],
                       check=True)
        return json.loads(Path(f"{tmp}/out.json").read_text())


def reference_cpu(x, y, k, repeats):
    """tlcore itself on the CPU: the reference on a machine where DADApy cannot be installed."""
    no, t_no = fastest(lambda: neighbourhood_overlap(x, y, k, device="cpu"), repeats)
    ii, t_ii = fastest(lambda: information_imbalance(x, y, k, device="cpu"), repeats)
    return {"no": no, "t_no": t_no, "ii": list(ii), "t_ii": t_ii}


parser = argparse.ArgumentParser()
parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000])
parser.add_argument("--k", type=int, default=10)
parser.add_argument("--repeats", type=int, default=3, help="each timing keeps the fastest of this many runs")
parser.add_argument("--device", default="auto", help="where tlcore runs (auto: CUDA when present)")
parser.add_argument("--json", help="also write the results with their machine and date to this file "
                    "(results/benchmarks/similarity.json is the record the book quotes)")
parser.add_argument("--reference", choices=["dadapy", "cpu"], default="dadapy",
                    help="what tlcore is compared with: DADApy, or tlcore on the CPU (e.g. on a GPU machine)")
args = parser.parse_args()
reference = {"dadapy": reference_dadapy, "cpu": reference_cpu}[args.reference]
print(f"machine: {machine(args.device)}; reference: {args.reference}")
rng = np.random.default_rng(0)
information_imbalance(rng.normal(size=(50, 3)), rng.normal(size=(50, 3)))  # compile the rank kernel once (cached on disk)
information_imbalance(rng.normal(size=(50, 3)), rng.normal(size=(50, 3)), device=args.device)  # warm the device
results = {}
for n in args.sizes:
    x = rng.normal(size=(n, 32))
    y = np.tanh(x @ rng.normal(size=(32, 48))) + 0.3 * rng.normal(size=(n, 48))
    ref = reference(x, y, args.k, args.repeats)
    no, t_no = fastest(lambda: neighbourhood_overlap(x, y, args.k, device=args.device), args.repeats)
    ii, t_ii = fastest(lambda: information_imbalance(x, y, args.k, device=args.device), args.repeats)
    _, t_floor = fastest(lambda: distances_only(x, y, device=args.device), args.repeats)
    cka, t_cka = fastest(lambda: linear_cka(x, y, device=args.device), 20)  # milliseconds: more calls
    cka_np, t_cka_np = fastest(lambda: numpy_linear_cka(x, y), 20)
    print(f"N={n}: overlap {t_no:.2f} s vs {args.reference} {ref['t_no']:.2f} s; imbalance {t_ii:.2f} s vs "
          f"{args.reference} {ref['t_ii']:.2f} s; linear CKA {t_cka:.4f} s vs NumPy {t_cka_np:.4f} s")
    results[f"overlap_speedup_n{n}"] = ref["t_no"] / t_no
    results[f"overlap_bound_n{n}"] = ref["t_no"] / t_floor
    results[f"imbalance_speedup_n{n}"] = ref["t_ii"] / t_ii
    results[f"cka_speedup_n{n}"] = t_cka_np / t_cka
    results[f"max_abs_diff_n{n}"] = max(abs(no - ref["no"]), *np.abs(np.subtract(ii, ref["ii"])), abs(cka - cka_np))
for name, value in results.items():
    print(f"{name}: {value:.3g}")
if args.json:
    record = benchmark_record("similarity", results, args.device)
    record["reference"] = args.reference
    if args.reference == "dadapy":
        record["dadapy"] = next(line.split("==")[1] for line in
                                (ROOT / "tests" / "reference" / "requirements.txt").read_text().splitlines()
                                if line.startswith("dadapy=="))
    save_benchmark(args.json, record)
