"""Beyond the paper: do calibrated similarity profiles predict the transfer depth (C3 -> C1)?"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from ..profiles import depths_from_curves, recovered_fraction
from ..stats import compare, percentile_interval, replicate_unit, summary
from .cells import curve_array, protocol_tables, val_array

__all__ = ["profile_bands", "depth_link", "within_rank_correlation", "evaluate_predictor", "held_out_predictor", "recovered_table", "least_recovered"]


def profile_bands(profiles: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Mean and SE over seeds of every curve, per ``by`` + measure, curve and block."""
    return summary(profiles, [*by, "measure", "curve", "block"], "value")


def within_rank_correlation(x, y, groups) -> float:
    """Spearman's correlation of ``x`` and ``y`` given a categorical ``groups``: both are ranked over
    all cells, the ranks are centred within each group and correlated (a partial rank correlation
    whose only covariate is the group). NaN when nothing varies within the groups."""
    x, y = scipy_stats.rankdata(x), scipy_stats.rankdata(y)
    frame = pd.DataFrame({"x": x, "y": y, "g": list(groups)})
    rx = frame.x - frame.groupby("g").x.transform("mean")
    ry = frame.y - frame.groupby("g").y.transform("mean")
    denominator = float(np.sqrt((rx ** 2).sum() * (ry ** 2).sum()))
    return float((rx * ry).sum() / denominator) if denominator > 0 else float("nan")


def depth_link(maps: dict, measure: str = "linear_cka", baseline: str = "reference", level: float = 0.5,
               n_boot: int = 500, seed: int = 0) -> dict:
    """Does the profile predict the optimal transfer depth? (claim C3 -> claim C1.)

    ``maps`` is ``{knob: (profiles, phase_table)}`` (from :func:`profile_sweep` and
    :func:`phase_sweep`). Per cell of every map, the divergence depth of the source's profile
    (:func:`tlcore.profiles.divergence_depth`, pooling the cell's seeds) and the validation-chosen
    transfer depth; their Spearman correlation over all cells, with a 95% percentile interval from
    resampling the seeds of both experiments (independently, with replacement). Returns ``cells``
    (one row per cell), ``rho`` and ``ci``, and ``rho_within`` and ``ci_within``: the same
    correlation given the knob value (:func:`within_rank_correlation`, groups = map and knob value),
    since the knob alone predicts much of the chosen depth and a pooled correlation may only say that.
    """
    parts = []
    for knob, (profiles, table) in maps.items():
        index, src = curve_array(profiles, knob, measure, "source")
        _, base = curve_array(profiles, knob, measure, baseline)
        _, floor = curve_array(profiles, knob, measure, "floor")
        vindex, val, depth = val_array(table, knob)
        if list(index) != list(vindex):
            raise ValueError(f"the profiles and the phase table of {knob!r} cover different cells")
        parts.append((knob, index, src, base, floor, val, depth))

    groups = np.concatenate([[f"{knob}={v}" for v in index.get_level_values(0)] for knob, index, *_ in parts])

    def correlate(p_idx, t_idx):
        predicted, chosen = [], []
        for _, _, src, base, floor, val, depth in parts:
            predicted.append(depths_from_curves(src[:, p_idx].mean(1), base[:, p_idx].mean(1),
                                                floor[:, p_idx].mean(1), level))
            chosen.append(depth[val[:, :, t_idx].mean(axis=2).argmax(axis=1)])
        predicted, chosen = np.concatenate(predicted), np.concatenate(chosen)
        if np.ptp(predicted) == 0 or np.ptp(chosen) == 0:
            return np.nan, np.nan, predicted, chosen
        return (float(scipy_stats.spearmanr(predicted, chosen).statistic),
                within_rank_correlation(predicted, chosen, groups), predicted, chosen)

    n_p, n_t = parts[0][2].shape[1], parts[0][5].shape[2]
    rho, rho_within, predicted, chosen = correlate(np.arange(n_p), np.arange(n_t))
    rng = np.random.default_rng(seed)
    boot = np.array([correlate(rng.integers(0, n_p, n_p), rng.integers(0, n_t, n_t))[:2] for _ in range(n_boot)])
    ci = percentile_interval(boot[:, 0], n_units=min(n_p, n_t))
    ci_within = percentile_interval(boot[:, 1], n_units=min(n_p, n_t))
    cells = pd.concat([pd.DataFrame({"knob": knob, "value": index.get_level_values(0),
                                     "n_target": index.get_level_values(1)}) for knob, index, *_ in parts],
                      ignore_index=True)
    cells["divergence_depth"], cells["chosen_depth"] = predicted, chosen
    return {"cells": cells, "rho": rho, "ci": ci, "rho_within": rho_within, "ci_within": ci_within, "measure": measure, "baseline": baseline, "level": level}


def _predicted_depths(profiles: pd.DataFrame, knob: str, measure: str, baseline: str, level: float) -> pd.Series:
    """Divergence depth per (knob value, n_target), pooling the cell's seeds."""
    index, src = curve_array(profiles, knob, measure, "source")
    _, base = curve_array(profiles, knob, measure, baseline)
    _, floor = curve_array(profiles, knob, measure, "floor")
    return pd.Series(depths_from_curves(src.mean(1), base.mean(1), floor.mean(1), level), index=index)


SEARCH = "validation search"  # the method whose protocol is chosen on validation, cross-fitted by replicate unit


def evaluate_predictor(profiles: pd.DataFrame, table: pd.DataFrame, knob: str, measures=None,
                       baseline: str = "twin", level: float = 0.5) -> pd.DataFrame:
    """Regret of the similarity-based protocol predictor against the alternatives, on one map.

    Per cell, the predictor transfers the blocks where the source matches the ``baseline`` (the
    twin by default: all a user has) and freezes them, ``(l, l)``, or fine-tunes them, ``(l, 0)``.
    The alternatives: the validation search over every candidate protocol, the standard recipe
    ``(L, L)`` and scratch. Statistics as the verdicts': the replicate units are the task instances
    (:func:`tlcore.stats.replicate_unit`), and both the search's choice and the yardstick it is
    measured against are cross-fitted, chosen on the *other* units (on validation for the search, on
    test for the best protocol), so neither carries the held-out unit's luck. Regret per network:
    that best protocol's test accuracy minus the chosen one's, averaged over cells. ``mean`` and
    ``sem`` are over task instances (seeds averaged within them). ``networks`` counts the networks
    each method trains per target (the predictor: a scratch network, its twin and the final one).
    One row per method; ``per_seed`` and ``instance`` keep the per-network regrets and their units.
    """
    by = [knob, "n_target"]
    L = int(table.transfer_depth.max())
    n_protocols = len(table.groupby(["transfer_depth", "frozen_depth"]))
    cells = [key for key, _ in table.groupby(by)]
    methods = {SEARCH: (None, n_protocols),
               "standard recipe (L, L)": ({k: (L, L) for k in cells}, 1),
               "scratch (0, 0)": ({k: (0, 0) for k in cells}, 1)}
    for measure in measures or sorted(profiles.measure.unique()):
        depths = _predicted_depths(profiles, knob, measure, baseline, level)
        methods[f"similarity, {measure}, (l, l)"] = ({k: (int(d), int(d)) for k, d in depths.items()}, 3)
        methods[f"similarity, {measure}, (l, 0)"] = ({k: (int(d), 0) for k, d in depths.items()}, 3)
    rows = []
    for name, (choice, networks) in methods.items():
        r, units = _regrets(table, by, choice)
        c = compare(r.to_numpy(), clusters=units)
        rows.append({"method": name, "mean_regret": c.mean, "sem": c.sem, "n_units": c.n, "networks": networks,
                     "per_seed": r.tolist(), "instance": units.tolist()})
    return pd.DataFrame(rows)


def _regrets(table: pd.DataFrame, by: list[str], choice: dict | None) -> tuple[pd.Series, np.ndarray]:
    """Per network (seed), the mean over cells of (best protocol's test acc - the chosen one's), the
    best chosen on the other replicate units' test accuracies; ``choice`` None is the search, chosen
    on the other units' validation accuracies. Returns the regrets and each seed's unit."""
    unit = replicate_unit(table)
    index = ["task_seed", "seed"] if "task_seed" in table.columns else ["seed"]
    per_cell = []
    for key, wide in protocol_tables(table, by, index):
        test, val = wide["test_acc"], wide["val_acc"]
        units = test.index.get_level_values(unit).to_numpy()
        regret = pd.Series(np.nan, index=test.index)
        for u in np.unique(units):
            held, rest = units == u, units != u
            best = test[rest].mean().idxmax()
            chosen = val[rest].mean().idxmax() if choice is None else choice[key]
            regret[held] = (test.loc[held, best] - test.loc[held, chosen]).to_numpy()
        per_cell.append(regret)
    r = pd.concat(per_cell, axis=1).mean(axis=1)
    return r.droplevel("task_seed") if "task_seed" in index else r, r.index.get_level_values(unit).to_numpy()


def held_out_predictor(evaluations: dict) -> pd.DataFrame:
    """The similarity predictor judged on maps it was not chosen on.

    ``evaluations`` maps each knob to :func:`evaluate_predictor`'s table. For each map, the
    similarity variant (measure and freezing) of lowest mean regret on the *other* maps is reported
    on this one, next to the validation search, the standard recipe and scratch, with its paired
    difference in regret from the validation search (mean ± SE over task instances; a tie within 2 SE).
    """
    if len(evaluations) < 2:
        raise ValueError("a held-out choice needs at least two maps")
    rows = []
    for knob, table in evaluations.items():
        others = pd.concat([t for k, t in evaluations.items() if k != knob])
        similar = others[others.method.str.startswith("similarity")]
        chosen = similar.groupby("method").mean_regret.mean().idxmin()
        mine = table.set_index("method")
        search = np.array(mine.loc[SEARCH, "per_seed"])
        for method in (chosen, SEARCH, "standard recipe (L, L)", "scratch (0, 0)"):
            r = mine.loc[method]
            d = compare(r.per_seed, search, clusters=np.array(r.instance))
            rows.append({"map": knob, "method": method, "mean_regret": r["mean_regret"], "sem": r["sem"],
                         "minus_search": d.mean, "minus_search_sem": d.sem,
                         "vs_search": {"tie": "tie", "higher": "worse", "lower": "better"}[d.word],
                         "networks": int(r["networks"])})
    return pd.DataFrame(rows)


def recovered_table(bands: dict, n_target: int, values: Sequence[float], measure: str = "linear_cka",
                    baseline: str = "reference") -> pd.DataFrame:
    """Where the source sits between the floor (0) and ``baseline`` (1) at each block, per knob value.

    ``bands`` maps each knob to :func:`profile_bands` over ``[knob, "n_target"]``. Rows ``(knob,
    value)``, one column per block, from :func:`tlcore.profiles.recovered_fraction` (NaN where the
    baseline is not above the floor), rounded to two decimals.
    """
    rows = {}
    for knob, b in bands.items():
        for value in values:
            g = b[(b.measure == measure) & (b.n_target == n_target) & np.isclose(b[knob], value)]
            if g.empty:
                raise ValueError(f"no {measure!r} profile at {knob}={value:g}, n_target={n_target}")
            wide = g.pivot(index="block", columns="curve", values="mean").sort_index()
            rows[(knob, value)] = pd.Series(recovered_fraction(wide["source"], wide[baseline], wide["floor"]),
                                            index=wide.index).round(2)
    out = pd.DataFrame(rows).T
    out.index.names = ["knob", "value"]
    return out


def least_recovered(recovered: pd.DataFrame, value: float) -> str:
    """The knob whose source recovers less of the gap at ``value`` (mean over blocks)."""
    means = {knob: float(recovered.loc[(knob, value)].mean()) for knob in recovered.index.get_level_values(0).unique()}
    return min(means, key=means.get)
