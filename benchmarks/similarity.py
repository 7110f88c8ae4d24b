"""tlcore.similarity against DADApy (neighbourhood overlap, information imbalance) and NumPy CKA.

DADApy runs in the reference environment the tests make (.reference-env, see tests/conftest.py),
as a subprocess timed around its own computation. Prints speedups and the largest absolute
difference of the results. ``overlap_bound`` is the speedup over DADApy that
an exact brute-force search could reach at best: DADApy's time over the time of computing the
distance rows alone (no neighbour selection), chunk by chunk as tlcore does. DADApy itself uses
scikit-learn's brute-force search at these dimensions.
Usage: python benchmarks/similarity.py [--sizes 2000 10000] [--k 10]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import _reference_python  # noqa: E402

import torch  # noqa: E402

from tlcore.similarity import (_distances_without_self, _row_chunks, information_imbalance,  # noqa: E402
                               linear_cka, neighbourhood_overlap)


def distances_only(*spaces):
    """Every distance row of every space, computed and dropped: the floor of a brute-force search."""
    for x in spaces:
        x = torch.as_tensor(x, dtype=torch.float64)
        sq = x.square().sum(1)
        for a, b in _row_chunks(len(x), len(x), x.device):
            _distances_without_self(x, a, b, sq)

DADAPY = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    from dadapy import MetricComparisons
    d = np.load(sys.argv[1]); x, y, k = d["x"], d["y"], int(d["k"])
    n = len(x)
    t = time.perf_counter()
    no = MetricComparisons(coordinates=x, maxk=k).return_data_overlap(coordinates=y, k=k)
    t_no = time.perf_counter() - t
    t = time.perf_counter()
    both = MetricComparisons(coordinates=np.hstack([x, y]), maxk=n - 1)
    ii = both.return_inf_imb_two_selected_coords(list(range(x.shape[1])), list(range(x.shape[1], x.shape[1] + y.shape[1])), k=k)
    t_ii = time.perf_counter() - t
    json.dump({"no": no, "t_no": t_no, "ii": list(ii), "t_ii": t_ii}, open(sys.argv[2], "w"))
""")


def fastest(fn, repeats=20):
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


parser = argparse.ArgumentParser()
parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000])
parser.add_argument("--k", type=int, default=10)
args = parser.parse_args()
python = _reference_python()
rng = np.random.default_rng(0)
information_imbalance(rng.normal(size=(50, 3)), rng.normal(size=(50, 3)))  # compile the rank kernel once (cached on disk)
results = {}
for n in args.sizes:
    x = rng.normal(size=(n, 32))
    y = np.tanh(x @ rng.normal(size=(32, 48))) + 0.3 * rng.normal(size=(n, 48))
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(f"{tmp}/in.npz", x=x, y=y, k=args.k)
        Path(f"{tmp}/run.py").write_text(DADAPY)
        subprocess.run([str(python), f"{tmp}/run.py", f"{tmp}/in.npz", f"{tmp}/out.json"], check=True)
        ref = json.loads(Path(f"{tmp}/out.json").read_text())
    t = time.perf_counter(); no = neighbourhood_overlap(x, y, args.k); t_no = time.perf_counter() - t
    t = time.perf_counter(); ii = information_imbalance(x, y, args.k); t_ii = time.perf_counter() - t
    t = time.perf_counter(); distances_only(x, y); t_floor = time.perf_counter() - t
    cka, t_cka = fastest(lambda: linear_cka(x, y))  # milliseconds: the fastest of several calls
    cka_np, t_cka_np = fastest(lambda: numpy_linear_cka(x, y))
    print(f"N={n}: overlap {t_no:.2f} s vs DADApy {ref['t_no']:.2f} s; imbalance {t_ii:.2f} s vs "
          f"DADApy {ref['t_ii']:.2f} s; linear CKA {t_cka:.4f} s vs NumPy {t_cka_np:.4f} s")
    results[f"overlap_speedup_n{n}"] = ref["t_no"] / t_no
    results[f"overlap_bound_n{n}"] = ref["t_no"] / t_floor
    results[f"imbalance_speedup_n{n}"] = ref["t_ii"] / t_ii
    results[f"cka_speedup_n{n}"] = t_cka_np / t_cka
    results[f"max_abs_diff_n{n}"] = max(abs(no - ref["no"]), *np.abs(np.subtract(ii, ref["ii"])), abs(cka - cka_np))
for name, value in results.items():
    print(f"{name}: {value:.3g}")
