"""Ranks that noise cannot reorder: candidates within two combined standard errors share a rank.

Used where the "ground truth" is itself a mean over seeds (the accuracy a source reaches after
transfer), so two sources whose accuracies differ by less than their noise are not ordered.
"""
from __future__ import annotations

import math
from typing import Hashable, Mapping

__all__ = ["tie_aware_ranks", "tied_with_best", "within_noise"]


def _checked_scores(scores: Mapping, sems: Mapping, where: str) -> list[tuple[Hashable, float, float]]:
    if not scores:
        raise ValueError(f"{where}: no candidates")
    if set(scores) != set(sems):
        raise ValueError(f"{where}: scores and sems name different candidates: only in scores "
                         f"{sorted(map(str, set(scores) - set(sems)))}, only in sems "
                         f"{sorted(map(str, set(sems) - set(scores)))}")
    out = []
    for name in scores:
        s, e = float(scores[name]), float(sems[name])
        if not math.isfinite(s) or not math.isfinite(e) or e < 0:
            raise ValueError(f"{where}: candidate {name!r} needs a finite score and a finite sem >= 0, "
                             f"got {s} +- {e}")
        out.append((name, s, e))
    return sorted(out, key=lambda c: (-c[1], str(c[0])))  # order-independent: by score, then by name


def within_noise(a: float, se_a: float, b: float, se_b: float) -> bool:
    """Two independent means within 2 combined standard errors: |a - b| <= 2 sqrt(se_a^2 + se_b^2)."""
    return abs(a - b) <= 2 * math.hypot(se_a, se_b)


def _tied(top: tuple, other: tuple) -> bool:
    return within_noise(top[1], top[2], other[1], other[2])


def tie_aware_ranks(scores: Mapping[Hashable, float], sems: Mapping[Hashable, float]) -> dict:
    """Ranks (1 = best) in which candidates indistinguishable from the head of their group share a rank.

    Grouping rule: sort by score, highest first (equal scores by name, so the input order never
    matters). The first candidate opens a tie group; the following ones join it while their score is
    within 2 sqrt(se_head^2 + se^2) of the head's; the first that is not opens the next group, and so on.
    Groups are contiguous, so ranks never improve as scores fall. Members share the average of the
    positions they occupy (two tied at the top get 1.5 each).
    """
    ordered = _checked_scores(scores, sems, "tie_aware_ranks")
    ranks, start = {}, 0
    while start < len(ordered):
        stop = start + 1
        while stop < len(ordered) and _tied(ordered[start], ordered[stop]):
            stop += 1
        shared = (start + 1 + stop) / 2  # average of positions start+1 .. stop
        for name, _, _ in ordered[start:stop]:
            ranks[name] = shared
        start = stop
    return ranks


def tied_with_best(scores: Mapping[Hashable, float], sems: Mapping[Hashable, float]) -> set:
    """The candidates not distinguishable from the top one: within 2 sqrt(se_top^2 + se^2) of its score.

    Includes the top one. Unlike the contiguous groups of :func:`tie_aware_ranks`, a very uncertain
    candidate below a clearly worse but certain one still counts as tied with the best here.
    """
    ordered = _checked_scores(scores, sems, "tied_with_best")
    return {c[0] for c in ordered if _tied(ordered[0], c)}
