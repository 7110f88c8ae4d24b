"""Which pre-trained source should a small target task borrow from? Ranking already-trained networks.

The paper's method (claim C4): train a network from scratch on the small target set, compare its
representations layer by layer with those of each candidate source network on the same probe
inputs, and prefer the most similar source (:func:`rank_sources`). Nothing here trains a network:
the scratch networks come from :func:`tlcore.experiments.train_scratch`. :func:`ranking_quality`
is the yardstick for this method and for the transferability baselines alike.
"""
from __future__ import annotations

import warnings
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from scipy import stats

from .models import BlockModel
from .similarity import MEASURES, layerwise
from .stats import sem
from .validation import as_tensor, check_known

__all__ = ["ranking_quality", "rank_sources", "aggregate_layers", "AGGREGATES", "UNTRAINED"]

UNTRAINED = "untrained"  # the control candidate: a freshly initialised, never trained source network


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
    with warnings.catch_warnings():  # constant scores or accuracies: no correlation (NaN), said by the value
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        spearman = float(stats.spearmanr(s.values, a.values).statistic)
        kendall = float(stats.kendalltau(s.values, a.values).statistic)
    return {
        "spearman": spearman,
        "kendall": kendall,
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
            rows.append({"source": name, "score": float(per_seed.mean()), "score_sem": sem(per_seed)})
    table = pd.DataFrame(rows).sort_values("score", ascending=False, kind="stable")
    table["rank"] = np.arange(1, len(table) + 1)
    table = table.reset_index(drop=True)
    table.attrs["layerwise"] = matrices
    return table
