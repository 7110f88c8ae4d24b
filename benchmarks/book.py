"""Wall time of building the whole book in quick mode from nothing (fresh sweep and notebook caches).

Usage: python benchmarks/book.py
"""
import os
import subprocess
import tempfile
import time
from pathlib import Path

root = Path(__file__).resolve().parents[1]
with tempfile.TemporaryDirectory() as tmp:
    env = {**os.environ, "TLCORE_CACHE_DIR": f"{tmp}/sweeps"}
    start = time.perf_counter()
    subprocess.run(["jupyter-book", "build", str(root), "--path-output", f"{tmp}/site"], check=True, env=env,
                   capture_output=True)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run(["jupyter-book", "build", str(root), "--path-output", f"{tmp}/site"], check=True, env=env,
                   capture_output=True)
    again = time.perf_counter() - start
print(f"book_build_s: {seconds:.0f}")
print(f"book_rebuild_unchanged_s: {again:.0f}")
print(f"book_build_minutes: {seconds / 60:.1f}")
