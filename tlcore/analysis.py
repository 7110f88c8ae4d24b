"""Reductions of the tidy tables that the experiments return, for plots: means and SEs over seeds.

Choosing a winner and measuring margins is statistics and lives in :mod:`tlcore.stats` (chosen on
validation, reported on test, paired by seed).

Every function takes a DataFrame with one row per trained network (as :func:`tlcore.experiments.depth_sweep`
returns) and gives a smaller tidy DataFrame, so chapters only orchestrate and plot.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .selection import UNTRAINED
from .stats import (bootstrap_ci, compare, replicate_clusters, replicate_unit, sem, summary, tie_aware_ranks,
                    tied_with_best, within_noise)

__all__ = ["summarise", "selection_summary", "layer_matrix", "probe_curves", "candidate_summary",
           "setting_effect", "tie_aware_quality", "selection_quality", "quality_intervals",
           "paired_quality_difference", "QUALITY", "score_spread", "control_comparison", "matched_pairs"]

PROTOCOL_KEYS = ["transfer_depth", "frozen_depth"]


def summarise(table: pd.DataFrame, by: Sequence[str] = ("n_target",), value: str = "test_acc") -> pd.DataFrame:
    """Mean and standard error of ``value`` for each protocol within ``by`` groups, over the table's
    replicate units (:func:`tlcore.stats.replicate_unit`): with enough task instances the seeds are
    averaged within their instance first, so the SE is over instances. ``n`` counts the units and
    ``unit`` names them (``"task_seed"`` or ``"seed"``)."""
    keys = list(by) + PROTOCOL_KEYS
    unit = replicate_unit(table)
    if unit == "task_seed":
        table = table.groupby(keys + ["task_seed"], as_index=False)[value].mean()
    out = summary(table, keys, value)
    out["unit"] = unit
    return out


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
    return summary(rows, list(by) + ["network", "block"], "value").rename(columns={"n": "n_seeds"})


def candidate_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per (n_target, candidate) of a source-selection table: what the candidate changes, how much its
    network agrees with the target's labels unretrained, its ground truth (mean ± SE over seeds), its
    tie-aware rank and whether it is tied with the best (within 2 SE)."""
    once = table.drop_duplicates(["n_target", "candidate", "seed"])
    similarity = [c for c in once.columns if c.startswith("sim_")]
    g = once.groupby(["n_target", "candidate"], sort=False)
    out = g.agg(knob=("knob", "first"), value=("value", "first"), **{c: (c, "first") for c in similarity},
                zero_shot_acc=("zero_shot_acc", "mean"), best_acc=("best_acc", "mean"),
                best_sem=("best_acc", sem), n_seeds=("seed", "nunique")).reset_index()
    out["best_sem"] = out.best_sem.fillna(0.0)  # one seed: no noise estimate, the order is taken as is
    ranks, tied = [], []
    for _, rows in out.groupby("n_target", sort=False):
        mean, se = dict(zip(rows.candidate, rows.best_acc)), dict(zip(rows.candidate, rows.best_sem))
        r, best = tie_aware_ranks(mean, se), tied_with_best(mean, se)
        ranks += [r[c] for c in rows.candidate]
        tied += [c in best for c in rows.candidate]
    out["tie_rank"], out["tied_with_best"] = ranks, tied
    return out


def setting_effect(table: pd.DataFrame, selectors, n_boot: int = 1000) -> pd.DataFrame:
    """Tie-aware ranking quality of ``selectors`` for every scoring setting of a source-selection table
    (scratch training length and learning rate, probe size, k, aggregate, n_target), with 95% bootstrap
    intervals over seeds."""
    by = [c for c in ("n_target", "scratch_steps", "scratch_lr", "n_probe", "k", "aggregate") if c in table.columns]
    control = UNTRAINED if UNTRAINED in set(table.candidate) else None
    quality = selection_quality(table[table.selector.isin(list(selectors))], by=by, control=control)
    return quality_intervals(quality, by=by, n_boot=n_boot)


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
    informative = np.ptp(s.values) > 1e-12 * max(1.0, float(np.abs(s.values).max())) and ranks.nunique() > 1
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
    (with its SE); each seed's scores are judged against it by :func:`tie_aware_quality`. A table with
    task instances (``task_seed``) has a ground truth per instance (each is its own target task) and
    keeps the column, so intervals can resample instances.
    """
    by = list(by) + (["task_seed"] if "task_seed" in table.columns and "task_seed" not in by else [])
    missing = sorted(set(by + ["candidate", "seed", "selector", "score", "best_acc"]) - set(table.columns))
    if missing:
        raise ValueError(f"selection table lacks the column(s) {missing}")
    rows = []
    for key, group in table.groupby(by, sort=True) if by else [((), table)]:
        key = key if isinstance(key, tuple) else (key,)
        truth = group.drop_duplicates(["candidate", "seed"]).groupby("candidate").best_acc
        mean, se = truth.mean(), truth.agg(sem).fillna(0.0)  # one seed: the order is taken as is
        for (selector, seed), g in group.groupby(["selector", "seed"], sort=True):
            scores = dict(zip(g.candidate, g.score))
            rows.append({**dict(zip(by, key)), "selector": selector, "seed": seed,
                         **tie_aware_quality(scores, mean, se, control)})
    return pd.DataFrame(rows)


def quality_intervals(quality: pd.DataFrame, by: Sequence[str] = ("n_target",), metrics: Sequence[str] = (),
                      n_boot: int = 2000, level: float = 0.95) -> pd.DataFrame:
    """Mean of each quality metric over seeds with its percentile bootstrap interval (resampling seeds,
    or task instances and then seeds within them when the instances are the replicate units).

    One row per (``by``, selector) with ``<metric>``, ``<metric>_low``, ``<metric>_high``, ``n_seeds``
    and ``n_instances``.
    """
    metrics = list(metrics) or [c for c in QUALITY + ["control_rank"] if c in quality.columns]
    rows = []
    for key, g in quality.groupby(list(by) + ["selector"], sort=True):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(list(by) + ["selector"], key))
        clusters = replicate_clusters(quality, g.seed)
        for metric in metrics:
            ci = bootstrap_ci(g[metric].to_numpy(float), n_boot=n_boot, level=level, clusters=clusters)
            row.update({metric: ci.estimate, f"{metric}_low": ci.low, f"{metric}_high": ci.high})
        row["n_seeds"] = int(g.seed.nunique())
        row["n_instances"] = int(g.task_seed.nunique()) if "task_seed" in g.columns else 1
        rows.append(row)
    return pd.DataFrame(rows)


def paired_quality_difference(quality: pd.DataFrame, a: str, b: str, metric: str = "spearman",
                              n_boot: int = 2000, level: float = 0.95) -> dict:
    """Selector ``a`` minus selector ``b`` on ``metric``, paired per seed (each seed averaged over the
    table's other groups), with its SE and bootstrap interval (over task instances, then seeds, when
    the instances are the replicate units); ``side`` is "better", "worse" or "tie" (the interval
    contains 0)."""
    for name in (a, b):
        if name not in set(quality.selector):
            raise ValueError(f"unknown selector {name!r}; expected one of {sorted(set(quality.selector))}")
    per_seed = quality[quality.selector.isin([a, b])].pivot_table(index="seed", columns="selector", values=metric)
    d = (per_seed[a] - per_seed[b]).dropna()
    clusters = replicate_clusters(quality, d.index)
    ci = bootstrap_ci(d.to_numpy(), n_boot=n_boot, level=level, clusters=clusters)
    side = "better" if ci.low > 0 else "worse" if ci.high < 0 else "tie"
    return {"difference": ci.estimate, "sem": compare(d.to_numpy(), clusters=clusters).sem, "low": ci.low, "high": ci.high, "n_seeds": len(d),
            "side": side}


def score_spread(table: pd.DataFrame) -> pd.DataFrame:
    """Per selector: how far apart it puts the trained candidates, against its noise and the control.

    ``trained_range``: the largest minus the smallest mean score (over seeds) among the trained
    candidates; ``seed_sem``: the typical (median) standard error of a candidate's mean score, paired
    (each seed's scores centred on that seed's mean over the trained candidates, since a selector
    ranks within a seed); ``control_gap``: the trained candidates' mean score minus the untrained
    control's. A selector whose range is within a few SEs cannot order the sources.
    """
    rows = []
    for selector, g in table.groupby("selector", sort=True):
        trained_rows = g[g.candidate != UNTRAINED]
        centred = trained_rows.score - trained_rows.groupby("seed").score.transform("mean")
        noise = centred.groupby(trained_rows.candidate).agg(sem)
        per = g.groupby("candidate").score.agg(["mean"])
        trained = per.drop(index=UNTRAINED, errors="ignore").assign(sem=noise)
        rows.append({"selector": selector, "trained_range": float(np.ptp(trained["mean"])),
                     "seed_sem": float(trained["sem"].median()),
                     "control_gap": (float(trained["mean"].mean() - per.loc[UNTRAINED, "mean"])
                                     if UNTRAINED in per.index else float("nan"))})
    out = pd.DataFrame(rows)
    out["range_in_sems"] = out.trained_range / out.seed_sem
    return out


def control_comparison(candidates: pd.DataFrame) -> pd.DataFrame:
    """Per target size, how the untrained control transfers against the trained candidates.

    ``candidates`` is :func:`candidate_summary`'s table. Columns ``below_best`` (the best trained
    candidate's accuracy minus the control's) and ``n_tied`` (trained candidates within noise of the
    control: ``|difference| <= 2 sqrt(se^2 + se_control^2)``, the rule of :mod:`tlcore.stats.ranks`).
    """
    rows = []
    for n, g in candidates.groupby("n_target", sort=True):
        if UNTRAINED not in set(g.candidate):
            raise ValueError(f"no untrained control among the candidates at n_target={n}")
        c = g[g.candidate == UNTRAINED].iloc[0]
        trained = g[g.candidate != UNTRAINED]
        tied = [within_noise(a, s, c.best_acc, c.best_sem) for a, s in zip(trained.best_acc, trained.best_sem)]
        rows.append({"n_target": n, "below_best": float(trained.best_acc.max() - c.best_acc),
                     "n_tied": int(sum(tied))})
    return pd.DataFrame(rows).set_index("n_target")


def matched_pairs(table: pd.DataFrame, pairs, selectors) -> pd.DataFrame:
    """Low-level against high-level member of each matched pair of candidates, per target size.

    ``pairs`` holds ``(low, high)`` knob settings (candidate names are ``"knob=value"``). Columns:
    ``truth_diff``/``truth_sem``/``truth_word`` (the paired ground-truth difference, low minus high,
    over seeds, with the kernel's rule) and, per selector, the fraction of seeds on which it scores the
    low-level member higher. Index ``(pair, n_target)``.
    """
    rows = []
    for low, high in pairs:
        name_low, name_high = (",".join(f"{k}={v:g}" for k, v in c.items()) for c in (low, high))
        for n, g in table.groupby("n_target"):
            w = g.pivot_table(index=["selector", "seed"], columns="candidate", values=["score", "best_acc"])
            truth = compare((w["best_acc"][name_low] - w["best_acc"][name_high]).groupby("seed").first())
            prefers = (w["score"][name_low] > w["score"][name_high]).groupby("selector").mean()
            rows.append({"pair": f"{name_low} vs {name_high}", "n_target": n, "truth_diff": truth.mean,
                         "truth_sem": truth.sem, "truth_word": truth.word, **{s: prefers[s] for s in selectors}})
    return pd.DataFrame(rows).set_index(["pair", "n_target"])


def variant_change(variants: pd.DataFrame, base: Mapping, **change) -> pd.Series:
    """Per selector, a scoring variant's value minus the base setting's.

    ``variants`` is indexed by setting columns (e.g. ``scratch_steps, probe, aggregate, k``) with one
    column per selector; ``base`` gives the base setting of every index level and ``change`` the
    levels the variant changes (an unknown level is refused).
    """
    names = list(variants.index.names)
    unknown = sorted(set(base) - set(names)) + sorted(set(change) - set(names))
    if unknown or set(base) != set(names):
        raise ValueError(f"variant_change: the setting levels are {names}; got base {dict(base)} and "
                         f"change {change}")
    ref = variants.xs(tuple(base[n] for n in names))
    return variants.xs(tuple(change.get(n, base[n]) for n in names)) - ref
