"""Experiments: a grid in, one tidy table out (a pandas DataFrame, one row per trained network)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from .models import BlockModel, build_model
from .selection import BASELINES as _BASELINE_SCORES
from .tasks import Task, TaskPair
from .train import fit
from .transfer import Protocol, all_protocols, transfer
from .validation import check_int, check_known

__all__ = ["TrainingConfig", "derive_seed", "pretrain", "depth_sweep", "default_model_kind",
           "candidate_sources", "source_selection", "BASELINES", "depth_experiment",
           "selection_experiment", "EXPERIMENTS", "run"]


@dataclass(frozen=True)
class TrainingConfig:
    """Architecture and optimisation settings shared by the experiments (plain keyword arguments)."""

    model: str = "auto"
    width: int = 128
    depth: int = 4
    source_steps: int = 3000
    steps: int = 500
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    device: str = "auto"

    def __post_init__(self):
        if self.model != "auto":
            check_known("model", self.model, ["mlp", "cnn1d"])
        check_int("width", self.width, low=1)
        check_int("depth", self.depth, low=1)
        check_int("source_steps", self.source_steps, low=0)
        check_int("steps", self.steps, low=0)
        check_int("batch_size", self.batch_size, low=1)
        if not self.lr > 0:
            raise ValueError(f"lr={self.lr!r} must be positive")


def default_model_kind(family: str) -> str:
    """MNIST-1D is a sequence task and gets the 1-D CNN; the other families get the MLP."""
    return "cnn1d" if family == "mnist1d" else "mlp"


def derive_seed(*keys) -> int:
    """An independent 31-bit seed for every tuple of keys (ints or short strings)."""
    ints = [k if isinstance(k, (int, np.integer)) else int.from_bytes(str(k).encode(), "little")
            for k in keys]
    return int(np.random.SeedSequence([int(i) for i in ints]).generate_state(1)[0] >> 1)


def _training(training: dict) -> TrainingConfig:
    fields = TrainingConfig.__dataclass_fields__
    for name in training:
        if name not in fields:
            raise ValueError(f"unknown training parameter {name!r}; expected one of {sorted(fields)}")
    return TrainingConfig(**training)


def pretrain(task: Task, seeds: Sequence[int], family: str = "", **training
             ) -> tuple[list[BlockModel], np.ndarray]:
    """Train one source network per seed on the whole ``task``, batched; return models and test accs."""
    cfg = _training(training)
    kind = cfg.model if cfg.model != "auto" else default_model_kind(family)
    models = [build_model(kind, seed=derive_seed(s, "source-init"), in_dim=task.in_dim,
                          n_classes=task.n_classes, width=cfg.width, depth=cfg.depth) for s in seeds]
    full = torch.arange(task.n_train)
    ens = fit(models, task.x_train, task.y_train, [full] * len(models),
              [derive_seed(s, "source-data") for s in seeds], steps=cfg.source_steps,
              batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay, device=cfg.device)
    return ens.to_models(), ens.accuracy(task.x_test, task.y_test)


def depth_sweep(pair: TaskPair, n_targets: Sequence[int], protocols: Sequence | None = None,
                seeds: Sequence[int] = (0,), sources: tuple | None = None, dry_run: bool = False,
                **training) -> pd.DataFrame | None:
    """Target test accuracy for every (n_target, protocol, seed): the paper's transfer-depth experiment.

    One source network is pre-trained per seed (or taken from ``sources = (models, accs)`` as
    returned by :func:`pretrain`); then every target member is trained in one batched call. Members
    of one seed share the initial weights of their re-initialised layers and nested target subsets
    (common random numbers), so differences between protocols are not drowned in seed noise.
    ``protocols`` defaults to ``(l, l)`` and ``(l, 0)`` for every depth ``l``.
    Returns one row per network with the columns ``family``, the knobs, ``task_seed``, ``model``,
    ``n_target``, ``transfer_depth``, ``frozen_depth``, ``protocol``, ``seed``, ``test_acc``,
    ``source_test_acc``. ``dry_run=True`` checks every argument and returns None before any training.
    """
    cfg = _training(training)
    seeds = [check_int("seed", s) for s in seeds]
    if not seeds:
        raise ValueError("seeds is empty")
    protocols = [p if isinstance(p, Protocol) else Protocol(*p)
                 for p in (protocols if protocols is not None else all_protocols(cfg.depth))]
    for p in protocols:
        p.check(cfg.depth)
    target = pair.target
    n_targets = [check_int("n_target", n, low=1) for n in n_targets]
    for n in n_targets:
        if n > target.n_train:
            raise ValueError(f"n_target={n} is larger than the target's training set "
                             f"({target.n_train} examples)")
    if dry_run:
        return None
    if sources is None:
        sources = pretrain(pair.source, seeds, pair.family, **training)
    source_models, source_accs = sources
    if len(source_models) != len(seeds):
        raise ValueError(f"got {len(source_models)} source models for {len(seeds)} seeds")
    if source_models[0].in_dim != target.in_dim:
        raise ValueError(f"input size mismatch: source model expects in_dim={source_models[0].in_dim}, "
                         f"the target task has {target.in_dim} features")

    members, subsets, stream_seeds, rows = [], [], [], []
    kind = type(source_models[0]).__name__.lower()
    for si, seed in enumerate(seeds):
        for n in n_targets:
            subset = target.subsample_indices(n, seed)
            for p in protocols:
                members.append(transfer(source_models[si], p, target.n_classes,
                                        seed=derive_seed(seed, "target-init")))
                subsets.append(subset)
                stream_seeds.append(derive_seed(seed, n, "target-data"))
                rows.append({"family": pair.family, **pair.knobs, "task_seed": pair.seed,
                             "model": kind, "n_target": n, "transfer_depth": p.transfer_depth,
                             "frozen_depth": p.frozen_depth, "protocol": p.name, "seed": seed,
                             "source_test_acc": float(source_accs[si])})
    ens = fit(members, target.x_train, target.y_train, subsets, stream_seeds, steps=cfg.steps,
              batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay, device=cfg.device)
    acc = ens.accuracy(target.x_test, target.y_test)
    table = pd.DataFrame(rows)
    table.insert(table.columns.get_loc("source_test_acc"), "test_acc", acc.astype(float))
    return table


BASELINES = tuple(_BASELINE_SCORES)  # leep, logme, hscore, nce


def candidate_sources(family: str, knob: str, values: Sequence, seed: int = 0,
                      family_params: dict | None = None) -> tuple[Task, dict[str, Task]]:
    """One target task and candidate source tasks at graded similarity to it, from one family.

    Pairs of one family and seed share their source task and perturb it by the knob; so the shared
    task plays the *target* here and the pairs' perturbed tasks are the candidate sources, at the
    similarity that ``knob = value`` sets (0: identical to the target). Returns the target and the
    candidates keyed ``"knob=value"``.
    """
    from .tasks import make_pair

    params = dict(family_params or {})
    if knob in params or knob == "seed":
        raise ValueError(f"knob {knob!r} is set both as the graded knob and in family_params")
    if len(values) < 2:
        raise ValueError(f"source selection needs at least two candidate values of {knob!r}, got {list(values)}")
    pairs = [make_pair(family, **params, **{knob: v}, seed=seed) for v in values]
    target = pairs[0].source
    candidates = {f"{knob}={v:g}": p.target for v, p in zip(values, pairs)}
    return target, candidates


def source_selection(family: str, knob: str, values: Sequence, n_targets: Sequence[int],
                     seeds: Sequence[int] = (0,), task_seed: int = 0, family_params: dict | None = None,
                     protocols: Sequence | None = None, measures: Sequence[str] = ("neighbourhood_overlap",),
                     aggregate: str = "diagonal", k: int = 10, baselines: Sequence[str] = BASELINES,
                     dry_run: bool = False, **training) -> pd.DataFrame | None:
    """Ground truth, selector scores and ranking quality for choosing among graded candidate sources.

    For every candidate source (see :func:`candidate_sources`) and seed, a source network is
    pre-trained; its *best* target test accuracy over ``protocols`` at each ``n_target`` is the
    ground truth. Each selector scores each candidate from the ``n_target`` target examples alone:
    the representation-based ones (``measures``, aggregated over layers by ``aggregate``, compared
    with one scratch network per seed) and the ``baselines`` computed from the source network's
    outputs on the target training set. Returns one row per (n_target, seed, selector, candidate)
    with ``score``, ``best_acc``, ``best_protocol`` and the group's ``spearman``, ``kendall``,
    ``top1_hit`` and ``regret`` (see :func:`tlcore.selection.ranking_quality`).
    ``dry_run=True`` checks every argument and returns None before any training.
    """
    from . import selection

    cfg = _training(training)
    for m in measures:
        check_known("selection measure", m, selection.SELECTION_MEASURES)
    for b in baselines:
        check_known("baseline", b, BASELINES)
    check_known("aggregate", aggregate, selection.AGGREGATES)
    if not measures and not baselines:
        raise ValueError("no selector given: measures and baselines are both empty")
    seeds = [check_int("seed", s) for s in seeds]
    target, candidates = candidate_sources(family, knob, values, task_seed, family_params)
    n_targets = [check_int("n_target", n, low=2) for n in n_targets]
    for n in n_targets:
        if n > target.n_train:
            raise ValueError(f"n_target={n} is larger than the target's training set ({target.n_train})")
    if protocols is not None:
        for p in protocols:
            (p if isinstance(p, Protocol) else Protocol(*p)).check(cfg.depth)
    if dry_run:
        return None

    # Ground truth: the best protocol's accuracy, per candidate, n_target and seed.
    sources, best = {}, {}
    for name, task in candidates.items():
        sources[name] = pretrain(task, seeds, family, **training)
        pair = TaskPair(source=task, target=target, family=family, knobs={}, seed=task_seed)
        table = depth_sweep(pair, n_targets, protocols, seeds, sources=sources[name], **training)
        top = table.loc[table.groupby(["n_target", "seed"]).test_acc.idxmax()]
        for row in top.itertuples():
            best[(name, row.n_target, row.seed)] = (row.test_acc, row.protocol)

    rows = []
    for n in n_targets:
        for si, seed in enumerate(seeds):
            sub = target.subsample(n, seed)
            models = {name: sources[name][0][si] for name in candidates}
            scores: dict[str, dict[str, float]] = {}
            if measures:
                scratch = selection.train_scratch(sub, next(iter(models.values())), [seed],
                                                  steps=cfg.steps, batch_size=cfg.batch_size,
                                                  lr=cfg.lr, device=cfg.device)
                for m in measures:
                    ranked = selection.rank_sources(sub, sub.x_train, models, measure=m,
                                                    aggregate=aggregate, k=min(k, n - 1),
                                                    scratch_models=scratch)
                    scores[m] = dict(zip(ranked.source, ranked.score))
            outputs = {name: selection.source_outputs(model, sub.x_train) for name, model in models.items()}
            for b in baselines:
                scores[b] = {name: selection.BASELINES[b](probs, feats, sub.y_train.numpy())
                             for name, (probs, feats) in outputs.items()}
            truth = {name: best[(name, n, seed)][0] for name in candidates}
            for selector, s in scores.items():
                quality = selection.ranking_quality(s, truth)
                for value, name in zip(values, candidates):
                    rows.append({"family": family, "knob": knob, "value": value, "candidate": name,
                                 "n_target": n, "seed": seed, "selector": selector,
                                 "score": s[name], "best_acc": truth[name],
                                 "best_protocol": best[(name, n, seed)][1], **quality})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- grids of cells


def _split_family_params(family: str, params: dict) -> tuple[dict, dict]:
    """Separate a flat parameter dict into the family's own parameters and training parameters."""
    import inspect

    from .tasks import FAMILIES

    check_known("task family", family, FAMILIES)
    family_names = set(inspect.signature(FAMILIES[family]).parameters) - {"seed"}
    training_names = set(TrainingConfig.__dataclass_fields__)
    pair_params, training = {}, {}
    for name, value in params.items():
        if name in family_names:
            pair_params[name] = value
        elif name in training_names:
            training[name] = value
        else:
            raise ValueError(f"unknown parameter {name!r} for a {family!r} depth experiment; expected "
                             f"one of {sorted(family_names | training_names)}")
    return pair_params, training


def depth_experiment(family: str = "teacher", n_targets: Sequence[int] = (50, 500),
                     protocols: Sequence | None = None, seed: int = 0, task_seed: int = 0,
                     dry_run: bool = False, **params) -> pd.DataFrame | None:
    """One cell of a depth grid, from plain values: ``make_pair(family, **knobs)`` then :func:`depth_sweep`.

    ``params`` holds the family's knobs and sizes and the training settings, by name.
    """
    from .tasks import make_pair

    pair_params, training = _split_family_params(family, params)
    _training(training)
    pair = make_pair(family, seed=task_seed, **pair_params)
    return depth_sweep(pair, list(n_targets), protocols, seeds=[seed], dry_run=dry_run, **training)


def selection_experiment(family: str = "teacher", knob: str = "alpha", values: Sequence = (0.0, 0.5, 1.0),
                         n_targets: Sequence[int] = (50,), seed: int = 0, task_seed: int = 0,
                         dry_run: bool = False, **params) -> pd.DataFrame | None:
    """One cell of a source-selection grid: :func:`source_selection` for one seed."""
    return source_selection(family, knob, list(values), list(n_targets), seeds=[seed],
                            task_seed=task_seed, dry_run=dry_run, **params)


EXPERIMENTS = {"depth": depth_experiment, "source_selection": selection_experiment}


def _cell_config(name: str, params: dict) -> dict:
    """The full configuration of a cell, defaults included: what its cache key is made of."""
    import inspect

    from . import __version__

    bound = inspect.signature(EXPERIMENTS[name]).bind(**params)
    bound.apply_defaults()
    args = dict(bound.arguments)
    args.update(args.pop("params", {}))
    args.pop("dry_run", None)
    return {"experiment": name, "params": args, "training_defaults": TrainingConfig().__dict__,
            "tlcore": __version__, "code": _code_fingerprint()}


def _code_fingerprint() -> str:
    """A hash of the modules that compute results, so a code change never reuses stale cells."""
    import hashlib

    here = Path(__file__).parent
    digest = hashlib.sha256()
    for name in ("tasks", "models", "transfer", "train", "similarity", "selection", "sweep",
                 "validation", "analysis"):
        digest.update((here / f"{name}.py").read_bytes())
    return digest.hexdigest()[:16]


def default_cache_dir() -> Path:
    """Where the book's sweeps keep their cells: ``$TLCORE_CACHE_DIR`` or ``~/.cache/tlcore``."""
    import os

    return Path(os.environ.get("TLCORE_CACHE_DIR", Path.home() / ".cache" / "tlcore"))


def _compute_cell(name: str, params: dict, cache_dir: str, key: str, config: dict) -> pd.DataFrame:
    """Run one cell and store it (on the worker, so a finished cell survives the driver)."""
    from .cache import ResultsCache

    table = EXPERIMENTS[name](**params)
    ResultsCache(cache_dir).put(key, config, table)
    return table


def run(experiment: str, grid: dict, cache_dir, executor=None, progress: bool | None = None,
        **fixed) -> pd.DataFrame:
    """Run the cartesian product of ``grid`` for an experiment, resuming from ``cache_dir``.

    ``experiment`` names an entry of ``EXPERIMENTS`` (``"depth"``, ``"source_selection"``); ``grid``
    maps parameter names to lists of values, and every combination is one cell; ``fixed`` holds the
    parameters shared by all cells. Every cell is checked before any is computed. Finished cells are
    read from the cache (a corrupt file is reported and recomputed); the rest run in this process,
    or on ``executor`` (any ``concurrent.futures.Executor``, e.g. a Dask client's
    ``get_executor()``; then ``cache_dir`` must be visible to the workers). Returns the cells'
    tables concatenated in grid order, each with a column per grid parameter;
    ``table.attrs["computed"]`` and ``["cached"]`` count the cells of each kind.
    """
    import itertools

    import sys

    from tqdm import tqdm

    from .cache import ResultsCache, config_key

    check_known("experiment", experiment, EXPERIMENTS)
    if not isinstance(grid, dict) or not grid:
        raise ValueError(f"grid must be a non-empty dict of parameter lists, got {grid!r}")
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or len(values) == 0:
            raise ValueError(f"grid[{name!r}] must be a non-empty list of values, got {values!r}")
        if name in fixed:
            raise ValueError(f"parameter {name!r} is given both in grid and as a fixed parameter")
    names = list(grid)
    cells = [dict(zip(names, combo)) for combo in itertools.product(*grid.values())]
    params = [{**fixed, **cell} for cell in cells]
    for p in params:  # all checks before any heavy work
        try:
            _cell_config(experiment, p)
        except TypeError as exc:
            raise ValueError(f"bad parameters for experiment {experiment!r}: {exc}") from None
        EXPERIMENTS[experiment](**p, dry_run=True)
    cache = ResultsCache(Path(cache_dir) / experiment)
    configs = [_cell_config(experiment, p) for p in params]
    keys = [config_key(c) for c in configs]

    results = {key: cache.get(key) for key in dict.fromkeys(keys)}
    todo = [i for i, key in enumerate(keys) if results[key] is None and keys.index(key) == i]
    cached = len(set(keys)) - len(todo)
    bar = tqdm(total=len(set(keys)), initial=cached, desc=f"{experiment} cells", unit="cell",
               disable=not sys.stderr.isatty() if progress is None else not progress)
    if executor is None:
        for i in todo:
            results[keys[i]] = _compute_cell(experiment, params[i], str(cache.folder), keys[i], configs[i])
            bar.update()
    else:
        from concurrent.futures import as_completed

        futures = {executor.submit(_compute_cell, experiment, params[i], str(cache.folder), keys[i],
                                   configs[i]): i for i in todo}
        for fut in as_completed(futures):
            results[keys[futures[fut]]] = fut.result()
            bar.update()
    bar.close()

    tables = []
    for cell, key in zip(cells, keys):
        table = results[key].copy()
        for name, value in cell.items():
            if name not in table.columns:
                table[name] = [value] * len(table)
        tables.append(table)
    out = pd.concat(tables, ignore_index=True)
    out.attrs.update(computed=len(todo), cached=cached)
    return out
