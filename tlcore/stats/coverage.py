"""How often the book's bootstrap intervals cover the truth, measured by simulation.

The intervals of C3 and C4 rest on 3-5 task instances. Whether a percentile interval keeps its
nominal level with so few top-level units is a property of the method, not of a data set: it is
measured here on simulated two-level tables shaped like the sweeps' (task instances, each with an
effect of its own, and training seeds within each), with the resampling and the percentiles of
:func:`tlcore.stats.bootstrap_ci`, so the book quotes a computed coverage, not a remembered one.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .bootstrap import percentile_interval, resample_indices

__all__ = ["Coverage", "bootstrap_coverage"]


class Coverage(NamedTuple):
    """Share of simulated tables whose interval covers the true mean: the plain percentile interval
    and the expanded one the book uses, out of ``n_tables``."""
    plain: float
    expanded: float
    n_tables: int


def bootstrap_coverage(n_instances: int, n_seeds: int = 3, n_tables: int = 300, n_boot: int = 300,
                       level: float = 0.95, seed: int = 0, instance_sd: float = 0.3,
                       seed_sd: float = 0.1) -> Coverage:
    """Coverage of the hierarchical bootstrap interval for a mean over ``n_instances`` task instances
    of ``n_seeds`` seeds each. Each table draws instance effects (sd ``instance_sd``) and seed noise
    (sd ``seed_sd``) around a known mean; both intervals come from the same resamples (instances,
    then seeds within each drawn instance). The defaults put most of the spread between instances,
    the case in which the number of instances, not of networks, sets the coverage; the result is a
    property of that simulated design, not a measurement on the book's sweeps."""
    if not isinstance(n_instances, (int, np.integer)) or n_instances < 2:
        raise ValueError(f"bootstrap_coverage: n_instances must be an integer >= 2, got {n_instances!r}")
    if not isinstance(n_seeds, (int, np.integer)) or n_seeds < 1:
        raise ValueError(f"bootstrap_coverage: n_seeds must be a positive integer, got {n_seeds!r}")
    if not isinstance(n_tables, (int, np.integer)) or n_tables < 1:
        raise ValueError(f"bootstrap_coverage: n_tables must be a positive integer, got {n_tables!r}")
    truth = 0.5
    clusters = np.repeat(np.arange(n_instances), n_seeds)
    plain = expanded = 0
    for k in range(n_tables):
        rng = np.random.default_rng([seed, k])
        x = truth + np.repeat(rng.normal(0, instance_sd, n_instances), n_seeds) + rng.normal(0, seed_sd, len(clusters))
        draws, n_units = resample_indices(len(x), n_boot, rng, clusters)
        reps = np.array([x[i].mean() for i in draws])
        low, high = percentile_interval(reps, level)
        plain += low <= truth <= high
        low, high = percentile_interval(reps, level, n_units=n_units)
        expanded += low <= truth <= high
    return Coverage(plain / n_tables, expanded / n_tables, int(n_tables))
