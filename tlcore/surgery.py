"""Which blocks to retrain? Per-block protocols against the paper's prefix protocols.

The paper's protocols keep a prefix of the source network. Surgical fine-tuning (Lee et al., ICLR
2023) proposes instead to train only the blocks where the shift lives: the first blocks for a shift
of the inputs, the last ones for a shift of the labelling rule. On the hidden-manifold model
``feature_mix`` changes the inputs and keeps the labelling rule, ``teacher_mix`` does the opposite;
on digits ``input_shift`` permutes pixels and ``label_shift`` moves classes. Every plan is trained
on the same seeds and target examples, so differences are paired by seed; a plan is chosen on
validation and reported on test, and a difference within two standard errors is a tie.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .presets import sizes
from .profiles import recovered_fraction
from .stats import compare
from .sweep import default_cache_dir, run
from .tasks import family_info
from .transfer import PLAN_SETS

__all__ = ["plan_set", "SURGICAL_SETTINGS", "surgical_sweep", "best_plans", "plan_margins", "direction_verdict",
           "profile_plan", "profile_hit_rate"]

# The settings of the chapter: for each family, the knob that shifts the inputs and the one that
# shifts the labels, their values, and the target sizes (a subset of the phase diagram's grid, so the
# calibrated profiles of the representations chapter cover the same cells).
SURGICAL_SETTINGS = {
    "hidden_manifold": {"input": "feature_mix", "labels": "teacher_mix", "values": [0.2, 0.6, 1.0],
                        "n_targets": [20, 160], "n_val": 500},
    "digits": {"input": "input_shift", "labels": "label_shift", "values": [0.3, 0.6, 1.0],
               "n_targets": [30, 120], "n_val": 80},
}


def plan_set(n_blocks: int) -> dict[str, list[str]]:
    """The plans compared, by kind: ``"prefix"`` (the paper's candidates as plans) and ``"surgical"``
    (every block transferred, each trained or frozen: ``{T, F}^L``, which holds Lee et al.'s "train
    only the first k blocks" and "train only block i")."""
    return {kind: [p.code for p in PLAN_SETS[kind](n_blocks)] for kind in ("prefix", "surgical")}


def surgical_sweep(family: str, shift: str, quick: bool = True, seeds: int = 10, device: str = "auto",
                   cache_dir=None) -> pd.DataFrame:
    """Every plan of :func:`plan_set` on ``family`` with the ``shift`` ("input" or "labels") knob varied.

    One row per network with a ``plan`` column, ``val_acc`` and ``test_acc`` (see
    :func:`tlcore.experiments.depth_sweep`); the other knob is 0.
    """
    if family not in SURGICAL_SETTINGS:
        raise ValueError(f"unknown family {family!r}; expected one of {sorted(SURGICAL_SETTINGS)}")
    setting = SURGICAL_SETTINGS[family]
    if shift not in ("input", "labels"):
        raise ValueError(f"shift={shift!r}; expected 'input' or 'labels'")
    knob, other = setting[shift], setting["labels" if shift == "input" else "input"]
    s = sizes(quick, family)
    plans = sorted(set().union(*plan_set(s["depth"]).values()))
    extra = dict(family_info(family).surgery)
    return run("depth", {knob: setting["values"]}, cache_dir or default_cache_dir(), family=family,
               seeds=list(range(seeds)), n_targets=setting["n_targets"], protocols=plans, n_val=setting["n_val"],
               device=device, **{other: 0.0}, **extra, **s)


def _wide(group: pd.DataFrame, score: str) -> pd.DataFrame:
    """Seeds x plans table of ``score``."""
    return group.pivot(index="seed", columns="plan", values=score).sort_index()


def best_plans(table: pd.DataFrame, knob: str) -> pd.DataFrame:
    """Per cell, the validation-chosen prefix plan and surgical plan, and the paired test margin.

    Columns: ``knob``, ``n_target``, ``prefix``/``surgical`` (the chosen plans), their test accuracies
    (mean over seeds), ``margin`` (surgical minus prefix, paired by seed), ``sem`` and ``winner``
    (``"surgical"``, ``"prefix"`` or ``"tie"`` within 2 SE); ``best`` is the validation-chosen plan
    among all, ``trains_first``/``trains_last`` whether the chosen surgical plan trains the first /
    the last block.
    """
    L = len(table.plan.iloc[0])
    kinds = plan_set(L)
    rows = []
    for (value, n), g in table.groupby([knob, "n_target"]):
        val, test = _wide(g, "val_acc"), _wide(g, "test_acc")
        chosen = {kind: max(plans, key=lambda p: (val[p].mean(), -plans.index(p))) for kind, plans in kinds.items()}
        d = compare(test[chosen["surgical"]], test[chosen["prefix"]])
        mean, sem, winner = d.mean, d.sem, {"tie": "tie", "higher": "surgical", "lower": "prefix"}[d.word]
        rows.append({knob: value, "n_target": n, "prefix": chosen["prefix"], "surgical": chosen["surgical"],
                     "prefix_acc": float(test[chosen["prefix"]].mean()),
                     "surgical_acc": float(test[chosen["surgical"]].mean()), "margin": mean, "sem": sem,
                     "winner": winner, "best": val.mean().idxmax(),
                     "trains_first": chosen["surgical"][0] == "T", "trains_last": chosen["surgical"][-1] == "T"})
    return pd.DataFrame(rows)


def plan_margins(table: pd.DataFrame, cells: pd.DataFrame, knob: str, plans) -> pd.DataFrame:
    """Test accuracy of each plan minus that of the cell's validation-chosen prefix plan (mean over seeds).

    Rows: ``plans``; columns: the cells ``(knob value, n_target)`` of :func:`best_plans`.
    """
    mean = table.groupby([knob, "n_target", "plan"]).test_acc.mean().unstack("plan")
    out = {}
    for c in cells.sort_values([knob, "n_target"]).itertuples():
        row = mean.loc[(getattr(c, knob), c.n_target)]
        out[(getattr(c, knob), c.n_target)] = row.reindex(list(plans)) - row[c.prefix]
    return pd.DataFrame(out)


def direction_verdict(cells: dict) -> dict:
    """Does the direction of the shift decide which blocks to retrain?

    ``cells`` maps ``"input"`` and ``"labels"`` to :func:`best_plans` tables of one family. Lee et
    al.'s rule says: for an input shift, retrain the first block (and keep the last); for a label
    shift, retrain the last block (and keep the first). Returns the share of cells that follow the
    rule for each shift, and ``"decides"`` when a majority of both do.
    """
    rule = {"input": lambda c: c.trains_first & ~c.trains_last, "labels": lambda c: c.trains_last & ~c.trains_first}
    shares = {shift: float(rule[shift](c).mean()) for shift, c in cells.items()}
    decides = all(v > 0.5 for v in shares.values())
    return {"shares": shares, "verdict": "decides" if decides else "does not decide"}


def profile_plan(normalised: np.ndarray, level: float = 0.5) -> str:
    """Retrain the blocks where the source falls below ``level`` of the floor-to-baseline gap, keep
    (freeze) the others: a plan from a calibrated profile (NaN blocks hold no evidence: kept)."""
    return "".join("F" if not (v < level) else "T" for v in np.asarray(normalised, dtype=float))


def profile_hit_rate(cells: pd.DataFrame, bands: pd.DataFrame, knob: str, measure: str = "linear_cka",
                     baseline: str = "reference", level: float = 0.5) -> pd.DataFrame:
    """Per cell, the plan the profile suggests (:func:`profile_plan`) against the chosen surgical plan.

    ``bands`` is :func:`tlcore.claims.profile_bands` over ``[knob, "n_target"]``; ``cells`` is
    :func:`best_plans`. Columns: ``knob``, ``n_target``, ``suggested``, ``chosen`` and ``hit``.
    """
    rows = []
    for c in cells.itertuples():
        value, n = getattr(c, knob), c.n_target
        b = bands[(bands.measure == measure) & np.isclose(bands[knob], value) & (bands.n_target == n)]
        if b.empty:
            continue
        wide = b.pivot(index="block", columns="curve", values="mean").sort_index()
        suggested = profile_plan(recovered_fraction(wide["source"], wide[baseline], wide["floor"]), level)
        rows.append({knob: value, "n_target": n, "suggested": suggested, "chosen": c.surgical,
                     "hit": suggested == c.surgical})
    return pd.DataFrame(rows)
