"""The grid runner: a grid of cells in, one tidy table out, every finished cell cached on disk.

A cell is one call of an experiment of :data:`tlcore.experiments.EXPERIMENTS` with plain
parameters. Its cache key is made of its whole configuration (parameters with their defaults, the
training defaults), the resolved device, the tlcore and torch versions and a fingerprint of the
code that computes cells (the modules :mod:`tlcore.experiments` imports, directly or not; editing
a plotting or reduction module reuses the cache). Cells run in this process or on any
``concurrent.futures.Executor`` (threads, a spawn process pool, a Dask client's executor): every
random draw is derived from the cell's keys, so all give bit-identical tables.
"""
from __future__ import annotations

import ast
import hashlib
import itertools
import json
import os
import time
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from functools import lru_cache
from pathlib import Path

import pandas as pd
import torch

from ._version import __version__
from .cache import ResultsCache, config_key
from .experiments import EXPERIMENTS, training_defaults
from .experiments.source_cache import source_cache
from .progress import bar as progress_bar
from .validation import check_known, resolve_device

__all__ = ["run", "run_replicated", "instance_seeds", "cell_config", "code_fingerprint", "default_cache_dir", "process_pool"]

_PACKAGE = Path(__file__).parent


def _module_files(package: Path, name: str) -> list[Path]:
    """The files of the tlcore module or subpackage ``name`` (a package: every module in it)."""
    if (package / name).is_dir():
        return sorted((package / name).glob("*.py"))
    path = package / f"{name}.py"
    return [path] if path.exists() else []


def _local_imports(path: Path, package: Path) -> set[str]:
    """Names of the top-level tlcore modules a file imports (``from .x import``, ``from ..x import``
    inside a subpackage, ``from . import x``)."""
    depth = len(path.relative_to(package).parts)  # 1: a top-level module, 2: inside a subpackage
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == depth:
            if node.module:
                names.add(node.module.split(".")[0])
            else:
                names.update(alias.name for alias in node.names)
    return names


def code_fingerprint(package: Path = _PACKAGE, root: str = "experiments") -> str:
    """A hash of the code that computes cells: ``root`` and every tlcore module it reaches by imports."""
    seen, todo = set(), [root]
    while todo:
        name = todo.pop()
        if name in seen or not _module_files(package, name):
            continue
        seen.add(name)
        for path in _module_files(package, name):
            todo.extend(_local_imports(path, package))
    digest = hashlib.sha256()
    for name in sorted(seen):
        for path in _module_files(package, name):
            digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=1)
def _fingerprint() -> str:
    return code_fingerprint()


def cell_config(experiment: str, params: dict) -> dict:
    """The full configuration of a cell, defaults included: what its cache key is made of."""
    import inspect

    bound = inspect.signature(EXPERIMENTS[experiment]).bind(**params)
    bound.apply_defaults()
    args = dict(bound.arguments)
    args.update(args.pop("params", {}))
    args.pop("dry_run", None)
    device = resolve_device(args.get("device", "auto"))
    return {"experiment": experiment, "params": args, "training_defaults": training_defaults(),
            "device": device.type, "tlcore": __version__, "torch": torch.__version__,
            "code": _fingerprint()}


def default_cache_dir() -> Path:
    """Where the book's sweeps keep their cells: ``$TLCORE_CACHE_DIR`` or ``~/.cache/tlcore``."""
    return Path(os.environ.get("TLCORE_CACHE_DIR", Path.home() / ".cache" / "tlcore"))


def _share_cores(threads: int) -> None:
    """Worker initializer: torch's intra-op threads for this worker's share of the cores."""
    torch.set_num_threads(threads)


def process_pool(max_workers: int | None = None) -> ProcessPoolExecutor:
    """A process pool that is safe with torch and numba: workers are spawned, never forked.

    Each worker gets its share of the cores for torch's threads: left at torch's default, every
    worker starts one thread per core, and on 2 cores two workers ran a phase map 3 times slower
    than one process (the tables are the same either way)."""
    import multiprocessing

    workers = max_workers or os.cpu_count() or 1
    threads = max(1, (os.cpu_count() or 1) // workers)
    return ProcessPoolExecutor(max_workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_share_cores, initargs=(threads,))


def _check_executor(executor) -> None:
    if executor is None:
        return
    if not isinstance(executor, Executor) and not hasattr(executor, "submit"):
        raise TypeError(f"executor must be a concurrent.futures.Executor, got {type(executor).__name__}")
    if isinstance(executor, ProcessPoolExecutor):
        context = getattr(executor, "_mp_context", None)
        if context is not None and context.get_start_method() == "fork":
            raise ValueError("a fork-based ProcessPoolExecutor hangs once torch or numba have started "
                             "their thread pools; use tlcore.sweep.process_pool(n) (spawn) instead")


def _compute_cell(experiment: str, params: dict, cache_dir: str, key: str, config: dict) -> pd.DataFrame:
    """Run one cell and store it (on the worker, so a finished cell survives the driver)."""
    start = time.perf_counter()
    salt = json.dumps({k: config[k] for k in ("device", "tlcore", "torch", "code")}, sort_keys=True)
    with source_cache(Path(cache_dir).parent / "sources", salt):  # cells that share a source train it once
        table = EXPERIMENTS[experiment](**params)
    ResultsCache(cache_dir).put(key, config, table, seconds=time.perf_counter() - start)
    return table


def _wait_or_compute(cache: ResultsCache, experiment: str, params: dict, key: str, config: dict
                     ) -> tuple[pd.DataFrame, int]:
    """A cell another sweep holds: wait for its result; if that sweep gives up, take the cell over."""
    while True:
        table = cache.wait_for(key, config)
        if table is not None:
            return table, 0
        lock = cache.try_lock(key)
        if lock is not None:
            with lock:
                table = cache.get(key, config, warn=False)
                if table is not None:
                    return table, 0
                return _compute_cell(experiment, params, str(cache.folder), key, config), 1


def _check_size(params: dict) -> None:
    """Refuse a cell whose networks ``load_model`` could not read back, before any is allocated.

    ``(depth - 1) * width**2`` parameters is a lower bound for every architecture of the library."""
    from .models import MAX_LOAD_PARAMETERS

    defaults = training_defaults()
    width, depth = params.get("width", defaults["width"]), params.get("depth", defaults["depth"])
    if isinstance(width, int) and isinstance(depth, int) and (depth - 1) * width ** 2 > MAX_LOAD_PARAMETERS:
        raise ValueError(f"width={width}, depth={depth} make networks of more than {(depth - 1) * width ** 2:,} "
                         f"parameters each, more than the {MAX_LOAD_PARAMETERS:,} that load_model reads")


def _cells(grid: dict, fixed: dict) -> tuple[list[dict], list[dict]]:
    if not isinstance(grid, dict) or not grid:
        raise ValueError(f"grid must be a non-empty dict of parameter lists, got {grid!r}")
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or len(values) == 0:
            raise ValueError(f"grid[{name!r}] must be a non-empty list of values, got {values!r}")
        if name in fixed:
            raise ValueError(f"parameter {name!r} is given both in grid and as a fixed parameter")
    cells = [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]
    return cells, [{**fixed, **cell} for cell in cells]


def run(experiment: str, grid: dict, cache_dir, executor=None, progress: bool | None = None,
        **fixed) -> pd.DataFrame:
    """Run the cartesian product of ``grid`` for an experiment, resuming from ``cache_dir``.

    ``experiment`` names an entry of ``EXPERIMENTS`` (``"depth"``, ``"source_selection"``); ``grid``
    maps parameter names to lists of values, and every combination is one cell; ``fixed`` holds the
    parameters shared by all cells. Every cell is checked before any is computed. Finished cells are
    read from the cache (a bad entry is reported and recomputed); a cell that another sweep is
    computing right now (its lock is held) is waited for instead of repeated. The rest run in this
    process or on ``executor`` (then ``cache_dir`` must be visible to the workers; a fork-based
    process pool is refused, see :func:`process_pool`). Returns the cells' tables concatenated in
    grid order, each with a column per scalar grid parameter; ``table.attrs["computed"]`` and
    ``["cached"]`` count the cells of each kind, ``["cells"]`` lists the cells' cache keys in grid
    order (their records in ``cache_dir/experiment`` hold each cell's configuration).
    """
    check_known("experiment", experiment, EXPERIMENTS)
    cells, params = _cells(grid, fixed)
    _check_executor(executor)
    configs = []
    for p in params:  # all checks before any heavy work
        try:
            configs.append(cell_config(experiment, p))
        except TypeError as exc:
            raise ValueError(f"bad parameters for experiment {experiment!r}: {exc}") from None
        _check_size(configs[-1]["params"])
        EXPERIMENTS[experiment](**p, dry_run=True)
    keys = [config_key(c) for c in configs]
    first: dict[str, int] = {}  # one computation per distinct key, in grid order
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    cache = ResultsCache(Path(cache_dir) / experiment)
    results = {key: cache.get(key, configs[i]) for key, i in first.items()}
    todo = [i for key, i in first.items() if results[key] is None]
    cached = len(first) - len(todo)
    if todo:
        cache.check_writable()
    bar = progress_bar(total=len(first), desc=f"{experiment} cells", unit="cell", enabled=progress, initial=cached)

    locks, waiting = {}, []
    for i in todo:  # cells another sweep is computing are waited for at the end
        lock = cache.try_lock(keys[i])
        if lock is None:
            waiting.append(i)
        else:
            locks[i] = lock
    computed = 0
    try:
        # finished while we were locking? (quiet: a bad entry was reported by the first look)
        ready = {i: cache.get(keys[i], configs[i], warn=False) for i in locks}
        mine = [i for i in locks if ready[i] is None]
        results.update({keys[i]: t for i, t in ready.items() if t is not None})
        if executor is None:
            finished = ((i, _compute_cell(experiment, params[i], str(cache.folder), keys[i], configs[i]))
                        for i in mine)
        else:
            futures = {executor.submit(_compute_cell, experiment, params[i], str(cache.folder), keys[i],
                                       configs[i]): i for i in mine}
            finished = ((futures[f], f.result()) for f in as_completed(futures))
        for i, table in finished:
            results[keys[i]] = table
            computed += 1
            bar.update()
        bar.update(len(locks) - len(mine))
    finally:
        for lock in locks.values():
            lock.release()
    for i in waiting:
        results[keys[i]], fresh = _wait_or_compute(cache, experiment, params[i], keys[i], configs[i])
        computed += fresh
        bar.update()
    bar.close()

    tables = []
    for cell, key in zip(cells, keys):
        table = results[key].copy()
        for name, value in cell.items():  # list-valued parameters (seeds) already have their rows
            if name not in table.columns and not isinstance(value, (list, tuple)):
                table[name] = [value] * len(table)
        tables.append(table)
    out = pd.concat(tables, ignore_index=True)
    out.attrs.update(computed=computed, cached=len(first) - computed, experiment=experiment, cells=keys)
    return out


def instance_seeds(instance: int, per_instance: int) -> list[int]:
    """The training seeds of task instance ``instance``: a block of ``per_instance`` seeds of its own.

    Seed ids are unique across instances (instance 1 of 2 seeds per instance has seeds 2 and 3), so
    every random draw of a replicate is independent of the other instances' and a table's ``seed``
    column names a replicate (pairing by seed pairs networks of one instance)."""
    if isinstance(instance, bool) or not isinstance(instance, int) or instance < 0:
        raise ValueError(f"instance={instance!r}; expected a non-negative integer")
    if isinstance(per_instance, bool) or not isinstance(per_instance, int) or per_instance < 1:
        raise ValueError(f"seeds per instance={per_instance!r}; expected a positive integer")
    return list(range(instance * per_instance, (instance + 1) * per_instance))


def run_replicated(experiment: str, grid: dict, cache_dir, instances: int, seeds: int, executor=None,
                   progress: bool | None = None, first: int | None = None, **fixed) -> pd.DataFrame:
    """:func:`run` over ``instances`` task instances (``task_seed`` 0, 1, ...), each with its own
    ``seeds`` training seeds (:func:`instance_seeds`): the replicates are (task instance, seed) pairs.

    ``first`` keeps only the first seeds of each instance's block (the same networks as a sweep
    with more seeds per instance). ``grid`` may be empty (one cell per instance). The tables are concatenated instance by instance;
    ``attrs`` sum the computed and cached cells and list every cell's key in that order.
    """
    if isinstance(instances, bool) or not isinstance(instances, int) or instances < 1:
        raise ValueError(f"instances={instances!r}; expected a positive integer")
    for name in ("task_seed", "seeds"):
        if name in grid or name in fixed:
            raise ValueError(f"{name!r} is set by run_replicated (instances={instances}, seeds={seeds})")
    plans = [instance_seeds(t, seeds) for t in range(instances)]  # checks seeds before any work
    if first is not None:
        if isinstance(first, bool) or not isinstance(first, int) or not 1 <= first <= seeds:
            raise ValueError(f"first={first!r}; expected 1..{seeds} (the seeds per instance)")
        plans = [plan[:first] for plan in plans]
    parts = [run(experiment, {**grid, "task_seed": [t]}, cache_dir, executor, progress, seeds=plan, **fixed)
             for t, plan in enumerate(plans)]
    out = pd.concat(parts, ignore_index=True)
    out.attrs.update(computed=sum(p.attrs["computed"] for p in parts), cached=sum(p.attrs["cached"] for p in parts),
                     experiment=experiment, cells=[k for p in parts for k in p.attrs["cells"]])
    return out
