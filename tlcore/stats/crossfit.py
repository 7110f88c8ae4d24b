"""Winners chosen on one half of the replicates and scored on the other.

Validation and test accuracies of the same networks are correlated (a lucky initialisation is lucky
on both), so "chosen on validation, reported on test" still reports part of the winner's luck.
Cross-fitting removes it: the replicates (task instances where a table has several, else training
seeds) are split into folds; each fold's winner is chosen on the *other* folds' validation scores and
scored on this fold's test scores; the folds' scores are averaged.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .kernel import sem

__all__ = ["MIN_INSTANCES", "replicate_unit", "replicate_clusters", "fold_of", "cross_fitted_winners"]

MIN_INSTANCES = 3  # task instances needed before they, not the training seeds, are the replicate units


def replicate_unit(table: pd.DataFrame) -> str:
    """The column whose values are a table's independent replicates: ``task_seed`` when every group
    of the table has at least :data:`MIN_INSTANCES` task instances, else ``seed`` (one instance, or
    too few to estimate a spread over them)."""
    if "task_seed" in table.columns and table["task_seed"].nunique() >= MIN_INSTANCES:
        return "task_seed"
    return "seed"


def replicate_clusters(table: pd.DataFrame, seeds) -> np.ndarray | None:
    """For the given ``seeds`` (a table's seed ids, unique across its instances), their task instance
    when the instances are the replicate units (:func:`replicate_unit`), else None: the ``clusters``
    argument of :func:`tlcore.stats.compare`."""
    if replicate_unit(table) != "task_seed":
        return None
    instance = table.groupby("seed")["task_seed"].first()
    return instance.reindex(list(seeds)).to_numpy()


def fold_of(units: Sequence, folds: int = 2) -> dict:
    """Each replicate unit (sorted) to a fold, round-robin, so folds differ in size by at most one."""
    ordered = sorted(set(units))
    if len(ordered) < folds:
        raise ValueError(f"fold_of: {len(ordered)} unit(s), fewer than folds={folds}")
    return {u: i % folds for i, u in enumerate(ordered)}


def cross_fitted_winners(table: pd.DataFrame, by: Sequence[str], key: Sequence[str], unit: str | None = None,
                         choose_on: str = "val_acc", score: str = "test_acc", folds: int = 2) -> pd.DataFrame:
    """Per ``by`` group, the cross-fitted winner of the protocols named by ``key`` columns.

    ``unit`` is the replicate column the folds split (default: :func:`replicate_unit` of each group). Ties on the choosing score go to the first protocol in sorted
    ``key`` order (the cheaper one for prefix protocols). Columns: ``by``, ``fold``, the winner's
    ``key`` columns, ``score`` (its mean test score on the held-out fold), ``n_units``; and a summary
    per group with ``fold = -1``: the held-out mean over folds and ``agree`` (the folds chose the same).
    """
    by, key = list(by), list(key)
    fixed_unit = unit
    missing = sorted(set(by + key + [unit or "seed", choose_on, score]) - set(table.columns))
    if missing:
        raise ValueError(f"cross_fitted_winners: missing column(s) {missing}")
    rows = []
    for group_key, g in table.groupby(by, sort=True) if by else [((), table)]:
        group_key = group_key if isinstance(group_key, tuple) else (group_key,)
        unit = fixed_unit or replicate_unit(g)
        fold = g[unit].map(fold_of(g[unit], folds))
        chosen, held = [], []
        for k in range(folds):
            train, test = g[fold != k], g[fold == k]
            means = train.groupby(key, sort=True)[choose_on].mean()
            best = means.index[int(np.argmax(means.to_numpy()))]  # first maximum: sorted order breaks ties
            best = best if isinstance(best, tuple) else (best,)
            mine = test[np.logical_and.reduce([test[c] == v for c, v in zip(key, best)])]
            value = float(mine[score].mean())
            chosen.append(best)
            held.append(value)
            rows.append({**dict(zip(by, group_key)), "fold": k, **dict(zip(key, best)), score: value,
                         "n_units": int(mine[unit].nunique())})
        rows.append({**dict(zip(by, group_key)), "fold": -1, **{c: None for c in key}, score: float(np.mean(held)),
                     "n_units": int(g[unit].nunique()), "agree": len(set(chosen)) == 1,
                     f"{score}_fold_sem": sem(held)})
    return pd.DataFrame(rows)
