"""What a reviewer tries next: each claim's verdict under the alternatives a re-analysis would choose.

A verdict rests on choices (a tie rule, folds, a false discovery rate, which replicates there are).
:func:`robustness` recomputes a claim's verdict under each alternative of :data:`ALTERNATIVES` (other
rules, the transferred-block learning rate 0.1 where that map exists, and the training schedule
chosen per network where the maps were made with checkpoints) and under every
leave-out subset of the replicates (:func:`replicate_subsets`), and says which give the same verdict.
The alternatives are declared here, before any table is judged with them.
"""
from __future__ import annotations

from typing import Callable

import pandas as pd

from ..stats import MIN_INSTANCES, STOPPED_COLUMNS, choose_variant, early_stopped
from .c1_families import verdict_c1_by_family
from .c2 import verdict_c2_controlled
from .c3 import C3_FAMILIES, verdict_c3_families
from .c4 import verdict_c4_benchmarks
from .cells import without_attrs

__all__ = ["ALTERNATIVES", "JUDGES", "replicate_subsets", "robustness", "robustness_summary", "robustness_table"]


def _phase(tables: dict) -> dict:
    return {knob: tables[f"phase_{knob}"] for knob in ("teacher_mix", "feature_mix")}


def _low_lr(tables: dict) -> dict:
    """The phase maps with the teacher_mix map trained at transferred-block learning rate 0.1."""
    return {"teacher_mix": tables["phase_teacher_mix_lr0.1"], "feature_mix": tables["phase_feature_mix"]}


def _has_checkpoints(table: pd.DataFrame) -> bool:
    return set(STOPPED_COLUMNS) <= set(table.columns)


def _stopped(tables: dict) -> dict | None:
    """The phase maps with every network stopped early (:func:`tlcore.stats.early_stopped`); None
    when a map was made without checkpoints (the alternative does not exist for it)."""
    phase = _phase(tables)
    if not all(_has_checkpoints(t) for t in phase.values()):
        return None
    return {knob: early_stopped(t) for knob, t in phase.items()}


def _stopped_and_lr(tables: dict) -> dict | None:
    """:func:`_stopped`, with each teacher_mix network's transferred-block learning rate (1 or 0.1)
    chosen on its own validation half too (:func:`tlcore.stats.choose_variant`)."""
    phase, slow = _stopped(tables), tables.get("phase_teacher_mix_lr0.1")
    if phase is None or slow is None or not _has_checkpoints(slow):
        return None
    phase["teacher_mix"] = choose_variant({1.0: phase["teacher_mix"], 0.1: early_stopped(slow)},
                                          column="transferred_lr_scale")
    return phase


def _on(judge: Callable, tables: dict | None):
    return None if tables is None else judge(tables)


# claim -> (the sweeps it reads, its verdict as judged: tables, quick -> Verdict)
JUDGES: dict[str, tuple[list[str], Callable]] = {
    "C1": (["phase_teacher_mix", "phase_feature_mix"], lambda t, quick: verdict_c1_by_family(_phase(t))),
    "C2": (["phase_teacher_mix", "phase_feature_mix"], lambda t, quick: verdict_c2_controlled(_phase(t))),
    "C3": (list(C3_FAMILIES), lambda t, quick: verdict_c3_families(t)),
    "C4": (["selection", "selection_mnist1d"], verdict_c4_benchmarks),
}

# claim -> [(alternative, the extra sweeps it needs, tables, quick -> Verdict, or None where the tables
# cannot give it)]
ALTERNATIVES: dict[str, list[tuple[str, list[str], Callable]]] = {
    "C1": [("tie rule: the arg-max alone", [], lambda t, q: verdict_c1_by_family(_phase(t), tie="arg-max")),
           ("tie rule: the shallowest within noise", [],
            lambda t, q: verdict_c1_by_family(_phase(t), tie="shallowest")),
           ("tie rule: the deepest within noise", [], lambda t, q: verdict_c1_by_family(_phase(t), tie="deepest")),
           ("transferred blocks at learning rate x0.1 (teacher_mix map)", ["phase_teacher_mix_lr0.1"],
            lambda t, q: verdict_c1_by_family(_low_lr(t))),
           ("early stopping, chosen per network on validation", [],
            lambda t, q: _on(verdict_c1_by_family, _stopped(t))),
           ("early stopping and the transferred learning rate (1 or 0.1), chosen per network",
            ["phase_teacher_mix_lr0.1"], lambda t, q: _on(verdict_c1_by_family, _stopped_and_lr(t)))],
    "C2": [("two folds instead of leave-one-out", [], lambda t, q: verdict_c2_controlled(_phase(t), folds=2)),
           ("training seeds as the units (instances ignored)", [],
            lambda t, q: verdict_c2_controlled(_phase(t), unit="seed")),
           ("false discovery rate 0.05", [], lambda t, q: verdict_c2_controlled(_phase(t), q=0.05)),
           ("false discovery rate 0.20", [], lambda t, q: verdict_c2_controlled(_phase(t), q=0.20)),
           ("transferred blocks at learning rate x0.1 (teacher_mix map)", ["phase_teacher_mix_lr0.1"],
            lambda t, q: verdict_c2_controlled(_low_lr(t))),
           ("early stopping, chosen per network on validation", [],
            lambda t, q: _on(verdict_c2_controlled, _stopped(t))),
           ("early stopping and the transferred learning rate (1 or 0.1), chosen per network",
            ["phase_teacher_mix_lr0.1"], lambda t, q: _on(verdict_c2_controlled, _stopped_and_lr(t)))],
    "C3": [("measure: neighbourhood overlap", [],
            lambda t, q: verdict_c3_families(t, measure="neighbourhood_overlap"))],
    "C4": [],
}


def replicate_subsets(table: pd.DataFrame) -> list[tuple[str, Callable[[pd.DataFrame], pd.DataFrame]]]:
    """``(name, keep)`` for every leave-out subset of a table's replicates: leave out one task instance
    when more than :data:`~tlcore.stats.MIN_INSTANCES` remain the units after it, else leave out the
    k-th training seed of every instance (when the instances have two seeds or more)."""
    if "task_seed" in table.columns and table.task_seed.nunique() > MIN_INSTANCES:
        return [(f"without task instance {t}", lambda x, t=t: x[x.task_seed != t])
                for t in sorted(table.task_seed.unique())]
    if "task_seed" in table.columns:
        position = lambda x: x.seed - x.groupby("task_seed").seed.transform("min")  # noqa: E731
    else:
        position = lambda x: x.seed - x.seed.min()  # noqa: E731
    per_instance = int(position(table).max()) + 1
    if per_instance < 2:
        return []
    return [(f"without seed {k + 1} of {per_instance} of every instance", lambda x, k=k: x[position(x) != k])
            for k in range(per_instance)]


def robustness(claim: str, tables: dict[str, pd.DataFrame], quick: bool) -> pd.DataFrame:
    """The claim's verdict as judged, under each declared alternative whose tables are present, and
    on every leave-out subset of its replicates. Columns ``alternative``, ``kind`` ("as judged",
    "rule" or "replicates"), ``verdict``, ``key``, ``same`` (the verdict as judged)."""
    if claim not in JUDGES:
        raise ValueError(f"unknown claim {claim!r}; expected one of {sorted(JUDGES)}")
    needs, judge = JUDGES[claim]
    missing = sorted(set(needs) - set(tables))
    if missing:
        raise ValueError(f"robustness of {claim} needs the tables {missing}")
    tables = {name: without_attrs(t) for name, t in tables.items()}
    base = judge(tables, quick)
    rows = [{"alternative": "as judged", "kind": "as judged", "verdict": base.verdict, "key": base.key}]
    for name, extra, alternative in ALTERNATIVES[claim]:
        v = alternative(tables, quick) if set(extra) <= set(tables) else None
        if v is not None:
            rows.append({"alternative": name, "kind": "rule", "verdict": v.verdict, "key": v.key})
    for name, keep in replicate_subsets(tables[needs[0]]):
        v = judge({n: keep(t) if n in needs else t for n, t in tables.items()}, quick)
        rows.append({"alternative": name, "kind": "replicates", "verdict": v.verdict, "key": v.key})
    out = pd.DataFrame(rows)
    out["same"] = out.verdict == base.verdict
    return out


def robustness_summary(table: pd.DataFrame) -> str:
    """One phrase: how many alternatives and leave-out subsets give the verdict as judged."""
    parts = []
    for kind, what in (("rule", "alternative rules"), ("replicates", "leave-out subsets of the replicates")):
        rows = table[table.kind == kind]
        if len(rows):
            parts.append(f"{int(rows.same.sum())} of {len(rows)} {what}")
    return " and ".join(parts) + " give the same verdict" if parts else "no alternative was tried"


def robustness_table(claim: str, quick_tables: dict, paper_tables: dict | None) -> pd.DataFrame:
    """:func:`robustness` in quick mode and at paper scale side by side, one row per alternative
    (an alternative one scale cannot try, such as a leave-out subset of its own design, is None on
    the other). Columns ``alternative``, ``quick``, ``quick key``, ``paper``, ``paper key``."""
    parts = {"quick": robustness(claim, quick_tables, quick=True)}
    if paper_tables is not None:
        parts["paper"] = robustness(claim, paper_tables, quick=False)
    out = None
    for scale, t in parts.items():
        t = t[["alternative", "verdict", "key"]].rename(columns={"verdict": scale, "key": f"{scale} key"})
        out = t if out is None else out.merge(t, on="alternative", how="outer", sort=False)
    if "paper" not in parts:
        out["paper"], out["paper key"] = None, None
    order = {name: i for i, name in enumerate(pd.concat([p.alternative for p in parts.values()]).drop_duplicates())}
    return out.sort_values("alternative", key=lambda s: s.map(order)).reset_index(drop=True)
