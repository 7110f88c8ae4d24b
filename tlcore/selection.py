"""Which pre-trained source should a small target task borrow from? Ranking already-trained networks.

The paper's method (claim C4): train a network from scratch on the small target set, compare its
representations layer by layer with those of each candidate source network on the same probe
inputs, and prefer the most similar source (:func:`rank_sources`). Nothing here trains a network:
the scratch networks come from :func:`tlcore.experiments.train_scratch`. :func:`ranking_quality`
is the yardstick for this method and for the transferability baselines alike.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from scipy import stats

from .models import BlockModel
from .similarity import MEASURES, layerwise
from .stats import bootstrap_ci, tie_aware_ranks, tied_with_best
from .validation import as_tensor, check_known

__all__ = ["ranking_quality", "rank_sources", "aggregate_layers", "AGGREGATES", "tie_aware_quality",
           "selection_quality", "quality_intervals", "paired_quality_difference", "QUALITY"]


def ranking_quality(scores, true_acc) -> dict:
    """How well ``scores`` (higher = better source) rank sources by their measured ``true_acc``.

    Both are mappings (or Series) keyed by source, or aligned sequences. Returns Spearman and
    Kendall correlations, ``top1_hit`` (the top-scored source is a best one) and ``regret`` (best
    accuracy minus the accuracy of the top-scored source; 0 is perfect).
    """
    s, a = pd.Series(scores, dtype=float), pd.Series(true_acc, dtype=float)
    if set(s.index) != set(a.index):
        raise ValueError(f"scores ({list(s.index)}) and true_acc ({list(a.index)}) name different sources")
    if len(s) < 2:
        raise ValueError("ranking needs at least two sources")
    a = a.reindex(s.index)
    if s.isna().any() or a.isna().any():
        raise ValueError("scores and true_acc must not hold NaN")
    chosen = s.idxmax()
    return {
        "spearman": float(stats.spearmanr(s.values, a.values).statistic),
        "kendall": float(stats.kendalltau(s.values, a.values).statistic),
        "top1_hit": bool(a[chosen] >= a.max() - 1e-12),
        "regret": float(a.max() - a[chosen]),
    }


# --------------------------------------------------------------------------- representation-based


def _mean_diagonal(m):
    if m.shape[0] != m.shape[1]:
        raise ValueError(f"aggregate 'diagonal' needs equal depths, got a {m.shape} matrix")
    return float(np.mean(np.diag(m)))


AGGREGATES = {
    "diagonal": _mean_diagonal,           # same depth in both networks, averaged over depths
    "first": lambda m: float(m[0, 0]),    # first block only: low-level features
    "last": lambda m: float(m[-1, -1]),   # last block only: what the standard recipe transfers
    "max": lambda m: float(m.max()),      # the best-matching pair of layers
}

# The layer pairs each aggregate reads, for depths (n_a, n_b); None: every pair.
_READS = {
    "diagonal": lambda na, nb: [(i, i) for i in range(min(na, nb))],
    "first": lambda na, nb: [(0, 0)],
    "last": lambda na, nb: [(na - 1, nb - 1)],
    "max": lambda na, nb: None,
}


def _pairwise(reps_a, reps_b, measure: str, k: int, aggregate: str, full: bool) -> np.ndarray:
    """The layer-by-layer matrix; unless ``full``, only the pairs ``aggregate`` reads (NaN elsewhere)."""
    pairs = None if full else _READS[aggregate](len(reps_a), len(reps_b))
    if pairs is None:
        return layerwise(reps_a, reps_b, measure, k=k)
    m = np.full((len(reps_a), len(reps_b)), np.nan)
    for i, j in pairs:
        m[i, j] = layerwise([reps_a[i]], [reps_b[j]], measure, k=k)[0, 0]
    return m


def aggregate_layers(matrix: np.ndarray, aggregate: str = "diagonal") -> float:
    """One score from a source-layer x target-layer similarity matrix (see ``AGGREGATES``)."""
    check_known("aggregate", aggregate, AGGREGATES)
    return AGGREGATES[aggregate](matrix)


def rank_sources(scratch_models: Sequence[BlockModel], probe_x, sources: Mapping[str, BlockModel],
                 measure: str = "neighbourhood_overlap", aggregate: str = "diagonal", k: int = 10,
                 full: bool = True) -> pd.DataFrame:
    """Rank candidate sources by the similarity of their representations to scratch target networks.

    ``scratch_models`` are networks trained from scratch on the target (one per seed); each source
    is compared with each of them, layer by layer, on the probe inputs ``probe_x`` with a
    registered ``measure`` (higher = more alike), each matrix is reduced to one number by
    ``aggregate`` and the numbers are averaged over seeds. Returns one row per source, best first,
    with ``score``, ``score_sem`` (standard error over seeds) and ``rank``;
    ``table.attrs["layerwise"]`` holds the seed-averaged matrices (rows: source blocks, columns:
    scratch blocks); with ``full=False`` only the pairs the aggregate reads are computed (the others
    are NaN), which is what a benchmark scoring many settings needs.
    """
    check_known("similarity measure", measure, MEASURES)
    check_known("aggregate", aggregate, AGGREGATES)
    if not sources:
        raise ValueError("no candidate sources given")
    if not scratch_models:
        raise ValueError("no scratch networks given")
    probe = as_tensor("probe_x", probe_x)
    for name, model in sources.items():
        if model.in_dim != probe.shape[1]:
            raise ValueError(f"input size mismatch: source {name!r} expects in_dim={model.in_dim}, "
                             f"the probe inputs have {probe.shape[1]} features")
    with torch.no_grad():
        target_reps = [m.representations(probe) for m in scratch_models]
        rows, matrices = [], {}
        for name, model in sources.items():
            source_reps = model.representations(probe)
            mats = [_pairwise(source_reps, reps, measure, k, aggregate, full) for reps in target_reps]
            per_seed = np.array([aggregate_layers(m, aggregate) for m in mats])
            matrices[name] = np.mean(mats, axis=0)
            sem = float(per_seed.std(ddof=1) / np.sqrt(len(per_seed))) if len(per_seed) > 1 else 0.0
            rows.append({"source": name, "score": float(per_seed.mean()), "score_sem": sem})
    table = pd.DataFrame(rows).sort_values("score", ascending=False, kind="stable")
    table["rank"] = np.arange(1, len(table) + 1)
    table = table.reset_index(drop=True)
    table.attrs["layerwise"] = matrices
    return table


# --------------------------------------------------------------------------- against a noisy ground truth

QUALITY = ["spearman", "top1_hit", "regret"]


def _top_scored(scores: pd.Series) -> list:
    """Every candidate sharing the top score: a selector that cannot separate them picks one at random."""
    return list(scores.index[scores >= scores.max() - 1e-12 * max(1.0, abs(scores.max()))])


def tie_aware_quality(scores: Mapping, truth_mean: Mapping, truth_sem: Mapping, control=None) -> dict:
    """How well ``scores`` (higher = better source) rank sources whose true accuracy is only known within noise.

    The ground truth is the mean accuracy over seeds with its SE: sources within 2 SE of each other
    share a rank (:func:`tlcore.stats.tie_aware_ranks`), so noise cannot reorder them. ``spearman``
    correlates the scores with those tied ranks (0 when either side is constant: no information);
    ``top1_hit`` is 1 when the top-scored source is tied with the best
    (:func:`tlcore.stats.tied_with_best`) and ``regret`` the best mean accuracy minus the chosen
    one's; when several sources share the top score, both are averaged over them (a random pick).
    With ``control`` (a source's name), ``control_rank`` is its rank by score (1 = top, ties averaged).
    """
    s = pd.Series(scores, dtype=float)
    m = pd.Series(truth_mean, dtype=float)
    if set(s.index) != set(m.index):
        raise ValueError(f"scores ({list(s.index)}) and the ground truth ({list(m.index)}) name different sources")
    if len(s) < 2 or s.isna().any():
        raise ValueError(f"ranking needs at least two sources and no NaN score, got {dict(s)}")
    ranks = pd.Series(tie_aware_ranks(dict(m), dict(truth_sem))).reindex(s.index)
    best = tied_with_best(dict(m), dict(truth_sem))
    chosen = _top_scored(s)
    informative = s.nunique() > 1 and ranks.nunique() > 1
    out = {"spearman": float(stats.spearmanr(s.values, -ranks.values).statistic) if informative else 0.0,
           "top1_hit": float(np.mean([c in best for c in chosen])),
           "regret": float(m.max() - m[chosen].mean())}
    if control is not None:
        if control not in s.index:
            raise ValueError(f"control {control!r} is not among the sources {list(s.index)}")
        out["control_rank"] = float(s.rank(ascending=False)[control])
    return out


def selection_quality(table: pd.DataFrame, by: Sequence[str] = ("n_target",), control=None) -> pd.DataFrame:
    """Tie-aware ranking quality per (``by``, selector, seed) from a source-selection table.

    The ground truth of each ``by`` group is every candidate's ``best_acc`` averaged over the seeds
    (with its SE); each seed's scores are judged against it by :func:`tie_aware_quality`.
    """
    by = list(by)
    missing = sorted(set(by + ["candidate", "seed", "selector", "score", "best_acc"]) - set(table.columns))
    if missing:
        raise ValueError(f"selection table lacks the column(s) {missing}")
    rows = []
    for key, group in table.groupby(by, sort=True) if by else [((), table)]:
        key = key if isinstance(key, tuple) else (key,)
        truth = group.drop_duplicates(["candidate", "seed"]).groupby("candidate").best_acc
        mean, sem = truth.mean(), truth.sem(ddof=1).fillna(0.0)
        for (selector, seed), g in group.groupby(["selector", "seed"], sort=True):
            scores = dict(zip(g.candidate, g.score))
            rows.append({**dict(zip(by, key)), "selector": selector, "seed": seed,
                         **tie_aware_quality(scores, mean, sem, control)})
    return pd.DataFrame(rows)


def quality_intervals(quality: pd.DataFrame, by: Sequence[str] = ("n_target",), metrics: Sequence[str] = (),
                      n_boot: int = 2000, level: float = 0.95) -> pd.DataFrame:
    """Mean of each quality metric over seeds with its percentile bootstrap interval (resampling seeds).

    One row per (``by``, selector) with ``<metric>``, ``<metric>_low``, ``<metric>_high`` and ``n_seeds``.
    """
    metrics = list(metrics) or [c for c in QUALITY + ["control_rank"] if c in quality.columns]
    rows = []
    for key, g in quality.groupby(list(by) + ["selector"], sort=True):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(list(by) + ["selector"], key))
        for metric in metrics:
            ci = bootstrap_ci(g[metric].to_numpy(float), n_boot=n_boot, level=level)
            row.update({metric: ci.estimate, f"{metric}_low": ci.low, f"{metric}_high": ci.high})
        row["n_seeds"] = int(g.seed.nunique())
        rows.append(row)
    return pd.DataFrame(rows)


def paired_quality_difference(quality: pd.DataFrame, a: str, b: str, metric: str = "spearman",
                              n_boot: int = 2000, level: float = 0.95) -> dict:
    """Selector ``a`` minus selector ``b`` on ``metric``, paired per seed (each seed averaged over the
    table's other groups), with its SE and bootstrap interval; ``side`` is "better", "worse" or "tie"
    (the interval contains 0)."""
    for name in (a, b):
        if name not in set(quality.selector):
            raise ValueError(f"unknown selector {name!r}; expected one of {sorted(set(quality.selector))}")
    per_seed = quality[quality.selector.isin([a, b])].pivot_table(index="seed", columns="selector", values=metric)
    d = (per_seed[a] - per_seed[b]).dropna().to_numpy()
    ci = bootstrap_ci(d, n_boot=n_boot, level=level)
    sem = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0
    side = "better" if ci.low > 0 else "worse" if ci.high < 0 else "tie"
    return {"difference": ci.estimate, "sem": sem, "low": ci.low, "high": ci.high, "n_seeds": len(d), "side": side}
