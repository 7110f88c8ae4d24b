"""The one paired comparison of the project: mean difference, standard error, count and verdict word.

Every caller that says "higher", "lower" or "tie" (a protocol against another, a selector against a
control, a source block against scratch) goes through :func:`compare`, so the rule is the same
everywhere, edge cases included:

* replicates are paired: the differences are taken replicate by replicate (a ``Series`` is aligned on
  its index, replicates missing or NaN on either side are dropped; plain sequences must have equal
  lengths);
* the standard error is ``std(ddof=1) / sqrt(n)``; with fewer than two replicates it is unknown
  (NaN) and the difference is never called significant;
* a difference is significant when ``|mean| > 2 SE`` with ``n >= 2``; zero spread with a non-zero
  mean is therefore significant (every replicate agrees), zero spread and zero mean is a tie;
* with ``clusters`` (e.g. the task instance of each replicate), replicates are first averaged within
  their cluster and the SE is taken over clusters, so correlated replicates are not counted as
  independent.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd

__all__ = ["sem", "Comparison", "compare", "compare_columns", "summary", "WORDS", "significant", "mean_se_text"]

WORDS = ("higher", "lower", "tie")  # the only verdict words a comparison gives


def sem(values) -> float:
    """Standard error of the mean (ddof=1) of the finite values; NaN with fewer than two."""
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    return float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.nan


def significant(mean: float, se: float, n: int) -> bool:
    """The book's rule: ``|mean| > 2 SE`` with at least two replicates."""
    return bool(n >= 2 and math.isfinite(mean) and math.isfinite(se) and abs(mean) > 2 * se)


def mean_se_text(mean: float, se: float = math.nan, digits: int = 3, signed: bool = True) -> str:
    """``+0.012 ± 0.004`` as the book prints a mean and its SE.

    A positive SE too small for ``digits`` gets the decimals that show its first significant digit
    (at most 6), so a tight interval never reads "± 0.000"; a mean that rounds to zero has no sign;
    an exact zero with zero spread (a protocol compared with itself) is "0"; an unknown SE is left
    out; a missing mean is an em dash.
    """
    if mean is None or not math.isfinite(mean):
        return "\u2014"
    if mean == 0 and se == 0:
        return "0"
    if math.isfinite(se) and se > 0:
        while round(se, digits) == 0 and digits < 6:
            digits += 1
    text = f"{mean:{'+' if signed else ''}.{digits}f}"
    if float(text) == 0:
        text = text.lstrip("+-")
    return text if not math.isfinite(se) else f"{text} ± {se:.{digits}f}"


class Comparison(NamedTuple):
    """``a - b`` over paired replicates: mean, SE (NaN when n < 2), n and the verdict word."""
    mean: float
    sem: float
    n: int
    word: str

    @property
    def significant(self) -> bool:
        return self.word != "tie"

    def text(self, digits: int = 3) -> str:
        """``+0.012 ± 0.004`` (:func:`mean_se_text`; the SE is omitted when it is unknown)."""
        return mean_se_text(self.mean, self.sem, digits)


def _differences(a, b) -> np.ndarray:
    if b is None:
        d = pd.Series(a, dtype=float) if isinstance(a, pd.Series) else np.asarray(a, dtype=float).ravel()
    elif isinstance(a, pd.Series) or isinstance(b, pd.Series):
        d = pd.Series(a, dtype=float) - pd.Series(b, dtype=float)
    else:
        a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
        if len(a) != len(b):
            raise ValueError(f"compare: the two sequences have different lengths ({len(a)} and {len(b)}); "
                             "pass pandas Series indexed by replicate to align them")
        d = a - b
    return d


def compare(a, b=None, clusters: Sequence | None = None) -> Comparison:
    """``a - b`` paired by replicate (or ``a`` alone as differences), with the documented rule.

    ``clusters`` gives each replicate's cluster (aligned with ``a``): the differences are averaged
    within clusters before the SE is taken over clusters.
    """
    d = _differences(a, b)
    values = np.asarray(d, dtype=float)
    keep = np.isfinite(values)
    if clusters is not None:
        labels = np.asarray(clusters.reindex(d.index) if isinstance(clusters, pd.Series) and
                            isinstance(d, pd.Series) else clusters)
        if len(labels) != len(values):
            raise ValueError(f"compare: {len(labels)} cluster labels for {len(values)} replicates")
        values = pd.Series(values[keep]).groupby(labels[keep], sort=True).mean().to_numpy()
    else:
        values = values[keep]
    return _comparison(values)


def _comparison(values: np.ndarray) -> Comparison:
    """The rule applied to the finite differences (or cluster means) of one comparison."""
    if len(values) == 0:
        raise ValueError("compare: the two sides share no replicate with finite values")
    mean, se, n = float(values.mean()), sem(values), len(values)
    word = ("higher" if mean > 0 else "lower") if significant(mean, se, n) else "tie"
    return Comparison(mean, se, n, word)


def compare_columns(a: pd.Series, others: pd.DataFrame, clusters: Sequence | None = None) -> list[Comparison]:
    """:func:`compare` of ``a`` with each column of ``others``, in one pass: the same numbers, with
    one grouping by cluster for all columns instead of one per column (a verdict makes thousands of
    these comparisons). ``a`` and ``others`` share one index (else each column is compared alone)."""
    if not a.index.equals(others.index):
        return [compare(a, others[c], clusters) for c in others.columns]
    values = a.to_numpy(dtype=float)[:, None] - others.to_numpy(dtype=float)
    values = np.where(np.isfinite(values), values, np.nan)  # as compare: only finite differences count
    if clusters is None:
        return [_comparison(column[np.isfinite(column)]) for column in values.T]
    labels = np.asarray(clusters.reindex(others.index) if isinstance(clusters, pd.Series) else clusters)
    if len(labels) != len(values):
        raise ValueError(f"compare: {len(labels)} cluster labels for {len(values)} replicates")
    means = pd.DataFrame(values).groupby(labels, sort=True).mean().to_numpy()  # NaN skipped, as compare drops them
    return [_comparison(column[np.isfinite(column)]) for column in means.T]


def summary(table: pd.DataFrame, by: Sequence[str], value: str) -> pd.DataFrame:
    """Mean, SE (NaN for a single replicate) and count of ``value`` per ``by`` group, as columns
    ``mean``, ``sem``, ``n``."""
    g = table.groupby(list(by), sort=True)[value]
    return pd.DataFrame({"mean": g.mean(), "sem": g.agg(sem), "n": g.size()}).reset_index()
