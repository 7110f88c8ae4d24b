"""One bootstrap for the project: percentile intervals whose resampling units are an argument.

Replicates that share something (the seeds of one task instance) are not independent, so the
resampling follows the design: :func:`bootstrap` draws the top-level units (e.g. ``task_seed``) with
replacement, then the units nested in each drawn one (e.g. ``seed``), and computes the statistic on
the rows so drawn. :func:`bootstrap_ci` is the one-level case over the rows of an array. Every
interval goes through :func:`percentile_interval`, so the percentiles are never typed elsewhere.

With few independent units (3-5 task instances) the plain percentile interval is too narrow: it
ignores that the spread is itself estimated from a handful of units (:func:`tlcore.stats.bootstrap_coverage`
measures by how much). Given the number of units ``n``, the percentiles are
therefore taken at the *expanded* level of Hesterberg (2015, "What teachers should know about the
bootstrap", The American Statistician 69(4)): the tail probability 2 Phi(-sqrt(n/(n-1)) t_{n-1}),
which matches the t interval's width for a mean and tends to the plain level as n grows. A
percentile hardly reaches beyond the most extreme unit, so with 3 units even the expanded interval
stays short of its level: the book's evidence is the paper scale (5 instances).
"""
from __future__ import annotations

import functools
import math
from typing import Callable, NamedTuple, Sequence

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

__all__ = ["Interval", "percentile_interval", "expanded_level", "resample_indices", "bootstrap_ci", "bootstrap"]


class Interval(NamedTuple):
    """A bootstrap percentile interval around the statistic of the original sample."""
    estimate: float
    low: float
    high: float


def _check(n_boot, level, where: str) -> None:
    if not isinstance(n_boot, (int, np.integer)) or isinstance(n_boot, bool) or n_boot < 1:
        raise ValueError(f"{where}: n_boot must be a positive integer, got {n_boot!r}")
    if not 0 < level < 1:
        raise ValueError(f"{where}: level must lie in (0, 1), got {level!r}")


def expanded_level(level: float, n_units: int | None) -> float:
    """The percentile level that gives a ``level`` interval from ``n_units`` independent units
    (Hesterberg's expanded percentile; ``level`` itself when ``n_units`` is None). One unit gives no
    spread to estimate: the whole range (level 1)."""
    if n_units is None:
        return level
    if n_units < 2:
        return 1.0
    n = int(n_units)
    t = scipy_stats.t.ppf(0.5 + level / 2, df=n - 1)
    return float(1 - 2 * scipy_stats.norm.sf(math.sqrt(n / (n - 1)) * t))


def percentile_interval(replicates, level: float = 0.95, axis: int = 0, n_units: int | None = None) -> tuple:
    """The central ``level`` percentile interval of bootstrap replicates along ``axis`` (finite ones;
    NaN when none is finite). ``n_units``: the number of independent units resampled at the top
    level, which widens the percentiles to :func:`expanded_level`."""
    level = expanded_level(level, n_units)
    reps = np.asarray(replicates, dtype=float)
    if reps.ndim == 1:
        reps = reps[np.isfinite(reps)]
        if len(reps) == 0:
            return math.nan, math.nan
    low, high = np.percentile(reps, [50 * (1 - level), 50 * (1 + level)], axis=axis)
    return (float(low), float(high)) if np.ndim(low) == 0 else (low, high)


def resample_indices(n: int, n_boot: int, rng: np.random.Generator, clusters=None) -> tuple[list[np.ndarray], int]:
    """Indices of ``n_boot`` resamples of ``n`` replicates and the number of top-level units: the
    replicates with replacement, or (``clusters``: one label per replicate) clusters with
    replacement and then replicates within each drawn cluster."""
    if clusters is None:
        return list(rng.integers(0, n, size=(n_boot, n))), n
    clusters = np.asarray(clusters)
    if len(clusters) != n:
        raise ValueError(f"{len(clusters)} cluster labels for {n} entries")
    return _nested_indices(clusters, n_boot, rng), len(pd.unique(clusters))


def _nested_indices(clusters: np.ndarray, n_boot: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Row indices of ``n_boot`` two-level resamples: clusters with replacement, then rows within each."""
    members = [np.flatnonzero(clusters == c) for c in pd.unique(clusters)]
    out = []
    for _ in range(n_boot):
        drawn = [members[i] for i in rng.integers(0, len(members), size=len(members))]
        out.append(np.concatenate([m[rng.integers(0, len(m), size=len(m))] for m in drawn]))
    return out


@functools.lru_cache(maxsize=256)
def _seeded_indices(n: int, n_boot: int, seed: int, clusters: tuple | None) -> tuple[tuple[np.ndarray, ...], int]:
    """:func:`resample_indices` from a fresh generator seeded with ``seed``, remembered: a verdict
    asks for the same resamples of the same replicates many times (one per measure, baseline and
    leave-out subset), and drawing them was most of its time. Read-only arrays, so no caller can
    change what another gets."""
    idx, n_units = resample_indices(n, n_boot, np.random.default_rng(seed), clusters)
    for i in idx:
        i.setflags(write=False)
    return tuple(idx), n_units


@functools.lru_cache(maxsize=256)
def _seeded_matrix(n: int, n_boot: int, seed: int, clusters: tuple | None) -> tuple[np.ndarray | None, int]:
    """:func:`_seeded_indices` as one ``n_boot x n`` array (None when the resamples differ in length,
    as unbalanced clusters make them), so a mean over every resample is one vectorised reduction."""
    idx, n_units = _seeded_indices(n, n_boot, seed, clusters)
    if len({len(i) for i in idx}) != 1:
        return None, n_units
    matrix = np.stack(idx)
    matrix.setflags(write=False)
    return matrix, n_units


def bootstrap_ci(values_by_seed, stat: Callable = np.mean, n_boot: int = 2000, level: float = 0.95,
                 seed: int = 0, clusters=None) -> Interval:
    """Percentile bootstrap interval of ``stat`` over the entries of axis 0.

    ``values_by_seed`` has one entry (a number, or a row of numbers) per replicate along axis 0;
    the percentiles are expanded for the number of top-level units (clusters, else entries);
    resamples draw whole rows with replacement, so what a replicate measured stays together (e.g. a
    rank correlation between per-source accuracies and scores). ``clusters`` (one label per entry,
    e.g. its task instance) makes the resampling hierarchical: clusters first, then entries within
    each drawn cluster. ``stat`` maps such an array to a number. Resamples whose statistic is not
    finite (e.g. a correlation of constant values) are dropped.
    """
    where = "bootstrap_ci"
    x = np.asarray(values_by_seed)
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"{where}: values_by_seed must have at least one seed along axis 0")
    _check(n_boot, level, where)
    if clusters is not None and len(clusters) != len(x):
        raise ValueError(f"{where}: {len(clusters)} cluster labels for {len(x)} entries")
    matrix = None
    if isinstance(seed, (int, np.integer)):  # a generator or seed sequence is drawn from afresh
        key = None if clusters is None else tuple(np.asarray(clusters).tolist())
        idx, n_units = _seeded_indices(len(x), n_boot, int(seed), key)
        if stat is np.mean and x.ndim == 1 and np.issubdtype(x.dtype, np.floating):
            matrix, _ = _seeded_matrix(len(x), n_boot, int(seed), key)
    else:
        idx, n_units = resample_indices(len(x), n_boot, np.random.default_rng(seed), clusters)
    # the mean of every resample at once: the same pairwise sums, row by row, as np.mean of each
    reps = x[matrix].mean(axis=1) if matrix is not None else np.array([float(stat(x[i])) for i in idx])
    low, high = percentile_interval(reps, level, n_units=n_units)
    return Interval(float(stat(x)), low, high)


def _tree(table: pd.DataFrame, units: Sequence[str]):
    """Row positions nested by unit: a list (one entry per unit value) of subtrees; leaves are arrays."""
    def build(positions: np.ndarray, level: int):
        if level == len(units):
            return positions
        codes = pd.factorize(table[units[level]].to_numpy()[positions], sort=True)[0]
        return [build(positions[codes == c], level + 1) for c in range(codes.max() + 1)]
    return build(np.arange(len(table)), 0)


def _draw(tree, depth: int, rng: np.random.Generator, labels: list[list], counter: list[int]) -> list:
    """One nested resample of ``tree``: the drawn row positions, with each level's new unit labels
    appended to ``labels`` (a unit drawn twice gets two labels, so it counts as two units)."""
    if depth == 0:
        return [tree]
    out = []
    for i in rng.integers(0, len(tree), size=len(tree)):
        counter[depth - 1] += 1
        label = counter[depth - 1]
        parts = _draw(tree[i], depth - 1, rng, labels, counter)
        n = sum(len(p) for p in parts)
        labels[depth - 1].append(np.full(n, label))
        out += parts
    return out


def _resample(table: pd.DataFrame, units: list[str], tree, rng: np.random.Generator) -> pd.DataFrame:
    labels: list[list] = [[] for _ in units]
    positions = np.concatenate(_draw(tree, len(units), rng, labels, [0] * len(units)))
    out = table.iloc[positions].reset_index(drop=True)
    for level, unit in enumerate(units):
        out[unit] = np.concatenate(labels[len(units) - 1 - level])
    return out


def bootstrap(stat: Callable[[pd.DataFrame], float], table: pd.DataFrame, units: Sequence[str],
              n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> Interval:
    """Percentile interval of ``stat(table)`` under a nested resampling of ``units``.

    ``units=["task_seed", "seed"]`` draws task instances with replacement, then training seeds within
    each drawn instance: the interval reflects the variation over both, its percentiles expanded for
    the number of top-level units. ``stat`` takes a table with
    the same columns (each unit relabelled by its draw) and returns a number; non-finite resamples
    are dropped.
    """
    where = "bootstrap"
    _check(n_boot, level, where)
    units = [units] if isinstance(units, str) else list(units)
    missing = [u for u in units if u not in table.columns]
    if missing:
        raise ValueError(f"{where}: resampling unit(s) {missing} are not columns of the table")
    if table.empty:
        raise ValueError(f"{where}: empty table")
    rng = np.random.default_rng(seed)
    tree = _tree(table, units)
    reps = np.array([float(stat(_resample(table, units, tree, rng))) for _ in range(n_boot)])
    low, high = percentile_interval(reps, level, n_units=len(tree))
    return Interval(float(stat(table)), low, high)
