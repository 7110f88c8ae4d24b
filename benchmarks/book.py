"""Wall time of building the whole book in quick mode from nothing (fresh sweep and notebook caches),
then again with nothing changed.

Usage: python benchmarks/book.py [--json results/benchmarks/book.json] [--keep DIR]
"""
import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tlcore.benchmark import benchmark_record, save_benchmark

parser = argparse.ArgumentParser()
parser.add_argument("--json", help="also write the times with their machine and date to this file "
                    "(results/benchmarks/book.json is the record the book quotes)")
parser.add_argument("--keep", help="build into this new folder and keep the site and sweep cache (to look at)")
args = parser.parse_args()
if args.keep and Path(args.keep).exists() and any(Path(args.keep).iterdir()):
    parser.error(f"--keep {args.keep}: the folder is not empty (the first build must start from nothing)")
root = Path(__file__).resolve().parents[1]
# the jupyter-book of this interpreter's environment (.venv/bin), found without activating it
beside = Path(sys.executable).with_name("jupyter-book")
jupyter_book = str(beside) if beside.exists() else "jupyter-book"
commit = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"], capture_output=True,
                        text=True).stdout.strip()
with (tempfile.TemporaryDirectory() if not args.keep else contextlib.nullcontext(args.keep)) as tmp:
    env = {**os.environ, "TLCORE_CACHE_DIR": f"{tmp}/sweeps"}
    start = time.perf_counter()
    subprocess.run([jupyter_book, "build", str(root), "--path-output", f"{tmp}/site"], check=True, env=env,
                   capture_output=True)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run([jupyter_book, "build", str(root), "--path-output", f"{tmp}/site"], check=True, env=env,
                   capture_output=True)
    again = time.perf_counter() - start
print(f"book_build_s: {seconds:.0f}")
print(f"book_rebuild_unchanged_s: {again:.0f}")
print(f"book_build_minutes: {seconds / 60:.1f}")
if args.json:
    record = benchmark_record("book", {"book_build_s": seconds, "book_rebuild_unchanged_s": again}, "cpu")
    record["commit"] = commit
    save_benchmark(args.json, record)
