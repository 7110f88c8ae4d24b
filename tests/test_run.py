"""Sweeps that survive: resume after SIGKILL, corrupt cache files, Dask, determinism, validation."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from tlcore.cache import CorruptCacheWarning
from tlcore.sweep import run

SMALL = dict(family="teacher", n_targets=[20, 80], protocols=[(0, 0), (2, 2), (2, 0)], shared_depth=1,
             n_source=800, n_target_pool=300, n_test=300, width=16, depth=2, source_steps=80, steps=40)
GRID = {"alpha": [0.2, 1.2], "task_seed": [0, 1]}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return run("depth", GRID, tmp_path_factory.mktemp("ref"), **SMALL)


def test_rerun_reads_the_cache_and_is_identical(reference, tmp_path):
    assert reference.attrs["computed"] == 4 and reference.attrs["cached"] == 0
    assert reference.attrs["experiment"] == "depth" and len(reference.attrs["cells"]) == 4
    assert len(reference) == 4 * 2 * 3
    assert {"alpha", "task_seed", "seed", "n_target", "transfer_depth"} <= set(reference.columns)
    first = run("depth", GRID, tmp_path, **SMALL)
    again = run("depth", GRID, tmp_path, **SMALL)
    assert (again.attrs["computed"], again.attrs["cached"]) == (0, 4)
    assert again.attrs["cells"] == first.attrs["cells"]
    assert first.equals(reference) and again.equals(reference)  # bit for bit, across runs
    wider = run("depth", {"alpha": [0.2, 1.2, 0.7], "task_seed": [0, 1]}, tmp_path, **SMALL)
    assert (wider.attrs["computed"], wider.attrs["cached"]) == (2, 4)  # only the new cells are computed


SCRIPT = textwrap.dedent("""
    import sys
    from tlcore.sweep import run
    SMALL = {small!r}
    SMALL.update(source_steps=1500, steps=600)
    run("depth", {{"alpha": [0.1, 0.4, 0.8, 1.2], "task_seed": [0, 1]}}, sys.argv[1], **SMALL)
""")


def test_killed_sweep_resumes_without_losing_or_redoing_cells(tmp_path):
    script = tmp_path / "sweep.py"
    script.write_text(SCRIPT.format(small=SMALL))
    cache = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, str(script), str(cache)])
    deadline = time.time() + 240
    done = []
    while time.time() < deadline and proc.poll() is None:
        done = list((cache / "depth").glob("*.json")) if (cache / "depth").exists() else []
        if len(done) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = len(list((cache / "depth").glob("*.json")))
    assert 2 <= finished < 8, "the sweep should have been killed part way"
    big = {**SMALL, "source_steps": 1500, "steps": 600}
    grid = {"alpha": [0.1, 0.4, 0.8, 1.2], "task_seed": [0, 1]}
    resumed = run("depth", grid, cache, **big)
    assert (resumed.attrs["computed"], resumed.attrs["cached"]) == (8 - finished, finished)
    whole = run("depth", grid, tmp_path / "fresh", **big)
    assert resumed.equals(whole)
    keys = ["alpha", "task_seed", "n_target", "transfer_depth", "frozen_depth"]
    assert not resumed.duplicated(keys).any() and len(resumed) == 8 * 2 * 3
    assert len(list((cache / "depth").glob("*.json"))) == 8


def test_corrupt_cache_file_is_recomputed_with_a_warning(reference, tmp_path):
    run("depth", GRID, tmp_path, **SMALL)
    victim = sorted((tmp_path / "depth").glob("*.parquet"))[1]
    victim.write_bytes(victim.read_bytes()[:-50])  # truncated
    with pytest.warns(CorruptCacheWarning, match=victim.name) as caught:
        again = run("depth", GRID, tmp_path, **SMALL)
    assert len(caught) == 1  # each bad file reported once
    assert (again.attrs["computed"], again.attrs["cached"]) == (1, 3)
    assert again.equals(reference)
    victim.write_bytes(b"garbage")
    with pytest.warns(CorruptCacheWarning):
        assert run("depth", GRID, tmp_path, **SMALL).equals(reference)


def test_dask_workers_with_two_threads_give_the_same_table(reference, tmp_path):
    """A Dask worker with its default threads runs two cells at once in one process: bit-identical."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        table = run("depth", GRID, tmp_path, executor=client.get_executor(), **SMALL)
    assert table.attrs["computed"] == 4
    assert table.equals(reference)


def test_thread_and_spawn_process_pools_give_the_same_table(reference, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from tlcore.sweep import process_pool

    with ThreadPoolExecutor(4) as pool:
        assert run("depth", GRID, tmp_path / "threads", executor=pool, **SMALL).equals(reference)
    with process_pool(2) as pool:
        assert run("depth", GRID, tmp_path / "processes", executor=pool, **SMALL).equals(reference)
        # each worker uses its share of the cores, not one thread per core (oversubscribed, 3x slower)
        assert pool.submit(torch.get_num_threads).result() == max(1, (os.cpu_count() or 1) // 2)


def test_fork_process_pool_is_refused_before_any_work(tmp_path):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        with pytest.raises(ValueError, match="fork-based ProcessPoolExecutor"):
            run("depth", GRID, tmp_path, executor=pool, **SMALL)
    assert not list(tmp_path.rglob("*.json"))


def test_cache_key_follows_device_versions_and_computing_code(tmp_path, monkeypatch):
    import shutil

    import tlcore
    import tlcore.sweep as sweep

    params = {**SMALL, "alpha": 0.2, "seeds": [0]}
    base = sweep.cell_config("depth", params)
    assert base["device"] == "cpu" and base["torch"] and "device" not in base["params"]  # "auto", resolved
    monkeypatch.setattr(sweep.torch, "__version__", "0.0-other")
    assert sweep.cell_config("depth", params)["torch"] == "0.0-other"
    monkeypatch.undo()
    monkeypatch.setattr(sweep, "resolve_device", lambda device: __import__("torch").device("cuda"))
    assert sweep.cell_config("depth", params)["device"] == "cuda"  # auto on a GPU machine: another key
    monkeypatch.undo()
    # the fingerprint covers what experiments imports (subpackages included), not reductions, figures,
    # the claims or the sweep itself
    package = tmp_path / "tlcore"
    shutil.copytree(Path(tlcore.__file__).parent, package)
    before = sweep.code_fingerprint(package)
    for name in ("analysis", "figures", "sweep", "advisor", "book", "claims/c2", "cache/store"):
        (package / f"{name}.py").write_text((package / f"{name}.py").read_text() + "\n# edited\n")
    assert sweep.code_fingerprint(package) == before
    for name in ("train", "neighbours", "tasks/synthetic", "experiments/depth", "models/base", "stats/kernel"):
        edited = package / f"{name}.py"
        original = edited.read_text()
        edited.write_text(original + "\n# edited\n")
        assert sweep.code_fingerprint(package) != before, name
        edited.write_text(original)


def test_concurrent_sweeps_share_cells(reference, tmp_path):
    """Two sweeps on one cache at once: each cell is computed once, both get the whole table."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(lambda _: run("depth", GRID, tmp_path, **SMALL), range(2))
    assert a.equals(reference) and b.equals(reference)
    assert a.attrs["computed"] + b.attrs["computed"] == 4


BAD = [
    # (what, call kwargs, error type, message)
    ("unknown experiment", dict(experiment="depht"), ValueError, "unknown experiment 'depht'"),
    ("unknown parameter", dict(extra=dict(widht=3)), ValueError, "unknown parameter 'widht'"),
    ("unknown family", dict(extra=dict(family="imagenet")), ValueError, "unknown task family 'imagenet'"),
    ("wrong type", dict(grid={"alpha": ["high"]}), TypeError, "alpha must be a number, got 'high'"),
    ("knob out of range", dict(grid={"alpha": [0.1, 3.0]}), ValueError, r"alpha=3.0 is out of range"),
    ("impossible protocol", dict(extra=dict(protocols=[(1, 2)])), ValueError, "frozen_depth=2 > transfer_depth=1"),
    ("protocol deeper than the net", dict(extra=dict(protocols=[(3, 0)])), ValueError, "transfer_depth=3 > n_blocks=2"),
    ("target size too large", dict(extra=dict(n_targets=[10, 5000])), ValueError, "n_target=5000 is larger"),
    ("non-integer seed", dict(grid={"seeds": [[0.5]]}), TypeError, "seed must be an integer, got 0.5"),
    ("seeds not a list", dict(grid={"seeds": [3]}), TypeError, "seeds must be a list of integers, got 3"),
    ("empty grid list", dict(grid={"alpha": []}), ValueError, r"grid\['alpha'\] must be a non-empty list"),
    ("parameter twice", dict(grid={"depth": [2]}), ValueError, "'depth' is given both in grid and as a fixed"),
    ("unwritable cache", dict(cache="file"), ValueError, "is not a writable folder"),
    ("infinite learning rate", dict(extra=dict(lr=float("inf"))), ValueError, "lr=inf must be a finite positive"),
    ("NaN weight decay", dict(extra=dict(weight_decay=float("nan"))), ValueError,
     "weight_decay=nan must be a finite non-negative"),
    ("negative learning rate", dict(extra=dict(lr=-0.1)), ValueError, "lr=-0.1 must be a finite positive"),
    ("networks above the loader's cap", dict(extra=dict(width=20_000)), ValueError,
     "more than the 50,000,000 that load_model reads"),
]


@pytest.mark.parametrize("what, kw, error, message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_fails_before_any_work(what, kw, error, message, tmp_path):
    cache = tmp_path / "c"
    if kw.get("cache") == "file":
        (tmp_path / "f").write_text("x")
        cache = tmp_path / "f" / "sub"
    params = {**SMALL, **kw.get("extra", {})}
    with pytest.raises(error, match=message):
        run(kw.get("experiment", "depth"), kw.get("grid", {"alpha": [0.1]}), cache, **params)
    assert not list(tmp_path.rglob("*.json")) and not list(tmp_path.rglob("*.parquet"))  # nothing was computed
