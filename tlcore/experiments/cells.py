"""Cells of a grid from plain values (what :func:`tlcore.sweep.run` calls, by name in ``EXPERIMENTS``)."""
from __future__ import annotations

import inspect
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..similarity import MEASURES
from ..tasks import FAMILIES, make_pair
from ..validation import check_int, check_known
from .config import TrainingConfig, config_from
from .depth import depth_sweep
from .representations import PROFILE_MEASURES, compare_representations, similarity_profiles
from .selection import source_selection

__all__ = ["split_params", "depth_experiment", "selection_experiment", "representations_experiment",
           "profiles_experiment", "EXPERIMENTS"]


def _seed_list(seeds) -> list[int]:
    """A cell's seeds: a list of integers (one integer is refused, so ``seeds=10`` is not read as 10 seeds)."""
    if isinstance(seeds, (int, np.integer)):
        raise TypeError(f"seeds must be a list of integers, got {seeds!r}")
    return list(seeds)


def split_params(family: str, params: Mapping) -> tuple[dict, dict]:
    """Separate flat parameters into the task family's own (knobs, sizes) and the training ones."""
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
            raise ValueError(f"unknown parameter {name!r} for a {family!r} experiment; expected "
                             f"one of {sorted(family_names | training_names)}")
    return pair_params, training


def depth_experiment(family: str = "teacher", n_targets: Sequence[int] = (50, 500),
                     protocols: Sequence | None = None, seeds: Sequence[int] = (0,), task_seed: int = 0,
                     n_val: int = 0, checkpoints: int = 0, dry_run: bool = False, **params) -> pd.DataFrame | None:
    """One cell of a depth grid, from plain values: ``make_pair(family, **knobs)`` then :func:`depth_sweep`.

    ``params`` holds the family's knobs and sizes and the training settings, by name. All ``seeds``
    of a cell train together (their sources in one batched call, their targets in another).
    """
    pair_params, training = split_params(family, params)
    config_from(training)
    seeds = _seed_list(seeds)
    pair = make_pair(family, seed=task_seed, **pair_params)
    return depth_sweep(pair, list(n_targets), protocols, seeds=list(seeds), n_val=n_val, checkpoints=checkpoints,
                       dry_run=dry_run, **training)


def selection_experiment(family: str = "teacher", knob: str | None = "alpha", values: Sequence = (0.0, 0.5, 1.0),
                         n_targets: Sequence[int] = (50,), seeds: Sequence[int] = (0,), task_seed: int = 0,
                         dry_run: bool = False, **params) -> pd.DataFrame | None:
    """One cell of a source-selection grid: :func:`source_selection` for its ``seeds``.

    With ``candidates`` in ``params`` (a list of knob settings), pass ``knob=None``."""
    seeds = _seed_list(seeds)
    return source_selection(family, knob, list(values), list(n_targets), seeds=list(seeds),
                            task_seed=task_seed, dry_run=dry_run, **params)


def representations_experiment(family: str = "teacher", n_small: int = 100, seeds: Sequence[int] = (0,),
                               measures: Sequence[str] = ("neighbourhood_overlap", "linear_cka"), k: int = 10,
                               n_probe: int = 1000, task_seed: int = 0, dry_run: bool = False,
                               **params) -> pd.DataFrame | None:
    """One cell of a representation grid: :func:`compare_representations` on ``make_pair(family, ...)``."""
    pair_params, training = split_params(family, params)
    config_from(training)
    for m in measures:
        check_known("similarity measure", m, MEASURES)
    check_int("n_small", n_small, low=2)
    seeds = [check_int("seed", s) for s in _seed_list(seeds)]
    pair = make_pair(family, seed=task_seed, **pair_params)
    if n_small > pair.target.n_train:
        raise ValueError(f"n_small={n_small} is larger than the target's training set ({pair.target.n_train})")
    if dry_run:
        return None
    return compare_representations(pair, n_small, seeds, measures, k, n_probe, **training)


def profiles_experiment(family: str = "hidden_manifold", n_targets: Sequence[int] = (50,),
                        seeds: Sequence[int] = (0, 1), measures: Sequence[str] = PROFILE_MEASURES, k: int = 10,
                        n_probe: int = 500, task_seed: int = 0, dry_run: bool = False, **params
                        ) -> pd.DataFrame | None:
    """One cell of a profile grid: :func:`similarity_profiles` on ``make_pair(family, ...)``."""
    pair_params, training = split_params(family, params)
    seeds = _seed_list(seeds)
    pair = make_pair(family, seed=task_seed, **pair_params)
    return similarity_profiles(pair, list(n_targets), list(seeds), list(measures), k, n_probe, dry_run=dry_run,
                               **training)


EXPERIMENTS = {"depth": depth_experiment, "source_selection": selection_experiment,
               "representations": representations_experiment, "profiles": profiles_experiment}
