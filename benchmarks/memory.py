"""Peak resident memory (and wall time) of a quick-mode depth sweep, of the kNN measures at N = 10,000
and of RBF CKA at N = 20,000.

Each job runs in its own process so that its peak is its own.
Usage: python benchmarks/memory.py [--json results/benchmarks/memory.json]
"""
import argparse
import subprocess
import sys
import textwrap

JOBS = {
    "depth_sweep_quick": """
        from tlcore.experiments import depth_sweep
        from tlcore.tasks import teacher_pair
        from tlcore.transfer import all_protocols
        pair = teacher_pair(shared_depth=2, alpha=1.0, seed=0)
        depth_sweep(pair, n_targets=[50, 500], protocols=all_protocols(4), seeds=[0, 1])
    """,
    "similarity_n10000": """
        import numpy as np
        from tlcore.cka import linear_cka
        from tlcore.neighbours import information_imbalance, neighbourhood_overlap
        rng = np.random.default_rng(0)
        x = rng.normal(size=(10000, 512)); y = np.tanh(x[:, :256]) + rng.normal(size=(10000, 256))
        neighbourhood_overlap(x, y, 10); information_imbalance(x, y, 10); linear_cka(x, y)
    """,
    "rbf_cka_n20000": """
        import numpy as np
        from tlcore.cka import rbf_cka
        rng = np.random.default_rng(0)
        x = rng.normal(size=(20000, 512)); y = np.tanh(x[:, :256]) + rng.normal(size=(20000, 256))
        rbf_cka(x, y)
    """,
}
REPORT = """
import resource, time
print("PEAK_MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, time.perf_counter() - _start)
"""
parser = argparse.ArgumentParser()
parser.add_argument("--json", help="also write the peaks with their machine and date to this file "
                    "(results/benchmarks/memory.json is the record the book quotes)")
args = parser.parse_args()
peaks = {}
for name, code in JOBS.items():
    # each job in a fresh interpreter that prints its own peak (KiB on Linux) and wall time
    script = "import time\n_start = time.perf_counter()\n" + textwrap.dedent(code) + REPORT
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    mb, seconds = map(float, out.split("PEAK_MB")[-1].split())
    peaks[name] = mb
    print(f"{name}: peak resident memory {mb:.0f} MB, {seconds:.1f} s")
for name, mb in peaks.items():
    print(f"peak_rss_{name}_mb: {mb:.0f}")
if args.json:
    from tlcore.benchmark import benchmark_record, save_benchmark

    save_benchmark(args.json, benchmark_record("memory", {f"peak_rss_{n}_mb": mb for n, mb in peaks.items()}, "cpu"))
