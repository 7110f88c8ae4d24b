"""Peak resident memory of a quick-mode depth sweep and of the N = 10,000 similarity computation.

Each job runs in its own process so that its peak is its own. Usage: python benchmarks/memory.py
"""
import resource
import subprocess
import sys
import textwrap

JOBS = {
    "depth_sweep_quick": """
        from tlcore.sweep import depth_sweep
        from tlcore.tasks import teacher_pair
        from tlcore.transfer import all_protocols
        pair = teacher_pair(shared_depth=2, alpha=1.0, seed=0)
        depth_sweep(pair, n_targets=[50, 500], protocols=all_protocols(4), seeds=[0, 1])
    """,
    "similarity_n10000": """
        import numpy as np
        from tlcore.similarity import information_imbalance, linear_cka, neighbourhood_overlap
        rng = np.random.default_rng(0)
        x = rng.normal(size=(10000, 512)); y = np.tanh(x[:, :256]) + rng.normal(size=(10000, 256))
        neighbourhood_overlap(x, y, 10); information_imbalance(x, y, 10); linear_cka(x, y)
    """,
}
peaks = {}
for name, code in JOBS.items():
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux, max over children
    peaks[name] = max(peak, before) / 1024
    print(f"{name}: peak resident memory {peaks[name]:.0f} MB")
for name, mb in peaks.items():
    print(f"peak_rss_{name}_mb: {mb:.0f}")
