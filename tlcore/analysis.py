"""Reductions of the tidy tables that the experiments return, for plots: means and SEs over seeds.

Choosing a winner and measuring margins is statistics and lives in :mod:`tlcore.stats` (chosen on
validation, reported on test, paired by seed).

Every function takes a DataFrame with one row per trained network (as :func:`tlcore.experiments.depth_sweep`
returns) and gives a smaller tidy DataFrame, so chapters only orchestrate and plot.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .experiments import UNTRAINED

__all__ = ["summarise", "selection_summary", "layer_matrix", "probe_curves", "candidate_summary",
           "setting_effect"]

PROTOCOL_KEYS = ["transfer_depth", "frozen_depth"]


def summarise(table: pd.DataFrame, by: Sequence[str] = ("n_target",)) -> pd.DataFrame:
    """Mean and standard error over seeds of ``test_acc`` for each protocol within ``by`` groups."""
    keys = list(by) + PROTOCOL_KEYS
    g = table.groupby(keys, sort=True).test_acc
    out = pd.DataFrame({"mean": g.mean(), "sem": g.sem(ddof=1).fillna(0.0), "n_seeds": g.size()})
    return out.reset_index()


def selection_summary(table: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Mean ranking quality of each selector over seeds, from a :func:`tlcore.experiments.source_selection` table.

    The table repeats a group's quality on each candidate's row; one copy per (selector, n_target,
    seed) is kept before averaging. Columns: ``spearman``, ``kendall``, ``top1_hit``, ``regret``.
    """
    keys = list(by) + ["selector"]
    once = table.drop_duplicates(["selector", "n_target", "seed"])
    return once.groupby(keys)[["spearman", "kendall", "top1_hit", "regret"]].mean()


def layer_matrix(table: pd.DataFrame, measure: str, data: str, **where) -> np.ndarray:
    """Seed-averaged source-block x target-block matrix from a representations table.

    ``where`` selects one cell of a grid (e.g. ``alpha=0.6``)."""
    rows = table[(table.kind == "similarity") & (table.measure == measure) & (table.data == data)]
    for name, value in where.items():
        rows = rows[rows[name] == value]
    if rows.empty:
        raise ValueError(f"no similarity rows for measure={measure!r}, data={data!r}, {where}")
    return rows.pivot_table(index="source_block", columns="target_block", values="value").to_numpy()


def probe_curves(table: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Mean and SE over seeds of the linear-probe accuracy per network and block."""
    rows = table[table.kind == "probe"].rename(columns={"source_block": "block"})
    g = rows.groupby(list(by) + ["network", "block"]).value
    return pd.DataFrame({"mean": g.mean(), "sem": g.sem(ddof=1).fillna(0.0), "n_seeds": g.size()}).reset_index()


def candidate_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per (n_target, candidate) of a source-selection table: what the candidate changes, how much its
    network agrees with the target's labels unretrained, its ground truth (mean ± SE over seeds), its
    tie-aware rank and whether it is tied with the best (within 2 SE)."""
    from .stats import tie_aware_ranks, tied_with_best

    once = table.drop_duplicates(["n_target", "candidate", "seed"])
    similarity = [c for c in once.columns if c.startswith("sim_")]
    g = once.groupby(["n_target", "candidate"], sort=False)
    out = g.agg(knob=("knob", "first"), value=("value", "first"), **{c: (c, "first") for c in similarity},
                zero_shot_acc=("zero_shot_acc", "mean"), best_acc=("best_acc", "mean"),
                best_sem=("best_acc", "sem"), n_seeds=("seed", "nunique")).reset_index()
    out["best_sem"] = out.best_sem.fillna(0.0)
    ranks, tied = [], []
    for _, rows in out.groupby("n_target", sort=False):
        mean, sem = dict(zip(rows.candidate, rows.best_acc)), dict(zip(rows.candidate, rows.best_sem))
        r, best = tie_aware_ranks(mean, sem), tied_with_best(mean, sem)
        ranks += [r[c] for c in rows.candidate]
        tied += [c in best for c in rows.candidate]
    out["tie_rank"], out["tied_with_best"] = ranks, tied
    return out


def setting_effect(table: pd.DataFrame, selectors, n_boot: int = 1000) -> pd.DataFrame:
    """Tie-aware ranking quality of ``selectors`` for every scoring setting of a source-selection table
    (scratch training length, probe size, k, aggregate, n_target), with 95% bootstrap intervals over seeds."""
    from .selection import quality_intervals, selection_quality

    by = [c for c in ("n_target", "scratch_steps", "n_probe", "k", "aggregate") if c in table.columns]
    control = UNTRAINED if UNTRAINED in set(table.candidate) else None
    quality = selection_quality(table[table.selector.isin(list(selectors))], by=by, control=control)
    return quality_intervals(quality, by=by, n_boot=n_boot)
