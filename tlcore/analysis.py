"""Reductions of the tidy tables that the experiments return: means over seeds, optimal protocols, gains.

Every function takes a DataFrame with one row per trained network (as :func:`tlcore.experiments.depth_sweep`
returns) and gives a smaller tidy DataFrame, so chapters only orchestrate and plot.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .transfer import FAMILIES

__all__ = ["summarise", "optimal_protocols", "gains", "best_by_recipe", "selection_summary", "layer_matrix",
           "probe_curves"]

PROTOCOL_KEYS = ["transfer_depth", "frozen_depth"]


def summarise(table: pd.DataFrame, by: Sequence[str] = ("n_target",)) -> pd.DataFrame:
    """Mean and standard error over seeds of ``test_acc`` for each protocol within ``by`` groups."""
    keys = list(by) + PROTOCOL_KEYS
    g = table.groupby(keys, sort=True).test_acc
    out = pd.DataFrame({"mean": g.mean(), "sem": g.sem(ddof=1).fillna(0.0), "n_seeds": g.size()})
    return out.reset_index()


def optimal_protocols(table: pd.DataFrame, by: Sequence[str] = ("n_target",),
                      frozen: bool | None = None) -> pd.DataFrame:
    """The protocol of highest mean accuracy in each ``by`` group.

    ``frozen=True`` restricts to ``(l, l)`` protocols, ``False`` to ``(l, 0)``; scratch counts as both.
    Ties go to the shallower transfer (the cheaper choice).
    """
    s = summarise(table, by)
    if frozen is True:
        s = s[s.transfer_depth == s.frozen_depth]
    elif frozen is False:
        s = s[s.frozen_depth == 0]
    s = s.sort_values(list(by) + ["mean", "transfer_depth"], ascending=[True] * len(by) + [False, True],
                      kind="stable")
    return s.groupby(list(by), sort=True).head(1).reset_index(drop=True)


def gains(table: pd.DataFrame, by: Sequence[str] = ("n_target",)) -> pd.DataFrame:
    """Best protocol against scratch ``(0, 0)`` and the standard recipe ``(L, L)``, per ``by`` group.

    ``L`` is the deepest transfer present in the table. Columns: ``best_transfer_depth``,
    ``best_frozen_depth``, ``best_acc``,
    ``scratch_acc``, ``standard_acc``, ``gain_over_scratch``, ``gain_over_standard``.
    """
    s = summarise(table, by)
    depth = int(s.transfer_depth.max())
    best = optimal_protocols(table, by)
    rows = []
    for _, b in best.iterrows():
        mask = np.ones(len(s), bool)
        for k in by:
            mask &= (s[k] == b[k]).to_numpy()
        group = s[mask]

        def acc(t, f):
            hit = group[(group.transfer_depth == t) & (group.frozen_depth == f)]
            return float(hit["mean"].iloc[0]) if len(hit) else np.nan

        scratch, standard = acc(0, 0), acc(depth, depth)
        rows.append({**{k: b[k] for k in by},
                     "best_transfer_depth": int(b.transfer_depth), "best_frozen_depth": int(b.frozen_depth),
                     "best_acc": float(b["mean"]), "scratch_acc": scratch, "standard_acc": standard,
                     "gain_over_scratch": float(b["mean"]) - scratch,
                     "gain_over_standard": float(b["mean"]) - standard})
    out = pd.DataFrame(rows)
    for k in by:
        out[k] = out[k].astype(s[k].dtype)
    return out


def best_by_recipe(table: pd.DataFrame, by: Sequence[str] = ("n_target",)) -> pd.DataFrame:
    """The best protocol of each family of :data:`tlcore.transfer.FAMILIES` in each ``by`` group.

    One row per group and recipe with ``recipe``, ``transfer_depth``, ``frozen_depth``, ``mean``, ``sem``.
    ``L`` is the deepest transfer present in the table.
    """
    s = summarise(table, by)
    L = int(s.transfer_depth.max())
    parts = []
    for recipe, keep in FAMILIES.items():
        part = s[keep(s.transfer_depth, s.frozen_depth, L)].sort_values(list(by) + ["mean", "transfer_depth"],
                                         ascending=[True] * len(by) + [False, True], kind="stable")
        parts.append(part.groupby(list(by), sort=True).head(1).assign(recipe=recipe))
    out = pd.concat(parts).sort_values(list(by), kind="stable").reset_index(drop=True)
    return out[list(by) + ["recipe", "transfer_depth", "frozen_depth", "mean", "sem"]]


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
