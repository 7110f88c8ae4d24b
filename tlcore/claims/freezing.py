"""Beyond the four claims: does one recipe, freezing or fine-tuning the transferred blocks, win everywhere?

The paper finds that it does not. :func:`verdict_freezing` reads the cells of
:func:`tlcore.claims.freeze_or_tune`: reproduced when each recipe wins some cell (the cells kept at a
false discovery rate of :data:`tlcore.claims.FREEZING_FDR` across the map), partly when one recipe
wins somewhere and the other never does, not reproduced when every cell is a tie (no recipe is shown
to matter).
"""
from __future__ import annotations

import pandas as pd

from .cells import freeze_or_tune
from .verdict import Verdict, claim_word, verdict_across

__all__ = ["verdict_freezing", "verdict_freezing_maps", "FREEZING_STATEMENT", "FREEZING_MAPS"]

FREEZING_STATEMENT = "no single recipe, freezing or fine-tuning the transferred blocks, is best everywhere"


def verdict_freezing(table: pd.DataFrame, knob: str) -> Verdict:
    """The freeze-or-tune verdict of a map (``knob`` x ``n_target``), with the cells each recipe wins."""
    cells = freeze_or_tune(table, knob)
    sides = {side: sorted(zip(g[knob], g.n_target)) for side, g in cells.groupby("verdict")}
    wins = [s for s in ("freeze", "fine-tune") if sides.get(s)]
    verdict = claim_word(len(wins), 2)

    def where(side):
        return ", ".join(f"({knob} {a:g}, n_target {n})" for a, n in sides[side])

    if len(wins) == 2:
        text = (f"both recipes win somewhere, so neither is a safe default: freezing wins at {where('freeze')}; "
                f"fine-tuning at {where('fine-tune')}")
    elif wins:
        text = (f"{'freezing' if wins[0] == 'freeze' else 'fine-tuning'} wins at {where(wins[0])} and never loses "
                f"elsewhere once the error rate is controlled")
    else:
        text = "no cell survives the false-discovery control: no recipe is shown to matter here"
    counts = cells.verdict.value_counts()
    key = (f"freezing wins {int(counts.get('freeze', 0))}, fine-tuning {int(counts.get('fine-tune', 0))}, "
           f"ties {int(counts.get('tie', 0))} of {len(cells)} cells")
    return Verdict("freezing", verdict, text, {"cells": cells}, key)


# The paper-scale tables that hold every fine-tuned (l, 0) and frozen (l, l) protocol: the
# hidden-manifold maps of the transfer-depth chapter, name -> (knob, short label).
FREEZING_MAPS = {"phase_teacher_mix": ("teacher_mix", "teacher_mix map"),
                 "phase_feature_mix": ("feature_mix", "feature_mix map"),
                 "deep_teacher_mix": ("teacher_mix", "deeper network")}


def verdict_freezing_maps(tables: dict) -> Verdict:
    """The freeze-or-tune verdict on each table of :data:`FREEZING_MAPS` present in ``tables``,
    combined (:func:`tlcore.claims.verdict.verdict_across`): each map's cells are error-controlled on
    their own, since each map is its own question (one family knob, one depth)."""
    present = {name: spec for name, spec in FREEZING_MAPS.items() if name in tables}
    if not present:
        raise ValueError(f"verdict_freezing_maps: none of {sorted(FREEZING_MAPS)} is in the tables given")
    verdicts = {label: verdict_freezing(tables[name], knob) for name, (knob, label) in present.items()}
    out = verdict_across("freezing", verdicts, {label: label for label in verdicts})
    cells = pd.concat([v.numbers["cells"] for v in verdicts.values()])
    counts = cells.verdict.value_counts()
    out.key = (f"freezing wins {int(counts.get('freeze', 0))}, fine-tuning {int(counts.get('fine-tune', 0))} of "
               f"{len(cells)} cells ({len(verdicts)} maps)")
    return out
