"""Many cells mean many tests: error control across a map, and the intersection-union test.

A phase map asks one question per cell ("does an interior protocol beat every endpoint here?").
:func:`intersection_union` answers it in one cell: the claim holds only if the winner beats *each*
alternative, so its p-value is the largest of the one-sided p-values (no correction is needed for
an intersection-union test). :func:`benjamini_hochberg` then controls the false discovery rate
across the cells at a level stated in code; :func:`holm` controls the family-wise error rate.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats as scipy_stats

from .kernel import compare

__all__ = ["one_sided_p", "intersection_union", "benjamini_hochberg", "holm"]


def one_sided_p(differences, clusters=None) -> float:
    """P-value of "mean difference > 0" from paired differences: a one-sided t-test on the kernel's
    mean and SE (over clusters when given). 1 when the SE is unknown (fewer than two replicates);
    with zero spread, 0 for a positive mean and 1 otherwise."""
    c = compare(differences, clusters=clusters)
    if c.n < 2 or not math.isfinite(c.sem):
        return 1.0
    if c.sem == 0:
        return 0.0 if c.mean > 0 else 1.0
    return float(scipy_stats.t.sf(c.mean / c.sem, df=c.n - 1))


def intersection_union(p_values: Sequence[float]) -> float:
    """The intersection-union test of "the winner beats every alternative": the largest p-value."""
    p = np.asarray(list(p_values), dtype=float)
    if p.size == 0 or np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError(f"intersection_union: p-values must be finite numbers in [0, 1], got {p.tolist()}")
    return float(p.max())


def _checked(p, where: str) -> np.ndarray:
    p = np.asarray(p, dtype=float).ravel()
    if np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError(f"{where}: p-values must be finite numbers in [0, 1], got {p.tolist()}")
    return p


def benjamini_hochberg(p_values, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini-Hochberg at false discovery rate ``q``: ``(discovered, adjusted p-values)``, in the
    input order (the adjusted values equal ``scipy.stats.false_discovery_control``)."""
    if not 0 < q < 1:
        raise ValueError(f"benjamini_hochberg: q must lie in (0, 1), got {q!r}")
    p = _checked(p_values, "benjamini_hochberg")
    m = len(p)
    if m == 0:
        return np.zeros(0, dtype=bool), np.zeros(0)
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    adjusted_sorted = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    return adjusted <= q, adjusted


def holm(p_values, alpha: float) -> np.ndarray:
    """Holm's step-down procedure at family-wise error rate ``alpha``: which hypotheses are rejected."""
    if not 0 < alpha < 1:
        raise ValueError(f"holm: alpha must lie in (0, 1), got {alpha!r}")
    p = _checked(p_values, "holm")
    m = len(p)
    reject = np.zeros(m, dtype=bool)
    for k, i in enumerate(np.argsort(p, kind="stable")):
        if p[i] > alpha / (m - k):
            break
        reject[i] = True
    return reject
