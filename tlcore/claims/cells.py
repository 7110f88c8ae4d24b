"""Per-cell readings of a phase map: the chosen protocol with its margins, and freeze-or-tune."""
from __future__ import annotations

import pandas as pd
import numpy as np

from ..stats import (benjamini_hochberg, choose_on_validation, choose_variant, compare, early_stopped,
                     one_sided_p, optimality_probability, paired_difference, replicate_unit, winner_significance)
from ..transfer import PROTOCOL_FAMILIES

__all__ = ["without_attrs", "protocol_tables", "transfer_helps", "held_out_winners", "held_out_differences", "cross_fitted_cells", "phase_cells", "phase_cells_all_families", "freeze_or_tune", "FREEZING_FDR", "family_winners", "verdicts_agree", "val_array", "curve_array",
           "training_choices", "scratch_catches_up"]


def val_array(table: pd.DataFrame, knob: str) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """(cells, protocols, seeds) validation accuracies and the protocols' transfer depths, shallower first
    (argmax then breaks ties towards the shallower protocol)."""
    wide = table.pivot_table(index=[knob, "n_target"], columns=["transfer_depth", "frozen_depth", "seed"],
                             values="val_acc")
    protocols = sorted({(t, f) for t, f, _ in wide.columns})
    seeds = sorted({s for _, _, s in wide.columns})
    a = np.stack([np.stack([wide[(t, f, s)].to_numpy() for s in seeds], axis=-1) for t, f in protocols], axis=1)
    return wide.index, a, np.array([t for t, _ in protocols])


def without_attrs(table: pd.DataFrame) -> pd.DataFrame:
    """A shallow copy of ``table`` without its ``attrs``: pandas deep-copies a frame's attrs into
    every frame derived from it, which was a fifth of a verdict's time on the shipped tables."""
    out = table.copy(deep=False)
    out.attrs = {}
    return out


def protocol_tables(table: pd.DataFrame, by, index, values=("val_acc", "test_acc")):
    """Per cell of ``by`` (a column or columns), the replicates (rows: ``index``) by protocols (columns:
    ``(transfer_depth, frozen_depth)``) table of each of ``values``: what a ``pivot_table`` per cell
    gives, made from one pivot of the whole table (a pivot per cell was most of a verdict's time).
    Yields ``(key, {value: wide})``."""
    by, index = ([by] if isinstance(by, str) else list(by)), ([index] if isinstance(index, str) else list(index))
    wide = without_attrs(table).pivot_table(index=by + index, columns=["transfer_depth", "frozen_depth"], values=list(values))
    levels = list(range(len(by)))
    for key, g in wide.groupby(level=levels, sort=True):
        g = g.droplevel(levels)
        yield key, {v: g[v].dropna(axis=1, how="all").dropna(axis=0, how="all") for v in values}


def curve_array(profiles: pd.DataFrame, knob: str, measure: str, curve: str) -> tuple[pd.Index, np.ndarray]:
    """(cells, seeds, blocks) array of one curve, cells indexed by (knob value, n_target)."""
    rows = profiles[(profiles.measure == measure) & (profiles.curve == curve)]
    if rows.empty:
        raise ValueError(f"no {curve!r} rows for measure {measure!r} in the profiles")
    wide = rows.pivot_table(index=[knob, "n_target"], columns=["seed", "block"], values="value")
    seeds, blocks = sorted(rows.seed.unique()), sorted(rows.block.unique())
    return wide.index, wide.to_numpy().reshape(len(wide), len(seeds), len(blocks))


def held_out_winners(val: pd.DataFrame, units: np.ndarray, folds="leave-one-out") -> list[tuple[np.ndarray, tuple]]:
    """``(held-out rows, winner)`` per fold of the replicate ``units`` (one label per row of ``val``, a
    replicates x protocols table of validation accuracies): the winner has the best mean validation accuracy on the
    other folds' rows (first maximum in sorted protocol order). ``folds``: ``"leave-one-out"`` (one
    fold per replicate unit) or a number of round-robin folds of the units."""
    ordered = sorted(set(units))
    if folds == "leave-one-out":
        fold = {u: i for i, u in enumerate(ordered)}
    elif isinstance(folds, int) and not isinstance(folds, bool) and 2 <= folds <= len(ordered):
        fold = {u: i % folds for i, u in enumerate(ordered)}
    else:
        raise ValueError(f"folds={folds!r}; expected 'leave-one-out' or 2..{len(ordered)} (the replicate units)")
    labels = np.array([fold[u] for u in units])
    out = []
    for k in sorted(set(labels)):
        means = val[labels != k].mean()
        best = means.index[int(np.argmax(means.to_numpy()))]
        out.append((labels == k, (int(best[0]), int(best[1]))))
    return out


def held_out_differences(test: pd.DataFrame, fitted: list, other: tuple) -> np.ndarray:
    """Per replicate (row of ``test``), its fold's winner minus ``other`` on test accuracy, each row
    taken from the fold that held it out (``fitted`` from :func:`held_out_winners`)."""
    d = np.full(len(test), np.nan)
    for rows, winner in fitted:
        d[rows] = (test[winner] - test[other]).to_numpy()[rows]
    return d


def held_out_scores(test: pd.DataFrame, fitted: list) -> np.ndarray:
    """Per replicate (row of ``test``), the test accuracy of the winner of the fold that held it out:
    the cell's best score without the winner's luck."""
    s = np.full(len(test), np.nan)
    for rows, winner in fitted:
        s[rows] = test[winner].to_numpy()[rows]
    return s


def cross_fitted_cells(table: pd.DataFrame, knob: str, family: str | None = None) -> pd.DataFrame:
    """Per cell, the winner's luck removed: leave one replicate unit out (task instances when there are
    enough, :func:`tlcore.stats.replicate_unit`), choose the best protocol on the other units'
    validation scores, score it on the held-out unit's test scores.

    Columns ``knob``, ``n_target``, ``cf_winners`` (one per fold), ``cf_folds``, ``cf_score`` and
    ``cf_score_sem`` (the held-out test accuracy of the folds' winners); and for ``scratch``
    (0, 0), ``standard`` (L, L) and ``fine_tune`` (L, 0): ``cf_<name>_margin`` and ``cf_<name>_sem``,
    the held-out test-accuracy difference of the folds' winners over that protocol, mean and SE over
    the units (task instances, or seeds with a single instance)."""
    L = int(table.transfer_depth.max())
    unit = replicate_unit(table)
    keep = None if family is None else PROTOCOL_FAMILIES[family]
    others = {"scratch": (0, 0), "standard": (L, L), "fine_tune": (L, 0)}
    rows = []
    index = ["task_seed", "seed"] if "task_seed" in table.columns else ["seed"]
    for (value, n), wide in protocol_tables(table, [knob, "n_target"], index):
        val, test = wide["val_acc"], wide["test_acc"]
        candidates = [c for c in val.columns if keep is None or keep(c[0], c[1], L)]
        units = val.index.get_level_values(unit).to_numpy()
        fitted = held_out_winners(val[candidates], units)
        row = {knob: value, "n_target": n, "cf_winners": [w for _, w in fitted], "cf_folds": len(fitted)}
        clusters = units if unit == "task_seed" else None
        c = compare(held_out_scores(test, fitted), clusters=clusters)
        row["cf_score"], row["cf_score_sem"] = c.mean, c.sem
        for name, other in others.items():
            c = compare(held_out_differences(test, fitted, other), clusters=clusters)
            row[f"cf_{name}_margin"], row[f"cf_{name}_sem"] = c.mean, c.sem
        rows.append(row)
    return pd.DataFrame(rows)


def phase_cells(table: pd.DataFrame, knob: str, family: str | None = None, n_boot: int = 500) -> pd.DataFrame:
    """One row per (knob value, n_target): the validation-chosen protocol and how sure we are of it.

    ``family`` restricts the candidates to a key of :data:`tlcore.transfer.PROTOCOL_FAMILIES` (None: every
    protocol). Columns of :func:`tlcore.stats.winner_significance` (paired test-set margins over
    the runner-up, scratch and the standard recipe (L, L)) plus ``fine_tune_margin``/``_sem``/
    ``_significant`` (over full fine-tuning (L, 0)), ``p_optimal`` (bootstrap probability that the
    winner is the best on validation), ``interior`` (0 < transfer depth < L) and ``c2`` (an interior
    winner that beats scratch, (L, L) and (L, 0) by more than two standard errors each); and the
    columns of :func:`cross_fitted_cells` with ``cf_agree``, the number of held-out folds whose
    winner is the cell's winner.
    """
    by = [knob, "n_target"]
    L = int(table.transfer_depth.max())
    keep = None if family is None else (lambda t, f: PROTOCOL_FAMILIES[family](t, f, L))
    cells = winner_significance(table, by=by, candidates=keep)
    p = optimality_probability(table, by=by, candidates=keep, n_boot=n_boot)
    cells = cells.merge(p.rename(columns={"transfer_depth": "best_transfer_depth",
                                          "frozen_depth": "best_frozen_depth"}),
                        on=by + ["best_transfer_depth", "best_frozen_depth"], how="left")
    tuned = []
    for row in cells.itertuples():
        group = table[(table[knob] == getattr(row, knob)) & (table.n_target == row.n_target)]
        best = (row.best_transfer_depth, row.best_frozen_depth)
        if best == (L, 0):
            tuned.append((0.0, 0.0, False))
            continue
        d = paired_difference(group, best, (L, 0)).iloc[0]
        tuned.append((float(d.mean_diff), float(d.diff_sem), bool(d.significant)))
    cells["fine_tune_margin"], cells["fine_tune_sem"], cells["fine_tune_significant"] = map(list, zip(*tuned))
    cells["interior"] = (cells.best_transfer_depth > 0) & (cells.best_transfer_depth < L)
    beats = [(cells[f"{m}_margin"] > 0) & cells[f"{m}_significant"] for m in ("scratch", "standard", "fine_tune")]
    cells["c2"] = cells.interior & beats[0] & beats[1] & beats[2]
    cells = cells.merge(cross_fitted_cells(table, knob, family), on=by, how="left")
    cells["cf_agree"] = [sum(w == (r.best_transfer_depth, r.best_frozen_depth) for w in r.cf_winners)
                         for r in cells.itertuples()]
    return cells


def phase_cells_all_families(table: pd.DataFrame, knob: str) -> dict[str, pd.DataFrame]:
    """:func:`phase_cells` for every protocol and for each family of :data:`tlcore.transfer.PROTOCOL_FAMILIES`."""
    return {"any protocol": phase_cells(table, knob), **{f: phase_cells(table, knob, f) for f in PROTOCOL_FAMILIES}}


def family_winners(table: pd.DataFrame, by) -> pd.DataFrame:
    """Per cell and protocol family of :data:`tlcore.transfer.PROTOCOL_FAMILIES`, the protocol chosen on
    validation within the family, reported on test (:func:`tlcore.stats.choose_on_validation`); a
    ``family`` column names it."""
    L = int(table.transfer_depth.max())
    best = pd.concat({name: choose_on_validation(table, list(by), candidates=lambda t, f, keep=keep: keep(t, f, L))
                      for name, keep in PROTOCOL_FAMILIES.items()}, names=["family"])
    return best.reset_index(level=0)


def _best(val: pd.DataFrame) -> tuple:
    """The protocol with the best mean validation accuracy over all replicates (first maximum in
    sorted protocol order, as in :func:`held_out_winners`)."""
    means = val.mean()
    best = means.index[int(np.argmax(means.to_numpy()))]
    return int(best[0]), int(best[1])


FREEZING_FDR = 0.10  # false discovery rate across a table's freeze-or-tune cells (the level of C2's maps)


def freeze_or_tune(table: pd.DataFrame, knob: str) -> pd.DataFrame:
    """Per cell: the best fine-tuned ``(l, 0)`` against the best frozen ``(l, l)`` protocol (l >= 1).

    Cross-fitted like the maps: leave one replicate unit out (task instances when there are enough),
    choose each family's best on the other units' validation scores, and take the held-out unit's
    paired test difference (tuned minus frozen), with its mean and SE over the units and a two-sided
    t-test ``p_value``. Many cells mean many tests, so ``verdict`` is ``"fine-tune"`` or ``"freeze"``
    only in the cells that Benjamini-Hochberg keeps at :data:`FREEZING_FDR` across the table's cells,
    else ``"tie"``. ``tuned_depth`` and ``frozen_depth``
    are the choices on all replicates (what the chapter shows); ``folds_agree`` says how many folds
    chose the same pair.
    """
    unit = replicate_unit(table)
    rows = []
    index = ["task_seed", "seed"] if "task_seed" in table.columns else ["seed"]
    for (value, n), wide in protocol_tables(table, [knob, "n_target"], index):
        val, test = wide["val_acc"], wide["test_acc"]
        units = val.index.get_level_values(unit).to_numpy()
        families = {"tuned": [c for c in val.columns if c[0] > 0 and c[1] == 0],
                    "frozen": [c for c in val.columns if c[0] > 0 and c[1] == c[0]]}
        fitted = {k: held_out_winners(val[cols], units) for k, cols in families.items()}
        everywhere = {k: _best(val[cols]) for k, cols in families.items()}
        d = np.full(len(test), np.nan)
        for (rows_t, w_t), (rows_f, w_f) in zip(fitted["tuned"], fitted["frozen"]):
            d[rows_t] = (test[w_t] - test[w_f]).to_numpy()[rows_t]
        clusters = units if unit == "task_seed" else None
        c = compare(d, clusters=clusters)
        p = min(1.0, 2 * min(one_sided_p(d, clusters), one_sided_p(-d, clusters)))
        agree = sum((w_t, w_f) == (everywhere["tuned"], everywhere["frozen"])
                    for (_, w_t), (_, w_f) in zip(fitted["tuned"], fitted["frozen"]))
        rows.append({knob: value, "n_target": n, "tuned_depth": int(everywhere["tuned"][0]),
                     "frozen_depth": int(everywhere["frozen"][0]), "difference": float(c.mean), "sem": float(c.sem),
                     "folds_agree": int(agree), "folds": len(fitted["tuned"]), "p_value": p})
    out = pd.DataFrame(rows)
    kept = benjamini_hochberg(out.p_value, FREEZING_FDR)[0] if len(out) else np.zeros(0, dtype=bool)
    out["verdict"] = np.where(~kept, "tie", np.where(out.difference > 0, "fine-tune", "freeze"))
    return out


def verdicts_agree(verdicts: dict) -> dict:
    """How many cells keep their freeze-or-tune verdict across settings, and how many flip sides."""
    frames = list(verdicts.values())
    first = frames[0].verdict.to_numpy()
    same = np.all([f.verdict.to_numpy() == first for f in frames[1:]], axis=0)
    sides = np.array([f.verdict.to_numpy() for f in frames])
    flipped = np.any(sides == "fine-tune", axis=0) & np.any(sides == "freeze", axis=0)
    return {"cells": int(len(first)), "agree": int(same.sum()), "flipped": int(flipped.sum())}


def training_choices(tables: dict, knob: str) -> pd.DataFrame:
    """What the training recipe's own choices do to a map: per choice, how many cells (knob > 0) change
    their validation-chosen winner, and the mean change of the cross-fitted held-out accuracy.

    ``tables`` maps the transferred blocks' learning-rate scale (1.0 required, 0.1 optional) to a
    phase sweep run with checkpoints. The choices, each made per network on one half of its own
    validation set (:mod:`tlcore.stats.network_choice`): ``early stopping`` (against training to the
    last step), ``transferred learning rate`` (1 or 0.1, both early-stopped, against 1 early-stopped)
    and ``both`` (against the plain recipe: last step, rate 1)."""
    if 1.0 not in tables:
        raise ValueError(f"training_choices needs the map at transferred learning-rate scale 1.0, got scales {sorted(tables)}")
    plain = tables[1.0]
    stopped = {scale: early_stopped(t) for scale, t in tables.items()}
    pairs = {"early stopping": (plain, stopped[1.0])}
    if len(stopped) > 1:
        chosen = choose_variant(stopped, column="transferred_lr_scale")
        pairs["transferred learning rate"] = (stopped[1.0], chosen)
        pairs["both"] = (plain, chosen)
    by = [knob, "n_target"]
    rows = []
    for name, (before, after) in pairs.items():
        a, b = choose_on_validation(before, by), choose_on_validation(after, by)
        counted = a[knob] > 0
        changed = ((a.best_transfer_depth != b.best_transfer_depth) | (a.best_frozen_depth != b.best_frozen_depth))
        gain = (cross_fitted_cells(after, knob).cf_score - cross_fitted_cells(before, knob).cf_score)[counted]
        rows.append({"choice": name, "cells": int(counted.sum()), "winner_changed": int(changed[counted].sum()),
                     "share_changed": float(changed[counted].mean()), "held_out_gain": float(gain.mean()),
                     "held_out_gain_max": float(gain.max())})
    return pd.DataFrame(rows)


def scratch_catches_up(cells: pd.DataFrame, knob: str) -> pd.DataFrame:
    """Per knob value (a map row), the smallest ``n_target`` from which training from scratch is within
    noise of the cell's cross-fitted winner at that size and every larger one: the held-out margin of
    the winner over scratch (``cf_scratch_margin``, :func:`cross_fitted_cells`) within 2 SE. Columns
    ``knob`` value, ``catches_up_at`` (None: not within the map's sizes), ``largest_n`` and
    ``margin_at_largest`` (the winner's margin over scratch at the largest size, with ``sem_at_largest``)."""
    rows = []
    for value, g in cells.sort_values("n_target").groupby(knob, sort=True):
        margin, se = g.cf_scratch_margin.to_numpy(), g.cf_scratch_sem.to_numpy()
        within = ~(np.abs(margin) > 2 * np.nan_to_num(se, nan=0.0)) | (margin == 0)
        tail = np.logical_and.accumulate(within[::-1])[::-1]  # within noise here and at every larger size
        at = g.n_target.to_numpy()[tail]
        rows.append({knob: value, "catches_up_at": int(at[0]) if len(at) else None,
                     "largest_n": int(g.n_target.max()), "margin_at_largest": float(margin[-1]),
                     "sem_at_largest": float(se[-1])})
    return pd.DataFrame(rows)


def transfer_helps(cells: pd.DataFrame, knob: str, values, n: int) -> pd.DataFrame:
    """Whether transfer still pays at ``n`` target examples for each knob value: at the map's target
    size nearest ``n``, the share of the cross-fitted folds whose winner transfers at least one block
    (``transfers``) and the winners' held-out margin over scratch (with its SE). A C3 comparison is
    about transfer only in the cells where it helps."""
    sizes = np.array(sorted(cells.n_target.unique()))
    at = int(sizes[np.argmin(np.abs(sizes - n))])
    rows = []
    for value in values:
        cell = cells[np.isclose(cells[knob], value) & (cells.n_target == at)]
        if cell.empty:
            raise ValueError(f"the map has no cell at {knob}={value:g}, n_target={at}")
        c = cell.iloc[0]
        rows.append({knob: value, "n_target": at,
                     "transfers": float(np.mean([w[0] > 0 for w in c.cf_winners])),
                     "margin": float(c.cf_scratch_margin), "margin_sem": float(c.cf_scratch_sem)})
    return pd.DataFrame(rows)
